"""The controller's brain: one pure function from what is known to what to do.

``decide(workload, members, status, observed, now)`` takes the parsed workload, the
members with their health, the workload's previous status (the controller's only
memory, so a restarted controller decides the same), what each reachable member
holds (``observed``), and the time; it returns a :class:`Decision`: the placement,
the actions (apply or delete an object in a member), events, and the new status.
Nothing here does I/O, so every rule below is a table test.

Rules
-----
* Bad input (unknown member, no matching cluster, weights summing to zero,
  min > max, an override that does not apply, ordinals that would collide) → the
  ``Accepted`` condition is False with the reason, **no action at all**.
* Non-replica kinds and ``Duplicated``: every selected member gets the object;
  a spread constraint with ``maxGroups`` replaces a lost member by a healthy one.
* ``Divided`` stateless: divided over the *healthy* selected members; when a
  placed member stops being healthy its replicas are re-divided over the others
  (without ``rebalance`` the survivors keep theirs and only the lost replicas are
  shared out by weight); when it recovers, replicas move back only with
  ``rebalance: true``. The lost member's copy is an eviction task with the
  workload's purge mode: ``Directly`` deletes it as soon as the member answers;
  ``Gracefully`` keeps it until the new placement is ready or the grace period
  ends; ``Never`` leaves it for a human.
* ``Divided`` StatefulSet: divided over all selected members, whatever their
  health, into ordinal slices that never move (:func:`placement.ordinal_slices`).
  A lost member's pets are not recreated elsewhere.
* A member object that differs from what the controller would apply is drift if
  its ``kubekit.io/spec-hash`` annotation still matches (someone edited it), an
  update otherwise; both are re-applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from kubekit.errors import InvalidWorkload

from . import placement as pl
from .model import (
    DIRECTLY,
    GRACEFULLY,
    NEVER,
    OFFLINE,
    READY,
    UNKNOWN,
    Member,
    Workload,
    check_workload,
)
from .render import drift, render

ANNOTATION_HASH = "kubekit.io/spec-hash"
Key = tuple[str, str, str]  # apiVersion, kind, name


def object_key(obj: Mapping[str, Any]) -> Key:
    return (str(obj.get("apiVersion", "")), str(obj.get("kind", "")), str((obj.get("metadata") or {}).get("name", "")))


def spec_hash(obj: Mapping[str, Any]) -> str:
    body = json.loads(json.dumps(obj))
    (body.get("metadata") or {}).get("annotations", {}).pop(ANNOTATION_HASH, None)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def with_hash(obj: dict[str, Any]) -> dict[str, Any]:
    obj.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION_HASH] = spec_hash(obj)
    return obj


@dataclass(frozen=True)
class Action:
    verb: str  # apply | delete
    cluster: str
    obj: dict[str, Any]  # the manifest to apply, or the live object to delete
    reason: str
    message: str

    @property
    def key(self) -> Key:
        return object_key(self.obj)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Decision:
    placement: dict[str, int | None] = field(default_factory=dict)
    slices: dict[str, tuple[int, int]] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    error: InvalidWorkload | None = None
    finalized: bool = False  # deleting, and nothing is left in any member


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(prev: list[dict[str, Any]], type_: str, status: str, reason: str, message: str,
               now: float, generation: int) -> dict[str, Any]:
    old = next((c for c in prev if c.get("type") == type_), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else _iso(now)
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since or _iso(now), "observedGeneration": generation}


def _prev_placement(status: Mapping[str, Any]) -> tuple[dict[str, int | None], dict[str, tuple[int, int]]]:
    counts: dict[str, int | None] = {}
    slices: dict[str, tuple[int, int]] = {}
    for p in status.get("placement") or []:
        counts[p["cluster"]] = p.get("replicas")
        if p.get("ordinalStart") is not None:
            slices[p["cluster"]] = (int(p["ordinalStart"]), int(p.get("replicas") or 0))
    return counts, slices


def is_ready(obj: Mapping[str, Any] | None, want: int | None) -> bool:
    """A member object is ready: it exists and, with replicas, all of them are ready in its latest generation."""
    if obj is None:
        return False
    if want is None:
        return True
    st = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation")
    current = gen is None or (st.get("observedGeneration") or 0) >= gen
    return current and int(st.get("readyReplicas") or 0) >= want and int((obj.get("spec") or {}).get("replicas", want)) == want


def ready_count(obj: Mapping[str, Any] | None) -> int:
    return int(((obj or {}).get("status") or {}).get("readyReplicas") or 0)


def decide(wl: Workload, members: Mapping[str, Member], status: Mapping[str, Any],
           observed: Mapping[str, Mapping[Key, dict[str, Any]]], now: float) -> Decision:
    """See the module docstring. ``observed`` has an entry for every member that answered this round."""
    status = dict(status or {})
    prev_conds = list(status.get("conditions") or [])
    prev_counts, prev_slices = _prev_placement(status)
    tasks = [dict(t) for t in status.get("evictions") or []]
    d = Decision()

    if wl.deleting:
        for cluster, objs in sorted(observed.items()):
            for obj in objs.values():
                d.actions.append(Action("delete", cluster, obj, "Deleted",
                                        f"{wl.key} is being deleted: removing {obj['kind']} from {cluster}"))
        unreachable = [c for c in set(prev_counts) | {t["cluster"] for t in tasks} if c not in observed]
        d.finalized = not d.actions and not unreachable
        d.status = dict(status, phase="Deleting")
        if unreachable:
            d.status["conditions"] = [c for c in prev_conds if c.get("type") != "Deleting"] + [_condition(
                prev_conds, "Deleting", "True", "WaitingForMembers",
                f"waiting for {', '.join(sorted(unreachable))} to answer before removing the finalizer", now,
                wl.generation)]
        return d

    # -- 1. validate: nothing is done for a workload that does not make sense ----------------------
    try:
        check_workload(wl, members)
        cands = pl.eligible(wl.placement, members)
        if not cands:
            why = []
            if wl.placement.clusters is not None:
                why.append(f"clusters {list(wl.placement.clusters)}")
            if wl.placement.selector:
                why.append(f"selector {json.dumps(wl.placement.selector, sort_keys=True)}")
            tainted = [f"{m.name} ({pl.untolerated_taint(m, wl.placement)})" for m in members.values()
                       if pl.untolerated_taint(m, wl.placement)]
            if tainted:
                why.append(f"untolerated taints on {', '.join(tainted)}")
            raise InvalidWorkload("NoMatchingClusters", "spec.placement", " and ".join(why) or "{}",
                                  f"matches none of the {len(members)} member(s) "
                                  f"({', '.join(sorted(members)) or 'none registered'})",
                                  "Fix the names or the selector, or register a member")
        selected = pl.select(wl.placement, members, cands, previous=[c for c, n in prev_counts.items() if n != 0])
        if wl.divided:
            if pl.weight_sum(selected, wl.scheduling) == 0:
                raise InvalidWorkload("WeightsSumToZero", "spec.replicaScheduling.clusters",
                                      [(p.name, p.weight) for p in wl.scheduling.preferences],
                                      f"the weights of the selected clusters ({', '.join(selected)}) sum to 0, "
                                      "so no replica could be placed", "Give at least one cluster a weight above 0")
            maxes = [wl.scheduling.preference_for(c) for c in selected]
            if maxes and all(p is not None and p.max_replicas is not None for p in maxes):
                cap = sum(p.max_replicas for p in maxes if p is not None and p.max_replicas is not None)
                if cap < wl.replicas:
                    raise InvalidWorkload("MaxReplicasTooLow", "spec.replicaScheduling.clusters", cap,
                                          f"maxReplicas of the selected clusters add up to {cap}, "
                                          f"below the {wl.replicas} replicas wanted")
        targets, slices, why = _targets(wl, members, selected, prev_counts, prev_slices, status, d)
        rendered = {c: [with_hash(o) for o in render(wl, c, targets[c], slices[c][0] if c in slices else None)]
                    for c in targets}
    except InvalidWorkload as exc:
        d.error = exc
        d.status = dict(status)
        d.status["phase"] = "Invalid"
        d.status["observedGeneration"] = wl.generation
        cond = _condition(prev_conds, "Accepted", "False", exc.reason, str(exc), now, wl.generation)
        old = next((c for c in prev_conds if c.get("type") == "Accepted"), {})
        if old.get("reason") != exc.reason or old.get("message") != str(exc):
            d.events.append(Event("Warning", exc.reason, str(exc)))
        d.status["conditions"] = [c for c in prev_conds if c.get("type") != "Accepted"] + [cond]
        return d

    d.placement = targets
    d.slices = slices

    # -- 2. evictions: what a lost member still holds ------------------------------------------------
    placed_before = {c for c, n in prev_counts.items() if n is None or n > 0}
    for c in sorted(placed_before - set(targets)):
        member = members.get(c)
        healthy = member is not None and member.ready
        if any(t["cluster"] == c for t in tasks):
            continue
        if not healthy:  # lost, not dropped by a spec change: an eviction with the purge mode
            mode = wl.failover.purge_mode
            task = {"cluster": c, "replicas": int(prev_counts.get(c) or 0), "purgeMode": mode,
                    "reason": f"Cluster{member.state if member else 'Removed'}", "since": now,
                    "deadline": now + wl.failover.grace_period_s}
            tasks.append(task)
            gained = {k: v for k, v in targets.items() if (v or 0) > (prev_counts.get(k) or 0)}
            moved = ", ".join(f"{k} +{(v or 0) - (prev_counts.get(k) or 0)}" for k, v in sorted(gained.items()))
            what = {DIRECTLY: "its copy is deleted as soon as it answers again",
                    GRACEFULLY: f"its copy stays until the new placement is ready or {wl.failover.grace_period_s:.0f} s "
                                "have passed",
                    NEVER: "its copy is left for you to remove (purge mode Never)"}[mode]
            d.events.append(Event("Warning", "FailoverStarted",
                                  f"{c} is {member.state if member else 'gone'}: its {task['replicas']} replica(s) "
                                  f"move{' to ' + moved if moved else ''}; {what}"))
    # Tasks whose member is placed again are over.
    for t in list(tasks):
        if t["cluster"] in targets:
            tasks.remove(t)
            d.events.append(Event("Normal", "EvictionCancelled",
                                  f"{t['cluster']} is placed again ({why}); it is no longer being evicted"))

    def new_placement_ready() -> bool:
        return all(c in observed and is_ready(observed[c].get(object_key(rendered[c][0])), targets[c])
                   for c in targets if members.get(c) is not None and members[c].ready)

    protected: set[str] = set()
    for t in tasks:
        if t["purgeMode"] == NEVER:
            protected.add(t["cluster"])
        elif t["purgeMode"] == GRACEFULLY and not t.get("done"):
            if new_placement_ready():
                t["done"] = "NewPlacementReady"
            elif now >= float(t.get("deadline") or 0):
                t["done"] = "GracePeriodExpired"
            else:
                protected.add(t["cluster"])

    # -- 3. actions for the members that answered ------------------------------------------------
    drifted: dict[str, list[str]] = {}
    for c in sorted(observed):
        have = dict(observed[c])
        if c in targets:
            for obj in rendered[c]:
                key = object_key(obj)
                live = have.pop(key, None)
                if live is None:
                    d.actions.append(Action("apply", c, obj, "Propagated",
                                            f"created {obj['kind']} {obj['metadata']['name']} in {c}"
                                            + _replicas_text(obj, targets[c], slices.get(c))))
                    continue
                diff = drift(obj, live)
                if not diff:
                    continue
                live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_HASH)
                if live_hash == obj["metadata"]["annotations"][ANNOTATION_HASH]:
                    drifted[c] = diff
                    d.events.append(Event("Warning", "DriftDetected",
                                          f"{obj['kind']} {obj['metadata']['name']} in {c} was changed outside the "
                                          f"federation: {'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''}"))
                    d.actions.append(Action("apply", c, obj, "DriftRepaired",
                                            f"restored {obj['kind']} {obj['metadata']['name']} in {c}"))
                else:
                    d.actions.append(Action("apply", c, obj, "Updated",
                                            f"updated {obj['kind']} {obj['metadata']['name']} in {c}"
                                            + _replicas_text(obj, targets[c], slices.get(c))))
            for obj in have.values():  # objects of this workload the template no longer makes
                d.actions.append(Action("delete", c, obj, "NotWanted",
                                        f"deleted {obj['kind']} {obj['metadata']['name']} from {c}: "
                                        "the workload no longer makes it"))
        elif c not in protected and have:
            task = next((t for t in tasks if t["cluster"] == c), None)
            reason = "Purged" if task else "NotPlaced"
            detail = (f"purge mode {task['purgeMode']}" + (f", {task['done']}" if task.get("done") else "")
                      if task else "placement no longer selects it")
            for obj in have.values():
                d.actions.append(Action("delete", c, obj, reason,
                                        f"deleted {obj['kind']} {obj['metadata']['name']} from {c} ({detail})"))
    for t in list(tasks):
        c = t["cluster"]
        if c in observed and not observed[c] and c not in protected:
            tasks.remove(t)
            d.events.append(Event("Normal", "EvictionCompleted",
                                  f"the old copy in {c} is gone (purge mode {t['purgeMode']}"
                                  + (f", {t['done']})" if t.get("done") else ")")))

    d.status = _status(wl, members, status, observed, rendered, targets, slices, tasks, drifted, now, why)
    before, after = status.get("phase"), d.status["phase"]
    if before != after and after == "Ready":
        d.events.append(Event("Normal", "Ready", f"{d.status['ready']} ready in {d.status['placementSummary']}"))
    elif before != after and after == "Degraded":
        ready = next(c for c in d.status["conditions"] if c["type"] == "Ready")
        d.events.append(Event("Warning", "Degraded", ready["message"]))
    return d


def _replicas_text(obj: Mapping[str, Any], replicas: int | None, sl: tuple[int, int] | None) -> str:
    if replicas is None:
        return ""
    if sl is not None:
        return f" with {replicas} pet(s), ordinals {sl[0]}..{sl[0] + replicas - 1}" if replicas else " with 0 pets"
    return f" with {replicas} replica(s)"


def _targets(wl: Workload, members: Mapping[str, Member], selected: list[str],
             prev_counts: dict[str, int | None], prev_slices: dict[str, tuple[int, int]],
             status: Mapping[str, Any], d: Decision) -> tuple[dict[str, int | None], dict[str, tuple[int, int]], str]:
    """(cluster -> replicas, ordinal slices, why) for the selected clusters."""
    spec_changed = int(status.get("observedGeneration") or -1) != wl.generation or not prev_counts
    if not wl.divided:
        n = wl.replicas if wl.divisible else None
        return {c: n for c in selected}, {}, "placement"
    if wl.stateful and wl.scheduling.slices:  # pinned by a migration: exactly these, whatever the weights
        pinned = {s.cluster: (s.start, s.replicas) for s in wl.scheduling.slices if s.replicas}
        return {c: n for c, (_, n) in pinned.items()}, pinned, "pinned"
    if wl.stateful:
        if not spec_changed and prev_slices:
            counts = {c: prev_slices[c][1] for c in prev_slices if c in selected}
            slices = {c: prev_slices[c] for c in counts}
            why = "unchanged"
        else:
            counts = pl.divide(wl.replicas, selected, wl.scheduling)
            slices = pl.ordinal_slices(counts, selected, prev_slices)
            why = "divided"
        return {c: counts[c] for c in selected if counts.get(c)}, {c: s for c, s in slices.items() if s[1]}, why
    healthy = [c for c in selected if members[c].ready]
    if any(members[c].state == UNKNOWN for c in selected) and not prev_counts:
        raise InvalidWorkload("WaitingForHealth", "members", [c for c in selected if members[c].state == UNKNOWN],
                              "have not been probed yet", "The controller probes them first")
    prev = {c: int(n or 0) for c, n in prev_counts.items() if n}
    if not healthy:
        return {c: n for c, n in prev.items()}, {}, "no healthy member"
    lost = [c for c in prev if c not in selected or not members[c].ready]
    if spec_changed:
        plan, why = pl.divide(wl.replicas, healthy, wl.scheduling), "divided"
    elif lost:
        if wl.scheduling.rebalance:
            plan = pl.divide(wl.replicas, healthy, wl.scheduling)
        else:
            plan = pl.divide(wl.replicas, healthy, wl.scheduling, base={c: prev[c] for c in healthy if c in prev})
        why = "failover"
    elif wl.scheduling.rebalance:
        ideal = pl.divide(wl.replicas, healthy, wl.scheduling)
        ideal = {c: n for c, n in ideal.items() if n}
        plan, why = (ideal, "rebalanced") if ideal != prev else (prev, "unchanged")
    else:
        plan, why = {c: n for c, n in prev.items() if c in healthy}, "unchanged"
    placed = sum(plan.values())
    if placed < wl.replicas and why != "unchanged":
        d.events.append(Event("Warning", "NotAllPlaced",
                              f"only {placed} of {wl.replicas} replicas fit in {', '.join(healthy)} (maxReplicas)"))
    return {c: n for c, n in plan.items() if n}, {}, why


def _status(wl: Workload, members: Mapping[str, Member], prev: Mapping[str, Any],
            observed: Mapping[str, Mapping[Key, dict[str, Any]]], rendered: dict[str, list[dict[str, Any]]],
            targets: dict[str, int | None], slices: dict[str, tuple[int, int]], tasks: list[dict[str, Any]],
            drifted: dict[str, list[str]], now: float, why: str) -> dict[str, Any]:
    prev_conds = list(prev.get("conditions") or [])
    rows = []
    total_want = 0
    total_ready = 0
    all_ready = True
    for c in sorted(set(targets) | {t["cluster"] for t in tasks}):
        member = members.get(c)
        state = member.state if member else "Removed"
        want = targets.get(c)
        row: dict[str, Any] = {"name": c, "state": state}
        task = next((t for t in tasks if t["cluster"] == c), None)
        if c in targets:
            obj = observed.get(c, {}).get(object_key(rendered[c][0])) if c in observed else None
            if want is not None:
                row["replicas"] = want
                total_want += want
            if c in observed:
                row["readyReplicas"] = ready_count(obj) if want is not None else int(obj is not None)
                total_ready += row["readyReplicas"] if want is not None else 0
                st = (obj or {}).get("status") or {}
                rev = st.get("updateRevision") or st.get("observedGeneration")
                if rev is not None:
                    row["revision"] = str(rev)
                if not is_ready(obj, want):
                    all_ready = False
            else:
                all_ready = False
                row["message"] = f"member is {state}: not reconciled"
            if c in drifted:
                row["drift"] = drifted[c]
        if task:
            row["state"] = "Evicting" if task["purgeMode"] != NEVER else "Orphaned"
            row["message"] = (f"{task['replicas']} old replica(s), purge mode {task['purgeMode']}"
                              + (f" ({task['done']})" if task.get("done") else ""))
            row["replicas"] = 0
        rows.append(row)
    offline = [c for c in targets if members.get(c) is None or members[c].state in (OFFLINE, UNKNOWN)
               or members[c].state != READY]
    phase = "Ready" if all_ready and not tasks else ("Degraded" if offline or tasks else "Propagating")
    ready_text = (f"{total_ready}/{total_want}" if wl.divisible
                  else f"{sum(1 for r in rows if r.get('readyReplicas'))}/{len(targets)}")
    summary = " ".join(f"{c}:{n}" if n is not None else c for c, n in sorted(targets.items())) or "-"
    conds = [c for c in prev_conds if c.get("type") not in ("Accepted", "Ready", "Deleting")]
    conds.append(_condition(prev_conds, "Accepted", "True", "Placed", f"placed in {len(targets)} cluster(s)",
                            now, wl.generation))
    ready_msg = (f"{ready_text} ready" + (f"; {', '.join(sorted(offline))} not reachable" if offline else "")
                 + (f"; evicting from {', '.join(t['cluster'] for t in tasks)}" if tasks else ""))
    conds.append(_condition(prev_conds, "Ready", "True" if phase == "Ready" else "False",
                            "AllReady" if phase == "Ready" else phase, ready_msg, now, wl.generation))
    out: dict[str, Any] = {
        "observedGeneration": wl.generation,
        "phase": phase,
        "conditions": conds,
        "placement": [dict({"cluster": c, **({"replicas": n} if n is not None else {})},
                           **({"ordinalStart": slices[c][0]} if c in slices else {}))
                      for c, n in sorted(targets.items())],
        "placementSummary": summary,
        "clusters": rows,
        "evictions": tasks,
        "ready": ready_text,
    }
    if wl.divisible:
        out["replicas"] = total_want
        out["readyReplicas"] = total_ready
    return out
