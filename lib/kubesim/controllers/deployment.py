"""Deployment controller: ReplicaSets per pod template, rolling and recreate rollouts, status.

Follows k/k ``pkg/controller/deployment``:

- ``deployment_controller.go`` ``syncDeployment`` (order: deleting -> status only;
  paused conditions; paused or scaling event -> ``sync``; else the strategy);
- ``sync.go`` (``getNewReplicaSet``: RS ``<deploy>-<pod-template-hash>``, label and
  selector ``pod-template-hash``, annotations ``deployment.kubernetes.io/revision``
  = max old + 1, ``desired-replicas``, ``max-replicas``, ``revision-history`` on
  rollback; condition ``NewReplicaSetCreated`` "Created new replica set %q" or
  ``FoundNewReplicaSet`` "Found new replica set %q"; event ``ScalingReplicaSet``
  "Scaled up replica set %s to %d from 0"; ``scale`` (proportional scaling);
  ``scaleReplicaSet`` ("Scaled %s replica set %s to %d from %d");
  ``cleanupDeployment`` (revisionHistoryLimit); ``calculateStatus``;
  ``isScalingEvent``; ``checkPausedConditions`` "Deployment is paused" /
  "Deployment is resumed");
- ``rolling.go`` (``reconcileNewReplicaSet``, ``reconcileOldReplicaSets``,
  ``cleanupUnhealthyReplicas``, ``scaleDownOldReplicaSetsForRollingUpdate``);
- ``recreate.go`` (scale old to 0, wait for old pods to stop, then scale new up);
- ``progress.go`` ``syncRolloutStatus`` (``NewReplicaSetAvailable`` "ReplicaSet %q has
  successfully progressed.", ``ReplicaSetUpdated`` "ReplicaSet %q is progressing.",
  ``ProgressDeadlineExceeded`` "ReplicaSet %q has timed out progressing.");
- ``util/deployment_util.go`` (``ResolveFenceposts``: surge rounds up, unavailable
  rounds down, both 0 -> unavailable 1; ``NewRSNewReplicas``; ``GetProportion``;
  ``DeploymentComplete``/``DeploymentProgressing``/``DeploymentTimedOut``;
  ``MinimumReplicasAvailable`` "Deployment has minimum availability.").

``kubectl rollout undo`` works as upstream: kubectl itself patches the template of the
chosen ReplicaSet back into the Deployment; this controller then finds that ReplicaSet
as the new one and gives it the next revision (keeping ``revision-history``).

``decide(d, rss, pods, now)`` is pure: it returns the writes of one sync (creating
a ReplicaSet, scaling, annotating, deleting, the status) in order. Durations
in the spec (``progressDeadlineSeconds``, ``minReadySeconds``) are read as
upstream seconds and scaled by the timing profile like every other period.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from ..errors import AlreadyExists, ApiError, NotFound
from ..store import Event
from .podtemplate import (annotations_of, compute_hash, controller_ref, created_at, is_controlled_by, is_terminal,
                          int_or_percent, name_of, now_rfc3339, omit_zero, owner_ref)
from .workload import OwnerLoop

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED,
                     MAX_REPLICAS, "deprecated.deployment.rollback.to"}


# -- actions ------------------------------------------------------------------------------

@dataclass
class CreateRS:
    body: Obj


@dataclass
class UpdateRS:
    """Replace replicas / annotations / minReadySeconds of a ReplicaSet; ``event`` if the size changed."""

    name: str
    replicas: int
    annotations: dict[str, str]
    min_ready_seconds: int
    event: str | None = None


@dataclass
class DeleteRS:
    name: str


@dataclass
class Event_:
    type: str
    reason: str
    message: str


@dataclass
class SetStatus:
    status: Obj
    annotations: dict[str, str] = field(default_factory=dict)


Action = CreateRS | UpdateRS | DeleteRS | Event_ | SetStatus


# -- small helpers -------------------------------------------------------------------------

def replicas_of(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def revision(rs: Obj) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounds up, unavailable rounds down; both zero -> unavailable 1."""
    surge = int_or_percent(0 if max_surge is None else max_surge, desired, True)
    unavailable = int_or_percent(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    if not is_rolling(d):
        return 0
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    surge, _ = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas_of(d))
    return surge


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    _, unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas_of(d))
    return min(unavailable, replicas_of(d))


def template_without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """``EqualIgnoreHash``: templates equal once the pod-template-hash label is dropped."""
    ta, tb = template_without_hash(a), template_without_hash(b)
    for t in (ta, tb):  # an empty labels map and a missing one compare equal
        m = t.get("metadata") or {}
        if not m.get("labels"):
            m.pop("labels", None)
        if "creationTimestamp" in m and m["creationTimestamp"] is None:
            del m["creationTimestamp"]
    return ta == tb


def by_creation(rss: list[Obj]) -> list[Obj]:
    """``ReplicaSetsByCreationTimestamp`` (oldest first, name breaks ties)."""
    return sorted(rss, key=lambda r: (created_at(r), name_of(r)))


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """``FindNewReplicaSet``: the oldest ReplicaSet whose template equals the Deployment's."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in by_creation(rss):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [r for r in rss if r is not None and replicas_of(r) > 0]


def total_spec(rss: Iterable[Obj | None]) -> int:
    return sum(replicas_of(r) for r in rss if r is not None)


def total_status(rss: Iterable[Obj | None], f: str) -> int:
    return sum(int(_status(r).get(f) or 0) for r in rss if r is not None)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    """``NewRSNewReplicas``."""
    if not is_rolling(d):
        return replicas_of(d)
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    surge = int_or_percent(ru.get("maxSurge", 0), replicas_of(d), True)
    current = total_spec(all_rss)
    max_total = replicas_of(d) + surge
    if current >= max_total:
        return replicas_of(new_rs)
    up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + up


def get_proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """``GetProportion`` / ``getReplicaSetFraction``."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas_of(d) == 0:
        fraction = -replicas_of(rs)
    else:
        dep_replicas = replicas_of(d) + max_surge(d)
        try:
            annotated = int(annotations_of(rs).get(MAX_REPLICAS, ""))
        except ValueError:
            annotated = int(_status(d).get("replicas") or 0)
        if annotated == 0:
            fraction = 0
        else:
            # integer.RoundToInt32: round half away from zero
            raw = replicas_of(rs) * dep_replicas / annotated
            fraction = int(raw + 0.5) if raw >= 0 else -int(-raw + 0.5)
            fraction -= replicas_of(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED, ""))
    except ValueError:
        return False
    return replicas_of(rs) == replicas_of(d) and desired == replicas_of(d) and \
        int(_status(rs).get("availableReplicas") or 0) == replicas_of(d)


def replicas_annotations(d: Obj) -> dict[str, str]:
    return {DESIRED: str(replicas_of(d)), MAX_REPLICAS: str(replicas_of(d) + max_surge(d))}


def _cond(status: Obj, ctype: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(status: Obj, ctype: str, cstatus: str, reason: str, message: str, now: str) -> None:
    """``SetDeploymentCondition``: no change when status and reason match; keep transition time if status does."""
    cur = _cond(status, ctype)
    if cur is not None and cur.get("status") == cstatus and cur.get("reason") == reason:
        return
    new = {"type": ctype, "status": cstatus, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason,
           "message": message}
    if cur is not None and cur.get("status") == cstatus:
        new["lastTransitionTime"] = cur.get("lastTransitionTime", now)
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype] + [new]


def remove_condition(status: Obj, ctype: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != ctype]


def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> Obj:
    """``calculateStatus``."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(0, total_spec(all_rss) - available)
    old = _status(d)
    status: Obj = {
        "observedGeneration": (d.get("metadata") or {}).get("generation"),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": copy.deepcopy(old.get("conditions") or []),
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    return status


def _finish_status(status: Obj, d: Obj, now: str) -> Obj:
    if status["availableReplicas"] >= replicas_of(d) - max_unavailable(d):
        set_condition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                      now)
    else:
        set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.", now)
    return status


def deployment_complete(d: Obj, st: Obj) -> bool:
    r = replicas_of(d)
    return int(st.get("updatedReplicas") or 0) == r and int(st.get("replicas") or 0) == r and \
        int(st.get("availableReplicas") or 0) == r and \
        int(st.get("observedGeneration") or 0) >= int((d.get("metadata") or {}).get("generation") or 0)


def deployment_progressing(d: Obj, new: Obj) -> bool:
    old = _status(d)

    def old_replicas(s: Obj) -> int:
        return int(s.get("replicas") or 0) - int(s.get("updatedReplicas") or 0)

    return int(new.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0) or \
        old_replicas(new) < old_replicas(old) or \
        int(new.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0) or \
        int(new.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)


def deployment_timed_out(d: Obj, st: Obj, now: float, scale: float) -> bool:
    from .. import clock

    cond = _cond(st, "Progressing")
    if cond is None:
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    t = clock.parse_time(cond.get("lastUpdateTime"))
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    if t is None or deadline is None:
        return False
    return t.timestamp() + float(deadline) * scale < now


# -- the decision -------------------------------------------------------------------------

@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    requeue: float | None = None


class _Sync:
    """One ``syncDeployment``: local copies of the ReplicaSets are updated as actions are planned."""

    def __init__(self, d: Obj, rss: list[Obj], pods: list[Obj], now: float, scale: float) -> None:
        self.d = d
        self.rss = {name_of(r): copy.deepcopy(r) for r in rss}
        self.pods = pods
        self.now = now
        self.now_text = now_rfc3339(now)
        self.scale = scale
        self.plan = Plan()
        self.status_annotations: dict[str, str] = {}
        self.conditions_status: Obj = copy.deepcopy(_status(d))  # status as checkPausedConditions leaves it

    # actions
    def emit(self, type_: str, reason: str, message: str) -> None:
        self.plan.actions.append(Event_(type_, reason, message))

    def scale_rs(self, rs: Obj, new_scale: int, operation: str | None = None) -> bool:
        """``scaleReplicaSet``: update size and replica annotations; event when the size changed."""
        size_changed = replicas_of(rs) != new_scale
        want = replicas_annotations(self.d)
        ann = dict(annotations_of(rs))
        ann_changed = any(ann.get(k) != v for k, v in want.items())
        if not size_changed and not ann_changed:
            return False
        old = replicas_of(rs)
        ann.update(want)
        rs.setdefault("metadata", {})["annotations"] = ann
        rs.setdefault("spec", {})["replicas"] = new_scale
        event = None
        if size_changed:
            op = operation or ("up" if old < new_scale else "down")
            event = f"Scaled {op} replica set {name_of(rs)} to {new_scale} from {old}"
        self.plan.actions.append(UpdateRS(name_of(rs), new_scale, ann, int(rs["spec"].get("minReadySeconds") or 0),
                                          event))
        return size_changed

    # reads
    def split(self) -> tuple[Obj | None, list[Obj]]:
        new = find_new_rs(self.d, list(self.rss.values()))
        olds = [r for r in self.rss.values() if new is None or name_of(r) != name_of(new)]
        return new, olds

    def get_all(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        """``getAllReplicaSetsAndSyncRevision`` / ``getNewReplicaSet``."""
        new, olds = self.split()
        max_old = max((revision(r) for r in olds), default=0)
        new_revision = str(max_old + 1)
        d = self.d
        spec = d.get("spec") or {}
        if new is not None:
            ann = dict(annotations_of(new))
            changed = self._copy_annotations(ann)
            old_rev = ann.get(REVISION)
            try:
                old_rev_int = int(old_rev or 0)
            except ValueError:
                old_rev_int = 0
            if old_rev_int < int(new_revision):
                ann[REVISION] = new_revision
                changed = True
                if old_rev:  # a rollback to this template: keep the old revision numbers
                    hist = ann.get(REVISION_HISTORY, "")
                    ann[REVISION_HISTORY] = f"{hist},{old_rev}" if hist else old_rev
            min_ready = int(spec.get("minReadySeconds") or 0)
            if changed or int((new.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                new.setdefault("metadata", {})["annotations"] = ann
                new["spec"]["minReadySeconds"] = min_ready
                self.plan.actions.append(UpdateRS(name_of(new), replicas_of(new), ann, min_ready))
            if annotations_of(d).get(REVISION) != ann.get(REVISION):
                self.status_annotations[REVISION] = ann.get(REVISION, new_revision)
            if spec.get("progressDeadlineSeconds") is not None and _cond(self.conditions_status,
                                                                         "Progressing") is None:
                set_condition(self.conditions_status, "Progressing", "True", "FoundNewReplicaSet",
                              f'Found new replica set "{name_of(new)}"', self.now_text)
            return new, olds
        if not create:
            return None, olds
        # A new ReplicaSet for the current template.
        template = copy.deepcopy(spec.get("template") or {})
        collision = _status(d).get("collisionCount")
        h = compute_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: h}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: h}
        ann: dict[str, str] = {}
        self._copy_annotations(ann)
        ann[REVISION] = new_revision
        ann.update(replicas_annotations(d))
        meta = d.get("metadata") or {}
        body: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta.get('name')}-{h}", "namespace": meta.get("namespace"),
                         "labels": dict(tmeta["labels"]), "annotations": ann, "ownerReferences": [owner_ref(d)]},
            "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                     "selector": selector, "template": template},
        }
        all_rss = olds + [body]
        new_replicas = new_rs_new_replicas(d, all_rss, body)
        body["spec"]["replicas"] = new_replicas
        self.plan.actions.append(CreateRS(body))
        self.rss[name_of(body)] = body
        if spec.get("progressDeadlineSeconds") is not None:
            set_condition(self.conditions_status, "Progressing", "True", "NewReplicaSetCreated",
                          f'Created new replica set "{name_of(body)}"', self.now_text)
        self.status_annotations[REVISION] = new_revision
        if new_replicas > 0:
            self.emit("Normal", "ScalingReplicaSet", f"Scaled up replica set {name_of(body)} to {new_replicas} from 0")
        return body, olds

    def _copy_annotations(self, ann: dict[str, str]) -> bool:
        changed = False
        for k, v in annotations_of(self.d).items():
            if k in _SKIP_ANNOTATIONS or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        return changed

    # strategies
    def sync(self) -> None:
        """``sync``: scaling events and paused deployments (no new ReplicaSet is created)."""
        new, olds = self.get_all(False)
        self.proportional_scale(new, olds)
        if (self.d.get("spec") or {}).get("paused"):  # no rollback can be in flight: apps/v1 has no rollbackTo
            self.cleanup(olds)
        all_rss = olds + ([new] if new is not None else [])
        self.set_status(_finish_status(calculate_status(self._with_conditions(), all_rss, new), self.d,
                                       self.now_text))

    def proportional_scale(self, new: Obj | None, olds: list[Obj]) -> None:
        d = self.d
        candidates = active([new] + olds)
        if len(candidates) <= 1:
            target = candidates[0] if candidates else (new or (by_creation(olds)[-1] if olds else None))
            if target is not None and replicas_of(target) != replicas_of(d):
                self.scale_rs(target, replicas_of(d))
            return
        if is_saturated(d, new):
            for old in active(olds):
                self.scale_rs(old, 0)
            return
        if not is_rolling(d):
            return
        all_rss = candidates
        allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
        to_add = allowed - total_spec(all_rss)
        if to_add > 0:  # ReplicaSetsBySizeNewer
            all_rss = sorted(all_rss, key=lambda r: (-replicas_of(r), -created_at(r), name_of(r)))
            op = "up"
        elif to_add < 0:  # ReplicaSetsBySizeOlder
            all_rss = sorted(all_rss, key=lambda r: (-replicas_of(r), created_at(r), name_of(r)))
            op = "down"
        else:
            op = None
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                p = get_proportion(rs, d, to_add, added)
                sizes[name_of(rs)] = replicas_of(rs) + p
                added += p
            else:
                sizes[name_of(rs)] = replicas_of(rs)
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add != 0:
                sizes[name_of(rs)] = max(0, sizes[name_of(rs)] + to_add - added)
            self.scale_rs(rs, sizes[name_of(rs)], op)

    def rollout_rolling(self) -> None:
        new, olds = self.get_all(True)
        assert new is not None
        all_rss = olds + [new]
        d = self.d
        # reconcileNewReplicaSet
        scaled = False
        if replicas_of(new) > replicas_of(d):
            scaled = self.scale_rs(new, replicas_of(d))
        elif replicas_of(new) < replicas_of(d):
            scaled = self.scale_rs(new, new_rs_new_replicas(d, all_rss, new))
        if not scaled:
            scaled = self.reconcile_old(all_rss, active(olds), new)
        if not scaled and deployment_complete(d, _status(d)):
            self.cleanup(olds)
        self.sync_rollout_status(all_rss, new)

    def reconcile_old(self, all_rss: list[Obj], olds: list[Obj], new: Obj) -> bool:
        """``reconcileOldReplicaSets``."""
        if total_spec(olds) == 0:
            return False
        d = self.d
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = replicas_of(new) - int(_status(new).get("availableReplicas") or 0)
        max_down = total_spec(all_rss) - min_available - new_unavailable
        if max_down <= 0:
            return False
        # cleanupUnhealthyReplicas: old ReplicaSets' unavailable replicas go first
        cleaned = 0
        for rs in by_creation(olds):
            if cleaned >= max_down:
                break
            if replicas_of(rs) == 0:
                continue
            avail = int(_status(rs).get("availableReplicas") or 0)
            if replicas_of(rs) == avail:
                continue
            n = min(max_down - cleaned, replicas_of(rs) - avail)
            self.scale_rs(rs, replicas_of(rs) - n)
            cleaned += n
        # scaleDownOldReplicaSetsForRollingUpdate
        available = total_status(all_rss, "availableReplicas")
        down = 0
        if available > min_available:
            budget = available - min_available
            for rs in by_creation(olds):
                if down >= budget:
                    break
                if replicas_of(rs) == 0:
                    continue
                n = min(replicas_of(rs), budget - down)
                self.scale_rs(rs, replicas_of(rs) - n)
                down += n
        return cleaned + down > 0

    def rollout_recreate(self) -> None:
        new, olds = self.get_all(False)
        all_rss = olds + ([new] if new is not None else [])
        scaled = False
        for rs in active(olds):
            if self.scale_rs(rs, 0):
                scaled = True
        if scaled:
            self.sync_rollout_status(all_rss, new)
            return
        if self._old_pods_running(new, olds):
            self.sync_rollout_status(all_rss, new)
            return
        if new is None:
            new, olds = self.get_all(True)
            all_rss = olds + ([new] if new is not None else [])
        if new is not None and replicas_of(new) != replicas_of(self.d):
            self.scale_rs(new, replicas_of(self.d))
        if deployment_complete(self.d, _status(self.d)):
            self.cleanup(olds)
        self.sync_rollout_status(all_rss, new)

    def _old_pods_running(self, new: Obj | None, olds: list[Obj]) -> bool:
        """``oldPodsRunning``: any old ReplicaSet reports pods, or has a pod not Succeeded/Failed."""
        if total_status(olds, "replicas") > 0:
            return True
        old_uids = {(r.get("metadata") or {}).get("uid") for r in olds}
        for p in self.pods:
            ref = controller_ref(p)
            if ref is not None and ref.get("uid") in old_uids and not is_terminal(p):
                return True
        return False

    def cleanup(self, olds: list[Obj]) -> None:
        """``cleanupDeployment``: keep ``revisionHistoryLimit`` old ReplicaSets."""
        limit = (self.d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [r for r in olds if not (r.get("metadata") or {}).get("deletionTimestamp")]
        diff = len(cleanable) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(cleanable, key=lambda r: (revision(r), created_at(r), name_of(r))):
            if diff <= 0:
                break
            st = _status(rs)
            if int(st.get("replicas") or 0) != 0 or replicas_of(rs) != 0 or \
                    int((rs.get("metadata") or {}).get("generation") or 0) > int(st.get("observedGeneration") or 0):
                continue
            self.plan.actions.append(DeleteRS(name_of(rs)))
            diff -= 1

    def _with_conditions(self) -> Obj:
        d = dict(self.d)
        d["status"] = self.conditions_status
        return d

    def sync_rollout_status(self, all_rss: list[Obj], new: Obj | None) -> None:
        """``syncRolloutStatus``: status plus the Progressing condition."""
        d = self.d
        base = self._with_conditions()
        st = _finish_status(calculate_status(base, all_rss, new), d, self.now_text)
        spec = d.get("spec") or {}
        has_deadline = spec.get("progressDeadlineSeconds") is not None
        if not has_deadline:
            remove_condition(st, "Progressing")
        cur = _cond(self.conditions_status, "Progressing")
        complete = st["replicas"] == st["updatedReplicas"] and cur is not None and \
            cur.get("reason") == "NewReplicaSetAvailable"
        if has_deadline and not complete:
            rs_name = name_of(new) if new is not None else None
            if deployment_complete(d, st):
                msg = f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name else \
                    f'Deployment "{name_of(d)}" has successfully progressed.'
                set_condition(st, "Progressing", "True", "NewReplicaSetAvailable", msg, self.now_text)
            elif deployment_progressing(d, st):
                msg = f'ReplicaSet "{rs_name}" is progressing.' if rs_name else \
                    f'Deployment "{name_of(d)}" is progressing.'
                new_cond = {"type": "Progressing", "status": "True", "lastUpdateTime": self.now_text,
                            "lastTransitionTime": self.now_text, "reason": "ReplicaSetUpdated", "message": msg}
                if cur is not None and cur.get("status") == "True":
                    new_cond["lastTransitionTime"] = cur.get("lastTransitionTime", self.now_text)
                remove_condition(st, "Progressing")
                st["conditions"].append(new_cond)
            elif deployment_timed_out(d, st, self.now, self.scale):
                msg = f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name else \
                    f'Deployment "{name_of(d)}" has timed out progressing.'
                set_condition(st, "Progressing", "False", "ProgressDeadlineExceeded", msg, self.now_text)
            else:
                # requeueStuckDeployment: look again when the deadline would pass.
                pc = _cond(st, "Progressing")
                if pc is not None and pc.get("status") == "True":
                    from .. import clock

                    t = clock.parse_time(pc.get("lastUpdateTime"))
                    if t is not None:
                        left = t.timestamp() + float(spec["progressDeadlineSeconds"]) * self.scale - self.now
                        self.plan.requeue = max(0.05, left + 0.01)
        failure = next((c for r in ([new] if new else []) + [r for r in all_rss if r is not new]
                        for c in (_status(r).get("conditions") or []) if c.get("type") == "ReplicaFailure"), None)
        if failure is not None:
            set_condition(st, "ReplicaFailure", failure.get("status", "True"), failure.get("reason", ""),
                          failure.get("message", ""), failure.get("lastTransitionTime", self.now_text))
        else:
            remove_condition(st, "ReplicaFailure")
        self.set_status(st)

    def set_status(self, st: Obj) -> None:
        conds = st.get("conditions") or []
        # Conditions keep upstream's order: Available first, then Progressing (as a real cluster shows).
        order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
        st["conditions"] = sorted(conds, key=lambda c: order.get(c.get("type"), 3))
        self.plan.actions.append(SetStatus(omit_zero(st), dict(self.status_annotations)))


def is_scaling_event(d: Obj, rss: list[Obj]) -> bool:
    """``isScalingEvent``: an active ReplicaSet's desired-replicas differs from spec.replicas."""
    for rs in active(rss):
        desired = annotations_of(rs).get(DESIRED)
        if desired is None:
            continue
        try:
            if int(desired) != replicas_of(d):
                return True
        except ValueError:
            continue
    return False


def decide(d: Obj, rss: list[Obj], pods: list[Obj], now: float, *, scale: float = 1.0) -> Plan:
    """One ``syncDeployment``: ``rss`` are the ReplicaSets the Deployment controls, ``pods`` theirs."""
    s = _Sync(d, rss, pods, now, scale)
    spec = d.get("spec") or {}
    meta = d.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        new, olds = s.get_all(False)
        all_rss = olds + ([new] if new is not None else [])
        s.set_status(_finish_status(calculate_status(s._with_conditions(), all_rss, new), d, s.now_text))
        return s.plan
    # checkPausedConditions
    if spec.get("progressDeadlineSeconds") is not None:
        cond = _cond(s.conditions_status, "Progressing")
        if not (cond is not None and cond.get("reason") == "ProgressDeadlineExceeded"):
            paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
            if spec.get("paused") and not paused_cond:
                set_condition(s.conditions_status, "Progressing", "Unknown", "DeploymentPaused",
                              "Deployment is paused", s.now_text)
            elif not spec.get("paused") and paused_cond:
                set_condition(s.conditions_status, "Progressing", "Unknown", "DeploymentResumed",
                              "Deployment is resumed", s.now_text)
    if spec.get("paused") or is_scaling_event(d, list(s.rss.values())):
        s.sync()
    elif not is_rolling(d):
        s.rollout_recreate()
    else:
        s.rollout_rolling()
    return s.plan


# -- the loop -----------------------------------------------------------------------------

class DeploymentController(OwnerLoop):
    """kube-controller-manager's ``deployment-controller``."""

    name = "deployment-controller"
    owner_key = "apps/deployments"
    owner_kind = "Deployment"
    child_key = "apps/replicasets"

    @property
    def watches(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("apps/deployments", "apps/replicasets", "pods")

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        if ev.entry.key != "pods":
            return super().items_for(ev)
        # A pod matters only when it goes (Recreate waits for old pods to stop).
        if ev.type != "DELETED" and ev.entry.fields.get("status.phase") not in ("Succeeded", "Failed"):
            return []
        if b'"kind":"ReplicaSet"' not in ev.entry.raw:
            return []
        ref = controller_ref(ev.entry.view())
        if ref is None or ref.get("kind") != "ReplicaSet":
            return []
        rs = self.api.store.get("apps/replicasets", ev.entry.namespace, ref.get("name", ""))
        owner = controller_ref(rs.view()) if rs is not None else None
        if owner is None or owner.get("kind") != "Deployment":
            return []
        return [(self.owner_key, ev.entry.namespace, owner.get("name", ""))]

    def reconcile(self, item: Any) -> float | None:
        _, ns, name = item
        d = self.get_owner(ns, name)
        if d is None:
            return None
        sel = (d.get("spec") or {}).get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            return None
        rss = self.owned(d)
        uids = {(r.get("metadata") or {}).get("uid") for r in rss}
        pod_entries, _ = self.api.store.list("pods", ns)
        pods = []
        for e in pod_entries:
            p = e.obj()
            ref = controller_ref(p)
            if ref is not None and ref.get("uid") in uids:
                pods.append(p)
        plan = decide(d, rss, pods, self.now(), scale=self.timings.scale)
        return self.apply(d, plan)

    def apply(self, d: Obj, plan: Plan) -> float | None:
        ns = (d.get("metadata") or {}).get("namespace")
        rs_rt = self.api.rt("apps/replicasets")
        from ..api import Request

        for act in plan.actions:
            if isinstance(act, CreateRS):
                try:
                    self.api.create(rs_rt, ns, act.body, Request(field_manager=self.manager))
                except AlreadyExists:
                    existing = self.api.get(rs_rt, ns, name_of(act.body))
                    if is_controlled_by(existing, d) and equal_ignore_hash(
                            (existing.get("spec") or {}).get("template") or {},
                            (d.get("spec") or {}).get("template") or {}):
                        continue
                    # A hash collision: bump collisionCount and try again with a new name.
                    cc = int(((d.get("status") or {}).get("collisionCount")) or 0) + 1
                    st = dict(d.get("status") or {})
                    st["collisionCount"] = cc
                    self.write_status(d, st)
                    return 0.05
                except ApiError as exc:
                    self.recorder.event(d, "Warning", "FailedCreate",
                                        f"Failed to create new replica set {name_of(act.body)!r}: {exc.message}")
                    return 1.0
            elif isinstance(act, UpdateRS):
                def upd(cur: Obj, act: UpdateRS = act) -> Obj:
                    cur["spec"]["replicas"] = act.replicas
                    cur["spec"]["minReadySeconds"] = act.min_ready_seconds
                    cur["metadata"]["annotations"] = act.annotations
                    return cur

                try:
                    self.api.mutate(rs_rt, ns, act.name, upd, manager=self.manager)
                except NotFound:
                    return 0.1
                if act.event:
                    self.recorder.event(d, "Normal", "ScalingReplicaSet", act.event)
            elif isinstance(act, DeleteRS):
                try:
                    self.api.delete(rs_rt, ns, act.name)
                except NotFound:
                    pass
            elif isinstance(act, Event_):
                self.recorder.event(d, act.type, act.reason, act.message)
            elif isinstance(act, SetStatus):
                self.write_status(d, act.status, act.annotations or None)
        return plan.requeue
