"""Zonal EBS-like volumes end to end, through real kubectl and the official client (profile ``instant``).

A pet's data is a real directory (``kubesim.storage.volume_dir``): it outlives the pod, goes with a
``Delete`` volume and stays with a ``Retain`` one. WaitForFirstConsumer waits for the scheduler's
``volume.kubernetes.io/selected-node`` (set here by hand: pods with ``spec.nodeName`` bypass the
scheduler, exactly as upstream, where such a claim would wait forever). Attach/detach: Multi-Attach
on a second node until the 6-minute force detach (3.6 s at 1/100) or the out-of-service taint.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest
from kubernetes import client as k8s
from kubernetes import config

from kubesim import storage
from kubesim.controllers import attachdetach as ad
from kubesim.controllers import volumes as vol
from kubesim.testing import Kubectl, running_cluster, eventually

NODE_A, NODE_B = "us-east-1b-node-1", "us-east-1b-node-2"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(str(tmp_path_factory.mktemp("vol")), profile="instant", nodes_per_zone=2, seed=7) as c:
        yield c


@pytest.fixture(scope="module")
def kubectl(cluster, tmp_path_factory):
    return Kubectl(cluster.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-cache")))


@pytest.fixture(scope="module")
def core(cluster):
    api = config.new_client_from_config(config_file=cluster.kubeconfig_path)
    yield k8s.CoreV1Api(api)
    api.close()


@pytest.fixture
def ns(core, request):
    name = "v-" + request.node.name.replace("_", "-")[5:40].strip("-").lower()
    core.create_namespace({"metadata": {"name": name}})
    return name


def wait_for(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    return eventually(what, fn, timeout=timeout)


def pvc_yaml(name: str, cls: str | None = None, size: str = "1Gi") -> str:
    cls_line = f"\n  storageClassName: {cls}" if cls else ""
    return f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}{cls_line}
"""


def pod_yaml(name: str, claim: str, node: str) -> str:
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
"""


def select_node(core, ns: str, claim: str, node: str) -> None:
    """What the scheduler's VolumeBinding plugin does for a WaitForFirstConsumer claim."""
    pvc = core.read_namespaced_persistent_volume_claim(claim, ns)
    if (pvc.metadata.annotations or {}).get(vol.ANN_SELECTED_NODE) != node:
        core.patch_namespaced_persistent_volume_claim(
            claim, ns, {"metadata": {"annotations": {vol.ANN_SELECTED_NODE: node}}})


def bound_pv(core, ns: str, claim: str):
    def get():
        pvc = core.read_namespaced_persistent_volume_claim(claim, ns)
        return core.read_persistent_volume(pvc.spec.volume_name) if pvc.status.phase == "Bound" else None
    return wait_for(get, what=f"claim {ns}/{claim} Bound")


def events_for(core, ns: str, name: str) -> list[tuple[str, str, str]]:
    evs = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message) for e in evs]


def gone(fn: Callable[[], Any]) -> bool:
    try:
        fn()
    except k8s.ApiException as exc:
        return exc.status == 404
    return False


def test_wait_for_first_consumer_then_zonal_volume_whose_data_outlives_the_pod(cluster, kubectl, core, ns):
    kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml("data-web-0", size="500Mi"))
    # Pending, with the upstream reason and text, until a consumer is scheduled.
    desc = wait_for(lambda: (d := kubectl("describe", "pvc", "-n", ns, "data-web-0")) and
                    "WaitForFirstConsumer" in d and d, what="WaitForFirstConsumer event")
    assert "waiting for first consumer to be created before binding" in desc
    assert "persistentvolume-controller" in desc
    row = kubectl("get", "pvc", "-n", ns, "data-web-0", "--no-headers").split()
    assert row[:2] == ["data-web-0", "Pending"] and "gp3" in row
    assert core.list_persistent_volume().items == [] or all(
        pv.spec.claim_ref.name != "data-web-0" for pv in core.list_persistent_volume().items)

    kubectl("apply", "-n", ns, "-f", "-", input=pod_yaml("web-0", "data-web-0", NODE_A))
    select_node(core, ns, "data-web-0", NODE_A)
    pv = bound_pv(core, ns, "data-web-0")

    # The PV: in the selected node's zone, EBS-shaped, rounded up to whole GiB.
    assert pv.metadata.name == "pvc-" + core.read_namespaced_persistent_volume_claim("data-web-0", ns).metadata.uid
    terms = pv.spec.node_affinity.required.node_selector_terms
    assert [(e.key, e.operator, e.values) for e in terms[0].match_expressions] == [
        ("topology.kubernetes.io/zone", "In", ["us-east-1b"])]
    assert pv.spec.csi.driver == "ebs.csi.aws.com" and pv.spec.csi.fs_type == "ext4"
    assert pv.spec.csi.volume_handle.startswith("vol-") and len(pv.spec.csi.volume_handle) == 21
    assert pv.spec.capacity == {"storage": "1Gi"} and pv.spec.persistent_volume_reclaim_policy == "Delete"
    assert pv.metadata.annotations[vol.ANN_PROVISIONED_BY] == "ebs.csi.aws.com"
    assert {vol.FINALIZER_PV, vol.FINALIZER_PROVISIONER} <= set(pv.metadata.finalizers)
    pvc = core.read_namespaced_persistent_volume_claim("data-web-0", ns)
    ann = pvc.metadata.annotations
    assert ann[vol.ANN_BIND_COMPLETED] == "yes" and ann[vol.ANN_BOUND_BY_CONTROLLER] == "yes"
    assert ann[vol.ANN_STORAGE_PROVISIONER] == ann[vol.ANN_BETA_STORAGE_PROVISIONER] == "ebs.csi.aws.com"
    assert pvc.metadata.finalizers == [vol.FINALIZER_PVC]
    assert pvc.status.capacity == {"storage": "1Gi"} and pvc.status.access_modes == ["ReadWriteOnce"]

    # kubectl's columns: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS ...
    header, line = kubectl("get", "pvc", "-n", ns, "data-web-0").splitlines()
    assert header.split()[:6] == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES"]
    assert line.split()[:6] == ["data-web-0", "Bound", pv.metadata.name, "1Gi", "RWO", "gp3"]
    desc = kubectl("describe", "pvc", "-n", ns, "data-web-0")
    for reason in ("ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"):
        assert reason in desc
    assert "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com'" in desc
    assert f'External provisioner is provisioning volume for claim "{ns}/data-web-0"' in desc
    assert f"Successfully provisioned volume {pv.metadata.name}" in desc

    # Attached to the pod's node through a VolumeAttachment named as upstream.
    va_name = ad.attachment_name(pv.spec.csi.volume_handle, "ebs.csi.aws.com", NODE_A)
    va = wait_for(lambda: (o := kubectl.json("get", "volumeattachment", va_name)) and
                  o.get("status", {}).get("attached") and o, what="attachment")
    assert va["spec"] == {"attacher": "ebs.csi.aws.com", "nodeName": NODE_A,
                          "source": {"persistentVolumeName": pv.metadata.name}}
    wait_for(lambda: ("Normal", "SuccessfulAttachVolume",
                      f'AttachVolume.Attach succeeded for volume "{pv.metadata.name}"') in events_for(core, ns, "web-0"))
    node = core.read_node(NODE_A)
    assert any(v.name == f"kubernetes.io/csi/ebs.csi.aws.com^{pv.spec.csi.volume_handle}"
               for v in node.status.volumes_attached or [])
    chk = ad.pod_volume_check(cluster.api, core.api_client.sanitize_for_serialization(
        core.read_namespaced_pod("web-0", ns)), NODE_A)
    assert chk.ready and chk.pvs["data"]["metadata"]["name"] == pv.metadata.name
    assert not ad.pod_volume_check(cluster.api, core.api_client.sanitize_for_serialization(
        core.read_namespaced_pod("web-0", ns)), NODE_B).ready

    # The data is a real directory; it survives the pod.
    pv_obj = core.api_client.sanitize_for_serialization(pv)
    path = storage.volume_dir(cluster.state_root, pv_obj)
    assert os.path.isdir(path)
    with open(os.path.join(path, "ledger"), "w") as f:
        f.write("acknowledged\n")
    kubectl("delete", "pod", "-n", ns, "web-0", "--grace-period=0", "--force")
    wait_for(lambda: gone(lambda: core.read_namespaced_pod("web-0", ns)), what="pod gone")
    time.sleep(0.3)
    assert open(os.path.join(path, "ledger")).read() == "acknowledged\n"
    assert core.read_namespaced_persistent_volume_claim("data-web-0", ns).status.phase == "Bound"

    # Deleting the claim (policy Delete) removes the PV and its data, after the volume is detached.
    kubectl("delete", "pvc", "-n", ns, "data-web-0", "--wait=false")
    wait_for(lambda: gone(lambda: core.read_persistent_volume(pv.metadata.name)), timeout=20, what="PV deleted")
    assert not os.path.exists(path)
    assert cluster.api.store.get("storage.k8s.io/volumeattachments", "", va_name) is None


def test_immediate_retain_volume_is_provisioned_without_a_pod_and_kept(cluster, kubectl, core, ns):
    kubectl("apply", "-f", "-", input="""apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep-1c}
provisioner: ebs.csi.aws.com
reclaimPolicy: Retain
volumeBindingMode: Immediate
allowedTopologies:
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [us-east-1c]}
""")
    kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml("keep", "keep-1c"))
    pv = bound_pv(core, ns, "keep")  # no pod, no selected node: Immediate
    assert pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0].values == ["us-east-1c"]
    assert pv.spec.persistent_volume_reclaim_policy == "Retain"
    assert vol.FINALIZER_PROVISIONER not in (pv.metadata.finalizers or [])
    path = storage.volume_dir(cluster.state_root, core.api_client.sanitize_for_serialization(pv))
    with open(os.path.join(path, "kept"), "w") as f:
        f.write("still here")
    kubectl("delete", "pvc", "-n", ns, "keep")
    released = wait_for(lambda: (p := core.read_persistent_volume(pv.metadata.name)).status.phase == "Released"
                        and p, what="PV Released")
    assert released.spec.claim_ref.name == "keep" and released.spec.claim_ref.uid == pv.spec.claim_ref.uid
    row = kubectl("get", "pv", pv.metadata.name, "--no-headers").split()
    assert row[1:6] == ["1Gi", "RWO", "Retain", "Released", f"{ns}/keep"]
    time.sleep(0.3)
    assert open(os.path.join(path, "kept")).read() == "still here"
    # A new claim of the same name does not get the released volume back.
    kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml("keep", "keep-1c"))
    again = bound_pv(core, ns, "keep")
    assert again.metadata.name != pv.metadata.name
    assert core.read_persistent_volume(pv.metadata.name).status.phase == "Released"


def test_immediate_zone_ignores_pods_and_spreads_a_statefulsets_claims(cluster, kubectl, core, ns):
    kubectl("apply", "-f", "-", input="""apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: gp3-immediate}
provisioner: ebs.csi.aws.com
volumeBindingMode: Immediate
""")
    zones = {}
    for i in range(3):
        kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml(f"data-db-{i}", "gp3-immediate"))
    for i in range(3):
        pv = bound_pv(core, ns, f"data-db-{i}")
        zones[i] = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0].values[0]
    node_zones = [n.metadata.labels["topology.kubernetes.io/zone"] for n in core.list_node().items]
    assert zones == {i: vol.choose_zone(f"data-db-{i}", node_zones, None, None) for i in range(3)}
    assert sorted(zones.values()) == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_pvc_in_use_stays_terminating_until_its_pod_is_gone(cluster, kubectl, core, ns):
    kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml("busy"))
    kubectl("apply", "-n", ns, "-f", "-", input=pod_yaml("user", "busy", "us-east-1a-node-1"))
    select_node(core, ns, "busy", "us-east-1a-node-1")
    pv = bound_pv(core, ns, "busy")
    kubectl("delete", "pvc", "-n", ns, "busy", "--wait=false")
    time.sleep(0.5)
    row = kubectl("get", "pvc", "-n", ns, "busy", "--no-headers").split()
    assert row[1] == "Terminating"
    assert core.read_namespaced_persistent_volume_claim("busy", ns).metadata.finalizers == [vol.FINALIZER_PVC]
    assert core.read_persistent_volume(pv.metadata.name).status.phase == "Bound"
    kubectl("delete", "pod", "-n", ns, "user", "--grace-period=0", "--force")
    wait_for(lambda: gone(lambda: core.read_namespaced_persistent_volume_claim("busy", ns)), what="PVC removed")
    wait_for(lambda: gone(lambda: core.read_persistent_volume(pv.metadata.name)), timeout=20, what="PV removed")


def _stop_node(cluster, core, node: str) -> None:
    cluster.faults.set_kubelet(node, False)  # power loss: heartbeats stop
    wait_for(lambda: not any(c.type == "Ready" and c.status == "True"
                             for c in core.read_node(node).status.conditions or []), what=f"{node} not Ready")


def _volume_on_node_a(kubectl, core, ns: str, claim: str):
    kubectl("apply", "-n", ns, "-f", "-", input=pvc_yaml(claim))
    kubectl("apply", "-n", ns, "-f", "-", input=pod_yaml("pet-0", claim, NODE_A))
    select_node(core, ns, claim, NODE_A)
    pv = bound_pv(core, ns, claim)
    va_a = ad.attachment_name(pv.spec.csi.volume_handle, "ebs.csi.aws.com", NODE_A)
    va_b = ad.attachment_name(pv.spec.csi.volume_handle, "ebs.csi.aws.com", NODE_B)
    wait_for(lambda: kubectl.json("get", "volumeattachment", va_a).get("status", {}).get("attached"),
             what="attached on node A")
    return pv, va_a, va_b


def _attached(kubectl, name: str) -> bool:
    proc = kubectl.run("get", "volumeattachment", name, "-o", "jsonpath={.status.attached}", check=False)
    return proc.returncode == 0 and proc.stdout == "true"


def test_multi_attach_until_the_six_minute_force_detach(cluster, kubectl, core, ns):
    pv, va_a, va_b = _volume_on_node_a(kubectl, core, ns, "data-pet-0")
    _stop_node(cluster, core, NODE_A)
    try:
        kubectl("delete", "pod", "-n", ns, "pet-0", "--grace-period=0", "--force")
        deleted = time.monotonic()
        kubectl("apply", "-n", ns, "-f", "-", input=pod_yaml("pet-0", "data-pet-0", NODE_B))
        msg = (f'Multi-Attach error for volume "{pv.metadata.name}" Volume is already exclusively attached to one '
               "node and can't be attached to another")
        wait_for(lambda: ("Warning", "FailedAttachVolume", msg) in events_for(core, ns, "pet-0"),
                 what="Multi-Attach event")
        assert "FailedAttachVolume" in kubectl("describe", "pod", "-n", ns, "pet-0")
        force_after = cluster.timings.get("force_detach_after")  # 360 s upstream, 3.6 s here
        time.sleep(max(0.0, force_after * 0.6 - (time.monotonic() - deleted)))
        assert _attached(kubectl, va_a) and not _attached(kubectl, va_b)  # still waiting
        wait_for(lambda: _attached(kubectl, va_b), timeout=force_after + 10, what="attach on node B")
        assert time.monotonic() - deleted >= force_after * 0.95
        assert kubectl.run("get", "volumeattachment", va_a, check=False).returncode != 0
        wait_for(lambda: ("Normal", "SuccessfulAttachVolume",
                          f'AttachVolume.Attach succeeded for volume "{pv.metadata.name}"')
                 in events_for(core, ns, "pet-0"))
        multi = [e for e in core.list_namespaced_event(ns).items if e.reason == "FailedAttachVolume"]
        assert len(multi) == 1 and multi[0].count == 1  # reported once, as upstream
    finally:
        cluster.faults.set_kubelet(NODE_A, True)
        kubectl("delete", "pod", "-n", ns, "pet-0", "--grace-period=0", "--force", check=False)


def test_out_of_service_taint_detaches_at_once(cluster, kubectl, core, ns):
    pv, va_a, va_b = _volume_on_node_a(kubectl, core, ns, "data-pet-1")
    _stop_node(cluster, core, NODE_A)
    try:
        kubectl("delete", "pod", "-n", ns, "pet-0", "--grace-period=0", "--force")
        kubectl("apply", "-n", ns, "-f", "-", input=pod_yaml("pet-0", "data-pet-1", NODE_B))
        wait_for(lambda: any(r == "FailedAttachVolume" for _, r, _ in events_for(core, ns, "pet-0")),
                 what="Multi-Attach event")
        kubectl("taint", "nodes", NODE_A, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
        tainted = time.monotonic()
        wait_for(lambda: _attached(kubectl, va_b), timeout=10, what="attach on node B")
        assert time.monotonic() - tainted < cluster.timings.get("force_detach_after") * 0.8
    finally:
        kubectl("taint", "nodes", NODE_A, "node.kubernetes.io/out-of-service-", check=False)
        cluster.faults.set_kubelet(NODE_A, True)
        kubectl("delete", "pod", "-n", ns, "pet-0", "--grace-period=0", "--force", check=False)
