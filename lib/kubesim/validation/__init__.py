"""Create/update validation for the built-in kinds, with upstream field paths and messages.

``validate`` runs what the kind's registry strategy runs (``Validate`` on create,
``ValidateUpdate`` on update) after defaulting; the API layer turns a non-empty result
into a 422 ``Invalid`` Status. Custom resources are validated elsewhere (CRD schemas).
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import FieldError
from ..resources import ResourceType
from . import core, workloads
from .common import nonnegative, object_meta, object_meta_update
from .pod import pod_spec, pod_template, pod_update
from .workloads import cron_error

__all__ = ["validate", "validate_status_update", "name_rule", "cron_error"]

Obj = dict[str, Any]
Version = tuple[int, int]

# Name rules that differ from resources.ResourceType.name_rule's default.
_NAME_RULES = {
    "services": "dns1035",  # ValidateServiceName = NameIsDNS1035Label
    "apps/statefulsets": "label",  # ValidateStatefulSetName = NameIsDNSLabel
    "namespaces": "label",
}


def name_rule(rt: ResourceType) -> str:
    return _NAME_RULES.get(rt.key, rt.name_rule)


def _spec(obj: Obj) -> Obj:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


# kind -> (create-time checks of the body, update-only checks)
_Create = Callable[[Obj, Version], list[FieldError]]
_Update = Callable[[Obj, Obj, Version], list[FieldError]]

_CREATE: dict[str, _Create] = {
    "pods": lambda o, v: pod_spec(o.get("spec"), "spec", v),
    "podtemplates": lambda o, v: pod_template(o.get("template"), "template", v),
    "replicationcontrollers": lambda o, v: workloads.rc_spec(_spec(o), v),
    "apps/statefulsets": lambda o, v: workloads.statefulset_spec(_spec(o), v),
    "apps/deployments": lambda o, v: workloads.deployment_spec(_spec(o), v),
    "apps/replicasets": lambda o, v: workloads.replicaset_spec(_spec(o), v),
    "apps/daemonsets": lambda o, v: workloads.daemonset_spec(_spec(o), v),
    "apps/controllerrevisions": lambda o, v: core.controller_revision(o),
    "batch/jobs": lambda o, v: workloads.job(o, v),
    "services": lambda o, v: core.service(o),
    "persistentvolumeclaims": lambda o, v: core.pvc_spec(_spec(o)),
    "persistentvolumes": lambda o, v: core.pv(o),
    "configmaps": lambda o, v: core.configmap(o),
    "secrets": lambda o, v: core.secret(o),
    "namespaces": lambda o, v: core.namespace(o),
    "nodes": lambda o, v: core.node(o),
    "endpoints": lambda o, v: core.endpoints(o),
    "storage.k8s.io/storageclasses": lambda o, v: core.storageclass(o),
    "policy/poddisruptionbudgets": lambda o, v: core.pdb(o),
    "coordination.k8s.io/leases": lambda o, v: core.lease(o),
    "events": lambda o, v: core.event(o, True),
    "rbac.authorization.k8s.io/roles": lambda o, v: core.rbac_rules(o, True),
    "rbac.authorization.k8s.io/clusterroles": lambda o, v: core.rbac_rules(o, False),
    "rbac.authorization.k8s.io/rolebindings": lambda o, v: core.rbac_binding(o, False),
    "rbac.authorization.k8s.io/clusterrolebindings": lambda o, v: core.rbac_binding(o, True),
}

_UPDATE: dict[str, _Update] = {
    "pods": lambda n, o, v: pod_update(n, o, v),
    "apps/statefulsets": lambda n, o, v: workloads.statefulset_update(n, o, v),
    "apps/deployments": lambda n, o, v: workloads.selector_update(n, o),
    "apps/replicasets": lambda n, o, v: workloads.selector_update(n, o),
    "apps/daemonsets": lambda n, o, v: workloads.selector_update(n, o),
    "batch/jobs": lambda n, o, v: workloads.job_update(n, o, v),
    "services": lambda n, o, v: core.service_update(n, o),
    "persistentvolumeclaims": lambda n, o, v: core.pvc_update(n, o, v),
    "persistentvolumes": lambda n, o, v: core.pv_update(n, o),
    "configmaps": lambda n, o, v: core.configmap_update(n, o),
    "secrets": lambda n, o, v: core.secret_update(n, o),
    "nodes": lambda n, o, v: core.node_update(n, o),
    "storage.k8s.io/storageclasses": lambda n, o, v: core.storageclass_update(n, o),
    "rbac.authorization.k8s.io/rolebindings": lambda n, o, v: core.rbac_binding_update(n, o),
    "rbac.authorization.k8s.io/clusterrolebindings": lambda n, o, v: core.rbac_binding_update(n, o),
}


def validate(rt: ResourceType, obj: Obj, old: Obj | None, *, k8s_version: Version = (1, 33)) -> list[FieldError]:
    """Field errors for a create (``old`` None) or an update, in upstream order."""
    if rt.crd is not None:
        return []
    key = rt.key
    meta = obj.get("metadata")
    errs: list[FieldError] = []
    if old is None:
        errs += object_meta(meta, rt.namespaced, name_rule(rt))
    elif key == "batch/jobs":
        # jobStrategy.ValidateUpdate: ValidateJob(new) then ValidateJobUpdate.
        errs += object_meta(meta, rt.namespaced, name_rule(rt))
    if key == "batch/cronjobs":
        errs += workloads.cronjob(obj, old, k8s_version)
    else:
        check = _CREATE.get(key)
        if check is not None:
            errs += check(obj, k8s_version)
    if old is not None:
        errs += object_meta_update(meta, old.get("metadata"))
        upd = _UPDATE.get(key)
        if upd is not None:
            errs += upd(obj, old, k8s_version)
    return errs


_STATUS_COUNTERS = {
    "apps/statefulsets": ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                          "observedGeneration", "collisionCount"),
    "apps/deployments": ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                         "unavailableReplicas", "collisionCount"),
    "apps/replicasets": ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                         "observedGeneration"),
    "apps/daemonsets": ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
                        "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                        "collisionCount"),
    "replicationcontrollers": ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                               "observedGeneration"),
    "batch/jobs": ("active", "succeeded", "failed"),
}


def validate_status_update(rt: ResourceType, new: Obj, old: Obj, *, k8s_version: Version = (1, 33)) -> list[FieldError]:
    """Checks for a ``/status`` write (status strategies' ValidateUpdate)."""
    errs = object_meta_update(new.get("metadata"), old.get("metadata"))
    status = new.get("status") if isinstance(new.get("status"), dict) else {}
    for f in _STATUS_COUNTERS.get(rt.key, ()):
        errs += nonnegative(status.get(f), f"status.{f}")
    if rt.key == "apps/statefulsets":
        replicas = status.get("replicas") or 0
        for f in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
            if (status.get(f) or 0) > replicas:
                errs.append(FieldError("FieldValueInvalid", f"status.{f}", "cannot be greater than status.replicas",
                                       status.get(f)))
        if (status.get("availableReplicas") or 0) > (status.get("readyReplicas") or 0):
            errs.append(FieldError("FieldValueInvalid", "status.availableReplicas",
                                   "cannot be greater than status.readyReplicas", status.get("availableReplicas")))
    if rt.key in ("apps/statefulsets", "apps/deployments", "apps/daemonsets"):
        oc = (old.get("status") or {}).get("collisionCount")
        nc = status.get("collisionCount")
        if oc is not None and (nc is None or nc < oc):
            errs.append(FieldError("FieldValueInvalid", "status.collisionCount", "cannot be decremented", nc or 0))
    return errs
