"""Decision functions of the garbage collector and the namespace controller, table-driven."""

import pytest

from kubesim.controllers import gc, namespace
from kubesim.controllers.gc import Delete, ObjInfo, OwnerRef, OwnerState, RemoveFinalizer, RemoveOwnerRefs


def dep(*owners, deleting=False):
    refs = tuple(OwnerRef("v1", "ConfigMap", f"o-{u}", u, block) for u, block in owners)
    return ObjInfo("configmaps", "ns", "child", "c-uid", refs, deleting, ())


LIVE = OwnerState("x", False, ())
WAITING = OwnerState("x", True, ("foregroundDeletion",))


@pytest.mark.parametrize("obj,states,want", [
    (dep(("a", False)), {"a": None}, [("Delete", "Background")]),
    (dep(("a", False)), {"a": LIVE}, []),
    (dep(("a", False), ("b", False)), {"a": None, "b": LIVE}, [("RemoveOwnerRefs", ("a",))]),
    (dep(("a", True)), {"a": WAITING}, [("Delete", "Foreground")]),
    (dep(("a", True), ("b", False)), {"a": WAITING, "b": LIVE}, []),
    (dep(("a", False), ("b", False)), {"a": WAITING, "b": LIVE}, [("RemoveOwnerRefs", ("a",))]),
    (dep(("a", False), deleting=True), {"a": None}, []),
])
def test_decide_dependent(obj, states, want):
    got = []
    for act in gc.decide_dependent(obj, states):
        if isinstance(act, Delete):
            got.append(("Delete", act.propagation))
        elif isinstance(act, RemoveOwnerRefs):
            got.append(("RemoveOwnerRefs", act.uids))
    assert got == want


def owner(*fins, deleting=True):
    return ObjInfo("configmaps", "ns", "owner", "o", (), deleting, fins)


def child(block, deleting=False):
    return ObjInfo("configmaps", "ns", "c", "c", (OwnerRef("v1", "ConfigMap", "owner", "o", block),), deleting, ())


def test_orphan_strips_refs_then_finalizer():
    acts = gc.decide_owner(owner("orphan"), [child(True)])
    assert isinstance(acts[0], RemoveOwnerRefs) and acts[0].uids == ("o",)
    assert isinstance(acts[-1], RemoveFinalizer) and acts[-1].finalizer == "orphan"


def test_foreground_waits_for_blocking_dependents():
    acts = gc.decide_owner(owner("foregroundDeletion"), [child(True)])
    assert [type(a) for a in acts] == [Delete]
    acts = gc.decide_owner(owner("foregroundDeletion"), [child(True, deleting=True)])
    assert acts == []
    acts = gc.decide_owner(owner("foregroundDeletion"), [child(False)])
    assert isinstance(acts[-1], RemoveFinalizer)
    assert gc.decide_owner(owner("foregroundDeletion"), [])[0].finalizer == "foregroundDeletion"
    assert gc.decide_owner(owner("foregroundDeletion", deleting=False), [child(True)]) == []


def ns(deleting=True, fins=("kubernetes",)):
    meta = {"name": "x"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"finalizers": list(fins)}}


@pytest.mark.parametrize("obj,remaining,want_delete,want_final", [
    (ns(), [], 0, True),
    (ns(), [namespace.Remaining("pods", "a", False), namespace.Remaining("pods", "b", True)], 1, False),
    (ns(deleting=False), [namespace.Remaining("pods", "a", False)], 0, False),
    (ns(fins=()), [namespace.Remaining("pods", "a", False)], 0, False),
])
def test_namespace_decide(obj, remaining, want_delete, want_final):
    to_delete, finalize = namespace.decide(obj, remaining)
    assert len(to_delete) == want_delete and finalize is want_final


def test_namespace_conditions_name_what_remains():
    conds = {c["type"]: c for c in namespace.conditions([namespace.Remaining("apps/statefulsets", "w", False)], "t")}
    assert conds["NamespaceContentRemaining"]["status"] == "True"
    assert "statefulsets.apps has 1 resource instances" in conds["NamespaceContentRemaining"]["message"]
