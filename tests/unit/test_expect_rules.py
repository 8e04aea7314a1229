"""The expected-timeline rules of the single-cluster drills (D2 bad rollout, D3 drain, D4 terminate with
the node group's replacement, D7 zone outage), and their grading on hand-made timelines: pure, no cluster."""

from __future__ import annotations

import math

import pytest

from kubekit.drills import expect as ex
from kubekit.drills.grading import ABSENT_OK, MISSING, ON_TIME, UNEXPECTED, grade
from kubekit.timeline import Entry

NS = "drill"
INSTANT = ex.Profile("instant", 0.01, (1, 33), source="test")
UPSTREAM = ex.Profile()
T0 = 1000.0


def pod(name: str, node: str = "n1", kind: str = "pet", volume: str = "", **kw: object) -> ex.PodRef:
    return ex.PodRef(NS, name, node, kind, volume=volume, **kw)  # type: ignore[arg-type]


def entry(t: float, source: str, what: str, obj: str, cluster: str = "c", **fields: object) -> Entry:
    return Entry(time=T0 + t, source=source, cluster=cluster, object=obj, what=what, fields=dict(fields))


def ref(name: str) -> str:
    return f"pod/{NS}/{name}"


# -- D2: bad rollout ---------------------------------------------------------------------------

def rollout(partition: int = 1, profile: ex.Profile = UPSTREAM) -> ex.Expected:
    pets = tuple(pod(f"web-{i}") for i in range(3))
    return ex.expected(ex.Fault(ex.BAD_ROLLOUT, (), pets, "c", {"partition": partition}), profile)


def test_bad_rollout_breaks_the_highest_ordinal_and_stalls_there() -> None:
    exp = rollout(1)
    keys = [p.key for p in exp.phases]
    assert keys == ["updated:web-2", "gone:web-2", "recreated:web-2", "pull-failed:web-2", "backoff:web-2",
                    "never-ready:web-2", "stalled:web-1", "kept:web-0"]
    assert exp.phase("updated:web-2").match.object == f"statefulset/{NS}/web"
    assert exp.phase("backoff:web-2").upstream == (0.0, 10.0)           # the first image pull back-off
    assert "image pull back-off" in exp.phase("backoff:web-2").cites
    assert exp.phase("stalled:web-1").expect == "absent" and math.isinf(exp.phase("stalled:web-1").window[1])
    assert "Partitions" in exp.phase("kept:web-0").cites
    assert any("Forced rollback" in n for n in exp.notes)
    # partition 2: web-1 is below it (kept), not waiting in the canary range
    assert [p.key for p in rollout(2).phases][-2:] == ["kept:web-1", "kept:web-0"]


def test_bad_rollout_windows_scale_with_the_profile() -> None:
    up, fast = rollout(1).phase("gone:web-2"), rollout(1, INSTANT).phase("gone:web-2")
    assert up.window == (0.0, 30.0) and fast.window == pytest.approx((0.0, 0.3)) and fast.upstream == up.upstream


def rollout_timeline(extra: list[Entry] | None = None, skip: str = "") -> list[Entry]:
    es = [entry(0.02, "statefulset-controller", "SuccessfulDelete", f"statefulset/{NS}/web"),
          entry(0.02, "apiserver", "pod-terminating", ref("web-2")),
          entry(0.15, "kubelet", "pod-deleted", ref("web-2")),
          entry(0.16, "statefulset-controller", "pod-created", ref("web-2")),
          entry(0.3, "kubelet", "Failed", ref("web-2")),
          entry(0.35, "kubelet", "BackOff", ref("web-2"))]
    es = [e for e in es if e.what != skip]
    return es + (extra or [])


def test_bad_rollout_graded_on_time_then_wrong_behaviours_fail() -> None:
    exp = rollout(1, INSTANT)
    g = grade(exp, rollout_timeline(), T0, end=T0 + 5)
    assert g.ok, g.table()
    assert g.verdict("never-ready:web-2") == ABSENT_OK and g.verdict("stalled:web-1") == ABSENT_OK
    # the controller went on to web-1: the stall did not hold
    bad = grade(exp, rollout_timeline([entry(1.0, "apiserver", "pod-terminating", ref("web-1"))]), T0, end=T0 + 5)
    assert bad.verdict("stalled:web-1") == UNEXPECTED and bad.failed
    # the canary became Ready at the bad revision: the image was not really missing
    ready = grade(exp, rollout_timeline([entry(0.5, "kubelet", "pod-ready", ref("web-2"))]), T0, end=T0 + 5)
    assert ready.verdict("never-ready:web-2") == UNEXPECTED
    # no pull failure seen
    assert grade(exp, rollout_timeline(skip="Failed"), T0, end=T0 + 5).verdict("pull-failed:web-2") == MISSING


# -- D3: drain under a PDB ---------------------------------------------------------------------

def drain(m: int = 1, profile: ex.Profile = UPSTREAM) -> ex.Expected:
    pets = tuple(pod(f"web-{i}", "n1", volume=f"pv-{i}") for i in (2, 0, 1))   # the order the drain evicted them
    return ex.expected(ex.Fault(ex.NODE_DRAIN, ("n1",), pets, "c", {"max_unavailable": m}), profile)


def test_drain_one_at_a_time_each_after_the_previous_is_ready() -> None:
    exp = drain(1)
    assert exp.phase("cordoned:n1").anchor == "T0"
    assert exp.phase("evicted:web-2").anchor == "T0" and exp.phase("evicted:web-2").window == (0.0, 0.0)
    assert exp.phase("evicted:web-0").anchor == "ready:web-2" and exp.phase("evicted:web-0").upstream == (0.0, 5.0)
    assert exp.phase("evicted:web-1").anchor == "ready:web-0"
    assert "kubectl" in exp.phase("evicted:web-0").cites and "429" in exp.phase("refused:web-0").cites
    assert {p.key for p in exp.phases if p.key.startswith("refused:")} == {"refused:web-0", "refused:web-1"}
    assert exp.phase("evicted:web-0").match.fields == {"reason": "EvictionByEvictionAPI"}
    assert exp.phase("ready:web-2").upstream == (0.0, 70.0)            # detach + start budgets
    assert exp.phase("detached:web-2").match.fields == {"pv": "pv-2", "node": "n1"}
    # a budget of 2: two at once, the third after the first is back
    two = drain(2)
    assert two.phase("evicted:web-0").anchor == "T0" and two.phase("evicted:web-1").anchor == "ready:web-2"
    assert {p.key for p in two.phases if p.key.startswith("refused:")} == {"refused:web-1"}


def drain_timeline(second_evicted_at: float | None = None) -> list[Entry]:
    """web-2 evicted at once, the others refused (429) and evicted 30 ms after the previous pet is Ready."""
    es = [entry(0.0, "user", "cordoned", "node/n1")]
    at = 0.01
    for i, name in enumerate(("web-2", "web-0", "web-1")):
        if i:
            es.append(entry(0.02, "eviction-api", "eviction-refused", ref(name), status=429))
        if i == 1 and second_evicted_at is not None:
            at = second_evicted_at
        es += [entry(at, "eviction-api", "pod-terminating", ref(name), reason="EvictionByEvictionAPI"),
               entry(at + 0.1, "kubelet", "pod-deleted", ref(name)),
               entry(at + 0.11, "statefulset-controller", "pod-created", ref(name)),
               entry(at + 0.12, "attachdetach-controller", "volume-detached", "volumeattachment/x",
                     pv=f"pv-{name[-1]}", node="n1"),
               entry(at + 0.6, "kubelet", "pod-ready", ref(name))]
        at += 0.63
    return es


def test_drain_graded_on_time_late_and_an_eviction_before_the_budget_allows_fails() -> None:
    exp = drain(1, INSTANT)
    g = grade(exp, drain_timeline(), T0, end=T0 + 10, slack=0.02)
    assert g.ok, g.table()
    # web-0 evicted before web-2 was Ready again: the budget was not honoured, nothing matches the
    # expected eviction (the drill's own check counts the pets down at once)
    early = grade(exp, drain_timeline(second_evicted_at=0.3), T0, end=T0 + 10, slack=0.02)
    assert early.verdict("evicted:web-0") == MISSING and early.failed
    # evicted a little too soon after web-2 was back (inside the retry window's tolerance, but before it)
    soon = grade(exp, drain_timeline(second_evicted_at=0.63), T0, end=T0 + 10, slack=0.02)
    assert soon.verdict("evicted:web-0") == ON_TIME
    late = grade(exp, drain_timeline(second_evicted_at=0.9), T0, end=T0 + 10, slack=0.02)
    assert late.verdict("evicted:web-0") == "late" and late.deviations and not late.failed
    # no 429 at all: the refusals are missing (no budget, or a drain that evicts one by one by itself)
    no429 = [e for e in drain_timeline() if e.what != "eviction-refused"]
    assert grade(exp, no429, T0, end=T0 + 10).verdict("refused:web-0") == MISSING


# -- D4: terminate, with the node group's replacement ----------------------------------------

def terminate() -> ex.Expected:
    topo = ex.Topology({"a": ("n1", "n2"), "b": ("n3", "n4")})
    return ex.expected(ex.Fault(ex.NODE_TERMINATE, ("n1",), (pod("web-0", "n1", volume="pv-0"),), "sandbox",
                                {"replacement": True}), INSTANT, topo)


def test_terminate_expects_a_replacement_instance_in_the_zone_from_aws() -> None:
    exp = terminate()
    ph = exp.phase("replacement:n1")
    assert ph.source == "aws" and ph.match.cluster is None and ph.match.fields == {"zone": "a", "previous": ""}
    assert ph.upstream == (0.0, 60.0) and "Auto Scaling" in ph.cites
    assert "noexecute-taint:n1" not in {p.key for p in exp.phases}     # the Node may be gone before the taint
    assert exp.phase("podgc:web-0").anchor == "node-deleted:n1"
    # AWS entries come from the region's poller, not the cluster's watches
    launched = entry(0.2, "aws", "instance-running", "instance/i-new", cluster="us-east-1", zone="a", previous="",
                     state="running")
    elsewhere = entry(0.1, "aws", "instance-running", "instance/i-b", cluster="us-east-1", zone="b", previous="")
    g = grade(exp, [elsewhere, launched], T0, end=T0 + 5)
    assert g.verdict("replacement:n1") == ON_TIME and g["replacement:n1"].entry is launched
    assert ex.expected(ex.Fault(ex.NODE_TERMINATE, ("n1",)), INSTANT).phases[-1].key != "replacement:n1"


# -- D7: a zone's instances stopped --------------------------------------------------------------

def test_zone_outage_full_disruption_taints_at_the_normal_rate_and_pins_the_pet() -> None:
    topo = ex.Topology({"a": ("n1", "n2"), "b": ("n3", "n4"), "c": ("n5", "n6")})
    pets = (pod("web-1", "n2", volume="pv-1"),)
    exp = ex.expected(ex.Fault(ex.NODE_STOP, ("n1", "n2"), pets, "c"), UPSTREAM, topo)
    assert ex.zone_states(topo, ("n1", "n2"))["a"] == "FullDisruption"
    assert exp.phase("noexecute-taint:n2").upstream == (0.0, 15.0)    # monitor period + one eviction period
    assert exp.phase("evicted:web-1").upstream == (300.0, 300.0)
    assert exp.phase("stuck:web-1").expect == "absent"
    assert any("web-1 cannot move" in n and "VolumeZone" in n for n in exp.notes)


def test_zone_outage_partial_in_a_small_cluster_taints_nothing() -> None:
    topo = ex.Topology({"a": ("n1", "n2", "n3", "n4"), "b": ("n5",)})
    lost = ("n1", "n2", "n3")                                          # > 2 and 75 % >= 55 %: partial
    exp = ex.expected(ex.Fault(ex.NODE_STOP, lost, (pod("web-0", "n1", volume="pv-0"),), "c"), UPSTREAM, topo)
    assert ex.zone_states(topo, lost)["a"] == "PartialDisruption"
    for n in lost:
        assert exp.phase(f"noexecute-taint:{n}").expect == "absent"
    assert exp.phase("evicted:web-0").expect == "absent"
    assert any("small-cluster rule" in n for n in exp.notes)
    # and not in the lost zone's note: a partial zone still has Ready nodes
    assert not any("cannot move" in n for n in exp.notes)


# -- every new rule says what sets its timing ---------------------------------------------------

@pytest.mark.parametrize("exp", [rollout(), drain(), terminate()], ids=["bad-rollout", "node-drain", "terminate"])
def test_every_timed_phase_cites_the_flag_or_document_that_sets_it(exp: ex.Expected) -> None:
    for p in exp.phases:
        assert p.cites, p.key
    assert exp.to_dict()["fault"]["options"] == dict(exp.fault.options)


def test_an_older_incarnation_before_the_anchor_is_not_matched() -> None:
    """The pet's previous pod was Ready just before the fault: that is not the new pod coming back."""
    exp = ex.expected(ex.Fault(ex.POD_DELETE, (), (pod("web-1"),), "c"), INSTANT)
    es = [entry(-0.3, "kubelet", "pod-ready", ref("web-1")), entry(-0.2, "kubelet", "pod-deleted", ref("web-1")),
          entry(0.1, "kubelet", "pod-deleted", ref("web-1")),
          entry(0.12, "statefulset-controller", "pod-created", ref("web-1"))]
    g = grade(exp, es, T0, end=T0 + 3, slack=1.0)
    assert g["deleted:web-1"].observed == pytest.approx(0.1)           # not the earlier deletion at -0.2
    assert g.verdict("pet-ready:web-1") == MISSING                     # not the old pod's Ready at -0.3
