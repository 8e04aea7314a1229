"""Pod garbage collector: terminated, orphaned and stuck-terminating pods.

Follows kube-controller-manager's ``pkg/controller/podgc/gc_controller.go`` (1.33);
sim-fidelity.md NL-10, NL-11, NL-14. Every ``podgc_period`` (``gcCheckPeriod`` 20 s), on one
snapshot of pods and nodes, in upstream's order:

(a) ``gcTerminated``: when more than ``--terminated-pod-gc-threshold`` (12500) pods are
    Succeeded/Failed, the excess is deleted, evicted pods (Failed, reason ``Evicted``) first, then
    oldest first, name as tie breaker.
(d) ``gcTerminating``: terminating pods on a node that is not Ready **and** carries the
    ``node.kubernetes.io/out-of-service`` taint (non-graceful node shutdown) are marked Failed and
    force deleted.
(b) ``gcOrphaned``: a pod bound to a node missing from the node list puts that node name in
    quarantine for ``quarantineTime`` (40 s); once it is out of quarantine and a live GET still
    finds no node, each of its pods gets ``phase=Failed`` plus ``DisruptionTarget=True`` reason
    ``DeletionByPodGC`` message "PodGC: node no longer exists", then is force deleted
    (``gracePeriodSeconds=0``).
(c) ``gcUnscheduledTerminating``: terminating pods never bound to a node are marked Failed and
    force deleted.

"Marked Failed" (``markFailedAndDeletePodWithCondition``) patches the status only for pods not
already Succeeded/Failed. PodGC records no events. ``gc_pass`` is the pure decision (its only
outside question, "does this node exist?", is a callable); :class:`PodGC` is the thin loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

from .. import clock
from ..api import DeleteOptions
from ..errors import ApiError, NotFound
from .base import Controller
from .nodeutil import MANAGER, TAINT_OUT_OF_SERVICE, Obj, epoch, is_node_ready, taint_key_exists, taints_of, \
    update_pod_condition

log = logging.getLogger("kubesim.controllers.podgc")

TERMINATED_POD_GC_THRESHOLD = 12500  # kube-controller-manager --terminated-pod-gc-threshold

ORPHAN_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists"}

# Why a pod is collected (upstream's metrics label values).
REASON_TERMINATED = "PodGCReasonTerminated"
REASON_OUT_OF_SERVICE = "PodGCReasonTerminatingOutOfService"
REASON_ORPHANED = "PodGCReasonOrphaned"
REASON_UNSCHEDULED = "PodGCReasonTerminatingUnscheduled"


@dataclass(frozen=True)
class Collect:
    """Mark ``pod`` Failed (with ``condition`` if any) unless terminal, then force delete it."""

    namespace: str
    name: str
    uid: str
    reason: str
    condition: dict[str, str] | None = None


def _meta(pod: Obj) -> Obj:
    return pod.get("metadata") or {}


def _collect(pod: Obj, reason: str, condition: dict[str, str] | None = None) -> Collect:
    m = _meta(pod)
    return Collect(m.get("namespace", ""), m.get("name", ""), m.get("uid", ""), reason, condition)


def is_terminated(pod: Obj) -> bool:
    """``isPodTerminated``: phase other than Pending, Running and Unknown."""
    return (pod.get("status") or {}).get("phase") not in ("Pending", "Running", "Unknown")


def is_terminating(pod: Obj) -> bool:
    return bool(_meta(pod).get("deletionTimestamp"))


def is_evicted(pod: Obj) -> bool:
    """kubelet eviction ``PodIsEvicted``: Failed with reason Evicted."""
    st = pod.get("status") or {}
    return st.get("phase") == "Failed" and st.get("reason") == "Evicted"


def _by_eviction_and_creation(pod: Obj) -> tuple[int, float, str]:
    created = epoch(_meta(pod).get("creationTimestamp")) or 0.0
    return (0 if is_evicted(pod) else 1, created, _meta(pod).get("name", ""))


def gc_terminated(pods: list[Obj], threshold: int) -> list[Collect]:
    if threshold <= 0:
        return []
    terminated = [p for p in pods if is_terminated(p)]
    excess = len(terminated) - threshold
    if excess <= 0:
        return []
    terminated.sort(key=_by_eviction_and_creation)
    return [_collect(p, REASON_TERMINATED) for p in terminated[:excess]]


def gc_terminating(pods: list[Obj], nodes: dict[str, Obj]) -> list[Collect]:
    out = []
    for p in pods:
        if not is_terminating(p):
            continue
        node = nodes.get((p.get("spec") or {}).get("nodeName") or "")
        if node is None:
            continue
        if not is_node_ready(node) and taint_key_exists(taints_of(node), TAINT_OUT_OF_SERVICE):
            out.append(p)
    out.sort(key=_by_eviction_and_creation)
    return [_collect(p, REASON_OUT_OF_SERVICE) for p in out]


def gc_orphaned(pods: list[Obj], node_names: set[str], quarantine: dict[str, float], now: float,
                quarantine_time: float, node_exists: Callable[[str], bool | None]
                ) -> tuple[list[Collect], dict[str, float]]:
    """Quarantine unknown node names, then collect the pods of those still gone after it.

    ``quarantine`` maps a node name to when it leaves quarantine (a delaying queue: adding again
    never postpones). ``node_exists`` is the live GET: True, False, or None on error (retried later).
    """
    # Entries already due sit in the delaying queue's active queue; adding a name again puts a new
    # entry in its waiting heap, which never postpones an earlier one.
    due = sorted(n for n, ready in quarantine.items() if ready <= now)
    q = {n: ready for n, ready in quarantine.items() if ready > now}
    for p in pods:
        n = (p.get("spec") or {}).get("nodeName") or ""
        if n and n not in node_names:
            ready = now + quarantine_time
            q[n] = min(q.get(n, ready), ready)
    deleted: set[str] = set()
    for n in due:
        if n in node_names:
            continue
        if node_exists(n) is False:
            deleted.add(n)
    out = [_collect(p, REASON_ORPHANED, ORPHAN_CONDITION) for p in pods
           if ((p.get("spec") or {}).get("nodeName") or "") in deleted]
    return out, q


def gc_unscheduled_terminating(pods: list[Obj]) -> list[Collect]:
    return [_collect(p, REASON_UNSCHEDULED) for p in pods
            if is_terminating(p) and not (p.get("spec") or {}).get("nodeName")]


def gc_pass(pods: list[Obj], nodes: list[Obj], quarantine: dict[str, float], now: float, *,
            threshold: int = TERMINATED_POD_GC_THRESHOLD, quarantine_time: float = 40.0,
            node_exists: Callable[[str], bool | None] = lambda n: False) -> tuple[list[Collect], dict[str, float]]:
    """One ``gc()`` run: what to collect, in upstream's order, and the new quarantine."""
    by_name = {(_meta(n).get("name") or ""): n for n in nodes}
    actions = gc_terminated(pods, threshold)
    actions += gc_terminating(pods, by_name)
    orphaned, q = gc_orphaned(pods, set(by_name), quarantine, now, quarantine_time, node_exists)
    actions += orphaned
    actions += gc_unscheduled_terminating(pods)
    return actions, q


class PodGC(Controller):
    name = "pod-garbage-collector"
    watches = ()
    resync_seconds = 1e9
    GC = ("gc",)

    def __init__(self, ctx: Any, threshold: int | None = None) -> None:
        super().__init__(ctx)
        self.period = max(0.005, self.timings.get("podgc_period"))
        self.quarantine_time = self.timings.get("podgc_quarantine")
        if threshold is None:
            threshold = int(self.ctx.extra.get("terminated_pod_gc_threshold", TERMINATED_POD_GC_THRESHOLD))
        self.threshold = threshold
        self.quarantine: dict[str, float] = {}
        self.now = time.time

    def all_items(self) -> Iterable[Hashable]:
        return [self.GC]

    def reconcile(self, item: Hashable) -> float | None:
        try:
            self.gc()
        except Exception:
            log.exception("pod GC pass failed")
        return self.period

    def _node_exists(self, name: str) -> bool | None:
        try:
            self.api.get(self.api.rt("nodes"), None, name)
            return True
        except NotFound:
            return False
        except ApiError:
            return None

    def gc(self) -> list[Collect]:
        node_entries = self.api.store.list("nodes")[0]
        nodes = [e.view() for e in node_entries]  # read-only: gc_pass decides, writes re-read the pod
        names = {e.name for e in node_entries}
        # Only pods some rule can pick are decoded (same result as passing every pod, in the same order):
        # terminated by phase (gcTerminated counts them all), terminating, or bound to an unknown node.
        pods = [e.obj() for e in self.api.store.list("pods")[0]
                if e.fields.get("status.phase") not in ("Pending", "Running", "Unknown")
                or b'"deletionTimestamp"' in e.raw
                or (e.fields.get("spec.nodeName") and e.fields.get("spec.nodeName") not in names)]
        actions, self.quarantine = gc_pass(pods, nodes, self.quarantine, self.now(), threshold=self.threshold,
                                           quarantine_time=self.quarantine_time, node_exists=self._node_exists)
        for act in actions:
            try:
                self.mark_failed_and_delete(act)
            except NotFound:
                pass
            except ApiError as exc:
                log.debug("pod GC could not delete %s/%s: %s", act.namespace, act.name, exc)
        return actions

    def mark_failed_and_delete(self, act: Collect) -> None:
        """``markFailedAndDeletePodWithCondition``: phase Failed (+ condition) unless terminal, force delete."""
        rt = self.api.rt("pods")
        pod = self.api.get(rt, act.namespace, act.name)
        if act.uid and pod["metadata"].get("uid") != act.uid:
            return  # a namesake, not the pod this pass decided about
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            def m(cur: Obj) -> Obj:
                if cur["metadata"].get("uid") != pod["metadata"].get("uid"):
                    raise NotFound("pods", "", act.name)
                st = cur.setdefault("status", {})
                st["phase"] = "Failed"
                if act.condition is not None:
                    update_pod_condition(st, act.condition, clock.rfc3339())
                return cur

            self.api.update_status(rt, act.namespace, act.name, m, manager=MANAGER)
        self.api.delete(rt, act.namespace, act.name, DeleteOptions(grace_period=0))
