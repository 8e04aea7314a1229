"""The sandbox daemon: moto's server plus the cloud that turns its records into kubesim clusters.

Run as ``python -m kubekit.sandbox.daemon --home DIR`` (``kubekit sandbox up``
does it, detached). Prints ``ready <aws endpoint>`` once AWS answers and every
cluster is back, then serves until SIGTERM.

Persistence: moto keeps state in memory only, so the daemon records every AWS
request with moto's own recorder (``moto-api`` recorder) under a fixed random
seed; a restarted daemon seeds moto the same way and replays the recording, which
rebuilds the same resources with the same ids. kubesim clusters persist their
objects and volume data themselves under ``clusters/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

# moto reads these when it loads; they make it behave more like AWS (sandbox realism):
# managed IAM policies exist, bad AMIs and instance types are rejected (feasibility.md §2).
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.setdefault("MOTO_ENABLE_AMI_VALIDATION", "true")
os.environ.setdefault("MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION", "true")

log = logging.getLogger("kubekit.sandbox.daemon")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _state(home: Path) -> dict:
    try:
        return json.loads((home / "aws" / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_state(home: Path, data: dict) -> None:
    path = home / "aws" / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


class MotoServer:
    """moto's WSGI app on 127.0.0.1, one request at a time.

    moto handles requests on threads and draws ids from one seeded random
    generator; serialising requests makes the recorded order the order in which
    ids were drawn, which is what a replay needs to rebuild the same ids.
    """

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                                    create_backend_app)
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serialised(environ, start_response):  # type: ignore[no-untyped-def]
            with lock:
                # Materialise the body inside the lock: moto's recorder and handlers run here.
                return list(app(environ, start_response))

        self._server = make_server("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)


def start_moto(home: Path) -> tuple[MotoServer, str]:
    """moto on 127.0.0.1 (the previous port if it is free, so the endpoint stays the same)."""
    prev = int(_state(home).get("port", 0))
    port = prev if prev and _free(prev) else 0
    server = MotoServer(port)
    server.start()
    return server, server.url


def restore(home: Path, endpoint: str) -> int:
    """Seed moto and replay the recording of everything done before; returns requests replayed."""
    from moto.moto_api import recorder

    state = _state(home)
    seed = int(state.get("seed") or random.SystemRandom().randrange(1, 2**31))
    recording = home / "aws" / "recording.jsonl"
    recording.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    recorder._location = str(recording)  # noqa: SLF001 - moto reads it from an env var at import
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/seed?a={seed}", method="POST"),
                           timeout=10).read()
    replayed = 0
    if recording.exists() and recording.stat().st_size:
        replayed = sum(1 for _ in recording.open())
        recorder.replay_recording(target_host=endpoint)
    recorder.start_recording()
    port = int(endpoint.rsplit(":", 1)[1])
    _save_state(home, {"seed": seed, "port": port})
    return replayed


def warm_up(endpoint: str) -> None:
    """moto's first EC2/IAM calls load large tables (1-2 s): pay that before saying ready."""
    import boto3

    kw = dict(region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="kubekit-sandbox",
              aws_secret_access_key="kubekit-sandbox")
    from moto.moto_api import recorder

    recorder.stop_recording()  # warm-up reads are not part of anybody's history
    from moto.backends import get_backend

    # Loading a service's models draws random numbers too: load every one the sandbox uses now.
    for service in ("ec2", "eks", "iam", "sts", "ssm", "autoscaling", "elbv2", "elb"):
        get_backend(service)  # type: ignore[arg-type]
    boto3.client("eks", **kw).list_clusters()
    boto3.client("autoscaling", **kw).describe_auto_scaling_groups()
    boto3.client("elbv2", **kw).describe_load_balancers()
    boto3.client("ec2", **kw).describe_availability_zones()
    boto3.client("iam", **kw).list_roles(MaxItems=1)
    boto3.client("sts", **kw).get_caller_identity()
    boto3.client("ssm", **kw).get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kubekit.sandbox.daemon")
    ap.add_argument("--home", required=True)
    ap.add_argument("--profile", default="fast", help="kubesim timing profile for the clusters")
    ap.add_argument("--workload", action="append", default=[], metavar="NAME=SCRIPT")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    home = Path(args.home).absolute()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    workloads = dict(item.split("=", 1) for item in args.workload if "=" in item)

    from . import awsconfig
    from .cloud import Cloud

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    t0 = time.monotonic()
    server, endpoint = start_moto(home)
    # Warm up before seeding: loading moto's tables draws random numbers, and the replay must see the
    # same random sequence as the recorded run did.
    warm_up(endpoint)
    replayed = restore(home, endpoint)
    awsconfig.write(home, endpoint)
    cloud = Cloud(home, endpoint, profile=args.profile, workloads=workloads)
    cloud.start()
    (home / "sandbox.status.json").write_text(json.dumps({"endpoint": endpoint, "replayed": replayed,
                                                          "started_in_s": round(time.monotonic() - t0, 3)}))
    print(f"ready {endpoint}", flush=True)
    log.info("sandbox ready in %.2fs (%d AWS requests replayed)", time.monotonic() - t0, replayed)
    try:
        stop.wait()
    finally:
        cloud.stop()
        server.stop()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
