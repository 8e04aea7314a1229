"""Decision functions of the PV controller, EBS provisioner, protection and attach/detach, table-driven."""

from __future__ import annotations

import hashlib

import pytest

from kubesim.controllers import attachdetach as ad
from kubesim.controllers import volumes as v
from kubesim.controllers.attachdetach import AttachmentState, NodeState
from kubesim.controllers.volumes import (Bind, ClaimPhase, DeleteVolume, Emit, Finalizer, Provision,
                                         ProvisionInputs, SetProvisioner, Unbind, VolumePhase)

WFC = {"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Delete",
       "volumeBindingMode": "WaitForFirstConsumer", "parameters": {"type": "gp3"}}
IMMEDIATE = {"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain",
             "volumeBindingMode": "Immediate"}
INTREE = {"metadata": {"name": "gp2"}, "provisioner": "kubernetes.io/aws-ebs", "reclaimPolicy": "Delete",
          "volumeBindingMode": "WaitForFirstConsumer"}
OTHER = {"metadata": {"name": "nfs"}, "provisioner": "nfs.csi.k8s.io", "volumeBindingMode": "Immediate"}
CLASSES = {c["metadata"]["name"]: c for c in (WFC, IMMEDIATE, INTREE, OTHER)}


def claim(name="data", cls="gp3", size="1Gi", modes=("ReadWriteOnce",), ann=None, volume=None, phase="Pending",
          selector=None, deleting=False, fins=("kubernetes.io/pvc-protection",), uid="uid-1"):
    meta = {"name": name, "namespace": "ns", "uid": uid, "annotations": dict(ann or {}), "finalizers": list(fins)}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem"}
    if cls is not None:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def pv(name="pv1", size="1Gi", modes=("ReadWriteOnce",), cls="gp3", phase="Available", ref=None, labels=None,
       policy="Retain", ann=None, deleting=False, fins=("kubernetes.io/pv-protection",), source=None):
    meta = {"name": name, "labels": dict(labels or {}), "annotations": dict(ann or {}), "finalizers": list(fins)}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"accessModes": list(modes), "capacity": {"storage": size}, "storageClassName": cls,
            "persistentVolumeReclaimPolicy": policy, "volumeMode": "Filesystem"}
    spec.update(source or {"hostPath": {"path": "/data/" + name}})
    if ref is not None:
        spec["claimRef"] = ref
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def ref(name="data", uid="uid-1"):
    return {"kind": "PersistentVolumeClaim", "namespace": "ns", "name": name, "uid": uid, "apiVersion": "v1"}


def pod(name="web-0", node="", claims=("data",), phase="Running", deleting=False):
    meta = {"name": name, "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"volumes": [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]}
    if node:
        spec["nodeName"] = node
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def node(name, zone):
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}}


def kinds(actions):
    return [type(a).__name__ + (f":{a.reason}" if isinstance(a, Emit) else "") for a in actions]


# -- static binding (FindMatchingVolume + access-mode index) ------------------------------------------
@pytest.mark.parametrize("c,vols,delay,want", [
    (claim(), [pv("small", "500Mi"), pv("big", "10Gi"), pv("fit", "2Gi")], False, "fit"),
    (claim(), [pv("other-class", cls="slow")], False, None),
    (claim(), [pv("bound", phase="Bound", ref=ref("x", "u2"))], False, None),
    (claim(), [pv("released", phase="Released")], False, None),
    (claim(), [pv("gone", deleting=True)], False, None),
    (claim(modes=("ReadWriteMany",)), [pv("rwo")], False, None),
    (claim(), [pv("rwx", modes=("ReadWriteOnce", "ReadWriteMany"), size="1Gi"), pv("rwo", size="5Gi")], False, "rwo"),
    (claim(selector={"matchLabels": {"tier": "db"}}), [pv("a"), pv("b", labels={"tier": "db"})], False, "b"),
    (claim(), [pv("unbound")], True, None),  # WaitForFirstConsumer: the scheduler binds unbound PVs
    (claim(), [pv("prebound", ref=ref(uid=""), phase="Available")], True, "prebound"),
    (claim(), [pv("prebound-small", size="100Mi", ref=ref())], False, None),
    (claim(), [pv("fit", "2Gi"), pv("mine", "5Gi", ref=ref())], False, "mine"),
])
def test_find_best_match(c, vols, delay, want):
    got = v.find_best_match(c, vols, delay)
    assert (got["metadata"]["name"] if got else None) == want


# -- zones (SV-04, external-provisioner topology) -----------------------------------------------------------
def test_fnv32_is_fnv1():
    assert v.fnv32(b"") == 0x811C9DC5
    assert v.fnv32(b"a") == 0x050C5D7E  # FNV-1, not FNV-1a (0xe40c292c)


@pytest.mark.parametrize("name,want_base,want_index", [
    ("data-web-2", "web", 2), ("web-7", "web", 7), ("data", "data", 0), ("data-web", "data-web", 0),
    ("my-claim-db-0", "db", 0),
])
def test_pvc_name_hash_and_index(name, want_base, want_index):
    assert v.pvc_name_hash_and_index(name) == (v.fnv32(want_base.encode()), want_index)


ZONES = ["us-east-1c", "us-east-1a", "us-east-1b", "us-east-1a"]


@pytest.mark.parametrize("name,zones,allowed,selected,want", [
    ("data", ZONES, None, "us-east-1b", "us-east-1b"),
    ("data", ZONES, [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone",
                                                 "values": ["us-east-1c"]}]}], None, "us-east-1c"),
    ("data", [], [{"matchLabelExpressions": [{"key": "topology.ebs.csi.aws.com/zone",
                                              "values": ["us-east-1a"]}]}], None, "us-east-1a"),
])
def test_choose_zone(name, zones, allowed, selected, want):
    assert v.choose_zone(name, zones, allowed, selected) == want


def test_immediate_zone_is_a_deterministic_spread_independent_of_pods():
    sorted_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    got = [v.choose_zone(f"data-web-{i}", ZONES, None, None) for i in range(3)]
    base = v.fnv32(b"web")
    assert got == [sorted_zones[(base + i) % 3] for i in range(3)]
    assert sorted(got) == sorted_zones  # one StatefulSet's claims round-robin over the zones
    assert got == [v.choose_zone(f"data-web-{i}", list(reversed(ZONES)), None, None) for i in range(3)]


def test_selected_zone_outside_allowed_topologies_fails():
    allowed = [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["us-east-1a"]}]}]
    with pytest.raises(v.ProvisioningError, match="is not in requisite"):
        v.choose_zone("data", ZONES, allowed, "us-east-1b")


# -- the provisioned PV (SV-03, SV-05, V4) ---------------------------------------------------------------------
@pytest.mark.parametrize("size,want", [("1Gi", "1Gi"), ("500Mi", "1Gi"), ("1.5Gi", "2Gi"), ("10G", "10Gi"),
                                       ("0", "100Gi")])
def test_capacity_is_rounded_up_to_gib(size, want):
    got = v.build_pv(claim(size=size), WFC, "us-east-1a", "id")
    assert got["spec"]["capacity"] == {"storage": want}


def test_csi_pv_shape():
    c = claim(ann={v.ANN_SELECTED_NODE: "n1"})
    p = v.build_pv(c, WFC, "us-east-1b", "123-4-ebs.csi.aws.com")
    assert p["metadata"]["name"] == "pvc-uid-1"
    assert p["metadata"]["finalizers"] == [v.FINALIZER_PROVISIONER, v.FINALIZER_PV]
    assert p["metadata"]["annotations"][v.ANN_PROVISIONED_BY] == "ebs.csi.aws.com"
    csi = p["spec"]["csi"]
    assert csi["driver"] == "ebs.csi.aws.com" and csi["fsType"] == "ext4"
    assert csi["volumeHandle"].startswith("vol-") and len(csi["volumeHandle"]) == 21
    int(csi["volumeHandle"][4:], 16)
    assert csi["volumeAttributes"] == {v.PROVISIONER_ID_KEY: "123-4-ebs.csi.aws.com"}
    assert p["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1b"]}]}]
    assert p["spec"]["claimRef"]["uid"] == "uid-1" and p["spec"]["claimRef"]["kind"] == "PersistentVolumeClaim"
    assert p["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert p["spec"]["storageClassName"] == "gp3"


def test_intree_class_gets_a_migrated_awsebs_pv():
    p = v.build_pv(claim(cls="gp2"), INTREE, "us-east-1a", "id")
    assert "csi" not in p["spec"]
    assert p["spec"]["awsElasticBlockStore"]["volumeID"].startswith("vol-")
    assert p["metadata"]["annotations"][v.ANN_PROVISIONED_BY] == "kubernetes.io/aws-ebs"
    assert p["metadata"]["annotations"][v.ANN_MIGRATED_TO] == "ebs.csi.aws.com"
    assert p["metadata"]["labels"] == {"topology.kubernetes.io/region": "us-east-1",
                                       "topology.kubernetes.io/zone": "us-east-1a"}
    exprs = p["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"]
    assert [e["key"] for e in exprs] == ["topology.kubernetes.io/zone", "topology.kubernetes.io/region"]


# -- syncClaim ----------------------------------------------------------------------------------------------
PROV = ProvisionInputs(zones=["us-east-1a", "us-east-1b", "us-east-1c"], selected_node=node("n1", "us-east-1b"))


@pytest.mark.parametrize("c,vols,pods,want", [
    # WaitForFirstConsumer, nobody uses it yet
    (claim(), [], [], ["Emit:WaitForFirstConsumer"]),
    # ... an unscheduled pod references it
    (claim(), [], [pod("web-0"), pod("web-1")], ["Emit:WaitForPodScheduled"]),
    # ... the scheduler picked a node: annotate, ExternalProvisioning, then the provisioner creates the PV
    (claim(ann={v.ANN_SELECTED_NODE: "n1"}), [], [],
     ["SetProvisioner", "Emit:ExternalProvisioning", "Emit:Provisioning", "Provision", "Emit:ProvisioningSucceeded"]),
    # Immediate: provisioned at once, without any pod
    (claim(cls="fast"), [], [], ["SetProvisioner", "Emit:ExternalProvisioning", "Emit:Provisioning", "Provision",
                                 "Emit:ProvisioningSucceeded"]),
    # A class with a driver kubesim does not run: waits, as with the driver missing
    (claim(cls="nfs"), [], [], ["SetProvisioner", "Emit:ExternalProvisioning"]),
    (claim(cls="missing"), [], [], ["Emit:ProvisioningFailed"]),
    (claim(cls=""), [], [], ["Emit:FailedBinding"]),
    # the provisioned (pre-bound) PV is bound
    (claim(ann={v.ANN_SELECTED_NODE: "n1"}), [pv("pvc-uid-1", ref=ref(), phase="Pending")], [], ["Bind"]),
    # a static PV matches an Immediate claim
    (claim(cls="fast"), [pv("static", cls="fast")], [], ["Bind"]),
    # requested by name
    (claim(volume="static"), [pv("static")], [], ["Bind"]),
    (claim(volume="static"), [pv("static", size="100Mi")], [], ["Emit:VolumeMismatch"]),
    (claim(volume="static"), [pv("static", ref=ref("other", "u9"), phase="Bound")], [], ["Emit:FailedBinding"]),
    (claim(volume="nope"), [], [], []),
    # bound claims
    (claim(ann={v.ANN_BIND_COMPLETED: "yes"}, volume="gone", phase="Bound"), [], [],
     ["Emit:ClaimLost"]),
    (claim(ann={v.ANN_BIND_COMPLETED: "yes"}, phase="Bound"), [], [], ["Emit:ClaimLost"]),
    (claim(ann={v.ANN_BIND_COMPLETED: "yes"}, volume="p", phase="Bound"), [pv("p", ref=ref("data", "u9"))], [],
     ["Emit:ClaimMisbound"]),
])
def test_decide_claim(c, vols, pods, want):
    acts = v.decide_claim(c, CLASSES, vols, pods, PROV)
    assert [k for k in kinds(acts) if k != "ClaimPhase"] == want


def test_wait_for_pod_scheduled_names_the_pods():
    acts = v.decide_claim(claim(), CLASSES, [], [pod("web-1"), pod("web-0"), pod("done", phase="Succeeded")], PROV)
    ev = [a for a in acts if isinstance(a, Emit)][0]
    assert ev.message == "waiting for pods web-0,web-1 to be scheduled"
    ev = [a for a in v.decide_claim(claim(), CLASSES, [], [pod("web-0")], PROV) if isinstance(a, Emit)][0]
    assert (ev.reason, ev.message) == ("WaitForPodScheduled", "waiting for pod web-0 to be scheduled")


def test_provisioning_uses_the_selected_node_zone_and_upstream_texts():
    acts = v.decide_claim(claim(ann={v.ANN_SELECTED_NODE: "n1"}), CLASSES, [], [], PROV)
    prov = [a for a in acts if isinstance(a, Provision)][0]
    assert prov.pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == \
        ["us-east-1b"]
    msgs = {a.reason: a.message for a in acts if isinstance(a, Emit)}
    assert msgs["ExternalProvisioning"].startswith(
        "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually")
    assert msgs["Provisioning"] == 'External provisioner is provisioning volume for claim "ns/data"'
    assert msgs["ProvisioningSucceeded"] == "Successfully provisioned volume pvc-uid-1"
    assert [a for a in acts if isinstance(a, SetProvisioner)] == [SetProvisioner("ebs.csi.aws.com")]


def test_intree_class_is_provisioned_by_the_csi_driver():
    acts = v.decide_claim(claim(cls="gp2", ann={v.ANN_SELECTED_NODE: "n1"}), CLASSES, [], [], PROV)
    assert SetProvisioner("ebs.csi.aws.com") in acts
    assert any(isinstance(a, Provision) for a in acts)


def test_selected_node_missing_fails_provisioning():
    acts = v.decide_claim(claim(ann={v.ANN_SELECTED_NODE: "ghost"}), CLASSES, [], [],
                          ProvisionInputs(zones=["us-east-1a"], selected_node=None))
    assert kinds(acts)[-1] == "Emit:ProvisioningFailed"
    assert not any(isinstance(a, Provision) for a in acts)


def test_bind_helpers():
    c = claim(ann={v.ANN_SELECTED_NODE: "n1"})
    p = pv("pvc-uid-1", ref=ref(), phase="Pending")
    assert v.bound_volume(p, c) is None  # provisioned with the full claimRef: nothing to write
    bc = v.bound_claim(c, p)
    assert bc["spec"]["volumeName"] == "pvc-uid-1"
    assert bc["metadata"]["annotations"][v.ANN_BIND_COMPLETED] == "yes"
    assert bc["metadata"]["annotations"][v.ANN_BOUND_BY_CONTROLLER] == "yes"
    st = v.claim_status(c, "Bound", p)
    assert st == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    static = pv("static")
    bv = v.bound_volume(static, c)
    assert bv["spec"]["claimRef"]["uid"] == "uid-1"
    assert bv["metadata"]["annotations"][v.ANN_BOUND_BY_CONTROLLER] == "yes"
    done = claim(ann={v.ANN_BIND_COMPLETED: "yes", v.ANN_BOUND_BY_CONTROLLER: "yes"}, volume="p", phase="Bound")
    done["status"].update(accessModes=["ReadWriteOnce"], capacity={"storage": "1Gi"})
    bound = pv("p", ref=ref(), phase="Bound")
    assert v.decide_claim(done, CLASSES, [bound], [], PROV) == []  # steady state: no writes


# -- protection (SV-09) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("c,pods,want", [
    (claim(fins=()), [], [Finalizer("kubernetes.io/pvc-protection", True)]),
    (claim(), [], []),
    (claim(deleting=True), [pod(node="n1")], []),  # in use by a scheduled pod: stays Terminating
    (claim(deleting=True), [pod(node="n1", phase="Succeeded")], []),  # upstream: any scheduled pod object
    (claim(deleting=True), [pod(node="")], [Finalizer("kubernetes.io/pvc-protection", False)]),
    (claim(deleting=True), [pod(node="n1", claims=("other",))], [Finalizer("kubernetes.io/pvc-protection", False)]),
    (claim(deleting=True), [], [Finalizer("kubernetes.io/pvc-protection", False)]),
])
def test_pvc_protection(c, pods, want):
    assert v.protection(c, v.FINALIZER_PVC, v.claim_in_use(c, pods)) == want


# -- syncVolume and reclaim ------------------------------------------------------------------------------
CSI = {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0123456789abcdef0"}}
OURS = {v.ANN_PROVISIONED_BY: "ebs.csi.aws.com"}
PFINS = (v.FINALIZER_PROVISIONER, v.FINALIZER_PV)


@pytest.mark.parametrize("p,c,attached,want", [
    (pv(phase="Pending"), None, False, [VolumePhase("Available")]),
    (pv(ref=ref(uid=""), phase="Pending"), None, False, [VolumePhase("Available")]),
    (pv(ref=ref(), phase="Available"), claim(volume="pv1"), False, [VolumePhase("Bound")]),
    (pv(ref=ref(), phase="Bound"), claim(volume="pv1"), False, []),
    (pv(ref=ref(), phase="Bound"), claim(), False, []),  # binding in progress
    # Retain: Released, claimRef and data kept
    (pv(ref=ref(), phase="Bound"), None, False, [VolumePhase("Released")]),
    (pv(ref=ref(), phase="Bound"), claim(uid="new-uid"), False, [VolumePhase("Released")]),
    # Delete, provisioned by us: the volume goes
    (pv(ref=ref(), phase="Bound", policy="Delete", ann=OURS, source=CSI, fins=PFINS), None, False,
     [VolumePhase("Released"), DeleteVolume()]),
    # ... but not while still attached to a node
    (pv(ref=ref(), phase="Released", policy="Delete", ann=OURS, source=CSI, fins=PFINS), None, True, []),
    # ... and only once
    (pv(ref=ref(), phase="Released", policy="Delete", ann=OURS, source=CSI, deleting=True,
        fins=(v.FINALIZER_PV,)), None, False, [Finalizer(v.FINALIZER_PV, False)]),
    # Delete with no deleter kubesim knows
    (pv(ref=ref(), phase="Bound", policy="Delete"), None, False,
     [VolumePhase("Released"), VolumePhase("Failed", v.msg_no_deleter("pv1"))]),
    (pv(ref=ref(), phase="Bound", policy="Recycle"), None, False,
     [VolumePhase("Released"), VolumePhase("Failed", v.MSG_NO_RECYCLER)]),
    # dynamically provisioned for a claim that got bound elsewhere: deleted
    (pv(ref=ref(), phase="Bound", policy="Delete", ann=OURS, source=CSI, fins=PFINS), claim(volume="other"), False,
     [VolumePhase("Released"), DeleteVolume()]),
    # bound by the controller to a claim bound elsewhere: unbound
    (pv(ref=ref(), phase="Bound", ann={v.ANN_BOUND_BY_CONTROLLER: "yes"}), claim(volume="other"), False, [Unbind()]),
    # pv-protection: a Bound PV being deleted stays
    (pv(ref=ref(), phase="Bound", deleting=True), claim(volume="pv1"), False, []),
    (pv(phase="Available", deleting=True), None, False, [Finalizer(v.FINALIZER_PV, False)]),
    (pv(fins=(), phase="Pending"), None, False, [VolumePhase("Available"), Finalizer(v.FINALIZER_PV, True)]),
    # a Retain PV carries no provisioner finalizer
    (pv(ref=ref(), phase="Bound", ann=OURS, source=CSI, fins=PFINS), claim(volume="pv1"), False,
     [Finalizer(v.FINALIZER_PROVISIONER, False)]),
])
def test_decide_volume(p, c, attached, want):
    got = [a for a in v.decide_volume(p, c, attached) if not isinstance(a, Emit)]
    assert got == want


# -- attach/detach (SV-10, NL-11) --------------------------------------------------------------------------
def test_attachment_name_is_csi_sha256():
    name = ad.attachment_name("vol-0abc", "ebs.csi.aws.com", "n1")
    assert name == "csi-" + hashlib.sha256(b"vol-0abcebs.csi.aws.comn1").hexdigest() and len(name) == 68


def test_unique_volume_name_and_sources():
    p = pv(source=CSI)
    assert ad.unique_volume_name(p) == "kubernetes.io/csi/ebs.csi.aws.com^vol-0123456789abcdef0"
    intree = pv(source={"awsElasticBlockStore": {"volumeID": "aws://us-east-1a/vol-0aaa"}})
    assert ad.attach_source(intree) == ("ebs.csi.aws.com", "vol-0aaa")
    assert ad.unique_volume_name(pv()) is None  # hostPath: nothing to attach


MAX = 360.0
A, B = "n-a", "n-b"
U = {"p": "kubernetes.io/csi/ebs.csi.aws.com^vol-1"}
EXCL = {"p": True}


def plan(desired, attachments, nodes, waited=None, reported=None, exclusive=EXCL):
    return ad.decide(desired, attachments, exclusive, U, nodes, waited or {}, reported or set(), MAX)


@pytest.mark.parametrize("desired,attachments,nodes,waited,want", [
    # attach what a scheduled pod needs
    ({("p", A): [("ns", "web-0")]}, {}, {A: NodeState()}, {}, ["Attach p n-a"]),
    ({("p", A): [("ns", "web-0")]}, {("p", A): AttachmentState("x", True)}, {A: NodeState()}, {}, []),
    # pod gone from a healthy node that unmounted it: detach now
    ({}, {("p", A): AttachmentState("x", True)}, {A: NodeState()}, {("p", A): 0.0}, ["Detach p n-a"]),
    # healthy node still has it mounted (volumesInUse): wait, no force even after 6 minutes
    ({}, {("p", A): AttachmentState("x", True)}, {A: NodeState(in_use=frozenset(U.values()))}, {("p", A): 999.0}, []),
    # dead node: mounted as far as anyone knows; wait 6 minutes, then force
    ({}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False)}, {("p", A): 359.0}, []),
    ({}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False)}, {("p", A): 361.0},
     ["Detach p n-a forced"]),
    # out-of-service taint: at once
    ({}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False, out_of_service=True)}, {("p", A): 0.0},
     ["Detach p n-a forced"]),
    # node object deleted: treated as unhealthy
    ({}, {("p", A): AttachmentState("x", True)}, {}, {("p", A): 361.0}, ["Detach p n-a forced"]),
    # RWO attached elsewhere: Multi-Attach instead of attach
    ({("p", B): [("ns", "web-0")]}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False), B: NodeState()},
     {("p", A): 10.0}, ["MultiAttach p n-b ns/web-0"]),
    # the same pass that force-detaches attaches nothing yet (the old attachment still exists)
    ({("p", B): [("ns", "web-0")]}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False), B: NodeState()},
     {("p", A): 361.0}, ["Detach p n-a forced", "MultiAttach p n-b ns/web-0"]),
])
def test_attach_detach_decide(desired, attachments, nodes, waited, want):
    got = []
    for a in plan(desired, attachments, nodes, waited).actions:
        if isinstance(a, ad.Attach):
            got.append(f"Attach {a.pv} {a.node}")
        elif isinstance(a, ad.Detach):
            got.append(f"Detach {a.pv} {a.node}" + (" forced" if a.forced else ""))
        else:
            got.append(f"MultiAttach {a.pv} {a.node} {a.pod[0]}/{a.pod[1]}")
    assert got == want


def test_force_detach_recheck_is_the_time_left():
    p = plan({}, {("p", A): AttachmentState("x", True)}, {A: NodeState(healthy=False)}, {("p", A): 100.0})
    assert p.actions == [] and p.recheck == pytest.approx(260.0)


def test_multi_attach_reported_once_and_rwx_allowed():
    args = ({("p", B): [("ns", "web-0")], ("p", A): [("ns", "other")]}, {("p", A): AttachmentState("x", True)},
            {A: NodeState(), B: NodeState()})
    assert plan(*args, reported={("p", B)}).actions == []
    assert [type(a).__name__ for a in plan(*args, exclusive={"p": False}).actions] == ["Attach"]


@pytest.mark.parametrize("pod_ns,others,want", [
    ("ns", [], ad.MSG_EXCLUSIVE),
    ("ns", [("ns", "web-0")], "Volume is already used by pod(s) web-0"),
    ("ns", [("ns", "a"), ("ns", "b"), ("x", "c")], "Volume is already used by pod(s) a, b and 1 pod(s) in different "
                                                   "namespaces"),
    ("ns", [("x", "c"), ("y", "d")], "Volume is already used by 2 pod(s) in different namespaces"),
])
def test_multi_attach_message(pod_ns, others, want):
    assert ad.multi_attach_suffix(pod_ns, others) == want


def test_multi_attach_text():
    plan_ = plan({("p", B): [("ns", "web-0")]}, {("p", A): AttachmentState("x", True)},
                 {A: NodeState(healthy=False), B: NodeState()}, {("p", A): 1.0})
    assert plan_.actions[0].message == ('Multi-Attach error for volume "p" Volume is already exclusively attached to '
                                        "one node and can't be attached to another")


def test_pod_volume_check_message():
    chk = ad.PodVolumeCheck(unattached=["data"])
    assert not chk.ready
    reason, msg = chk.failed_mount()
    assert reason == "FailedMount"
    assert msg == ("Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: "
                   "timed out waiting for the condition")
    assert ad.PodVolumeCheck().failed_mount() is None


def test_csinode_for_node():
    n = {"metadata": {"name": "n1", "uid": "u", "labels": {"topology.kubernetes.io/zone": "us-east-1a"}},
         "spec": {"providerID": "aws:///us-east-1a/i-0123456789abcdef0"}}
    cn = ad.csinode_for(n)
    drv = cn["spec"]["drivers"][0]
    assert drv["nodeID"] == "i-0123456789abcdef0"
    assert drv["topologyKeys"] == ["kubernetes.io/os", "topology.ebs.csi.aws.com/zone", "topology.kubernetes.io/zone"]
    assert ad.csinode_for({"metadata": {"name": "bare"}}) is None
