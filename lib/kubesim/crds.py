"""Serving custom resources from CustomResourceDefinitions.

After every CRD write the registry is brought in line with the stored CRDs:
served versions become resource types (sharing one storage key, conversion
strategy ``None`` as upstream's default), new CRDs are marked
``NamesAccepted``/``Established`` (apiextensions-apiserver's naming and
establishing controllers), and a CRD being deleted first loses all its
custom objects (the ``customresourcecleanup.apiextensions.k8s.io`` finalizer).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import clock
from .resources import ResourceType

if TYPE_CHECKING:
    from .api import Api

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"

_sync_lock = threading.RLock()
_syncing = threading.local()


def types_for(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    out = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", True):
            continue
        subs = ver.get("subresources") or {}
        sub_names = tuple(s for s in ("scale", "status") if s in subs)
        crd_info = dict(ver)
        crd_info["names"] = names
        crd_info["scope"] = spec.get("scope", "Namespaced")
        out.append(ResourceType(
            group=group,
            version=ver.get("name", ""),
            kind=names.get("kind", ""),
            plural=names.get("plural", ""),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=sub_names,
            status_split="status" in subs,
            unconditional_update=False,  # custom resources require a resourceVersion on update
            crd=crd_info,
        ))
    return out


def sync_crd_types(api: "Api") -> None:
    """Make the registry serve exactly the stored CRDs; establish new ones; clean up deleted ones."""
    if getattr(_syncing, "active", False):
        return
    with _sync_lock:
        _syncing.active = True
        try:
            for _ in range(5):
                if not _sync(api):
                    break
        finally:
            _syncing.active = False


def _sync(api: "Api") -> bool:
    """One pass; True when it wrote something (so another pass must follow)."""
    wrote = False
    entries, _ = api.store.list(CRD_KEY)
    wanted: dict[tuple[str, str, str], ResourceType] = {}
    crds = [e.obj() for e in entries]
    for crd in crds:
        if (crd.get("metadata") or {}).get("deletionTimestamp"):
            continue
        for rt in types_for(crd):
            wanted[(rt.group, rt.version, rt.plural)] = rt
    changed = False
    for rt in list(api.registry.all()):
        k = (rt.group, rt.version, rt.plural)
        if api.registry.is_custom(rt) and (k not in wanted or wanted[k] != rt or wanted[k].crd != rt.crd):
            api.registry.remove(*k)
            changed = True
    for k, rt in wanted.items():
        cur = api.registry.get(*k)
        if cur is None or cur.crd != rt.crd:
            api.registry.add(rt, custom=True)
            changed = True
    crd_rt = api.rt(CRD_KEY)
    for crd in crds:
        meta = crd.get("metadata") or {}
        name = meta.get("name", "")
        if meta.get("deletionTimestamp"):
            _cleanup(api, crd)
            wrote = True
            continue
        if not _established(crd):
            api.update_status(crd_rt, None, name, _establish, manager="apiextensions-apiserver")
            wrote = True
    if changed:
        for cb in list(api.on_crd_change):
            cb()
    return wrote


def _established(crd: dict[str, Any]) -> bool:
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


def _establish(crd: dict[str, Any]) -> dict[str, Any]:
    now = clock.rfc3339()
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    status = crd.setdefault("status", {})
    status["acceptedNames"] = names
    status["conditions"] = [
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
         "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted"},
    ]
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    status["storedVersions"] = sorted(set((status.get("storedVersions") or []) + stored))
    return crd


def _cleanup(api: "Api", crd: dict[str, Any]) -> None:
    """Delete every custom object of a terminating CRD, then release its finalizer."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    key = f"{spec.get('group', '')}/{names.get('plural', '')}"
    entries, _ = api.store.list(key)
    for e in entries:
        try:
            api.store.delete(e.key, e.namespace, e.name)
        except Exception:
            pass
    name = crd["metadata"]["name"]
    crd_rt = api.rt(CRD_KEY)

    def drop(cur: dict[str, Any]) -> dict[str, Any]:
        fins = [f for f in cur["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        cur["metadata"]["finalizers"] = fins
        return cur

    try:
        api.mutate(crd_rt, None, name, drop, manager="kube-apiserver")
    except Exception:
        pass


def add_cleanup_finalizer(crd: dict[str, Any]) -> None:
    fins = crd.setdefault("metadata", {}).setdefault("finalizers", [])
    if CLEANUP_FINALIZER not in fins:
        fins.append(CLEANUP_FINALIZER)
