"""Instance faults reaching the nodes, and a sandbox that comes back the same after ``down`` + ``up``.

Against a sandbox of its own with the ``instant`` profile (every upstream duration x 0.01):
node grace 50 s -> 0.5 s, eviction toleration 300 s -> 3 s. Faults are made the way a user
makes them, through boto3 against the sandbox's AWS endpoint (issue 4; sim-fidelity AWS-03,
NL-02, NL-08, NL-09).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from kubernetes import client as k8s
from kubernetes import config, watch
from kubernetes.client.rest import ApiException

from kubekit import sandbox
from kubesim.testing import Kubectl, eventually

SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"
ZONE = "topology.kubernetes.io/zone"
GRACE = 0.5  # node_monitor_grace 50 s x 0.01
TOLERATION = 3.0  # default_toleration_seconds 300 s x 0.01


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    return eventually(what, fn, timeout=timeout, interval=interval)


@dataclass
class World:
    home: Path
    info: sandbox.SandboxInfo
    api: Any
    kubectl: Kubectl

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    def ec2(self) -> Any:
        return boto3.client("ec2", region_name="us-east-1", endpoint_url=self.info.endpoint,
                            aws_access_key_id="kubekit-sandbox", aws_secret_access_key="kubekit-sandbox")

    def node(self, name: str) -> Any | None:
        try:
            return self.core.read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def nodes_in(self, zone: str) -> list[Any]:
        return sorted((n for n in self.core.list_node().items if (n.metadata.labels or {}).get(ZONE) == zone),
                      key=lambda n: n.metadata.name)

    def pod(self, ns: str, name: str) -> Any | None:
        try:
            return self.core.read_namespaced_pod(name, ns)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise


def ready(node: Any) -> str:
    return next((c.status for c in (node.status.conditions or []) if c.type == "Ready"), "Unknown")


def taints(node: Any) -> set[str]:
    return {t.key for t in node.spec.taints or []}


def instance_id(node: Any) -> str:
    return node.spec.provider_id.rsplit("/", 1)[-1]


def pod_ready(pod: Any) -> bool:
    return bool(pod and pod.status.phase == "Running"
                and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []))


def connect(info: sandbox.SandboxInfo) -> Any:
    return config.new_client_from_config(config_file=info.kubeconfig, context="sandbox")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("faults-home")
    info = sandbox.up(home=home, profile="instant")
    api = connect(info)
    w = World(home, info, api, Kubectl(info.kubeconfig, str(tmp_path_factory.mktemp("kubectl-cache"))))
    try:
        yield w
    finally:
        w.api.close()
        sandbox.down(home=home)


def statefulset(name: str, *, node: str | None = None, claim: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}
    if claim:
        spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        sts["spec"]["volumeClaimTemplates"] = [{
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return sts


# -- stop / start ----------------------------------------------------------------------------

def test_stopping_an_instance_stops_its_kubelet_and_starting_it_brings_the_node_back(world: World) -> None:
    node = world.nodes_in("us-east-1a")[0]
    name, iid = node.metadata.name, instance_id(node)
    coord = k8s.CoordinationV1Api(world.api)
    wait_for("the node Ready", lambda: ready(world.node(name)) == "True")

    world.ec2().stop_instances(InstanceIds=[iid])
    stopped_at = time.monotonic()
    wait_for("the node NotReady", lambda: ready(world.node(name)) != "True", timeout=20)
    not_ready_after = time.monotonic() - stopped_at
    # The kubelet stopped: its lease is no longer renewed (renewals every 0.1 s while it runs).
    renew = coord.read_namespaced_lease(name, "kube-node-lease").spec.renew_time
    time.sleep(0.5)
    assert coord.read_namespaced_lease(name, "kube-node-lease").spec.renew_time == renew
    # NotReady only after the scaled grace since the last renewal (NL-02), not before.
    assert not_ready_after >= GRACE * 0.8, not_ready_after
    got = world.node(name)
    assert ready(got) == "Unknown"
    assert next(c.reason for c in got.status.conditions if c.type == "Ready") == "NodeStatusUnknown"
    # The cloud node controller marks it shut down (AWS-03) and does not delete it.
    wait_for("the shutdown taint", lambda: SHUTDOWN in taints(world.node(name)), timeout=10)
    shutdown = next(t for t in world.node(name).spec.taints if t.key == SHUTDOWN)
    assert shutdown.effect == "NoSchedule"
    assert {"node.kubernetes.io/unreachable"} <= taints(world.node(name))
    out = world.kubectl("get", "node", name, "--no-headers")
    assert out.split()[1] == "NotReady"
    time.sleep(4 * GRACE)
    assert world.node(name) is not None  # a stopped instance's node stays
    state = world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "stopped"

    world.ec2().start_instances(InstanceIds=[iid])
    wait_for("the node Ready again", lambda: ready(world.node(name)) == "True", timeout=20)
    wait_for("the taints gone", lambda: not taints(world.node(name)) & {SHUTDOWN, "node.kubernetes.io/unreachable"},
             timeout=10)
    assert coord.read_namespaced_lease(name, "kube-node-lease").spec.renew_time > renew
    assert instance_id(world.node(name)) == iid  # the same machine, the same Node


# -- terminate -------------------------------------------------------------------------------

def test_terminating_an_instance_deletes_its_node_after_notready_and_the_group_replaces_it(world: World) -> None:
    zone = "us-east-1b"
    before = world.nodes_in(zone)
    victim = before[0]
    name, iid = victim.metadata.name, instance_id(victim)
    ns = "terminated-node"
    world.core.create_namespace({"metadata": {"name": ns}})
    k8s.AppsV1Api(world.api).create_namespaced_stateful_set(ns, statefulset("doomed", node=name))
    pet = wait_for("the pet Running", lambda: (p := world.pod(ns, "doomed-0")) and pod_ready(p) and p, timeout=30)
    seen: list[tuple[str, str]] = []  # (event type, Ready status) of the victim, in order
    started = threading.Event()
    w = watch.Watch()

    def follow() -> None:
        rv = world.core.list_node().metadata.resource_version
        started.set()
        for ev in w.stream(world.core.list_node, resource_version=rv, timeout_seconds=60):
            obj = ev["object"]
            if obj.metadata.name == name:
                seen.append((ev["type"], ready(obj)))
                if ev["type"] == "DELETED":
                    return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    started.wait(10)
    world.ec2().terminate_instances(InstanceIds=[iid])
    wait_for("the node deleted", lambda: world.node(name) is None, timeout=30)
    t.join(10)
    w.stop()
    assert seen and seen[-1][0] == "DELETED", seen
    # Deleted only after it went NotReady (AWS-03: the lifecycle loop looks at not-Ready nodes only).
    assert any(kind == "MODIFIED" and status != "True" for kind, status in seen[:-1]), seen
    events = world.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
    assert any(e.reason == "DeletingNode" and "does not exist in the cloud provider" in e.message for e in events)

    # The node group launches a replacement in the same zone; it registers as a new Node there.
    def replaced() -> list[Any]:
        nodes = [n for n in world.nodes_in(zone) if n.metadata.name != name and ready(n) == "True"]
        return nodes if len(nodes) == len(before) else []

    now = wait_for("a replacement Ready in the zone", replaced, timeout=30)
    new = [n for n in now if n.metadata.name not in {b.metadata.name for b in before}]
    assert len(new) == 1
    fresh = new[0]
    assert fresh.spec.provider_id.startswith(f"aws:///{zone}/i-") and instance_id(fresh) != iid
    assert fresh.metadata.labels["eks.amazonaws.com/nodegroup"] == victim.metadata.labels["eks.amazonaws.com/nodegroup"]
    inst = world.ec2().describe_instances(InstanceIds=[instance_id(fresh)])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "running" and inst["Placement"]["AvailabilityZone"] == zone
    assert len(world.core.list_node().items) == 6
    # The pet on the deleted node is garbage-collected (PodGC, orphaned pod) and made again; pinned to a
    # node that no longer exists, the new one waits Pending.
    again = wait_for("a new doomed-0", lambda: (p := world.pod(ns, "doomed-0")) and p.metadata.uid != pet.metadata.uid
                     and p, timeout=30)
    assert again.status.phase == "Pending" and not again.spec.node_name
    world.core.delete_namespace(ns)


# -- pods on a stopped node ------------------------------------------------------------------

def test_pods_on_a_stopped_node_are_evicted_after_the_toleration_and_left_terminating(world: World) -> None:
    ns = "stopped-node"
    world.core.create_namespace({"metadata": {"name": ns}})
    node = world.nodes_in("us-east-1c")[0]
    name, iid = node.metadata.name, instance_id(node)
    k8s.AppsV1Api(world.api).create_namespaced_stateful_set(ns, statefulset("pinned", node=name))
    pod = wait_for("the pet Running", lambda: (p := world.pod(ns, "pinned-0")) and pod_ready(p) and p, timeout=30)
    uid = pod.metadata.uid
    assert pod.spec.node_name == name
    tolerations = {t.key: t.toleration_seconds for t in pod.spec.tolerations if t.effect == "NoExecute"}
    assert tolerations["node.kubernetes.io/unreachable"] == TOLERATION

    world.ec2().stop_instances(InstanceIds=[iid])
    wait_for("the node NotReady", lambda: ready(world.node(name)) != "True", timeout=20)
    tainted = wait_for("the NoExecute taint", lambda: next(
        (t for t in world.node(name).spec.taints or [] if t.key == "node.kubernetes.io/unreachable"
         and t.effect == "NoExecute"), None), timeout=10)
    # Marked NotReady at once (NL-04), evicted after the toleration (NL-08).
    wait_for("the pod NotReady", lambda: not pod_ready(world.pod(ns, "pinned-0")), timeout=10)
    evicted = wait_for("the eviction", lambda: (p := world.pod(ns, "pinned-0")) and p.metadata.deletion_timestamp
                       and p, timeout=30)
    delay = (evicted.metadata.deletion_timestamp - tainted.time_added).total_seconds()
    # deletionTimestamp = eviction time + the pod's grace period (30 s recorded, as the API does).
    grace = evicted.metadata.deletion_grace_period_seconds
    assert TOLERATION - 1.0 <= delay - grace <= TOLERATION + 15.0, (delay, grace)  # never before it
    target = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason) == ("True", "DeletionByTaintManager")
    # Nobody finishes the deletion while the kubelet is gone (NL-09): the pet stays Terminating,
    # and the StatefulSet cannot make a new pinned-0.
    time.sleep(2 * TOLERATION)
    still = world.pod(ns, "pinned-0")
    assert still is not None and still.metadata.uid == uid and still.metadata.deletion_timestamp
    out = world.kubectl("get", "pod", "pinned-0", "-n", ns, "--no-headers")
    assert "Terminating" in out

    # Power back on: the rebooted kubelet finishes the deletion, the pet comes back on its node.
    world.ec2().start_instances(InstanceIds=[iid])
    back = wait_for("a new pinned-0 Running", lambda: (p := world.pod(ns, "pinned-0")) and p.metadata.uid != uid
                    and pod_ready(p) and p, timeout=45)
    assert back.spec.node_name == name
    world.core.delete_namespace(ns)


# -- persistence -----------------------------------------------------------------------------

def test_down_and_up_brings_back_clusters_objects_volume_data_and_node_names(world: World) -> None:
    ns = "keep"
    core, apps = world.core, k8s.AppsV1Api(world.api)
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "settings"}, "data": {"colour": "blue"}})
    apps.create_namespaced_stateful_set(ns, statefulset("db", claim=True))
    pod = wait_for("db-0 Running", lambda: (p := world.pod(ns, "db-0")) and pod_ready(p) and p, timeout=45)
    world.kubectl("exec", "-n", ns, "db-0", "--", "sh", "-c", "echo persisted > /data/note.txt")
    pvc = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    on_disk = [p for p in (world.home / "clusters").rglob("note.txt")]
    assert len(on_disk) == 1 and on_disk[0].read_text() == "persisted\n"
    assert pv.spec.csi.volume_handle in str(on_disk[0])
    nodes = sorted(n.metadata.name for n in core.list_node().items)
    # One machine is off when the sandbox stops; it stays off after (no kubelet boots there, even briefly).
    off = next(n for n in core.list_node().items
               if n.metadata.labels[ZONE] != world.node(pod.spec.node_name).metadata.labels[ZONE])
    world.ec2().stop_instances(InstanceIds=[instance_id(off)])
    wait_for("the shutdown taint", lambda: SHUTDOWN in taints(world.node(off.metadata.name)), timeout=20)
    coord = k8s.CoordinationV1Api(world.api)
    renewed = coord.read_namespaced_lease(off.metadata.name, "kube-node-lease").spec.renew_time
    eks = boto3.client("eks", region_name="us-east-1", endpoint_url=world.info.endpoint,
                       aws_access_key_id="kubekit-sandbox", aws_secret_access_key="kubekit-sandbox")
    clusters = eks.list_clusters()["clusters"]
    endpoint = eks.describe_cluster(name="sandbox")["cluster"]["endpoint"]
    old_pid = world.info.pid

    world.api.close()
    assert sandbox.down(home=world.home) is True
    info = sandbox.up(home=world.home, profile="instant")
    assert info.pid != old_pid
    world.info, world.api = info, connect(info)
    core, apps = world.core, k8s.AppsV1Api(world.api)
    eks = boto3.client("eks", region_name="us-east-1", endpoint_url=info.endpoint,
                       aws_access_key_id="kubekit-sandbox", aws_secret_access_key="kubekit-sandbox")
    assert eks.list_clusters()["clusters"] == clusters
    # The API server comes back at the same address, so kubeconfigs made before stay valid.
    assert eks.describe_cluster(name="sandbox")["cluster"]["endpoint"] == endpoint
    assert sorted(n.metadata.name for n in core.list_node().items) == nodes
    wait_for("every running node Ready", lambda: all(ready(n) == "True" for n in core.list_node().items
                                                      if n.metadata.name != off.metadata.name), timeout=30)
    got = world.node(off.metadata.name)
    assert ready(got) != "True" and SHUTDOWN in taints(got)
    coord = k8s.CoordinationV1Api(world.api)
    assert coord.read_namespaced_lease(off.metadata.name, "kube-node-lease").spec.renew_time == renewed
    assert core.read_namespaced_config_map("settings", ns).data == {"colour": "blue"}
    assert apps.read_namespaced_stateful_set("db", ns).spec.replicas == 1
    again = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
    assert (again.status.phase, again.spec.volume_name, again.metadata.uid) == ("Bound", pv.metadata.name,
                                                                                 pvc.metadata.uid)
    back = wait_for("db-0 Running again", lambda: (p := world.pod(ns, "db-0")) and pod_ready(p) and p, timeout=45)
    assert back.spec.node_name == pod.spec.node_name  # its volume is in that zone
    assert world.kubectl("exec", "-n", ns, "db-0", "--", "cat", "/data/note.txt") == "persisted\n"
    world.ec2().start_instances(InstanceIds=[instance_id(off)])
    wait_for("the stopped node back", lambda: ready(world.node(off.metadata.name)) == "True", timeout=30)
