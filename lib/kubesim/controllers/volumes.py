"""Persistent volumes: the PV controller, an EBS-like CSI provisioner, and PVC/PV protection.

Four upstream components in one module, because they act on the same two kinds:

- **PV controller** (kube-controller-manager ``pkg/controller/volume/persistentvolume/pv_controller.go``
  ``syncClaim``/``syncUnboundClaim``/``syncBoundClaim``/``syncVolume``/``bind``/``reclaimVolume``):
  static binding of pre-created PVs (``k8s.io/component-helpers/storage/volume/pv_helpers.go``
  ``FindMatchingVolume``, grouped by access modes as ``index.go`` ``findByClaim``), the
  ``volume.kubernetes.io/storage-provisioner`` annotations and the ``ExternalProvisioning`` event,
  ``WaitForFirstConsumer`` / ``WaitForPodScheduled`` (``emitEventForUnboundDelayBindingClaim``),
  phases (PVC Pending/Bound/Lost, PV Available/Bound/Released/Failed), reclaim.
- **external-provisioner for ``ebs.csi.aws.com``** (kubernetes-csi/external-provisioner
  ``pkg/controller/controller.go`` ``Provision``, ``topology.go`` ``GenerateAccessibilityRequirements``
  and sig-storage-lib-external-provisioner ``controller.go``): the PV ``pvc-<claim uid>`` with
  ``csi.volumeHandle: vol-<17 hex>``, ``fsType: ext4``, the provisioner identity attribute, capacity
  rounded up to whole GiB as the EBS driver does (aws-ebs-csi-driver ``pkg/driver/controller.go``
  ``CreateVolume`` -> ``util.RoundUpGiB``), nodeAffinity on ``topology.kubernetes.io/zone``
  (driver >= v1.33, sim-fidelity V4/SV-05), events ``Provisioning`` / ``ProvisioningSucceeded``,
  finalizer ``external-provisioner.volume.kubernetes.io/finalizer`` and, on reclaim ``Delete``,
  removal of the volume (here: its directory, ``kubesim.storage.volume_dir``) and of the PV.
  Classes with the legacy in-tree ``kubernetes.io/aws-ebs`` are CSI-migrated (in-tree EBS was
  removed in 1.27): same provisioner, PV translated back to ``awsElasticBlockStore`` as
  csi-translation-lib ``aws_ebs.go`` ``TranslateCSIPVToInTree`` does (zone+region affinity and labels).
- **PVC protection** (``pkg/controller/volume/pvcprotection/pvc_protection_controller.go``): the
  ``kubernetes.io/pvc-protection`` finalizer is removed only when no *scheduled* pod object references
  the claim (``podUsesPVC``: any phase; a pod force-deleted or finished by its kubelet is gone).
- **PV protection** (``pkg/controller/volume/pvprotection``): ``kubernetes.io/pv-protection`` is
  removed once the PV is not ``Bound``.

Zones (SV-04): WaitForFirstConsumer provisions in the zone of the node named by the scheduler's
``volume.kubernetes.io/selected-node``; Immediate provisions without any pod, in the zone the
external-provisioner prefers: the sorted requisite zones (``allowedTopologies``, else the zones that
have nodes) shifted by ``fnv32(base name) + ordinal`` (``getPVCNameHashAndIndexOffset``), so
``data-web-0/1/2`` spread over zones deterministically and a pod can land in a zone where its volume
is not: the classic wrong-zone trap.

Shape: pure decision functions (``find_best_match``, ``choose_zone``, ``build_pv``,
``decide_claim``, ``decide_volume``, ``claim_in_use``) return actions; :class:`VolumeController`
observes through the store and applies them through :class:`kubesim.api.Api`.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import random
import shutil
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping

from .. import clock
from ..api import DeleteOptions, Request
from ..defaults.quantity import QuantityError, canonical, value
from ..errors import AlreadyExists, ApiError, Conflict, NotFound
from ..selectors import selector_from_label_selector
from ..storage import volume_dir
from ..store import Event as StoreEvent
from .base import Controller

log = logging.getLogger("kubesim.controllers.volumes")

Obj = dict[str, Any]

# -- names (k8s.io/component-helpers storage/volume helpers.go, k8s.io/api well_known_labels.go) ---------
EBS_DRIVER = "ebs.csi.aws.com"
INTREE_EBS = "kubernetes.io/aws-ebs"
# Provisioners kubesim implements; any other class waits forever with ExternalProvisioning, as a
# cluster without that driver installed does.
PROVISIONERS = (EBS_DRIVER, INTREE_EBS)
# CSI migration (csi-translation-lib plugins/aws_ebs.go): in-tree name -> CSI driver.
MIGRATED = {INTREE_EBS: EBS_DRIVER}

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_MIGRATED_TO = "pv.kubernetes.io/migrated-to"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
# external-provisioner controller.go annDeletionProvisionerSecretRefName/Namespace (set to "" when none).
ANN_DELETION_SECRET_NAME = "volume.kubernetes.io/provisioner-deletion-secret-name"
ANN_DELETION_SECRET_NAMESPACE = "volume.kubernetes.io/provisioner-deletion-secret-namespace"
PROVISIONER_ID_KEY = "storage.kubernetes.io/csiProvisionerIdentity"

FINALIZER_PVC = "kubernetes.io/pvc-protection"
FINALIZER_PV = "kubernetes.io/pv-protection"
FINALIZER_PROVISIONER = "external-provisioner.volume.kubernetes.io/finalizer"

ZONE_KEY = "topology.kubernetes.io/zone"
REGION_KEY = "topology.kubernetes.io/region"
EBS_ZONE_KEY = "topology.ebs.csi.aws.com/zone"  # the driver's own key (PV affinity before v1.33)
OS_KEY = "kubernetes.io/os"
ZONE_KEYS = (ZONE_KEY, EBS_ZONE_KEY, "failure-domain.beta.kubernetes.io/zone")

GIB = 1024 ** 3
DEFAULT_SIZE = 100 * GIB  # aws-ebs-csi-driver cloud.DefaultVolumeSize, when a claim asks for nothing

# Components that report events / own field managers (as seen in `kubectl describe`).
PV_CONTROLLER = "persistentvolume-controller"
MANAGER = "kube-controller-manager"
PROVISIONER_MANAGER = "csi-provisioner"

# -- event texts (pv_controller.go, external-provisioner, sig-storage-lib-external-provisioner) -----------
MSG_WAIT_FIRST_CONSUMER = "waiting for first consumer to be created before binding"
MSG_NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
MSG_CLAIM_LOST_REF = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"
MSG_CLAIM_LOST_PV = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
MSG_CLAIM_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"
MSG_UNKNOWN_RECLAIM = "Volume has unrecognized PersistentVolumeReclaimPolicy"
MSG_NO_RECYCLER = "No recycler plugin found for the volume!"


def msg_wait_pods(names: list[str]) -> str:
    if len(names) > 1:
        return f"waiting for pods {','.join(names)} to be scheduled"
    return f"waiting for pod {names[0]} to be scheduled"


def msg_external_provisioning(provisioner: str) -> str:
    """provisionClaimOperationExternal (pv_controller.go, 1.23+ wording)."""
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually "
            "by the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")


def msg_provisioning(claim: Obj) -> str:
    return f"External provisioner is provisioning volume for claim \"{_ns(claim)}/{_name(claim)}\""


def msg_provisioned(pv_name: str) -> str:
    return f"Successfully provisioned volume {pv_name}"


def msg_class_not_found(name: str) -> str:
    return f"storageclass.storage.k8s.io \"{name}\" not found"


def msg_no_deleter(pv_name: str) -> str:
    """findDeletablePlugin when no in-tree plugin can delete the volume."""
    return f"error getting deleter volume plugin for volume \"{pv_name}\": no deletable volume plugin matched"


# -- small accessors ----------------------------------------------------------------------------------------
def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _name(o: Obj) -> str:
    return _meta(o).get("name", "")


def _ns(o: Obj) -> str:
    return _meta(o).get("namespace", "")


def _uid(o: Obj) -> str:
    return _meta(o).get("uid", "")


def _ann(o: Obj) -> dict[str, str]:
    return _meta(o).get("annotations") or {}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _deleting(o: Obj) -> bool:
    return bool(_meta(o).get("deletionTimestamp"))


def _finalizers(o: Obj) -> list[str]:
    return list(_meta(o).get("finalizers") or [])


def claim_class(claim: Obj) -> str:
    """``GetPersistentVolumeClaimClass``: the beta annotation wins over spec.storageClassName."""
    if ANN_BETA_CLASS in _ann(claim):
        return _ann(claim)[ANN_BETA_CLASS]
    return _spec(claim).get("storageClassName") or ""


def volume_class(pv: Obj) -> str:
    """``GetPersistentVolumeClass``."""
    if ANN_BETA_CLASS in _ann(pv):
        return _ann(pv)[ANN_BETA_CLASS]
    return _spec(pv).get("storageClassName") or ""


def storage_bytes(q: Any) -> int:
    if q is None:
        return -1
    try:
        return int(value(q))
    except (QuantityError, ValueError, TypeError, ZeroDivisionError):
        return 0


def requested_bytes(claim: Obj) -> int:
    return max(0, storage_bytes(((_spec(claim).get("resources") or {}).get("requests") or {}).get("storage", 0)))


def capacity_bytes(pv: Obj) -> int:
    return max(0, storage_bytes((_spec(pv).get("capacity") or {}).get("storage", 0)))


def is_bound_to_claim(pv: Obj, claim: Obj) -> bool:
    """``IsVolumeBoundToClaim``: claimRef names the claim (and its uid, when the ref has one)."""
    ref = _spec(pv).get("claimRef")
    if not ref:
        return False
    if ref.get("name") != _name(claim) or ref.get("namespace") != _ns(claim):
        return False
    return not ref.get("uid") or ref.get("uid") == _uid(claim)


def volume_mode_mismatch(claim: Obj, pv: Obj) -> bool:
    return (_spec(claim).get("volumeMode") or "Filesystem") != (_spec(pv).get("volumeMode") or "Filesystem")


def access_modes_ok(claim: Obj, pv: Obj) -> bool:
    """``CheckAccessModes``: the PV offers every mode the claim asks for."""
    return set(_spec(claim).get("accessModes") or []) <= set(_spec(pv).get("accessModes") or [])


def pod_claims(pod: Obj) -> list[str]:
    """Claim names a pod references through ``persistentVolumeClaim`` volumes."""
    out = []
    for v in _spec(pod).get("volumes") or []:
        src = v.get("persistentVolumeClaim") if isinstance(v, dict) else None
        if isinstance(src, dict) and src.get("claimName"):
            out.append(src["claimName"])
    return out


def _not_running(statuses: list[Obj] | None) -> bool:
    for s in statuses or []:
        state = s.get("state") or {}
        if not (state.get("terminated") or state.get("waiting")):
            return False
    return True


def pod_terminated(pod: Obj) -> bool:
    """``volumeutil.IsPodTerminated``: finished, or deleted with no container running."""
    st = _status(pod)
    if st.get("phase") in ("Failed", "Succeeded"):
        return True
    return _deleting(pod) and _not_running(st.get("initContainerStatuses")) and \
        _not_running(st.get("containerStatuses")) and _not_running(st.get("ephemeralContainerStatuses"))


def claim_in_use(claim: Obj, pods: Iterable[Obj]) -> bool:
    """pvc_protection_controller ``podUsesPVC``: a scheduled pod object references the claim.

    Upstream counts such a pod in any phase (a Succeeded pod still holds the claim until it is
    deleted); a pod that is gone from the API no longer does.
    """
    for pod in pods:
        if _ns(pod) == _ns(claim) and _spec(pod).get("nodeName") and _name(claim) in pod_claims(pod):
            return True
    return False


# -- static binding -------------------------------------------------------------------------------------------
def find_matching_volume(claim: Obj, volumes: Iterable[Obj], delay_binding: bool) -> Obj | None:
    """``FindMatchingVolume`` (PV controller path, no node): pre-bound first, else the smallest fit."""
    requested = requested_bytes(claim)
    cls = claim_class(claim)
    sel = _spec(claim).get("selector")
    matcher = selector_from_label_selector(sel) if sel is not None else None
    smallest: Obj | None = None
    for pv in volumes:
        size = capacity_bytes(pv)
        if volume_mode_mismatch(claim, pv) or _deleting(pv):
            continue
        if is_bound_to_claim(pv, claim):
            if size < requested:
                continue
            return pv
        if delay_binding:
            continue  # the scheduler binds unbound volumes of WaitForFirstConsumer claims
        if _status(pv).get("phase") != "Available" or _spec(pv).get("claimRef"):
            continue
        if matcher is not None and not matcher.matches(_meta(pv).get("labels") or {}):
            continue
        if volume_class(pv) != cls:
            continue
        if size >= requested and (smallest is None or capacity_bytes(smallest) > size):
            smallest = pv
    return smallest


def find_best_match(claim: Obj, volumes: Iterable[Obj], delay_binding: bool) -> Obj | None:
    """``persistentVolumeOrderedIndex.findByClaim``: try PVs with the fewest access modes that cover the claim's."""
    want = set(_spec(claim).get("accessModes") or [])
    groups: dict[tuple[str, ...], list[Obj]] = {}
    for pv in volumes:
        modes = tuple(sorted(set(_spec(pv).get("accessModes") or [])))
        if want <= set(modes):
            groups.setdefault(modes, []).append(pv)
    for modes in sorted(groups, key=lambda m: (len(m), m)):
        found = find_matching_volume(claim, groups[modes], delay_binding)
        if found is not None:
            return found
    return None


# -- zones ------------------------------------------------------------------------------------------------------
def fnv32(data: bytes) -> int:
    """FNV-1 32-bit (Go ``hash/fnv.New32``)."""
    h = 0x811C9DC5
    for b in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return h


def pvc_name_hash_and_index(name: str) -> tuple[int, int]:
    """external-provisioner ``getPVCNameHashAndIndexOffset`` (same as in-tree ``ChooseZoneForVolume``).

    ``data-web-2`` -> hash of ``web`` and index 2, so one StatefulSet's claims round-robin over zones
    and several claims of one pet land in the same zone.
    """
    hash_string = name
    index = 0
    base, dash, tail = name.rpartition("-")
    if dash and tail.isdigit() and int(tail) < 2 ** 32:
        index = int(tail)
        hash_string = base
        inner = base.rpartition("-")
        if inner[1]:
            hash_string = inner[2]
    return fnv32(hash_string.encode()), index


class ProvisioningError(Exception):
    pass


def allowed_zones(allowed_topologies: list[Obj] | None) -> list[str]:
    """The zone values of a class's ``allowedTopologies`` (flattened OR of terms)."""
    zones: list[str] = []
    for term in allowed_topologies or []:
        for expr in (term or {}).get("matchLabelExpressions") or []:
            if expr.get("key") in ZONE_KEYS:
                zones.extend(expr.get("values") or [])
    return zones


def choose_zone(pvc_name: str, node_zones: Iterable[str], allowed_topologies: list[Obj] | None,
                selected_zone: str | None) -> str:
    """The zone the EBS driver creates the volume in (its first *preferred* topology).

    ``GenerateAccessibilityRequirements``: requisite = the class's allowedTopologies, else every zone
    that has a node with the driver; preferred = the selected node's zone first when the scheduler
    picked one, else the sorted requisite shifted by ``(hash + index) % n``.
    """
    requisite = sorted(set(allowed_zones(allowed_topologies) if allowed_topologies else node_zones))
    if selected_zone:
        if requisite and selected_zone not in requisite:
            raise ProvisioningError(
                f"error generating accessibility requirements: topology map[{ZONE_KEY}:{selected_zone}] from "
                f"selected node is not in requisite: [{' '.join(f'map[{ZONE_KEY}:{z}]' for z in requisite)}]")
        return selected_zone
    if not requisite:
        raise ProvisioningError("error generating accessibility requirements: no available topology found")
    h, i = pvc_name_hash_and_index(pvc_name)
    return requisite[((h + i) & 0xFFFFFFFF) % len(requisite)]


def node_zone(node: Obj | None) -> str:
    labels = _meta(node or {}).get("labels") or {}
    for key in ZONE_KEYS:
        if labels.get(key):
            return labels[key]
    return ""


def region_of(zone: str) -> str:
    """``us-east-1a`` -> ``us-east-1`` (csi-translation-lib ``getAwsRegionFromZones``)."""
    return zone[:-1] if zone and zone[-1].isalpha() else zone


# -- provisioning ---------------------------------------------------------------------------------------------
def volume_handle(claim_uid: str) -> str:
    """An EC2 volume id, ``vol-`` + 17 hex digits, stable per claim (EBS ids are random; ours repeat)."""
    return "vol-0" + hashlib.sha256(claim_uid.encode()).hexdigest()[:16]


def provisioned_size(claim: Obj) -> int:
    """EBS ``CreateVolume``: the request rounded up to whole GiB (100 GiB when none, 1 GiB minimum)."""
    req = requested_bytes(claim) or DEFAULT_SIZE
    return max(1, -(-req // GIB)) * GIB


def claim_ref(claim: Obj) -> Obj:
    """``reference.GetReference`` of a claim."""
    m = _meta(claim)
    return {"kind": "PersistentVolumeClaim", "namespace": m.get("namespace", ""), "name": m.get("name", ""),
            "uid": m.get("uid", ""), "apiVersion": "v1", "resourceVersion": m.get("resourceVersion", "")}


def build_pv(claim: Obj, sc: Obj, zone: str, identity: str) -> Obj:
    """The PV external-provisioner creates for ``claim`` in ``zone`` (CSI, or in-tree when migrated)."""
    uid = _uid(claim)
    name = "pvc-" + uid
    handle = volume_handle(uid)
    spec_c = _spec(claim)
    size = provisioned_size(claim)
    params = sc.get("parameters") or {}
    fstype = params.get("csi.storage.k8s.io/fstype") or params.get("fsType") or "ext4"
    spec: Obj = {
        "accessModes": list(spec_c.get("accessModes") or []),
        "capacity": {"storage": canonical(f"{size // GIB}Gi")},
        "claimRef": claim_ref(claim),
        "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
        "storageClassName": claim_class(claim),
        "volumeMode": spec_c.get("volumeMode") or "Filesystem",
    }
    if sc.get("mountOptions"):
        spec["mountOptions"] = list(sc["mountOptions"])
    meta: Obj = {"name": name, "annotations": {ANN_DELETION_SECRET_NAME: "", ANN_DELETION_SECRET_NAMESPACE: ""}}
    if sc.get("provisioner") == INTREE_EBS:
        # TranslateCSIPVToInTree + translateTopologyFromCSIToInTree (csi-translation-lib aws_ebs.go).
        spec["awsElasticBlockStore"] = {"volumeID": handle, "fsType": fstype}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE_KEY, "operator": "In", "values": [zone]},
            {"key": REGION_KEY, "operator": "In", "values": [region_of(zone)]}]}]}}
        meta["labels"] = {REGION_KEY: region_of(zone), ZONE_KEY: zone}
        meta["annotations"].update({ANN_PROVISIONED_BY: INTREE_EBS, ANN_MIGRATED_TO: EBS_DRIVER})
        meta["finalizers"] = [FINALIZER_PV]
    else:
        spec["csi"] = {"driver": EBS_DRIVER, "fsType": fstype, "volumeHandle": handle,
                       "volumeAttributes": {PROVISIONER_ID_KEY: identity}}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE_KEY, "operator": "In", "values": [zone]}]}]}}
        meta["annotations"][ANN_PROVISIONED_BY] = EBS_DRIVER
        meta["finalizers"] = [FINALIZER_PROVISIONER, FINALIZER_PV]
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec}


def ours(pv: Obj) -> bool:
    """Provisioned by (and so deleted by) kubesim's EBS provisioner."""
    return _ann(pv).get(ANN_PROVISIONED_BY) in PROVISIONERS


# -- actions --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Emit:
    """An event on the claim (``on="claim"``) or the volume (``on="volume"``)."""

    on: str
    type: str
    reason: str
    message: str
    component: str = PV_CONTROLLER


@dataclass(frozen=True)
class ClaimPhase:
    """``updateClaimStatus``: phase, and accessModes/capacity from ``volume`` (cleared when None)."""

    phase: str
    volume: str | None = None


@dataclass(frozen=True)
class VolumePhase:
    phase: str
    message: str = ""


@dataclass(frozen=True)
class Bind:
    """``bind``: PV claimRef + phase Bound, then claim volumeName/annotations + status Bound."""

    volume: str


@dataclass(frozen=True)
class Unbind:
    """``unbindVolume``."""


@dataclass(frozen=True)
class SetProvisioner:
    """``setClaimProvisioner``: both storage-provisioner annotations."""

    provisioner: str


@dataclass(frozen=True)
class Provision:
    """Create the volume's directory and its PV object."""

    pv: Obj = field(compare=False)


@dataclass(frozen=True)
class DeleteVolume:
    """External deleter: remove the data, drop the provisioner finalizer, delete the PV object."""


@dataclass(frozen=True)
class Finalizer:
    """Add or remove a finalizer on the object being synced."""

    name: str
    add: bool


Action = Emit | ClaimPhase | VolumePhase | Bind | Unbind | SetProvisioner | Provision | DeleteVolume | Finalizer


@dataclass
class ProvisionInputs:
    """What the provisioner needs besides the claim: where nodes are and who it is."""

    zones: list[str] = field(default_factory=list)
    selected_node: Obj | None = None
    identity: str = "1-0-" + EBS_DRIVER
    component: str = EBS_DRIVER


def protection(obj: Obj, finalizer: str, in_use: bool) -> list[Action]:
    """pvc/pv protection: add the finalizer to live objects, drop it from unused deleting ones."""
    fins = _finalizers(obj)
    if _deleting(obj):
        return [Finalizer(finalizer, False)] if finalizer in fins and not in_use else []
    return [] if finalizer in fins else [Finalizer(finalizer, True)]


def decide_claim(claim: Obj, classes: Mapping[str, Obj], volumes: list[Obj], pods: list[Obj],
                 prov: ProvisionInputs | None = None) -> list[Action]:
    """One ``syncClaim`` of the PV controller, plus the external provisioner's answer to it.

    ``volumes``: the PVs to consider (the bound/requested one, or all for matching); ``pods``: pods in
    the claim's namespace that reference it.
    """
    prov = prov or ProvisionInputs()
    actions: list[Action] = protection(claim, FINALIZER_PVC, claim_in_use(claim, pods))
    by_name = {_name(v): v for v in volumes}
    vname = _spec(claim).get("volumeName") or ""
    if ANN_BIND_COMPLETED in _ann(claim):
        # syncBoundClaim
        if not vname:
            if _status(claim).get("phase") != "Lost":
                actions += [ClaimPhase("Lost"), Emit("claim", "Warning", "ClaimLost", MSG_CLAIM_LOST_REF)]
            return actions
        pv = by_name.get(vname)
        if pv is None:
            if _status(claim).get("phase") != "Lost":
                actions += [ClaimPhase("Lost"), Emit("claim", "Warning", "ClaimLost", MSG_CLAIM_LOST_PV)]
            return actions
        ref = _spec(pv).get("claimRef")
        if not ref or ref.get("uid") == _uid(claim):
            return actions + _bind_if_needed(pv, claim)
        if _status(claim).get("phase") != "Lost":
            actions += [ClaimPhase("Lost"), Emit("claim", "Warning", "ClaimMisbound", MSG_CLAIM_MISBOUND)]
        return actions
    # syncUnboundClaim
    cls_name = claim_class(claim)
    sc = classes.get(cls_name) if cls_name else None
    delay = bool(sc) and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
    if vname:
        pv = by_name.get(vname)
        if pv is None:
            return actions + _pending(claim)
        ref = _spec(pv).get("claimRef")
        if not ref:
            why = _unsatisfied(pv, claim)
            if why:
                return actions + [Emit("claim", "Warning", "VolumeMismatch",
                                       f"Cannot bind to requested volume \"{vname}\": {why}")] + _pending(claim)
            return actions + [Bind(vname)]
        if is_bound_to_claim(pv, claim):
            return actions + [Bind(vname)]
        return actions + [Emit("claim", "Warning", "FailedBinding",
                               f"volume \"{vname}\" already bound to a different claim.")] + _pending(claim)
    pv = find_best_match(claim, volumes, delay)
    if pv is not None:
        return actions + [Bind(_name(pv))]
    selected = _ann(claim).get(ANN_SELECTED_NODE)
    if delay and not selected:
        waiting = sorted(_name(p) for p in pods if not _spec(p).get("nodeName") and not pod_terminated(p))
        if waiting:
            actions.append(Emit("claim", "Normal", "WaitForPodScheduled", msg_wait_pods(waiting)))
        else:
            actions.append(Emit("claim", "Normal", "WaitForFirstConsumer", MSG_WAIT_FIRST_CONSUMER))
        return actions + _pending(claim)
    if not cls_name:
        return actions + [Emit("claim", "Normal", "FailedBinding", MSG_NO_CLASS)] + _pending(claim)
    if sc is None:
        return actions + [Emit("claim", "Warning", "ProvisioningFailed", msg_class_not_found(cls_name))] + \
            _pending(claim)
    provisioner = MIGRATED.get(sc.get("provisioner", ""), sc.get("provisioner", ""))
    if _ann(claim).get(ANN_STORAGE_PROVISIONER) != provisioner or \
            _ann(claim).get(ANN_BETA_STORAGE_PROVISIONER) != provisioner:
        actions.append(SetProvisioner(provisioner))
    actions.append(Emit("claim", "Normal", "ExternalProvisioning", msg_external_provisioning(provisioner)))
    actions += _pending(claim)
    if sc.get("provisioner") in PROVISIONERS and not _deleting(claim):
        actions += provision(claim, sc, prov)
    return actions


def provision(claim: Obj, sc: Obj, prov: ProvisionInputs) -> list[Action]:
    """The external provisioner's ``Provision`` for one claim it is responsible for."""
    selected = _ann(claim).get(ANN_SELECTED_NODE)
    if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not selected:
        return []
    comp = prov.component
    out: list[Action] = [Emit("claim", "Normal", "Provisioning", msg_provisioning(claim), comp)]
    if selected and prov.selected_node is None:
        return out + [Emit("claim", "Warning", "ProvisioningFailed",
                           f"failed to get target node: node \"{selected}\" not found", comp)]
    try:
        zone = choose_zone(_name(claim), prov.zones, sc.get("allowedTopologies"),
                           node_zone(prov.selected_node) if selected else None)
    except ProvisioningError as exc:
        return out + [Emit("claim", "Warning", "ProvisioningFailed",
                           f"failed to provision volume with StorageClass \"{_name(sc)}\": {exc}", comp)]
    pv = build_pv(claim, sc, zone, prov.identity)
    return out + [Provision(pv), Emit("claim", "Normal", "ProvisioningSucceeded", msg_provisioned(_name(pv)), comp)]


def _pending(claim: Obj) -> list[Action]:
    st = _status(claim)
    if st.get("phase") == "Pending" and not st.get("accessModes") and not st.get("capacity"):
        return []
    return [ClaimPhase("Pending")]


def _unsatisfied(pv: Obj, claim: Obj) -> str:
    """``checkVolumeSatisfyClaim``."""
    if _deleting(pv):
        return f"the volume is marked for deletion \"{_name(pv)}\""
    if capacity_bytes(pv) < requested_bytes(claim):
        return "requested PV is too small"
    if volume_class(pv) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode_mismatch(claim, pv):
        return "incompatible volumeMode"
    if not access_modes_ok(claim, pv):
        return "incompatible accessMode"
    return ""


def _bind_if_needed(pv: Obj, claim: Obj) -> list[Action]:
    """``bind`` is a no-op when every half is already in place; say so without writing."""
    if bound_volume(pv, claim) is None and _status(pv).get("phase") == "Bound" and \
            bound_claim(claim, pv) is None and claim_status(claim, "Bound", pv) is None:
        return []
    return [Bind(_name(pv))]


def bound_volume(pv: Obj, claim: Obj) -> Obj | None:
    """``GetBindVolumeToClaim``: the PV with claimRef (and bound-by-controller) set, None if unchanged."""
    out = copy.deepcopy(pv)
    dirty = False
    ref = _spec(pv).get("claimRef") or {}
    set_by_controller = not is_bound_to_claim(pv, claim)
    if not ref or ref.get("name") != _name(claim) or ref.get("namespace") != _ns(claim) or \
            ref.get("uid") != _uid(claim):
        out.setdefault("spec", {})["claimRef"] = claim_ref(claim)
        dirty = True
    if set_by_controller and ANN_BOUND_BY_CONTROLLER not in _ann(pv):
        out.setdefault("metadata", {}).setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
        dirty = True
    return out if dirty else None


def bound_claim(claim: Obj, pv: Obj) -> Obj | None:
    """``bindClaimToVolume``: volumeName + bound-by-controller + bind-completed, None if unchanged."""
    out = copy.deepcopy(claim)
    ann = out.setdefault("metadata", {}).setdefault("annotations", {})
    dirty = False
    if _spec(claim).get("volumeName") != _name(pv):
        out.setdefault("spec", {})["volumeName"] = _name(pv)
        ann.setdefault(ANN_BOUND_BY_CONTROLLER, "yes")
        dirty = True
    if ANN_BIND_COMPLETED not in ann:
        ann[ANN_BIND_COMPLETED] = "yes"
        dirty = True
    return out if dirty else None


def claim_status(claim: Obj, phase: str, pv: Obj | None) -> Obj | None:
    """``updateClaimStatus``: the new status, None when nothing changes."""
    old = _status(claim)
    st = copy.deepcopy(old)
    st["phase"] = phase
    if pv is None:
        st.pop("accessModes", None)
        st.pop("capacity", None)
    else:
        st["accessModes"] = list(_spec(pv).get("accessModes") or [])
        if old.get("phase") != phase:  # capacity only when becoming Bound (resize may differ later)
            cap = (_spec(pv).get("capacity") or {}).get("storage")
            if cap is not None and storage_bytes((old.get("capacity") or {}).get("storage")) != storage_bytes(cap):
                st["capacity"] = {"storage": cap}
    return None if st == old else st


def decide_volume(pv: Obj, claim: Obj | None, attached: bool = False) -> list[Action]:
    """One ``syncVolume`` plus pv-protection and the external deleter.

    ``claim``: the claim named by claimRef if it exists (any uid; a different uid means the named claim
    was deleted and re-created); ``attached``: a VolumeAttachment still references the PV (the EBS
    volume cannot be deleted while attached).
    """
    actions: list[Action] = []
    phase = _status(pv).get("phase")
    ref = _spec(pv).get("claimRef")
    if not ref or not ref.get("uid"):
        if phase != "Available":
            actions.append(VolumePhase("Available"))
        phase = "Available"
    else:
        live = claim if (claim is not None and _uid(claim) == ref.get("uid")) else None
        if live is None:
            if phase not in ("Released", "Failed"):
                actions.append(VolumePhase("Released"))
                phase = "Released"
            actions += _reclaim(pv, phase, attached)
        elif not _spec(live).get("volumeName"):
            pass  # binding not finished: the claim's sync completes it
        elif _spec(live).get("volumeName") == _name(pv):
            if phase != "Bound":
                actions.append(VolumePhase("Bound"))
                phase = "Bound"
        elif ANN_PROVISIONED_BY in _ann(pv) and _spec(pv).get("persistentVolumeReclaimPolicy") == "Delete":
            if phase not in ("Released", "Failed"):
                actions.append(VolumePhase("Released"))
                phase = "Released"
            actions += _reclaim(pv, phase, attached)
        else:
            actions.append(Unbind())
            phase = "Available"
    policy = _spec(pv).get("persistentVolumeReclaimPolicy")
    if FINALIZER_PROVISIONER in _finalizers(pv) and policy != "Delete":
        # The provisioner keeps its finalizer only on volumes it must delete (lib syncVolume).
        actions.append(Finalizer(FINALIZER_PROVISIONER, False))
    elif _deleting(pv) and not ref and ours(pv) and policy == "Delete" and \
            FINALIZER_PROVISIONER in _finalizers(pv) and not attached:
        actions.append(DeleteVolume())  # HonorPVReclaimPolicy: a deleted unbound PV still deletes its volume
    actions += protection(pv, FINALIZER_PV, phase == "Bound")
    return actions


def _reclaim(pv: Obj, phase: str, attached: bool) -> list[Action]:
    """``reclaimVolume`` for a released volume."""
    policy = _spec(pv).get("persistentVolumeReclaimPolicy")
    if policy == "Retain":
        return []
    if policy == "Delete":
        if ours(pv):
            if attached or (_deleting(pv) and FINALIZER_PROVISIONER not in _finalizers(pv)):
                return []  # still attached somewhere, or already deleted (only the PV object is left)
            return [DeleteVolume()]
        if _spec(pv).get("csi") is not None or ANN_PROVISIONED_BY in _ann(pv):
            return []  # an external deleter that kubesim does not run: the PV stays Released
        if phase != "Failed":
            return [VolumePhase("Failed", msg_no_deleter(_name(pv))),
                    Emit("volume", "Warning", "VolumeFailedDelete", msg_no_deleter(_name(pv)))]
        return []
    if policy == "Recycle":
        if phase != "Failed":
            return [VolumePhase("Failed", MSG_NO_RECYCLER), Emit("volume", "Warning", "VolumeFailedRecycle",
                                                                 MSG_NO_RECYCLER)]
        return []
    if phase != "Failed":
        return [VolumePhase("Failed", MSG_UNKNOWN_RECLAIM),
                Emit("volume", "Warning", "VolumeUnknownReclaimPolicy", MSG_UNKNOWN_RECLAIM)]
    return []


# -- the loop -----------------------------------------------------------------------------------------------
class VolumeController(Controller):
    """PV controller + EBS provisioner/deleter + pvc/pv protection over one cluster."""

    name = "persistentvolume-controller"
    watches = ("persistentvolumeclaims", "persistentvolumes", "pods", "storage.k8s.io/storageclasses",
               "storage.k8s.io/volumeattachments")

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        # --pvclaimbinder-sync-period 15 s, scaled (at least 1 s so pending claims do not spin).
        self.resync_seconds = max(1.0, self.timings.s(15.0))
        self.state_root = getattr(self.ctx, "state_root", "")
        rng = random.Random()
        # external-provisioner's identity (timestamp-random-driver) and its event source, which
        # `kubectl describe` shows as ebs.csi.aws.com_<controller pod>_<uuid>.
        self.identity = f"{int(time.time() * 1000)}-{rng.randrange(10000)}-{EBS_DRIVER}"
        pod = "ebs-csi-controller-" + "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(15))
        pod = pod[:-5] + "-" + pod[-5:]
        self.provisioner_component = f"{EBS_DRIVER}_{pod}_{uuid.UUID(int=rng.getrandbits(128))}"
        self.pv_events = self.ctx.recorder(PV_CONTROLLER)
        self.prov_events = self.ctx.recorder(self.provisioner_component)
        # claims referenced by each pod (ns, pod) -> claim names, and the reverse index.
        self._pod_claims: dict[tuple[str, str], tuple[str, ...]] = {}
        self._claim_pods: dict[tuple[str, str], set[str]] = {}

    # -- wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        for e in self.api.store.list("pods")[0]:
            self._index_pod(e.namespace, e.name, e.obj())
        super().start()

    def _index_pod(self, ns: str, name: str, pod: Obj | None) -> tuple[str, ...]:
        old = self._pod_claims.pop((ns, name), ())
        for c in old:
            self._claim_pods.get((ns, c), set()).discard(name)
        new = tuple(pod_claims(pod)) if pod is not None else ()
        if new:
            self._pod_claims[(ns, name)] = new
            for c in new:
                self._claim_pods.setdefault((ns, c), set()).add(name)
        return tuple(set(old) | set(new))

    def items_for(self, ev: StoreEvent) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "persistentvolumeclaims":
            return [("pvc", e.namespace, e.name)]
        if e.key == "persistentvolumes":
            out: list[Hashable] = [("pv", "", e.name)]
            ref = (e.view().get("spec") or {}).get("claimRef") or {}
            if ref.get("name"):
                out.append(("pvc", ref.get("namespace", ""), ref["name"]))
            return out
        if e.key == "pods":
            claims = self._index_pod(e.namespace, e.name, None if ev.type == "DELETED" else e.view())
            return [("pvc", e.namespace, c) for c in claims]
        if e.key == "storage.k8s.io/volumeattachments":
            pv = ((e.view().get("spec") or {}).get("source") or {}).get("persistentVolumeName")
            return [("pv", "", pv)] if pv else []
        return []  # storage classes: the periodic resync retries pending claims

    def all_items(self) -> Iterable[Hashable]:
        out: list[Hashable] = [("pvc", e.namespace, e.name) for e in self.api.store.list("persistentvolumeclaims")[0]]
        out += [("pv", "", e.name) for e in self.api.store.list("persistentvolumes")[0]]
        return out

    # -- observe -----------------------------------------------------------------------------
    def _get(self, key: str, ns: str, name: str) -> Obj | None:
        e = self.api.store.get(key, ns, name)
        return None if e is None else e.obj()

    def _classes(self) -> dict[str, Obj]:
        return {e.name: e.obj() for e in self.api.store.list("storage.k8s.io/storageclasses")[0]}

    def _pods_of(self, ns: str, claim: str) -> list[Obj]:
        out = []
        for name in sorted(self._claim_pods.get((ns, claim), ())):
            pod = self._get("pods", ns, name)
            if pod is not None:
                out.append(pod)
        return out

    def _volumes_for(self, claim: Obj) -> list[Obj]:
        """The PVs a claim sync needs: its own, else the provisioned one, else all (static matching)."""
        vname = _spec(claim).get("volumeName")
        if vname or ANN_BIND_COMPLETED in _ann(claim):
            pv = self._get("persistentvolumes", "", vname) if vname else None
            return [pv] if pv else []
        mine = self._get("persistentvolumes", "", "pvc-" + _uid(claim))
        if mine is not None and is_bound_to_claim(mine, claim):
            return [mine]
        return [e.obj() for e in self.api.store.list("persistentvolumes")[0]]

    def _provision_inputs(self, claim: Obj) -> ProvisionInputs:
        zones = []
        for e in self.api.store.list("nodes")[0]:
            z = node_zone(e.obj())
            if z:
                zones.append(z)
        sel = _ann(claim).get(ANN_SELECTED_NODE)
        node = self._get("nodes", "", sel) if sel else None
        return ProvisionInputs(zones=zones, selected_node=node, identity=self.identity,
                               component=self.provisioner_component)

    # -- reconcile ---------------------------------------------------------------------------
    def reconcile(self, item: Hashable) -> float | None:
        kind, ns, name = item  # type: ignore[misc]
        if kind == "pvc":
            return self._sync_claim(ns, name)
        return self._sync_volume(name)

    def _sync_claim(self, ns: str, name: str) -> float | None:
        claim = self._get("persistentvolumeclaims", ns, name)
        if claim is None:
            return None
        volumes = self._volumes_for(claim)
        actions = decide_claim(claim, self._classes(), volumes, self._pods_of(ns, name),
                               self._provision_inputs(claim))
        by_name = {_name(v): v for v in volumes}
        for act in actions:
            claim = self._apply_claim(act, claim, by_name)
            if claim is None:
                return None
        return None

    def _apply_claim(self, act: Action, claim: Obj, volumes: dict[str, Obj]) -> Obj | None:
        rt = self.api.rt("persistentvolumeclaims")
        ns, name = _ns(claim), _name(claim)
        if isinstance(act, Emit):
            rec = self.prov_events if act.component != PV_CONTROLLER else self.pv_events
            rec.event(claim, act.type, act.reason, act.message)
        elif isinstance(act, Finalizer):
            return self._set_finalizer(rt, ns, name, act)
        elif isinstance(act, SetProvisioner):
            def annotate(cur: Obj) -> Obj:
                ann = cur.setdefault("metadata", {}).setdefault("annotations", {})
                ann[ANN_BETA_STORAGE_PROVISIONER] = act.provisioner
                ann[ANN_STORAGE_PROVISIONER] = act.provisioner
                return cur
            return self.api.mutate(rt, ns, name, annotate, MANAGER)
        elif isinstance(act, ClaimPhase):
            return self._claim_phase(claim, act.phase, volumes.get(act.volume or ""))
        elif isinstance(act, Provision):
            self._provision(act.pv)
        elif isinstance(act, Bind):
            pv = volumes.get(act.volume) or self._get("persistentvolumes", "", act.volume)
            if pv is None:
                return claim
            return self._bind(pv, claim)
        return claim

    def _set_finalizer(self, rt: Any, ns: str, name: str, act: Finalizer) -> Obj | None:
        def fin(cur: Obj) -> Obj:
            fins = list(_meta(cur).get("finalizers") or [])
            if act.add and act.name not in fins:
                fins.append(act.name)
            elif not act.add:
                fins = [f for f in fins if f != act.name]
            cur.setdefault("metadata", {})["finalizers"] = fins
            return cur
        try:
            out = self.api.mutate(rt, ns or None, name, fin, MANAGER)
        except NotFound:
            return None
        # Removing the last finalizer of a deleting object removes it.
        return None if self.api.store.get(rt.key, ns, name) is None else out

    def _claim_phase(self, claim: Obj, phase: str, pv: Obj | None) -> Obj:
        if claim_status(claim, phase, pv) is None:
            return claim
        return self.api.update_status(self.api.rt("persistentvolumeclaims"), _ns(claim), _name(claim),
                                      lambda cur: {**cur, "status": claim_status(cur, phase, pv) or _status(cur)},
                                      MANAGER)

    def _volume_phase(self, pv: Obj, phase: str, message: str = "") -> Obj:
        def st(cur: Obj) -> Obj:
            s = dict(_status(cur))
            if s.get("phase") != phase:
                s["lastPhaseTransitionTime"] = clock.rfc3339()  # persistentvolume status strategy
            s["phase"] = phase
            if message:
                s["message"] = message
            else:
                s.pop("message", None)
            cur["status"] = s
            return cur
        if _status(pv).get("phase") == phase and (_status(pv).get("message") or "") == message:
            return pv
        return self.api.update_status(self.api.rt("persistentvolumes"), None, _name(pv), st, MANAGER)

    def _bind(self, pv: Obj, claim: Obj) -> Obj:
        """``bind``: volume first (spec, then status), then the claim (spec, then status)."""
        pv_rt = self.api.rt("persistentvolumes")
        new_pv = bound_volume(pv, claim)
        if new_pv is not None:
            pv = self.api.mutate(pv_rt, None, _name(pv), lambda cur: _carry(cur, new_pv, ("spec", "annotations")),
                                 MANAGER)
        pv = self._volume_phase(pv, "Bound")
        new_claim = bound_claim(claim, pv)
        if new_claim is not None:
            claim = self.api.mutate(self.api.rt("persistentvolumeclaims"), _ns(claim), _name(claim),
                                    lambda cur: _carry(cur, new_claim, ("volumeName", "annotations")), MANAGER)
        return self._claim_phase(claim, "Bound", pv)

    def _provision(self, pv: Obj) -> None:
        if self.state_root:
            os.makedirs(volume_dir(self.state_root, pv), exist_ok=True)
        try:
            self.api.create(self.api.rt("persistentvolumes"), None, copy.deepcopy(pv),
                            Request(field_manager=PROVISIONER_MANAGER))
        except AlreadyExists:
            pass

    def _sync_volume(self, name: str) -> float | None:
        pv = self._get("persistentvolumes", "", name)
        if pv is None:
            return None
        ref = _spec(pv).get("claimRef") or {}
        claim = self._get("persistentvolumeclaims", ref.get("namespace", ""), ref["name"]) if ref.get("name") else None
        attached = any(((e.obj().get("spec") or {}).get("source") or {}).get("persistentVolumeName") == name
                       for e in self.api.store.list("storage.k8s.io/volumeattachments")[0])
        actions = decide_volume(pv, claim, attached)
        rt = self.api.rt("persistentvolumes")
        for act in actions:
            cur = self._get("persistentvolumes", "", name)
            if cur is None:
                return None
            if isinstance(act, VolumePhase):
                self._volume_phase(cur, act.phase, act.message)
            elif isinstance(act, Emit):
                self.pv_events.event(cur, act.type, act.reason, act.message)
            elif isinstance(act, Finalizer):
                if self._set_finalizer(rt, "", name, act) is None:
                    return None
            elif isinstance(act, Unbind):
                self._unbind(cur)
            elif isinstance(act, DeleteVolume):
                self._delete_volume(cur)
        return None

    def _unbind(self, pv: Obj) -> None:
        def unbind(cur: Obj) -> Obj:
            if ANN_BOUND_BY_CONTROLLER in _ann(cur):
                cur["spec"].pop("claimRef", None)
                cur["metadata"]["annotations"].pop(ANN_BOUND_BY_CONTROLLER, None)
            elif cur["spec"].get("claimRef"):
                cur["spec"]["claimRef"].pop("uid", None)
            return cur
        pv = self.api.mutate(self.api.rt("persistentvolumes"), None, _name(pv), unbind, MANAGER)
        self._volume_phase(pv, "Available")

    def _delete_volume(self, pv: Obj) -> None:
        """sig-storage-lib-external-provisioner ``deleteVolumeOperation``: volume, finalizer, PV object."""
        if self.state_root:
            path = volume_dir(self.state_root, pv)
            root = os.path.realpath(os.path.join(self.state_root, "volumes"))
            if os.path.realpath(path).startswith(root + os.sep):
                shutil.rmtree(path, ignore_errors=True)
        rt = self.api.rt("persistentvolumes")
        try:
            self._set_finalizer(rt, "", _name(pv), Finalizer(FINALIZER_PROVISIONER, False))
            if self.api.store.get(rt.key, "", _name(pv)) is not None:
                self.api.delete(rt, None, _name(pv), DeleteOptions())
        except (NotFound, Conflict):
            pass
        except ApiError as exc:
            log.debug("deleting PV %s: %s", _name(pv), exc)


def _carry(cur: Obj, want: Obj, parts: tuple[str, ...]) -> Obj:
    """Copy the parts a decision changed onto the freshest object (a retried write keeps others' edits)."""
    if "spec" in parts:
        cur["spec"] = copy.deepcopy(want.get("spec") or {})
    if "volumeName" in parts:
        cur.setdefault("spec", {})["volumeName"] = _spec(want).get("volumeName")
    if "annotations" in parts:
        ann = cur.setdefault("metadata", {}).setdefault("annotations", {})
        ann.update(_ann(want))
    return cur
