"""Sandbox start-up benchmark (issue 4 target), printed and written as JSON.

``kubekit sandbox up`` (daemon + moto + the default EKS cluster ``sandbox``, 3 zones x 2
nodes, bootstrapped through kubekit.aws like a user's) to a Ready three-zone cluster:
target under 3 s. Also measured: ``down``, then ``up`` again (the daemon restores moto by
replaying its recording and the kubesim cluster from its persisted state).

Each step runs the real console script in its own process with a fresh ``KUBEKIT_HOME``,
so interpreter start-up and imports count, as they do for a user; the cluster is then
checked from outside through the kubeconfig ``up`` wrote (every node Ready, three zones).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
KUBEKIT = str(Path(sys.executable).with_name("kubekit"))


def run(home: str, *args: str, timeout: float = 180) -> float:
    env = dict(os.environ, KUBEKIT_HOME=home)
    t0 = time.perf_counter()
    proc = subprocess.run([KUBEKIT, "sandbox", *args], env=env, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"kubekit sandbox {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return took


def check_ready(home: str) -> dict[str, Any]:
    """Every node of context ``sandbox`` Ready, and the zones they are in (from outside, over HTTPS)."""
    from kubernetes import client, config

    kubeconfig = Path(home) / "kubeconfig"
    api = config.new_client_from_config(config_file=str(kubeconfig), context="sandbox")
    try:
        nodes = client.CoreV1Api(api).list_node().items
    finally:
        api.close()
    ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    zones = sorted({(n.metadata.labels or {}).get("topology.kubernetes.io/zone", "") for n in ready})
    return {"nodes": len(nodes), "ready": len(ready), "zones": zones}


def one_cycle(work: str, i: int) -> dict[str, Any]:
    home = os.path.join(work, f"home{i}")
    os.makedirs(home)
    try:
        first = run(home, "up")
        first_check = check_ready(home)
        down = run(home, "down")
        again = run(home, "up")
        again_check = check_ready(home)
    finally:
        try:
            run(home, "down", timeout=60)
        except Exception:
            pass
    return {"up_s": first, "down_s": down, "up_again_s": again, "first": first_check, "again": again_check}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    cycles = []
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.runs):
            cycles.append(one_cycle(work, i))
    ok = all(c[k]["ready"] == 6 and len(c[k]["zones"]) == 3 for c in cycles for k in ("first", "again"))
    out = {
        "benchmark": "kubekit-sandbox", "cpus": os.cpu_count(), "runs": len(cycles),
        "sandbox_up_s": {"median": statistics.median(c["up_s"] for c in cycles),
                         "all": [c["up_s"] for c in cycles], "target": 3.0},
        "sandbox_down_s": {"median": statistics.median(c["down_s"] for c in cycles),
                           "all": [c["down_s"] for c in cycles]},
        "sandbox_up_again_s": {"median": statistics.median(c["up_again_s"] for c in cycles),
                               "all": [c["up_again_s"] for c in cycles], "target": 3.0},
        "ready_three_zones_every_time": ok,
        "checks": [{"first": c["first"], "again": c["again"]} for c in cycles],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sandbox.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
