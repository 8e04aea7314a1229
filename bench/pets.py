"""Pets benchmark (issue 5 target), printed and written as JSON.

Target on a 2-core machine, the sandbox with timing profile ``fast``: deploy a
3-pet petkv StatefulSet (OrderedReady, EBS-like volumes, each pet Ready before
the next is created) and write 1,000 keys through the API server's pod proxy,
each key a PUT to its owner acknowledged after petkv's fsync: under 10 s wall.

Recorded besides: the write throughput through the proxy (keys/s) with 8
concurrent writers and with one (its per-write latency), the same 1,000 keys as
one batch per pet (one fsync each), and the time to verify every key. Each
round uses a fresh namespace (new claims, empty volumes); the median of the
rounds is compared with the target. The machine's load average is recorded
with the results, since the sandbox shares the CPUs with everything else.

Everything goes through kubekit (the official client), exactly as notebook 02
does, against a sandbox started for the benchmark in a temporary KUBEKIT_HOME
and stopped (by its pid) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from kubekit import cluster, pets, sandbox  # noqa: E402

RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
TARGET_S = 10.0
KEYS = 1000
WORKERS = 8


def one_round(kc: cluster.Cluster, n: int) -> dict[str, Any]:
    ps = pets.PetSet("web", namespace=f"bench-{n}", replicas=3)
    t0 = time.perf_counter()
    rollout = pets.deploy(kc, ps, progress=False)
    deployed = time.perf_counter()
    kv = pets.kv(kc, ps)
    ledger = kv.write(KEYS, workers=WORKERS)
    written = time.perf_counter()
    assert not ledger.failed, f"{len(ledger.failed)} writes failed: {next(iter(ledger.failed.values()))}"
    assert rollout.created == ["web-0", "web-1", "web-2"], rollout.created
    verified = pets.verify(kc, ps, ledger=ledger)
    checked = time.perf_counter()

    single = kv.write(200, workers=1, prefix="one")
    batch = kv.write_batch({f"batch-{i:04d}": f"value-{i}" for i in range(KEYS)})
    assert verified.ok and not single.failed and not batch.failed
    pets.teardown(kc, ps)
    return {"deploy_s": deployed - t0, "write_s": written - deployed, "total_s": written - t0,
            "write_keys_per_s": KEYS / (written - deployed), "verify_s": checked - written,
            "single_writer_keys_per_s": single.keys_per_second,
            "single_writer_ms_per_write": 1000 * single.seconds / max(1, len(single.acked)),
            "batch_keys_per_s": batch.keys_per_second}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    out: dict[str, Any] = {"benchmark": "kubekit-pets", "cpus": os.cpu_count(), "profile": "fast",
                           "keys": KEYS, "writers": WORKERS, "load_avg_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="kubekit-bench-pets-") as home:
        t0 = time.perf_counter()
        info = sandbox.up(home=home, profile="fast")
        out["sandbox_up_s"] = time.perf_counter() - t0
        try:
            kc = cluster.connect(info.context, info.kubeconfig)
            rounds = [one_round(kc, n) for n in range(args.rounds)]
        finally:
            sandbox.down(home=home)
    out["load_avg_after"] = os.getloadavg()[0]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    out["deploy_3_and_write_1000_s"] = {"median": med("total_s"), "all": [r["total_s"] for r in rounds],
                                        "target": TARGET_S, "met": med("total_s") < TARGET_S}
    out["deploy_3_pets_s"] = {"median": med("deploy_s"), "all": [r["deploy_s"] for r in rounds]}
    out["write_1000_s"] = {"median": med("write_s"), "all": [r["write_s"] for r in rounds]}
    out["petkv_write_keys_per_s"] = {"median": med("write_keys_per_s"),
                                     "all": [r["write_keys_per_s"] for r in rounds],
                                     "note": f"single-key PUTs through the pod proxy, {WORKERS} writers, "
                                             "each acknowledged after fsync"}
    out["single_writer"] = {"keys_per_s": med("single_writer_keys_per_s"),
                            "ms_per_write": med("single_writer_ms_per_write")}
    out["batch_keys_per_s"] = {"median": med("batch_keys_per_s"), "note": "POST /batch, one fsync per pet"}
    out["verify_1000_s"] = {"median": med("verify_s")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pets.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0 if out["deploy_3_and_write_1000_s"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
