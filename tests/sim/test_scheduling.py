"""The scheduler end to end: a real cluster on 127.0.0.1:0 (profile ``instant``), real kubectl, the official client.

Test pods tolerate the node-health taints (``unreachable`` / ``not-ready``) so that these tests
exercise the scheduler whether or not the simulated kubelet keeps the nodes Ready.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.rest import ApiException

from kubesim.testing import Kubectl, running_cluster, eventually

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
HEALTH_TOLERATIONS = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
                      {"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(str(tmp_path_factory.mktemp("sched")), zones=ZONES, nodes_per_zone=2, profile="instant",
                         seed=7) as c:
        yield c


@pytest.fixture(scope="module")
def kubectl(cluster, tmp_path_factory):
    return Kubectl(cluster.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-cache")))


@pytest.fixture(scope="module")
def core(cluster):
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig_path)
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


@pytest.fixture
def ns(kubectl):
    name = "sched-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", name)
    return name


def pod_manifest(name, ns, cpu="100m", labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
                     "tolerations": HEALTH_TOLERATIONS, **spec}}


def apply(kubectl, *objs):
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def wait_for(fn, timeout=15.0, interval=0.05):
    return eventually("condition", fn, timeout=timeout, interval=interval)


def node_of(kubectl, ns, name):
    out = kubectl("get", "pod", name, "-n", ns, "-o", "wide", "--no-headers")
    cols = out.split()
    # NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES
    return cols[6] if len(cols) >= 7 and cols[6] != "<none>" else None


def test_pods_land_on_nodes(kubectl, ns):
    apply(kubectl, *[pod_manifest(f"web-{i}", ns) for i in range(4)])
    nodes = {f"web-{i}": wait_for(lambda i=i: node_of(kubectl, ns, f"web-{i}")) for i in range(4)}
    assert all(n.startswith("us-east-1") for n in nodes.values())
    wide = kubectl("get", "pods", "-n", ns, "-o", "wide")
    assert wide.splitlines()[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    pod = json.loads(kubectl("get", "pod", "web-0", "-n", ns, "-o", "json"))
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert scheduled[0]["status"] == "True"
    events = json.loads(kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=web-0",
                                "-o", "json"))["items"]
    ok = [e for e in events if e["reason"] == "Scheduled"]
    assert ok and ok[0]["type"] == "Normal" and ok[0]["reportingComponent"] == "default-scheduler"
    assert ok[0]["message"] == f"Successfully assigned {ns}/web-0 to {nodes['web-0']}"


def test_cordon_all_but_one(cluster, kubectl, ns):
    names = [n["metadata"]["name"] for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]]
    keep = "us-east-1b-node-2"
    cordoned = [n for n in names if n != keep]
    try:
        for n in cordoned:
            kubectl("cordon", n)
        apply(kubectl, *[pod_manifest(f"only-{i}", ns) for i in range(3)])
        for i in range(3):
            assert wait_for(lambda i=i: node_of(kubectl, ns, f"only-{i}")) == keep
        # With the last node cordoned too, a new pod waits with the upstream message ...
        kubectl("cordon", keep)
        apply(kubectl, pod_manifest("waiting", ns))
        msg = wait_for(lambda: failed_scheduling(kubectl, ns, "waiting"))
        assert msg == ("0/6 nodes are available: 6 node(s) were unschedulable. preemption: 0/6 nodes are available: "
                       "6 Preemption is not helpful for scheduling.")
        # ... and is placed as soon as a node comes back (a node update wakes it, no flush needed).
        kubectl("uncordon", "us-east-1c-node-1")
        assert wait_for(lambda: node_of(kubectl, ns, "waiting"), timeout=5) == "us-east-1c-node-1"
    finally:
        for n in names:
            kubectl("uncordon", n)


def failed_scheduling(kubectl, ns, name):
    events = json.loads(kubectl("get", "events", "-n", ns, "--field-selector",
                                f"involvedObject.name={name},reason=FailedScheduling", "-o", "json"))["items"]
    return events[-1]["message"] if events else None


def test_too_big_pod_stays_pending_with_the_upstream_message(kubectl, ns):
    apply(kubectl, pod_manifest("huge", ns, cpu="64"))
    want = ("0/6 nodes are available: 6 Insufficient cpu. preemption: 0/6 nodes are available: "
            "6 No preemption victims found for incoming pod.")
    assert wait_for(lambda: failed_scheduling(kubectl, ns, "huge")) == want
    described = kubectl("describe", "pod", "huge", "-n", ns)
    line = next(ln for ln in described.splitlines() if "FailedScheduling" in ln)
    assert line.split()[0] == "Warning" and "default-scheduler" in line
    assert line.rstrip().endswith(want)
    pod = json.loads(kubectl("get", "pod", "huge", "-n", ns, "-o", "json"))
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
    status = kubectl("get", "pod", "huge", "-n", ns, "--no-headers").split()[2]
    assert status == "Pending"


def test_topology_spread_across_three_zones(cluster, kubectl, ns):
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "spread"}}}]
    pods = [pod_manifest(f"spread-{i}", ns, labels={"app": "spread"}, topologySpreadConstraints=spread)
            for i in range(6)]
    apply(kubectl, *pods)
    nodes = [wait_for(lambda i=i: node_of(kubectl, ns, f"spread-{i}")) for i in range(6)]
    zones = [n.rsplit("-node-", 1)[0] for n in nodes]
    assert sorted(zones) == sorted(ZONES * 2)


def test_anti_affinity_on_hostname(kubectl, ns):
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    apply(kubectl, *[pod_manifest(f"db-{i}", ns, labels={"app": "db"}, affinity=anti) for i in range(7)])
    placed = [wait_for(lambda i=i: node_of(kubectl, ns, f"db-{i}") or failed_scheduling(kubectl, ns, f"db-{i}"))
              for i in range(7)]
    nodes = [p for p in placed if p.startswith("us-east-1")]
    assert len(nodes) == 6 and len(set(nodes)) == 6
    assert [p for p in placed if not p.startswith("us-east-1")] == [
        "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules. preemption: 0/6 nodes are "
        "available: 6 No preemption victims found for incoming pod."]


def test_missing_claim_is_a_prefilter_message(kubectl, ns):
    p = pod_manifest("needs-claim", ns, volumes=[{"name": "data",
                                                  "persistentVolumeClaim": {"claimName": "data-web-0"}}])
    apply(kubectl, p)
    assert wait_for(lambda: failed_scheduling(kubectl, ns, "needs-claim")) == (
        '0/6 nodes are available: persistentvolumeclaim "data-web-0" not found. preemption: 0/6 nodes are '
        "available: 6 Preemption is not helpful for scheduling.")


def test_claim_created_later_wakes_the_pod(kubectl, ns):
    """A PVC event moves the pod out of the unschedulable pool (no 5-minute flush needed)."""
    p = pod_manifest("late-claim", ns, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "late"}}])
    apply(kubectl, p)
    wait_for(lambda: failed_scheduling(kubectl, ns, "late-claim"))
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "late", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    apply(kubectl, claim)
    assert wait_for(lambda: node_of(kubectl, ns, "late-claim"), timeout=10)


def test_static_volume_for_wait_for_first_consumer(cluster, kubectl, ns):
    """A pre-created local PV: the scheduler picks its node and pre-binds it (claimRef)."""
    cls = "local-" + ns
    objs = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": cls},
         "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": cls + "-pv"},
         "spec": {"storageClassName": cls, "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                  "hostPath": {"path": "/tmp/" + cls},
                  "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                      {"key": "kubernetes.io/hostname", "operator": "In", "values": ["us-east-1b-node-1"]}]}]}}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "local", "namespace": ns},
         "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "1Gi"}}}},
        pod_manifest("local-user", ns, volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "local"}}]),
    ]
    apply(kubectl, *objs)
    assert wait_for(lambda: node_of(kubectl, ns, "local-user")) == "us-east-1b-node-1"
    pv = json.loads(kubectl("get", "pv", cls + "-pv", "-o", "json"))
    assert pv["spec"]["claimRef"]["name"] == "local" and pv["spec"]["claimRef"]["namespace"] == ns
    # A second claim of the class finds no volume anywhere: the VolumeBinding reason on every node.
    objs[2]["metadata"]["name"] = "local-2"
    objs[3] = pod_manifest("local-user-2", ns, volumes=[{"name": "d", "persistentVolumeClaim": {"claimName":
                                                                                             "local-2"}}])
    apply(kubectl, objs[2], objs[3])
    assert wait_for(lambda: failed_scheduling(kubectl, ns, "local-user-2")) == (
        "0/6 nodes are available: 6 node(s) didn't find available persistent volumes to bind. preemption: 0/6 "
        "nodes are available: 6 Preemption is not helpful for scheduling.")
    kubectl("delete", "pod", "--all", "-n", ns, "--grace-period=0", "--force")
    kubectl("delete", "pvc", "--all", "-n", ns, "--wait=false")


def test_wait_for_first_consumer_claim_follows_the_pod(cluster, kubectl, ns):
    if not any(type(c).__name__ == "VolumeController" for c in cluster.controllers):
        pytest.skip("the volume controller is not part of this tree yet")
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    p = pod_manifest("with-volume", ns, nodeSelector={"topology.kubernetes.io/zone": "us-east-1c"},
                     volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    apply(kubectl, claim, p)
    node = wait_for(lambda: node_of(kubectl, ns, "with-volume"))
    assert node.startswith("us-east-1c")
    pvc = json.loads(kubectl("get", "pvc", "data", "-n", ns, "-o", "json"))
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    assert pvc["status"]["phase"] == "Bound"
    pv = json.loads(kubectl("get", "pv", pvc["spec"]["volumeName"], "-o", "json"))
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["us-east-1c"]
    # The pet comes back after deletion: its bound volume pins the zone.
    kubectl("delete", "pod", "with-volume", "-n", ns, "--grace-period=0", "--force")
    p["spec"].pop("nodeSelector")
    apply(kubectl, p)
    assert wait_for(lambda: node_of(kubectl, ns, "with-volume")).startswith("us-east-1c")


def test_kubectl_create_binding(cluster, kubectl, core, ns):
    # A pod for another scheduler: the default scheduler leaves it alone; a Binding places it.
    apply(kubectl, pod_manifest("manual", ns, schedulerName="my-scheduler"))
    time.sleep(0.2)
    assert node_of(kubectl, ns, "manual") is None
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "manual", "namespace": ns},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "us-east-1a-node-1"}}
    # kubectl looks for the field-validation support of kind Binding in the OpenAPI v3 document (only
    # PATCH operations carry it, and bindings have none), then falls back to /openapi/v2, which kubesim
    # does not serve yet: hence --validate=false (a real cluster only logs a warning here).
    out = kubectl("create", "--validate=false", "-f", "-", input=yaml.safe_dump(binding))
    # The API server answers with a Status, so kubectl prints what a real cluster makes it print.
    assert out == "status/<unknown> created\n"
    assert node_of(kubectl, ns, "manual") == "us-east-1a-node-1"
    pod = core.read_namespaced_pod("manual", ns)
    assert [c.status for c in pod.status.conditions if c.type == "PodScheduled"] == ["True"]
    # The pods/binding subresource through the official client: a second binding is a 409.
    body = k8s.V1Binding(metadata=k8s.V1ObjectMeta(name="manual"),
                         target=k8s.V1ObjectReference(kind="Node", name="us-east-1b-node-1"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod_binding("manual", ns, body, _preload_content=False)
    assert exc.value.status == 409
    status = json.loads(exc.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on pods/binding "manual": pod manual is already '
                                 'assigned to node "us-east-1a-node-1"')
    # And a first one succeeds with 201 and a Success Status.
    apply(kubectl, pod_manifest("manual-2", ns, schedulerName="my-scheduler"))
    body.metadata.name = "manual-2"
    resp = core.create_namespaced_pod_binding("manual-2", ns, body, _preload_content=False)
    assert resp.status == 201
    assert json.loads(resp.data) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                     "code": 201}
    assert node_of(kubectl, ns, "manual-2") == "us-east-1b-node-1"
    # The legacy collection (create_namespaced_binding posts to namespaces/<ns>/bindings).
    apply(kubectl, pod_manifest("manual-4", ns, schedulerName="my-scheduler"))
    body.metadata.name = "manual-4"
    resp = core.create_namespaced_binding(ns, body, _preload_content=False)
    assert resp.status == 201
    assert node_of(kubectl, ns, "manual-4") == "us-east-1b-node-1"
    # Name mismatch: 400.
    body.metadata.name = "manual-2"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod_binding("manual-3", ns, body, _preload_content=False)
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["message"] == "name in URL does not match name in Binding object"


def test_bindings_in_discovery(kubectl):
    rows = [ln.split() for ln in kubectl("api-resources", "--api-group=", "--no-headers").splitlines()]
    row = next(r for r in rows if r[0] == "bindings")
    assert row[-2:] == ["true", "Binding"]


def test_message_follows_the_emulated_version(tmp_path):
    """--k8s-version 1.35: the V3 taint wording and the V12 DynamicResources PostFilter prefix."""
    with running_cluster(str(tmp_path), zones=["us-east-1a"], nodes_per_zone=1, profile="instant",
                         k8s_version="1.35") as c:
        k = Kubectl(c.kubeconfig_path, str(tmp_path / "cache"))
        k("taint", "node", "us-east-1a-node-1", "dedicated=db:NoSchedule")
        apply(k, pod_manifest("tainted", "default"))
        assert wait_for(lambda: failed_scheduling(k, "default", "tainted")) == (
            "0/1 nodes are available: 1 node(s) had untolerated taint(s). no new claims to deallocate, preemption: "
            "0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


def test_spread_counts_pods_whose_claims_are_still_binding(cluster, kubectl, ns):
    """Parallel pets with WaitForFirstConsumer claims: a pod assumed on a node while its
    claim is provisioned still counts for topology spread (the cache's AssumePod), even when
    a PVC event rebuilds the scheduler's snapshot in between (kubernetes/kubernetes
    pkg/scheduler/internal/cache/cache.go AssumePod; the assumed pod stays in the cache
    until the bind is confirmed or the assumption expires)."""
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "pets"}}}]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pets", "namespace": ns},
           "spec": {"serviceName": "pets", "replicas": 3, "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": {"app": "pets"}},
                    "template": {"metadata": {"labels": {"app": "pets"}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                          "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                          "topologySpreadConstraints": spread, "tolerations": HEALTH_TOLERATIONS}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                              "spec": {"accessModes": ["ReadWriteOnce"],
                                                       "resources": {"requests": {"storage": "1Gi"}}}}]}}
    apply(kubectl, sts)
    nodes = [wait_for(lambda i=i: node_of(kubectl, ns, f"pets-{i}"), timeout=30) for i in range(3)]
    assert sorted(n.rsplit("-node-", 1)[0] for n in nodes) == ZONES, nodes
