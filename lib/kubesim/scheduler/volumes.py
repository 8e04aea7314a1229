"""VolumeBinding and VolumeZone: a pod's claims as the scheduler sees them.

Follows ``pkg/scheduler/framework/plugins/volumebinding`` (``volume_binding.go``
``podHasPVCs`` / ``PreFilter`` / ``Filter`` / ``PreBind``; ``binder.go``
``GetPodVolumeClaims``, ``FindPodVolumes``, ``checkBoundClaims``,
``findMatchingVolumes``, ``checkVolumeProvisions``) and
``plugins/volumezone/volume_zone.go``:

- PreFilter, in this order per claim: missing claim, ``Lost`` claim, claim being
  deleted; then any unbound claim of an ``Immediate`` class rejects the pod with
  ``pod has unbound immediate PersistentVolumeClaims`` (SV-04, SV-07).
- Filter per node: a bound claim's PV must exist and its ``nodeAffinity`` must
  match the node (SV-06, V2 wording); a ``WaitForFirstConsumer`` claim needs an
  ``Available`` PV that fits on the node, or a provisioner and a node inside the
  class's ``allowedTopologies`` (SV-02).
- PreBind plan for the chosen node: static matches get ``claimRef`` on the PV,
  claims to provision get the ``volume.kubernetes.io/selected-node`` annotation;
  the scheduler then waits for every claim to be Bound before binding the pod.

A claim counts as bound when it names a volume and carries
``pv.kubernetes.io/bind-completed`` (``isPVCBound``); kubesim also accepts
``status.phase: Bound`` so a volume controller that skips the annotation still
works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..selectors import selector_from_label_selector
from . import messages as m
from .affinity import node_selector_terms_match, topology_selector_terms_match
from .model import units

Obj = dict[str, Any]

ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"

# volumezone: the PV labels it checks, and the GA label a beta one may match on the node.
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone",
               "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
_GA_FOR_BETA = {"failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
                "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region"}


def claim_class(pvc: Obj) -> str:
    """``storagehelpers.GetPersistentVolumeClaimClass``: the beta annotation wins over the field."""
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def claim_is_bound(pvc: Obj) -> bool:
    spec = pvc.get("spec") or {}
    if not spec.get("volumeName"):
        return False
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    return ANN_BIND_COMPLETED in ann or (pvc.get("status") or {}).get("phase") == "Bound"


def delay_binding(pvc: Obj, classes: Mapping[str, Obj]) -> bool:
    """``IsDelayBindingMode``: no class or an unknown class means Immediate."""
    sc = classes.get(claim_class(pvc))
    return bool(sc) and sc.get("volumeBindingMode") == "WaitForFirstConsumer"


@dataclass
class PodClaims:
    """The PreFilter result: the pod's claims sorted by what they still need."""

    bound: list[Obj] = field(default_factory=list)
    delayed: list[Obj] = field(default_factory=list)  # unbound, WaitForFirstConsumer
    immediate: list[Obj] = field(default_factory=list)  # unbound, Immediate

    @property
    def empty(self) -> bool:
        return not (self.bound or self.delayed or self.immediate)


def claim_names(pod: Obj) -> list[tuple[str, bool]]:
    """(claim name, is generic ephemeral) for each PVC-backed volume of the pod."""
    meta = pod.get("metadata") or {}
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if vol.get("persistentVolumeClaim") is not None:
            out.append(((vol["persistentVolumeClaim"] or {}).get("claimName") or "", False))
        elif vol.get("ephemeral") is not None:
            out.append((f"{meta.get('name', '')}-{vol.get('name', '')}", True))
    return out


def prefilter(pod: Obj, pvcs: Mapping[tuple[str, str], Obj], classes: Mapping[str, Obj]
              ) -> tuple[PodClaims, m.Status | None]:
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    claims = PodClaims()
    found: list[Obj] = []
    for name, ephemeral in claim_names(pod):
        pvc = pvcs.get((ns, name))
        if pvc is None:
            msg = m.ephemeral_pvc_missing(name) if ephemeral else m.pvc_not_found(name)
            return claims, m.reject("VolumeBinding", msg)
        if (pvc.get("status") or {}).get("phase") == "Lost":
            return claims, m.reject("VolumeBinding", m.pvc_lost(name, (pvc.get("spec") or {}).get("volumeName", "")))
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            return claims, m.reject("VolumeBinding", m.pvc_being_deleted(name))
        found.append(pvc)
    for pvc in found:
        if claim_is_bound(pvc):
            claims.bound.append(pvc)
        elif delay_binding(pvc, classes):
            claims.delayed.append(pvc)
        else:
            claims.immediate.append(pvc)
    if claims.immediate:
        return claims, m.reject("VolumeBinding", m.UNBOUND_IMMEDIATE_PVC)
    return claims, None


def pv_matches_node(pv: Obj, labels: Mapping[str, str], node_name: str) -> bool:
    """``volume.CheckNodeAffinity``: no required affinity means any node."""
    req = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not req:
        return True
    return node_selector_terms_match(req.get("nodeSelectorTerms") or [], labels, node_name)


def _requested_storage(pvc: Obj) -> int:
    return units((((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", 0))


def _pv_fits_claim(pv: Obj, pvc: Obj) -> bool:
    """``FindMatchingVolume``'s checks for an unbound claim (class, size, modes, volumeMode, selector)."""
    ps, cs = pv.get("spec") or {}, pvc.get("spec") or {}
    meta = pvc.get("metadata") or {}
    ref = ps.get("claimRef")
    if ref:
        if ref.get("name") != meta.get("name") or (ref.get("namespace") or "") != (meta.get("namespace") or ""):
            return False
        if ref.get("uid") and ref.get("uid") != meta.get("uid"):
            return False
    elif (pv.get("status") or {}).get("phase") not in (None, "", "Available"):
        return False
    if (pv.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (ps.get("storageClassName") or "") != claim_class(pvc):
        return False
    if (ps.get("volumeMode") or "Filesystem") != (cs.get("volumeMode") or "Filesystem"):
        return False
    if not set(cs.get("accessModes") or []) <= set(ps.get("accessModes") or []):
        return False
    if units((ps.get("capacity") or {}).get("storage", 0)) < _requested_storage(pvc):
        return False
    sel = cs.get("selector")
    pv_labels = (pv.get("metadata") or {}).get("labels") or {}
    if sel is not None and not selector_from_label_selector(sel).matches(pv_labels):
        return False
    return True


@dataclass(frozen=True)
class StaticBinding:
    claim: tuple[str, str]
    pv: str


@dataclass
class VolumePlan:
    """What PreBind must do on the chosen node."""

    static: list[StaticBinding] = field(default_factory=list)
    provision: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.static and not self.provision

    @property
    def claims(self) -> list[tuple[str, str]]:
        return [b.claim for b in self.static] + list(self.provision)


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def filter_node(claims: PodClaims, labels: Mapping[str, str], node_name: str, pvs: Mapping[str, Obj],
                classes: Mapping[str, Obj], version: tuple[int, int] = (1, 33)
                ) -> tuple[m.Status | None, VolumePlan]:
    """VolumeBinding's Filter for one node and, when it passes, the PreBind plan."""
    plan = VolumePlan()
    reasons: list[str] = []
    for pvc in claims.bound:
        pv = pvs.get((pvc.get("spec") or {}).get("volumeName", ""))
        if pv is None:
            reasons.append(m.VOLUME_PV_NOT_EXIST)
            break
        if not pv_matches_node(pv, labels, node_name):
            reasons.append(m.volume_node_conflict(version))
            break
    if claims.delayed:
        chosen: set[str] = set()
        bind_ok = True
        for pvc in claims.delayed:
            candidates = sorted(
                (pv for name, pv in pvs.items() if name not in chosen and _pv_fits_claim(pv, pvc)
                 and pv_matches_node(pv, labels, node_name)),
                key=lambda pv: (not (pv.get("spec") or {}).get("claimRef"),
                                units(((pv.get("spec") or {}).get("capacity") or {}).get("storage", 0)),
                                (pv.get("metadata") or {}).get("name", "")))
            if candidates:
                name = (candidates[0].get("metadata") or {}).get("name", "")
                chosen.add(name)
                plan.static.append(StaticBinding(_key(pvc), name))
                continue
            sc = classes.get(claim_class(pvc)) or {}
            if not sc.get("provisioner") or sc.get("provisioner") == NO_PROVISIONER:
                bind_ok = False
                continue
            if not topology_selector_terms_match(sc.get("allowedTopologies"), labels):
                bind_ok = False
                continue
            plan.provision.append(_key(pvc))
        if not bind_ok:
            reasons.append(m.VOLUME_BIND_CONFLICT)
    if reasons:
        return m.reject("VolumeBinding", *reasons), VolumePlan()
    return None, plan


def zone_prefilter(claims: PodClaims, pvs: Mapping[str, Obj]) -> tuple[list[tuple[str, set[str]]], m.Status | None]:
    """VolumeZone's PreFilter: the zone/region constraints of the pod's bound volumes."""
    out: list[tuple[str, set[str]]] = []
    for pvc in claims.bound:
        name = (pvc.get("spec") or {}).get("volumeName", "")
        pv = pvs.get(name)
        if pv is None:
            return [], m.reject("VolumeZone", m.pv_not_found(name))
        labels = (pv.get("metadata") or {}).get("labels") or {}
        for key in ZONE_LABELS:
            if key in labels:
                out.append((key, set(str(labels[key]).split("__"))))
    return out, None


def zone_filter(constraints: list[tuple[str, set[str]]], labels: Mapping[str, str]) -> m.Status | None:
    if not constraints or not any(k in labels for k in ZONE_LABELS):
        return None
    for key, values in constraints:
        v = labels.get(key)
        if v is None and key in _GA_FOR_BETA:
            v = labels.get(_GA_FOR_BETA[key])
        if v is None or v not in values:
            return m.reject("VolumeZone", m.VOLUME_ZONE_CONFLICT)
    return None
