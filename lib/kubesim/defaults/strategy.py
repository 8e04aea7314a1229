"""Registry strategies: what the API server resets on create, update and status writes.

Follows ``pkg/registry/*/*/strategy.go`` (``PrepareForCreate``, ``PrepareForUpdate``,
the ``*StatusStrategy`` variants) and ``staging/.../apiserver/pkg/registry/rest``
(``BeforeCreate``/``BeforeUpdate``: generation cannot be set by clients).
"""

from __future__ import annotations

import copy
import datetime
import uuid
from typing import Any

from ..resources import ResourceType
from .quantity import QuantityError, value

Obj = dict[str, Any]

# Kinds whose strategy sets metadata.generation=1 on create and bumps it on spec changes.
_GENERATION = {
    "replicationcontrollers", "podtemplates", "apps/deployments", "apps/replicasets", "apps/statefulsets",
    "apps/daemonsets", "batch/jobs", "batch/cronjobs", "policy/poddisruptionbudgets",
    "discovery.k8s.io/endpointslices", "apiextensions.k8s.io/customresourcedefinitions",
}
# Status subresource kinds whose create does not reset status (the kubelet registers nodes with it).
_KEEP_STATUS_ON_CREATE = {"nodes"}


def tracks_generation(rt: ResourceType, k8s_version: tuple[int, int] = (1, 33)) -> bool:
    """True when metadata.generation is maintained for this kind (pods from 1.33, k/k PR #130181)."""
    if rt.key == "pods":
        return k8s_version >= (1, 33)
    return rt.key in _GENERATION or rt.crd is not None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_for_create(rt: ResourceType, obj: Obj, *, k8s_version: tuple[int, int] = (1, 33)) -> None:
    """PrepareForCreate: reset status, set generation, kind-specific fix-ups."""
    meta = obj.setdefault("metadata", {})
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    key = rt.key
    if tracks_generation(rt, k8s_version):
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if key == "pods":
        spec = obj.get("spec") or {}
        status: Obj = {"phase": "Pending", "qosClass": pod_qos(spec)}
        if spec.get("schedulingGates"):
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                                     "message": "Scheduling is blocked due to non-empty scheduling gates",
                                     "lastProbeTime": None, "lastTransitionTime": _now()}]
        obj["status"] = status
    elif key == "namespaces":
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        fins = spec.get("finalizers") or []
        if "kubernetes" not in fins:
            spec["finalizers"] = list(fins) + ["kubernetes"]
    elif key == "persistentvolumes":
        # 1.31 GA PersistentVolumeLastPhaseTransitionTime (beta, on, from 1.29).
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": _now()}
    elif key == "batch/jobs":
        obj["status"] = {}
        generate_job_selector(obj)
    elif key == "apps/statefulsets":
        obj["status"] = {}
        _drop_sts_max_unavailable(obj, None, k8s_version)
    elif rt.crd is not None:
        if "status" in rt.subresources:
            obj.pop("status", None)
    elif rt.status_split and key not in _KEEP_STATUS_ON_CREATE:
        obj["status"] = {}


def generate_job_selector(job: Obj) -> None:
    """Job selector generation (``generateSelector`` in ``pkg/registry/batch/job/strategy.go``).

    Upstream runs this in Validate, after the UID is assigned; a missing UID is assigned
    here so that the labels and the selector agree. Callers must keep ``metadata.uid``.
    """
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector") is True:
        return
    meta = job.setdefault("metadata", {})
    if not meta.get("uid"):
        meta["uid"] = str(uuid.uuid4())
    uid, name = meta["uid"], meta.get("name") or ""
    tmpl = spec.setdefault("template", {})
    tmeta = tmpl.setdefault("metadata", {}) if isinstance(tmpl, dict) else {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for k in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(k, name)
    for k in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(k, uid)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault("batch.kubernetes.io/controller-uid", uid)


def _spec_view(rt: ResourceType, obj: Obj) -> Any:
    """What a generation bump compares for this kind."""
    key = rt.key
    if key == "podtemplates":
        return obj.get("template")
    if key == "discovery.k8s.io/endpointslices":
        body = {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}
        return body, (obj.get("metadata") or {}).get("labels")
    if key == "apps/deployments":
        return obj.get("spec"), (obj.get("metadata") or {}).get("annotations")
    if rt.crd is not None:
        skip = {"metadata", "apiVersion", "kind"} | ({"status"} if "status" in rt.subresources else set())
        return {k: v for k, v in obj.items() if k not in skip}
    return obj.get("spec")


def prepare_for_update(rt: ResourceType, new: Obj, old: Obj, *, k8s_version: tuple[int, int] = (1, 33),
                       subresource: str | None = None) -> None:
    """PrepareForUpdate: keep status (status subresource kinds) and bump generation on spec change.

    ``subresource="finalize"`` is the namespace finalize strategy (spec.finalizers may change);
    when not given, a namespace already being deleted is treated as a finalize write.
    """
    nm = new.setdefault("metadata", {})
    om = old.get("metadata") or {}
    # rest.BeforeUpdate: requests cannot set generation.
    if "generation" in om:
        nm["generation"] = om["generation"]
    else:
        nm.pop("generation", None)
    key = rt.key
    if rt.crd is not None:
        if "status" in rt.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
    elif rt.status_split:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    finalize = subresource == "finalize" or (subresource is None and bool(om.get("deletionTimestamp")))
    if key == "namespaces" and not finalize:
        new.setdefault("spec", {})["finalizers"] = copy.deepcopy((old.get("spec") or {}).get("finalizers") or [])
        if not new["spec"]["finalizers"]:
            del new["spec"]["finalizers"]
    elif key == "services":
        _carry_service_allocations(new, old)
    elif key == "apps/statefulsets":
        _drop_sts_max_unavailable(new, old, k8s_version)
    if tracks_generation(rt, k8s_version) and _spec_view(rt, new) != _spec_view(rt, old):
        nm["generation"] = int(om.get("generation") or 0) + 1


def _max_unavailable(obj: Obj | None) -> Any:
    ru = (((obj or {}).get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    return ru.get("maxUnavailable") if isinstance(ru, dict) else None


def _drop_sts_max_unavailable(new: Obj, old: Obj | None, k8s_version: tuple[int, int]) -> None:
    """dropStatefulSetDisabledFields: maxUnavailable is dropped while MaxUnavailableStatefulSet is off (<1.35)."""
    if k8s_version >= (1, 35) or _max_unavailable(old) is not None:
        return
    ru = ((new.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    if isinstance(ru, dict):
        ru.pop("maxUnavailable", None)


def _carry_service_allocations(new: Obj, old: Obj) -> None:
    """Service REST ``patchAllocatedValues``: unset clusterIP/nodePorts keep their allocated values."""
    ns, os_ = new.setdefault("spec", {}), old.get("spec") or {}
    if os_.get("type") == "ExternalName" or ns.get("type") == "ExternalName":
        return
    if not ns.get("clusterIP") and os_.get("clusterIP"):
        ns["clusterIP"] = os_["clusterIP"]
    if not ns.get("clusterIPs") and os_.get("clusterIPs") and ns.get("clusterIP") == os_.get("clusterIP"):
        ns["clusterIPs"] = list(os_["clusterIPs"])
    if ns.get("type") in ("NodePort", "LoadBalancer") and os_.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol") or "TCP"): p.get("nodePort")
                     for p in os_.get("ports") or [] if isinstance(p, dict)}
        for p in ns.get("ports") or []:
            if isinstance(p, dict) and not p.get("nodePort"):
                np = old_ports.get((p.get("port"), p.get("protocol") or "TCP"))
                if np:
                    p["nodePort"] = np
    if not ns.get("healthCheckNodePort") and os_.get("healthCheckNodePort") and \
            ns.get("externalTrafficPolicy") == "Local" and ns.get("type") == "LoadBalancer":
        ns["healthCheckNodePort"] = os_["healthCheckNodePort"]


def prepare_for_status_update(rt: ResourceType, new: Obj, old: Obj) -> None:
    """Status writes keep everything but status (and labels/annotations/finalizers) from the stored object."""
    for k in list(new):
        if k not in ("status", "metadata", "apiVersion", "kind"):
            del new[k]
    for k, v in old.items():
        if k not in ("status", "metadata"):
            new[k] = copy.deepcopy(v)
    nm = new.setdefault("metadata", {})
    om = old.get("metadata") or {}
    keep = ["generation", "deletionTimestamp", "deletionGracePeriodSeconds", "uid", "creationTimestamp",
            "name", "namespace", "generateName"]
    if rt.key == "pods":
        keep.append("ownerReferences")  # old kubelets corrupt them (podStatusStrategy)
        st = new.get("status")
        ost = old.get("status") or {}
        if isinstance(st, dict):
            if not st.get("qosClass") and ost.get("qosClass"):
                st["qosClass"] = ost["qosClass"]
            if not st.get("observedGeneration") and ost.get("observedGeneration"):
                st["observedGeneration"] = ost["observedGeneration"]
    if rt.crd is not None:
        keep += ["labels", "annotations", "finalizers", "ownerReferences"]  # ResetObjectMetaForStatus
    for k in keep:
        if k in om:
            nm[k] = copy.deepcopy(om[k])
        else:
            nm.pop(k, None)
    if rt.key == "namespaces" and "status" not in new:
        new["status"] = copy.deepcopy(old.get("status") or {})


def _pos(q: Any) -> Any:
    try:
        v = value(q)
    except (QuantityError, ValueError, ZeroDivisionError, TypeError):
        return None
    return v if v > 0 else None


def pod_qos(spec: Obj) -> str:
    """QoS class as ``pkg/apis/core/helper/qos`` ComputePodQOS (requests default to limits first)."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    pod_res = spec.get("resources") if isinstance(spec.get("resources"), dict) else None
    if pod_res and (pod_res.get("requests") or pod_res.get("limits")):
        containers = [{"resources": pod_res}]
    for c in containers:
        res = (c.get("resources") if isinstance(c, dict) else None) or {}
        lim = res.get("limits") if isinstance(res.get("limits"), dict) else {}
        req = dict(lim)
        if isinstance(res.get("requests"), dict):
            req.update(res["requests"])
        for name, q in req.items():
            v = _pos(q) if name in ("cpu", "memory") else None
            if v is not None:
                requests[name] = requests.get(name, 0) + v
        found = set()
        for name, q in lim.items():
            v = _pos(q) if name in ("cpu", "memory") else None
            if v is not None:
                found.add(name)
                limits[name] = limits.get(name, 0) + v
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, r in requests.items():
            if limits.get(name) != r:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"
