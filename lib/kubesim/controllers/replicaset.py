"""ReplicaSet and ReplicationController controllers (one logic, two kinds).

Follows k/k ``pkg/controller/replicaset/replica_set.go`` (``syncReplicaSet``,
``manageReplicas``, ``getPodsToDelete``, ``getPodsRankedByRelatedPodsOnSameNode``),
``replica_set_utils.go`` (``calculateStatus``) and ``pkg/controller/controller_utils.go``
(``ActivePodsWithRanks.Less``, ``slowStartBatch``, ``logarithmicRankDiff``).
The ReplicationController controller is the same code with an equality selector
(``pkg/controller/replication``, which wraps the ReplicaSet controller).

``decide(rs, pods, now)`` is the pure part: how many pods to create, which to
delete (in upstream's ranking order) and the status to report. Events are the
upstream ones: ``SuccessfulCreate`` "Created pod: web-5d78f9c6b-x2x4k",
``SuccessfulDelete`` "Deleted pod: ...", ``FailedCreate`` "Error creating: ...".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from ..selectors import LabelSelector, selector_from_label_selector
from .podtemplate import (create_pod, delete_pod, is_active, is_available, is_ready, labels_of, omit_zero,
                          pod_from_template, ready_since, created_at, slow_start_batch, condition)
from .workload import OwnerLoop

Obj = dict[str, Any]

BURST_REPLICAS = 500  # --concurrent-... burstReplicas of the ReplicaSet controller
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


@dataclass
class RSDecision:
    create: int = 0
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    requeue: float | None = None


def rs_selector(rs: Obj) -> LabelSelector:
    sel = (rs.get("spec") or {}).get("selector")
    if rs.get("kind") == "ReplicationController":
        sel = {"matchLabels": sel or {}}
    return selector_from_label_selector(sel)


def _log2_rank(t: float | None, now: float) -> int:
    if t is None:
        return -1
    d = (now - t) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def _max_restarts(pod: Obj) -> int:
    st = pod.get("status") or {}
    return max((int(c.get("restartCount") or 0) for c in st.get("containerStatuses") or [] if isinstance(c, dict)),
               default=0)


def _deletion_cost(pod: Obj) -> int:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get("controller.kubernetes.io/pod-deletion-cost")
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def rank_for_deletion(pods: list[Obj], related: list[Obj] | None, now: float) -> list[Obj]:
    """Pods sorted so that the ones to delete first come first (``ActivePodsWithRanks.Less``, LogarithmicScaleDown)."""
    on_node: dict[str, int] = {}
    for p in related if related is not None else pods:
        if is_active(p):
            node = (p.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    rank = {id(p): on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods}

    def less(a: Obj, b: Obj) -> bool:
        na, nb = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
        if na != nb and (not na or not nb):  # 1. unassigned < assigned
            return not na
        pa = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase") or "", 0)
        pb = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase") or "", 0)
        if pa != pb:  # 2. Pending < Unknown < Running
            return pa < pb
        if is_ready(a) != is_ready(b):  # 3. not ready < ready
            return not is_ready(a)
        ca, cb = _deletion_cost(a), _deletion_cost(b)
        if ca != cb:  # 4. lower pod-deletion-cost first
            return ca < cb
        if rank[id(a)] != rank[id(b)]:  # 5. doubled up < not doubled up
            return rank[id(a)] > rank[id(b)]
        if is_ready(a) and is_ready(b):  # 6. ready for less time first (log2 buckets)
            ra, rb = ready_since(a), ready_since(b)
            if ra != rb:
                diff = _log2_rank(ra, now) - _log2_rank(rb, now)
                if diff == 0:
                    return (a["metadata"].get("uid") or "") < (b["metadata"].get("uid") or "")
                return diff < 0
        xa, xb = _max_restarts(a), _max_restarts(b)
        if xa != xb:  # 7. more restarts first
            return xa > xb
        ta, tb = created_at(a), created_at(b)
        if ta != tb:  # 8. newer first (log2 buckets)
            diff = _log2_rank(ta, now) - _log2_rank(tb, now)
            if diff == 0:
                return (a["metadata"].get("uid") or "") < (b["metadata"].get("uid") or "")
            return diff < 0
        return False

    def cmp(a: Obj, b: Obj) -> int:
        if less(a, b):
            return -1
        if less(b, a):
            return 1
        return 0

    return sorted(pods, key=functools.cmp_to_key(cmp))


def calculate_status(rs: Obj, active: list[Obj], now: float, scale: float = 1.0,
                     failure: tuple[str, str] | None = None) -> Obj:
    """``calculateStatus`` + observedGeneration, with Go's omitempty applied."""
    spec = rs.get("spec") or {}
    min_ready = float(spec.get("minReadySeconds") or 0) * scale
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    fully = sum(1 for p in active if all(labels_of(p).get(k) == v for k, v in tlabels.items()))
    ready = sum(1 for p in active if is_ready(p))
    available = sum(1 for p in active if is_available(p, min_ready, now))
    old = rs.get("status") or {}
    conds = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
    cur_fail = condition(rs, "ReplicaFailure")
    if failure is not None:
        conds.append(cur_fail or {"type": "ReplicaFailure", "status": "True", "reason": failure[0],
                                  "message": failure[1], "lastTransitionTime": _rfc(now)})
    status = {"replicas": len(active), "fullyLabeledReplicas": fully, "readyReplicas": ready,
              "availableReplicas": available,
              "observedGeneration": (rs.get("metadata") or {}).get("generation"), "conditions": conds}
    return omit_zero(status, keep=("replicas",))


def _rfc(ts: float) -> str:
    from .podtemplate import now_rfc3339

    return now_rfc3339(ts)


def decide(rs: Obj, pods: list[Obj], now: float, *, related: list[Obj] | None = None, scale: float = 1.0) -> RSDecision:
    """What one sync of a ReplicaSet does: ``manageReplicas`` plus the status of the pods it saw."""
    spec = rs.get("spec") or {}
    replicas = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    active = [p for p in pods if is_active(p)]
    out = RSDecision(status=calculate_status(rs, active, now, scale))
    if not (rs.get("metadata") or {}).get("deletionTimestamp"):
        diff = len(active) - replicas
        if diff < 0:
            out.create = min(-diff, BURST_REPLICAS)
        elif diff > 0:
            n = min(diff, BURST_REPLICAS)
            ordered = rank_for_deletion(active, related, now) if n < len(active) else active
            out.delete = [p["metadata"]["name"] for p in ordered[:n]]
    min_ready = float(spec.get("minReadySeconds") or 0) * scale
    st = out.status
    if min_ready > 0 and st.get("readyReplicas", 0) != st.get("availableReplicas", 0):
        out.requeue = min_ready
    return out


class ReplicaSetController(OwnerLoop):
    """kube-controller-manager's ``replicaset-controller``."""

    name = "replicaset-controller"
    owner_key = "apps/replicasets"
    owner_kind = "ReplicaSet"

    def selector(self, owner: Obj) -> LabelSelector:
        return rs_selector(owner)

    def reconcile(self, item: Any) -> float | None:
        _, ns, name = item
        rs = self.get_owner(ns, name)
        if rs is None:
            return None
        pods = self.owned(rs)
        now = self.now()
        d = decide(rs, pods, now, related=self._related(rs, pods), scale=self.timings.scale)
        failure = None
        if d.create:
            template = (rs.get("spec") or {}).get("template") or {}

            def one() -> None:
                create_pod(self.api, self.recorder, rs, pod_from_template(template, rs), self.manager)

            made = slow_start_batch(d.create, one)
            if made < d.create:
                failure = ("FailedCreate", f"pods for {self.owner_kind.lower()} {name} could not all be created")
        for pod_name in d.delete:
            try:
                delete_pod(self.api, self.recorder, rs, pod_name)
            except Exception:
                failure = ("FailedDelete", f"pod {pod_name} could not be deleted")
        status = d.status if failure is None else calculate_status(
            rs, [p for p in pods if is_active(p)], now, self.timings.scale, failure)
        self.write_status(rs, status)
        return 1.0 if failure else d.requeue

    def _related(self, rs: Obj, pods: list[Obj]) -> list[Obj]:
        """``getIndirectlyRelatedPods``: pods of every ReplicaSet with the same controller (a Deployment)."""
        from .podtemplate import controller_ref

        ref = controller_ref(rs)
        if ref is None:
            return pods
        ns = rs["metadata"].get("namespace", "")
        sibling_uids = set()
        entries, _ = self.api.store.list(self.owner_key, ns)
        for e in entries:
            o = controller_ref(e.obj())
            if o is not None and o.get("uid") == ref.get("uid"):
                sibling_uids.add(e.obj()["metadata"].get("uid"))
        out = []
        pod_entries, _ = self.api.store.list("pods", ns)
        for e in pod_entries:
            p = e.obj()
            o = controller_ref(p)
            if o is not None and o.get("uid") in sibling_uids:
                out.append(p)
        return out


class ReplicationControllerController(ReplicaSetController):
    """kube-controller-manager's ``replicationcontroller`` controller (same logic, ``spec.selector`` is a map)."""

    name = "replication-controller"
    owner_key = "replicationcontrollers"
    owner_kind = "ReplicationController"

    def _related(self, rs: Obj, pods: list[Obj]) -> list[Obj]:
        return pods
