"""The drill declarations, the catalogue, and the report (journal, tables, plot) from a recorded run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubekit.drills import base, expect as ex, report
from kubekit.drills.grading import grade
from kubekit.drills.ledger import Ledger
from kubekit.errors import InvalidParameter
from kubekit.timeline import Timeline

DATA = Path(__file__).resolve().parent / "data"


def recorded_result() -> base.DrillResult:
    doc = json.loads((DATA / "node-stop-instant.json").read_text())
    tl = Timeline.from_dict({"t0": 0.0, "entries": doc["entries"]})
    profile = ex.profile_from(doc["configmap"], doc["version"])
    f = doc["fault"]
    fault = ex.Fault(f["kind"], tuple(f["nodes"]), tuple(ex.PodRef(**p) for p in f["pods"]), f["cluster"])
    exp = ex.expected(fault, profile, ex.Topology({z: tuple(n) for z, n in doc["topology"].items()}))
    cls = base.get("node-stop")
    store: dict[str, str] = {}
    ledger = Ledger(store.__setitem__, store.get, clock=iter(range(100)).__next__)  # type: ignore[arg-type]
    for _ in range(5):
        ledger.write_once()
    return base.DrillResult(
        cls.name, cls.catalogue_id, cls.title, "completed", cls.defaults(), start=-5.0, end=6.0, t0=0.0,
        profile=profile, checks=[base.Check("the fault took effect: node NotReady", True, "Ready=Unknown")],
        steady_before=[base.Check("pet-0 Ready", True, "", "steady-state-before")],
        steady_after=[base.Check("pet-0 Ready", True, "", "steady-state-after")],
        expected={"fault": exp}, grades={"fault": grade(exp, tl.entries(), 0.0, end=doc["observation_end"])},
        timeline=tl, ledger=ledger, experiment=cls.experiment(),
        runs=[base.Run("inject", "action", 0.0, 0.01, "succeeded", "EC2 StopInstances i-1")])


def test_catalogue_and_lookup_by_name_or_id() -> None:
    cat = base.catalogue()
    assert "node-stop" in cat
    assert base.get("D5") is cat["node-stop"] and base.get("d5") is cat["node-stop"]
    with pytest.raises(InvalidParameter, match="not in the catalogue"):
        base.get("no-such-drill")


def test_parameters_have_defaults_and_are_coerced() -> None:
    cls = base.get("node-stop")
    p = cls.resolve_params({"volume": "false", "hold": "30"})
    assert p["volume"] is False and p["hold"] == 30.0 and p["node"] == ""
    with pytest.raises(InvalidParameter, match="no such parameter"):
        cls.resolve_params({"nodes": "x"})
    with pytest.raises(InvalidParameter):
        cls.resolve_params({"hold": "soon"})


def test_the_journal_has_chaos_toolkits_shape() -> None:
    res = recorded_result()
    assert res.passed and not res.deviated
    j = res.journal()
    for key in ("experiment", "start", "end", "duration", "status", "deviated", "steady_states", "run", "rollbacks"):
        assert key in j
    assert j["status"] == "completed" and j["deviated"] is False
    assert j["steady_states"]["before"]["steady_state_met"] is True
    assert j["steady_states"]["before"]["probes"][0]["tolerance_met"] is True
    exp = j["experiment"]
    assert {"title", "description", "steady-state-hypothesis", "method", "rollbacks"} <= set(exp)
    assert j["run"][0]["activity"]["name"] == "inject" and j["run"][0]["status"] == "succeeded"
    ext = j["extensions"][0]
    assert ext["name"] == "kubekit" and ext["catalogue_id"] == "D5"
    assert ext["grades"]["fault"]["ok"] is True
    assert ext["ledger"]["availability"]["acknowledged"] == 5
    json.dumps(j)


def test_summary_plot_and_files(tmp_path: Path) -> None:
    res = recorded_result()
    text = res.table()
    assert "on time" in text and "as expected" in text and "ledger availability" in text
    fig = res.plot()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert {"aws", "kubelet", "node-lifecycle-controller", "taint-eviction-controller"} <= set(labels)
    out = report.write(res, tmp_path / "run")
    assert {p.name for p in out.iterdir()} == {"journal.json", "timeline.json", "report.txt", "timeline.png"}
    assert json.loads((out / "journal.json").read_text())["status"] == "completed"
    assert Timeline.load(out / "timeline.json").entries()[0].what == "pod-created"
