"""Per-cluster manifests from a workload's template: pure functions.

Order, as KubeFed: the template, then the scheduler's replicas (and, for a
StatefulSet, its ordinal slice), then the cluster's overrides (helpers first:
replicas, image, args, storage class; then the JSON-patch ``clusterOverrides``
in order). Every object gets the ownership label and annotations, and a
federated Service also gets a Multi-Cluster Services ``ServiceExport``.

:func:`drift` compares what the controller would apply with what a member has,
looking only at the fields the controller sets, so defaults the member's API
server adds are not drift.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from kubekit.errors import InvalidWorkload

from .model import (
    ANNOTATION_CLUSTER,
    ANNOTATION_HOST_UID,
    LABEL_MANAGED_BY,
    LABEL_WORKLOAD,
    MANAGED_BY,
    Workload,
)

MCS_API_VERSION = "multicluster.x-k8s.io/v1alpha1"
CLUSTERSET_DOMAIN = "clusterset.local"


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return list(spec.get("containers") or [])
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    return list(((spec.get("template") or {}).get("spec") or {}).get("containers") or [])


def _pick(containers: list[dict[str, Any]], name: str | None, all_if_unnamed: bool) -> list[dict[str, Any]]:
    if name:
        return [c for c in containers if c.get("name") == name]
    return containers if all_if_unnamed else containers[:1]


def render(wl: Workload, cluster: str, replicas: int | None = None,
           ordinal_start: int | None = None) -> list[dict[str, Any]]:
    """The objects ``cluster`` should hold for ``wl``; raises InvalidWorkload when an override does not apply."""
    obj = copy.deepcopy(wl.template)
    meta = obj.setdefault("metadata", {})
    meta["name"] = wl.object_name
    meta["namespace"] = wl.namespace
    for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink"):
        meta.pop(k, None)
    obj.pop("status", None)
    labels = meta.setdefault("labels", {})
    labels[LABEL_WORKLOAD] = wl.name
    labels[LABEL_MANAGED_BY] = MANAGED_BY
    ann = meta.setdefault("annotations", {})
    ann[ANNOTATION_CLUSTER] = cluster
    if wl.uid:
        ann[ANNOTATION_HOST_UID] = wl.uid
    spec = obj.setdefault("spec", {}) if wl.divisible else obj.get("spec")
    if wl.divisible and replicas is not None:
        spec["replicas"] = replicas
    if wl.stateful and ordinal_start is not None:
        spec["ordinals"] = {"start": ordinal_start}

    for o in wl.override_for(cluster):
        if o.replicas is not None and wl.divisible:
            obj["spec"]["replicas"] = o.replicas
        containers = _containers(obj)
        if o.image is not None:
            targets = _pick(containers, o.container, all_if_unnamed=True)
            if not targets:
                raise InvalidWorkload("InvalidOverride", f"spec.overrides[{cluster}].image", o.image,
                                      f"no container {o.container or ''} in a {wl.kind}".replace("  ", " "))
            for c in targets:
                c["image"] = o.image
        if o.args is not None:
            targets = _pick(containers, o.container, all_if_unnamed=False)
            if not targets:
                raise InvalidWorkload("InvalidOverride", f"spec.overrides[{cluster}].args", list(o.args),
                                      f"no container to set args on in a {wl.kind}")
            for c in targets:
                c["args"] = list(o.args)
        if o.storage_class is not None:
            if wl.kind == "PersistentVolumeClaim":
                obj["spec"]["storageClassName"] = o.storage_class
            elif wl.stateful:
                for claim in obj["spec"].get("volumeClaimTemplates") or []:
                    claim.setdefault("spec", {})["storageClassName"] = o.storage_class
            else:
                raise InvalidWorkload("InvalidOverride", f"spec.overrides[{cluster}].storageClassName",
                                      o.storage_class, f"a {wl.kind} has no storage class")
        if o.patches:
            ops = [{"op": p.op, "path": p.path, **({} if p.op == "remove" else {"value": p.value})}
                   for p in o.patches]
            try:
                obj = jsonpatch.apply_patch(obj, ops)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise InvalidWorkload("InvalidOverride", f"spec.overrides[{cluster}].clusterOverrides",
                                      [p.path for p in o.patches], str(exc)) from exc
    out = [obj]
    if wl.kind == "Service" and wl.group == "" and wl.service_export:
        out.append(service_export(wl, cluster))
    return out


def service_export(wl: Workload, cluster: str) -> dict[str, Any]:
    """KEP-1645's ServiceExport: marks the Service as part of the clusterset."""
    return {
        "apiVersion": MCS_API_VERSION, "kind": "ServiceExport",
        "metadata": {"name": wl.object_name, "namespace": wl.namespace,
                     "labels": {LABEL_WORKLOAD: wl.name, LABEL_MANAGED_BY: MANAGED_BY},
                     "annotations": {ANNOTATION_CLUSTER: cluster}},
    }


def clusterset_name(service: str, namespace: str, *, pet: str | None = None, cluster: str | None = None) -> str:
    """MCS DNS: ``<svc>.<ns>.svc.clusterset.local`` or, for a pet of a headless service,
    ``<pet>.<cluster>.<svc>.<ns>.svc.clusterset.local`` (KEP-1645 specification.md)."""
    if pet:
        if not cluster:
            raise ValueError("a pet's clusterset name needs its cluster")
        return f"{pet}.{cluster}.{service}.{namespace}.svc.{CLUSTERSET_DOMAIN}"
    return f"{service}.{namespace}.svc.{CLUSTERSET_DOMAIN}"


# -- drift ---------------------------------------------------------------------------------------

_QUANTITY_KEYS = ("requests", "limits", "storage", "capacity")


def _same_scalar(want: Any, have: Any, path: str) -> bool:
    if want == have:
        return True
    if isinstance(want, (int, float, str)) and isinstance(have, (int, float, str)) and \
            any(f".{k}." in f"{path}." or path.endswith(f".{k}") for k in _QUANTITY_KEYS) or \
            ".resources." in path:
        try:
            from kubernetes.utils import parse_quantity

            return bool(parse_quantity(want) == parse_quantity(have))
        except (ValueError, TypeError):
            return False
    return False


def drift(desired: Any, live: Any, path: str = "") -> list[str]:
    """Paths where ``live`` differs from ``desired``, looking only at what ``desired`` sets.

    Each entry reads ``spec.replicas: want 2, found 5``. Lists are compared element by
    element (a list of a different length is one difference).
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [f"{path or '.'}: want an object, found {live!r}"]
        out = []
        for k, v in desired.items():
            sub = f"{path}.{k}" if path else k
            if k not in live:
                if v in (None, {}, []):
                    continue
                out.append(f"{sub}: want {_short(v)}, found nothing")
            else:
                out.extend(drift(v, live[k], sub))
        return out
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [f"{path}: want {_short(desired)}, found {_short(live)}"]
        out = []
        for i, (d, l) in enumerate(zip(desired, live)):
            out.extend(drift(d, l, f"{path}[{i}]"))
        return out
    if _same_scalar(desired, live, path):
        return []
    return [f"{path}: want {_short(desired)}, found {_short(live)}"]


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
