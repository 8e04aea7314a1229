"""Expected timelines and grading, table-tested on recorded timelines (pure: no cluster).

``data/node-stop-instant.json`` is a real node-stop drill recorded against the sandbox
(profile ``instant``, Kubernetes 1.33, times relative to T0); the other cases are that
recording edited, or small synthetic timelines for the upstream profile.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kubekit.drills import expect as ex
from kubekit.drills.base import grade_caught_up
from kubekit.drills.grading import ABSENT_OK, EARLY, LATE, MISSING, ON_TIME, UNEXPECTED, grade
from kubekit.timeline import Entry

DATA = Path(__file__).resolve().parent / "data"


def recorded() -> dict[str, Any]:
    return json.loads((DATA / "node-stop-instant.json").read_text())


def entries_of(doc: dict[str, Any]) -> list[Entry]:
    return [Entry.from_dict(e, seq=i) for i, e in enumerate(doc["entries"])]


def fault_of(d: dict[str, Any]) -> ex.Fault:
    return ex.Fault(d["kind"], tuple(d["nodes"]), tuple(ex.PodRef(**p) for p in d["pods"]), d["cluster"])


def recorded_case() -> tuple[dict[str, Any], ex.Expected, list[Entry]]:
    doc = recorded()
    profile = ex.profile_from(doc["configmap"], doc["version"])
    topo = ex.Topology({z: tuple(ns) for z, ns in doc["topology"].items()})
    return doc, ex.expected(fault_of(doc["fault"]), profile, topo), entries_of(doc)


def shifted(entries: list[Entry], pred: Any, by: float) -> list[Entry]:
    return [replace(e, time=e.time + by) if pred(e) else e for e in entries]


VICTIM = "ip-10-0-0-4.ec2.internal"


# -- profiles and versions -------------------------------------------------------------------

def test_profile_from_the_kubesim_configmap_reads_effective_and_upstream_values() -> None:
    doc = recorded()
    p = ex.profile_from(doc["configmap"], {"major": "1", "minor": "33", "gitVersion": "v1.33.0+kubesim"})
    assert (p.name, p.scale, p.version) == ("instant", 0.01, (1, 33))
    assert p.s("node_monitor_grace") == pytest.approx(0.5) and p.up("node_monitor_grace") == 50
    assert p.s("default_toleration_seconds") == 3 and p.up("default_toleration_seconds") == 300
    assert p.s("startup_budget") == pytest.approx(0.6)  # not published: upstream x scale
    assert "kubesim-timing" in p.source


@pytest.mark.parametrize("version, grace", [((1, 30), 40), ((1, 31), 40), ((1, 32), 50), ((1, 33), 50)])
def test_without_the_configmap_upstream_defaults_and_grace_follow_the_version(version: tuple[int, int],
                                                                               grace: float) -> None:
    p = ex.profile_from(None, version)
    assert (p.name, p.scale) == ("upstream", 1.0)
    assert p.s("node_monitor_grace") == grace
    assert p.s("default_toleration_seconds") == 300 and p.s("podgc_quarantine") == 40
    assert "no kube-system/kubesim-timing" in p.source


@pytest.mark.parametrize("info, want", [
    ({"major": "1", "minor": "31+", "gitVersion": "v1.31.4-eks-2d5f260"}, (1, 31)),
    ({"major": "", "minor": "", "gitVersion": "v1.33.2-eks-abc"}, (1, 33)),
    ("v1.32.0", (1, 32)),
    (None, (1, 33)),
])
def test_parse_version(info: Any, want: tuple[int, int]) -> None:
    assert ex.parse_version(info) == want


# -- the recorded node-stop run ----------------------------------------------------------------

def test_the_recorded_node_stop_is_on_time_in_every_phase() -> None:
    doc, exp, entries = recorded_case()
    g = grade(exp, entries, 0.0, end=doc["observation_end"])
    assert g.ok, g.table()
    v = g.verdicts()
    assert v[f"not-ready:{VICTIM}"] == ON_TIME
    assert v[f"shutdown-taint:{VICTIM}"] == ON_TIME
    assert v[f"noexecute-taint:{VICTIM}"] == ON_TIME
    assert v["evicted:pet-0"] == ON_TIME and v["stuck:pet-0"] == ABSENT_OK
    assert v[f"node-kept:{VICTIM}"] == ABSENT_OK
    web = next(p.name for p in exp.fault.pods if p.kind == "stateless")
    assert v[f"replaced:{web}"] == ON_TIME and v[f"replacement-ready:{web}"] == ON_TIME
    r = g["evicted:pet-0"]
    # Upstream equivalents: the eviction 300 s after the taint, ~370 s after T0.
    assert r.after_anchor_upstream == pytest.approx(300, abs=60)
    assert r.observed_upstream == pytest.approx(r.observed / 0.01)
    assert g[f"not-ready:{VICTIM}"].source_ok is True
    assert "--node-monitor-grace-period" in g[f"not-ready:{VICTIM}"].phase.cites
    assert "50 s" in g[f"not-ready:{VICTIM}"].phase.cites


def test_the_recorded_remediation_is_on_time() -> None:
    doc = recorded()
    profile = ex.profile_from(doc["configmap"], doc["version"])
    exp = ex.expected(fault_of(doc["remediation"]), profile)
    g = grade(exp, entries_of(doc), doc["remediation_t0"], end=doc["remediation_end"])
    assert g.ok, g.table()
    assert g["force-deleted:pet-0"].entry.source == "pod-garbage-collector"
    assert g["detached:pet-0"].verdict == ON_TIME
    assert g["recreated:pet-0"].verdict == ON_TIME


def test_entries_after_the_end_of_observation_do_not_count() -> None:
    # The remediation deletes and recreates pet-0: graded up to the end of observation, the
    # pet "stayed Terminating"; graded to the very end, that is (rightly) unexpected.
    doc, exp, entries = recorded_case()
    assert grade(exp, entries, 0.0, end=doc["observation_end"])["stuck:pet-0"].verdict == ABSENT_OK
    assert grade(exp, entries, 0.0, end=None)["stuck:pet-0"].verdict == UNEXPECTED


def test_late_notready_is_late_and_what_follows_chains_on_the_observed_time() -> None:
    doc, exp, entries = recorded_case()
    later = shifted(entries, lambda e: e.time > 0.5, 2.0)  # everything after 0.5 s happens 2 s later
    g = grade(exp, later, 0.0, end=doc["observation_end"] + 2.0)
    assert g.verdict(f"not-ready:{VICTIM}") == LATE
    # the taints and evictions are timed from the observed NotReady: still on time
    assert g.verdict(f"shutdown-taint:{VICTIM}") == ON_TIME
    assert g.verdict("evicted:pet-0") == ON_TIME
    assert not g.ok and not g.failed and [r.phase.key for r in g.deviations] == [f"not-ready:{VICTIM}"]


def test_an_eviction_before_the_toleration_is_early() -> None:
    doc, exp, entries = recorded_case()
    hasty = shifted(entries, lambda e: e.object == "pod/drill/pet-0" and e.what == "pod-terminating", -2.5)
    g = grade(exp, hasty, 0.0, end=doc["observation_end"])
    assert g.verdict("evicted:pet-0") == EARLY


def test_missing_phases_are_missing_and_dependants_use_expected_times() -> None:
    doc, exp, entries = recorded_case()
    no_eviction = [e for e in entries if e.what != "pod-terminating"]
    g = grade(exp, no_eviction, 0.0, end=doc["observation_end"])
    assert g.verdict("evicted:pet-0") == MISSING
    web = next(p.name for p in exp.fault.pods if p.kind == "stateless")
    assert g.verdict(f"evicted:{web}") == MISSING
    # the replacement was still seen, timed against the expected eviction window
    assert g.verdict(f"replaced:{web}") == ON_TIME
    assert "not observed" in g[f"replaced:{web}"].note
    assert {r.phase.key for r in g.failed} == {"evicted:pet-0", f"evicted:{web}"}


def test_a_fault_with_no_effect_is_all_missing() -> None:
    doc, exp, entries = recorded_case()
    nothing = [e for e in entries if e.time <= 0.0]
    g = grade(exp, nothing, 0.0, end=5.0)
    assert g.verdict(f"not-ready:{VICTIM}") == MISSING
    assert g.verdict(f"lease-stop:{VICTIM}") == MISSING
    assert g.verdict(f"node-kept:{VICTIM}") == ABSENT_OK


def test_a_pet_replaced_while_its_node_is_down_is_unexpected() -> None:
    doc, exp, entries = recorded_case()
    bad = entries + [Entry(4.0, "pod-garbage-collector", "sandbox", "pod/drill/pet-0", "pod-deleted", seq=900),
                     Entry(4.05, "statefulset-controller", "sandbox", "pod/drill/pet-0", "pod-created", seq=901)]
    g = grade(exp, bad, 0.0, end=doc["observation_end"])
    assert g.verdict("stuck:pet-0") == UNEXPECTED
    assert [r.phase.key for r in g.failed] == ["stuck:pet-0"]


def test_a_lease_pause_that_resumed_is_not_taken_for_the_fault() -> None:
    doc, exp, entries = recorded_case()
    node = f"node/{VICTIM}"
    pause = [Entry(-0.05, "kubelet", "sandbox", node, "lease-renewals-stopped", seq=800),
             Entry(0.02, "kubelet", "sandbox", node, "lease-renewals-resumed", seq=801)]
    g = grade(exp, sorted(entries + pause, key=lambda e: e.time), 0.0, end=doc["observation_end"])
    assert g[f"lease-stop:{VICTIM}"].observed == pytest.approx(0.0762)
    assert g.ok


# -- version 1.31 vs 1.33 (upstream profile, synthetic) ----------------------------------------

def node_lost_timeline(not_ready_after: float) -> list[Entry]:
    n = "node/n1"
    return [Entry(0.0, "drill", "", "", "fault", seq=0),
            Entry(0.0, "kubelet", "c", n, "lease-renewals-stopped", seq=1),
            Entry(not_ready_after, "node-lifecycle-controller", "c", n, "node-not-ready", seq=2),
            Entry(not_ready_after + 0.2, "node-lifecycle-controller", "c", n, "taint-added",
                  fields={"key": ex.TAINT_UNREACHABLE, "effect": "NoExecute"}, seq=3)]


@pytest.mark.parametrize("version, not_ready_after, verdict", [
    ((1, 31), 42.0, ON_TIME),   # 40 s grace: due 40..45
    ((1, 33), 42.0, EARLY),     # 50 s grace: due 50..55
    ((1, 31), 53.0, LATE),
    ((1, 33), 53.0, ON_TIME),
])
def test_node_grace_is_40_s_up_to_1_31_and_50_s_from_1_32(version: tuple[int, int], not_ready_after: float,
                                                            verdict: str) -> None:
    topo = ex.Topology({"a": ("n1", "n2"), "b": ("n3", "n4")})
    exp = ex.expected(ex.Fault(ex.NODE_PARTITION, ("n1",), cluster="c"), ex.profile_from(None, version), topo)
    g = grade(exp, node_lost_timeline(not_ready_after), 0.0, end=not_ready_after + 10)
    assert g.verdict("not-ready:n1") == verdict, g.table()
    assert g.verdict("noexecute-taint:n1") == ON_TIME
    assert g["not-ready:n1"].phase.upstream == ((40.0, 45.0) if version <= (1, 31) else (50.0, 55.0))


# -- the zone disruption rules (NL-06) ---------------------------------------------------------

@pytest.mark.parametrize("zones, lost, want", [
    ({"a": 2, "b": 2, "c": 2}, {"a": 1}, {"a": "Normal", "b": "Normal", "c": "Normal"}),
    ({"a": 2, "b": 2, "c": 2}, {"a": 2}, {"a": "FullDisruption", "b": "Normal", "c": "Normal"}),
    ({"a": 3}, {"a": 2}, {"a": "Normal"}),                    # not more than 2 not-ready nodes
    ({"a": 5}, {"a": 3}, {"a": "PartialDisruption"}),         # 3 > 2 and 3/5 >= 0.55
    ({"a": 6}, {"a": 3}, {"a": "Normal"}),                    # 3/6 < 0.55
    ({"a": 1, "b": 1}, {"a": 1, "b": 1}, {"a": "FullDisruption", "b": "FullDisruption"}),
])
def test_zone_states(zones: dict[str, int], lost: dict[str, int], want: dict[str, str]) -> None:
    topo = ex.Topology({z: tuple(f"{z}{i}" for i in range(n)) for z, n in zones.items()})
    down = [f"{z}{i}" for z, n in lost.items() for i in range(n)]
    assert ex.zone_states(topo, down) == want


def test_small_cluster_rule_partial_disruption_in_a_small_zone_means_no_taints_and_no_evictions() -> None:
    topo = ex.Topology({"a": ("a0", "a1", "a2", "a3", "a4"), "b": ("b0", "b1")})
    lost = ("a0", "a1", "a2")
    pet = ex.PodRef("ns", "db-0", "a0", "pet")
    exp = ex.expected(ex.Fault(ex.NODE_STOP, lost, (pet,), "c"), ex.profile_from(None, (1, 33)), topo)
    for n in lost:
        assert exp.phase(f"noexecute-taint:{n}").expect == "absent"
    assert exp.phase("evicted:db-0").expect == "absent"
    assert exp.phase("stuck:db-0").anchor == "T0"
    assert any("small-cluster rule" in note for note in exp.notes)
    base = [Entry(0.0, "drill", "", "", "fault", seq=0)]
    for i, n in enumerate(lost):
        base += [Entry(0.0, "kubelet", "c", f"node/{n}", "lease-renewals-stopped", seq=10 + i),
                 Entry(51.0, "node-lifecycle-controller", "c", f"node/{n}", "node-not-ready", seq=20 + i),
                 Entry(52.0, "cloud-node-lifecycle-controller", "c", f"node/{n}", "taint-added",
                       fields={"key": ex.TAINT_SHUTDOWN, "effect": "NoSchedule"}, seq=30 + i)]
    g = grade(exp, base, 0.0, end=400.0)
    assert g.ok, g.table()
    assert g.verdict("noexecute-taint:a0") == ABSENT_OK and g.verdict("evicted:db-0") == ABSENT_OK
    # a controller that taints anyway is graded unexpected
    tainted = base + [Entry(51.1, "node-lifecycle-controller", "c", "node/a1", "taint-added",
                            fields={"key": ex.TAINT_UNREACHABLE, "effect": "NoExecute"}, seq=99)]
    g2 = grade(exp, tainted, 0.0, end=400.0)
    assert g2.verdict("noexecute-taint:a1") == UNEXPECTED
    assert g2.verdict("noexecute-taint:a0") == ABSENT_OK


def test_a_large_zone_in_partial_disruption_is_tainted_at_the_secondary_rate() -> None:
    names = tuple(f"a{i}" for i in range(60))
    topo = ex.Topology({"a": names, "b": ("b0",)})
    lost = names[:40]
    exp = ex.expected(ex.Fault(ex.NODE_STOP, lost), ex.profile_from(None, (1, 33)), topo)
    ph = exp.phase("noexecute-taint:a0")
    assert ph.expect == "present"
    assert ph.window == (0.0, 5.0 + 39 * 100.0)


def test_a_full_zone_outage_is_tainted_at_the_normal_rate_one_node_per_10_s() -> None:
    topo = ex.Topology({"a": ("a0", "a1", "a2"), "b": ("b0", "b1", "b2")})
    exp = ex.expected(ex.Fault(ex.NODE_STOP, ("a0", "a1", "a2")), ex.profile_from(None, (1, 33)), topo)
    assert exp.phase("noexecute-taint:a2").window == (0.0, 5.0 + 2 * 10.0)
    assert any("FullDisruption" in n for n in exp.notes)


def test_when_every_zone_is_down_nothing_is_tainted() -> None:
    topo = ex.Topology({"a": ("a0",), "b": ("b0",)})
    exp = ex.expected(ex.Fault(ex.NODE_STOP, ("a0", "b0")), ex.profile_from(None, (1, 33)), topo)
    assert exp.phase("noexecute-taint:a0").expect == "absent"
    assert exp.phase("noexecute-taint:b0").expect == "absent"


# -- other fault kinds ---------------------------------------------------------------------------

def test_terminate_deletes_the_node_and_podgc_frees_the_pet_40_to_80_s_later() -> None:
    topo = ex.Topology({"a": ("n1", "n2")})
    pet = ex.PodRef("ns", "db-0", "n1", "pet", volume="pv-1")
    exp = ex.expected(ex.Fault(ex.NODE_TERMINATE, ("n1",), (pet,)), ex.profile_from(None, (1, 33)), topo)
    keys = [p.key for p in exp.phases]
    assert "node-deleted:n1" in keys and "shutdown-taint:n1" not in keys
    assert exp.phase("node-deleted:n1").anchor == "not-ready:n1"
    assert exp.phase("podgc:db-0").upstream == (40.0, 80.0)
    assert exp.phase("detached:db-0").upstream[1] == 360.0 + 10.0
    assert exp.phase("recreated:db-0").anchor == "podgc:db-0"


def test_pod_delete_expects_graceful_termination_and_the_same_name_back() -> None:
    pet = ex.PodRef("ns", "db-1", "n1", "pet")
    exp = ex.expected(ex.Fault(ex.POD_DELETE, pods=(pet,)), ex.profile_from(None, (1, 33)))
    assert [p.key for p in exp.phases] == ["deleted:db-1", "recreated:db-1", "pet-ready:db-1"]
    assert exp.phase("deleted:db-1").upstream == (0.0, 30.0)


def test_expected_tables_and_json_name_their_sources() -> None:
    _, exp, _ = recorded_case()
    text = exp.table()
    assert "node-lifecycle-controller" in text and "--node-monitor-grace-period" in text
    d = exp.to_dict()
    assert d["profile"]["version"] == "1.33" and d["phases"][0]["cites"]
    json.dumps(d)


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        ex.Fault("meteor")


# -- grading waits for the watches only while something is missing ---------------------------------

def _absolute(entries: list[Entry], t0: float) -> list[Entry]:
    return [replace(e, time=e.time + t0) for e in entries]


def test_grading_does_not_wait_when_every_phase_is_seen() -> None:
    doc, exp, entries = recorded_case()
    end = time.time()
    t0 = end - doc["observation_end"]
    start = time.monotonic()
    g = grade_caught_up(exp, lambda: _absolute(entries, t0), t0, end, slack=0.5, lag=60.0)
    assert time.monotonic() - start < 30.0
    assert MISSING not in g.counts() and g.counts() == grade(exp, entries, 0.0, end=doc["observation_end"]).counts()


def test_grading_keeps_a_phase_the_watch_delivers_after_the_poll() -> None:
    doc, exp, entries = recorded_case()
    end = time.time()
    t0 = end - doc["observation_end"]
    def evicts_pet_0(e: Entry) -> bool:
        return e.object == "pod/drill/pet-0" and e.what == "pod-terminating"
    last = next(e for e in entries if evicts_pet_0(e))
    early = [e for e in entries if not evicts_pet_0(e)]
    arrived: list[Entry] = []
    timer = threading.Timer(0.3, lambda: arrived.append(replace(last, time=time.time())))
    timer.start()
    try:
        g = grade_caught_up(exp, lambda: _absolute(early, t0) + arrived, t0, end, slack=5.0, lag=30.0)
    finally:
        timer.cancel()
    assert arrived and g.verdict("evicted:pet-0") != MISSING


def test_grading_gives_up_after_one_watch_latency() -> None:
    doc, exp, entries = recorded_case()
    no_eviction = [e for e in entries if e.what != "pod-terminating"]
    end = time.time()
    t0 = end - doc["observation_end"]
    g = grade_caught_up(exp, lambda: _absolute(no_eviction, t0), t0, end, slack=0.5, lag=0.3)
    assert time.time() >= end + 0.3
    assert g.verdict("evicted:pet-0") == MISSING
