"""The ``/scale`` subresource: an ``autoscaling/v1 Scale`` view of a workload's replicas (API-11).

kubectl scale sends a merge patch to it (``pkg/scale/scale.go``); writes land in
the parent's ``spec.replicas`` (or a CRD's ``specReplicasPath``) and bump its
generation like any spec change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import patch
from .errors import BadRequest, Conflict, Invalid, NotFound, invalid
from .selectors import format_label_selector

if TYPE_CHECKING:
    from .api import Api, Request
    from .resources import ResourceType


def _path_get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _path_set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.lstrip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _paths(rt: "ResourceType") -> tuple[str, str, str | None]:
    if rt.crd is not None:
        scale = ((rt.crd.get("subresources") or {}).get("scale")) or {}
        return (scale.get("specReplicasPath", ".spec.replicas"), scale.get("statusReplicasPath", ".status.replicas"),
                scale.get("labelSelectorPath"))
    return ".spec.replicas", ".status.replicas", None


def to_scale(rt: "ResourceType", obj: dict[str, Any]) -> dict[str, Any]:
    spec_path, status_path, selector_path = _paths(rt)
    meta = obj.get("metadata") or {}
    if selector_path:
        selector = _path_get(obj, selector_path) or ""
    else:
        sel = (obj.get("spec") or {}).get("selector")
        if rt.kind == "ReplicationController":
            selector = ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items()))
        else:
            selector = format_label_selector(sel)
    status: dict[str, Any] = {"replicas": int(_path_get(obj, status_path) or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": int(_path_get(obj, spec_path) or 0)},
        "status": status,
    }


def get_scale(api: "Api", rt: "ResourceType", namespace: str | None, name: str) -> dict[str, Any]:
    return to_scale(rt, api.get(rt, namespace, name))


def update_scale(api: "Api", rt: "ResourceType", namespace: str | None, name: str, body: Any,
                 req: "Request") -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("kind") not in (None, "Scale"):
        raise BadRequest("the body of the request must be an autoscaling/v1 Scale")
    spec = body.get("spec") or {}
    replicas = spec.get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise BadRequest(f"Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal "
                         f"{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of type int32")
    if replicas < 0:
        raise Invalid("Scale", "autoscaling", name, [invalid("spec.replicas", replicas,
                                                             "must be greater than or equal to 0")])
    rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
    spec_path, _, _ = _paths(rt)

    def mutate(cur: dict[str, Any]) -> dict[str, Any]:
        if rv and rv != cur["metadata"].get("resourceVersion"):
            raise Conflict(rt.plural, rt.group, name)
        _path_set(cur, spec_path, replicas)
        return cur

    updated = api._write_update(rt, namespace, name, mutate, req, subresource="scale")
    return to_scale(rt, updated)


def patch_scale(api: "Api", rt: "ResourceType", namespace: str | None, name: str, content_type: str,
                body: bytes, req: "Request") -> dict[str, Any]:
    current = get_scale(api, rt, namespace, name)
    ctype = content_type.split(";")[0].strip().lower()
    scale_node = api.schemas.node("io.k8s.api.autoscaling.v1.Scale")
    patched = patch.apply_patch(ctype, current, body, scale_node, is_custom=False)
    meta = patched.setdefault("metadata", {})
    if meta.get("resourceVersion") == current["metadata"].get("resourceVersion"):
        meta.pop("resourceVersion", None)
    return update_scale(api, rt, namespace, name, patched, req)


def require_scale(rt: "ResourceType", name: str) -> None:
    if "scale" not in rt.subresources:
        raise NotFound(rt.plural + "/scale", rt.group, name)
