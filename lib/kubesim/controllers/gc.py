"""Garbage collector: ownerReferences, delete propagation and the GC finalizers (API-14).

Follows kube-controller-manager's ``pkg/controller/garbagecollector``:
dependents are matched to owners by UID; a dependent whose owners are all gone
is deleted (background); with solid owners left, references to gone owners are
removed; an owner deleted in the foreground (finalizer ``foregroundDeletion``)
has its dependents deleted in the foreground and keeps its finalizer until no
dependent with ``blockOwnerDeletion`` remains; an owner deleted with
``orphan`` has its references stripped from its dependents, then loses the
finalizer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from ..api import DeleteOptions
from ..errors import ApiError, NotFound
from ..store import Event
from .base import Controller

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str
    block: bool


@dataclass(frozen=True)
class ObjInfo:
    key: str
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerRef, ...]
    deleting: bool
    finalizers: tuple[str, ...]


@dataclass(frozen=True)
class OwnerState:
    uid: str
    deleting: bool
    finalizers: tuple[str, ...]

    @property
    def waiting_for_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers


@dataclass(frozen=True)
class Delete:
    target: ObjInfo
    propagation: str


@dataclass(frozen=True)
class RemoveOwnerRefs:
    target: ObjInfo
    uids: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFinalizer:
    target: ObjInfo
    finalizer: str


Action = Delete | RemoveOwnerRefs | RemoveFinalizer


def info(key: str, obj: dict[str, Any]) -> ObjInfo:
    meta = obj.get("metadata") or {}
    owners = tuple(
        OwnerRef(r.get("apiVersion", ""), r.get("kind", ""), r.get("name", ""), r.get("uid", ""),
                 bool(r.get("blockOwnerDeletion")))
        for r in meta.get("ownerReferences") or [] if isinstance(r, dict)
    )
    return ObjInfo(key, meta.get("namespace", "") or "", meta.get("name", ""), meta.get("uid", ""), owners,
                   bool(meta.get("deletionTimestamp")), tuple(meta.get("finalizers") or ()))


def decide_dependent(obj: ObjInfo, owners: dict[str, OwnerState | None]) -> list[Action]:
    """What to do with an object that has owners (``attemptToDeleteItem``)."""
    if not obj.owners or obj.deleting:
        return []
    dangling = [u for u, st in owners.items() if st is None]
    waiting = [u for u, st in owners.items() if st is not None and st.waiting_for_dependents]
    solid = [u for u, st in owners.items() if st is not None and not st.waiting_for_dependents]
    if solid:
        stale = tuple(dangling + [u for u in waiting
                                  if not any(r.uid == u and r.block for r in obj.owners)])
        return [RemoveOwnerRefs(obj, stale)] if stale else []
    if waiting:
        return [Delete(obj, "Foreground")]
    return [Delete(obj, "Background")]


def decide_owner(owner: ObjInfo, dependents: list[ObjInfo]) -> list[Action]:
    """What to do with an owner being deleted with a GC finalizer."""
    if not owner.deleting:
        return []
    actions: list[Action] = []
    if ORPHAN in owner.finalizers:
        for dep in dependents:
            actions.append(RemoveOwnerRefs(dep, (owner.uid,)))
        actions.append(RemoveFinalizer(owner, ORPHAN))
        return actions
    if FOREGROUND in owner.finalizers:
        blocking = [d for d in dependents if any(r.uid == owner.uid and r.block for r in d.owners)]
        for dep in dependents:
            if not dep.deleting:
                actions.append(Delete(dep, "Foreground"))
        if not blocking:
            actions.append(RemoveFinalizer(owner, FOREGROUND))
    return actions


class GarbageCollector(Controller):
    name = "garbage-collector"
    resync_seconds = 30.0

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._idx_lock = threading.Lock()
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> dependents
        self._by_ident: dict[tuple[str, str, str], tuple[str, ...]] = {}  # dependent -> owner uids

    def start(self) -> None:
        # Every key: ownership spans kinds, so the GC watches the whole store.
        self._subs.append(self.api.store.subscribe(None, None, None, self._on_event))
        for key in self.api.store.keys():
            entries, _ = self.api.store.list(key)
            for e in entries:
                self._index(e.key, e.namespace, e.name, e.obj())
        import threading as _t

        self._thread = _t.Thread(target=self._run, name=f"kubesim-{self.name}", daemon=True)
        self._thread.start()
        self.enqueue_all()

    def _index(self, key: str, ns: str, name: str, obj: dict[str, Any] | None) -> tuple[str, ...]:
        ident = (key, ns, name)
        uids = tuple(r.get("uid", "") for r in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
                     if isinstance(r, dict)) if obj is not None else ()
        return self._index_uids(ident, uids)

    def _index_uids(self, ident: tuple[str, str, str], uids: tuple[str, ...]) -> tuple[str, ...]:
        with self._idx_lock:
            for u in self._by_ident.pop(ident, ()):
                deps = self._dependents.get(u)
                if deps is not None:
                    deps.discard(ident)
                    if not deps:
                        del self._dependents[u]
            if uids:
                self._by_ident[ident] = uids
                for u in uids:
                    self._dependents.setdefault(u, set()).add(ident)
        return uids

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        ident = (e.key, e.namespace, e.name)
        if ev.type == "DELETED":
            self._index(e.key, e.namespace, e.name, None)
            obj = e.view()
            uid = (obj.get("metadata") or {}).get("uid", "")
            with self._idx_lock:
                items = list(self._dependents.get(uid, ()))
            # An owner waiting in the foreground for this dependent may now be free to go.
            items.extend(self._owner_idents(e.namespace, obj))
            return items
        # The store noted the owner uids and the deletion flag when it built the entry: no
        # decoding here (most events are status and lease writes that change neither).
        owners = e.owner_uids
        with self._idx_lock:
            before = self._by_ident.get(ident, ())
        if owners != before:
            self._index_uids(ident, owners)
        if e.deleting:
            return [ident]
        # Most writes (status, leases) change nothing the collector cares about.
        if owners and (ev.type == "ADDED" or owners != before):
            return [ident]
        return []

    def _owner_idents(self, namespace: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
        out = []
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            group, _, version = str(ref.get("apiVersion", "")).rpartition("/")
            rt = self.api.registry.for_kind(group, version, str(ref.get("kind", "")))
            if rt is not None:
                out.append((rt.key, namespace if rt.namespaced else "", str(ref.get("name", ""))))
        return out

    def all_items(self) -> Iterable[Hashable]:
        with self._idx_lock:
            items = set(self._by_ident)
        for key in self.api.store.keys():
            entries, _ = self.api.store.list(key)
            for e in entries:
                if e.raw.find(b'"deletionTimestamp"') >= 0:
                    items.add((e.key, e.namespace, e.name))
        return items

    # -- observe -------------------------------------------------------------------------
    def _owner_state(self, dep: ObjInfo, ref: OwnerRef) -> OwnerState | None:
        group, _, version = ref.api_version.rpartition("/")
        rt = self.api.registry.for_kind(group, version, ref.kind)
        if rt is None:
            # Unknown kind: upstream cannot resolve it and leaves the dependent alone.
            return OwnerState(ref.uid, False, ())
        ns = dep.namespace if rt.namespaced else ""
        entry = self.api.store.get(rt.key, ns, ref.name)
        if entry is None:
            return None
        o = info(rt.key, entry.obj())
        if o.uid != ref.uid:
            return None
        return OwnerState(o.uid, o.deleting, o.finalizers)

    def reconcile(self, item: Hashable) -> float | None:
        key, ns, name = item  # type: ignore[misc]
        entry = self.api.store.get(key, ns, name)
        if entry is None:
            return None
        obj = info(key, entry.obj())
        actions: list[Action] = []
        if obj.deleting and (ORPHAN in obj.finalizers or FOREGROUND in obj.finalizers):
            with self._idx_lock:
                idents = list(self._dependents.get(obj.uid, ()))
            deps = []
            for d_key, d_ns, d_name in idents:
                d_entry = self.api.store.get(d_key, d_ns, d_name)
                if d_entry is not None:
                    d = info(d_key, d_entry.obj())
                    if any(r.uid == obj.uid for r in d.owners):
                        deps.append(d)
            actions.extend(decide_owner(obj, deps))
        if obj.owners:
            states = {r.uid: self._owner_state(obj, r) for r in obj.owners}
            actions.extend(decide_dependent(obj, states))
        pending = False
        for act in actions:
            pending |= self._act(act)
        if obj.deleting and FOREGROUND in obj.finalizers and \
                not any(isinstance(a, RemoveFinalizer) for a in actions):
            return 0.5  # still waiting for dependents: look again soon even if no event arrives
        return 1.0 if pending else None

    # -- act -----------------------------------------------------------------------------
    def _act(self, act: Action) -> bool:
        t = act.target
        rt = self.api.registry.by_key(t.key)
        if rt is None:
            return False
        ns = t.namespace or None
        try:
            if isinstance(act, Delete):
                self.api.delete(rt, ns, t.name, DeleteOptions(propagation=act.propagation, precondition_uid=t.uid))
            elif isinstance(act, RemoveOwnerRefs):
                drop = set(act.uids)

                def strip(cur: dict[str, Any]) -> dict[str, Any]:
                    refs = [r for r in cur["metadata"].get("ownerReferences") or [] if r.get("uid") not in drop]
                    if refs:
                        cur["metadata"]["ownerReferences"] = refs
                    else:
                        cur["metadata"].pop("ownerReferences", None)
                    return cur

                self.api.mutate(rt, ns, t.name, strip, manager="generic-garbage-collector")
            elif isinstance(act, RemoveFinalizer):
                def unfinalize(cur: dict[str, Any]) -> dict[str, Any]:
                    fins = [f for f in cur["metadata"].get("finalizers") or [] if f != act.finalizer]
                    if fins:
                        cur["metadata"]["finalizers"] = fins
                    else:
                        cur["metadata"].pop("finalizers", None)
                    return cur

                self.api.mutate(rt, ns, t.name, unfinalize, manager="generic-garbage-collector")
        except NotFound:
            return False
        except ApiError:
            return True
        return False
