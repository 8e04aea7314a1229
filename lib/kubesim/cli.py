"""``kubesim serve``: one emulated cluster on 127.0.0.1 until SIGTERM/SIGINT.

Prints exactly one line ``ready <url>`` on stdout once the server answers, so a
parent process can wait for it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading


def _zones(text: str) -> list[str]:
    zones = [z.strip() for z in text.split(",") if z.strip()]
    for z in zones:
        if not z.replace("-", "").isalnum():
            raise argparse.ArgumentTypeError(f"invalid zone name {z!r}: expected e.g. us-east-1a")
    return zones


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubesim", description="An embedded Kubernetes API server emulator.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve one cluster on 127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 picks a free one)")
    s.add_argument("--zones", type=_zones, default=["us-east-1a", "us-east-1b", "us-east-1c"],
                   help="comma-separated availability zones for the registered nodes")
    s.add_argument("--nodes-per-zone", type=int, default=2, help="nodes registered per zone")
    s.add_argument("--kubeconfig", required=True, help="where to write (or merge) the kubeconfig, mode 0600")
    s.add_argument("--context", default=None, help="context/cluster/user name in the kubeconfig")
    s.add_argument("--name", default="kubesim", help="cluster name")
    s.add_argument("--state", default=None, help="directory for persisted state (objects, CA, token)")
    s.add_argument("--k8s-version", default="1.33", help="Kubernetes version to emulate (1.29 to 1.35)")
    s.add_argument("--profile", default="upstream",
                   help="timing profile: upstream (real defaults), fast (10x), instant (100x)")
    s.add_argument("--workload", action="append", default=[], metavar="NAME=SCRIPT",
                   help="a known kit workload a pod may ask for (annotation kubesim.io/workload=NAME)")
    s.add_argument("--log-level", default="WARNING")
    return p


def serve(args: argparse.Namespace) -> int:
    from . import heap
    from .cluster import Cluster

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.nodes_per_zone < 0:
        print("kubesim: --nodes-per-zone must be 0 or more", file=sys.stderr)
        return 2
    if not (0 <= args.port <= 65535):
        print("kubesim: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    workloads = {}
    for item in args.workload:
        name, sep, script = item.partition("=")
        if not sep or not name or not script:
            print(f"kubesim: --workload expects NAME=SCRIPT, got {item!r}", file=sys.stderr)
            return 2
        workloads[name] = script
    try:
        cluster = Cluster(args.name, state_dir=args.state, port=args.port, zones=args.zones,
                          nodes_per_zone=args.nodes_per_zone, k8s_version=args.k8s_version,
                          profile=args.profile, workloads=workloads)
    except ValueError as exc:
        print(f"kubesim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cluster.start()
    except OSError as exc:
        print(f"kubesim: cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        cluster.write_kubeconfig(args.kubeconfig, args.context or args.name)
        heap.settle()
        print(f"ready {cluster.url}", flush=True)
        stop.wait()
    finally:
        cluster.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
