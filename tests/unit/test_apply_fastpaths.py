"""kubesim.apply fast paths give exactly what the plain algorithms give.

``compare`` skips unchanged subtrees, and ``record_update`` reads tries through a memo and
writes an unchanged entry's trie back as it was read. Each case runs the fast code and a
reference (the plain walk; memo and reuse switched off) and wants the same result, byte for byte.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from kubesim import apply as A
from kubesim.schemanode import SchemaNode

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"


@functools.cache
def _defs() -> dict[str, Any]:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local"
    return json.loads((root / "_definitions.json").read_text())["$defs"]


def node(name: str) -> SchemaNode:
    return SchemaNode({"$ref": f"#/$defs/{name}"}, _defs())


# -- compare --------------------------------------------------------------------------------------

def _reference_compare(l: Any, r: Any, n: Any, path: A.Path, c: A.Comparison) -> None:
    """``_compare`` as it was before the unchanged-subtree shortcuts."""
    leaf = True
    lt = dict if isinstance(l, dict) else list if isinstance(l, list) else None
    rt = dict if isinstance(r, dict) else list if isinstance(r, list) else None
    kind = lt or rt
    same_kind = (l is A._ABSENT or lt is kind) and (r is A._ABSENT or rt is kind)
    if kind is dict and same_kind:
        lm = l if l is not A._ABSENT else {}
        rm = r if r is not A._ABSENT else {}
        if not A._atomic_map(n) and (lm or rm):
            leaf = False
            for k in {**lm, **rm}:
                _reference_compare(lm.get(k, A._ABSENT), rm.get(k, A._ABSENT), A._child(n, k),
                                   path + ("f:" + k,), c)
    elif kind is list and same_kind:
        ll = l if l is not A._ABSENT else []
        rl = r if r is not A._ABSENT else []
        rel, keys = A._list_info(n)
        if rel != "atomic" and (ll or rl):
            leaf = False
            item_node = n.items() if n is not None else None
            li = A._index_items(ll, rel, keys, item_node)
            ri = A._index_items(rl, rel, keys, item_node)
            for pe in {**li, **ri}:
                _reference_compare(li.get(pe, A._ABSENT), ri.get(pe, A._ABSENT), item_node, path + (pe,), c)
    if not path:
        return
    if l is A._ABSENT:
        c.added.add(path)
    elif r is A._ABSENT:
        c.removed.add(path)
    elif leaf and l != r:
        c.modified.add(path)


def _pod(**status: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], **status}}


def _with(obj: dict[str, Any], fn: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    fn(out)
    return out


POD = _pod()
COMPARE_CASES = [
    ("equal", POD, copy.deepcopy(POD)),
    ("leaf modified", POD, _with(POD, lambda o: o["status"].update(phase="Succeeded"))),
    ("keyed item field", POD, _with(POD, lambda o: o["status"]["conditions"][0].update(status="False"))),
    ("added and removed", POD, _with(POD, lambda o: (o["status"].pop("phase"), o["status"].update(hostIP="1")))),
    ("key order only", POD, json.loads(json.dumps(POD, sort_keys=True))),
    # 80 and 80.0 (and 1 and True) are == in Python but different path elements
    ("int vs float map key", POD,
     _with(POD, lambda o: o["spec"]["containers"][0]["ports"][0].update(containerPort=80.0))),
    ("int vs bool in a set list", {"metadata": {"finalizers": [1]}}, {"metadata": {"finalizers": [True]}}),
    ("float vs int leaf", {"spec": {"x": 1}}, {"spec": {"x": 1.0}}),
    ("dict becomes list", {"spec": {"x": {"a": 1}}}, {"spec": {"x": [1]}}),
    ("empty map vs null", {"spec": {"x": {}}}, {"spec": {"x": None}}),
    ("nested equal maps", {"metadata": {"labels": {"a": "1"}}, "data": {"k": "v"}},
     {"metadata": {"labels": {"a": "1"}}, "data": {"k": "w"}}),
]


@pytest.mark.parametrize("name,lhs,rhs", COMPARE_CASES, ids=[c[0] for c in COMPARE_CASES])
@pytest.mark.parametrize("schema", ["io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.ConfigMap", None])
def test_compare_matches_plain_walk(name: str, lhs: Any, rhs: Any, schema: str | None) -> None:
    n = node(schema) if schema else None
    for a, b in ((lhs, rhs), (rhs, lhs)):
        want = A.Comparison()
        _reference_compare(a, b, n, (), want)
        got = A.compare(a, b, n)
        assert (got.added, got.modified, got.removed) == (want.added, want.modified, want.removed)


# -- record_update ------------------------------------------------------------------------------

LEASE_NODE = "io.k8s.api.coordination.v1.Lease"


def _lease(renew: str, holder: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "u", "resourceVersion": "5",
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "nu"}]},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 40, "renewTime": renew}}


def _recorded(old: dict[str, Any] | None, new: dict[str, Any], **kw: Any) -> dict[str, Any]:
    new = copy.deepcopy(new)
    A.record_update(copy.deepcopy(old) if old is not None else None, new, **kw)
    return new


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """No memo and no reuse of read tries: every entry decoded and encoded from scratch."""
    monkeypatch.setattr(A, "_trie_paths", lambda f: (frozenset(A.fields_to_paths(f)), False))


def _history(steps: list[tuple[Any, str, str, str | None]], schema: str) -> list[str]:
    """Apply ``(mutate, manager, now, subresource)`` steps from an empty object; each revision's JSON."""
    obj: dict[str, Any] | None = None
    out = []
    for mutate, manager, now, sub in steps:
        new = mutate(copy.deepcopy(obj))
        new = _recorded(obj, new, manager=manager, node=node(schema), now=now, subresource=sub)
        out.append(json.dumps(new))  # key order too: that is what clients see
        obj = new
    return out


def _renew(t: str) -> Any:
    def m(o: dict[str, Any] | None) -> dict[str, Any]:
        if o is None:
            return _lease(t)
        o["spec"]["renewTime"] = t
        return o
    return m


def _set(path: list[str], value: Any) -> Any:
    def m(o: dict[str, Any]) -> dict[str, Any]:
        cur = o
        for k in path[:-1]:
            cur = cur.setdefault(k, {})
        cur[path[-1]] = value
        return o
    return m


def _drop(path: list[str]) -> Any:
    def m(o: dict[str, Any]) -> dict[str, Any]:
        cur = o
        for k in path[:-1]:
            cur = cur[k]
        cur.pop(path[-1])
        return o
    return m


def _reorder(o: dict[str, Any]) -> dict[str, Any]:
    """A client sending back managedFields with its tries' keys in another order."""
    for e in o["metadata"]["managedFields"]:
        e["fieldsV1"] = json.loads(json.dumps(e["fieldsV1"], sort_keys=True))
        e["fieldsV1"] = dict(reversed(list(e["fieldsV1"].items())))
    return o


def _reset(o: dict[str, Any]) -> dict[str, Any]:
    o["metadata"]["managedFields"] = []
    return o


def _many_managers() -> list[tuple[Any, str, str, str | None]]:
    steps: list[tuple[Any, str, str, str | None]] = [(_renew(T0), "kubelet", T0, None)]
    for i in range(12):  # beyond MAX_UPDATE_MANAGERS: the oldest merge into ancient-changes
        steps.append((_set(["metadata", "labels", f"l{i}"], "x"), f"m{i}", f"2024-05-01T10:01:{i:02d}Z", None))
    steps.append((_renew(T2), "kubelet", T2, None))
    return steps


HISTORIES = {
    "lease renewals": [(_renew(T0), "kubelet", T0, None), (_renew(T1), "kubelet", T1, None),
                       (_renew(T1), "kubelet", T1, None), (_renew(T2), "kubelet", T2, None)],
    "another manager takes a field": [(_renew(T0), "kubelet", T0, None),
                                      (_set(["spec", "holderIdentity"], "n2"), "other", T1, None),
                                      (_renew(T2), "kubelet", T2, None)],
    "same manager adds then removes a field": [(_renew(T0), "kubelet", T0, None),
                                               (_set(["metadata", "labels", "a"], "1"), "kubelet", T1, None),
                                               (_drop(["metadata", "labels", "a"]), "kubelet", T2, None)],
    "client sends reordered tries": [(_renew(T0), "kubelet", T0, None),
                                     (lambda o: _renew(T1)(_reorder(o)), "kubelet", T1, None),
                                     (lambda o: _reorder(o), "other", T2, None)],
    "client resets managedFields": [(_renew(T0), "kubelet", T0, None), (_reset, "kubelet", T1, None)],
    "status subresource": [(_renew(T0), "kubelet", T0, None),
                           (_set(["spec", "renewTime"], T1), "kubelet", T1, "status")],
    "more than ten managers": _many_managers(),
}


@pytest.mark.parametrize("name", list(HISTORIES))
def test_record_update_fast_path_matches_slow_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    A._TRIES.clear()
    fast = _history(HISTORIES[name], LEASE_NODE)
    fast_again = _history(HISTORIES[name], LEASE_NODE)  # now every trie is in the memo
    _slow(monkeypatch)
    slow = _history(HISTORIES[name], LEASE_NODE)
    assert fast == slow
    assert fast_again == slow


def test_lease_renewal_keeps_entry_and_bumps_time() -> None:
    first = _recorded(None, _lease(T0), manager="kubelet", node=node(LEASE_NODE), now=T0)
    renewed = _recorded(first, _renew(T1)(copy.deepcopy(first)), manager="kubelet", node=node(LEASE_NODE), now=T1)
    (a,), (b,) = first["metadata"]["managedFields"], renewed["metadata"]["managedFields"]
    assert b["time"] == T1 and a["time"] == T0
    assert b["fieldsV1"] == a["fieldsV1"] and "f:renewTime" in b["fieldsV1"]["f:spec"]


def test_reused_trie_is_the_one_read_only_when_canonical() -> None:
    first = _recorded(None, _lease(T0), manager="kubelet", node=node(LEASE_NODE), now=T0)
    new = _renew(T1)(copy.deepcopy(first))
    sent = new["metadata"]["managedFields"][0]["fieldsV1"]
    A.record_update(first, new, manager="kubelet", node=node(LEASE_NODE), now=T1)
    assert new["metadata"]["managedFields"][0]["fieldsV1"] is sent  # canonical: handed on, not rebuilt
    new = _reorder(_renew(T2)(copy.deepcopy(first)))
    sent = new["metadata"]["managedFields"][0]["fieldsV1"]
    A.record_update(first, new, manager="kubelet", node=node(LEASE_NODE), now=T2)
    got = new["metadata"]["managedFields"][0]["fieldsV1"]
    assert got is not sent and json.dumps(got) == json.dumps(first["metadata"]["managedFields"][0]["fieldsV1"])


def test_malformed_tries_still_rejected() -> None:
    with pytest.raises(ValueError):
        A.decode_managed_fields([{"manager": "m", "operation": "Update", "apiVersion": "v1",
                                  "fieldsType": "FieldsV1", "fieldsV1": {"x:bad": {}}}])
    with pytest.raises(ValueError):  # twice: a failure is not remembered as a success
        A.decode_managed_fields([{"manager": "m", "operation": "Update", "apiVersion": "v1",
                                  "fieldsType": "FieldsV1", "fieldsV1": {"x:bad": {}}}])
