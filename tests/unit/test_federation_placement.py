"""Placement and replica division as pure functions: table-driven, including the three algorithms of explain()."""

from __future__ import annotations

import pytest

from kubekit.errors import InvalidWorkload
from kubekit.federation import placement as pl
from kubekit.federation.model import (
    DIVIDED,
    ClusterPreference as P,
    Member,
    Placement,
    Scheduling,
    SpreadConstraint,
    Taint,
    Toleration,
)


def S(*prefs: P, rebalance: bool = False) -> Scheduling:
    return Scheduling(DIVIDED, tuple(prefs), rebalance)


# -- kubekit's division --------------------------------------------------------------------------

DIVIDE_CASES = [
    # total, clusters, scheduling, expected
    (4, "abc", S(P("a", 2), P("b", 1), P("c", 1)), {"a": 2, "b": 1, "c": 1}),
    (5, "abc", S(P("a", 2), P("b", 1), P("c", 1)), {"a": 3, "b": 1, "c": 1}),  # largest remainder: a
    (6, "abc", S(P("a", 2), P("b", 1), P("c", 1)), {"a": 3, "b": 2, "c": 1}),  # tie .5/.5: name order
    (6, "abc", S(), {"a": 2, "b": 2, "c": 2}),  # no preferences: equal
    (1, "abc", S(), {"a": 1, "b": 0, "c": 0}),
    (0, "abc", S(), {"a": 0, "b": 0, "c": 0}),
    (50, "ABC", S(P("*", 1), P("C", 1, 0, 20)), {"A": 17, "B": 17, "C": 16}),
    (50, "AC", S(P("*", 1), P("C", 1, 0, 20)), {"A": 30, "C": 20}),  # max caps, the rest flows on
    (50, "C", S(P("*", 1), P("C", 1, 0, 20)), {"C": 20}),  # 30 cannot be placed
    (9, "AB", S(P("A", 1, 4, 6), P("B", 1, 4, 8)), {"A": 5, "B": 4}),  # mins first, then weights
    (3, "AB", S(P("A", 1, 4), P("B", 1)), {"A": 3, "B": 0}),  # min larger than total
    (6, "abc", S(P("a", 1), P("b", 0), P("c", 1)), {"a": 3, "b": 0, "c": 3}),  # weight 0 gets only its min
    (6, "abc", S(P("a", 1), P("c", 1)), {"a": 3, "b": 0, "c": 3}),  # no entry and no *: nothing
    (7, "ab", S(P("a", 1), P("b", 1, 2)), {"a": 3, "b": 4}),  # min first, then the rest by weight
]


@pytest.mark.parametrize("total,clusters,sched,want", DIVIDE_CASES)
def test_divide(total: int, clusters: str, sched: Scheduling, want: dict[str, int]) -> None:
    got = pl.divide(total, list(clusters), sched)
    assert got == want
    assert sum(got.values()) <= total


def test_divide_with_base_keeps_survivors() -> None:
    # b (2 replicas) was lost; a and c keep theirs, b's two go by weight (a has 2).
    got = pl.divide(6, ["a", "c"], S(P("a", 2), P("b", 1), P("c", 1)), base={"a": 3, "c": 1})
    assert got == {"a": 4, "c": 2}


# -- Federation v1 planner and KubeFed RSP (userguide examples) --------------------------------

FEDV1_CASES = [
    # total, clusters, preferences, rebalance, current, capacity, expected plan, expected overflow
    (9, "ABC", {"A": P("A", 1), "B": P("B", 2)}, True, None, None, {"A": 3, "B": 6, "C": 0}, {}),
    (9, "AB", {"A": P("A", 1, 4, 6), "B": P("B", 1, 4, 8)}, True, None, None, {"A": 4, "B": 5}, {}),
    (5, "abc", {"a": P("a", 2), "b": P("b", 1), "c": P("c", 1)}, True, None, None,
     {"a": 3, "b": 0, "c": 2}, {}),  # rounding up starves the cluster last in hash order
    (6, "abc", {"*": P("*", 1)}, False, {"a": 4}, None, {"a": 4, "b": 1, "c": 1}, {}),  # keeps current
    (6, "abc", {"*": P("*", 1)}, True, {"a": 4}, None, {"a": 2, "b": 2, "c": 2}, {}),
    (6, "ab", {"*": P("*", 1)}, True, None, {"a": 1}, {"a": 1, "b": 5}, {"a": 2}),  # capacity -> overflow
]


@pytest.mark.parametrize("total,clusters,prefs,rebalance,current,capacity,want,overflow", FEDV1_CASES)
def test_fedv1_planner(total, clusters, prefs, rebalance, current, capacity, want, overflow) -> None:  # type: ignore[no-untyped-def]
    got, over = pl.fedv1_plan(total, list(clusters), prefs, rebalance=rebalance, current=current,
                              capacity=capacity, key="default/web")
    assert got == want
    assert over == overflow


def test_fnv32_matches_go() -> None:
    # hash/fnv New32 (FNV-1) test vectors
    assert pl.fnv32(b"") == 0x811C9DC5
    assert pl.fnv32(b"a") == 0x050C5D7E
    assert pl.fnv32(b"foobar") == 0x31F0B262


RSP_CASES = [
    # KubeFed userguide: 50 replicas, "*": weight 1, C max 20.
    (50, "ABC", {"*": P("*", 1), "C": P("C", 1, 0, 20)}, {"A": 16, "B": 17, "C": 17}),
    (50, "AC", {"*": P("*", 1), "C": P("C", 1, 0, 20)}, {"A": 30, "C": 20}),  # B offline
    (50, "C", {"*": P("*", 1), "C": P("C", 1, 0, 20)}, {"C": 20}),  # A and B offline
    (9, "AB", {"A": P("A", 1), "B": P("B", 2)}, {"A": 3, "B": 6}),
    (4, "ab", {}, {"a": 2, "b": 2}),  # no clusters: {"*": {weight: 1}}
]


@pytest.mark.parametrize("total,ready,prefs,want", RSP_CASES)
def test_kubefed_rsp(total: int, ready: str, prefs: dict[str, P], want: dict[str, int]) -> None:
    got = pl.kubefed_rsp(total, list(ready), prefs, key="default/web")
    assert sum(got.values()) == sum(want.values())
    assert {c: got[c] for c in want} == want or sorted(got.values()) == sorted(want.values())


def test_kubefed_rsp_zeroes_clusters_that_had_replicas() -> None:
    got = pl.kubefed_rsp(4, ["a"], {}, current={"a": 2, "b": 2})
    assert got == {"a": 4, "b": 0}


KARMADA_CASES = [
    # Karmada assignment.go's table: 9 with 1:2 -> 3:6; 9 with 1:3 -> 2:7.
    (9, "AB", {"A": P("A", 1), "B": P("B", 2)}, None, {"A": 3, "B": 6}),
    (9, "AB", {"A": P("A", 1), "B": P("B", 3)}, None, {"A": 2, "B": 7}),
    (5, "abc", {"a": P("a", 2), "b": P("b", 1), "c": P("c", 1)}, None, {"a": 3, "b": 1, "c": 1}),
    (3, "B", {"A": P("A", 1), "B": P("B", 2)}, None, {"B": 3}),  # failover doc: member1 lost -> member2 gets 3
    (4, "abc", {"a": P("a", 0), "b": P("b", 0)}, None, {"a": 2, "b": 1, "c": 1}),  # all 0 -> everyone 1
    (4, "abc", {"a": P("a", 1), "b": P("b", 1)}, None, {"a": 2, "b": 2}),  # c has no rule: ignored
    (5, "ab", {"*": P("*", 1)}, {"b": 3}, {"a": 2, "b": 3}),  # tie: last replicas first
]


@pytest.mark.parametrize("total,cands,prefs,last,want", KARMADA_CASES)
def test_karmada_static(total: int, cands: str, prefs: dict[str, P], last: dict[str, int] | None,
                        want: dict[str, int]) -> None:
    assert pl.karmada_static(total, list(cands), prefs, last) == want


# -- cluster selection ---------------------------------------------------------------------------

MEMBERS = {
    "east-a": Member("east-a", "us-east-1", "us-east-1a", labels=(("tier", "gold"),), state="Ready"),
    "east-b": Member("east-b", "us-east-1", "us-east-1b", state="Ready"),
    "east-c": Member("east-c", "us-east-1", "us-east-1c", state="Offline"),
    "west-a": Member("west-a", "us-west-2", "us-west-2a", taints=(Taint("dedicated", "dr", "NoSchedule"),),
                     state="Ready"),
}

SELECT_CASES = [
    (Placement(), ["east-a", "east-b", "east-c"]),  # the tainted member needs a toleration
    (Placement(tolerations=(Toleration("dedicated", "Equal", "dr"),)), ["east-a", "east-b", "east-c", "west-a"]),
    (Placement(tolerations=(Toleration(operator="Exists"),)), ["east-a", "east-b", "east-c", "west-a"]),
    (Placement(clusters=("east-b", "east-a")), ["east-b", "east-a"]),  # the given order is kept
    (Placement(selector={"matchLabels": {"tier": "gold"}}), ["east-a"]),
    (Placement(selector={"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In",
                                               "values": ["us-east-1b", "us-east-1c"]}]}), ["east-b", "east-c"]),
    (Placement(selector={"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), ["east-b", "east-c"]),
    (Placement(clusters=("nope",)), []),
]


@pytest.mark.parametrize("placement,want", SELECT_CASES)
def test_eligible(placement: Placement, want: list[str]) -> None:
    assert pl.eligible(placement, MEMBERS) == want


def test_spread_prefers_healthy_then_used_groups() -> None:
    p = Placement(spread=(SpreadConstraint("cluster", 1, 2),))
    cands = ["east-a", "east-b", "east-c"]
    assert pl.select(p, MEMBERS, cands) == ["east-a", "east-b"]
    assert pl.select(p, MEMBERS, cands, previous=["east-b"]) == ["east-a", "east-b"]
    p1 = Placement(spread=(SpreadConstraint("cluster", 1, 1),))
    assert pl.select(p1, MEMBERS, cands, previous=["east-c"]) == ["east-a"]  # east-c is Offline


def test_spread_by_region_and_min_groups() -> None:
    members = dict(MEMBERS)
    p = Placement(spread=(SpreadConstraint("region", 2, 2),), tolerations=(Toleration(operator="Exists"),))
    cands = pl.eligible(p, members)
    assert pl.select(p, members, cands) == cands
    with pytest.raises(InvalidWorkload) as err:
        pl.select(Placement(spread=(SpreadConstraint("region", 2),)), members, ["east-a", "east-b"])
    assert err.value.reason == "SpreadUnsatisfiable"


# -- ordinal slices ------------------------------------------------------------------------------

SLICE_CASES = [
    ({"a": 2, "b": 2, "c": 2}, "abc", None, {"a": (0, 2), "b": (2, 2), "c": (4, 2)}),
    ({"a": 3, "b": 1, "c": 2}, "abc", None, {"a": (0, 3), "b": (3, 1), "c": (4, 2)}),
    ({"a": 1, "b": 2, "c": 3}, "abc", {"a": (0, 2), "b": (2, 2), "c": (4, 2)},
     {"a": (0, 1), "b": (2, 2), "c": (4, 3)}),  # shrink from the top; the last slice grows freely
    ({"a": 2, "b": 0, "c": 2}, "abc", {"a": (0, 2), "b": (2, 2), "c": (4, 2)},
     {"a": (0, 2), "b": (2, 0), "c": (4, 2)}),
    ({"a": 2, "b": 2, "d": 2}, "abd", {"a": (0, 2), "b": (2, 2), "c": (4, 2)},
     {"a": (0, 2), "b": (2, 2), "d": (6, 2)}),  # a new member never reuses freed ordinals
    ({"a": 2, "b": 3}, "ab", {"a": (0, 2), "b": (2, 2), "c": (4, 0)}, {"a": (0, 2), "b": (2, 3)}),
]


@pytest.mark.parametrize("counts,order,previous,want", SLICE_CASES)
def test_ordinal_slices(counts: dict[str, int], order: str, previous: dict[str, tuple[int, int]] | None,
                        want: dict[str, tuple[int, int]]) -> None:
    got = pl.ordinal_slices(counts, list(order), previous)
    assert got == want
    ranges = sorted((s, s + n) for s, n in got.values() if n)
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:])), "slices overlap"


def test_ordinal_slices_refuse_to_move_pets() -> None:
    with pytest.raises(InvalidWorkload) as err:
        pl.ordinal_slices({"a": 3, "b": 2, "c": 1}, ["a", "b", "c"], {"a": (0, 2), "b": (2, 2), "c": (4, 2)})
    assert err.value.reason == "OrdinalConflict"
    assert "b holds" in str(err.value)
