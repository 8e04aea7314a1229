"""kube-scheduler: the thin loop around :mod:`kubesim.scheduler`'s pure decisions.

It watches pods, nodes, claims, volumes, storage classes, services and
namespaces; schedules pods with ``spec.schedulerName: default-scheduler``, no
``spec.nodeName``, no ``deletionTimestamp`` and no scheduling gates, one at a
time (``schedule_one.go``):

- success: VolumeBinding's PreBind (claimRef on a matched static PV, or the
  ``volume.kubernetes.io/selected-node`` annotation on a claim to provision),
  then, once every claim is Bound (``bindTimeoutSeconds`` 600, scaled), the
  binding (:func:`kubesim.scheduler.binding.bind_pod`, which also sets
  ``PodScheduled=True``) and the Normal ``Scheduled`` event (SC-03);
- failure: a Warning ``FailedScheduling`` event from ``default-scheduler`` and
  ``PodScheduled=False`` with reason ``Unschedulable`` (``SchedulerError`` for
  PreBind/bind errors) and the same message (SC-02); the pod then waits in the
  unschedulable pool until a cluster event that may help (node added or
  changed, an assigned pod gone or changed, a claim/volume/class change, its
  own spec changed) or the 5-minute flush, never sooner than its backoff
  (1 s doubling to 10 s; all three scaled by the timing profile, SC-08).

The scheduler's cache is a snapshot rebuilt only when something it depends on
changed; a binding of its own is applied to the snapshot directly, as the
upstream cache "assumes" pods.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from .. import clock
from ..errors import ApiError, NotFound
from ..scheduler import framework, messages
from ..scheduler.binding import bind_pod, update_pod_condition
from ..scheduler.model import PodInfo, counts_on_node, pod_info
from ..scheduler.volumes import (ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, VolumePlan, claim_is_bound)
from ..store import Event
from .base import Controller

log = logging.getLogger("kubesim.scheduler")

SCHEDULER_NAME = "default-scheduler"
FIELD_MANAGER = "kube-scheduler"
BIND_TIMEOUT = 600.0  # VolumeBindingArgs.BindTimeoutSeconds default (kube-scheduler config v1)
BIND_POLL = 1.0  # binder.go BindPodVolumes polls every second

# Plugins whose failures an event of each kind may resolve (a light version of QueueingHints).
_POD_GONE_HELPS = {"NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread"}
_POD_ADDED_HELPS = {"InterPodAffinity", "PodTopologySpread"}
_VOLUME_HELPS = {"VolumeBinding", "VolumeZone"}

Obj = dict[str, Any]


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """``calculateBackoffDuration``: initial, doubled per further attempt, capped."""
    d = initial
    for _ in range(1, attempts):
        if d > maximum - d:
            return maximum
        d += d
    return min(d, maximum)


def wants_scheduling(pod: Obj) -> bool:
    """Whether this scheduler should place the pod now."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    if spec.get("nodeName") or meta.get("deletionTimestamp") or spec.get("schedulingGates"):
        return False
    if (spec.get("schedulerName") or SCHEDULER_NAME) != SCHEDULER_NAME:
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _sched_view(pod: Obj) -> tuple:
    """What of an assigned pod the other pods' scheduling depends on."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    return (spec.get("nodeName"), sorted((meta.get("labels") or {}).items()), bool(meta.get("deletionTimestamp")),
            phase in ("Succeeded", "Failed"), repr(spec.get("containers")), repr(spec.get("affinity")))


def _spec_view(pod: Obj) -> tuple:
    """What of a pending pod its own scheduling depends on (a status-only update changes none of it)."""
    meta = pod.get("metadata") or {}
    return (repr(pod.get("spec")), sorted((meta.get("labels") or {}).items()), meta.get("deletionTimestamp"))


def _node_view(node: Obj) -> tuple:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    return (sorted((meta.get("labels") or {}).items()), repr(spec.get("taints")), bool(spec.get("unschedulable")),
            repr((node.get("status") or {}).get("allocatable")))


@dataclass
class QueuedPod:
    uid: str
    attempts: int = 0
    backoff_until: float = 0.0
    unschedulable_since: float | None = None
    plugins: set[str] = field(default_factory=set)
    woken: bool = False


@dataclass
class Assumed:
    """A pod placed on a node whose claims are being bound (VolumeBinding PreBind)."""

    uid: str
    node: str
    plan: VolumePlan
    deadline: float
    info: PodInfo


class Scheduler(Controller):
    name = "scheduler"
    watches = ("pods", "nodes", "persistentvolumeclaims", "persistentvolumes", "storage.k8s.io/storageclasses",
               "services", "namespaces")

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.version = tuple(getattr(self.ctx, "k8s_version", (1, 33)))
        # kube-scheduler records through the events.k8s.io/v1 library (events.NewEventBroadcasterAdapter);
        # its reportingInstance is "<scheduler name>-<hostname>" of the control-plane machine.
        host = f"{getattr(self.ctx, 'cluster_name', 'kubesim')}-control-plane"
        self.recorder = self.ctx.recorder(SCHEDULER_NAME, host, events_api=True)
        self.seed = int(self.ctx.extra.get("scheduler_seed", 0))
        self.resync_seconds = max(0.05, self.timings.get("controller_resync"))
        self._lock = threading.RLock()
        self._queue: dict[tuple[str, str], QueuedPod] = {}
        self._assumed: dict[tuple[str, str], Assumed] = {}
        self._parsed: dict[str, dict[tuple[str, str], tuple[int, Any]]] = {}
        self._snap: framework.Snapshot | None = None
        self._dirty = True
        self._binding: tuple[str, str] | None = None  # the pod this thread is binding right now

    # -- timings -------------------------------------------------------------------------
    def _t(self, name: str) -> float:
        return self.timings.get(name)

    # -- events --------------------------------------------------------------------------
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        key = e.key
        if key == "pods":
            self._on_pod(ev)
        elif key == "nodes":
            if ev.type == "ADDED" or (ev.type == "MODIFIED" and (
                    ev.prev is None or _node_view(ev.prev.view()) != _node_view(e.view()))):
                self._mark_dirty()
                self._wake(None)
            elif ev.type == "DELETED":
                self._mark_dirty()
        elif key in ("persistentvolumeclaims", "persistentvolumes", "storage.k8s.io/storageclasses"):
            self._mark_dirty()
            self._wake(_VOLUME_HELPS)
            with self._lock:
                waiting = list(self._assumed)
            for k in waiting:
                self.enqueue(k)
        else:  # services, namespaces: inputs of default spreading and namespace selectors
            self._mark_dirty()
        return []

    def _on_pod(self, ev: Event) -> None:
        e = ev.entry
        k = (e.namespace, e.name)
        obj = e.view()  # read-only views, decoded once per event for every subscriber
        prev = ev.prev.view() if ev.prev is not None else None
        was_assigned = bool(prev and (prev.get("spec") or {}).get("nodeName"))
        assigned = bool((obj.get("spec") or {}).get("nodeName"))
        if ev.type == "DELETED":
            with self._lock:
                self._queue.pop(k, None)
                had = self._assumed.pop(k, None)
            if assigned or had is not None:
                self._mark_dirty()
                self._wake(_POD_GONE_HELPS)
            return
        if assigned:
            own = self._binding == k and not was_assigned
            if not own and (not was_assigned or _sched_view(prev or {}) != _sched_view(obj)):
                self._mark_dirty()
                self._wake(_POD_GONE_HELPS if was_assigned else _POD_ADDED_HELPS)
            with self._lock:
                self._queue.pop(k, None)
            return
        if not wants_scheduling(obj):
            return
        with self._lock:
            q = self._queue.get(k)
            if q is not None and q.uid != (obj.get("metadata") or {}).get("uid"):
                del self._queue[k]  # a new pod with the old name starts afresh
                q = None
            if q is not None and ev.type == "MODIFIED" and prev is not None and _spec_view(prev) == _spec_view(obj):
                return  # a status update (our own condition, for instance) changes nothing
            if q is not None:
                q.woken = True
                delay = max(0.0, q.backoff_until - time.monotonic())
            else:
                delay = 0.0
        self.enqueue(k, delay)

    def _mark_dirty(self) -> None:
        with self._lock:
            self._dirty = True

    def _wake(self, helps: set[str] | None) -> None:
        """Move unschedulable pods whose failure such an event may resolve back to the queue."""
        now = time.monotonic()
        due = []
        with self._lock:
            for k, q in self._queue.items():
                if q.unschedulable_since is None or q.woken:
                    continue
                if helps is not None and q.plugins and not (q.plugins & helps):
                    continue
                q.woken = True
                due.append((k, max(0.0, q.backoff_until - now)))
        for k, delay in due:
            self.enqueue(k, delay)

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("pods")
        out: list[Hashable] = []
        for e in entries:
            if e.fields.get("spec.nodeName"):
                continue
            out.append((e.namespace, e.name))
        return out

    # -- the cache -----------------------------------------------------------------------
    def _objects(self, key: str, info: bool = False) -> list[Any]:
        entries, _ = self.api.store.list(key)
        old = self._parsed.get(key, {})
        new: dict[tuple[str, str], tuple[int, Any]] = {}
        out = []
        for en in entries:
            k = (en.namespace, en.name)
            hit = old.get(k)
            if hit is None or hit[0] != en.rv:
                obj = en.obj()
                hit = (en.rv, pod_info(obj) if info else obj)
            new[k] = hit
            out.append(hit[1])
        self._parsed[key] = new
        return out

    def _snapshot(self) -> framework.Snapshot:
        with self._lock:
            dirty = self._dirty
            self._dirty = False
        if self._snap is not None and not dirty:
            return self._snap
        pods: list[PodInfo] = [p for p in self._objects("pods", info=True) if counts_on_node(p)]
        with self._lock:
            # an assumed pod keeps its place across a rebuild (the cache's AssumePod holds it on the
            # node until the bind is confirmed: pkg/scheduler/internal/cache/cache.go)
            assumed = [dataclasses.replace(a.info, node_name=a.node) for a in self._assumed.values()]
        self._snap = framework.Snapshot.build(
            self._objects("nodes"), pods + assumed, pvcs=self._objects("persistentvolumeclaims"),
            pvs=self._objects("persistentvolumes"), storage_classes=self._objects("storage.k8s.io/storageclasses"),
            services=self._objects("services"), namespaces=self._objects("namespaces"),
            version=self.version)  # type: ignore[arg-type]
        return self._snap

    def _owners(self, pod: Obj) -> dict[tuple[str, str, str], Obj]:
        ref = next((r for r in (pod.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")),
                   None)
        keys = {"ReplicaSet": "apps/replicasets", "StatefulSet": "apps/statefulsets",
                "ReplicationController": "replicationcontrollers"}
        if ref is None or ref.get("kind") not in keys:
            return {}
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        entry = self.api.store.get(keys[ref["kind"]], ns, ref.get("name", ""))
        return {} if entry is None else {(ref["kind"], ns, ref.get("name", "")): entry.obj()}

    def _assume(self, info: PodInfo, node: str) -> None:
        """Count a pod on its node in the current snapshot (the cache's AssumePod)."""
        if self._snap is None:
            return
        placed = dataclasses.replace(info, node_name=node)
        for ni in self._snap.nodes:
            if ni.name == node:
                ni.add(placed)
                break

    # -- the loop ------------------------------------------------------------------------
    def reconcile(self, item: Hashable) -> float | None:
        ns, name = item  # type: ignore[misc]
        k = (ns, name)
        entry = self.api.store.get("pods", ns, name)
        if entry is None:
            with self._lock:
                self._queue.pop(k, None)
                if self._assumed.pop(k, None) is not None:
                    self._dirty = True
            return None
        pod = entry.obj()
        uid = (pod.get("metadata") or {}).get("uid", "")
        with self._lock:
            assumed = self._assumed.get(k)
        if assumed is not None:
            if assumed.uid == uid and wants_scheduling(pod):
                return self._continue_binding(k, pod, assumed)
            with self._lock:
                self._assumed.pop(k, None)
                self._dirty = True
        if not wants_scheduling(pod):
            with self._lock:
                self._queue.pop(k, None)
            return None
        now = time.monotonic()
        with self._lock:
            q = self._queue.get(k)
            if q is None or q.uid != uid:
                q = self._queue[k] = QueuedPod(uid)
            if q.unschedulable_since is not None and not q.woken:
                flush_at = q.unschedulable_since + self._t("scheduler_unschedulable_flush")
                if now < flush_at:
                    return flush_at - now
            if q.backoff_until > now:
                return q.backoff_until - now
            q.woken = False
        return self._schedule_one(k, pod, q)

    def _schedule_one(self, k: tuple[str, str], pod: Obj, q: QueuedPod) -> float | None:
        snap = self._snapshot()
        snap.owners = self._owners(pod)
        decision = framework.schedule(snap, pod, self.seed)
        if decision.node is None:
            msg = framework.failure_message(decision, self.version, pod)  # type: ignore[arg-type]
            return self._failed(k, pod, q, msg, messages.UNSCHEDULABLE, decision.result.diagnosis.unschedulable_plugins)
        info = pod_info(pod)
        plan = decision.plan
        if plan.empty:
            return self._bind(k, pod, decision.node, q)
        try:
            self._prebind(pod, decision.node, plan)
        except ApiError as exc:
            return self._failed(k, pod, q, f'running PreBind plugin "VolumeBinding": binding volumes: {exc.message}',
                                "SchedulerError", {"VolumeBinding"})
        with self._lock:
            self._assumed[k] = Assumed(info.uid, decision.node, plan,
                                       time.monotonic() + self.timings.s(BIND_TIMEOUT), info)
        self._assume(info, decision.node)
        return self._continue_binding(k, pod, self._assumed[k])

    def _prebind(self, pod: Obj, node: str, plan: VolumePlan) -> None:
        """AssumePodVolumes + BindPodVolumes' API writes (binder.go ``bindAPIUpdate``)."""
        for b in plan.static:
            pvc_entry = self.api.store.get("persistentvolumeclaims", b.claim[0], b.claim[1])
            if pvc_entry is None:
                raise NotFound("persistentvolumeclaims", "", b.claim[1])
            pvc = pvc_entry.obj()

            def claim_pv(cur: Obj, pvc: Obj = pvc) -> Obj:
                meta = pvc.get("metadata") or {}
                cur.setdefault("spec", {})["claimRef"] = {
                    "kind": "PersistentVolumeClaim", "namespace": meta.get("namespace"), "name": meta.get("name"),
                    "uid": meta.get("uid"), "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion")}
                cur.setdefault("metadata", {}).setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
                return cur

            self.api.mutate(self.api.rt("persistentvolumes"), None, b.pv, claim_pv, manager=FIELD_MANAGER)
        for ns, name in plan.provision:
            def select(cur: Obj) -> Obj:
                cur.setdefault("metadata", {}).setdefault("annotations", {})[ANN_SELECTED_NODE] = node
                return cur

            self.api.mutate(self.api.rt("persistentvolumeclaims"), ns, name, select, manager=FIELD_MANAGER)

    def _continue_binding(self, k: tuple[str, str], pod: Obj, a: Assumed) -> float | None:
        """``checkBindings``: bind the pod once every claim is Bound; fail on timeout or a reset annotation."""
        error = None
        done = True
        provision = set(a.plan.provision)
        for claim in a.plan.claims:
            e = self.api.store.get("persistentvolumeclaims", claim[0], claim[1])
            if e is None:
                error = f'PVC "{claim[0]}/{claim[1]}" not found'
                break
            pvc = e.obj()
            if claim_is_bound(pvc):
                continue
            done = False
            if claim in provision:
                ann = (pvc.get("metadata") or {}).get("annotations") or {}
                if ann.get(ANN_SELECTED_NODE) != a.node:
                    error = (f'selectedNode annotation reset for PVC "{claim[1]}"' if ANN_SELECTED_NODE not in ann
                             else f'provisioning failed for PVC "{claim[1]}"')
                    break
        if error is None and not done and time.monotonic() >= a.deadline:
            error = "context deadline exceeded"
        if error is not None:
            with self._lock:
                self._assumed.pop(k, None)
                self._dirty = True
                q = self._queue.setdefault(k, QueuedPod(a.uid))
            return self._failed(k, pod, q, f'running PreBind plugin "VolumeBinding": binding volumes: {error}',
                                "SchedulerError", {"VolumeBinding"})
        if not done:
            return max(0.01, min(self.timings.s(BIND_POLL), a.deadline - time.monotonic()))
        with self._lock:
            self._assumed.pop(k, None)
            q = self._queue.setdefault(k, QueuedPod(a.uid))
        return self._bind(k, pod, a.node, q, already_assumed=True)

    def _bind(self, k: tuple[str, str], pod: Obj, node: str, q: QueuedPod, already_assumed: bool = False
              ) -> float | None:
        ns, name = k
        uid = (pod.get("metadata") or {}).get("uid") or None
        self._binding = k
        try:
            bound = bind_pod(self.api, ns, name, node, uid=uid)
        except ApiError as exc:
            with self._lock:
                self._dirty = True
            return self._failed(k, pod, q, f'binding rejected: running Bind plugin "DefaultBinder": {exc.message}',
                                "SchedulerError", {"DefaultBinder"})
        finally:
            self._binding = None
        if not already_assumed:
            self._assume(pod_info(bound), node)
        with self._lock:
            self._queue.pop(k, None)
        self.recorder.event(bound, "Normal", "Scheduled", messages.scheduled_message(ns, name, node), action="Binding")
        return None

    def _failed(self, k: tuple[str, str], pod: Obj, q: QueuedPod, msg: str, reason: str,
                plugins: set[str]) -> float:
        """``handleSchedulingFailure``: event, PodScheduled=False, back to the unschedulable pool."""
        now = time.monotonic()
        with self._lock:
            q.attempts += 1
            q.backoff_until = now + backoff(q.attempts, self._t("scheduler_backoff_initial"),
                                            self._t("scheduler_backoff_max"))
            q.unschedulable_since = now
            q.plugins = set(plugins)
            q.woken = False
        self.recorder.event(pod, "Warning", "FailedScheduling", msg, action="Scheduling")
        ns, name = k
        cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": msg}

        def set_condition(cur: Obj) -> Obj:
            if (cur.get("spec") or {}).get("nodeName"):
                return cur
            update_pod_condition(cur.setdefault("status", {}), cond, clock.rfc3339())
            return cur

        try:
            self.api.update_status(self.api.rt("pods"), ns, name, set_condition, manager=FIELD_MANAGER)
        except ApiError as exc:
            log.debug("scheduler: cannot update %s/%s: %s", ns, name, exc)
        return self._t("scheduler_unschedulable_flush")
