"""Placement and replica division: pure functions, no I/O, table-tested.

Which clusters
    :func:`eligible` filters members by ``placement.clusters``, the label selector
    and taints (NoSchedule/NoExecute unless tolerated, as Karmada's TaintToleration
    filter); :func:`select` then applies spread constraints (by cluster, region or
    zone with min/max groups, Karmada's ``spreadConstraints``), preferring healthy
    groups, then groups already in use, then name order.

How many replicas (four algorithms, one input)
    :func:`divide` is kubekit's: every cluster first gets its ``minReplicas``, the
    rest is shared in proportion to the weights by the largest-remainder method
    (ties: higher weight, then name), capped by ``maxReplicas``, repeated until
    nothing is left or every cluster is full. Deterministic and never starves a
    cluster that has weight.

    :func:`fedv1_plan` is Federation v1's planner, line for line
    (kubernetes-retired/federation pkg/federation-controller/util/planner/planner.go):
    clusters sorted by weight, ties by an FNV-32 hash of cluster name + workload key;
    minimums first; with ``rebalance=false`` current replicas are kept; the rest
    handed out by weight **rounding up**, capped by max and estimated capacity, in
    rounds until nothing moves. :func:`kubefed_rsp` is KubeFed's
    ReplicaSchedulingPreference (kubefed pkg/schedulingtypes/replicascheduler.go):
    the same planner over *ready* clusters only, ``{"*": {weight: 1}}`` when no
    clusters are given, overflow added to the plan, clusters that had replicas and
    are not in the plan set to 0. :func:`karmada_static` is Karmada's Divided/Weighted
    static-weight assignment (karmada pkg/util/helper Dispenser.TakeByWeight and
    pkg/scheduler/core/assignment.go): ``floor(weight * replicas / sum)`` each,
    the remainder one by one in order of weight, then last replicas, then (here)
    name where Karmada draws at random; clusters without a weight rule are ignored;
    all weights 0 means every candidate weighs 1; no min/max.

Which pets
    :func:`ordinal_slices` gives each member of a Divided StatefulSet a contiguous
    range ``[start, start + n)`` (``spec.ordinals.start``) that never moves: a slice
    shrinks from its top, grows only into free ordinals, and a growth that would
    take another member's ordinals is refused (moving pets is a migration).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from kubekit.errors import InvalidWorkload

from .model import ClusterPreference, Member, Placement, Scheduling, Workload


# -- which clusters ----------------------------------------------------------------------------


def matches_selector(labels: Mapping[str, str], selector: Mapping[str, object] | None) -> bool:
    """A metav1.LabelSelector: matchLabels AND every matchExpression; None or {} matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():  # type: ignore[union-attr]
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:  # type: ignore[union-attr]
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def untolerated_taint(member: Member, placement: Placement) -> str | None:
    for taint in member.taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if not any(t.tolerates(taint) for t in placement.tolerations):
            return f"{taint.key}={taint.value}:{taint.effect}" if taint.value else f"{taint.key}:{taint.effect}"
    return None


def eligible(placement: Placement, members: Mapping[str, Member]) -> list[str]:
    """Members the placement allows, whatever their health, in a stable order.

    The order is ``placement.clusters``'s when given (it also orders ordinal slices), else by name.
    """
    names = list(placement.clusters) if placement.clusters is not None else sorted(members)
    out = []
    for name in names:
        member = members.get(name)
        if member is None or name in out:
            continue
        if not matches_selector(member.label_map, placement.selector):
            continue
        if untolerated_taint(member, placement):
            continue
        out.append(name)
    return out


def select(placement: Placement, members: Mapping[str, Member], candidates: Sequence[str],
           previous: Iterable[str] = ()) -> list[str]:
    """Apply spread constraints; raises InvalidWorkload(SpreadUnsatisfiable) when too few groups exist.

    Groups are ranked: healthy ones first, then those already used (``previous``), then by name,
    so a lost group is replaced by a healthy one and nothing moves without a reason.
    """
    chosen = list(candidates)
    used = set(previous)
    for sc in placement.spread:
        groups: dict[str, list[str]] = {}
        for name in chosen:
            groups.setdefault(members[name].group(sc.field) or "<none>", []).append(name)
        if len(groups) < sc.min_groups:
            raise InvalidWorkload("SpreadUnsatisfiable", f"spec.placement.spreadConstraints[{sc.field}].minGroups",
                                  sc.min_groups, f"only {len(groups)} {sc.field}(s) are eligible: "
                                  f"{', '.join(sorted(groups)) or 'none'}")
        if sc.max_groups is not None and len(groups) > sc.max_groups:
            def rank(group: str) -> tuple[int, int, str]:
                names = groups[group]
                healthy = any(members[n].ready for n in names)
                return (0 if healthy else 1, 0 if used.intersection(names) else 1, group)

            keep = sorted(groups, key=rank)[: sc.max_groups]
            chosen = [n for n in chosen if (members[n].group(sc.field) or "<none>") in keep]
    return chosen


# -- kubekit's division ------------------------------------------------------------------------


def _prefs(clusters: Sequence[str], scheduling: Scheduling) -> dict[str, ClusterPreference]:
    out = {}
    for c in clusters:
        p = scheduling.preference_for(c)
        if p is not None:
            out[c] = p
    return out


def divide(total: int, clusters: Sequence[str], scheduling: Scheduling,
           base: Mapping[str, int] | None = None) -> dict[str, int]:
    """kubekit's weighted division (see the module docstring). Every cluster appears in the result.

    ``base``: replicas a cluster keeps at least (failover without rebalance: survivors keep theirs and
    only the lost replicas are shared out). Replicas that fit nowhere (all clusters at max) are not
    placed: ``total - sum(result)`` tells how many.
    """
    prefs = _prefs(clusters, scheduling)
    plan = {c: 0 for c in clusters}
    order = sorted(prefs, key=lambda c: (-prefs[c].weight, c))

    def room(c: str) -> float:
        hi = prefs[c].max_replicas
        return math.inf if hi is None else hi - plan[c]

    remaining = total
    for c in order:
        start = max(prefs[c].min_replicas, (base or {}).get(c, 0))
        take = int(min(start, remaining, room(c)))
        plan[c] = take
        remaining -= take
    open_ = [c for c in order if prefs[c].weight > 0 and room(c) > 0]
    while remaining > 0 and open_:
        wsum = sum(prefs[c].weight for c in open_)
        quota = {c: remaining * prefs[c].weight / wsum for c in open_}
        gave = 0
        capped = set()
        for c in open_:
            g = int(min(math.floor(quota[c]), room(c)))
            if g < math.floor(quota[c]):
                capped.add(c)
            plan[c] += g
            gave += g
        left = remaining - gave
        for c in sorted(open_, key=lambda c: (-(quota[c] - math.floor(quota[c])), -prefs[c].weight, c)):
            if left == 0:
                break
            if c not in capped and room(c) > 0:
                plan[c] += 1
                left -= 1
                gave += 1
        remaining = left
        open_ = [c for c in open_ if room(c) > 0]
        if gave == 0:
            # Every open cluster's share rounds to nothing: one each, by weight then name.
            for c in open_:
                if remaining == 0:
                    break
                plan[c] += 1
                remaining -= 1
            open_ = [c for c in open_ if room(c) > 0]
    return plan


def weight_sum(clusters: Sequence[str], scheduling: Scheduling) -> int:
    return sum(p.weight for p in _prefs(clusters, scheduling).values())


# -- Federation v1 / KubeFed planner -----------------------------------------------------------


def fnv32(data: bytes) -> int:
    """FNV-1 32-bit, as Go's hash/fnv New32."""
    h = 0x811C9DC5
    for byte in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return h


def fedv1_plan(total: int, clusters: Sequence[str], preferences: Mapping[str, ClusterPreference],
               *, rebalance: bool = True, current: Mapping[str, int] | None = None,
               capacity: Mapping[str, int] | None = None, key: str = "") -> tuple[dict[str, int], dict[str, int]]:
    """Federation v1's ``Planner.Plan``: (plan, overflow). ``preferences`` may hold ``*``."""
    current = current or {}
    capacity = capacity or {}
    plan: dict[str, int] = {}
    overflow: dict[str, int] = {}
    named = []
    for c in clusters:
        pref = preferences.get(c) or preferences.get("*")
        if pref is None:
            plan[c] = 0
            continue
        named.append((c, fnv32(c.encode() + key.encode()), pref))
    named.sort(key=lambda t: (-t[2].weight, t[1]))

    remaining = total
    for c, _, pref in named:
        low = min(pref.min_replicas, remaining)
        if c in capacity:
            low = min(low, capacity[c])
        remaining -= low
        plan[c] = low

    preallocated: dict[str, int] = {}
    if not rebalance:
        for c, _, pref in named:
            planned = plan[c]
            count = current.get(c)
            if count is not None and count > planned:
                target = count
                if pref.max_replicas is not None:
                    target = min(pref.max_replicas, target)
                if c in capacity:
                    target = min(capacity[c], target)
                extra = max(0, min(target - planned, remaining))
                remaining -= extra
                preallocated[c] = extra
                plan[c] = extra + planned

    modified = True
    while modified and remaining > 0:
        modified = False
        wsum = sum(p.weight for _, _, p in named)
        kept = []
        distribute = remaining
        for c, h, pref in named:
            if wsum <= 0:
                break
            start = plan[c]
            extra = min((distribute * pref.weight + wsum - 1) // wsum, remaining)  # rounding up
            prealloc = preallocated.get(c, 0)
            used = min(extra, prealloc)
            preallocated[c] = prealloc - used
            extra -= used
            if used > 0:
                modified = True
            tot = start + extra
            full = False
            if pref.max_replicas is not None and tot > pref.max_replicas:
                tot = pref.max_replicas
                full = True
            if c in capacity and tot > capacity[c]:
                overflow[c] = tot - capacity[c]
                tot = capacity[c]
                full = True
            if not full:
                kept.append((c, h, pref))
            remaining -= tot - start
            plan[c] = tot
            if tot > start:
                modified = True
        named = kept

    if rebalance:
        return plan, overflow
    return plan, {c: min(v, remaining) for c, v in overflow.items() if min(v, remaining) > 0}


def kubefed_rsp(total: int, ready_clusters: Sequence[str], preferences: Mapping[str, ClusterPreference],
                *, rebalance: bool = False, current: Mapping[str, int] | None = None,
                capacity: Mapping[str, int] | None = None, key: str = "") -> dict[str, int]:
    """KubeFed's ReplicaSchedulingPreference result (schedule() in replicascheduler.go)."""
    prefs = dict(preferences) or {"*": ClusterPreference("*", 1)}
    plan, overflow = fedv1_plan(total, ready_clusters, prefs, rebalance=rebalance, current=current,
                                capacity=capacity, key=key)
    result = {c: 0 for c in (current or {})}
    result.update(plan)
    for c, extra in overflow.items():
        result[c] = result.get(c, 0) + extra
    return result


# -- Karmada static weight ---------------------------------------------------------------------


def karmada_static(total: int, candidates: Sequence[str], preferences: Mapping[str, ClusterPreference],
                   last: Mapping[str, int] | None = None) -> dict[str, int]:
    """Karmada's Divided + Weighted (static weight list); only clusters with a weight rule appear."""
    last = last or {}
    weights: dict[str, int] = {}
    for c in candidates:
        rule = preferences.get(c) or preferences.get("*")
        if rule is not None:
            weights[c] = rule.weight
    if not preferences:
        weights = {c: 1 for c in candidates}
    if sum(weights.values()) == 0:
        weights = {c: 1 for c in candidates}
    wsum = sum(weights.values())
    order = sorted(weights, key=lambda c: (-weights[c], -last.get(c, 0), c))
    result = {c: weights[c] * total // wsum for c in order}
    remain = total - sum(result.values())
    for c in order:
        if remain == 0:
            break
        result[c] += 1
        remain -= 1
    return result


# -- ordinal slices ----------------------------------------------------------------------------


def ordinal_slices(counts: Mapping[str, int], order: Sequence[str],
                   previous: Mapping[str, tuple[int, int]] | None = None) -> dict[str, tuple[int, int]]:
    """``{cluster: (start, replicas)}``: contiguous, disjoint, stable (see the module docstring).

    Raises InvalidWorkload(OrdinalConflict) when a member would have to grow into ordinals another
    member holds, since that would rename or move pets.
    """
    previous = {c: v for c, v in (previous or {}).items() if v[1] > 0}
    if not previous:
        out, cursor = {}, 0
        for c in order:
            n = counts.get(c, 0)
            out[c] = (cursor, n)
            cursor += n
        return out
    out: dict[str, tuple[int, int]] = {}
    # Shrinking and unchanged slices first: they only free ordinals.
    for c in order:
        if c in previous and counts.get(c, 0) <= previous[c][1]:
            out[c] = (previous[c][0], counts.get(c, 0))
    taken = [(s, s + n) for s, n in out.values() if n > 0]
    for c in order:
        if c in out:
            continue
        n = counts.get(c, 0)
        if c in previous:
            start = previous[c][0]
            want = (start, start + n)
            clash = [r for r in taken if r[0] < want[1] and want[0] < r[1]]
            if clash:
                holder = next(k for k, (s, m) in out.items() if m > 0 and s < want[1] and want[0] < s + m)
                raise InvalidWorkload(
                    "OrdinalConflict", "spec.replicaScheduling", dict(counts),
                    f"{c} would grow from {previous[c][1]} to {n} pets and needs ordinals {want[0]}..{want[1] - 1}, "
                    f"but {holder} holds some of them",
                    "Pets never move by themselves: keep the division, or migrate a slice explicitly "
                    "(scale the holder down, move the volume, raise ordinals.start)")
            out[c] = (start, n)
        else:
            end = max([e for _, e in taken] + [s + m for s, m in previous.values()] + [0])
            out[c] = (end, n)
        if n > 0:
            taken.append((out[c][0], out[c][0] + n))
    return out


def placement_order(wl: Workload, members: Mapping[str, Member]) -> list[str]:
    return eligible(wl.placement, members)
