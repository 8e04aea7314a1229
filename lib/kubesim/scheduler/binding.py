"""``pods/binding`` semantics without HTTP (what the scheduler's DefaultBinder ends up doing).

As kube-apiserver's ``pkg/registry/core/pod/storage/storage.go`` ``BindingREST``:
the Binding's ``target`` must be a Node (kind empty or ``Node``) with a name
(``validation.ValidatePodBinding``; the aggregate error is not a Status, so it
surfaces as a 500); then one guarded storage update (``setPodNodeAndMetadata``,
which skips the pod update strategy, so ``spec.nodeName`` may change here and
nowhere else) that

- refuses a pod being deleted: ``pod <name> is being deleted, cannot be assigned to a host``,
- refuses an assigned pod: ``pod <name> is already assigned to node "<node>"``,
- refuses a gated pod: ``pod <name> has non-empty .spec.schedulingGates``,

each as ``409 Operation cannot be fulfilled on pods/binding "<name>": ...``;
sets ``spec.nodeName``, merges the Binding's annotations, and sets the
``PodScheduled`` condition to True (``podutil.UpdatePodCondition``: a new
transition time only when the status changes; reason and message cleared).
The Binding's ``metadata.uid`` / ``resourceVersion`` are preconditions on the
pod. The node does not have to exist, as upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import clock
from ..errors import ApiError, Conflict, NotFound, not_supported, required
from ..store import Missing, StaleResourceVersion

if TYPE_CHECKING:
    from ..api import Api

Obj = dict[str, Any]


def validate_binding(binding: Obj) -> None:
    """``ValidatePodBinding``: 500 with the aggregated field errors, as upstream."""
    target = binding.get("target") or {}
    errs = []
    kind = target.get("kind") or ""
    if kind and kind != "Node":
        errs.append(not_supported("target.kind", kind, ["Node", "<empty>"]))
    if not target.get("name"):
        errs.append(required("target.name"))
    if errs:
        text = errs[0].full() if len(errs) == 1 else "[" + ", ".join(e.full() for e in errs) + "]"
        raise ApiError(text, 500, "")


def update_pod_condition(status: Obj, cond: Obj, now: str | None = None) -> bool:
    """``podutil.UpdatePodCondition``: replace the condition; keep its transition time if the status is unchanged."""
    cond = dict(cond)
    cond.setdefault("lastProbeTime", None)
    cond["lastTransitionTime"] = now or clock.rfc3339()
    conds = status.setdefault("conditions", [])
    for i, old in enumerate(conds):
        if old.get("type") == cond["type"]:
            if old.get("status") == cond.get("status"):
                cond["lastTransitionTime"] = old.get("lastTransitionTime")
            changed = any(old.get(k) != cond.get(k) for k in
                          ("status", "reason", "message", "lastProbeTime", "lastTransitionTime"))
            conds[i] = {k: v for k, v in cond.items() if v is not None or k == "lastProbeTime"}
            return changed
    conds.append({k: v for k, v in cond.items() if v is not None or k == "lastProbeTime"})
    return True


def bind_pod(api: "Api", namespace: str, name: str, node: str, *, annotations: dict[str, str] | None = None,
             uid: str | None = None, resource_version: str | None = None, dry_run: bool = False) -> Obj:
    """Assign ``namespace/name`` to ``node``; returns the bound pod. Raises NotFound / Conflict."""
    validate_binding({"target": {"kind": "Node", "name": node}})
    store = api.store
    for _ in range(10):
        entry = store.get("pods", namespace, name)
        if entry is None:
            raise NotFound("pods", "", name)
        pod = entry.obj()
        meta = pod.setdefault("metadata", {})
        if uid and uid != meta.get("uid"):
            raise Conflict("pods", "", name, f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                             f"{meta.get('uid', '')}")
        if resource_version and resource_version != meta.get("resourceVersion"):
            raise Conflict("pods", "", name, f"Precondition failed: ResourceVersion in precondition: "
                                             f"{resource_version}, ResourceVersion in object meta: "
                                             f"{meta.get('resourceVersion', '')}")
        spec = pod.setdefault("spec", {})
        if meta.get("deletionTimestamp"):
            raise Conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise Conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
        if spec.get("schedulingGates"):
            raise Conflict("pods/binding", "", name, f"pod {name} has non-empty .spec.schedulingGates")
        spec["nodeName"] = node
        if annotations:
            meta.setdefault("annotations", {}).update(annotations)
        update_pod_condition(pod.setdefault("status", {}), {"type": "PodScheduled", "status": "True"})
        if dry_run:
            return pod
        try:
            updated = store.update("pods", namespace, name, pod, expect_rv=entry.rv)
        except StaleResourceVersion:
            continue
        except Missing:
            raise NotFound("pods", "", name)
        return updated.obj()
    raise Conflict("pods", "", name)
