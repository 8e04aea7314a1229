"""Decision functions of the endpoints, endpointslice and disruption controllers and of pods/eviction.

Table-driven, dicts in and dicts out; no server. The wire behaviour is covered by
tests/sim/test_drain.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kubesim.controllers import disruption as dis
from kubesim.controllers import endpoints as ep
from kubesim.controllers import endpointslice as es
from kubesim.controllers import endpointutil as eu
from kubesim.errors import ApiError, Forbidden, TooManyRequests
from kubesim.server import eviction as ev

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(sec: float = 0) -> str:
    return (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name="web-0", *, ready=True, ip="10.244.0.5", phase="Running", deleting=False, labels=None, node="n1",
        hostname=None, subdomain=None, ports=None, ns="default", owner=None, ready_at=0, uid=None):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}",
                      "labels": {"app": "web"} if labels is None else labels},
         "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx",
                                                    "ports": ports if ports is not None else
                                                    [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
         "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                    "lastTransitionTime": ts(ready_at)}]}}
    if ip:
        p["status"]["podIP"] = ip
        p["status"]["podIPs"] = [{"ip": ip}]
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(30)
    if hostname:
        p["spec"]["hostname"] = hostname
    if subdomain:
        p["spec"]["subdomain"] = subdomain
    if owner:
        kind, oname = owner
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": oname,
                                             "uid": f"uid-{oname}", "controller": True}]
    return p


def svc(name="web", *, headless=False, ports=None, selector=None, publish=False, labels=None, typ="ClusterIP"):
    s = {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": "default", "uid": f"uid-svc-{name}", "creationTimestamp": ts(-60),
                      "labels": {"app": "web"} if labels is None else labels},
         "spec": {"type": typ, "clusterIP": "None" if headless else "10.100.0.10", "ipFamilies": ["IPv4"],
                  "selector": {"app": "web"} if selector is None else selector,
                  "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
                  if ports is None else ports}}
    if publish:
        s["spec"]["publishNotReadyAddresses"] = True
    return s


# -- endpointutil -----------------------------------------------------------------------------
@pytest.mark.parametrize("kw,include_terminating,want", [
    ({}, False, True),
    ({"ready": False}, False, True),                 # unready pods are listed (as not ready)
    ({"ip": None}, False, False),                    # no IP yet
    ({"phase": "Succeeded"}, True, False),           # terminal
    ({"phase": "Failed"}, True, False),
    ({"deleting": True}, False, False),              # terminating, Endpoints
    ({"deleting": True}, True, True),                # terminating, EndpointSlices / publishNotReadyAddresses
    ({"phase": "Pending", "ready": False}, False, True),
])
def test_should_pod_be_in_endpoints(kw, include_terminating, want):
    assert eu.should_pod_be_in_endpoints(pod(**kw), include_terminating) is want


@pytest.mark.parametrize("hostname,subdomain,svc_name,pod_ns,want", [
    ("web-0", "web", "web", "default", True),
    ("web-0", "other", "web", "default", False),
    (None, "web", "web", "default", False),
    ("web-0", None, "web", "default", False),
    ("web-0", "web", "web", "elsewhere", False),
])
def test_should_set_hostname(hostname, subdomain, svc_name, pod_ns, want):
    assert eu.should_set_hostname(pod(hostname=hostname, subdomain=subdomain, ns=pod_ns), svc(svc_name)) is want


@pytest.mark.parametrize("svc_port,want", [
    ({"port": 80, "targetPort": 8081, "protocol": "TCP"}, 8081),
    ({"port": 80, "targetPort": "http", "protocol": "TCP"}, 8080),
    ({"port": 80, "targetPort": "http", "protocol": "UDP"}, None),  # name matches, protocol does not
    ({"port": 80, "targetPort": "metrics", "protocol": "TCP"}, None),
    ({"port": 80, "protocol": "TCP"}, 80),                          # targetPort defaults to port
])
def test_find_port(svc_port, want):
    assert eu.find_port(pod(), svc_port) == want


# -- Endpoints --------------------------------------------------------------------------------
def addr(name, ip, *, hostname=None, node="n1"):
    a = {"ip": ip}
    if hostname:
        a["hostname"] = hostname
    a["nodeName"] = node
    a["targetRef"] = {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"}
    return a


HTTP8080 = [{"name": "http", "port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize("service,pods,want", [
    # ready and unready split; addresses sorted by IP
    (svc(), [pod("b", ip="10.0.0.2"), pod("a", ip="10.0.0.1"), pod("c", ip="10.0.0.3", ready=False)],
     [{"addresses": [addr("a", "10.0.0.1"), addr("b", "10.0.0.2")], "notReadyAddresses": [addr("c", "10.0.0.3")],
       "ports": HTTP8080}]),
    # publishNotReadyAddresses: unready and terminating pods are ready addresses
    (svc(publish=True), [pod("a", ip="10.0.0.1", ready=False), pod("b", ip="10.0.0.2", deleting=True)],
     [{"addresses": [addr("a", "10.0.0.1"), addr("b", "10.0.0.2")], "ports": HTTP8080}]),
    # terminating pods leave Endpoints
    (svc(), [pod("a", ip="10.0.0.1", deleting=True)], []),
    # headless Service and a StatefulSet pet: hostname
    (svc(headless=True), [pod("web-0", hostname="web-0", subdomain="web")],
     [{"addresses": [addr("web-0", "10.244.0.5", hostname="web-0")], "ports": HTTP8080}]),
    # headless without ports: addresses, no ports
    (svc(headless=True, ports=[]), [pod("a", ip="10.0.0.1")], [{"addresses": [addr("a", "10.0.0.1")]}]),
    # a non-headless Service without ports gets nothing
    (svc(ports=[]), [pod("a", ip="10.0.0.1")], []),
    # two ports: subsets group addresses by the set of ports they offer (RepackSubsets)
    (svc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]),
     [pod("a", ip="10.0.0.1", ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                     {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]),
      pod("b", ip="10.0.0.2")],
     [{"addresses": [addr("a", "10.0.0.1"), addr("b", "10.0.0.2")], "ports": HTTP8080},
      {"addresses": [addr("a", "10.0.0.1")], "ports": [{"name": "metrics", "port": 9100, "protocol": "TCP"}]}]),
])
def test_desired_subsets(service, pods, want):
    got = ep.desired_subsets(service, pods)
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_repack_merges_same_port_and_keeps_ready():
    a = addr("a", "10.0.0.1")
    subsets = [{"addresses": [a], "ports": HTTP8080}, {"notReadyAddresses": [a], "ports": HTTP8080},
               {"addresses": [addr("b", "10.0.0.2")], "ports": HTTP8080}]
    assert ep.repack_subsets(subsets) == [{"addresses": [a, addr("b", "10.0.0.2")], "ports": HTTP8080}]


def test_decide_create_update_none_delete():
    s = svc(headless=True)
    pods = [pod("web-0", hostname="web-0", subdomain="web")]
    d = ep.decide(s, pods, None, ts(-60))
    assert d.op == "create"
    assert d.body["metadata"] == {"name": "web", "namespace": "default",
                                  "labels": {"app": "web", "service.kubernetes.io/headless": ""},
                                  "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": ts(-60)}}
    cur = {**d.body, "metadata": {**d.body["metadata"], "resourceVersion": "7"}}
    assert ep.decide(s, pods, cur, None).op == "none"  # only the trigger time would change
    # a pod turns unready: update, trigger annotation cleared when no trigger
    d2 = ep.decide(s, [pod("web-0", hostname="web-0", subdomain="web", ready=False)], cur, None)
    assert d2.op == "update" and d2.body["metadata"]["resourceVersion"] == "7"
    assert "annotations" not in d2.body["metadata"]
    assert d2.body["subsets"][0]["notReadyAddresses"][0]["hostname"] == "web-0"
    # label change on the Service is mirrored
    s2 = svc(headless=True, labels={"app": "web", "tier": "db"})
    assert ep.decide(s2, pods, cur, None).op == "update"
    # Service gone: delete; never existed: nothing
    assert ep.decide(None, [], cur, None).op == "delete"
    assert ep.decide(None, [], None, None).op == "none"


@pytest.mark.parametrize("service", [svc(typ="ExternalName"), svc(selector={})])
def test_decide_leaves_alone(service):
    assert ep.decide(service, [pod()], None, None).op == "none"


def test_decide_over_capacity_truncates():
    pods = [pod(f"p{i}", ip=f"10.1.{i // 250}.{i % 250}", ready=i < 900) for i in range(1100)]
    d = ep.decide(svc(), pods, None, None)
    ss = d.body["subsets"]
    assert sum(len(s.get("addresses") or []) for s in ss) == 900
    assert sum(len(s.get("notReadyAddresses") or []) for s in ss) == 100
    assert d.body["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}


def test_trigger_time_tracker():
    tr = ep.TriggerTimeTracker()
    s = svc()
    assert tr.compute("default", s, [pod(ready_at=5)]) == ts(-60)  # first sight: the Service's creation
    assert tr.compute("default", s, [pod(ready_at=5)]) is None      # nothing moved
    assert tr.compute("default", s, [pod(ready_at=5), pod("b", ready_at=9), pod("c", ready_at=7)]) == ts(7)


def test_trigger_time_tracker_rereads_a_pod_only_at_a_new_revision():
    def at(rv, ready_at):
        p = pod(ready_at=ready_at)
        p["metadata"]["resourceVersion"] = rv
        return p

    tr = ep.TriggerTimeTracker()
    s = svc()
    tr.compute("default", s, [at("10", 5)])
    assert tr.compute("default", s, [at("11", 8)]) == ts(8)  # a new revision is read again
    assert tr.compute("default", s, [at("11", 8)]) is None
    # (the same revision is never different; the memo is what makes a sync not re-read 100 pods)
    assert tr._seen[("default", "web")] == {"web-0": ("11", T0 + timedelta(seconds=8))}
    tr.forget("default", "web")
    assert ("default", "web") not in tr._seen


def test_apiserver_endpoints():
    e, sl = ep.apiserver_endpoints("127.0.0.1", 43211)
    assert e["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                             "ports": [{"name": "https", "port": 43211, "protocol": "TCP"}]}]
    assert e["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert sl["metadata"]["name"] == "kubernetes" and sl["addressType"] == "IPv4"
    assert sl["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]


# -- EndpointSlices ---------------------------------------------------------------------------
@pytest.mark.parametrize("kw,publish,want", [
    ({}, False, {"ready": True, "serving": True, "terminating": False}),
    ({"ready": False}, False, {"ready": False, "serving": False, "terminating": False}),
    ({"deleting": True}, False, {"ready": False, "serving": True, "terminating": True}),
    ({"deleting": True, "ready": False}, False, {"ready": False, "serving": False, "terminating": True}),
    ({"deleting": True}, True, {"ready": True, "serving": True, "terminating": True}),
])
def test_slice_endpoint_conditions(kw, publish, want):
    e = es.pod_to_endpoint(svc(publish=publish), pod(**kw), "us-east-1a", "IPv4")
    assert e["conditions"] == want


def test_slice_endpoint_fields():
    e = es.pod_to_endpoint(svc(headless=True), pod("web-1", hostname="web-1", subdomain="web", node="n2"),
                           "us-east-1b", "IPv4")
    assert e == {"addresses": ["10.244.0.5"], "conditions": {"ready": True, "serving": True, "terminating": False},
                 "hostname": "web-1",
                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "uid-web-1"},
                 "nodeName": "n2", "zone": "us-east-1b"}
    assert es.pod_to_endpoint(svc(), pod(ip="fd00::1"), None, "IPv4") is None


def test_slice_labels_and_prefix():
    s = svc(headless=True, labels={"app": "web", "kubernetes.io/service-name": "evil"})
    assert es.slice_labels(s) == {"app": "web", "service.kubernetes.io/headless": "",
                                  "kubernetes.io/service-name": "web",
                                  "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    body = es.new_slice(s, [], "IPv4", [])
    assert body["metadata"]["generateName"] == "web-"
    assert body["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                    "uid": "uid-svc-web", "controller": True,
                                                    "blockOwnerDeletion": True}]


def existing(name, eps, ports=HTTP8080, service=None):
    body = es.new_slice(service or svc(), [dict(p) for p in ports], "IPv4", eps)
    body["metadata"]["name"] = name
    body["metadata"]["resourceVersion"] = "3"
    return body


def test_reconcile_placeholder_then_fill_then_shrink():
    s = svc()
    acts = es.reconcile(s, [], {}, [])
    assert len(acts.create) == 1 and acts.create[0]["endpoints"] == [] and acts.create[0]["ports"] == []
    placeholder = existing("web-aaaaa", [], ports=[])
    assert es.reconcile(s, [], {}, [placeholder]).empty  # the placeholder stays
    # pods appear: a real slice is created, the placeholder goes
    acts = es.reconcile(s, [pod("a", ip="10.0.0.1"), pod("b", ip="10.0.0.2", deleting=True)], {"n1": "z1"},
                        [placeholder], trigger_time=ts(1))
    assert acts.delete == ["web-aaaaa"] and len(acts.create) == 1
    made = acts.create[0]
    assert made["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [e["targetRef"]["name"] for e in made["endpoints"]] == ["a", "b"]
    assert made["endpoints"][1]["conditions"]["terminating"] is True  # terminating pods stay in slices
    assert made["metadata"]["annotations"] == {"endpoints.kubernetes.io/last-change-trigger-time": ts(1)}
    # an existing slice is updated in place (name kept), a vanished pod removed
    cur = existing("web-bbbbb", made["endpoints"])
    acts = es.reconcile(s, [pod("a", ip="10.0.0.1")], {"n1": "z1"}, [cur])
    assert not acts.create and not acts.delete
    assert [u["metadata"]["name"] for u in acts.update] == ["web-bbbbb"]
    assert [e["targetRef"]["name"] for e in acts.update[0]["endpoints"]] == ["a"]
    # unchanged: nothing to do
    assert es.reconcile(s, [pod("a", ip="10.0.0.1")], {"n1": "z1"}, [acts.update[0]]).empty
    # last pod gone: the slice itself becomes... deleted, and a fresh placeholder is created
    acts = es.reconcile(s, [], {}, [acts.update[0]])
    assert acts.delete == ["web-bbbbb"] and acts.create[0]["endpoints"] == []


def test_reconcile_splits_by_ports_and_size():
    two_ports = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    other = [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    pods = [pod(f"p{i:03d}", ip=f"10.0.{i // 200}.{i % 200 + 1}", ports=two_ports) for i in range(150)]
    pods.append(pod("odd", ip="10.9.9.9", ports=other))
    acts = es.reconcile(svc(), pods, {}, [])
    sizes = sorted((len(c["endpoints"]), c["ports"][0]["port"]) for c in acts.create)
    assert sizes == [(1, 9090), (50, 8080), (100, 8080)]


# -- PodDisruptionBudget ----------------------------------------------------------------------
def pdb(spec, status=None, generation=1, name="web"):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}, "status": status or {}}


def sts_scale(replicas):
    return lambda ref, ns: (ref["uid"], replicas)


@pytest.mark.parametrize("value,total,round_up,want", [
    (2, 10, True, 2), ("50%", 3, True, 2), ("50%", 3, False, 1), ("34%", 3, True, 2), ("10%", 5, True, 1),
    ("0%", 5, True, 0), ("100%", 7, True, 7), ("30%", 3, True, 1),
])
def test_scaled_value(value, total, round_up, want):
    assert dis.scaled_value(value, total, round_up) == want


@pytest.mark.parametrize("spec,ready,replicas,want", [
    # (expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed)
    ({"minAvailable": 2}, 3, 3, (3, 2, 3, 1)),
    ({"minAvailable": 2}, 2, 3, (3, 2, 2, 0)),
    ({"minAvailable": 5}, 3, 3, (3, 5, 3, 0)),           # never negative
    ({"maxUnavailable": 1}, 3, 3, (3, 2, 3, 1)),
    ({"maxUnavailable": 1}, 3, 5, (5, 4, 3, 0)),         # expected from the controller's scale, not the pods
    ({"maxUnavailable": "30%"}, 3, 3, (3, 2, 3, 1)),     # ceil(0.9) = 1 unavailable
    ({"maxUnavailable": "50%"}, 3, 4, (4, 2, 3, 1)),     # 4 replicas, 3 pods so far
    ({"minAvailable": "50%"}, 3, 3, (3, 2, 3, 1)),       # ceil(1.5) = 2
    ({"minAvailable": "100%"}, 3, 3, (3, 3, 3, 0)),
    ({"maxUnavailable": 0}, 3, 3, (3, 3, 3, 0)),
    ({"maxUnavailable": 5}, 3, 3, (3, 0, 3, 3)),         # desired floors at 0
    ({}, 3, 3, (0, 0, 3, 0)),                            # neither set: expected 0 -> nothing allowed
])
def test_pdb_math(spec, ready, replicas, want):
    pods = [pod(f"web-{i}", ready=i < ready, owner=("StatefulSet", "web")) for i in range(3)]
    res = dis.sync(pdb(spec), pods, sts_scale(replicas), T0)
    st = res.status
    assert (st["expectedPods"], st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"]) == want
    cond = st["conditions"][0]
    allowed = want[3] > 0
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "DisruptionAllowed", "True" if allowed else "False", "SufficientPods" if allowed else "InsufficientPods", "")
    assert st["observedGeneration"] == 1


def test_pdb_up_to_date_is_not_rewritten_and_transition_time_kept():
    pods = [pod(f"web-{i}", owner=("StatefulSet", "web")) for i in range(3)]
    first = dis.sync(pdb({"minAvailable": 2}), pods, sts_scale(3), T0).status
    assert dis.sync(pdb({"minAvailable": 2}, first), pods, sts_scale(3), T0 + timedelta(seconds=5)).status is None
    # one pod unready: condition flips, transition time moves
    pods[0]["status"]["conditions"][0]["status"] = "False"
    later = T0 + timedelta(seconds=9)
    st = dis.sync(pdb({"minAvailable": 2}, first), pods, sts_scale(3), later).status
    assert st["conditions"][0]["lastTransitionTime"] == ts(9) and st["disruptionsAllowed"] == 0


def test_pdb_unmanaged_and_missing_controllers():
    bare = [pod(f"p{i}") for i in range(2)]
    res = dis.sync(pdb({"minAvailable": "50%"}), bare, sts_scale(3), T0)
    assert res.status["expectedPods"] == 0 and res.status["disruptionsAllowed"] == 0
    assert [e[2] for e in res.events] == ["UnmanagedPods"]
    # an integer minAvailable works with bare pods
    res = dis.sync(pdb({"minAvailable": 1}), bare, sts_scale(3), T0)
    assert res.status["disruptionsAllowed"] == 1 and not res.events
    # owner missing: fail safe
    res = dis.sync(pdb({"maxUnavailable": 1}, {"disruptionsAllowed": 1}),
                   [pod("web-0", owner=("StatefulSet", "gone"))], lambda ref, ns: None, T0)
    assert res.failed == 'found no controllers for pod "web-0"'
    assert res.status["disruptionsAllowed"] == 0
    c = res.status["conditions"][0]
    assert (c["status"], c["reason"], c["message"]) == ("False", "SyncFailed", 'found no controllers for pod "web-0"')
    assert [e[2] for e in res.events] == ["CalculateExpectedPodCountFailed"]
    assert [e[2] for e in dis.sync(pdb({"minAvailable": 1}), [], sts_scale(0), T0).events] == ["NoPods"]


def test_pdb_disrupted_pods_bookkeeping():
    pods = [pod(f"web-{i}", owner=("StatefulSet", "web")) for i in range(3)]
    pods[2]["metadata"]["deletionTimestamp"] = ts(1)
    status = {"disruptedPods": {"web-0": ts(0), "web-1": ts(-200), "web-2": ts(0)}}
    res = dis.sync(pdb({"minAvailable": 1}, status), pods, sts_scale(3), T0 + timedelta(seconds=10))
    # web-0: eviction in flight (not healthy, kept); web-1: expired (dropped + NotDeleted); web-2: deleting (dropped)
    assert res.status["disruptedPods"] == {"web-0": ts(0)}
    assert res.status["currentHealthy"] == 1 and res.status["disruptionsAllowed"] == 0
    assert res.recheck_at == T0 + timedelta(seconds=120)
    assert [(e[0], e[2]) for e in res.events] == [("pod:web-1", "NotDeleted")]


@pytest.mark.parametrize("selector,labels,want", [
    ({"matchLabels": {"app": "web"}}, {"app": "web"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
    ({}, {"app": "db"}, True),        # policy/v1: empty selector selects every pod
    (None, {"app": "web"}, False),    # nil selects none
])
def test_pdb_selector(selector, labels, want):
    p = pdb({"minAvailable": 1})
    p["spec"]["selector"] = selector
    assert bool(dis.pods_for_pdb(p, [pod(labels=labels)])) is want
    assert bool(ev.matching_pdbs(pod(labels=labels), [p])) is want


def test_stale_disruption_condition():
    p = pod()
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                                      "lastTransitionTime": ts(0)})
    assert dis.stale_disruption_condition(p, T0 + timedelta(seconds=30), 120) == (True, 90.0)
    assert dis.stale_disruption_condition(p, T0 + timedelta(seconds=300), 120) == (True, 0.0)
    p["status"]["conditions"][-1]["reason"] = "TerminationByKubelet"
    assert dis.stale_disruption_condition(p, T0, 120) == (False, 0.0)


# -- eviction -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,ignore,enforce_rv", [
    ({}, False, True),
    ({"phase": "Pending", "ready": False}, True, True),
    ({"phase": "Succeeded"}, True, False),
    ({"phase": "Failed"}, True, False),
    ({"deleting": True}, True, False),
])
def test_can_ignore_pdb(kw, ignore, enforce_rv):
    p = pod(**kw)
    assert ev.can_ignore_pdb(p) is ignore
    assert ev.should_enforce_resource_version(p) is enforce_rv


def healthy_status(current, desired, allowed, **extra):
    return {"currentHealthy": current, "desiredHealthy": desired, "disruptionsAllowed": allowed,
            "expectedPods": 3, "observedGeneration": 1, **extra}


@pytest.mark.parametrize("p,pdbs,want", [
    (pod(), [], "delete"),
    (pod(), [pdb({"minAvailable": 2}, healthy_status(3, 2, 1))], "decrement"),
    (pod(ready=False), [pdb({"minAvailable": 2}, healthy_status(2, 2, 0))], "delete-unhealthy"),
    (pod(ready=False), [pdb({"minAvailable": 2}, healthy_status(1, 2, 0))], "decrement"),   # budget already broken
    (pod(ready=False), [pdb({"minAvailable": 0}, healthy_status(3, 0, 3))], "decrement"),   # desired 0
    (pod(ready=False), [pdb({"minAvailable": 2, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
                            healthy_status(1, 2, 0))], "delete-unhealthy"),
    (pod(ready=False), [pdb({"minAvailable": 2, "unhealthyPodEvictionPolicy": "IfHealthyBudget"},
                            healthy_status(1, 2, 0))], "decrement"),
    (pod(labels={"app": "db"}), [pdb({"minAvailable": 2})], "delete"),
])
def test_plan(p, pdbs, want):
    assert ev.plan(p, pdbs).action == want


def test_plan_multiple_pdbs_is_a_500_without_reason():
    with pytest.raises(ApiError) as exc:
        ev.plan(pod(), [pdb({"minAvailable": 1}), pdb({"maxUnavailable": 1}, name="web-2")])
    assert exc.value.code == 500
    assert exc.value.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "This pod has more than one PodDisruptionBudget, which the eviction "
                                             "subresource does not support.", "code": 500}


def test_check_and_decrement_spends_and_records():
    st = ev.check_and_decrement(pdb({"minAvailable": 2}, healthy_status(3, 2, 1)), "web-0", ts(3))
    assert st["disruptionsAllowed"] == 0 and st["disruptedPods"] == {"web-0": ts(3)}
    c = st["conditions"][0]
    assert (c["status"], c["reason"]) == ("False", "InsufficientPods")
    st = ev.check_and_decrement(pdb({"minAvailable": 1}, healthy_status(3, 1, 2)), "web-0", ts(3))
    assert st["disruptionsAllowed"] == 1 and "conditions" not in st  # condition only touched at 0
    dry = ev.check_and_decrement(pdb({"minAvailable": 1}, healthy_status(3, 1, 2)), "web-0", ts(3), dry_run=True)
    assert "disruptedPods" not in dry


@pytest.mark.parametrize("status,generation,code,message,cause,retry", [
    (healthy_status(2, 2, 0), 1, 429, ev.VIOLATION_MSG,
     "The disruption budget web needs 2 healthy pods and has 2 currently", None),
    (healthy_status(3, 2, 0), 1, 429, ev.VIOLATION_MSG,
     "The disruption budget web does not allow evicting pods currently", None),
    (healthy_status(3, 2, 0, conditions=[{"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed",
                                          "message": "found no controllers for pod \"x\""}]), 1, 429,
     ev.VIOLATION_MSG, "The disruption budget web does not allow evicting pods currently because it failed sync: "
                       "found no controllers for pod \"x\"", None),
    (healthy_status(3, 2, 1), 2, 429, ev.VIOLATION_MSG,
     "The disruption budget web is still being processed by the server.", "10"),
    (healthy_status(3, 2, -1), 1, 403, 'poddisruptionbudget.policy "web" is forbidden: pdb disruptions allowed is '
                                       'negative',
     "The disruption budget web does not allow evicting pods currently: pdb disruptions allowed is negative", None),
])
def test_check_and_decrement_refusals(status, generation, code, message, cause, retry):
    with pytest.raises(ApiError) as exc:
        ev.check_and_decrement(pdb({"minAvailable": 2}, status, generation=generation), "web-0", ts(0))
    err = exc.value
    assert err.code == code and err.message == message
    assert err.details["causes"] == [{"reason": "DisruptionBudget", "message": cause}]
    assert err.headers.get("Retry-After") == retry
    if code == 429:
        assert isinstance(err, TooManyRequests) and err.status()["reason"] == "TooManyRequests"
        assert err.details.get("retryAfterSeconds") == (10 if retry else None)
    else:
        assert isinstance(err, Forbidden)


def test_disruption_target_condition():
    p = pod()
    assert ev.disruption_target(p, ts(4)) is True
    c = p["status"]["conditions"][-1]
    assert c == {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "lastTransitionTime": ts(4),
                 "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}
    assert ev.disruption_target(p, ts(9)) is False  # already there: unchanged


@pytest.mark.parametrize("body,query_dry,want", [
    ({}, False, dict(grace_period=None, dry_run=False)),
    ({}, True, dict(dry_run=True)),
    ({"deleteOptions": {"gracePeriodSeconds": 5, "preconditions": {"uid": "u1", "resourceVersion": "9"},
                        "propagationPolicy": "Foreground"}}, False,
     dict(grace_period=5, precondition_uid="u1", precondition_rv="9", propagation="Foreground", dry_run=False)),
    ({"deleteOptions": {"dryRun": ["All"]}}, False, dict(dry_run=True)),
])
def test_delete_options(body, query_dry, want):
    opts = ev.delete_options(body, query_dry)
    for k, v in want.items():
        assert getattr(opts, k) == v


def test_delete_options_refusals():
    with pytest.raises(ApiError) as exc:
        ev.delete_options({"metadata": {"name": "p"},
                           "deleteOptions": {"ignoreStoreReadErrorWithClusterBreakingPotential": True}}, False)
    assert exc.value.code == 422
    assert "can not be set for pod eviction, try after removing the option" in exc.value.message
    with pytest.raises(ApiError) as exc:
        ev.delete_options({"deleteOptions": {"dryRun": ["Nope"]}}, True)
    assert exc.value.code == 500
    assert exc.value.message == "Non-matching dry-run options in request and content: [All] and [Nope]"


# -- PodChangeFilter: GetServicesToUpdateOnPodChange / podEndpointsChanged ----------------------
SERVICES = {"web": {"app": "web"}, "canary": {"track": "canary"}, "all-web": {"tier": "front"}}


def _memberships(labels):
    return {name for name, sel in SERVICES.items() if eu.selects(sel, labels)}


def _step(f, ev_type, p):
    return f.services(ev_type, p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["labels"], p,
                      _memberships)


@pytest.mark.parametrize("case, before, after, want", [
    ("binding or a status write endpoints do not show", pod(ip=None, ready=False, node=""),
     pod(ip=None, ready=False, node="n2", phase="Pending"), set()),
    ("the pod got its IP", pod(ip=None, ready=False), pod(ready=False), {"web"}),
    ("readiness flipped", pod(ready=False), pod(ready=True), {"web"}),
    ("the IP changed", pod(ip="10.0.0.1"), pod(ip="10.0.0.2"), {"web"}),
    ("deletion began", pod(), pod(deleting=True), {"web"}),
    ("only labels: the symmetric difference", pod(labels={"app": "web", "tier": "front"}),
     pod(labels={"app": "web", "track": "canary"}), {"canary", "all-web"}),
    ("labels and readiness: the union", pod(labels={"app": "web", "tier": "front"}, ready=False),
     pod(labels={"app": "web", "track": "canary"}), {"web", "canary", "all-web"}),
    ("hostname counts as a membership change", pod(), {**pod(), "spec": {**pod()["spec"], "hostname": "web-0"}},
     set()),
])
def test_pod_change_filter_queues_what_upstream_queues(case, before, after, want):
    f = eu.PodChangeFilter()
    assert _step(f, "ADDED", before) == _memberships(before["metadata"]["labels"])  # an add always queues
    assert _step(f, "MODIFIED", after) == want, case


def test_pod_change_filter_unseen_pods_and_deletes_always_queue():
    f = eu.PodChangeFilter()
    assert _step(f, "MODIFIED", pod()) == {"web"}  # never seen: counts as changed
    assert _step(f, "MODIFIED", pod()) == set()  # the same facts again
    assert _step(f, "DELETED", pod()) == {"web"}
    assert _step(f, "MODIFIED", pod()) == {"web"}  # forgotten with the delete


def test_pod_selections_follow_adds_deletes_and_relabels():
    from kubesim.store import Store

    store = Store()
    f = eu.PodChangeFilter()
    sel = eu.PodSelections(f)

    def write(ev_type, p):
        meta = p["metadata"]
        if ev_type == "ADDED":
            store.create("pods", meta["namespace"], meta["name"], p)
        elif ev_type == "MODIFIED":
            store.update("pods", meta["namespace"], meta["name"], p)
        else:
            store.delete("pods", meta["namespace"], meta["name"])
        _step(f, ev_type, p)

    def names():
        return [v["metadata"]["name"] for v in sel.views(store, "default", "web", {"app": "web"})]

    write("ADDED", pod("web-0"))
    write("ADDED", pod("other", labels={"app": "db"}))
    assert names() == ["web-0"]
    write("MODIFIED", pod("web-0", ready=False))  # not a membership change: names reused, object fresh
    assert names() == ["web-0"]
    assert not sel.views(store, "default", "web", {"app": "web"})[0]["status"]["conditions"][0]["status"] == "True"
    write("ADDED", pod("web-1"))
    assert names() == ["web-0", "web-1"]
    write("MODIFIED", pod("other", labels={"app": "web"}))  # relabelled into the Service
    assert names() == ["other", "web-0", "web-1"]
    write("DELETED", pod("web-0"))
    assert names() == ["other", "web-1"]
    assert sel.views(store, "default", "web", {"app": "db"}) == []  # another selector is another question
