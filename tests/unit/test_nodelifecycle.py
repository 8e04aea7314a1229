"""Node failure decisions, table-driven: node lifecycle (NL-02..NL-06, NL-13, SC-07), taint eviction
(NL-08) and pod GC (NL-10, NL-11), plus the node lifecycle loop on an in-process API with a fake clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kubesim import clock
from kubesim.api import Request
from kubesim.cluster import Cluster
from kubesim.controllers import nodelifecycle as nl
from kubesim.controllers import podgc
from kubesim.controllers import tainteviction as te
from kubesim.controllers.base import ControllerContext
from kubesim.controllers.nodeutil import (TAINT_NOT_READY, TAINT_OUT_OF_SERVICE, TAINT_UNREACHABLE,
                                          TAINT_UNSCHEDULABLE, matching_tolerations, tolerates, update_pod_condition,
                                          zone_key)
from kubesim.timings import for_profile

T0 = 1_700_000_000.0


def ts(t: float, micro: bool = False) -> str:
    dt = datetime.fromtimestamp(t, timezone.utc)
    return clock.rfc3339_micro(dt) if micro else clock.rfc3339(dt)


def cond(type_: str, status: str, hb: float = T0, tr: float = T0, reason: str = "") -> dict:
    c = {"type": type_, "status": status, "lastHeartbeatTime": ts(hb), "lastTransitionTime": ts(tr)}
    if reason:
        c["reason"] = reason
    return c


def node(ready: str | None = "True", *, hb: float = T0, taints: list | None = None, unschedulable: bool = False,
         zone: str = "us-east-1a", extra: list | None = None, created: float = T0 - 3600, labels: dict | None = None
         ) -> dict:
    conds = [cond("MemoryPressure", "False", hb), cond("DiskPressure", "False", hb), cond("PIDPressure", "False", hb)]
    if ready is not None:
        conds.append(cond("Ready", ready, hb))
    conds += extra or []
    lab = {"topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": zone[:-1]}
    lab.update(labels or {})
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "uid": "u1", "creationTimestamp": ts(created), "labels": lab},
            "spec": {"taints": taints or [], **({"unschedulable": True} if unschedulable else {})},
            "status": {"conditions": conds}}


def lease(renew: float) -> dict:
    return {"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": ts(renew, micro=True)}}


# -- health: grace boundaries ----------------------------------------------------------------------
@pytest.mark.parametrize("version,grace", [((1, 33), 50.0), ((1, 32), 50.0), ((1, 31), 40.0), ((1, 29), 40.0)])
def test_grace_by_version(version, grace):
    assert for_profile("upstream", version).node_monitor_grace == grace
    assert for_profile("instant", version).get("node_monitor_grace") == pytest.approx(grace / 100)


@pytest.mark.parametrize("grace", [50.0, 40.0])
@pytest.mark.parametrize("delta,unknown", [(-10.0, False), (-0.001, False), (0.0, False), (0.001, True), (7.0, True)])
def test_unknown_exactly_after_probe_plus_grace(grace, delta, unknown):
    """``now > probe + grace`` (strictly) turns Ready Unknown; the probe is the controller's own clock."""
    n = node("True", hb=T0)
    first = nl.node_health(n, lease(T0), None, T0, grace=grace, startup_grace=60)
    assert first.conditions is None and first.health.probe == T0
    now = T0 + grace + delta
    res = nl.node_health(n, lease(T0), first.health, now, grace=grace, startup_grace=60)
    assert (res.conditions is not None) == unknown
    if unknown:
        ready = res.current_ready
        assert ready["status"] == "Unknown"
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        assert res.observed_ready["status"] == "True"


@pytest.mark.parametrize("version,lo,hi", [((1, 33), 50, 60), ((1, 31), 40, 50)])
@pytest.mark.parametrize("phase", [0.0, 0.01, 1.3, 2.5, 4.99])
@pytest.mark.parametrize("renew_phase", [0.0, 3.7, 9.99])
def test_ready_unknown_lands_in_r_plus_grace_window(version, lo, hi, phase, renew_phase):
    """Lease renewed every 10 s until R, passes every 5 s: Ready=Unknown in (R+grace, R+grace+5] ⊂ (R+lo, R+hi]."""
    t = for_profile("upstream", version)
    grace, period = t.node_monitor_grace, t.node_monitor_period
    renewals = [T0 + renew_phase + 10 * k for k in range(6)]
    R = renewals[-1]
    saved = None
    n = node("True", hb=T0 - 100)  # status heartbeat stale: only the lease keeps it alive
    tick = T0 + phase
    flipped = None
    while tick < R + 120:
        last = max((r for r in renewals if r <= tick), default=None)
        res = nl.node_health(n, lease(last) if last is not None else None, saved, tick, grace=grace,
                             startup_grace=t.node_startup_grace)
        if res.conditions is not None:
            flipped = tick
            break
        saved = res.health
        tick += period
    assert flipped is not None
    assert R + lo < flipped <= R + hi


def test_lease_not_newer_and_heartbeat_unchanged_do_not_refresh():
    n = node("True", hb=T0)
    h = nl.node_health(n, lease(T0), None, T0, grace=50, startup_grace=60).health
    again = nl.node_health(n, lease(T0), h, T0 + 30, grace=50, startup_grace=60).health
    assert again.probe == T0
    newer = nl.node_health(n, lease(T0 + 10), h, T0 + 30, grace=50, startup_grace=60).health
    assert newer.probe == T0 + 30


def test_status_heartbeat_alone_refreshes_probe():
    """Without a Lease, a changed Ready lastHeartbeatTime is the signal (nodeStatusUpdateFrequency path)."""
    h = nl.node_health(node("True", hb=T0), None, None, T0, grace=50, startup_grace=60).health
    h2 = nl.node_health(node("True", hb=T0 + 40), None, h, T0 + 45, grace=50, startup_grace=60)
    assert h2.health.probe == T0 + 45 and h2.conditions is None
    h3 = nl.node_health(node("True", hb=T0 + 40), None, h2.health, T0 + 95.5, grace=50, startup_grace=60)
    assert h3.conditions is not None


def test_never_posted_status_uses_startup_grace_from_creation():
    created = T0
    n = node(None, created=created)
    n["status"] = {}
    # The probe is creationTimestamp (second precision) + 1 s, or the first sight if earlier.
    early = nl.node_health(n, None, None, created + 59, grace=50, startup_grace=60)
    assert early.conditions is None and early.current_ready is None and early.health.probe == created + 1
    assert nl.node_health(n, None, early.health, created + 61, grace=50, startup_grace=60).conditions is None
    seen_at_once = nl.node_health(n, None, None, created + 0.3, grace=50, startup_grace=60).health
    assert seen_at_once.probe == created + 0.3
    late = nl.node_health(n, None, early.health, created + 61.001, grace=50, startup_grace=60)
    types = {c["type"]: c for c in late.conditions}
    assert set(types) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert all(c["reason"] == "NodeStatusNeverUpdated" and c["message"] == "Kubelet never posted node status."
               and c["status"] == "Unknown" and c["lastHeartbeatTime"] == ts(created) for c in types.values())


def test_unknown_leaves_network_unavailable_and_already_unknown_alone():
    n = node("True", extra=[cond("NetworkUnavailable", "False", reason="RouteCreated")])
    out = nl.unknown_conditions(n["status"]["conditions"], n["metadata"]["creationTimestamp"], ts(T0 + 99))
    by = {c["type"]: c for c in out}
    assert by["NetworkUnavailable"]["status"] == "False"
    assert by["Ready"]["lastTransitionTime"] == ts(T0 + 99)
    again = nl.unknown_conditions(out, n["metadata"]["creationTimestamp"], ts(T0 + 200))
    assert again == out  # nothing changes once Unknown: no second write, no second event


def test_no_write_when_ready_already_unknown():
    n = node("Unknown", hb=T0)
    h = nl.node_health(n, None, None, T0, grace=50, startup_grace=60).health
    res = nl.node_health(n, None, h, T0 + 100, grace=50, startup_grace=60)
    assert res.conditions is None and res.current_ready["status"] == "Unknown"


# -- taints ----------------------------------------------------------------------------------------
def ns(key: str) -> dict:
    return {"key": key, "effect": "NoSchedule"}


def ne(key: str) -> dict:
    return {"key": key, "effect": "NoExecute"}


@pytest.mark.parametrize("n,add,remove", [
    (node("True"), [], []),
    (node("False"), [TAINT_NOT_READY], []),
    (node("Unknown"), [TAINT_UNREACHABLE], []),
    (node("Unknown", taints=[ns(TAINT_NOT_READY)]), [TAINT_UNREACHABLE], [TAINT_NOT_READY]),
    (node("True", taints=[ns(TAINT_UNREACHABLE), ne(TAINT_UNREACHABLE)]), [], [TAINT_UNREACHABLE]),
    (node("True", unschedulable=True), [TAINT_UNSCHEDULABLE], []),
    (node("True", taints=[ns(TAINT_UNSCHEDULABLE)]), [], [TAINT_UNSCHEDULABLE]),
    (node("True", extra=[cond("MemoryPressure", "True")]), ["node.kubernetes.io/memory-pressure"], []),
    (node("True", extra=[cond("NetworkUnavailable", "True")]), ["node.kubernetes.io/network-unavailable"], []),
    (node("True", taints=[ns("example.com/dedicated"), ns(TAINT_OUT_OF_SERVICE)]), [], []),  # not ours
])
def test_noschedule_taint_diff(n, add, remove):
    if any(c["type"] == "MemoryPressure" and c["status"] == "True" for c in n["status"]["conditions"]):
        n["status"]["conditions"] = [c for c in n["status"]["conditions"]
                                     if not (c["type"] == "MemoryPressure" and c["status"] == "False")]
    got_add, got_remove = nl.noschedule_taint_diff(n)
    assert [t["key"] for t in got_add] == add and all(t["effect"] == "NoSchedule" for t in got_add)
    assert [t["key"] for t in got_remove] == remove


@pytest.mark.parametrize("taints,status,want", [
    ([], "False", ("queue", "False", (), ())),
    ([], "Unknown", ("queue", "Unknown", (), ())),
    ([ne(TAINT_UNREACHABLE)], "False", ("swap", "", (TAINT_NOT_READY,), (TAINT_UNREACHABLE,))),
    ([ne(TAINT_NOT_READY)], "Unknown", ("swap", "", (TAINT_UNREACHABLE,), (TAINT_NOT_READY,))),
    ([ne(TAINT_UNREACHABLE)], "Unknown", ("queue", "Unknown", (), ())),
    ([ne(TAINT_UNREACHABLE)], "True", ("reachable", "", (), ())),
])
def test_taint_base_eviction(taints, status, want):
    d = nl.taint_base_eviction(node(status, taints=taints), status)
    assert (d.kind, d.status, d.add, d.remove) == want


def test_zone_key_prefers_beta_labels():
    n = node("True", labels={"failure-domain.beta.kubernetes.io/zone": "old-a",
                             "failure-domain.beta.kubernetes.io/region": "old"})
    assert zone_key(n) == "old:\x00:old-a"
    assert zone_key({"metadata": {"labels": {}}}) == ""


# -- rate limiting ----------------------------------------------------------------------------------
def test_zone_queue_taints_one_node_per_ten_seconds():
    q = nl.RateLimitedTimedQueue(0.1)
    for n in ("a", "b", "c"):
        assert q.add(n, n, T0)
    assert not q.add("a", "a", T0)  # unique until removed
    done: list[tuple[str, float]] = []

    def run(t):
        q.try_(lambda v: (done.append((v.value, t)) or True, 0.0), t)

    for t in (T0, T0 + 0.1, T0 + 5, T0 + 9.9, T0 + 10, T0 + 10.1, T0 + 20, T0 + 30):
        run(t)
    assert done == [("a", T0), ("b", T0 + 10), ("c", T0 + 20)]
    assert not q.add("a", "a", T0 + 31)  # processed values stay in the set (RemoveFromQueue)
    assert q.remove("a") and q.add("a", "a", T0 + 31)


def test_failed_try_is_retried_after_wait():
    q = nl.RateLimitedTimedQueue(10.0)
    q.add("a", "a", T0)
    calls = []
    q.try_(lambda v: (calls.append(T0) or False, 0.05), T0)
    q.try_(lambda v: (calls.append(T0 + 0.02) or True, 0.0), T0 + 0.02)  # not due yet (and a token spent)
    q.try_(lambda v: (calls.append(T0 + 0.2) or True, 0.0), T0 + 0.2)
    assert calls == [T0, T0 + 0.2] and len(q) == 0


def test_swap_limiter_to_zero_stops_and_drains():
    q = nl.RateLimitedTimedQueue(0.1)
    q.add("a", "a", T0)
    q.swap_limiter(0.0, T0)
    q.try_(lambda v: (True, 0.0), T0 + 100)
    assert len(q) == 1 and q.next_try(T0 + 100) is None
    q.swap_limiter(0.1, T0 + 100)  # the never-limiter counts as empty: the new bucket starts drained
    q.try_(lambda v: (True, 0.0), T0 + 100)
    assert len(q) == 1
    q.try_(lambda v: (True, 0.0), T0 + 110)
    assert len(q) == 0
    # An empty old bucket drains the new one (burst 1).
    q2 = nl.RateLimitedTimedQueue(0.1)
    q2.limiter.try_accept(T0)
    q2.swap_limiter(0.01, T0)
    assert not q2.limiter.try_accept(T0 + 1)


# -- zones ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("statuses,want", [
    (["True", "True", "True"], (0, nl.STATE_NORMAL)),
    (["Unknown"], (1, nl.STATE_FULL)),
    ([None, "False"], (2, nl.STATE_FULL)),
    (["Unknown", "Unknown", "True"], (2, nl.STATE_NORMAL)),  # never partial with 2 or fewer down
    (["Unknown", "Unknown", "Unknown", "True"], (3, nl.STATE_PARTIAL)),
    (["Unknown", "Unknown", "Unknown", "True", "True"], (3, nl.STATE_PARTIAL)),  # 0.6 >= 0.55
    (["Unknown", "Unknown", "Unknown", "True", "True", "True"], (3, nl.STATE_NORMAL)),  # 0.5
    ([], (0, nl.STATE_NORMAL)),
])
def test_compute_zone_state(statuses, want):
    assert nl.compute_zone_state(statuses) == want


RATES = nl.RateConfig()
A, B, C = "r:\x00:a", "r:\x00:b", "r:\x00:c"


@pytest.mark.parametrize("zones,prev,want_states,want_limiters,enter,exit_", [
    # first pass: every zone leaves Initial and gets the rate for its state
    ({A: ["True"], B: ["True"]}, {A: "Initial", B: "Initial"}, {A: "Normal", B: "Normal"},
     {A: 0.1, B: 0.1}, False, False),
    # one zone fully down in a 3-zone cluster: normal rate there (HealthyQPSFunc)
    ({A: ["Unknown"], B: ["True"], C: ["True"]}, {A: "Normal", B: "Normal", C: "Normal"},
     {A: "FullDisruption", B: "Normal", C: "Normal"}, {A: 0.1}, False, False),
    # partial disruption of a small zone (<= 50 nodes): no NoExecute tainting at all
    ({A: ["Unknown"] * 3 + ["True"], B: ["True"]}, {A: "Normal", B: "Normal"},
     {A: "PartialDisruption", B: "Normal"}, {A: 0.0}, False, False),
    # ... of a large zone: the secondary rate 0.01/s
    ({A: ["Unknown"] * 40 + ["True"] * 20, B: ["True"]}, {A: "Normal", B: "Normal"},
     {A: "PartialDisruption", B: "Normal"}, {A: 0.01}, False, False),
    # every zone fully disrupted: master disruption mode, all tainting stopped
    ({A: ["Unknown"], B: ["Unknown"], C: ["Unknown"]}, {A: "FullDisruption", B: "Normal", C: "Normal"},
     {A: "FullDisruption", B: "FullDisruption", C: "FullDisruption"}, {A: 0.0, B: 0.0, C: 0.0}, True, False),
    # stays in master disruption mode: nothing to do
    ({A: ["Unknown"], B: ["Unknown"]}, {A: "FullDisruption", B: "FullDisruption"},
     {A: "FullDisruption", B: "FullDisruption"}, {}, False, False),
    # one zone back: leave master disruption mode, rates per state
    ({A: ["True"], B: ["Unknown"]}, {A: "FullDisruption", B: "FullDisruption"},
     {A: "Normal", B: "FullDisruption"}, {A: 0.1, B: 0.1}, False, True),
    # a zone with no (counted) nodes left is forgotten
    ({A: ["True"]}, {A: "Normal", B: "Normal"}, {A: "Normal"}, {}, False, False),
])
def test_handle_disruption(zones, prev, want_states, want_limiters, enter, exit_):
    d = nl.handle_disruption(zones, prev, RATES)
    assert d.zone_states == want_states
    assert d.limiters == want_limiters
    assert (d.enter_master_disruption, d.exit_master_disruption) == (enter, exit_)


def test_single_zone_single_node_cluster_is_master_disruption():
    """NL-06: a 1-node cluster whose node dies is never tainted NoExecute."""
    d = nl.handle_disruption({A: ["Unknown"]}, {A: "Normal"}, RATES)
    assert d.enter_master_disruption and d.limiters == {A: 0.0}


# -- the node lifecycle loop with a fake clock --------------------------------------------------------
class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def loop(tmp_path):
    """An unstarted cluster (no threads): its Api, nodes registered, and a NodeLifecycleController."""
    c = Cluster("unit", zones=["us-east-1a", "us-east-1b"], nodes_per_zone=2)
    c._bootstrap()  # registers the Nodes; no kubelet runs here, so post a Ready status for each
    for e in c.store.list("nodes")[0]:
        def ready(cur):
            cur["status"] = {**(cur.get("status") or {}), "conditions": [
                cond("MemoryPressure", "False"), cond("DiskPressure", "False"), cond("PIDPressure", "False"),
                cond("Ready", "True", reason="KubeletReady")]}
            return cur
        c.api.update_status(c.api.rt("nodes"), None, e.name, ready, manager="kubelet")
    ctx = ControllerContext(api=c.api, timings=for_profile("upstream"))
    ctrl = nl.NodeLifecycleController(ctx)
    fc = FakeClock(T0)
    ctrl.now = fc
    yield c, ctrl, fc
    c.stop()


def _renew(c, name, t):
    rt = c.api.rt("coordination.k8s.io/leases")
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": ts(t, micro=True)}}
    if c.store.get(rt.key, "kube-node-lease", name) is None:
        c.api.create(rt, "kube-node-lease", body, Request(field_manager="kubelet"))
    else:
        c.api.mutate(rt, "kube-node-lease", name, lambda cur: {**cur, "spec": body["spec"]}, manager="kubelet")


def _node(c, name):
    return c.api.get(c.api.rt("nodes"), None, name)


def _ready(c, name):
    return next(x for x in _node(c, name)["status"]["conditions"] if x["type"] == "Ready")["status"]


def _taints(c, name, effect=None):
    return sorted(t["key"] for t in _node(c, name)["spec"].get("taints") or []
                  if effect is None or t["effect"] == effect)


def _events(c, reason):
    return [e.obj()["message"] for e in c.store.list("events")[0] if e.obj()["reason"] == reason]


def _run(c, ctrl, fc, until, alive):
    """Monitor passes every 5 s (plus the NoSchedule pass on every node) up to ``until``; alive nodes renew."""
    while fc.t <= until:
        for n in alive:
            _renew(c, n, fc.t)
        ctrl.monitor_node_health()
        for e in c.store.list("nodes")[0]:
            ctrl.no_schedule_tainting_pass(e.name)
        fc.t += 5.0


def test_loop_one_node_dies_in_a_zone(loop):
    c, ctrl, fc = loop
    names = sorted(e.name for e in c.store.list("nodes")[0])
    dead = names[0]
    _run(c, ctrl, fc, T0, names)
    assert len(_events(c, "RegisteredNode")) == 4
    assert f"Node {dead} event: Registered Node {dead} in Controller" in _events(c, "RegisteredNode")
    alive = names[1:]
    _run(c, ctrl, fc, T0 + 50, alive)
    assert _ready(c, dead) == "True"
    _run(c, ctrl, fc, T0 + 55, alive)   # probe T0 (its last renewal seen at T0): > T0+50
    assert _ready(c, dead) == "Unknown"
    assert _events(c, "NodeNotReady") == [f"Node {dead} status is now: NodeNotReady"]
    assert _taints(c, dead) == [TAINT_UNREACHABLE]  # NoSchedule at once; NoExecute from the next pass
    _run(c, ctrl, fc, T0 + 60, alive)
    assert _taints(c, dead, "NoExecute") == [TAINT_UNREACHABLE]
    taint = next(t for t in _node(c, dead)["spec"]["taints"] if t["effect"] == "NoExecute")
    assert taint["timeAdded"]
    # back: lease renewed and the kubelet posts Ready -> all node-controller taints removed
    def ready(cur):
        for x in cur["status"]["conditions"]:
            x.update(status="True" if x["type"] == "Ready" else "False", lastHeartbeatTime=ts(fc.t))
            x.pop("reason", None)
        return cur
    c.api.update_status(c.api.rt("nodes"), None, dead, ready, manager="kubelet")
    _run(c, ctrl, fc, T0 + 65, names)
    assert _taints(c, dead) == []


def test_loop_second_node_in_zone_is_rate_limited(loop):
    c, ctrl, fc = loop
    names = sorted(e.name for e in c.store.list("nodes")[0])
    zone_a = [n for n in names if "1a" in n]
    _run(c, ctrl, fc, T0, names)
    survivors = [n for n in names if n not in zone_a]
    _run(c, ctrl, fc, T0 + 60, survivors)  # both zone-a nodes Unknown at T0+55, queued at T0+60
    tainted = [n for n in zone_a if TAINT_UNREACHABLE in _taints(c, n, "NoExecute")]
    # Zone a is fully disrupted but zone b is fine: normal rate, 0.1 nodes/s, burst 1.
    assert ctrl.zone_states[zone_key(_node(c, zone_a[0]))] == nl.STATE_FULL
    assert len(tainted) == 1
    fc.t = T0 + 69.9
    ctrl.no_execute_tainting_pass()
    assert len([n for n in zone_a if TAINT_UNREACHABLE in _taints(c, n, "NoExecute")]) == 1
    fc.t = T0 + 70.0
    ctrl.no_execute_tainting_pass()
    assert all(TAINT_UNREACHABLE in _taints(c, n, "NoExecute") for n in zone_a)


def test_loop_all_zones_down_removes_no_execute_taints(loop):
    c, ctrl, fc = loop
    names = sorted(e.name for e in c.store.list("nodes")[0])
    zone_a = [n for n in names if "1a" in n]
    _run(c, ctrl, fc, T0, names)
    _run(c, ctrl, fc, T0 + 60, [n for n in names if n not in zone_a])
    assert any(_taints(c, n, "NoExecute") for n in zone_a)
    _run(c, ctrl, fc, T0 + 200, [])  # now every node stops
    assert all(_ready(c, n) == "Unknown" for n in names)
    assert all(_taints(c, n, "NoExecute") == [] for n in names)  # master disruption mode
    assert all(_taints(c, n, "NoSchedule") == [TAINT_UNREACHABLE] for n in names)
    assert set(ctrl.zone_states.values()) == {nl.STATE_FULL}


def test_loop_marks_pods_not_ready_once(loop):
    c, ctrl, fc = loop
    names = sorted(e.name for e in c.store.list("nodes")[0])
    dead = names[0]
    pods = c.api.rt("pods")
    c.api.create(pods, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                   "spec": {"nodeName": dead, "containers": [{"name": "c", "image": "busybox"}]}},
                 Request(field_manager="t"))

    def running(cur):
        cur["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": ts(T0)},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": ts(T0)}]}
        return cur

    c.api.update_status(pods, "default", "p", running, manager="kubelet")
    _run(c, ctrl, fc, T0, names)
    _run(c, ctrl, fc, T0 + 80, names[1:])
    p = c.api.get(pods, "default", "p")
    by = {x["type"]: x["status"] for x in p["status"]["conditions"]}
    assert by == {"Ready": "False", "ContainersReady": "True"} and p["status"]["phase"] == "Running"
    assert _events(c, "NodeNotReady").count("Node is not ready") == 1
    ev = next(e.obj() for e in c.store.list("events")[0] if e.obj()["message"] == "Node is not ready")
    assert ev["type"] == "Warning" and ev["involvedObject"]["kind"] == "Pod"
    assert ev["source"] == {"component": "node-controller"}


# -- taint eviction ----------------------------------------------------------------------------------
DEFAULT_TOLS = [{"key": TAINT_NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": TAINT_UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]


@pytest.mark.parametrize("tol,taint,want", [
    ({"operator": "Exists"}, ne("k"), True),
    ({"key": "k", "operator": "Exists"}, ne("k"), True),
    ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, ne("k"), False),
    ({"key": "k", "value": "v"}, {**ne("k"), "value": "v"}, True),
    ({"key": "k", "value": "v"}, ne("k"), False),
    ({"key": "k", "operator": "Equal"}, ne("k"), True),
    ({"key": "other", "operator": "Exists"}, ne("k"), False),
])
def test_tolerates(tol, taint, want):
    assert tolerates(tol, taint) is want


@pytest.mark.parametrize("taints,tols,existing,want", [
    # untolerated: cancel anything scheduled and delete now
    ([ne(TAINT_OUT_OF_SERVICE)], DEFAULT_TOLS, None, [("cancel",), ("schedule", T0, T0)]),
    ([ne(TAINT_UNREACHABLE)], [], None, [("cancel",), ("schedule", T0, T0)]),
    # tolerated for 300 s (the default tolerations)
    ([ne(TAINT_UNREACHABLE)], DEFAULT_TOLS, None, [("schedule", T0, T0 + 300)]),
    # the minimum of the tolerations used, one per taint (the first that matches)
    ([ne(TAINT_UNREACHABLE), ne("x")],
     DEFAULT_TOLS + [{"key": "x", "operator": "Exists", "tolerationSeconds": 60}], None,
     [("schedule", T0, T0 + 60)]),
    ([ne(TAINT_UNREACHABLE)],
     [{"operator": "Exists"}, {"key": TAINT_UNREACHABLE, "operator": "Exists", "tolerationSeconds": 5}], None,
     [("cancel",)]),  # the catch-all toleration is used first: forever
    # no tolerationSeconds: forever, and a scheduled deletion is cancelled
    ([ne(TAINT_UNREACHABLE)], [{"key": TAINT_UNREACHABLE, "operator": "Exists"}],
     te.Scheduled(T0 - 10, T0 + 290), [("cancel",)]),
    # zero or negative seconds: now
    ([ne(TAINT_UNREACHABLE)], [{"key": TAINT_UNREACHABLE, "operator": "Exists", "tolerationSeconds": 0}], None,
     [("schedule", T0, T0)]),
    ([ne(TAINT_UNREACHABLE)], [{"key": TAINT_UNREACHABLE, "operator": "Exists", "tolerationSeconds": -5}], None,
     [("schedule", T0, T0)]),
    # already scheduled earlier (e.g. not-ready swapped to unreachable): keep its time
    ([ne(TAINT_UNREACHABLE)], DEFAULT_TOLS, te.Scheduled(T0 - 100, T0 + 200), []),
    # taints gone
    ([], DEFAULT_TOLS, te.Scheduled(T0 - 100, T0 + 200), [("cancel",)]),
])
def test_plan_pod(taints, tols, existing, want):
    got = []
    for a in te.plan_pod(taints, tols, T0, existing):
        got.append(("cancel",) if isinstance(a, te.Cancel) else ("schedule", a.created, a.fire_at))
    assert got == want


def test_matching_tolerations_first_match_only():
    ok, used = matching_tolerations([ne("a"), ne("b")], [{"operator": "Exists", "tolerationSeconds": 7},
                                                         {"key": "b", "operator": "Exists", "tolerationSeconds": 1}])
    assert ok and [u["tolerationSeconds"] for u in used] == [7, 7]
    assert te.min_toleration_time(used) == 7
    assert te.min_toleration_time([]) == 0
    assert te.min_toleration_time([{"operator": "Exists"}]) == -1


def test_event_texts():
    assert te.eviction_message("default", "web-1") == "Marking for deletion Pod default/web-1"
    assert te.cancel_message("default", "web-1") == "Cancelling deletion of Pod default/web-1"
    assert te.DISRUPTION_CONDITION == {"type": "DisruptionTarget", "status": "True",
                                       "reason": "DeletionByTaintManager",
                                       "message": "Taint manager: deleting due to NoExecute taint"}


def test_update_pod_condition_keeps_transition_time_when_status_holds():
    st = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ts(T0)}]}
    assert update_pod_condition(st, {"type": "Ready", "status": "False"}, ts(T0 + 5))
    assert st["conditions"][0]["lastTransitionTime"] == ts(T0 + 5)
    assert not update_pod_condition(st, {"type": "Ready", "status": "False"}, ts(T0 + 9))
    assert update_pod_condition(st, te.DISRUPTION_CONDITION, ts(T0 + 9))
    assert not update_pod_condition(st, te.DISRUPTION_CONDITION, ts(T0 + 19))


# -- pod GC ----------------------------------------------------------------------------------------
def pod(name, node_name="n1", phase="Running", deleting=False, created=T0, reason=None, uid=None):
    p = {"metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}",
                      "creationTimestamp": ts(created)},
         "spec": {"nodeName": node_name} if node_name else {}, "status": {"phase": phase}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(created + 1)
        p["metadata"]["deletionGracePeriodSeconds"] = 30
    if reason:
        p["status"]["reason"] = reason
    return p


def gnode(name, ready="True", taints=()):
    n = node(ready, taints=[dict(t) for t in taints])
    n["metadata"]["name"] = name
    return n


def test_gc_terminated_over_threshold_evicted_then_oldest():
    pods = [pod("a", phase="Succeeded", created=T0 + 3), pod("b", phase="Failed", created=T0 + 1),
            pod("c", phase="Failed", created=T0 + 5, reason="Evicted"), pod("d", phase="Failed", created=T0 + 1),
            pod("e", phase="Running", created=T0), pod("f", phase="Pending"), pod("g", phase="Unknown")]
    got = podgc.gc_terminated(pods, threshold=2)
    assert [c.name for c in got] == ["c", "b"]
    assert podgc.gc_terminated(pods, threshold=4) == []
    assert podgc.gc_terminated(pods, threshold=0) == []


@pytest.mark.parametrize("n,want", [
    (gnode("n1", "Unknown", [ne(TAINT_OUT_OF_SERVICE)]), ["t"]),
    (gnode("n1", "False", [{"key": TAINT_OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoSchedule"}]), ["t"]),
    (gnode("n1", "True", [ne(TAINT_OUT_OF_SERVICE)]), []),  # Ready: leave it to the kubelet
    (gnode("n1", "Unknown"), []),  # no out-of-service taint: stays Terminating (NL-09)
])
def test_gc_terminating_out_of_service(n, want):
    pods = [pod("t", deleting=True), pod("r")]
    got = podgc.gc_terminating(pods, {"n1": n})
    assert [c.name for c in got] == want
    assert all(c.condition is None for c in got)


def test_gc_orphaned_quarantine_then_live_get():
    pods = [pod("o1", node_name="gone"), pod("o2", node_name="gone"), pod("k", node_name="n1")]
    nodes = [gnode("n1")]
    exists = {"gone": False}
    q: dict = {}
    acts, q = podgc.gc_pass(pods, nodes, q, T0, quarantine_time=40, node_exists=exists.get)
    assert acts == [] and q == {"gone": T0 + 40}
    acts, q = podgc.gc_pass(pods, nodes, q, T0 + 20, quarantine_time=40, node_exists=exists.get)
    assert acts == [] and q == {"gone": T0 + 40}  # adding again never postpones
    acts, q = podgc.gc_pass(pods, nodes, q, T0 + 40.01, quarantine_time=40, node_exists=exists.get)
    assert [a.name for a in acts] == ["o1", "o2"]
    assert all(a.condition == {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                               "message": "PodGC: node no longer exists"} for a in acts)
    assert q == {"gone": T0 + 80.01}  # the pods are still listed in this pass: quarantined again


@pytest.mark.parametrize("live", [True, None])
def test_gc_orphaned_node_back_or_get_failed(live):
    pods = [pod("o1", node_name="late")]
    _, q = podgc.gc_pass(pods, [], {}, T0, quarantine_time=40, node_exists=lambda n: live)
    acts, q = podgc.gc_pass(pods, [], q, T0 + 41, quarantine_time=40, node_exists=lambda n: live)
    assert acts == []


def test_gc_unscheduled_terminating():
    pods = [pod("u", node_name="", deleting=True), pod("p", node_name=""), pod("s", deleting=True)]
    assert [c.name for c in podgc.gc_unscheduled_terminating(pods)] == ["u"]


def test_gc_pass_order():
    pods = [pod("term", phase="Failed"), pod("oos", node_name="down", deleting=True),
            pod("orph", node_name="gone"), pod("uns", node_name="", deleting=True)]
    nodes = [gnode("down", "Unknown", [ne(TAINT_OUT_OF_SERVICE)])]
    acts, _ = podgc.gc_pass(pods, nodes, {"gone": T0 - 1}, T0, threshold=0, node_exists=lambda n: False)
    assert [(a.name, a.reason) for a in acts] == [("oos", podgc.REASON_OUT_OF_SERVICE),
                                                  ("orph", podgc.REASON_ORPHANED),
                                                  ("uns", podgc.REASON_UNSCHEDULED)]


def test_loop_excluded_nodes_do_not_count_for_disruption(loop):
    """``node.kubernetes.io/exclude-disruption``: zone b's nodes are left out of the zone counts, so
    when zone a dies every *counted* zone is fully disrupted: master disruption mode, no NoExecute."""
    c, ctrl, fc = loop
    names = sorted(e.name for e in c.store.list("nodes")[0])
    zone_b = [n for n in names if "1b" in n]
    for n in zone_b:
        c.api.mutate(c.api.rt("nodes"), None, n,
                     lambda cur: {**cur, "metadata": {**cur["metadata"], "labels": {
                         **cur["metadata"]["labels"], nl.LABEL_EXCLUDE_DISRUPTION: ""}}}, manager="admin")
    _run(c, ctrl, fc, T0, names)
    _run(c, ctrl, fc, T0 + 80, zone_b)
    zone_a = [n for n in names if n not in zone_b]
    assert all(_ready(c, n) == "Unknown" for n in zone_a)
    assert all(_taints(c, n, "NoExecute") == [] for n in zone_a)
    assert list(ctrl.zone_states.values()) == [nl.STATE_FULL]
