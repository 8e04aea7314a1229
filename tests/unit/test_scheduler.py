"""kube-scheduler's decisions (kubesim.scheduler), table-driven: filters, messages, volumes, spread, scoring."""

from __future__ import annotations

import copy
import random

import pytest

from kubesim.api import Api, Request
from kubesim.controllers.scheduler import backoff, wants_scheduling
from kubesim.errors import ApiError, Conflict, NotFound
from kubesim.resources import Registry
from kubesim.scheduler import Snapshot, failure_message, filter_nodes, schedule, select_host
from kubesim.scheduler import messages as m
from kubesim.scheduler.binding import bind_pod
from kubesim.schemas import SchemaSet
from kubesim.store import Store

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def node(name, zone="z1", cpu="2", memory="4Gi", pods="110", labels=None, taints=None, unschedulable=False,
         **alloc):
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "labels": {ZONE: zone, HOST: name, **(labels or {})}},
         "spec": {}, "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **alloc}}}
    if taints:
        n["spec"]["taints"] = taints
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def pod(name="p", ns="default", cpu=None, memory=None, labels=None, **spec):
    req = {}
    if cpu:
        req["cpu"] = cpu
    if memory:
        req["memory"] = memory
    c = {"name": "c", "image": "nginx", "resources": {"requests": req} if req else {}}
    s = {"containers": [c], "schedulerName": "default-scheduler", **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": s, "status": {"phase": "Pending"}}


def taint(key, value="", effect="NoSchedule"):
    t = {"key": key, "effect": effect}
    if value:
        t["value"] = value
    return t


def reasons_on(p, n, existing=(), version=(1, 33), **kw):
    feasible, res = filter_nodes(p, [n], {n["metadata"]["name"]: list(existing)}, version=version, **kw)
    return res.reasons.get(n["metadata"]["name"], ())


UNREACHABLE = taint("node.kubernetes.io/unreachable")


# -- one filter at a time ----------------------------------------------------------------------------
@pytest.mark.parametrize("case,n,p,want", [
    ("fits", node("n"), pod(), ()),
    ("cordoned", node("n", unschedulable=True), pod(), (m.NODE_UNSCHEDULABLE,)),
    ("cordoned, tolerated", node("n", unschedulable=True),
     pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]), ()),
    # SC-01: the first failing filter wins: a cordoned node with taints reports only "were unschedulable".
    ("cordoned and tainted", node("n", unschedulable=True, taints=[
        taint("node.kubernetes.io/unschedulable"), UNREACHABLE]), pod(), (m.NODE_UNSCHEDULABLE,)),
    ("NoSchedule taint", node("n", taints=[taint("dedicated", "gpu")]), pod(),
     ("node(s) had untolerated taint {dedicated: gpu}",)),
    ("empty taint value", node("n", taints=[UNREACHABLE]), pod(),
     ("node(s) had untolerated taint {node.kubernetes.io/unreachable: }",)),
    ("NoExecute taint", node("n", taints=[taint("k", "v", "NoExecute")]), pod(),
     ("node(s) had untolerated taint {k: v}",)),
    ("PreferNoSchedule only scores", node("n", taints=[taint("k", "v", "PreferNoSchedule")]), pod(), ()),
    ("first untolerated taint in node order", node("n", taints=[taint("a", "1"), taint("b", "2")]),
     pod(tolerations=[{"key": "a", "operator": "Equal", "value": "1"}]), ("node(s) had untolerated taint {b: 2}",)),
    ("Exists tolerates any value", node("n", taints=[taint("k", "v")]),
     pod(tolerations=[{"key": "k", "operator": "Exists"}]), ()),
    ("Equal with another value", node("n", taints=[taint("k", "v")]),
     pod(tolerations=[{"key": "k", "operator": "Equal", "value": "w"}]), ("node(s) had untolerated taint {k: v}",)),
    ("empty operator means Equal", node("n", taints=[taint("k", "v")]),
     pod(tolerations=[{"key": "k", "value": "v"}]), ()),
    ("effect must match", node("n", taints=[taint("k", "v", "NoExecute")]),
     pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]),
     ("node(s) had untolerated taint {k: v}",)),
    ("empty key with Exists tolerates everything", node("n", taints=[taint("k", "v"), UNREACHABLE]),
     pod(tolerations=[{"operator": "Exists"}]), ()),
    ("nodeSelector", node("n"), pod(nodeSelector={"disk": "ssd"}), (m.NODE_AFFINITY,)),
    ("nodeSelector matches", node("n", labels={"disk": "ssd"}), pod(nodeSelector={"disk": "ssd"}), ()),
    ("required affinity NotIn", node("n", zone="z1"), pod(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "NotIn", "values": ["z1"]}]}]}}}), (m.NODE_AFFINITY,)),
    ("required affinity terms are ORed", node("n", zone="z1"), pod(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["z9"]}]},
            {"matchExpressions": [{"key": ZONE, "operator": "Exists"}]}]}}}), ()),
    ("required affinity Gt", node("n", labels={"gen": "5"}), pod(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["6"]}]}]}}}), (m.NODE_AFFINITY,)),
    ("matchFields metadata.name (DaemonSet pods)", node("n"), pod(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}]}]}}}),
     (m.NODE_AFFINITY,)),
    ("taints are checked before affinity", node("n", taints=[taint("k")]), pod(nodeSelector={"x": "y"}),
     ("node(s) had untolerated taint {k: }",)),
    ("cpu", node("n", cpu="1"), pod(cpu="1500m"), ("Insufficient cpu",)),
    ("cpu and memory on one node", node("n", cpu="1", memory="1Gi"), pod(cpu="2", memory="2Gi"),
     ("Insufficient cpu", "Insufficient memory")),
    ("extended resource", node("n"), {**pod(), "spec": {"containers": [
        {"name": "c", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}},
     ("Insufficient nvidia.com/gpu",)),
    ("no allocatable pods", node("n", pods="0"), pod(), (m.TOO_MANY_PODS,)),
])
def test_filter_reasons(case, n, p, want):
    assert reasons_on(p, n) == want, case


def test_resources_count_bound_and_terminating_pods_but_not_finished_ones():
    n = node("n", cpu="2")
    running = pod("a", cpu="1500m")
    assert reasons_on(pod(cpu="1"), n, [running]) == ("Insufficient cpu",)
    terminating = copy.deepcopy(running)
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert reasons_on(pod(cpu="1"), n, [terminating]) == ("Insufficient cpu",)
    done = copy.deepcopy(running)
    done["status"]["phase"] = "Succeeded"
    assert reasons_on(pod(cpu="1"), n, [done]) == ()


def test_pod_count_limit():
    n = node("n", pods="2")
    assert reasons_on(pod(), n, [pod("a"), pod("b")]) == (m.TOO_MANY_PODS,)
    assert reasons_on(pod(), n, [pod("a")]) == ()


def test_init_containers_take_the_max_and_sidecars_add_up():
    n = node("n", cpu="2")
    p = pod(cpu="500m")
    p["spec"]["initContainers"] = [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "1800m"}}}]
    assert reasons_on(p, n) == ()
    p["spec"]["initContainers"][0]["resources"]["requests"]["cpu"] = "2100m"
    assert reasons_on(p, n) == ("Insufficient cpu",)
    s = pod(cpu="1500m")
    s["spec"]["initContainers"] = [{"name": "side", "image": "x", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "600m"}}}]
    assert reasons_on(s, n) == ("Insufficient cpu",)


def test_host_ports_conflict():
    n = node("n")
    hp = {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
    p1, p2 = pod("a"), pod("b")
    p1["spec"].update(copy.deepcopy(hp))
    p2["spec"].update(copy.deepcopy(hp))
    assert reasons_on(p2, n, [p1]) == (m.NODE_PORTS,)
    p2["spec"]["containers"][0]["ports"][0]["protocol"] = "UDP"
    assert reasons_on(p2, n, [p1]) == ()


def test_version_dependent_taint_text():
    n = node("n", taints=[taint("k", "v")])
    assert reasons_on(pod(), n, version=(1, 34)) == ("node(s) had untolerated taint {k: v}",)
    assert reasons_on(pod(), n, version=(1, 35)) == ("node(s) had untolerated taint(s)",)


# -- the FailedScheduling message -----------------------------------------------------------------------
def test_histogram_uses_go_string_order():
    sts = [m.reject("X", "b reason")] * 10 + [m.reject("Y", "a reason")] * 2
    # sort.Strings compares bytes: "10 ..." < "2 ...".
    assert m.histogram(sts) == ["10 b reason", "2 a reason"]


def test_message_three_node_example_from_sim_fidelity():
    diag = m.Diagnosis(3, {"a": m.reject("TaintToleration", "node(s) had untolerated taint {node.kubernetes.io/"
                                                            "unreachable: }"),
                           "b": m.reject("VolumeBinding", m.VOLUME_NODE_CONFLICT),
                           "c": m.reject("VolumeBinding", m.VOLUME_NODE_CONFLICT)})
    assert m.failure_message(diag) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 node(s) "
        "didn't match PersistentVolume's node affinity. preemption: 0/3 nodes are available: 3 Preemption is not "
        "helpful for scheduling.")


@pytest.mark.parametrize("version,prefix", [((1, 33), ""), ((1, 34), "no new claims to deallocate, ")])
def test_message_resources_and_version_prefix(version, prefix):
    nodes = [node("a", cpu="1"), node("b", cpu="1"), node("c", cpu="1", unschedulable=True)]
    _, res = filter_nodes(pod(cpu="2"), nodes, {}, version=version)
    assert failure_message(res, version) == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. " + prefix +
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod.")


def test_message_cordoned_and_tainted_cluster():
    nodes = [node(f"n{i}", unschedulable=True, taints=[taint("node.kubernetes.io/unschedulable")]) for i in range(3)]
    _, res = filter_nodes(pod(), nodes, {})
    assert failure_message(res) == ("0/3 nodes are available: 3 node(s) were unschedulable. preemption: 0/3 nodes "
                                    "are available: 3 Preemption is not helpful for scheduling.")


def test_message_preemption_policy_never_and_no_nodes():
    p = pod(cpu="9")
    p["spec"]["preemptionPolicy"] = "Never"
    _, res = filter_nodes(p, [node("a")], {})
    assert failure_message(res, (1, 33), p) == ("0/1 nodes are available: 1 Insufficient cpu. preemption: not "
                                                "eligible due to preemptionPolicy=Never.")
    _, res = filter_nodes(pod(), [], {})
    assert failure_message(res) == "no nodes available to schedule pods"


# -- volumes ------------------------------------------------------------------------------------------
def pvc(name, cls="gp3", volume=None, phase="Pending", deleting=False, ns="default", storage="1Gi"):
    c = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": {}},
         "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": storage}}}, "status": {"phase": phase}}
    if volume:
        c["spec"]["volumeName"] = volume
        c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = "yes"
    if deleting:
        c["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return c


def pv(name, zone=None, cls="gp3", claim=None, phase="Available", labels=None, storage="10Gi"):
    v = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
         "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": storage}},
         "status": {"phase": phase}}
    if zone:
        v["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}]}}
    if claim:
        v["spec"]["claimRef"] = {"namespace": "default", "name": claim}
    return v


def sc(name="gp3", mode="WaitForFirstConsumer", provisioner="ebs.csi.aws.com", zones=None):
    s = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
         "provisioner": provisioner, "volumeBindingMode": mode}
    if zones:
        s["allowedTopologies"] = [{"matchLabelExpressions": [{"key": ZONE, "values": zones}]}]
    return s


def with_claim(p, *claims):
    p = copy.deepcopy(p)
    p["spec"]["volumes"] = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
    return p


NODES3 = [node("a", "us-east-1a"), node("b", "us-east-1b"), node("c", "us-east-1c")]


@pytest.mark.parametrize("case,claims,want", [
    ("missing", [], 'persistentvolumeclaim "data-web-0" not found'),
    ("being deleted", [pvc("data-web-0", deleting=True)], 'persistentvolumeclaim "data-web-0" is being deleted'),
    ("lost", [pvc("data-web-0", volume="pv-x", phase="Lost")],
     'persistentvolumeclaim "data-web-0" bound to non-existent persistentvolume "pv-x"'),
    ("unbound immediate", [pvc("data-web-0", cls="std")], "pod has unbound immediate PersistentVolumeClaims"),
    ("unknown class is immediate", [pvc("data-web-0", cls="nope")], "pod has unbound immediate PersistentVolumeClaims"),
])
def test_volume_prefilter_messages(case, claims, want):
    _, res = filter_nodes(with_claim(pod(), "data-web-0"), NODES3, {}, pvcs=claims,
                          storage_classes=[sc(), sc("std", mode="Immediate")])
    assert failure_message(res) == (f"0/3 nodes are available: {want}. preemption: 0/3 nodes are available: 3 "
                                    "Preemption is not helpful for scheduling."), case


@pytest.mark.parametrize("version,text", [((1, 33), "node(s) didn't match PersistentVolume's node affinity"),
                                          ((1, 32), "node(s) had volume node affinity conflict")])
def test_bound_volume_pins_the_zone(version, text):
    p = with_claim(pod(), "data")
    feasible, res = filter_nodes(p, NODES3, {}, pvcs=[pvc("data", volume="pv-1", phase="Bound")],
                                 pvs=[pv("pv-1", zone="us-east-1b", phase="Bound", claim="data")],
                                 storage_classes=[sc()], version=version)
    assert feasible == ["b"]
    _, res = filter_nodes(p, [NODES3[0], NODES3[2]], {}, pvcs=[pvc("data", volume="pv-1", phase="Bound")],
                          pvs=[pv("pv-1", zone="us-east-1b", phase="Bound", claim="data")], storage_classes=[sc()],
                          version=version)
    assert failure_message(res, version).startswith(f"0/2 nodes are available: 2 {text}. preemption:")


def test_bound_claim_with_missing_volume():
    _, res = filter_nodes(with_claim(pod(), "data"), NODES3[:1], {}, pvcs=[pvc("data", volume="gone", phase="Bound")])
    assert res.diagnosis.prefilter.reasons == ('persistentvolume "gone" not found',)


def test_wait_for_first_consumer_follows_allowed_topologies_and_plans_provisioning():
    p = with_claim(pod(), "data")
    feasible, res = filter_nodes(p, NODES3, {}, pvcs=[pvc("data")], storage_classes=[sc(zones=["us-east-1c"])])
    assert feasible == ["c"]
    assert res.reasons == {"a": (m.VOLUME_BIND_CONFLICT,), "b": (m.VOLUME_BIND_CONFLICT,)}
    assert res.plans["c"].provision == [("default", "data")]
    feasible, res = filter_nodes(p, NODES3, {}, pvcs=[pvc("data")], storage_classes=[sc()])
    assert feasible == ["a", "b", "c"]


def test_wait_for_first_consumer_static_volume_and_no_provisioner():
    p = with_claim(pod(), "data")
    cls = sc("local", provisioner="kubernetes.io/no-provisioner")
    claim = pvc("data", cls="local")
    feasible, res = filter_nodes(p, NODES3, {}, pvcs=[claim], storage_classes=[cls],
                                 pvs=[pv("small", "us-east-1a", cls="local", storage="500Mi"),
                                      pv("right", "us-east-1b", cls="local")])
    assert feasible == ["b"]
    assert res.plans["b"].static[0].pv == "right"
    assert res.reasons["a"] == (m.VOLUME_BIND_CONFLICT,)


def test_volume_zone_labels():
    p = with_claim(pod(), "data")
    legacy = pv("pv-1", phase="Bound", claim="data", labels={ZONE: "us-east-1a__us-east-1b"})
    feasible, res = filter_nodes(p, NODES3, {}, pvcs=[pvc("data", volume="pv-1", phase="Bound")], pvs=[legacy])
    assert feasible == ["a", "b"]
    assert res.reasons == {"c": (m.VOLUME_ZONE_CONFLICT,)}


# -- topology spread -----------------------------------------------------------------------------------
def spread_pod(name, max_skew=1, key=ZONE, when="DoNotSchedule", **extra):
    c = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
         "labelSelector": {"matchLabels": {"app": "web"}}, **extra}
    return pod(name, labels={"app": "web"}, topologySpreadConstraints=[c])


def test_spread_filter_keeps_skew():
    existing = {"a": [pod("w1", labels={"app": "web"})], "b": [pod("w2", labels={"app": "web"})]}
    feasible, res = filter_nodes(spread_pod("w3"), NODES3, existing)
    assert feasible == ["c"]
    assert res.reasons == {"a": (m.SPREAD_CONSTRAINTS,), "b": (m.SPREAD_CONSTRAINTS,)}
    # Other namespaces and terminating pods do not count.
    other = {"a": [pod("w1", ns="other", labels={"app": "web"})]}
    assert filter_nodes(spread_pod("w3"), NODES3, other)[0] == ["a", "b", "c"]


def test_spread_missing_label_and_min_domains():
    bare = node("d")
    del bare["metadata"]["labels"][ZONE]
    _, res = filter_nodes(spread_pod("w"), NODES3 + [bare], {})
    assert res.reasons == {"d": (m.SPREAD_MISSING_LABEL,)}
    # Two zones exist but minDomains 3: the global minimum is 0, so a zone with one pod is full at maxSkew 1.
    existing = {"a": [pod("w1", labels={"app": "web"})], "b": [pod("w2", labels={"app": "web"})]}
    feasible, _ = filter_nodes(spread_pod("w3", minDomains=3), NODES3[:2], existing)
    assert feasible == []
    feasible, _ = filter_nodes(spread_pod("w3"), NODES3[:2], existing)
    assert feasible == ["a", "b"]


def test_spread_node_affinity_policy():
    existing = {"c": [pod("w1", labels={"app": "web"})]}
    p = spread_pod("w2")
    p["spec"]["nodeSelector"] = {ZONE: "us-east-1c"}
    # Honor (default): zones a and b are not eligible domains, so c is at skew 1.
    assert filter_nodes(p, NODES3, existing)[0] == ["c"]
    p["spec"]["topologySpreadConstraints"][0]["nodeAffinityPolicy"] = "Ignore"
    assert filter_nodes(p, NODES3, existing)[0] == []


def snapshot(nodes, placed=(), **kw):
    pods = []
    for n, p in placed:
        p = copy.deepcopy(p)
        p["spec"]["nodeName"] = n
        pods.append(p)
    return Snapshot.build(nodes, pods, **kw)


def test_system_default_spreading_for_owned_pods():
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    owned = pod("web-3", labels={"app": "web"})
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                             "uid": "u", "controller": True}]
    placed = [("a", pod("web-1", labels={"app": "web"})), ("b", pod("web-2", labels={"app": "web"}))]
    snap = snapshot(NODES3, placed, owners=[rs])
    assert schedule(snap, owned).node == "c"
    # Soft only: with zone c gone the pod still schedules.
    assert schedule(snapshot(NODES3[:2], placed, owners=[rs]), owned).node in ("a", "b")


# -- inter-pod affinity --------------------------------------------------------------------------------
def anti(name, key=HOST):
    return pod(name, labels={"app": "db"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": key}]}})


def test_pod_anti_affinity():
    feasible, res = filter_nodes(anti("db-1"), NODES3, {"a": [anti("db-0")]})
    assert feasible == ["b", "c"]
    assert res.reasons == {"a": (m.POD_ANTI_AFFINITY,)}
    # An existing pod's anti-affinity keeps a matching newcomer away even without rules of its own.
    feasible, res = filter_nodes(pod("x", labels={"app": "db"}), NODES3, {"b": [anti("db-0")]})
    assert res.reasons == {"b": (m.EXISTING_ANTI_AFFINITY,)}


def test_pod_affinity_first_pod_may_go_anywhere():
    def aff(name):
        return pod(name, labels={"app": "cache"}, affinity={"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": ZONE}]}})

    assert filter_nodes(aff("c0"), NODES3, {})[0] == ["a", "b", "c"]
    feasible, res = filter_nodes(aff("c1"), NODES3, {"b": [aff("c0")]})
    assert feasible == ["b"]
    assert set(res.reasons.values()) == {(m.POD_AFFINITY,)}


# -- scoring and selection -----------------------------------------------------------------------------
def test_least_allocated_prefers_the_emptier_node():
    snap = snapshot([node("a"), node("b")], [("a", pod("big", cpu="1500m", memory="3Gi"))])
    assert schedule(snap, pod("p", cpu="100m")).node == "b"


def test_prefer_no_schedule_and_preferred_node_affinity():
    nodes = [node("a", taints=[taint("k", "v", "PreferNoSchedule")]), node("b")]
    assert schedule(snapshot(nodes), pod()).node == "b"
    pref = pod(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}})
    assert schedule(snapshot([node("a"), node("b", labels={"disk": "ssd"})]), pref).node == "b"


def test_ties_are_broken_by_a_seeded_hash_independent_of_order():
    nodes = [node(f"n{i}") for i in range(6)]
    first = schedule(snapshot(nodes), pod("p")).node
    shuffled = nodes[:]
    random.Random(3).shuffle(shuffled)
    assert schedule(snapshot(shuffled), pod("p")).node == first
    picks = {schedule(snapshot(nodes), pod(f"p{i}")).node for i in range(20)}
    assert len(picks) > 1  # different pods spread over tied nodes
    assert select_host({"a": 5, "b": 5}, pod("p"), seed=1) == select_host({"b": 5, "a": 5}, pod("p"), seed=1)


# -- the queue's pure parts ----------------------------------------------------------------------------
@pytest.mark.parametrize("attempts,want", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)])
def test_backoff_doubles_to_the_cap(attempts, want):
    assert backoff(attempts, 1.0, 10.0) == want


@pytest.mark.parametrize("change,want", [
    ({}, True),
    ({"spec": {"nodeName": "n"}}, False),
    ({"spec": {"schedulerName": "other"}}, False),
    ({"spec": {"schedulingGates": [{"name": "g"}]}}, False),
    ({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}, False),
])
def test_wants_scheduling(change, want):
    p = pod()
    for k, v in change.items():
        p[k].update(v)
    assert wants_scheduling(p) is want


# -- pods/binding semantics ----------------------------------------------------------------------------
@pytest.fixture
def api():
    a = Api(Store(), Registry(), SchemaSet("1.33"))
    a.create(a.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
             Request(field_manager="t"))
    return a


def _make(api, p):
    return api.create(api.rt("pods"), "default", p, Request(field_manager="t"))


def test_bind_sets_node_condition_and_annotations(api):
    created = _make(api, pod("web"))
    bound = bind_pod(api, "default", "web", "n1", annotations={"a": "b"})
    assert bound["spec"]["nodeName"] == "n1"
    assert bound["metadata"]["annotations"]["a"] == "b"
    cond = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert cond == [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                     "lastTransitionTime": cond[0]["lastTransitionTime"]}]
    assert int(bound["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


@pytest.mark.parametrize("setup,message", [
    ("assigned", 'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "n0"'),
    ("gated", 'Operation cannot be fulfilled on pods/binding "web": pod web has non-empty .spec.schedulingGates'),
])
def test_bind_conflicts(api, setup, message):
    p = pod("web")
    if setup == "assigned":
        p["spec"]["nodeName"] = "n0"
    else:
        p["spec"]["schedulingGates"] = [{"name": "g"}]
    _make(api, p)
    with pytest.raises(Conflict) as exc:
        bind_pod(api, "default", "web", "n1")
    assert exc.value.code == 409 and exc.value.message == message


def test_bind_deleting_missing_and_uid_precondition(api):
    p = pod("web")
    p["metadata"]["finalizers"] = ["example.com/hold"]
    _make(api, p)
    api.delete(api.rt("pods"), "default", "web")
    with pytest.raises(Conflict) as exc:
        bind_pod(api, "default", "web", "n1")
    assert exc.value.message.endswith("pod web is being deleted, cannot be assigned to a host")
    with pytest.raises(NotFound):
        bind_pod(api, "default", "nope", "n1")
    _make(api, pod("other"))
    with pytest.raises(Conflict) as exc:
        bind_pod(api, "default", "other", "n1", uid="not-it")
    assert "Precondition failed: UID in precondition: not-it" in exc.value.message
    with pytest.raises(ApiError) as exc:
        bind_pod(api, "default", "other", "")
    assert exc.value.code == 500 and exc.value.message == "target.name: Required value"


# -- the loop against a bare API (no HTTP) -----------------------------------------------------------------
def _wait(fn, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_loop_fails_then_wakes_on_a_node_update(api):
    from kubesim.controllers.base import ControllerContext
    from kubesim.controllers.scheduler import Scheduler
    from kubesim.timings import for_profile

    nodes = api.rt("nodes")
    api.create(nodes, None, node("n1", cpu="1"), Request(field_manager="t"))
    api.update_status(nodes, None, "n1", lambda c: {**c, "status": node("n1", cpu="1")["status"]}, manager="k")
    s = Scheduler(ControllerContext(api=api, timings=for_profile("instant")))
    s.start()
    try:
        _make(api, pod("web", cpu="2"))
        pods = api.rt("pods")

        def condition():
            conds = api.get(pods, "default", "web")["status"].get("conditions") or []
            return next((c for c in conds if c["type"] == "PodScheduled"), None)

        cond = _wait(condition)
        assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
        assert cond["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                                   "available: 1 No preemption victims found for incoming pod.")
        events = [e.obj() for e in api.store.list("events")[0]]
        assert [(e["type"], e["reason"], e["reportingComponent"], e["action"]) for e in events] == [
            ("Warning", "FailedScheduling", "default-scheduler", "Scheduling")]
        # events.k8s.io/v1 library shape (kube-scheduler): no core/v1 source, count or first/lastTimestamp
        ev = events[0]
        assert ev["source"] == {} and "count" not in ev and ev["eventTime"].endswith("Z")
        assert ev.get("firstTimestamp") is None and ev.get("lastTimestamp") is None
        assert ev["reportingInstance"] == "default-scheduler-kubesim-control-plane"
        # More allocatable (a node update) wakes the pod long before the unschedulable flush (3 s here).
        import time

        t0 = time.monotonic()
        api.update_status(nodes, None, "n1", lambda c: {**c, "status": node("n1", cpu="4")["status"]}, manager="k")
        _wait(lambda: api.get(pods, "default", "web")["spec"].get("nodeName") == "n1")
        assert time.monotonic() - t0 < 1.0
        assert _wait(condition)["status"] == "True"
        reasons = sorted(e.obj()["reason"] for e in api.store.list("events")[0])
        assert reasons == ["FailedScheduling", "Scheduled"]
    finally:
        s.stop()


def test_scheduler_events_use_the_events_api_shape_and_series(api):
    """kube-scheduler records through client-go tools/events (events.k8s.io/v1), read here as core/v1.

    Real clusters show its events with ``source: {}``, ``eventTime``, null first/lastTimestamp and
    ``reportingInstance: default-scheduler-<host>``; an isomorphic repeat (same type, action, reason,
    reporter and regarding object incl. resourceVersion; the note is not in the key) becomes a
    ``series`` on the first Event (event_broadcaster.go ``recordToSink``, ``getKey``).
    """
    from kubesim.events import EventRecorder

    rec = EventRecorder(api, "default-scheduler", "cp-1", events_api=True)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-0", "namespace": "default", "uid": "u1", "resourceVersion": "7"}}
    rec.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: first.", action="Scheduling")
    rec.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: second.", action="Scheduling")
    rec.event(pod, "Warning", "FailedScheduling", "0/3 nodes are available: second.", action="Scheduling")
    events = [e.obj() for e in api.store.list("events")[0]]
    assert len(events) == 1
    ev = events[0]
    assert ev["message"] == "0/3 nodes are available: first."  # the series keeps the first note
    assert ev["series"]["count"] == 3 and ev["series"]["lastObservedTime"].endswith("Z")
    assert (ev["source"], ev["reportingComponent"], ev["reportingInstance"], ev["action"]) == (
        {}, "default-scheduler", "default-scheduler-cp-1", "Scheduling")
    assert "count" not in ev and ev.get("firstTimestamp") is None and ev["metadata"]["name"].startswith("web-0.")
    # the pod changed (new resourceVersion): not isomorphic, a new Event
    rec.event({**pod, "metadata": {**pod["metadata"], "resourceVersion": "8"}}, "Warning", "FailedScheduling",
              "0/3 nodes are available: third.", action="Scheduling")
    assert sorted(e.obj()["message"] for e in api.store.list("events")[0]) == [
        "0/3 nodes are available: first.", "0/3 nodes are available: third."]
    # the same object as events.k8s.io/v1 serves it
    from kubesim.conversion import event_from_core

    got = event_from_core(ev)
    assert (got["reportingController"], got["note"], got["regarding"]["name"]) == (
        "default-scheduler", "0/3 nodes are available: first.", "web-0")
