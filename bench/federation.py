"""Federation benchmarks (issue 6 targets), printed and written as JSON to bench/results/federation.json.

A host and 3 single-zone member clusters (kubesim, profile ``fast``) on 127.0.0.1, served by a
separate process (as the sandbox daemon serves them) and reached only through their kubeconfig
contexts, as on real clusters; the controller runs here:

* propagate 50 FederatedWorkloads (Deployments, 3 replicas Divided over 3 members)
  and reach aggregated Ready for all: target < 15 s wall;
* lose a member (its API server stops answering): detected and every workload's
  replicas re-divided over the two survivors within the configured thresholds
  (period x failureThreshold + timeout) plus 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubesim.testing import running_cluster

from kubekit import federation
from kubekit.federation import HealthCheck
from kubekit.federation.members import host_rest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
CHECK = HealthCheck(period_s=1, timeout_s=1, failure_threshold=3, success_threshold=1)


def deployment(name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def serve_world(work: str) -> int:
    """The clusters' process: start them, print ``ready``, then obey ``isolate NAME`` / ``restore NAME``."""
    kc = os.path.join(work, "kubeconfig")
    with contextlib.ExitStack() as stack:
        clusters = {"host": stack.enter_context(running_cluster(os.path.join(work, "host"), name="host",
                                                                zones=["us-east-1a"], profile="fast"))}
        clusters["host"].write_kubeconfig(kc, "host")
        for zone in ZONES:
            name = f"member-{zone}"
            clusters[name] = stack.enter_context(running_cluster(os.path.join(work, name), name=name, zones=[zone],
                                                                 nodes_per_zone=2, profile="fast"))
            clusters[name].write_kubeconfig(kc, name)
        print("ready", flush=True)
        for line in sys.stdin:
            verb, _, name = line.strip().partition(" ")
            if verb in ("isolate", "restore"):
                clusters[name].server.available = verb == "restore"
                print("ok", flush=True)
            elif verb == "quit":
                break
    return 0


class World:
    def __init__(self, work: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-world", work], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the clusters did not start: {line!r}")

    def command(self, text: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()

    def stop(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", type=int, default=50)
    ap.add_argument("--serve-world", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_world:
        return serve_world(args.serve_world)
    out: dict[str, Any] = {"benchmark": "federation", "cpus": os.cpu_count(), "profile": "fast", "members": 3,
                           "health_check": {"periodSeconds": CHECK.period_s, "timeoutSeconds": CHECK.timeout_s,
                                            "failureThreshold": CHECK.failure_threshold}}
    with tempfile.TemporaryDirectory() as work, contextlib.ExitStack() as stack:
        kc = os.path.join(work, "kubeconfig")
        t0 = time.perf_counter()
        world = World(work)
        stack.callback(world.stop)
        members = [f"member-{zone}" for zone in ZONES]
        federation.install_crds("host", kc)
        for name in members:
            federation.register_member("host", name, kubeconfig=kc, health_check=CHECK)
        out["world_up_s"] = round(time.perf_counter() - t0, 2)

        fed = federation.Federation("host", kubeconfig=kc, resync_s=0.2).start()
        stack.callback(fed.stop)
        fed.wait_member("member-us-east-1c", "Ready", timeout=30)
        rest = host_rest("host", kc)
        names = [f"web-{i:02d}" for i in range(args.workloads)]
        t0 = time.perf_counter()
        for n in names:
            federation.apply_workload("host", federation.federated_workload(n, deployment(n), namespace="bench"), kc)
        applied = time.perf_counter() - t0
        while True:
            objs = rest.list(federation.API_VERSION, "FederatedWorkload", "bench")
            ready = [o for o in objs if (o.get("status") or {}).get("phase") == "Ready"]
            if len(ready) == len(names) or time.perf_counter() - t0 > 120:
                break
            time.sleep(0.1)
        propagate = time.perf_counter() - t0
        out["propagate"] = {"workloads": len(names), "replicas_each": 3, "create_s": round(applied, 2),
                            "all_ready_s": round(propagate, 2), "ready": len(ready), "target_s": 15.0,
                            "ok": len(ready) == len(names) and propagate < 15.0}

        lost = "member-us-east-1b"
        survivors = [m for m in members if m != lost]
        member_rest = {m: host_rest(m, kc) for m in survivors}
        t0 = time.perf_counter()
        world.command(f"isolate {lost}")
        fed.wait_member(lost, "Offline", timeout=60)
        detected = time.perf_counter() - t0
        while True:
            total = 0
            for m in survivors:
                total += sum(d["spec"]["replicas"] for d in member_rest[m].list("apps/v1", "Deployment", "bench"))
            if total == 3 * len(names) or time.perf_counter() - t0 > 60:
                break
            time.sleep(0.05)
        redivided = time.perf_counter() - t0
        budget = CHECK.detection_s + 2.0
        out["member_loss"] = {"detected_s": round(detected, 2), "redivided_s": round(redivided, 2),
                              "thresholds_s": CHECK.detection_s, "target_s": budget,
                              "replicas_on_survivors": total, "ok": total == 3 * len(names) and redivided <= budget}
        t0 = time.perf_counter()
        world.command(f"restore {lost}")
        fed.wait_member(lost, "Ready", timeout=60)
        out["member_recovery"] = {"detected_s": round(time.perf_counter() - t0, 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "federation.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0 if out["propagate"]["ok"] and out["member_loss"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
