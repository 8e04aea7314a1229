"""Node lifecycle controller: node health from Leases and heartbeats, condition taints, zone disruption.

Follows kube-controller-manager's ``pkg/controller/nodelifecycle/node_lifecycle_controller.go``
(1.33) and its helpers; sim-fidelity.md §4 NL-02..NL-06, NL-13, NL-14 and SC-07:

- **Health** (``tryUpdateNodeHealth``): every ``node_monitor_period`` (5 s upstream) each node's
  probe timestamp is refreshed *with the controller's own clock* when it sees a newer Lease
  ``renewTime`` or a changed Ready ``lastHeartbeatTime``; when ``now > probe + grace``
  (``node_monitor_grace``: 50 s from 1.32, 40 s up to 1.31; ``node_startup_grace`` 60 s for a
  node that never posted Ready) Ready, MemoryPressure, DiskPressure and PIDPressure become
  ``Unknown`` (``NodeStatusUnknown`` "Kubelet stopped posting node status.", or
  ``NodeStatusNeverUpdated`` "Kubelet never posted node status."). NetworkUnavailable is left
  alone. So with R the last renewTime, Ready=Unknown lands in (R+grace, R+grace+period].
- **Pods** (``MarkPodsNotReady`` in pkg/controller/util/node/controller_utils.go): on the
  Ready -> not-True transition the controller itself made, every pod on the node gets
  ``Ready=False`` and a Warning ``NodeNotReady`` "Node is not ready"; the node gets Normal
  ``NodeNotReady`` "Node <n> status is now: NodeNotReady" (``RecordNodeStatusChange``). Pods
  bound later to a not-ready node are marked too (``processPod``).
- **NoSchedule taints** (``doNoScheduleTaintingPass``, on every node change): conditions mirrored
  as taints (Ready False/Unknown -> not-ready/unreachable, Memory/Disk/PID pressure,
  NetworkUnavailable) plus ``node.kubernetes.io/unschedulable`` for ``spec.unschedulable``.
- **NoExecute taints** (``processTaintBaseEviction``, ``doNoExecuteTaintingPass``): a node seen
  not-ready/unknown at the *start* of a pass is queued in its zone's rate-limited queue
  (``scheduler/rate_limited_queue.go``: token bucket, 0.1 nodes/s, burst 1); the queue tags it
  ``not-ready:NoExecute`` or ``unreachable:NoExecute`` (mutually exclusive, swapped at once when
  the condition flips) with ``timeAdded``. Ready again -> both removed (``markNodeAsReachable``).
- **Zones** (``ComputeZoneState``, ``handleDisruption``, ``ReducedQPSFunc``/``HealthyQPSFunc``):
  FullDisruption (no Ready node) keeps the normal rate; PartialDisruption (more than 2 not ready
  and at least 55 %) drops to 0.01 nodes/s, or to **0** when the zone has at most 50 nodes
  (upstream passes the *zone's* node count to ReducedQPSFunc, although the docs speak of the
  cluster size); when **every** zone is fully disrupted the controller removes all NoExecute
  taints and stops tainting ("master disruption mode"), and when it leaves that mode every
  node gets a fresh probe timestamp. Nodes labelled ``node.kubernetes.io/exclude-disruption``
  are not counted.
- **Events** (source ``node-controller``): ``RegisteredNode`` "Node <n> event: Registered Node
  <n> in Controller", ``RemovingNode`` "Node <n> event: Removing Node <n> from Controller"
  (``RecordNodeEvent``), ``NodeNotReady`` as above.

The decisions are pure functions (``node_health``, ``noschedule_taint_diff``,
``taint_base_eviction``, ``compute_zone_state``, ``handle_disruption``, ``TokenBucket``,
``RateLimitedTimedQueue`` with an explicit clock); :class:`NodeLifecycleController` is the thin
loop around them. It observes failure only through the API (Leases and node status), never
through kubesim's fault switches.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable, Iterable

from .. import clock
from ..errors import ApiError, NotFound
from ..store import Event
from .base import Controller
from .nodeutil import (
    MANAGER,
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    Obj,
    add_or_update_taint,
    epoch,
    get_condition,
    remove_taints,
    taint_exists,
    taints_of,
    zone_key,
    zone_label,
)

log = logging.getLogger("kubesim.controllers.nodelifecycle")

EVENT_SOURCE = "node-controller"
LEASE_NAMESPACE = "kube-node-lease"
LABEL_EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"

# kube-controller-manager defaults (cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go)
UNHEALTHY_ZONE_THRESHOLD = 0.55
LARGE_CLUSTER_SIZE_THRESHOLD = 50
EVICTION_RATE_LIMITER_BURST = 1     # scheduler/rate_limited_queue.go EvictionRateLimiterBurst
NODE_EVICTION_PERIOD = 0.1          # scheduler/rate_limited_queue.go NodeEvictionPeriod (100 ms)
NODE_HEALTH_UPDATE_RETRY = 5        # scheduler.NodeHealthUpdateRetry

UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."

# Conditions the controller sets Unknown (NetworkUnavailable is managed by the control plane).
UNKNOWN_CONDITION_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

# nodeConditionToTaintKeyStatusMap / taintKeyToNodeConditionMap
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": TAINT_MEMORY_PRESSURE},
    "DiskPressure": {"True": TAINT_DISK_PRESSURE},
    "NetworkUnavailable": {"True": TAINT_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": TAINT_PID_PRESSURE},
}
TAINT_CONDITIONS = {TAINT_NOT_READY: "Ready", TAINT_UNREACHABLE: "Ready",
                    TAINT_NETWORK_UNAVAILABLE: "NetworkUnavailable", TAINT_MEMORY_PRESSURE: "MemoryPressure",
                    TAINT_DISK_PRESSURE: "DiskPressure", TAINT_PID_PRESSURE: "PIDPressure"}

NOT_READY_NOEXECUTE = {"key": TAINT_NOT_READY, "effect": "NoExecute"}
UNREACHABLE_NOEXECUTE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}

# Zone states (ZoneState).
STATE_INITIAL = "Initial"
STATE_NORMAL = "Normal"
STATE_FULL = "FullDisruption"
STATE_PARTIAL = "PartialDisruption"


# -- token bucket and rate-limited queue (explicit clock) ------------------------------------------
class TokenBucket:
    """client-go ``flowcontrol.NewTokenBucketRateLimiter`` (x/time/rate): starts full; qps 0 never accepts."""

    def __init__(self, qps: float, burst: int = EVICTION_RATE_LIMITER_BURST) -> None:
        self.qps = float(qps)
        self.burst = burst
        self.tokens = float(burst)
        self.last: float | None = None

    def _advance(self, now: float) -> None:
        if self.last is not None and now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        if self.last is None or now > self.last:
            self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False  # flowcontrol.NewFakeNeverRateLimiter
        self._advance(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float | None:
        """Seconds until a token is available (None: never)."""
        if self.qps <= 0:
            return None
        self._advance(now)
        return max(0.0, (1.0 - self.tokens) / self.qps)


@dataclass(order=True)
class TimedValue:
    process_at: float
    seq: int
    value: str = field(compare=False)
    uid: str = field(compare=False, default="")
    added_at: float = field(compare=False, default=0.0)


class RateLimitedTimedQueue:
    """``RateLimitedTimedQueue`` over a ``UniqueQueue``: a value is added once until ``remove``d.

    ``try_(fn, now)`` processes due values while the limiter grants tokens; ``fn`` returns
    ``(done, retry_after)``. A processed value stays in the dedup set (``RemoveFromQueue``), so it is
    not queued again until :meth:`remove` (node Ready again, or its taint gone).
    """

    _seq = itertools.count()

    def __init__(self, qps: float) -> None:
        self.limiter = TokenBucket(qps)
        self._heap: list[TimedValue] = []
        self._set: set[str] = set()

    def __len__(self) -> int:
        return len(self._heap)

    def values(self) -> list[str]:
        return [v.value for v in sorted(self._heap)]

    def contains(self, value: str) -> bool:
        return value in self._set

    def add(self, value: str, uid: str, now: float) -> bool:
        if value in self._set:
            return False
        heapq.heappush(self._heap, TimedValue(now, next(self._seq), value, uid, now))
        self._set.add(value)
        return True

    def remove(self, value: str) -> bool:
        if value not in self._set:
            return False
        self._set.discard(value)
        self._heap = [v for v in self._heap if v.value != value]
        heapq.heapify(self._heap)
        return True

    def try_(self, fn: Callable[[TimedValue], tuple[bool, float]], now: float) -> None:
        while self._heap:
            head = self._heap[0]
            if not self.limiter.try_accept(now):  # a token is spent before the due check, as upstream
                break
            if now < head.process_at:
                break
            ok, wait = fn(head)
            heapq.heappop(self._heap)
            if not ok:
                heapq.heappush(self._heap, TimedValue(now + wait + 1e-9, next(self._seq), head.value, head.uid,
                                                      head.added_at))
            # done: RemoveFromQueue keeps the value in the set

    def next_try(self, now: float) -> float | None:
        """Seconds until ``try_`` could make progress (None: empty or never)."""
        if not self._heap:
            return None
        w = self.limiter.wait(now)
        if w is None:
            return None
        return max(w, self._heap[0].process_at - now, 0.0)

    def swap_limiter(self, qps: float, now: float) -> None:
        """``SwapLimiter``: a new bucket when the rate changes; drained if the old one was empty."""
        if self.limiter.qps == qps:
            return
        new = TokenBucket(qps)
        if qps > 0 and not self.limiter.try_accept(now):
            new.try_accept(now)
        self.limiter = new


# -- node health -------------------------------------------------------------------------------
@dataclass
class NodeHealth:
    """``nodeHealthData``: what the controller last saw, with its own clock's timestamps."""

    probe: float
    ready_transition: float
    status: Obj
    lease_seen: bool = False
    lease_renew: float | None = None


@dataclass
class HealthResult:
    health: NodeHealth                   # to keep when no status write is made (or it fails)
    observed_ready: Obj                  # the Ready condition as read (fake Unknown if none)
    current_ready: Obj | None            # the Ready condition after this pass
    grace: float
    conditions: list[Obj] | None = None  # status.conditions to write, if any
    health_after_write: NodeHealth | None = None


def _renew(lease: Obj | None) -> float | None:
    return epoch(((lease or {}).get("spec") or {}).get("renewTime"))


def unknown_conditions(conditions: list[Obj], creation: str, now: str) -> list[Obj]:
    """The conditions after the grace expired (tryUpdateNodeHealth's Unknown block)."""
    out = copy.deepcopy(conditions)
    for t in UNKNOWN_CONDITION_TYPES:
        cur = get_condition(out, t)
        if cur is None:
            out.append({"type": t, "status": "Unknown", "lastHeartbeatTime": creation, "lastTransitionTime": now,
                        "reason": NEVER_REASON, "message": NEVER_MESSAGE})
        elif cur.get("status") != "Unknown":
            cur["status"] = "Unknown"
            cur["reason"] = UNKNOWN_REASON
            cur["message"] = UNKNOWN_MESSAGE
            cur["lastTransitionTime"] = now
    return out


def node_health(node: Obj, lease: Obj | None, saved: NodeHealth | None, now: float, *, grace: float,
                startup_grace: float) -> HealthResult:
    """``tryUpdateNodeHealth``: refresh the probe time; past the grace, conditions go Unknown."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}  # read only: kept by reference in the health record
    conditions = status.get("conditions") or []
    current = get_condition(conditions, "Ready")
    created_text = meta.get("creationTimestamp") or clock.rfc3339()
    created = epoch(created_text) or now
    health = replace(saved) if saved is not None else None
    if current is None:
        observed: Obj = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created_text,
                         "lastTransitionTime": created_text}
        grace_period = startup_grace
        if health is not None:
            health.status = status
        else:
            # Upstream probes from creationTimestamp. It is stored to the second, which at a scaled
            # profile can eat the whole startup grace (0.6 s at ``instant``), so take the end of that
            # second unless this first sight is earlier (at most 1 s more lenient than upstream).
            first = min(now, created + 1.0)
            health = NodeHealth(probe=first, ready_transition=first, status=status)
    else:
        observed = dict(current)
        grace_period = grace
    saved_cond = get_condition((health.status or {}).get("conditions"), "Ready") if health is not None else None
    saved_lease_seen = health.lease_seen if health is not None else False
    saved_lease_renew = health.lease_renew if health is not None else None
    if health is None:
        health = NodeHealth(probe=now, ready_transition=now, status=status)
    elif saved_cond is None and current is not None:
        health = NodeHealth(probe=now, ready_transition=now, status=status)
    elif saved_cond is not None and current is None:
        health = NodeHealth(probe=now, ready_transition=now, status=status)
    elif saved_cond is not None and current is not None and \
            saved_cond.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
        transition = now if saved_cond.get("lastTransitionTime") != current.get("lastTransitionTime") \
            else health.ready_transition
        health = NodeHealth(probe=now, ready_transition=transition, status=status)
    # Always refresh the probe when the lease was renewed (metav1.MicroTime.Before: nil is never before).
    if lease is not None:
        observed_renew = _renew(lease)
        newer = not saved_lease_seen or (saved_lease_renew is not None and observed_renew is not None
                                         and saved_lease_renew < observed_renew)
        if newer:
            health.lease_seen = True
            health.lease_renew = observed_renew
            health.probe = now
    result = HealthResult(health=health, observed_ready=observed, current_ready=current, grace=grace_period)
    if now > health.probe + grace_period:
        new_conditions = unknown_conditions(conditions, created_text, clock.rfc3339(_dt(now)))
        new_ready = get_condition(new_conditions, "Ready")
        result.current_ready = new_ready
        if new_ready != observed:
            result.conditions = new_conditions
            new_status = dict(status)
            new_status["conditions"] = new_conditions
            result.health_after_write = NodeHealth(probe=health.probe, ready_transition=now, status=new_status,
                                                   lease_seen=lease is not None, lease_renew=_renew(lease))
    return result


def _dt(ts: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc)


# -- taints ------------------------------------------------------------------------------------
def noschedule_taint_diff(node: Obj) -> tuple[list[Obj], list[Obj]]:
    """``doNoScheduleTaintingPass``: (taints to add, taints to remove), compared by key and effect."""
    want: list[Obj] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(cond.get("type"), {}).get(cond.get("status"))
        if key:
            want.append({"key": key, "effect": "NoSchedule"})
    if (node.get("spec") or {}).get("unschedulable"):
        want.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
    have = [t for t in taints_of(node) if t.get("effect") == "NoSchedule"
            and (t.get("key") == TAINT_UNSCHEDULABLE or t.get("key") in TAINT_CONDITIONS)]
    add = [t for t in want if not taint_exists(have, t)]
    remove = [t for t in have if not taint_exists(want, t)]
    return add, remove


@dataclass(frozen=True)
class TaintDecision:
    """What ``processTaintBaseEviction`` does for one node this pass."""

    kind: str  # "swap" | "queue" | "reachable"
    status: str = ""  # the observed Ready status for "queue"
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def taint_base_eviction(node: Obj, observed_status: str) -> TaintDecision | None:
    taints = taints_of(node)
    if observed_status == "False":
        if taint_exists(taints, UNREACHABLE_NOEXECUTE):
            return TaintDecision("swap", add=(TAINT_NOT_READY,), remove=(TAINT_UNREACHABLE,))
        return TaintDecision("queue", "False")
    if observed_status == "Unknown":
        if taint_exists(taints, NOT_READY_NOEXECUTE):
            return TaintDecision("swap", add=(TAINT_UNREACHABLE,), remove=(TAINT_NOT_READY,))
        return TaintDecision("queue", "Unknown")
    if observed_status == "True":
        return TaintDecision("reachable")
    return None


def no_execute_swap_for(ready_status: str | None) -> tuple[str, str] | None:
    """The queue worker's choice (``doNoExecuteTaintingPass``): (taint to add, opposite to remove)."""
    if ready_status == "False":
        return TAINT_NOT_READY, TAINT_UNREACHABLE
    if ready_status == "Unknown":
        return TAINT_UNREACHABLE, TAINT_NOT_READY
    return None


# -- zones -------------------------------------------------------------------------------------
def compute_zone_state(ready_statuses: list[str | None],
                       unhealthy_threshold: float = UNHEALTHY_ZONE_THRESHOLD) -> tuple[int, str]:
    """``ComputeZoneState``: (not-ready count, state) from the zone's Ready condition statuses."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, STATE_FULL
    if not_ready > 2 and not_ready / (not_ready + ready) >= unhealthy_threshold:
        return not_ready, STATE_PARTIAL
    return not_ready, STATE_NORMAL


@dataclass
class RateConfig:
    eviction_qps: float = 0.1
    secondary_qps: float = 0.01
    large_cluster_threshold: int = LARGE_CLUSTER_SIZE_THRESHOLD
    unhealthy_threshold: float = UNHEALTHY_ZONE_THRESHOLD

    def qps_for(self, state: str, zone_size: int) -> float | None:
        """``setLimiterInZone``: Normal/Full -> the normal rate; Partial -> ``ReducedQPSFunc``."""
        if state == STATE_NORMAL or state == STATE_FULL:  # HealthyQPSFunc for full disruption
            return self.eviction_qps
        if state == STATE_PARTIAL:
            return self.secondary_qps if zone_size > self.large_cluster_threshold else 0.0
        return None


@dataclass
class DisruptionDecision:
    zone_states: dict[str, str]
    limiters: dict[str, float]               # zone -> new rate
    enter_master_disruption: bool = False    # remove NoExecute taints from every node
    exit_master_disruption: bool = False     # fresh probe timestamps on every node


def handle_disruption(zone_ready: dict[str, list[str | None]], prev_states: dict[str, str],
                      rates: RateConfig) -> DisruptionDecision:
    """``handleDisruption``: per-zone states and rate limiters, and master disruption mode."""
    states = dict(prev_states)
    new_states: dict[str, str] = {}
    all_are_full = True
    for zone, statuses in zone_ready.items():
        _, st = compute_zone_state(statuses, rates.unhealthy_threshold)
        if st != STATE_FULL:
            all_are_full = False
        new_states[zone] = st
        states.setdefault(zone, STATE_INITIAL)
    all_were_full = True
    for zone in list(states):
        if zone not in zone_ready:
            del states[zone]
            continue
        if states[zone] != STATE_FULL:
            all_were_full = False
    out = DisruptionDecision(zone_states=states, limiters={})
    if all_are_full and all_were_full:
        return out
    if all_are_full:
        out.enter_master_disruption = True
        for zone in states:
            out.limiters[zone] = 0.0
            states[zone] = STATE_FULL
        return out
    if all_were_full:
        out.exit_master_disruption = True
        for zone in states:
            qps = rates.qps_for(new_states[zone], len(zone_ready[zone]))
            if qps is not None:
                out.limiters[zone] = qps
            states[zone] = new_states[zone]
        return out
    for zone, cur in list(states.items()):
        new = new_states[zone]
        if cur == new:
            continue
        qps = rates.qps_for(new, len(zone_ready[zone]))
        if qps is not None:
            out.limiters[zone] = qps
        states[zone] = new
    return out


def excluded_from_disruption(node: Obj) -> bool:
    return LABEL_EXCLUDE_DISRUPTION in ((node.get("metadata") or {}).get("labels") or {})


# -- the loop ----------------------------------------------------------------------------------
class _Stale(Exception):
    """The node changed between our read and our status write (resourceVersion precondition)."""


def _node_ref(node: Obj) -> Obj:
    meta = node.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": meta.get("name", ""), "uid": meta.get("uid", "")}}


class NodeLifecycleController(Controller):
    """The thin loop: a periodic health pass, per-node NoSchedule passes and per-pod checks."""

    name = "node-lifecycle-controller"
    watches = ("nodes", "pods")
    resync_seconds = 1e9  # no informer resync: the health pass is periodic by itself

    MONITOR = ("monitor",)
    TAINT = ("noexecute-taint",)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        t = self.timings
        self.monitor_period = max(0.005, t.get("node_monitor_period"))
        self.grace = t.get("node_monitor_grace")
        self.startup_grace = t.get("node_startup_grace")
        self.rates = RateConfig(eviction_qps=1.0 / t.get("node_eviction_period"),
                                secondary_qps=1.0 / t.get("secondary_eviction_period"))
        self.eviction_poll = max(0.001, t.s(NODE_EVICTION_PERIOD))
        self.recorder = self.ctx.recorder(EVENT_SOURCE)
        self.known: dict[str, Obj] = {}                     # knownNodeSet
        self.health: dict[str, NodeHealth] = {}             # nodeHealthMap
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, RateLimitedTimedQueue] = {}  # zoneNoExecuteTainter
        self.retry: set[str] = set()                        # nodesToRetry
        self._node_cache: dict[str, tuple[int, Obj]] = {}
        self._lease_cache: dict[str, tuple[int, Obj]] = {}
        self.now: Callable[[], float] = time.time

    # -- wiring ---------------------------------------------------------------------------
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "nodes":
            return [("node", e.name)] if ev.type != "DELETED" else []
        if e.key == "pods":
            # podUpdated: a pod newly bound to a node (add, or nodeName changed).
            node = e.fields.get("spec.nodeName", "")
            if ev.type == "DELETED" or not node:
                return []
            if ev.type == "ADDED" or ev.prev is None or ev.prev.fields.get("spec.nodeName", "") != node:
                return [("pod", e.namespace, e.name)]
        return []

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("nodes")
        return [self.MONITOR] + [("node", e.name) for e in entries]

    def reconcile(self, item: Hashable) -> float | None:
        kind = item[0]  # type: ignore[index]
        if kind == "monitor":
            try:
                self.monitor_node_health()
            except Exception:
                log.exception("node health pass failed")
            return self.monitor_period
        if kind == "noexecute-taint":
            return self.no_execute_tainting_pass()
        if kind == "node":
            self.no_schedule_tainting_pass(item[1])  # type: ignore[index]
            return None
        if kind == "pod":
            self.process_pod(item[1], item[2])  # type: ignore[index]
            return None
        return None

    # -- reads ----------------------------------------------------------------------------
    def _nodes(self) -> list[Obj]:
        entries, _ = self.api.store.list("nodes")
        out = []
        seen = set()
        for e in entries:
            seen.add(e.name)
            cached = self._node_cache.get(e.name)
            if cached is None or cached[0] != e.rv:
                cached = (e.rv, e.obj())
                self._node_cache[e.name] = cached
            out.append(cached[1])
        for name in list(self._node_cache):
            if name not in seen:
                del self._node_cache[name]
        return out

    def _get_node(self, name: str) -> Obj | None:
        e = self.api.store.get("nodes", "", name)
        return None if e is None else e.obj()

    def _lease(self, name: str) -> Obj | None:
        e = self.api.store.get("coordination.k8s.io/leases", LEASE_NAMESPACE, name)
        return None if e is None else e.obj()

    def _leases(self) -> dict[str, Obj]:
        """All node Leases in one read (decoded once per resourceVersion)."""
        entries, _ = self.api.store.list("coordination.k8s.io/leases", LEASE_NAMESPACE)
        out = {}
        for e in entries:
            cached = self._lease_cache.get(e.name)
            if cached is None or cached[0] != e.rv:
                cached = (e.rv, e.obj())
                self._lease_cache[e.name] = cached
            out[e.name] = cached[1]
        for name in [n for n in self._lease_cache if n not in out]:
            del self._lease_cache[name]
        return out

    def _pods_on(self, node_name: str) -> list[Obj]:
        entries, _ = self.api.store.list("pods")
        return [e.obj() for e in entries if e.fields.get("spec.nodeName") == node_name]

    # -- writes ---------------------------------------------------------------------------
    def _swap_taints(self, name: str, add: list[Obj], remove: list[Obj]) -> bool:
        """``SwapNodeControllerTaint``: add (timeAdded = now) then remove, by key and effect."""
        now = clock.rfc3339()
        stamped = [{**t, "timeAdded": now} for t in add]

        def m(cur: Obj) -> Obj:
            taints = taints_of(cur)
            for t in stamped:
                taints = add_or_update_taint(taints, t)
            taints = remove_taints(taints, remove)
            spec = cur.setdefault("spec", {})
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)
            return cur

        try:
            self.api.mutate(self.api.rt("nodes"), None, name, m, manager=MANAGER)
            return True
        except NotFound:
            return False
        except ApiError as exc:
            log.debug("unable to swap taints of node %s: %s", name, exc)
            return False

    def _remove_taints(self, node: Obj, remove: list[Obj]) -> bool:
        """``RemoveTaintOffNode``: nothing to do unless the (cached) node carries one of them."""
        if not any(taint_exists(taints_of(node), t) for t in remove):
            return True
        return self._swap_taints(node["metadata"]["name"], [], remove)

    def mark_node_as_reachable(self, node: Obj) -> bool:
        ok = self._remove_taints(node, [UNREACHABLE_NOEXECUTE, NOT_READY_NOEXECUTE])
        q = self.tainters.get(zone_key(node))
        removed = q.remove(node["metadata"]["name"]) if q is not None else False
        return ok and removed

    def mark_pods_not_ready(self, pods: list[Obj], node_name: str) -> bool:
        """``MarkPodsNotReady``: Ready=False on each pod (status write) and a Warning event."""
        rt = self.api.rt("pods")
        ok = True
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            if get_condition((pod.get("status") or {}).get("conditions"), "Ready") is None:
                continue
            meta = pod["metadata"]
            changed: list[Obj] = []
            uid = meta.get("uid")

            def m(cur: Obj) -> Obj:
                changed.clear()
                if cur["metadata"].get("uid") != uid:
                    raise _Stale()
                cond = get_condition((cur.get("status") or {}).get("conditions"), "Ready")
                if cond is None or cond.get("status") == "False":
                    return cur
                cond["status"] = "False"
                cond["lastTransitionTime"] = clock.rfc3339()
                changed.append(cur)
                return cur

            try:
                updated = self.api.update_status(rt, meta.get("namespace"), meta["name"], m, manager=MANAGER)
            except (NotFound, _Stale):
                continue
            except ApiError as exc:
                log.debug("failed to update status for pod %s/%s: %s", meta.get("namespace"), meta["name"], exc)
                ok = False
                continue
            if changed:
                self.recorder.event(updated, "Warning", "NodeNotReady", "Node is not ready")
        return ok

    # -- the health pass ------------------------------------------------------------------
    def _add_evictor_for_zone(self, node: Obj) -> None:
        zone = zone_key(node)
        if zone not in self.zone_states:
            self.zone_states[zone] = STATE_INITIAL
            self.tainters[zone] = RateLimitedTimedQueue(self.rates.eviction_qps)

    def _try_update_node_health(self, node: Obj, now: float, lease: Obj | None
                                ) -> tuple[Obj, HealthResult] | None:
        """Health for one node, writing Unknown conditions if due; re-read and retried on conflicts."""
        name = node["metadata"]["name"]
        for attempt in range(NODE_HEALTH_UPDATE_RETRY):
            if attempt:
                lease = self._lease(name)
            res = node_health(node, lease, self.health.get(name), now, grace=self.grace,
                              startup_grace=self.startup_grace)
            if res.conditions is None:
                self.health[name] = res.health
                return node, res
            rv = node["metadata"].get("resourceVersion")
            conditions = res.conditions

            def m(cur: Obj) -> Obj:
                if cur["metadata"].get("resourceVersion") != rv:
                    raise _Stale()
                cur.setdefault("status", {})["conditions"] = conditions
                return cur

            try:
                self.api.update_status(self.api.rt("nodes"), None, name, m, manager=MANAGER)
            except (_Stale, ApiError) as exc:
                self.health[name] = res.health
                if isinstance(exc, NotFound):
                    return None
                fresh = self._get_node(name)
                if fresh is None:
                    return None
                node = fresh
                now = self.now()
                continue
            assert res.health_after_write is not None
            self.health[name] = res.health_after_write
            return node, res
        return None

    def monitor_node_health(self) -> None:
        """``monitorNodeHealth`` + ``handleDisruption`` + the NoExecute tainting pass."""
        nodes = self._nodes()
        names = {n["metadata"]["name"] for n in nodes}
        added = [n for n in nodes if n["metadata"]["name"] not in self.known]
        for n in nodes:
            if n["metadata"]["name"] in self.known and zone_key(n) not in self.zone_states:
                self._add_evictor_for_zone(n)  # newZoneRepresentatives
        for n in added:
            name = n["metadata"]["name"]
            self.recorder.event(_node_ref(n), "Normal", "RegisteredNode",
                                f"Node {name} event: Registered Node {name} in Controller")
            self.known[name] = n
            self._add_evictor_for_zone(n)
            self.mark_node_as_reachable(n)
        for name in [k for k in self.known if k not in names]:
            gone = self.known.pop(name)
            self.recorder.event(_node_ref(gone), "Normal", "RemovingNode",
                                f"Node {name} event: Removing Node {name} from Controller")
            self.retry.discard(name)

        zone_ready: dict[str, list[str | None]] = {}
        leases = self._leases()
        for node in nodes:
            got = self._try_update_node_health(node, self.now(), leases.get(node["metadata"]["name"]))
            if got is None:
                continue
            node, res = got
            name = node["metadata"]["name"]
            if not _excluded(node):
                cur = res.current_ready
                zone_ready.setdefault(zone_key(node), []).append(cur.get("status") if cur else None)
            if res.current_ready is None:
                self.retry.discard(name)
                continue
            self.process_taint_base_eviction(node, res.observed_ready.get("status", ""))
            observed_true = res.observed_ready.get("status") == "True"
            transition = res.current_ready.get("status") != "True" and observed_true
            if transition:
                self.recorder.event(_node_ref(node), "Normal", "NodeNotReady",
                                    f"Node {name} status is now: NodeNotReady")
            if transition or (name in self.retry and not observed_true):
                if not self.mark_pods_not_ready(self._pods_on(name), name):
                    self.retry.add(name)
                    continue
            self.retry.discard(name)

        self._handle_disruption(zone_ready, nodes)
        self.no_execute_tainting_pass()

    def process_taint_base_eviction(self, node: Obj, observed_status: str) -> None:
        d = taint_base_eviction(node, observed_status)
        if d is None:
            return
        name = node["metadata"]["name"]
        if d.kind == "swap":
            self._swap_taints(name, [{"key": k, "effect": "NoExecute"} for k in d.add],
                              [{"key": k, "effect": "NoExecute"} for k in d.remove])
        elif d.kind == "queue":
            self.mark_node_for_tainting(node, d.status)
        else:
            self.mark_node_as_reachable(node)

    def mark_node_for_tainting(self, node: Obj, status: str) -> bool:
        q = self.tainters[zone_key(node)]
        name = node["metadata"]["name"]
        taints = taints_of(node)
        if status == "False" and not taint_exists(taints, NOT_READY_NOEXECUTE):
            q.remove(name)
        if status == "Unknown" and not taint_exists(taints, UNREACHABLE_NOEXECUTE):
            q.remove(name)
        return q.add(name, node["metadata"].get("uid", ""), self.now())

    def _handle_disruption(self, zone_ready: dict[str, list[str | None]], nodes: list[Obj]) -> None:
        d = handle_disruption(zone_ready, self.zone_states, self.rates)
        now = self.now()
        if d.enter_master_disruption:
            log.info("all nodes are not ready: entering master disruption mode")
            for n in nodes:
                cur = self._get_node(n["metadata"]["name"]) or n
                self.mark_node_as_reachable(cur)
        if d.exit_master_disruption:
            log.info("some nodes are ready: exiting master disruption mode")
            for n in nodes:
                h = self.health.get(n["metadata"]["name"])
                if h is not None:
                    h.probe = now
                    h.ready_transition = now
        for zone, qps in d.limiters.items():
            q = self.tainters.get(zone)
            if q is not None:
                if q.limiter.qps != qps:
                    log.info("zone %s is now %s: NoExecute tainting at %g nodes/s", zone_label(zone),
                             d.zone_states.get(zone), qps)
                q.swap_limiter(qps, now)
        self.zone_states = d.zone_states

    def no_execute_tainting_pass(self) -> float | None:
        """``doNoExecuteTaintingPass``: drain the zone queues as their limiters allow."""
        now = self.now()
        wake: float | None = None
        for zone in list(self.tainters):
            q = self.tainters[zone]
            q.try_(self._taint_one, now)
            nxt = q.next_try(self.now())
            if nxt is not None:
                nxt = max(nxt, self.eviction_poll)
                wake = nxt if wake is None else min(wake, nxt)
        if wake is not None:
            self.enqueue(self.TAINT, wake)
        return None

    def _taint_one(self, value: TimedValue) -> tuple[bool, float]:
        node = self._get_node(value.value)
        if node is None:
            return True, 0.0
        cond = get_condition((node.get("status") or {}).get("conditions"), "Ready")
        if cond is None:
            return False, max(0.001, self.timings.s(0.05))
        swap = no_execute_swap_for(cond.get("status"))
        if swap is None:
            return True, 0.0  # ready again: nothing to taint
        add, opposite = swap
        ok = self._swap_taints(value.value, [{"key": add, "effect": "NoExecute"}],
                               [{"key": opposite, "effect": "NoExecute"}])
        return ok, 0.0

    # -- event-driven passes --------------------------------------------------------------
    def no_schedule_tainting_pass(self, name: str) -> None:
        node = self._get_node(name)
        if node is None:
            return
        add, remove = noschedule_taint_diff(node)
        if add or remove:
            if not self._swap_taints(name, add, remove):
                self.enqueue(("node", name), max(0.01, self.monitor_period))

    def process_pod(self, namespace: str, name: str) -> None:
        """``processPod``: a pod bound to a node this controller knows as not ready is marked NotReady."""
        e = self.api.store.get("pods", namespace, name)
        if e is None:
            return
        pod = e.obj()
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        h = self.health.get(node_name)
        if h is None or self.api.store.get("nodes", "", node_name) is None:
            return
        ready = get_condition((h.status or {}).get("conditions"), "Ready")
        if ready is None:
            return
        if ready.get("status") != "True":
            if not self.mark_pods_not_ready([pod], node_name):
                self.enqueue(("pod", namespace, name), max(0.01, self.monitor_period))


def _excluded(node: Obj) -> bool:
    return excluded_from_disruption(node)
