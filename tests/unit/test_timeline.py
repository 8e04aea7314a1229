"""The timeline's decision functions (which change, which source) and the Timeline container (pure)."""

from __future__ import annotations

import json
from typing import Any

from kubekit import timeline as tl
from kubekit.timeline import Entry, LeaseTracker, Timeline


def node(name: str = "n1", ready: str = "True", reason: str = "", taints: list[dict[str, Any]] | None = None,
         provider: str = "aws:///us-east-1a/i-1", unschedulable: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "us-east-1a"}},
            "spec": {"providerID": provider, "taints": taints or [], "unschedulable": unschedulable},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason}]}}


def pod(name: str = "web-0", *, owner: str = "StatefulSet", node_name: str = "n1", phase: str = "Running",
        ready: str = "True", ready_reason: str = "", deleting: bool = False, disruption: str = "") -> dict[str, Any]:
    conds = [{"type": "Ready", "status": ready, **({"reason": ready_reason} if ready_reason else {})}]
    if disruption:
        conds.append({"type": "DisruptionTarget", "status": "True", "reason": disruption, "message": "m"})
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": "u1",
                            "ownerReferences": [{"kind": owner, "name": "web", "controller": True}] if owner else []}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        meta["deletionGracePeriodSeconds"] = 30
    return {"metadata": meta, "spec": {"nodeName": node_name},
            "status": {"phase": phase, "conditions": conds}}


def whats(changes: list[tl.Change]) -> list[tuple[str, str]]:
    return [(c.source, c.what) for c in changes]


# -- nodes ---------------------------------------------------------------------------------------

def test_ready_unknown_is_the_node_lifecycle_controller_and_ready_true_the_kubelet() -> None:
    assert whats(tl.node_changes(node(), node(ready="Unknown", reason="NodeStatusUnknown"))) == [
        ("node-lifecycle-controller", "node-not-ready")]
    assert whats(tl.node_changes(node(ready="Unknown"), node())) == [("kubelet", "node-ready")]
    assert whats(tl.node_changes(node(), node(ready="False", reason="KubeletNotReady"))) == [
        ("kubelet", "node-not-ready")]


def test_taints_are_attributed_by_key() -> None:
    taints = [{"key": tl.TAINT_UNREACHABLE, "effect": "NoExecute"},
              {"key": tl.TAINT_SHUTDOWN, "effect": "NoSchedule"},
              {"key": tl.TAINT_OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}]
    changes = tl.node_changes(node(ready="Unknown"), node(ready="Unknown", taints=taints))
    by_key = {c.fields["key"]: c for c in changes}
    assert by_key[tl.TAINT_UNREACHABLE].source == "node-lifecycle-controller"
    assert by_key[tl.TAINT_SHUTDOWN].source == "cloud-node-lifecycle-controller"
    assert by_key[tl.TAINT_OUT_OF_SERVICE].source == "user"
    assert by_key[tl.TAINT_OUT_OF_SERVICE].detail == "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"
    removed = tl.node_changes(node(taints=taints), node())
    assert {c.what for c in removed} == {"taint-removed"} and len(removed) == 3


def test_node_deletion_and_cordon() -> None:
    assert whats(tl.node_changes(node(ready="Unknown"), None)) == [("cloud-node-lifecycle-controller", "node-deleted")]
    assert whats(tl.node_changes(node(), None)) == [("apiserver", "node-deleted")]
    assert whats(tl.node_changes(node(), node(unschedulable=True))) == [("user", "cordoned")]
    assert whats(tl.node_changes(None, node())) == [("kubelet", "node-registered")]


# -- pods ----------------------------------------------------------------------------------------

def test_pod_creation_is_the_owners_controller_and_binding_the_scheduler() -> None:
    fresh = pod(node_name="", phase="Pending", ready="False")
    assert whats(tl.pod_changes(None, fresh)) == [("statefulset-controller", "pod-created")]
    assert tl.pod_changes(None, pod(owner="ReplicaSet"))[0].fields["owner"] == "ReplicaSet/web"
    assert whats(tl.pod_changes(fresh, {**fresh, "spec": {"nodeName": "n2"}})) == [("scheduler", "pod-scheduled")]
    assert whats(tl.pod_changes(None, pod(owner=""))) == [("user", "pod-created")]


def test_ready_false_without_a_reason_is_mark_pods_not_ready() -> None:
    assert whats(tl.pod_changes(pod(), pod(ready="False"))) == [("node-lifecycle-controller", "pod-not-ready")]
    assert whats(tl.pod_changes(pod(), pod(ready="False", ready_reason="ContainersNotReady"))) == [
        ("kubelet", "pod-not-ready")]


def test_eviction_by_the_taint_manager() -> None:
    before = pod(ready="False")
    after = pod(ready="False", deleting=True, disruption="DeletionByTaintManager")
    assert whats(tl.pod_changes(before, after)) == [("taint-eviction-controller", "disruption-target"),
                                                   ("taint-eviction-controller", "pod-terminating")]


def test_who_finished_a_deletion() -> None:
    terminating = pod(deleting=True, disruption="DeletionByTaintManager")
    up, down = node(), node(ready="Unknown")
    oos = node(ready="Unknown", taints=[{"key": tl.TAINT_OUT_OF_SERVICE, "effect": "NoExecute"}])
    assert whats(tl.pod_changes(terminating, None, up, True)) == [("kubelet", "pod-deleted")]
    failed = pod(deleting=True, phase="Failed", disruption="DeletionByTaintManager")
    assert whats(tl.pod_changes(failed, None, oos, True)) == [("pod-garbage-collector", "pod-deleted")]
    assert whats(tl.pod_changes(pod(phase="Failed", disruption="DeletionByPodGC"), None, None, True)) == [
        ("pod-garbage-collector", "pod-deleted")]
    assert whats(tl.pod_changes(terminating, None, down, True)) == [("apiserver", "pod-deleted")]
    assert whats(tl.pod_changes(pod(), None, up, True)) == [("apiserver", "pod-deleted")]
    assert whats(tl.pod_changes(terminating, failed, oos, True)) == [("pod-garbage-collector", "pod-phase")]


# -- claims, attachments, events -----------------------------------------------------------------

def test_claims_and_attachments() -> None:
    pvc = {"metadata": {"name": "data-web-0", "namespace": "ns"}, "spec": {}, "status": {"phase": "Pending"}}
    bound = {**pvc, "spec": {"volumeName": "pv-1"}, "status": {"phase": "Bound"}}
    assert whats(tl.pvc_changes(pvc, bound)) == [("persistentvolume-controller", "pvc-bound")]
    va = {"metadata": {"name": "csi-1"}, "spec": {"nodeName": "n1", "source": {"persistentVolumeName": "pv-1"}},
          "status": {"attached": False}}
    attached = {**va, "status": {"attached": True}}
    detaching = {**attached, "metadata": {"name": "csi-1", "deletionTimestamp": "x"}}
    assert whats(tl.attachment_changes(None, va)) == [("attachdetach-controller", "volume-attach-requested")]
    assert whats(tl.attachment_changes(va, attached)) == [("csi-attacher", "volume-attached")]
    assert whats(tl.attachment_changes(attached, detaching)) == [("attachdetach-controller", "volume-detach-requested")]
    gone = tl.attachment_changes(detaching, None)
    assert whats(gone) == [("attachdetach-controller", "volume-detached")]
    assert gone[0].fields == {"node": "n1", "pv": "pv-1"}


def test_events_take_their_source_from_the_reporting_component() -> None:
    ev = {"involvedObject": {"kind": "Node", "name": "n1"}, "reason": "NodeNotReady", "message": "m",
          "type": "Normal", "count": 1, "source": {"component": "node-controller"}}
    ch = tl.event_change(None, ev)
    assert ch is not None
    assert (ch.source, ch.what, ch.object) == ("node-lifecycle-controller", "NodeNotReady", "node/n1")
    assert tl.event_change(ev, dict(ev)) is None  # an update that is not a repeat
    again = tl.event_change(ev, {**ev, "count": 2})
    assert again is not None and again.fields["count"] == 2
    assert tl.source_of_event({"reportingComponent": "default-scheduler"}) == "scheduler"
    assert tl.source_of_event({"source": {"component": "kubelet", "host": "n1"}}) == "kubelet"
    assert tl.source_of_event({"reportingComponent": "ebs.csi.aws.com_ebs-csi-controller-x"}) == "ebs-csi-controller"
    pod_ev = {**ev, "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "ns"},
              "reportingComponent": "taint-eviction-controller"}
    assert tl.event_change(None, pod_ev).object == "pod/ns/web-0"  # type: ignore[union-attr]


def test_instance_transitions() -> None:
    a = {"i-1": {"State": {"Name": "running"}, "Placement": {"AvailabilityZone": "us-east-1a"},
                 "PrivateDnsName": "n1"}}
    b = {"i-1": {**a["i-1"], "State": {"Name": "stopped"}}}
    ch = tl.instance_changes(a, b)
    assert whats(ch) == [("aws", "instance-stopped")]
    assert ch[0].fields["node"] == "n1" and ch[0].fields["previous"] == "running"
    assert tl.instance_changes(a, a) == []
    assert whats(tl.instance_changes(a, {})) == [("aws", "instance-gone")]


# -- leases: only gaps and resumptions -----------------------------------------------------------

def test_lease_renewals_are_recorded_only_as_gaps() -> None:
    lt = LeaseTracker(min_gap=0.05)
    out = []
    for i in range(10):  # renewals every 0.1 s: nothing recorded
        out += lt.renewed("n1", f"r{i}", 100.0 + i * 0.1)
        out += lt.check(100.0 + i * 0.1 + 0.05)
    assert out == []
    stopped = lt.check(101.5)  # silent for > 3 intervals
    assert [(at, c.what) for at, c in stopped] == [(100.9, "lease-renewals-stopped")]
    assert lt.check(102.0) == []  # once
    resumed = lt.renewed("n1", "r-new", 105.0)
    assert [c.what for _, c in resumed] == ["lease-renewals-resumed"]
    assert resumed[0][1].fields["gap"] == round(105.0 - 100.9, 3)


def test_a_gap_seen_only_at_the_next_renewal_is_recorded_as_both() -> None:
    lt = LeaseTracker(min_gap=0.05)
    for i in range(5):
        lt.renewed("n1", f"r{i}", 10.0 + i)
    out = lt.renewed("n1", "late", 30.0)
    assert [(at, c.what) for at, c in out] == [(14.0, "lease-renewals-stopped"), (30.0, "lease-renewals-resumed")]


# -- the container -------------------------------------------------------------------------------

def test_timeline_entries_sorted_with_t_relative_to_t0_and_json_round_trip() -> None:
    clock = iter([10.0, 11.0, 12.0, 13.0])
    t = Timeline(clock=lambda: next(clock))
    t.add("ledger", "write-failed", "k1", time=12.5)
    t.mark("stop i-1", t0=True)                        # 10.0
    t.add("federation", "member-not-ready", "east", cluster="east", object="cluster/east")  # 11.0
    t.mark("start i-1", kind="recovery")               # 12.0
    es = t.entries()
    assert [e.what for e in es] == ["fault", "member-not-ready", "recovery", "write-failed"]
    assert [e.t for e in es] == [0.0, 1.0, 2.0, 2.5]
    assert t.t0 == 10.0 and [m.detail for m in t.marks()] == ["stop i-1", "start i-1"]
    assert [e.what for e in t.entries(source="federation")] == ["member-not-ready"]
    assert [e.what for e in t.since(11.5)] == ["recovery", "write-failed"]
    assert t.first("member-not-ready", object="cluster/") is not None
    back = Timeline.from_dict(json.loads(t.to_json()))
    assert [(e.time, e.source, e.what, e.t) for e in back.entries()] == [(e.time, e.source, e.what, e.t) for e in es]
    text = t.table()
    assert text.splitlines()[0].split() == ["T", "SOURCE", "CLUSTER", "OBJECT", "WHAT", "DETAIL"]
    assert "+2.50" in text


def test_entry_round_trip() -> None:
    e = Entry(1.5, "aws", "us-east-1", "instance/i-1", "instance-stopped", "running -> stopped", {"zone": "a"})
    d = e.to_dict()
    assert set(d) == {"time", "source", "cluster", "object", "what", "detail", "fields", "t"}
    assert Entry.from_dict(d) == e


def test_an_expired_lease_is_flagged_when_the_node_goes_unknown_before_the_gap_check() -> None:
    lt = LeaseTracker(min_gap=0.05)
    for i in range(5):  # renewals every 1 s, stretched by a busy machine: the threshold is 3 x interval
        lt.renewed("n1", f"r{i}", 10.0 + i * 1.4)
    last = 10.0 + 4 * 1.4
    assert lt.check(last + 2.0) == []  # the controller's grace is shorter than the tracker's threshold
    flagged = lt.expired("n1")
    assert [(at, c.what, c.object) for at, c in flagged] == [(last, "lease-renewals-stopped", "node/n1")]
    assert lt.expired("n1") == [] and lt.check(last + 10.0) == []  # once
    assert lt.expired("unknown-node") == []
