"""Failure-drill benchmark (issue 7 targets), printed and written as JSON to bench/results/drills.json.

Targets on a 2-core machine:

- timing profile ``fast`` (upstream durations / 10): ``pet-kill`` under 10 s wall,
  ``node-stop`` with its remediation under 60 s, ``zone-outage`` under 90 s, and the whole
  notebook 04 (``kubekit runbook run notebooks/04-failure-drills.ipynb``) under 3 minutes;
- timing profile ``instant`` (upstream / 100): every drill of the catalogue under 10 s.

Each drill runs exactly as ``kubekit drill run NAME`` does (:func:`kubekit.drills.session.run_drill`,
no report files), against a sandbox started for the benchmark in a temporary KUBEKIT_HOME (with
three member clusters, for the federation drills) and stopped by its pid at the end. Wall time is
noisy on a shared machine, so CPU seconds are recorded too: this process (the drill's watches,
ledger and checks), the sandbox daemon (/proc/<pid>/stat: every cluster's API server and
controllers) and, for the notebook, its kernel (waited-for children). The load average before and
after is recorded as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from kubekit import sandbox  # noqa: E402
from kubekit.drills import session  # noqa: E402
from kubekit.drills.base import catalogue  # noqa: E402

RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
FAST_TARGETS = {"pet-kill": 10.0, "node-stop": 60.0, "zone-outage": 90.0}
NOTEBOOK = ROOT / "notebooks" / "04-failure-drills.ipynb"
NOTEBOOK_TARGET_S = 180.0
INSTANT_TARGET_S = 10.0


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process (and its waited-for children), seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def measure(fn: Any, daemon_pid: int) -> tuple[Any, dict[str, float]]:
    w0, c0, d0, k0 = time.perf_counter(), time.process_time(), _proc_cpu(daemon_pid), _children_cpu()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - w0, 2), "cpu_s_bench": round(time.process_time() - c0, 2),
                 "cpu_s_sandbox": round(_proc_cpu(daemon_pid) - d0, 2),
                 "cpu_s_children": round(_children_cpu() - k0, 2)}


def one_drill(name: str, daemon_pid: int, target: float) -> dict[str, Any]:
    out, m = measure(lambda: session.run_drill(name, output_root=None, grade_slack=1.0), daemon_pid)
    res = out.result
    failed = [c["name"] for c in out.record["checks"] if not c["ok"]]
    return {**m, "passed": res.passed, "status": res.status, "target_s": target, "met": m["wall_s"] < target,
            "grades": {k: g.counts() for k, g in res.grades.items()}, "failed_checks": failed[:5],
            "refused": res.refused, "error": res.error or None}


def with_sandbox(profile: str, clusters: int, body: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"kubekit-bench-drills-{profile}-") as home:
        saved = {k: os.environ.get(k) for k in ("KUBEKIT_HOME", "KUBECONFIG")}
        t0 = time.perf_counter()
        info = sandbox.up(home=home, profile=profile, clusters=clusters)
        up_s = time.perf_counter() - t0
        os.environ["KUBEKIT_HOME"], os.environ["KUBECONFIG"] = home, info.kubeconfig
        try:
            return {"sandbox_up_s": round(up_s, 1), **body(info)}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            sandbox.down(home=home)


def fast_round(info: sandbox.SandboxInfo, notebook: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"drills": {}}
    for name, target in FAST_TARGETS.items():
        out["drills"][name] = one_drill(name, info.pid, target)
        print(f"fast {name}: {out['drills'][name]['wall_s']} s", file=sys.stderr, flush=True)
    if notebook:
        from kubekit import runbook

        with tempfile.TemporaryDirectory(prefix="kubekit-bench-nb04-") as runs:
            res, m = measure(lambda: runbook.run(NOTEBOOK, output_root=runs), info.pid)
        out["notebook_04"] = {**m, "status": res.status, "target_s": NOTEBOOK_TARGET_S,
                              "met": m["wall_s"] < NOTEBOOK_TARGET_S, "error": res.error,
                              "failed_checks": [c["name"] for c in res.checks if not c["ok"]]}
        print(f"fast notebook 04: {m['wall_s']} s", file=sys.stderr, flush=True)
    return out


def instant_round(info: sandbox.SandboxInfo, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"drills": {}}
    for name in names:
        out["drills"][name] = one_drill(name, info.pid, INSTANT_TARGET_S)
        print(f"instant {name}: {out['drills'][name]['wall_s']} s", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-notebook", action="store_true", help="skip the notebook 04 run")
    ap.add_argument("--only", default="", help="comma-separated drills for the instant round (default: all)")
    ap.add_argument("--instant-only", action="store_true", help="skip the fast round (drills and notebook 04)")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(catalogue())
    out: dict[str, Any] = {"benchmark": "kubekit-drills", "cpus": os.cpu_count(),
                           "load_avg_before": os.getloadavg()[0]}
    if not args.instant_only:
        out["fast"] = with_sandbox("fast", 3, lambda info: fast_round(info, not args.no_notebook))
    out["instant"] = with_sandbox("instant", 3, lambda info: instant_round(info, names))
    out["load_avg_after"] = os.getloadavg()[0]
    fast = out.get("fast", {})
    results = list(fast.get("drills", {}).values()) + list(out["instant"]["drills"].values())
    if "notebook_04" in fast:
        results.append(fast["notebook_04"])
    out["all_met"] = all(r["met"] for r in results)
    out["all_passed"] = all(r.get("passed", r.get("status") == "ok") for r in results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / ("drills-instant.json" if args.instant_only else "drills.json")).write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps(out, indent=2, default=str))
    return 0 if out["all_met"] and out["all_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
