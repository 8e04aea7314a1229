"""Node failure end to end (sim-fidelity.md §4): a real cluster on 127.0.0.1:0, real kubectl, the official client.

Profile ``instant`` (upstream / 100): node grace 0.5 s (50 s), monitor period 0.05 s (5 s), default
tolerations 3 s (300 s), eviction rate 10 nodes/s (0.1), pod GC every 0.2 s (20 s) with a 0.4 s
quarantine (40 s). Faults are injected through the control endpoint
``PUT /kubesim/v1/nodes/<node>/kubelet {"running": false}``; everything else is observed through
the Kubernetes API. kubesim's own kubelet (``kubesim.controllers.kubelet``) renews the Leases,
posts node status, runs the pods and finalizes terminating pods when it comes back.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.request
from typing import Any, Callable

import pytest

from kubesim.testing import Kubectl, running_cluster, eventually

PROFILE = "instant"
NS = "default"


def _real_kubelet(cluster: Any) -> bool:
    return any(k is not None for k in cluster.kubelets.values())


@pytest.fixture
def world(tmp_path):
    """(cluster, kubectl, official client) for 3 zones x ``nodes_per_zone`` nodes, profile instant."""
    def make(nodes_per_zone: int = 1, zones: list[str] | None = None):
        cm = running_cluster(str(tmp_path / f"c{len(made)}"), profile=PROFILE, nodes_per_zone=nodes_per_zone,
                             zones=zones, seed=7)
        c = cm.__enter__()
        made.append(cm)
        assert _real_kubelet(c), "kubesim.controllers.kubelet is missing: these scenarios need node agents"
        from kubernetes import config

        client = config.new_client_from_config(config_file=c.kubeconfig_path)
        clients.append(client)
        k = Kubectl(c.kubeconfig_path, str(tmp_path / f"kc{len(made)}"))
        wait_for(lambda: all(_ready(c, n) == "True" for n in _node_names(c)), 10, "nodes Ready")
        return c, k, client

    made: list[Any] = []
    clients: list[Any] = []
    yield make
    for cl in clients:
        cl.close()
    for cm in reversed(made):
        cm.__exit__(None, None, None)


# -- helpers ----------------------------------------------------------------------------------------------
def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    return eventually(what, pred, timeout=timeout, interval=interval)


def _node_names(c: Any) -> list[str]:
    return [e.name for e in c.store.list("nodes")[0]]


def _node(client: Any, name: str) -> Any:
    from kubernetes import client as k8s

    return k8s.CoreV1Api(client).read_node(name)


def _ready(c: Any, name: str) -> str | None:
    e = c.store.get("nodes", "", name)
    if e is None:
        return None
    return next((x["status"] for x in e.obj()["status"].get("conditions") or [] if x["type"] == "Ready"), None)


def _taints(client: Any, name: str) -> list[tuple[str, str]]:
    return sorted((t.key, t.effect) for t in _node(client, name).spec.taints or [])


def set_kubelet(c: Any, node: str, running: bool) -> dict:
    """The documented fault hook, over HTTPS with the cluster's own token."""
    ctx = ssl.create_default_context(cadata=c.creds.ca_pem.decode())
    req = urllib.request.Request(f"{c.url}/kubesim/v1/nodes/{node}/kubelet", method="PUT",
                                 data=json.dumps({"running": running}).encode(),
                                 headers={"Authorization": f"Bearer {c.creds.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())


def make_pod(client: Any, name: str, node: str, **spec: Any) -> Any:
    from kubernetes import client as k8s

    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "drill"}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}],
                     **spec}}
    return k8s.CoreV1Api(client).create_namespaced_pod(NS, body)


def read_pod(client: Any, name: str) -> Any:
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    try:
        return k8s.CoreV1Api(client).read_namespaced_pod(name, NS)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def pod_ready(p: Any) -> str | None:
    return next((x.status for x in p.status.conditions or [] if x.type == "Ready"), None)


def events(client: Any, reason: str, namespace: str = NS) -> list[Any]:
    from kubernetes import client as k8s

    return [e for e in k8s.CoreV1Api(client).list_namespaced_event(namespace).items if e.reason == reason]


def kubectl_status(k: Kubectl, kind: str, name: str) -> str:
    """The STATUS column of ``kubectl get <kind> <name>``."""
    out = k("get", kind, name, "--no-headers").split()
    return out[1] if kind.startswith("node") else out[2]


# -- scenarios --------------------------------------------------------------------------------------------
def test_node_lost_notready_taints_eviction_stays_terminating_then_recovers(world):
    c, k, client = world()
    t = c.timings
    grace, toleration = t.get("node_monitor_grace"), t.toleration_seconds()
    victim = _node_names(c)[0]
    make_pod(client, "web-0", victim, terminationGracePeriodSeconds=30)
    wait_for(lambda: (p := read_pod(client, "web-0")) and pod_ready(p) == "True", 10, "pod Ready")
    # DefaultTolerationSeconds admission, scaled with the profile (NL-07).
    tols = {(x.key, x.toleration_seconds) for x in read_pod(client, "web-0").spec.tolerations}
    assert {("node.kubernetes.io/not-ready", toleration), ("node.kubernetes.io/unreachable", toleration)} <= tols

    assert victim in set_kubelet(c, victim, False)["kubeletStopped"]
    t_stop = time.monotonic()
    wait_for(lambda: kubectl_status(k, "nodes", victim) == "NotReady", 10, "kubectl shows NotReady", 0.05)
    t_notready = time.monotonic() - t_stop
    # R (last renewal) is at most one renew period before the stop; Unknown lands in (R+grace, R+grace+2 periods].
    assert grace - t.get("lease_renew") <= t_notready <= grace + 2 * t.get("node_monitor_period") + 1.0

    n = _node(client, victim)
    for cnd in n.status.conditions:
        if cnd.type in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            assert (cnd.status, cnd.reason, cnd.message) == ("Unknown", "NodeStatusUnknown",
                                                              "Kubelet stopped posting node status.")
    wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in _taints(client, victim), 5, "NoExecute taint")
    t_taint = time.monotonic()
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in _taints(client, victim)
    assert all(tt.time_added is not None for tt in _node(client, victim).spec.taints)
    node_events = [e for e in events(client, "NodeNotReady") if e.involved_object.kind == "Node"
                   and e.involved_object.name == victim and e.source.component == "node-controller"]
    assert [e.message for e in node_events] == [f"Node {victim} status is now: NodeNotReady"]
    assert node_events[0].source.component == "node-controller"

    # NL-04: the pod's Ready condition goes False, the phase stays Running. kubectl's READY column
    # counts containerStatuses[].ready, which nobody updates on a dead node, so it still shows the
    # last value the kubelet posted (1/1 with kubesim's kubelet), STATUS Running.
    p = wait_for(lambda: (p := read_pod(client, "web-0")) and pod_ready(p) == "False" and p, 5, "pod NotReady")
    assert p.status.phase == "Running" and p.metadata.deletion_timestamp is None
    assert next(x for x in p.status.conditions if x.type == "ContainersReady").status == "True" or \
        not p.status.container_statuses
    row = k("get", "pod", "web-0", "--no-headers").split()
    ready_containers = sum(1 for cs in p.status.container_statuses or [] if cs.ready)
    assert row[1:3] == [f"{ready_containers}/1", "Running"]
    pod_events = [e for e in events(client, "NodeNotReady") if e.involved_object.kind == "Pod"]
    assert [(e.type, e.message) for e in pod_events] == [("Warning", "Node is not ready")]

    # NL-08: deleted once the 300 s (scaled) toleration has run out, counted from the NoExecute taint.
    p = wait_for(lambda: (p := read_pod(client, "web-0")) and p.metadata.deletion_timestamp and p,
                 toleration + 5, "eviction")
    waited = time.monotonic() - t_taint
    assert toleration - 0.3 <= waited <= toleration + 1.5
    dt = next(x for x in p.status.conditions if x.type == "DisruptionTarget")
    assert (dt.status, dt.reason, dt.message) == ("True", "DeletionByTaintManager",
                                                  "Taint manager: deleting due to NoExecute taint")
    assert p.metadata.deletion_grace_period_seconds == 30
    ev = events(client, "TaintManagerEviction")
    assert [e.message for e in ev] == ["Marking for deletion Pod default/web-0"]
    assert ev[0].source.component == "taint-eviction-controller"

    # NL-09: nobody confirms the deletion: Terminating for good (here: well past its 30 s grace, scaled).
    time.sleep(1.0)
    assert read_pod(client, "web-0") is not None
    assert kubectl_status(k, "pod", "web-0") == "Terminating"

    # NL-13: the kubelet comes back: Ready, taints removed, the terminating pod finalized.
    set_kubelet(c, victim, True)
    wait_for(lambda: kubectl_status(k, "nodes", victim) == "Ready", 10, "Ready again", 0.05)
    wait_for(lambda: not [x for x in _taints(client, victim) if x[0] in ("node.kubernetes.io/unreachable",
                                                                         "node.kubernetes.io/not-ready")],
             5, "taints removed")
    wait_for(lambda: read_pod(client, "web-0") is None, 10, "pod finalized by the kubelet")


def test_node_heals_before_the_toleration_runs_out(world):
    c, k, client = world()
    victim = _node_names(c)[1]
    make_pod(client, "web-1", victim)
    wait_for(lambda: (p := read_pod(client, "web-1")) and pod_ready(p) == "True", 10, "pod Ready")
    set_kubelet(c, victim, False)
    wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in _taints(client, victim), 10, "NoExecute")
    set_kubelet(c, victim, True)
    wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") not in _taints(client, victim), 5, "untainted")
    wait_for(lambda: [e for e in events(client, "TaintManagerEviction")
                      if e.message == "Cancelling deletion of Pod default/web-1"], 5, "cancel event")
    time.sleep(c.timings.toleration_seconds() + 0.5)
    p = read_pod(client, "web-1")
    assert p is not None and p.metadata.deletion_timestamp is None
    assert not [e for e in events(client, "TaintManagerEviction") if e.message.startswith("Marking")]


def test_deleted_node_pods_collected_by_podgc(world):
    c, k, client = world()
    from kubernetes import client as k8s, watch

    victim = _node_names(c)[2]
    make_pod(client, "orphan", victim)
    wait_for(lambda: (p := read_pod(client, "orphan")) and p.status.phase == "Running", 10, "pod Running")
    final: list[Any] = []

    def watcher() -> None:
        w = watch.Watch()
        for ev in w.stream(k8s.CoreV1Api(client).list_namespaced_pod, NS, field_selector="metadata.name=orphan",
                           timeout_seconds=15):
            if ev["type"] == "DELETED":
                final.append(ev["object"])
                w.stop()

    th = threading.Thread(target=watcher, daemon=True)
    th.start()
    time.sleep(0.2)
    set_kubelet(c, victim, False)  # the machine is gone: nothing re-registers the Node
    k("delete", "node", victim)
    t_del = time.monotonic()
    wait_for(lambda: read_pod(client, "orphan") is None, 10, "orphan collected")
    took = time.monotonic() - t_del
    t = c.timings
    assert t.get("podgc_quarantine") <= took <= t.get("podgc_quarantine") + 2 * t.get("podgc_period") + 1.0
    th.join(10)
    assert final, "no DELETED event"
    last = final[0]
    assert last.status.phase == "Failed"
    dt = next(x for x in last.status.conditions if x.type == "DisruptionTarget")
    assert (dt.status, dt.reason, dt.message) == ("True", "DeletionByPodGC", "PodGC: node no longer exists")
    wait_for(lambda: f"Node {victim} event: Removing Node {victim} from Controller" in
             [e.message for e in events(client, "RemovingNode")], 5, "RemovingNode event")


def test_out_of_service_taint_force_deletes_terminating_pods(world):
    c, k, client = world()
    victim = _node_names(c)[0]
    make_pod(client, "stuck", victim)
    wait_for(lambda: (p := read_pod(client, "stuck")) and pod_ready(p) == "True", 10, "pod Ready")
    set_kubelet(c, victim, False)
    wait_for(lambda: ("node.kubernetes.io/unreachable", "NoExecute") in _taints(client, victim), 10, "NoExecute")
    t0 = time.monotonic()
    k("taint", "nodes", victim, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
    # Untolerated NoExecute taint: the deletion scheduled for the unreachable taint is cancelled and the
    # pod evicted at once (Terminating); PodGC's gcTerminating then force deletes it (NotReady + taint).
    wait_for(lambda: read_pod(client, "stuck") is None, 5, "force deleted")
    assert time.monotonic() - t0 < c.timings.toleration_seconds()
    assert [e.message for e in events(client, "TaintManagerEviction")] == [
        "Cancelling deletion of Pod default/stuck", "Marking for deletion Pod default/stuck"]


def test_all_nodes_down_never_evicts(world):
    """NL-06: 3 zones x 1 node, all die: master disruption mode, no NoExecute taints, no evictions."""
    c, k, client = world()
    names = _node_names(c)
    for i, n in enumerate(names):
        make_pod(client, f"p{i}", n)
    wait_for(lambda: all((p := read_pod(client, f"p{i}")) and pod_ready(p) == "True" for i in range(len(names))),
             10, "pods Ready")
    for n in names:
        set_kubelet(c, n, False)
    wait_for(lambda: all(_ready(c, n) == "Unknown" for n in names), 10, "all NotReady")
    time.sleep(c.timings.toleration_seconds() + 1.0)
    for i in range(len(names)):
        p = read_pod(client, f"p{i}")
        assert p is not None and p.metadata.deletion_timestamp is None
    for n in names:
        assert ("node.kubernetes.io/unreachable", "NoExecute") not in _taints(client, n)
        assert ("node.kubernetes.io/unreachable", "NoSchedule") in _taints(client, n)
    assert not [e for e in events(client, "TaintManagerEviction") if e.message.startswith("Marking")]
    # One zone back: out of master disruption mode; the other two zones are fully disrupted and
    # get the normal rate again, so their pods are evicted after the toleration.
    set_kubelet(c, names[0], True)
    wait_for(lambda: _ready(c, names[0]) == "True", 10, "one node back")
    wait_for(lambda: all(("node.kubernetes.io/unreachable", "NoExecute") in _taints(client, n) for n in names[1:]),
             10, "tainting resumed")
    wait_for(lambda: all((p := read_pod(client, f"p{i}")) is None or p.metadata.deletion_timestamp
                         for i in (1, 2)), c.timings.toleration_seconds() + 5, "evictions after recovery")
