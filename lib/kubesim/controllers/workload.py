"""The thin loop shared by the controllers that own pods (ReplicaSet, RC, DaemonSet, Job).

A pod event is turned into a work item for its controller owner of the right
kind (``resolveControllerRef`` in each upstream controller); the owner's own
events are work items too. ``owned_pods`` lists the pods a controller owns and
adopts matching orphans, as ``ControllerRefManager.ClaimPods`` does
(``pkg/controller/controller_ref_manager.go``): an orphan whose labels match the
selector gets a controller ownerReference; a pod the controller owns whose
labels no longer match is released (its ownerReference removed).
"""

from __future__ import annotations

import time
from typing import Any, Hashable, Iterable

from ..errors import ApiError, NotFound
from ..selectors import LabelSelector, selector_from_label_selector
from ..store import Event
from .base import Controller
from .podtemplate import controller_ref, is_deleting, owner_ref

Obj = dict[str, Any]


class OwnerLoop(Controller):
    """Base for a controller of ``owner_key`` objects that owns pods (or ``child_key`` objects)."""

    owner_key = ""
    owner_kind = ""
    child_key = "pods"
    manager = "kube-controller-manager"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.recorder = self.ctx.recorder(self.name)
        self.resync_seconds = max(1.0, self.timings.get("controller_resync"))

    @property
    def watches(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.owner_key, self.child_key)

    # -- items ---------------------------------------------------------------------------
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == self.owner_key:
            return [(e.key, e.namespace, e.name)]
        out = []
        needle = f'"kind":"{self.owner_kind}"'.encode()
        for entry in (ev.entry, ev.prev):
            if entry is None:
                continue
            if ev.type != "ADDED" and needle not in entry.raw:
                continue  # fast path: no reference to an owner of this kind (the store keeps compact JSON)
            ref = controller_ref(entry.view())
            if ref is not None and ref.get("kind") == self.owner_kind:
                out.append((self.owner_key, entry.namespace, ref.get("name", "")))
            elif ref is None and ev.type == "ADDED":
                # An orphan may be adopted by any owner whose selector matches.
                out.extend(self._owners_matching(entry.namespace, entry.labels))
        return out

    def _owners_matching(self, namespace: str, labels: dict[str, str]) -> list[Hashable]:
        entries, _ = self.api.store.list(self.owner_key, namespace)
        out = []
        for e in entries:
            if self.selector(e.view()).matches(labels) and not self.selector(e.view()).empty:
                out.append((self.owner_key, e.namespace, e.name))
        return out

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list(self.owner_key)
        return [(e.key, e.namespace, e.name) for e in entries]

    # -- helpers -------------------------------------------------------------------------
    def selector(self, owner: Obj) -> LabelSelector:
        return selector_from_label_selector((owner.get("spec") or {}).get("selector"))

    def get_owner(self, namespace: str, name: str) -> Obj | None:
        try:
            return self.api.get(self.api.rt(self.owner_key), namespace, name)
        except NotFound:
            return None

    def owned(self, owner: Obj, *, adopt: bool = True) -> list[Obj]:
        """Children controlled by ``owner``, adopting matching orphans and releasing mismatches."""
        meta = owner.get("metadata") or {}
        ns, uid = meta.get("namespace", ""), meta.get("uid", "")
        sel = self.selector(owner)
        entries, _ = self.api.store.list(self.child_key, ns)
        out = []
        for e in entries:
            obj = e.obj()
            ref = controller_ref(obj)
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if not sel.empty and not sel.matches(e.labels) and not is_deleting(owner):
                    self._release(obj, uid)
                    continue
                out.append(obj)
            elif adopt and not sel.empty and sel.matches(e.labels) and not is_deleting(owner) \
                    and not is_deleting(obj):
                adopted = self._adopt(obj, owner)
                if adopted is not None:
                    out.append(adopted)
        return out

    def _adopt(self, obj: Obj, owner: Obj) -> Obj | None:
        ref = owner_ref(owner)

        def add(cur: Obj) -> Obj:
            if controller_ref(cur) is not None:
                raise _Skip()
            cur["metadata"].setdefault("ownerReferences", []).append(ref)
            return cur

        try:
            return self.api.mutate(self.api.rt(self.child_key), obj["metadata"].get("namespace"),
                                   obj["metadata"]["name"], add, manager=self.manager)
        except (_Skip, ApiError):
            return None

    def _release(self, obj: Obj, uid: str) -> None:
        def drop(cur: Obj) -> Obj:
            refs = [r for r in cur["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            cur["metadata"]["ownerReferences"] = refs
            if not refs:
                del cur["metadata"]["ownerReferences"]
            return cur

        try:
            self.api.mutate(self.api.rt(self.child_key), obj["metadata"].get("namespace"), obj["metadata"]["name"],
                            drop, manager=self.manager)
        except ApiError:
            pass

    def write_status(self, owner: Obj, status: Obj, annotations: dict[str, str] | None = None) -> Obj | None:
        """UpdateStatus when it differs (status writes leave spec alone and never bump generation)."""
        if status == (owner.get("status") or {}) and not annotations:
            return None
        meta = owner.get("metadata") or {}

        def put(cur: Obj) -> Obj:
            cur["status"] = status
            if annotations:
                cur["metadata"].setdefault("annotations", {}).update(annotations)
            return cur

        try:
            return self.api.update_status(self.api.rt(self.owner_key), meta.get("namespace"), meta.get("name", ""),
                                          put, manager=self.manager)
        except NotFound:
            return None

    @staticmethod
    def now() -> float:
        return time.time()


class _Skip(Exception):
    pass
