"""The pet migration plan (kubekit.federation.migrate.plan_migration) and pinned ordinal slices: pure, table-driven."""

from __future__ import annotations

import copy

import pytest

from kubekit.errors import InvalidParameter, InvalidWorkload
from kubekit.federation.migrate import DOWN, UP, plan_migration, slices_of
from kubekit.federation.model import OrdinalSlice, parse_workload

SLICES = {"a": (0, 2), "b": (2, 2), "c": (4, 2)}
PER_PET = ["shrink-source", "wait-gone", "export", "import", "move-boundary", "wait-ready", "verify", "release-claim"]


def table(slices: tuple[OrdinalSlice, ...]) -> dict[str, tuple[int, int]]:
    return {s.cluster: (s.start, s.replicas) for s in slices}


def test_top_ordinal_moves_to_the_slice_above() -> None:
    p = plan_migration(SLICES, "a", "b", set_name="kv", namespace="fed", workload="statefulset-kv")
    assert (p.direction, p.ordinals, p.pets()) == (DOWN, (1,), ["kv-1"])
    assert [s.action for s in p.steps] == ["pin", *PER_PET]
    assert [s.index for s in p.steps] == list(range(1, 10))
    by = {s.action: s for s in p.steps}
    assert table(by["pin"].slices) == SLICES                                  # pinning moves nothing
    assert table(by["shrink-source"].slices) == {"a": (0, 1), "b": (2, 2), "c": (4, 2)}
    assert table(by["import"].slices) == {"a": (0, 1), "b": (2, 2), "c": (4, 2)}   # nobody holds kv-1 meanwhile
    assert table(by["move-boundary"].slices) == {"a": (0, 1), "b": (1, 3), "c": (4, 2)}
    assert table(p.after) == {"a": (0, 1), "b": (1, 3), "c": (4, 2)}
    assert by["shrink-source"].cluster == "a" and by["import"].cluster == "b" and by["release-claim"].cluster == "a"
    assert "no claim for it in b" in by["shrink-source"].guard and "kv-1 in no cluster" in by["move-boundary"].guard
    assert "ordinals.start 1, replicas 3" in by["move-boundary"].detail
    text = p.table()
    assert text.splitlines()[0] == "move kv-1 of fed/kv from a to b (9 steps)"
    assert "b:1..3" in text.splitlines()[-4]
    assert p.to_dict()["after"] == {"a": [0, 1], "b": [1, 3], "c": [4, 2]}


@pytest.mark.parametrize("source,dest,count,direction,ordinals,after", [
    ("c", "b", 1, UP, (4,), {"a": (0, 2), "b": (2, 3), "c": (5, 1)}),        # bottom ordinal moves down
    ("b", "a", 2, UP, (2, 3), {"a": (0, 4), "b": (4, 0), "c": (4, 2)}),       # a whole slice, one pet at a time
    ("a", "b", 2, DOWN, (1, 0), {"a": (0, 0), "b": (0, 4), "c": (4, 2)}),     # top first, then the next
    ("c", "z", 1, DOWN, (5,), {"a": (0, 2), "b": (2, 2), "c": (4, 1), "z": (5, 1)}),   # to a member with no slice
])
def test_directions_counts_and_new_members(source: str, dest: str, count: int, direction: str,
                                           ordinals: tuple[int, ...], after: dict[str, tuple[int, int]]) -> None:
    p = plan_migration(SLICES, source, dest, count, set_name="kv", pinned=True)
    assert (p.direction, p.ordinals) == (direction, ordinals)
    assert table(p.after) == after
    assert [s.action for s in p.steps] == PER_PET * count                     # pinned: no pin step
    assert [s.ordinal for s in p.steps] == [o for o in ordinals for _ in PER_PET]
    # at every step, no ordinal is in two slices
    for s in p.steps:
        held = [o for x in s.slices for o in range(x.start, x.stop)]
        assert len(held) == len(set(held)), s


def test_keep_source_claim_and_pinned() -> None:
    p = plan_migration(SLICES, "a", "b", pinned=True, keep_source_claim=True)
    assert [s.action for s in p.steps] == PER_PET[:-1]


@pytest.mark.parametrize("slices,source,dest,count,match", [
    (SLICES, "a", "a", 1, "is the source"),
    (SLICES, "z", "a", 1, "holds no pets"),
    ({"a": (0, 0), "b": (0, 2)}, "a", "b", 1, "holds no pets"),
    (SLICES, "a", "b", 3, "holds only 2"),
    (SLICES, "a", "b", 0, "at least 1"),
    (SLICES, "a", "c", 1, "not next to"),                                    # 0..1 and 4..5 are not neighbours
    ({"a": (0, 3), "b": (2, 2)}, "a", "b", 1, "overlap"),
])
def test_bad_input_is_refused(slices: dict[str, tuple[int, int]], source: str, dest: str, count: int,
                              match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        plan_migration(slices, source, dest, count)


FW = {"apiVersion": "kubekit.io/v1alpha1", "kind": "FederatedWorkload",
      "metadata": {"name": "statefulset-kv", "namespace": "fed", "generation": 3},
      "spec": {"template": {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kv"},
                            "spec": {"replicas": 6}},
               "replicaScheduling": {"type": "Divided"}},
      "status": {"placement": [{"cluster": "a", "replicas": 2, "ordinalStart": 0},
                               {"cluster": "b", "replicas": 2, "ordinalStart": 2}]}}


def test_slices_of_reads_status_then_pins() -> None:
    assert slices_of(FW) == ({"a": (0, 2), "b": (2, 2)}, False)
    fw = copy.deepcopy(FW)
    fw["spec"]["replicaScheduling"]["ordinalSlices"] = [{"cluster": "a", "start": 0, "replicas": 1},
                                                        {"cluster": "b", "start": 1, "replicas": 3}]
    assert slices_of(fw) == ({"a": (0, 1), "b": (1, 3)}, True)
    wl = parse_workload(fw)
    assert wl.scheduling.slices == (OrdinalSlice("a", 0, 1), OrdinalSlice("b", 1, 3))


@pytest.mark.parametrize("slices,reason", [
    ([{"cluster": "a", "start": 0, "replicas": 2}, {"cluster": "b", "start": 1, "replicas": 2}], "OrdinalConflict"),
    ([{"cluster": "a", "start": 0, "replicas": 2}, {"cluster": "a", "start": 2, "replicas": 2}], "InvalidScheduling"),
    ([{"start": 0, "replicas": 2}], "InvalidScheduling"),
    ([{"cluster": "a", "start": -1, "replicas": 2}], "InvalidScheduling"),
])
def test_bad_pinned_slices(slices: list[dict[str, object]], reason: str) -> None:
    fw = copy.deepcopy(FW)
    fw["spec"]["replicaScheduling"]["ordinalSlices"] = slices
    with pytest.raises(InvalidWorkload) as err:
        parse_workload(fw)
    assert err.value.reason == reason


def test_pinned_slices_only_for_statefulsets() -> None:
    fw = copy.deepcopy(FW)
    fw["spec"]["template"] = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                              "spec": {"replicas": 2}}
    fw["spec"]["replicaScheduling"]["ordinalSlices"] = [{"cluster": "a", "start": 0, "replicas": 2}]
    with pytest.raises(InvalidWorkload, match="only a Divided StatefulSet"):
        parse_workload(fw)


def test_decide_renders_exactly_the_pinned_slices() -> None:
    from kubekit.federation.decide import decide
    from kubekit.federation.model import READY, Member

    fw = copy.deepcopy(FW)
    fw["spec"]["replicaScheduling"]["ordinalSlices"] = [{"cluster": "a", "start": 0, "replicas": 1},
                                                        {"cluster": "b", "start": 1, "replicas": 3},
                                                        {"cluster": "c", "start": 4, "replicas": 0}]
    members = {n: Member(n, state=READY) for n in ("a", "b", "c")}
    d = decide(parse_workload(fw), members, fw["status"], {"a": {}, "b": {}, "c": {}}, 0.0)
    assert d.error is None
    got = {a.cluster: (a.obj["spec"].get("ordinals", {}).get("start", 0), a.obj["spec"]["replicas"])
           for a in d.actions if a.verb == "apply"}
    assert got == {"a": (0, 1), "b": (1, 3)}                  # c's empty slice is not placed
    assert d.status["placementSummary"] == "a:1 b:3"
    unknown = copy.deepcopy(fw)
    unknown["spec"]["replicaScheduling"]["ordinalSlices"][2]["cluster"] = "z"
    d = decide(parse_workload(unknown), members, fw["status"], {}, 0.0)
    assert d.error is not None and d.error.reason == "UnknownCluster" and not d.actions
