"""Taint eviction controller: pods on nodes with NoExecute taints are deleted when their tolerations run out.

Follows kube-controller-manager's ``pkg/controller/tainteviction/taint_eviction.go`` (the
``taint-eviction-controller``, separate from the node lifecycle controller since
``SeparateTaintEvictionController``) and ``timed_workers.go``; sim-fidelity.md NL-08, NL-09, NL-13:

- For each pod bound to a node with NoExecute taints (``processPodOnNode``): a taint the pod does
  not tolerate -> delete now; all tolerated -> delete at *the time the controller saw the taints*
  + the smallest ``tolerationSeconds`` among the tolerations used (``getMinTolerationTime``; 0 or
  less -> now); no ``tolerationSeconds`` at all -> never (any scheduled deletion is cancelled).
  An already scheduled deletion keeps its time when the taints change again (a swap from
  ``not-ready`` to ``unreachable`` does not restart the clock).
- Work is (re)considered only when a node's NoExecute taints change, or a pod is added, deleted,
  re-bound or changes tolerations (``NodeUpdated``, ``PodUpdated``), as the informer handlers do.
- Deletion (``deletePodHandler``, ``addConditionAndDeletePod``): Normal event ``TaintManagerEviction``
  "Marking for deletion Pod <ns>/<name>", then the status condition ``DisruptionTarget=True``
  reason ``DeletionByTaintManager`` message "Taint manager: deleting due to NoExecute taint", then
  ``DELETE`` with default options, so the pod's own grace period applies and on a dead node the pod
  stays ``Terminating`` (no kubelet confirms it: NL-09).
- Taints gone before the deadline (node Ready again, master disruption mode, an admin): the
  scheduled deletion is cancelled with ``TaintManagerEviction`` "Cancelling deletion of Pod
  <ns>/<name>" (``emitCancelPodDeletionEvent``; only for deletions that were waiting on a timer).

``plan_pod`` is the pure decision; :class:`TaintEvictionController` is the thin loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Hashable, Iterable

from .. import clock
from ..api import DeleteOptions
from ..errors import ApiError, NotFound
from ..store import Event
from .base import Controller
from .nodeutil import MANAGER, Obj, matching_tolerations, no_execute_taints, taints_of, update_pod_condition

log = logging.getLogger("kubesim.controllers.tainteviction")

CONTROLLER_NAME = "taint-eviction-controller"  # also the event source component
RETRIES = 5

DISRUPTION_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                        "message": "Taint manager: deleting due to NoExecute taint"}


def eviction_message(namespace: str, name: str) -> str:
    return f"Marking for deletion Pod {namespace}/{name}"


def cancel_message(namespace: str, name: str) -> str:
    return f"Cancelling deletion of Pod {namespace}/{name}"


def min_toleration_time(used: list[Obj]) -> float:
    """``getMinTolerationTime``: seconds; 0 for none used or any <= 0; -1 for forever."""
    if not used:
        return 0.0
    best: float | None = None
    for tol in used:
        secs = tol.get("tolerationSeconds")
        if secs is None:
            continue
        secs = int(secs)
        if secs <= 0:
            return 0.0
        if best is None or secs < best:
            best = secs
    return -1.0 if best is None else float(best)


@dataclass(frozen=True)
class Scheduled:
    """A pending deletion (``TimedWorker``): created when the taints were seen, fires at ``fire_at``."""

    created: float
    fire_at: float
    uid: str = ""


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Schedule:
    created: float
    fire_at: float

    @property
    def immediate(self) -> bool:
        return self.fire_at <= self.created


Action = Cancel | Schedule


def plan_pod(taints: list[Obj], tolerations: list[Obj], now: float, existing: Scheduled | None) -> list[Action]:
    """``processPodOnNode`` for one pod: cancel and/or schedule its deletion."""
    if not taints:
        return [Cancel()]
    all_tolerated, used = matching_tolerations(taints, tolerations)
    if not all_tolerated:
        return [Cancel(), Schedule(now, now)]
    min_t = min_toleration_time(used)
    if min_t < 0:
        return [Cancel()]
    start = now
    trigger = now + min_t
    acts: list[Action] = []
    if existing is not None:
        start = existing.created
        if start + min_t < trigger:
            return []  # keep the deletion already scheduled
        acts.append(Cancel())
    acts.append(Schedule(start, trigger))
    return acts


def _tolerations(obj: Obj) -> list[Obj]:
    return [t for t in (obj.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict)]


class TaintEvictionController(Controller):
    name = CONTROLLER_NAME
    watches = ("nodes", "pods")
    resync_seconds = 1e9  # informer resyncs deliver no changes: nothing to redo periodically

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.recorder = self.ctx.recorder(CONTROLLER_NAME)
        self.tainted: dict[str, list[Obj]] = {}      # taintedNodes: node -> its NoExecute taints
        self.scheduled: dict[tuple[str, str], Scheduled] = {}  # taintEvictionQueue (timer workers)
        self.now = time.time

    # -- wiring ---------------------------------------------------------------------------
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "nodes":
            if ev.type == "MODIFIED" and ev.prev is not None:
                if no_execute_taints(taints_of(ev.prev.view())) == no_execute_taints(taints_of(e.view())):
                    return []
            return [("node", e.name)]
        if e.key == "pods":
            node = e.fields.get("spec.nodeName", "")
            if ev.type == "MODIFIED" and ev.prev is not None:
                if ev.prev.fields.get("spec.nodeName", "") == node and \
                        _tolerations(ev.prev.view()) == _tolerations(e.view()):
                    return []
            return [("pod", e.namespace, e.name, node)]
        return []

    def all_items(self) -> Iterable[Hashable]:
        out: list[Hashable] = [("node", e.name) for e in self.api.store.list("nodes")[0]]
        out.extend(("pod", e.namespace, e.name, e.fields.get("spec.nodeName", ""))
                   for e in self.api.store.list("pods")[0] if e.fields.get("spec.nodeName"))
        return out

    def reconcile(self, item: Hashable) -> float | None:
        kind = item[0]  # type: ignore[index]
        if kind == "node":
            self.handle_node_update(item[1])  # type: ignore[index]
        elif kind == "pod":
            self.handle_pod_update(item[1], item[2], item[3])  # type: ignore[index]
        elif kind == "fire":
            return self._fire(item[1], item[2])  # type: ignore[index]
        return None

    # -- decisions in context -------------------------------------------------------------
    def handle_node_update(self, node_name: str) -> None:
        e = self.api.store.get("nodes", "", node_name)
        if e is None:
            self.tainted.pop(node_name, None)
            return
        taints = no_execute_taints(taints_of(e.obj()))
        if taints:
            self.tainted[node_name] = taints
        else:
            self.tainted.pop(node_name, None)
        pods = [p for p in self.api.store.list("pods")[0] if p.fields.get("spec.nodeName") == node_name]
        if not pods:
            return
        if not taints:
            for p in pods:
                self.cancel_with_event(p.namespace, p.name)
            return
        now = self.now()
        for p in pods:
            obj = p.obj()
            self.process_pod_on_node(p.namespace, p.name, _tolerations(obj), taints, now, _uid(obj))

    def handle_pod_update(self, namespace: str, name: str, node_name: str) -> None:
        e = self.api.store.get("pods", namespace, name)
        s = self.scheduled.get((namespace, name))
        if e is None or (s is not None and s.uid and s.uid != _uid(e.obj())):
            # Deleted (or deleted and re-created under the same name, which upstream's name-keyed
            # work queue cannot tell apart; kubesim keys the work by UID too, like newer WorkArgs).
            self.cancel_with_event(namespace, name)
            if e is None:
                return
        if e.fields.get("spec.nodeName", "") != node_name or not node_name:
            return
        taints = self.tainted.get(node_name)
        if taints is None:
            return
        obj = e.obj()
        self.process_pod_on_node(namespace, name, _tolerations(obj), taints, self.now(), _uid(obj))

    def process_pod_on_node(self, namespace: str, name: str, tolerations: list[Obj], taints: list[Obj],
                            now: float, uid: str = "") -> None:
        key = (namespace, name)
        for act in plan_pod(taints, tolerations, now, self.scheduled.get(key)):
            if isinstance(act, Cancel):
                self.cancel_with_event(namespace, name)
            elif act.immediate:
                self.delete_pod(namespace, name, uid)
            else:
                if key in self.scheduled:
                    continue  # AddWork never replaces existing work
                self.scheduled[key] = Scheduled(act.created, act.fire_at, uid)
                self.enqueue(("fire", namespace, name), max(0.0, act.fire_at - self.now()))

    def cancel_with_event(self, namespace: str, name: str) -> None:
        if self.scheduled.pop((namespace, name), None) is not None:
            self.recorder.event({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}},
                                "Normal", "TaintManagerEviction", cancel_message(namespace, name))

    def _fire(self, namespace: str, name: str) -> float | None:
        s = self.scheduled.get((namespace, name))
        if s is None:
            return None  # cancelled meanwhile
        left = s.fire_at - self.now()
        if left > 0:
            return left
        del self.scheduled[(namespace, name)]
        self.delete_pod(namespace, name, s.uid)
        return None

    # -- acts -----------------------------------------------------------------------------
    def delete_pod(self, namespace: str, name: str, uid: str = "") -> None:
        """``deletePodHandler``: the event, then (up to 5 tries) condition + DELETE with default options."""
        self.recorder.event({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}},
                            "Normal", "TaintManagerEviction", eviction_message(namespace, name))
        for _ in range(RETRIES):
            try:
                self._add_condition_and_delete(namespace, name, uid)
                return
            except NotFound:
                return
            except ApiError as exc:
                log.debug("deleting pod %s/%s failed: %s", namespace, name, exc)
                time.sleep(0.01)

    def _add_condition_and_delete(self, namespace: str, name: str, expect_uid: str = "") -> None:
        rt = self.api.rt("pods")
        pod = self.api.get(rt, namespace, name)
        uid = pod["metadata"].get("uid")
        if expect_uid and uid != expect_uid:
            return  # the pod this work was for is gone; a namesake is not ours to delete
        status = dict(pod.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        if update_pod_condition(status, DISRUPTION_CONDITION, clock.rfc3339()):
            def m(cur: Obj) -> Obj:
                if cur["metadata"].get("uid") != uid:
                    raise NotFound("pods", "", name)
                update_pod_condition(cur.setdefault("status", {}), DISRUPTION_CONDITION, clock.rfc3339())
                return cur

            self.api.update_status(rt, namespace, name, m, manager=MANAGER)
        self.api.delete(rt, namespace, name, DeleteOptions())


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")
