"""Fast paths of the write path (api update, managedFields, store, GC) against their slow forms.

Each test fails if a fast path gives a different answer from the straightforward code it replaces.
"""

import json
import time

import pytest

from kubesim import apply as ssa
from kubesim.api import Api, Request
from kubesim.controllers.base import ControllerContext
from kubesim.controllers.gc import GarbageCollector
from kubesim.errors import Invalid
from kubesim.resources import Registry
from kubesim.schemas import SchemaSet
from kubesim.store import Store, _dumps

# -- managedFields: compare ----------------------------------------------------------------


def _ref_same_value(l, r):
    if l.__class__ is not r.__class__ or l != r:
        return False
    if l.__class__ is str:
        return True
    return json.dumps(l, separators=(",", ":")) == json.dumps(r, separators=(",", ":"))


def _ref_compare_rec(l, r, node, path, c):
    """``apply._compare`` before the inlined scalar and subtree shortcuts."""
    A = ssa._ABSENT
    if (l.__class__ is dict or l.__class__ is list) and _ref_same_value(l, r):
        return
    leaf = True
    lt = dict if isinstance(l, dict) else list if isinstance(l, list) else None
    rt = dict if isinstance(r, dict) else list if isinstance(r, list) else None
    kind = lt or rt
    same_kind = (l is A or lt is kind) and (r is A or rt is kind)
    if kind is dict and same_kind:
        lm = l if l is not A else {}
        rm = r if r is not A else {}
        if not ssa._atomic_map(node) and (lm or rm):
            leaf = False
            for k in {**lm, **rm}:
                lv, rv = lm.get(k, A), rm.get(k, A)
                if lv.__class__ is rv.__class__ and lv.__class__ is not list and lv.__class__ is not dict \
                        and lv == rv:
                    continue
                _ref_compare_rec(lv, rv, ssa._child(node, k), path + ("f:" + k,), c)
    elif kind is list and same_kind:
        ll = l if l is not A else []
        rl = r if r is not A else []
        rel, keys = ssa._list_info(node)
        if rel != "atomic" and (ll or rl):
            leaf = False
            item_node = node.items() if node is not None else None
            li = ssa._index_items(ll, rel, keys, item_node)
            ri = ssa._index_items(rl, rel, keys, item_node)
            for pe in {**li, **ri}:
                _ref_compare_rec(li.get(pe, A), ri.get(pe, A), item_node, path + (pe,), c)
    if not path:
        return
    if l is A:
        c.added.add(path)
    elif r is A:
        c.removed.add(path)
    elif leaf and l != r:
        c.modified.add(path)


def _ref_compare(l, r, node):
    c = ssa.Comparison()
    _ref_compare_rec(l, r, node, (), c)
    return c


_SCHEMAS = SchemaSet("1.33")
_REG = Registry()


def _node(key):
    api = Api(Store(), _REG, _SCHEMAS)
    return api.node_for(_REG.by_key(key))


LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "u", "resourceVersion": "7",
                      "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "x"}]},
         "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000001Z"}}


def _variants():
    base = json.loads(json.dumps(LEASE))
    out = []

    def v(fn):
        b = json.loads(json.dumps(base))
        fn(b)
        out.append(b)

    v(lambda b: b["spec"].update(renewTime="2026-01-01T00:00:01.000001Z"))
    v(lambda b: b["metadata"].pop("resourceVersion"))
    v(lambda b: b["spec"].update(leaseDurationSeconds=40.0))  # == but another type
    v(lambda b: b["spec"].update(leaseDurationSeconds=True))
    v(lambda b: b["spec"].update(leaseDurationSeconds=None))
    v(lambda b: b["spec"].pop("holderIdentity"))
    v(lambda b: b["spec"].update(acquireTime="2026-01-01T00:00:00.000001Z", leaseTransitions=1))
    v(lambda b: b.pop("spec"))
    v(lambda b: b.update(spec="not a map"))
    v(lambda b: b["spec"].update(holderIdentity={"nested": {"a": 1}}))
    v(lambda b: b["metadata"].update(labels={"a": "b"}, annotations={"x": "1"}))
    v(lambda b: b["metadata"]["ownerReferences"][0].update(uid="y"))
    v(lambda b: b["metadata"]["ownerReferences"][0].update(controller=True))
    v(lambda b: b["metadata"]["ownerReferences"].append({"apiVersion": "v1", "kind": "Node", "name": "n2",
                                                         "uid": "z", "controller": 1}))
    v(lambda b: b["metadata"].update(ownerReferences=[]))
    v(lambda b: b["metadata"].update(finalizers=["a/b", "c/d"]))
    return [base] + out


@pytest.mark.parametrize("key", ["coordination.k8s.io/leases", "pods", None])
def test_compare_matches_the_plain_walk(key):
    node = _node(key) if key else None
    vs = _variants()
    for a in vs:
        for b in vs:
            got, want = ssa.compare(a, b, node), _ref_compare(a, b, node)
            assert (got.added, got.modified, got.removed) == (want.added, want.modified, want.removed), (a, b)


@pytest.mark.parametrize("l,r", [
    ([1], [1.0]), ([1], [True]), ({"a": 1}, {"a": True}), ({"a": 0.0}, {"a": -0.0}), ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ([{"x": None}], [{"x": None}]), ({"a": [1, "1"]}, {"a": [1, "1"]}), ("s", "s"), ({"a": "é"}, {"a": "é"}),
])
def test_same_value_agrees_with_the_encoded_form(l, r):
    assert ssa._same_value(l, r) == _ref_same_value(l, r)


def test_trie_paths_match_the_uncached_decoding():
    tries = [
        {"f:spec": {"f:renewTime": {}, "f:holderIdentity": {}}},
        {"f:spec": {"f:holderIdentity": {}, "f:renewTime": {}}},  # same set, another key order
        {"f:metadata": {"f:ownerReferences": {".": {}, 'k:{"uid":"x"}': {}}}},
        {"f:a": {".": {}, "f:b": {}}},
        {},
    ]
    for _ in range(2):  # the second round is served from the memo
        for t in tries:
            paths = ssa.fields_to_paths(t)
            text = json.dumps(t, separators=(",", ":"), ensure_ascii=False)
            canonical = json.dumps(ssa.paths_to_fields(paths), separators=(",", ":"), ensure_ascii=False) == text
            assert ssa._trie_paths(t) == (frozenset(paths), canonical)
    for bad in ({"x": {}}, {"f:a": []}, ["f:a"], "f:a"):
        with pytest.raises(ValueError):
            ssa._trie_paths(bad)


# -- store ---------------------------------------------------------------------------------


def test_dumps_is_json_dumps():
    for o in [LEASE, {"a": "é\u2028", "b": [1, 1.5, True, None, {"c": float("inf")}]}, {}]:
        assert _dumps(o) == json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()


def _ref_gc_fields(obj):
    meta = obj.get("metadata") or {}
    uids = tuple(r.get("uid", "") for r in meta.get("ownerReferences") or [] if isinstance(r, dict))
    return uids, bool(meta.get("deletionTimestamp"))


OWNED = [
    {},
    {"ownerReferences": [{"uid": "a"}, {"uid": "b"}]},
    {"ownerReferences": [{"name": "no-uid"}, "junk"]},
    {"ownerReferences": {"uid": "a"}},
    {"ownerReferences": None, "deletionTimestamp": ""},
    {"ownerReferences": [{"uid": "a"}], "deletionTimestamp": "2026-01-01T00:00:00Z"},
]


def test_entry_owner_uids_and_deleting_match_the_object(tmp_path):
    st = Store(str(tmp_path))
    for i, extra in enumerate(OWNED):
        obj = {"metadata": {"name": f"o{i}", **extra}}
        e = st.create("configmaps", "ns", f"o{i}", obj)
        assert (e.owner_uids, e.deleting) == _ref_gc_fields(e.obj())
        e = st.update("configmaps", "ns", f"o{i}", {"metadata": {"name": f"o{i}", **OWNED[-1 - i]}})
        assert (e.owner_uids, e.deleting) == _ref_gc_fields(e.obj())
    st.close()
    st = Store(str(tmp_path))  # entries rebuilt from SQLite
    entries, _ = st.list("configmaps")
    assert len(entries) == len(OWNED)
    for e in entries:
        assert (e.owner_uids, e.deleting) == _ref_gc_fields(e.obj())
    st.close()


class _RefGC(GarbageCollector):
    """``items_for`` as it was: from the decoded object."""

    def items_for(self, ev):
        e = ev.entry
        ident = (e.key, e.namespace, e.name)
        if ev.type == "DELETED":
            return super().items_for(ev)
        obj = e.view()
        with self._idx_lock:
            before = self._by_ident.get(ident, ())
        owners = self._index(e.key, e.namespace, e.name, obj)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return [ident]
        if owners and (ev.type == "ADDED" or owners != before):
            return [ident]
        return []


def test_gc_items_for_matches_the_decoding_version():
    api = Api(Store(), Registry(), SchemaSet("1.33"))
    fast, slow = GarbageCollector(ControllerContext(api=api)), _RefGC(ControllerContext(api=api))
    got, want = [], []
    api.store.subscribe(None, None, None, lambda ev: got.append(list(fast.items_for(ev))))
    api.store.subscribe(None, None, None, lambda ev: want.append(list(slow.items_for(ev))))
    st = api.store
    seq = OWNED + [{"ownerReferences": [{"uid": "b"}, {"uid": "a"}]}, {"ownerReferences": [{"uid": "c"}]}, {}]
    for i in range(3):
        st.create("configmaps", "ns", f"c{i}", {"metadata": {"name": f"c{i}", **seq[i]}})
    for round_ in range(2):
        for i in range(3):
            for extra in seq[i:] + seq[:i]:
                st.update("configmaps", "ns", f"c{i}", {"metadata": {"name": f"c{i}", **extra}})
                st.update("configmaps", "ns", f"c{i}", {"metadata": {"name": f"c{i}", **extra}, "data": {"r": "1"}})
    for i in range(3):
        st.delete("configmaps", "ns", f"c{i}")
    assert got == want
    assert fast._by_ident == slow._by_ident and fast._dependents == slow._dependents


# -- group commit --------------------------------------------------------------------------


def test_a_waiting_writer_ends_the_writer_linger(tmp_path):
    st = Store(str(tmp_path))
    st.commit_linger = 30.0  # deferred rows would wait this long for company
    with st.deferred():
        st.create("configmaps", "ns", "a", {"metadata": {"name": "a"}})
    t = time.monotonic()
    e = st.create("configmaps", "ns", "b", {"metadata": {"name": "b"}})  # waits for its commit
    assert st.durable_rv >= e.rv
    assert time.monotonic() - t < 10
    with st.deferred():
        e = st.create("configmaps", "ns", "c", {"metadata": {"name": "c"}})
    t = time.monotonic()
    assert st.wait_durable(e.rv, timeout=20)
    assert time.monotonic() - t < 10
    with st.deferred():
        st.create("configmaps", "ns", "d", {"metadata": {"name": "d"}})
    t = time.monotonic()
    st.close()  # commits what is queued without lingering
    assert time.monotonic() - t < 10
    st = Store(str(tmp_path))
    assert sorted(e.name for e in st.list("configmaps")[0]) == ["a", "b", "c", "d"]
    st.close()


def test_deferred_writes_are_batched(tmp_path):
    st = Store(str(tmp_path))
    st.commit_linger = 0.5
    commits = []
    st.on_commit(commits.append)
    with st.deferred():
        for i in range(20):
            e = st.create("configmaps", "ns", f"x{i}", {"metadata": {"name": f"x{i}"}})
    assert st.wait_durable(e.rv, timeout=20)
    assert len(commits) <= 2
    st.close()


# -- api -----------------------------------------------------------------------------------


def _lease_api():
    api = Api(Store(), Registry(), SchemaSet("1.33"))
    R = Request(field_manager="t")
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "kube-node-lease"}}, R)
    body = json.loads(json.dumps(LEASE))
    for k in ("uid", "resourceVersion"):
        body["metadata"].pop(k)
    api.create(api.rt("coordination.k8s.io/leases"), "kube-node-lease", body, Request(field_manager="kubelet"))
    return api


def test_mutate_without_result_stores_the_same_object():
    a, b = _lease_api(), _lease_api()
    rt = a.rt("coordination.k8s.io/leases")

    def renew(cur):
        cur["spec"]["renewTime"] = "2026-01-01T00:00:05.000001Z"

    out = a.mutate(rt, "kube-node-lease", "n1", renew, manager="kubelet")
    assert b.mutate(rt, "kube-node-lease", "n1", renew, manager="kubelet", want_result=False) == {}
    ea, eb = a.store.get(rt.key, "kube-node-lease", "n1"), b.store.get(rt.key, "kube-node-lease", "n1")
    assert out == a._entry_obj(rt, ea)

    def strip(o):
        o["metadata"].pop("uid")
        o["metadata"].pop("creationTimestamp")
        for m in o["metadata"].get("managedFields") or []:
            m.pop("time")
        return o

    assert strip(ea.obj()) == strip(eb.obj()) and ea.rv == eb.rv
    # Nothing changes: no write, and no answer either.
    assert b.mutate(rt, "kube-node-lease", "n1", renew, manager="kubelet", want_result=False) == {}
    assert b.store.get(rt.key, "kube-node-lease", "n1").rv == eb.rv


def test_lease_renewal_still_validates():
    api = _lease_api()
    rt = api.rt("coordination.k8s.io/leases")

    def bad(cur):
        cur["spec"]["renewTime"] = "2026-01-01T00:00:09.000001Z"
        cur["spec"]["leaseDurationSeconds"] = 0

    for want_result in (True, False):
        with pytest.raises(Invalid) as err:
            api.mutate(rt, "kube-node-lease", "n1", bad, manager="kubelet", want_result=want_result)
        assert [e.field for e in err.value.field_errors] == ["spec.leaseDurationSeconds"]


# -- validation: known-valid label and annotation maps ---------------------------------------

_MAPS = [
    {"app": "web", "apps.kubernetes.io/pod-index": "3"},
    {"app": "web", "apps.kubernetes.io/pod-index": 3},
    {"app": "web", "apps.kubernetes.io/pod-index": "3 "},
    {"a b": "c"},
    {"x/y/z": "1"},
    {"k": None},
    {"k": "v" * 64},
    {"example.com/long": "v" * 300},
    {"big": "v" * 5000},
    {},
]


@pytest.mark.parametrize("fn_name", ["labels_errs", "annotations_errs"])
def test_known_valid_maps_give_what_a_full_check_gives(monkeypatch, fn_name):
    from kubesim.validation import common

    fn = getattr(common, fn_name)
    memo_hits = [[fn(m, "metadata.x") for m in _MAPS] for _ in range(3)]  # filled, then served from the memo
    monkeypatch.setattr(common, "_known_valid", lambda memo, value: "")  # no memo: the full check
    want = [fn(m, "metadata.x") for m in _MAPS]
    assert memo_hits == [want] * 3
    assert any(want) and not all(want)
    # Another path, same valid map: still no errors; a changed value is checked again.
    assert fn({"app": "web", "apps.kubernetes.io/pod-index": "3"}, "spec.selector") == []
    monkeypatch.undo()
    assert fn({"app": "web", "apps.kubernetes.io/pod-index": "3"}, "m") == []
    bad = {"app": "web", "apps.kubernetes.io/pod-index": "3", "-bad-": "x"}
    assert fn(bad, "m") and fn(bad, "m") == fn(bad, "m")


# -- store: subscriptions indexed by key -----------------------------------------------------


def test_events_reach_exactly_the_matching_subscriptions_in_order():
    st = Store()
    order = []
    specs = [(None, None), ("pods", None), ("pods", "a"), ("configmaps", "b"), (None, "a"), ("pods", "")]
    subs, got = [], []
    for i, (key, ns) in enumerate(specs):
        box = []
        got.append(box)
        subs.append(st.subscribe(key, ns, None, lambda ev, box=box, i=i: (box.append(ev.rv), order.append((ev.rv, i)))))
    broken = st.subscribe("pods", None, None, lambda ev: 1 / 0)
    writes = [("pods", "a"), ("pods", "b"), ("configmaps", "b"), ("configmaps", "a"), ("secrets", "a"), ("pods", "")]
    evs = []

    def write_all():
        for key, ns in writes:
            evs.append(st.create(key, ns, f"o{len(evs)}", {"metadata": {"name": f"o{len(evs)}"}}))

    write_all()
    assert broken.closed and broken not in st._subs
    subs[1].close()
    late = []
    st.subscribe("configmaps", None, None, lambda ev: late.append(ev.rv))
    write_all()
    for i, (key, ns) in enumerate(specs):
        want = [e.rv for j, e in enumerate(evs) if (key is None or e.key == key) and (not ns or e.namespace == ns)
                and not (i == 1 and j >= len(writes))]
        assert got[i] == want, (key, ns)
    assert late == [e.rv for e in evs[len(writes):] if e.key == "configmaps"]
    assert order == sorted(order)  # per event, subscribers in subscription order
