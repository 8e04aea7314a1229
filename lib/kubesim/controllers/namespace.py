"""Namespace controller: a terminating namespace is emptied, then finalized.

As ``pkg/controller/namespace/deletion``: every namespaced object in it is
deleted (pods gracefully), the status conditions say what remains, and once
nothing is left the ``kubernetes`` finalizer is removed through the
``finalize`` subresource, which lets the API remove the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from .. import clock
from ..api import DeleteOptions
from ..errors import ApiError, NotFound
from ..store import Event
from .base import Controller

FINALIZER = "kubernetes"


@dataclass(frozen=True)
class Remaining:
    key: str
    name: str
    terminating: bool


def decide(ns_obj: dict[str, Any], remaining: list[Remaining]) -> tuple[list[Remaining], bool]:
    """Which objects to delete, and whether the namespace can be finalized now."""
    meta = ns_obj.get("metadata") or {}
    if not meta.get("deletionTimestamp"):
        return [], False
    if FINALIZER not in ((ns_obj.get("spec") or {}).get("finalizers") or []):
        return [], False
    to_delete = [r for r in remaining if not r.terminating]
    return to_delete, not remaining


def conditions(remaining: list[Remaining], now: str) -> list[dict[str, Any]]:
    """The NamespaceContentRemaining family of conditions kubectl describe shows."""
    by_kind: dict[str, int] = {}
    fins = 0
    for r in remaining:
        plural = r.key.split("/")[-1]
        group = r.key.split("/")[0] if "/" in r.key else ""
        label = f"{plural}.{group}" if group else plural
        by_kind[label] = by_kind.get(label, 0) + 1
        fins += r.terminating
    def cond(t: str, status: bool, reason: str, message: str) -> dict[str, Any]:
        return {"type": t, "status": "True" if status else "False", "lastTransitionTime": now, "reason": reason,
                "message": message}
    msg = ", ".join(f"{k} has {v} resource instances" for k, v in sorted(by_kind.items()))
    return [
        cond("NamespaceDeletionDiscoveryFailure", False, "ResourcesDiscovered", "All resources successfully discovered"),
        cond("NamespaceDeletionGroupVersionParsingFailure", False, "ParsedGroupVersions",
             "All legacy kube types successfully parsed"),
        cond("NamespaceDeletionContentFailure", False, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
        cond("NamespaceContentRemaining", bool(remaining), "SomeResourcesRemain" if remaining else "ContentRemoved",
             ("Some resources are remaining: " + msg) if remaining else "All content successfully removed"),
        cond("NamespaceFinalizersRemaining", bool(fins), "SomeFinalizersRemain" if fins else "ContentHasNoFinalizers",
             f"Some content in the namespace has finalizers remaining" if fins else "All content-preserving finalizers finished"),
    ]


class NamespaceController(Controller):
    name = "namespace-controller"
    watches = ("namespaces",)
    resync_seconds = 10.0

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "namespaces":
            return [e.name] if ev.type != "DELETED" else []
        return [e.namespace] if e.namespace else []

    def start(self) -> None:
        super().start()
        # Content changes inside a terminating namespace must wake it up too.
        self._subs.append(self.api.store.subscribe(None, None, None, self._on_content))

    def _on_content(self, ev: Event) -> None:
        if ev.type == "DELETED" and ev.entry.namespace:
            ns = self.api.store.get("namespaces", "", ev.entry.namespace)
            if ns is not None and ns.fields.get("status.phase") == "Terminating":
                self.enqueue(ev.entry.namespace)

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("namespaces")
        return [e.name for e in entries if e.fields.get("status.phase") == "Terminating"]

    def _remaining(self, namespace: str) -> list[Remaining]:
        out = []
        for key in self.api.store.keys():
            rt = self.api.registry.by_key(key)
            if rt is None or not rt.namespaced:
                continue
            entries, _ = self.api.store.list(key, namespace)
            for e in entries:
                out.append(Remaining(key, e.name, b'"deletionTimestamp"' in e.raw))
        return out

    def reconcile(self, item: Hashable) -> float | None:
        name = str(item)
        entry = self.api.store.get("namespaces", "", name)
        if entry is None:
            return None
        ns_obj = entry.obj()
        remaining = self._remaining(name)
        to_delete, finalize = decide(ns_obj, remaining)
        if not ns_obj["metadata"].get("deletionTimestamp"):
            return None
        for r in to_delete:
            rt = self.api.registry.by_key(r.key)
            if rt is None:
                continue
            try:
                self.api.delete(rt, name, r.name, DeleteOptions(propagation="Background"))
            except NotFound:
                pass
            except ApiError:
                pass
        ns_rt = self.api.rt("namespaces")
        now = clock.rfc3339()
        try:
            if finalize:
                def drop(cur: dict[str, Any]) -> dict[str, Any]:
                    spec = cur.setdefault("spec", {})
                    spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
                    return cur
                self.api._write_update(ns_rt, None, name, drop, _req(), subresource="finalize")
                return None
            remaining = self._remaining(name)
            conds = conditions(remaining, now)

            def set_conds(cur: dict[str, Any]) -> dict[str, Any]:
                old = {c["type"]: c for c in (cur.get("status") or {}).get("conditions") or []}
                merged = []
                for c in conds:
                    prev = old.get(c["type"])
                    if prev and prev.get("status") == c["status"] and prev.get("message") == c["message"]:
                        merged.append(prev)
                    else:
                        merged.append(c)
                cur.setdefault("status", {})["conditions"] = merged
                return cur
            self.api.update_status(ns_rt, None, name, set_conds, manager="namespace-controller")
        except NotFound:
            return None
        return 1.0 if remaining else 0.1


def _req() -> Any:
    from ..api import Request
    return Request(field_manager="namespace-controller")
