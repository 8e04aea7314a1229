"""Checkpoint benchmark (issue 8 target: restore of a three-cluster world under 3 s), printed and written as JSON.

The world: a sandbox with ``sandbox`` + two member clusters (``up(clusters=2)``), a
petkv StatefulSet of 3 pets with 300 keys in ``sandbox`` and one of 1 pet with 50
keys in each member. Measured, each with the real console script in its own process
(interpreter start-up counts, as it does for an instructor):

- ``kubekit sandbox save`` while it runs (stop, copy, start again);
- ``kubekit sandbox restore`` while it runs, after the world was changed (more keys):
  the command's wall time, how long the sandbox was away, and the restarted daemon's
  own start-up (``sandbox.status.json``) and CPU seconds;
- ``kubekit sandbox restore`` while it is down (the swap alone);
- the checkpoint's size.

Then the restored data is checked (the later keys are gone, the saved ones there).
Wall times are noisy on a shared machine: CPU seconds are recorded next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("KUBEKIT_BENCH_RESULTS") or ROOT / "bench" / "results")
KUBEKIT = str(Path(sys.executable).with_name("kubekit"))
TARGET_RESTORE_S = 3.0


def cli(home: Path, *args: str, timeout: float = 300) -> tuple[float, float, str]:
    """(wall s, CPU s of the command incl. its children, stdout) of ``kubekit sandbox ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([KUBEKIT, "sandbox", *args], env=dict(os.environ, KUBEKIT_HOME=str(home)),
                          capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"kubekit sandbox {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return round(wall, 2), round(cpu, 2), proc.stdout


def daemon_cpu(home: Path) -> float | None:
    """CPU seconds the running daemon has used so far (its start-up, right after a restore)."""
    try:
        pid = json.loads((home / "sandbox.json").read_text())["pid"]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, KeyError, IndexError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=2, help="member clusters next to 'sandbox' (2: three clusters)")
    ap.add_argument("--keys", type=int, default=300)
    args = ap.parse_args(argv)

    from kubekit import cluster, pets, sandbox

    home = Path(tempfile.mkdtemp(prefix="kubekit-bench-ckpt-"))
    os.environ["KUBEKIT_HOME"] = str(home)
    out: dict[str, Any] = {"clusters": 1 + args.members, "target_restore_s": TARGET_RESTORE_S}
    try:
        t0 = time.perf_counter()
        info = sandbox.up(home=home, clusters=args.members, timeout=300)
        out["world_up_s"] = round(time.perf_counter() - t0, 1)
        sets = [("sandbox", pets.PetSet("kv", namespace="bench", replicas=3), args.keys)]
        sets += [(m["context"], pets.PetSet("kv", namespace="bench", replicas=1), 50) for m in sandbox.members(home)]
        for context, ps, keys in sets:
            kc = cluster.connect(context, info.kubeconfig)
            pets.deploy(kc, ps, progress=False)
            assert len(pets.kv(kc, ps).write(keys).acked) == keys

        out["save_wall_s"], out["save_cpu_s"], _ = cli(home, "save", "bench")
        listed = json.loads(cli(home, "checkpoints", "--json")[2])[0]
        out["checkpoint_mb"] = round(listed["size_bytes"] / 1e6, 2)
        out["checkpoint_aws_requests"] = listed["aws_requests"]

        kc = cluster.connect("sandbox", info.kubeconfig)
        pets.kv(kc, sets[0][1]).write(20, prefix="later")
        out["restore_running_wall_s"], out["restore_running_cpu_s"], said = cli(home, "restore", "bench")
        out["restore_running_said"] = said.strip()
        status = json.loads((home / "sandbox.status.json").read_text())
        out["restarted_daemon_ready_s"] = status.get("started_in_s")
        out["restarted_daemon_phases_s"] = status.get("phases_s")  # moto, warm_up, replay, clusters (when reported)
        out["restarted_daemon_cpu_s"] = daemon_cpu(home)
        t1 = time.perf_counter()
        kv = pets.kv(kc, sets[0][1])
        for _ in range(600):
            try:
                if kv.get("key-0000") == "value-0":
                    break
            except Exception:
                pass
            time.sleep(0.1)
        out["pets_serving_after_restore_s"] = round(time.perf_counter() - t1, 2)
        out["data_as_saved"] = kv.get("later-0000") is None and kv.get("key-0001") == "value-1"

        sandbox.down(home=home)
        out["restore_down_wall_s"], out["restore_down_cpu_s"], _ = cli(home, "restore", "bench")
        out["restore_under_target"] = out["restore_running_wall_s"] < TARGET_RESTORE_S
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
        out["cpus"] = os.cpu_count()
    finally:
        sandbox.down(home=home)
        shutil.rmtree(home, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checkpoint.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
