"""The runbooks under runbooks/, each run through `kubekit runbook run` with its default parameters.

One sandbox for the module (timing profile ``fast``, three member clusters for the federation
runbooks). ``fast`` rather than ``instant``: the rehearsals run petkv pets, whose probes at
x0.01 (0.1 s periods) flap on a loaded machine. A runbook whose checks fail must exit non-zero
(a refused drill here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubekit import cli, sandbox

REPO = Path(__file__).resolve().parent.parent.parent
RUNBOOKS = REPO / "runbooks"
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("runbooks-home")
    info = sandbox.up(home=home, profile="fast", clusters=3)
    saved = {k: os.environ.get(k) for k in ("KUBEKIT_HOME", "KUBECONFIG")}
    os.environ["KUBEKIT_HOME"], os.environ["KUBECONFIG"] = str(home), info.kubeconfig  # the kernels inherit them
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sandbox.down(home=home)


def run(tmp_path: Path, name: str, *params: str) -> tuple[int, dict]:
    code = cli.main(["runbook", "run", str(RUNBOOKS / name), "--output-root", str(tmp_path), *params])
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return code, json.loads((run_dir / "result.json").read_text())


def checks(result: dict) -> dict[str, bool]:
    return {c["name"]: c["ok"] for c in result["checks"]}


def test_drill_runbook_runs_a_drill_and_keeps_its_report(world: Path, tmp_path: Path) -> None:
    code, result = run(tmp_path, "drill.ipynb")
    assert code == 0, result
    got = checks(result)
    assert got["drill passed"] and got["verify: web-1: same claim and volume"]
    assert got["ledger: RPO: acknowledged writes readable"]
    (report,) = (Path(result["output_dir"])).glob("*-drill-pet-kill")
    assert {"journal.json", "timeline.png", "report.txt", "result.json"} <= {p.name for p in report.iterdir()}


def test_a_refused_drill_fails_the_runbook(world: Path, tmp_path: Path) -> None:
    code, result = run(tmp_path, "drill.ipynb", "-p", "params", "{ordinal: 7}")
    assert code == 1 and result["status"] == "failed" and result["error"] is None
    assert checks(result)["drill not refused"] is False


def test_recover_stuck_pet_takes_the_guarded_path(world: Path, tmp_path: Path) -> None:
    code, result = run(tmp_path, "recover-stuck-pet.ipynb")
    assert code == 0, result
    got = checks(result)
    assert got["force delete refused while the node only shut down"]
    assert got["out-of-service taint removed afterwards"] and got["acknowledged writes readable after recovery"]


def test_zone_evacuation_respects_the_pdb_and_comes_back(world: Path, tmp_path: Path) -> None:
    code, result = run(tmp_path, "zone-evacuation.ipynb")
    assert code == 0, result
    got = checks(result)
    assert got["PDB respected: at most 1 pet down at once"] and got["PDB refuses a second pet disruption"]
    assert got["federated replicas left the zone first"] and got["federated replicas back in the zone"]


def test_cluster_failover_moves_the_stateless_tier_only(world: Path, tmp_path: Path) -> None:
    code, result = run(tmp_path, "cluster-failover.ipynb")
    assert code == 0, result
    got = checks(result)
    assert got["web left the member, all replicas elsewhere"] and got["pets stayed where their data is"]
    assert got["web back on the member"]
