"""The simulated kubelet: one agent per node, driving a container runtime (issue 3).

``Kubelet(ctx, node_name, runtime)`` with ``start()`` / ``stop()``. Each node has its own
deduplicating work queue (``base.Controller``), run one item at a time by the cluster's shared
node-agent threads (``base.WorkerPool``, ``ctx.extra["kubelet_pool"]``; a thread of its own when
there is no pool); its items are the node's pods
(``("pod", ns, name)``) and a few timers: ``boot``, ``relist`` (poll the runtime for containers
that ended, PLEG's job) and ``power`` (fault changes). The node status and the Lease are posted
from the cluster's heartbeat thread instead (``base.Heartbeats``, ``ctx.extra["kubelet_heartbeats"]``;
one of its own without it), as upstream's kubelet runs them in loops of their own: pod work never
delays a renewal.

What it does, and where the decisions live (pure, table-tested):
- node status and lease (NL-01): ``kubelet_status.node_status`` / ``node_conditions``; the lease
  ``kube-node-lease/<node>`` is renewed every ``lease_renew``, the status recomputed every
  ``node_status_update`` and written only when it changed or ``node_status_report`` passed;
- pod lifecycle (PL-02..PL-05): ``kubelet_pods.next_action`` per container, ``pod_action`` per pod,
  ``kubelet_status.compute_pod_status`` for what gets posted;
- probes (PL-06): ``kubelet_probes``;
- graceful termination (PL-07): containers get ``deletionGracePeriodSeconds * scale`` seconds of
  wall time (the profile scales the grace the API recorded), then the kubelet posts the terminal
  status and issues the final ``DELETE`` with gracePeriodSeconds=0 and a UID precondition.

Faults (``kubesim.faults``): with the kubelet stopped nothing is written or read and the
runtime's containers are killed once (``kill_all``); when it starts again it behaves like a
rebooted machine (new bootID, ``Rebooted`` event, pods' sandboxes re-created with restartCount+1
and lastState ``Unknown``/255, pods deleted meanwhile cleaned up, terminating pods finalized).
Partitioned (kubelet running, API unreachable): containers keep running and restarting from the
kubelet's cached pods, but no write leaves the node and no API change is seen; on healing the
kubelet relists and catches up.

Timings: every duration is ``ctx.timings.get(...)`` or an upstream constant times
``ctx.timings.scale``: probe periods and delays, back-offs, the 1 s PLEG relist (floored at
0.1 s of wall time) and the 60 s pod resync (floored at 2 s).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from .. import clock
from ..api import DeleteOptions
from ..errors import ApiError, Conflict, NotFound
from ..runtime import VolumeError
from ..store import Event
from . import kubelet_probes as probes
from .base import Controller, ControllerContext, Heartbeats
from .kubelet_pods import CState, Timing, init_cursor, next_action, pod_action, pull_failed, restarted
from .kubelet_status import (ContainerView, PodView, allocate_ip, compute_pod_status, default_pull_policy,
                             fallback_cidr, fallback_internal_ip, go_duration, image_id, image_size,
                             node_status, node_status_differs, normalize_image, pod_ref, pull_error,
                             pulled_message, qualify_container_id, status_differs, terminated_dict)

log = logging.getLogger("kubesim.kubelet")

__all__ = ["Kubelet"]

LEASE_NAMESPACE = "kube-node-lease"
# pkg/kubelet/volumemanager/volume_manager.go: podAttachAndMountTimeout = 2*time.Minute + 3*time.Second
POD_ATTACH_AND_MOUNT_TIMEOUT = 123.0
WAIT_TIMEOUT_SUFFIX = ": timed out waiting for the condition"
DSW_POPULATOR_PERIOD = 0.1  # desiredStateOfWorldPopulatorLoopSleepPeriod (wall time, like the relist floor)
LEASE_DURATION_SECONDS = 40  # NodeLeaseDurationSeconds (k8s.io/kubelet config/v1beta1 types.go)
MANAGER = "kubelet"


def _runs_in_shell(c: dict[str, Any]) -> bool:
    """Does the runtime run this container's command in its exec shell (rather than simulate it)?"""
    argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
    if not c.get("command"):
        return False
    try:
        from ..runtime.shell import can_run
    except ImportError:  # pragma: no cover - the runtime is optional
        return True
    return can_run(argv)


class _Gone(Exception):
    """The stored pod is another pod (same name, new UID): the write is not ours to make."""


@dataclass
class PodRecord:
    uid: str
    ns: str
    name: str
    pod: dict[str, Any]
    view: PodView
    cs: dict[str, CState] = field(default_factory=dict)  # keyed "i/<name>" or "c/<name>"
    grace_deadline: float | None = None
    grace_wall: float | None = None
    stopped: set[str] = field(default_factory=set)  # containers told to stop for the deletion
    frozen: bool = False  # adopted terminal pod: nothing to do but wait for its deletion
    failed_mount_at: float | None = None
    mount_wait_since: float | None = None  # WaitForAttachAndMount waiting since (no FailedMount before it fails)
    mount_recheck_at: float | None = None

    def key(self, init: bool, name: str) -> str:
        return ("i/" if init else "c/") + name

    def containers(self) -> list[tuple[bool, dict[str, Any]]]:
        spec = self.pod.get("spec") or {}
        return [(True, c) for c in spec.get("initContainers") or []] + \
            [(False, c) for c in spec.get("containers") or []]

    def cview(self, init: bool, name: str) -> ContainerView | None:
        return (self.view.init if init else self.view.main).get(name)

    def running(self) -> list[tuple[bool, str]]:
        out = []
        for init, c in self.containers():
            cs = self.cs.get(self.key(init, c["name"]))
            if cs is not None and cs.stage == "running":
                out.append((init, c["name"]))
        return out


class _PodDispatch:
    """One pod subscription for all of a cluster's pooled kubelets, delivering by node name.

    Each kubelet only ever acts on pods bound to its node (now or before the change, see
    ``Kubelet.items_for``); with a subscription each, every pod write called all of them, under
    the store's lock. The same events reach the same kubelets, in the same order, in one call.
    """

    KEY = "kubelet_pod_dispatch"

    def __init__(self, store: Any) -> None:
        self._by_node: dict[str, list["Kubelet"]] = {}
        self._sub = store.subscribe("pods", None, None, self._deliver)

    @classmethod
    def of(cls, ctx: ControllerContext) -> "_PodDispatch":
        d = ctx.extra.get(cls.KEY)
        if d is None:
            d = ctx.extra[cls.KEY] = cls(ctx.api.store)
        return d

    def add(self, k: "Kubelet") -> None:
        lst = self._by_node.get(k.node, [])
        self._by_node[k.node] = [*lst, k]  # copy on write: _deliver reads without a lock

    def remove(self, k: "Kubelet") -> None:
        lst = [x for x in self._by_node.get(k.node, []) if x is not k]
        if lst:
            self._by_node[k.node] = lst
        else:
            self._by_node.pop(k.node, None)

    def close(self) -> None:
        self._sub.close()

    def _deliver(self, ev: Event) -> None:
        node = ev.entry.fields.get("spec.nodeName")
        old = ev.prev.fields.get("spec.nodeName") if ev.prev is not None else None
        for k in self._by_node.get(node or "", ()):
            k._on_event(ev)
        if old and old != node:
            for k in self._by_node.get(old, ()):
                k._on_event(ev)


class Kubelet(Controller):
    name = "kubelet"
    watches = ("pods",)

    def __init__(self, ctx: ControllerContext, node_name: str, runtime: Any) -> None:
        super().__init__(ctx)
        self.node = node_name
        self.name = f"kubelet-{node_name}"
        self.runtime = runtime
        self.faults = self.ctx.faults
        t = self.ctx.timings
        self.scale = t.scale
        self.resync_seconds = max(2.0, t.s(60.0))  # kubelet syncFrequency 1m
        self.relist_seconds = max(0.1, t.s(1.0))  # PLEG relist period 1s
        self.t = Timing(container_start=t.get("container_start"), restart_initial=t.get("restart_backoff_initial"),
                        restart_max=t.get("restart_backoff_max"), pull_initial=t.get("restart_backoff_initial"),
                        pull_max=t.get("image_pull_backoff_max"), worker_period=t.s(10.0))
        self.recorder = self.ctx.recorder("kubelet", host=node_name)
        self._records: dict[str, PodRecord] = {}
        self._by_key: dict[tuple[str, str], set[str]] = {}
        self._images: set[str] = set()
        self._dead_uids: set[str] = set()  # pods whose containers a power loss killed
        self._ip_last: str | None = None
        self._tls = threading.local()
        self._up = False  # powered on and booted
        self._partitioned = False
        self._stopped = False
        self._boot_id = clock.new_uid()
        self._machine_id = clock.new_uid().replace("-", "")
        self._system_uuid = clock.new_uid()
        self._internal_ip = ""
        self._pod_cidr = ""
        self._last_report = 0.0  # monotonic time of the last node status write
        self._node_rv_checked = -1  # the Node revision last found to need no write
        self._power_losses = 0
        self._power_losses_seen = 0
        self._heartbeats: Heartbeats | None = None  # where the node status and Lease timers run
        self._own_heartbeats = False  # a thread of this kubelet's own (no cluster-wide one)
        self.booted = threading.Event()  # set once the first boot posted the node status (tests wait on it)

    # -- wiring ------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopped = False
        self._heartbeats = self.ctx.extra.get("kubelet_heartbeats")
        self._own_heartbeats = self._heartbeats is None
        if self._own_heartbeats:
            self._heartbeats = Heartbeats(f"kubesim-{self.name}-heartbeats", store=getattr(self.api, "store", None))
        self.faults.on_change(self._on_fault)
        pool = self.ctx.extra.get("kubelet_pool")
        if pool is not None:  # the cluster's shared node-agent threads (base.WorkerPool)
            _PodDispatch.of(self.ctx).add(self)
            self.enqueue("power")
            self.run_in(pool)
            return
        for key in self.watches:
            self._subs.append(self.api.store.subscribe(key, None, None, self._on_event))
        self.enqueue("power")
        self._thread = threading.Thread(target=self._run, name=f"kubesim-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the agent; the node's containers stop with it (the machine is going away)."""
        self._stopped = True  # no heartbeat starts a renewal from here on
        dispatch = self.ctx.extra.get(_PodDispatch.KEY)
        if dispatch is not None:
            dispatch.remove(self)
        super().stop()
        self._disarm()  # after the queue's last item (a boot re-arms); waits for a renewal in progress
        if self._own_heartbeats and self._heartbeats is not None:
            self._heartbeats.close()
        try:
            self.runtime.kill_all()
        except Exception:
            log.debug("%s: kill_all on stop failed", self.name, exc_info=True)

    def _on_fault(self, kind: str, subject: str) -> None:
        if self._stopped or subject != self.node or kind not in ("kubelet", "network"):
            return
        if kind == "kubelet" and not self.faults.kubelet_running(self.node):
            with self._cond:
                self._power_losses += 1  # counted, so an off/on faster than the worker is still a reboot
        self.enqueue("power")

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        if getattr(self._tls, "writing", False):
            return []  # our own status write
        if not self._up or self._partitioned:
            return []  # a stopped or cut-off kubelet sees nothing
        e = ev.entry
        node = e.fields.get("spec.nodeName")
        if node != self.node and not (ev.prev is not None and ev.prev.fields.get("spec.nodeName") == self.node):
            return []
        return [("pod", e.namespace, e.name)]

    def all_items(self) -> Iterable[Hashable]:
        if not self._up:
            return []
        items = {("pod", ns, name) for (ns, name) in self._by_key}
        if not self._partitioned:
            entries, _ = self.api.store.list("pods")
            items.update(("pod", e.namespace, e.name) for e in entries if e.fields.get("spec.nodeName") == self.node)
        return items

    # -- dispatch ----------------------------------------------------------------------------
    def reconcile(self, item: Hashable) -> float | None:
        if self._stopped:
            return None
        if item == "power":
            return self._power()
        if not self._up:
            return None
        if item == "boot":
            return self._boot()
        if item == "relist":
            self._relist()
            return self.relist_seconds
        if isinstance(item, tuple) and item and item[0] == "pod":
            return self._sync_key(item[1], item[2])
        return None

    def _reachable(self) -> bool:
        return self.faults.reachable(self.node)

    # -- power and network -------------------------------------------------------------------
    def _power(self) -> float | None:
        running = self.faults.kubelet_running(self.node)
        with self._cond:
            lost = self._power_losses != self._power_losses_seen
            self._power_losses_seen = self._power_losses
        if (lost or not running) and self._up:
            self._up = False
            self._disarm()  # the process is gone: its next boot posts and re-arms
            log.info("%s: kubelet stopped: killing all containers", self.name)
            try:
                self.runtime.kill_all()
            except Exception:
                log.debug("%s: kill_all failed", self.name, exc_info=True)
            self._dead_uids.update(self._records)
            self._records.clear()
            self._by_key.clear()
        if not running:
            return None
        if not self._up:
            self._up = True
            self._partitioned = not self._reachable()
            self._boot_id = clock.new_uid()
            # A new kubelet process: client-go's event correlator (its dedup cache) starts empty, so the
            # events of this boot are new Event objects, not count bumps of the previous boot's.
            self.recorder = self.ctx.recorder("kubelet", host=self.node)
            self.enqueue("boot")
            return None
        reachable = self._reachable()
        if reachable and self._partitioned:
            self._partitioned = False
            self.enqueue_all()
            self._arm(status_in=0.0, lease_in=0.0)
        elif not reachable:
            self._partitioned = True
        return None

    def _boot(self) -> float | None:
        """Kubelet start: node status, lease, then every pod bound here (reboot semantics)."""
        if not self._reachable():
            return max(0.1, self.timings.s(1.0))
        entry = self.api.store.get("nodes", "", self.node)
        if entry is None:
            return max(0.1, self.timings.s(1.0))  # not registered yet
        node = entry.obj()
        self._internal_ip = self._find_internal_ip(node)
        spec = node.get("spec") or {}
        self._pod_cidr = spec.get("podCIDR") or fallback_cidr(self.node)
        self._init_ip_cursor()
        self._node_event("Normal", "Starting", "Starting kubelet.")
        self._node_status(force=True, boot=True)
        self._renew_lease()
        for uid in list(self._dead_uids):
            # Pods whose containers the power loss killed and that are gone from the API now.
            if not any(e.obj()["metadata"].get("uid") == uid for e in self._pods_here()):
                self._remove_pod(uid)
            self._dead_uids.discard(uid)
        self._arm(status_in=self.timings.get("node_status_update"), lease_in=self.timings.get("lease_renew"))
        self.enqueue("relist", self.relist_seconds)
        self.enqueue_all()
        self.booted.set()
        return None

    def _pods_here(self) -> list[Any]:
        entries, _ = self.api.store.list("pods")
        return [e for e in entries if e.fields.get("spec.nodeName") == self.node]

    def _find_internal_ip(self, node: dict[str, Any]) -> str:
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP" and a.get("address"):
                return a["address"]
        ann = ((node.get("metadata") or {}).get("annotations") or {}).get("kubesim.io/internal-ip")
        if ann:
            return ann
        spec = (self.ctx.extra.get("node_specs") or {}).get(self.node)
        if spec is not None and getattr(spec, "internal_ip", ""):
            return spec.internal_ip
        ips = self.ctx.extra.get("node_internal_ips") or {}
        return ips.get(self.node) or fallback_internal_ip(self.node)

    def _init_ip_cursor(self) -> None:
        import ipaddress

        best = None
        for e in self._pods_here():
            ip = e.fields.get("status.podIP")
            if ip and ip != self._internal_ip:
                try:
                    v = ipaddress.ip_address(ip)
                except ValueError:
                    continue
                if best is None or v > best:
                    best = v
        if best is not None and (self._ip_last is None or ipaddress.ip_address(self._ip_last) < best):
            self._ip_last = str(best)

    # -- heartbeats: node status and Lease, on their own thread (base.Heartbeats) ---------------
    def _arm(self, status_in: float, lease_in: float) -> None:
        """(Re)start the node status and Lease timers: first post in ``status_in`` / ``lease_in`` seconds."""
        hb = self._heartbeats
        if hb is None or self._stopped:  # never started (tests driving _power/_boot by hand), or stopped
            return
        hb.schedule((self, "node"), self._status_beat, status_in)
        hb.schedule((self, "lease"), self._lease_beat, lease_in)

    def _disarm(self) -> None:
        hb = self._heartbeats
        if hb is not None:
            hb.cancel((self, "node"))
            hb.cancel((self, "lease"))

    def _status_beat(self) -> float | None:
        """kubelet.go syncNodeStatus, every nodeStatusUpdateFrequency."""
        if self._stopped or not self._up:
            return None  # powered off: the next boot posts and re-arms
        self._node_status()
        return self.timings.get("node_status_update")

    def _lease_beat(self) -> float | None:
        """The node lease controller's sync, every renewInterval (``lease_renew``)."""
        if self._stopped or not self._up:
            return None
        self._renew_lease()  # skipped while partitioned (checked at renewal time)
        return self.timings.get("lease_renew")

    # -- writes (skipped when cut off) --------------------------------------------------------
    def _node_event(self, type_: str, reason: str, message: str) -> None:
        # The kubelet's node reference uses the node name as UID (kubelet.go nodeRef).
        self._event({"kind": "Node", "apiVersion": "", "metadata": {"name": self.node, "uid": self.node}},
                    type_, reason, message)

    def _event(self, obj: dict[str, Any], type_: str, reason: str, message: str,
               field_path: str | None = None) -> None:
        if not self._reachable():
            return
        self.recorder.event(obj, type_, reason, message, field_path=field_path)

    def _node_status(self, force: bool = False, boot: bool = False) -> None:
        if not self._reachable():
            return
        rt = self.api.rt("nodes")
        entry = self.api.store.get("nodes", "", self.node)
        if entry is None:
            return
        major, minor = self.ctx.k8s_version
        kv = f"v{major}.{minor}.0"
        events: list[str] = []

        def build(cur: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
            return node_status(cur, now=clock.rfc3339(), internal_ip=self._internal_ip, boot_id=self._boot_id,
                               kubelet_version=kv, machine_id=self._machine_id, system_uuid=self._system_uuid)

        due = time.monotonic() - self._last_report >= self.timings.get("node_status_report")
        if not (force or due) and entry.rv == self._node_rv_checked:
            return  # nobody changed the Node since it matched what this kubelet would post
        cur = entry.obj()
        new, _ = build(cur)
        if not (force or due or node_status_differs(cur.get("status") or {}, new)):
            self._node_rv_checked = entry.rv
            return

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            nonlocal events
            obj["status"], events = build(obj)
            return obj

        try:
            written = self.api.update_status(rt, None, self.node, mutate, manager=MANAGER)
        except NotFound:
            return
        self._node_rv_checked = int(written["metadata"]["resourceVersion"])
        self._last_report = time.monotonic()
        for ev in events:
            if ev == "Rebooted":
                self._node_event("Warning", "Rebooted", f"Node {self.node} has been rebooted, boot id: {self._boot_id}")
                continue
            if ev == "NodeReady" and boot:
                self._node_event("Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
            self._node_event("Normal", ev, f"Node {self.node} status is now: {ev}")
        if boot and "NodeReady" not in events:
            self._node_event("Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")

    def _renew_lease(self) -> None:
        """nodelease controller: holderIdentity, leaseDurationSeconds 40, renewTime now, owned by the Node."""
        if not self._reachable():
            return
        rt = self.api.rt("coordination.k8s.io/leases")
        now = clock.rfc3339_micro()
        node = self.api.store.get("nodes", "", self.node)
        owner = None
        if node is not None:
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.node, "uid": node.view()["metadata"]["uid"]}

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            spec = cur.setdefault("spec", {})
            spec["holderIdentity"] = self.node
            spec["leaseDurationSeconds"] = LEASE_DURATION_SECONDS
            spec["renewTime"] = now
            if owner is not None and not (cur["metadata"].get("ownerReferences")):
                cur["metadata"]["ownerReferences"] = [owner]
            return cur

        try:
            self.api.mutate(rt, LEASE_NAMESPACE, self.node, mutate, manager=MANAGER, want_result=False)
            return
        except NotFound:
            pass
        if owner is None:
            return
        from ..api import Request

        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node, "namespace": LEASE_NAMESPACE, "ownerReferences": [owner]},
                "spec": {"holderIdentity": self.node, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                         "renewTime": now}}
        try:
            self.api.create(rt, LEASE_NAMESPACE, body, Request(field_manager=MANAGER))
        except ApiError as exc:
            log.debug("%s: lease create failed: %s", self.name, exc)

    # -- pods --------------------------------------------------------------------------------
    def _sync_key(self, ns: str, name: str) -> float | None:
        reachable = self._reachable()
        obj = None
        if reachable:
            entry = self.api.store.get("pods", ns, name)
            if entry is not None and entry.fields.get("spec.nodeName") == self.node:
                # The shared read-only view (Entry.view): the kubelet and the runtime only read pod
                # objects (what they write is built afresh), and a private decoding per sync was a
                # second copy of every pod (1,000 pods: ~20 MB) and a decode per periodic resync.
                obj = entry.view()
        uid_now = (obj or {}).get("metadata", {}).get("uid")
        due: list[float] = []
        for uid in list(self._by_key.get((ns, name), ())):
            rec = self._records.get(uid)
            if rec is None:
                continue
            if reachable and uid != uid_now:
                self._teardown(rec)
                continue
            d = self._sync_record(rec, obj if reachable else rec.pod)
            if d is not None:
                due.append(d)
        if obj is not None and uid_now not in self._records:
            rec = self._admit(obj)
            if rec is not None:
                d = self._sync_record(rec, obj)
                if d is not None:
                    due.append(d)
        if not due:
            return None
        return max(0.0, min(due) - time.time())

    def _admit(self, pod: dict[str, Any]) -> PodRecord | None:
        meta = pod["metadata"]
        status = pod.get("status") or {}
        now = time.time()
        view = PodView(uid=meta["uid"], host_ip=self._internal_ip, start_time=now)
        rec = PodRecord(meta["uid"], meta.get("namespace", ""), meta["name"], pod, view)
        self._records[rec.uid] = rec
        self._by_key.setdefault((rec.ns, rec.name), set()).add(rec.uid)
        if status.get("phase") in ("Succeeded", "Failed"):
            rec.frozen = True  # finished before this kubelet (re)started: nothing left to run
            return rec
        previous = status.get("containerStatuses") or status.get("initContainerStatuses")
        if previous and not meta.get("deletionTimestamp"):
            self._adopt(rec, pod)
        return rec

    def _adopt(self, rec: PodRecord, pod: dict[str, Any]) -> None:
        """A pod this node ran before the kubelet (or the machine) restarted: its sandbox is re-created."""
        status = pod.get("status") or {}
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        now = time.time()
        had_instances = False
        for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
            specs = {c["name"]: c for c in spec.get("initContainers" if init else "containers") or []}
            for s in status.get(key) or []:
                name = s.get("name", "")
                if name not in specs:
                    continue
                st = s.get("state") or {}
                cv = ContainerView(name, init=init, restart_count=int(s.get("restartCount") or 0),
                                   last_terminated=(s.get("lastState") or {}).get("terminated"),
                                   image=s.get("image", ""), image_id=s.get("imageID", ""))
                cs = CState()
                had_instances = had_instances or "running" in st or "terminated" in st
                if "running" in st:
                    started = clock.parse_time(st["running"].get("startedAt"))
                    lost = {"exitCode": 255, "reason": "Unknown",
                            "startedAt": st["running"].get("startedAt"), "finishedAt": clock.rfc3339(),
                            "containerID": s.get("containerID", "")}
                    sidecar = init and (specs[name].get("restartPolicy") or "") == "Always"
                    if init and not sidecar:
                        cv.last_terminated = lost  # an unfinished init container runs again
                        cv.restart_count += 1
                    elif policy == "Never" and not sidecar:
                        cv.state, cv.reason, cv.exit_code = "terminated", "Unknown", 255
                        cv.started_at = started.timestamp() if started else None
                        cv.finished_at = now
                        cv.container_id = s.get("containerID", "")
                        cv.created = True
                        cs.stage = "exited"
                    else:
                        cv.last_terminated = lost
                        cv.restart_count += 1
                elif "terminated" in st:
                    t = st["terminated"]
                    cv.state, cv.reason, cv.exit_code = "terminated", t.get("reason", ""), t.get("exitCode", 0)
                    st_at = clock.parse_time(t.get("startedAt"))
                    fin = clock.parse_time(t.get("finishedAt"))
                    cv.started_at = st_at.timestamp() if st_at else None
                    cv.finished_at = fin.timestamp() if fin else now
                    cv.container_id = t.get("containerID", "") or s.get("containerID", "")
                    cv.message = t.get("message", "")
                    cv.created = True
                    cs.stage = "exited"
                (rec.view.init if init else rec.view.main)[name] = cv
                rec.cs[rec.key(init, name)] = cs
        if status.get("startTime"):
            st0 = clock.parse_time(status["startTime"])
            rec.view.start_time = st0.timestamp() if st0 else rec.view.start_time
        if had_instances:
            self._event(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")

    def _sync_record(self, rec: PodRecord, pod: dict[str, Any]) -> float | None:
        rec.pod = pod
        if rec.frozen:
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                return self._finalize(rec, pod)
            return None
        now = time.time()
        action = pod_action(pod, has_running=bool(rec.running()), now=now, grace_deadline=rec.grace_deadline)
        if action == "terminate":
            return self._terminate(rec, pod, now)
        if action == "finalize":
            return self._finalize(rec, pod)
        if action == "terminal":
            self._stop_leftovers(rec, pod)
            rec.view.terminal = True
            self._post_status(rec)
            return None
        due = self._run_pod(rec, pod, now)
        self._post_status(rec)
        return due

    # -- running a pod ----------------------------------------------------------------------
    def _run_pod(self, rec: PodRecord, pod: dict[str, Any], now: float) -> float | None:
        spec = pod.get("spec") or {}
        if not rec.view.sandbox_ready:
            if not self._sandbox(rec, pod, now):
                retry = now + max(0.05, self.timings.s(2.0))
                return min(retry, rec.mount_recheck_at) if rec.mount_recheck_at else retry
        due: list[float] = []
        inits = spec.get("initContainers") or []
        cursor, done = init_cursor(
            inits,
            {c["name"]: rec.cs.get(rec.key(True, c["name"]), CState()).stage for c in inits},
            {c["name"]: (rec.cview(True, c["name"]) or ContainerView(c["name"])).exit_code for c in inits},
            {c["name"]: (rec.cview(True, c["name"]) or ContainerView(c["name"])).started for c in inits})
        # Sidecars already started keep being driven; the init container at the cursor runs.
        for i, c in enumerate(inits):
            is_sidecar = (c.get("restartPolicy") or "") == "Always"
            if (cursor is not None and i == cursor) or (is_sidecar and (cursor is None or i < cursor)):
                d = self._drive(rec, pod, c, True, now)
                if d is not None:
                    due.append(d)
        if done:
            for c in spec.get("containers") or []:
                d = self._drive(rec, pod, c, False, now)
                if d is not None:
                    due.append(d)
        return min(due) if due else None

    def _sandbox(self, rec: PodRecord, pod: dict[str, Any], now: float) -> bool:
        try:
            self.runtime.prepare_pod(self._runtime_pod(rec, pod))
        except VolumeError as exc:
            # kubelet.go SyncPod records FailedMount when volume_manager.go WaitForAttachAndMount fails: at
            # once for an error the desired-state populator recorded for the pod (claim missing, unbound ...),
            # but the populator only looks every 100 ms, so a claim bound meanwhile never shows; and only
            # after podAttachAndMountTimeout (2m3s) when it is waiting for an attach ("timed out waiting for
            # the condition"), so an attach that takes a moment leaves no event.
            if rec.mount_wait_since is None:
                rec.mount_wait_since = now
            wait = (self.timings.s(POD_ATTACH_AND_MOUNT_TIMEOUT) if exc.message.endswith(WAIT_TIMEOUT_SUFFIX)
                    else DSW_POPULATOR_PERIOD)
            if now - rec.mount_wait_since < wait:
                rec.mount_recheck_at = rec.mount_wait_since + wait
                return False
            rec.mount_wait_since = now  # the next sync iteration waits again
            rec.mount_recheck_at = None
            self._event(pod, "Warning", exc.reason or "FailedMount", exc.message)
            rec.failed_mount_at = now
            return False
        except Exception as exc:
            self._event(pod, "Warning", "FailedCreatePodSandBox", f"Failed to create pod sandbox: {exc}")
            return False
        rec.mount_wait_since = rec.mount_recheck_at = None
        spec = pod.get("spec") or {}
        if spec.get("hostNetwork"):
            rec.view.pod_ip = self._internal_ip
        elif not rec.view.pod_ip:
            ip = allocate_ip(self._pod_cidr, self._ips_in_use(), self._ip_last)
            if ip is None:
                self._event(pod, "Warning", "FailedCreatePodSandBox",
                            f"Failed to create pod sandbox: failed to allocate for range 0: no IP addresses "
                            f"available in range set: {self._pod_cidr}")
                return False
            self._ip_last = ip
            rec.view.pod_ip = ip
        rec.view.sandbox_ready = True
        return True

    def _ips_in_use(self) -> set[str]:
        return {r.view.pod_ip for r in self._records.values() if r.view.pod_ip and not r.view.terminal}

    def _fp(self, init: bool, name: str) -> str:
        return f"spec.{'initContainers' if init else 'containers'}{{{name}}}"

    def _drive(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], init: bool, now: float) -> float | None:
        """Advance one container as far as it goes now; returns when to look again (or None)."""
        name = c["name"]
        key = rec.key(init, name)
        cs = rec.cs.setdefault(key, CState())
        views = rec.view.init if init else rec.view.main
        cv = views.get(name)
        if cv is None:
            cv = views[name] = ContainerView(name, init=init, sidecar=init and c.get("restartPolicy") == "Always")
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        fp = self._fp(init, name)
        for _ in range(8):
            act = next_action(c, cs, init=init, policy=policy, exit_code=cv.exit_code, finished_at=cv.finished_at,
                              now=now, t=self.t)
            k = act.kind
            if k == "pull":
                self._pull(rec, pod, c, cs, cv, fp, now)
                continue
            if k == "pull_done":
                self._pull_done(rec, pod, c, cs, cv, fp, now)
                continue
            if k == "start":
                self._start(rec, pod, c, cs, cv, fp, now)
                continue
            if k in ("poll", "poll_killing"):
                if self._poll(rec, pod, c, cs, cv, now):
                    continue  # it ended: decide what next
                if k == "poll_killing":
                    return act.at  # being killed: no probes, look again at the end of its grace
                return self._probe(rec, pod, c, cs, cv, policy, fp, now)
            if k == "restart":
                if cv.state == "terminated":
                    cv.last_terminated = terminated_dict(cv)
                cv.restart_count += 1
                fin = cv.finished_at if cv.finished_at is not None else now
                restarted(cs, fin, now, self.t)
                cv.state, cv.reason, cv.message, cv.exit_code = "waiting", "ContainerCreating", "", None
                cv.ready = cv.started = False
                continue
            if k == "crash_backoff":
                backoff = cs.crash_backoff or self.t.restart_initial
                if cv.state == "terminated":
                    cv.last_terminated = terminated_dict(cv)
                cv.state, cv.reason = "waiting", "CrashLoopBackOff"
                cv.message = (f"back-off {go_duration(backoff)} restarting failed container={name} "
                              f"pod={pod_ref(pod)}")
                cv.ready = cv.started = False
                if cs.backoff_event_at is None:
                    cs.backoff_event_at = now
                    self._event(pod, "Warning", "BackOff",
                                f"Back-off restarting failed container {name} in pod {pod_ref(pod)}", fp)
                return act.at
            if k == "image_error":
                cv.state, cv.reason, cv.message = "waiting", "ErrImagePull", cs.pull_error
                return act.at
            if k == "image_backoff":
                image = c.get("image", "")
                if cv.reason != "ImagePullBackOff":
                    self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', fp)
                    self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff", fp)
                cv.state, cv.reason = "waiting", "ImagePullBackOff"
                cv.message = f'Back-off pulling image "{image}"'
                if self.ctx.k8s_version >= (1, 31):  # image_manager.go prevPullErrMsg (assumed from 1.31)
                    cv.message += f": ErrImagePull: {cs.pull_error}"
                return act.at
            if k == "wait":
                return act.at
            return None  # done
        return now + self.relist_seconds

    def _pull(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
              fp: str, now: float) -> None:
        """image_manager.EnsureImageExists, split in two halves around the pull time."""
        image = c.get("image", "")
        policy = c.get("imagePullPolicy") or default_pull_policy(image)
        present = image in self._images
        first = cs.crash_updated is None  # a restart of an existing container is not delayed
        if policy == "Never" and not present:
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self._event(pod, "Warning", "ErrImageNeverPull", msg, fp)
            self._event(pod, "Warning", "Failed", "Error: ErrImageNeverPull", fp)
            cv.state, cv.reason, cv.message = "waiting", "ErrImageNeverPull", msg
            cs.pull_error = msg
            cs.pull_failed_at = now
            cs.pull_backoff = self.t.worker_period * 2  # looked at again every pod-worker period
            return
        if present and policy != "Always":
            self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', fp)
            cs.stage = "pulling"
            cs.pull_since = now if first else now - self.t.container_start
            cs.pull_error = "present"
            return
        self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"', fp)
        cs.stage = "pulling"
        cs.pull_since = now if first or not present else now - self.t.container_start
        cs.pull_error = ""

    def _pull_done(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
                   fp: str, now: float) -> None:
        image = c.get("image", "")
        if cs.pull_error != "present" and not self.faults.image_available(image):
            err = pull_error(image)
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {err}', fp)
            self._event(pod, "Warning", "Failed", "Error: ErrImagePull", fp)
            pull_failed(cs, now, err, self.t)
            cv.state, cv.reason, cv.message = "waiting", "ErrImagePull", err
            return
        if cs.pull_error != "present":
            took = max(0.0, now - cs.pull_since)
            self._event(pod, "Normal", "Pulled", pulled_message(image, took, image_size(image)), fp)
            self._images.add(image)
        cs.pull_failed_at = None
        cs.pull_backoff = None
        cs.pull_failures = 0
        cs.pull_error = ""
        cv.image = normalize_image(image)
        cv.image_id = image_id(image)
        cs.stage = "pulled"

    def _runtime_pod(self, rec: PodRecord, pod: dict[str, Any]) -> dict[str, Any]:
        """The pod as the runtime sees it: with the IPs the kubelet assigned (env fieldRefs, /etc/hosts)."""
        status = dict(pod.get("status") or {})
        if rec.view.pod_ip:
            status["podIP"] = rec.view.pod_ip
            status["podIPs"] = [{"ip": rec.view.pod_ip}]
        if rec.view.host_ip:
            status["hostIP"] = rec.view.host_ip
            status["hostIPs"] = [{"ip": rec.view.host_ip}]
        return {**pod, "status": status}

    def _start(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
               fp: str, now: float) -> None:
        name = c["name"]
        seed = f"{rec.uid}/{name}/{cv.restart_count}/{now}"
        try:
            st = self.runtime.start_container(self._runtime_pod(rec, pod), c)
        except Exception as exc:
            msg = str(exc) or exc.__class__.__name__
            self._event(pod, "Warning", "Failed", f"Error: {msg}", fp)
            cv.state, cv.reason, cv.exit_code, cv.message = "terminated", "StartError", 128, msg
            cv.started_at = cv.finished_at = now
            cv.container_id = qualify_container_id("", seed)
            cv.created = True
            cs.stage = "exited"
            return
        if getattr(st, "state", "running") == "waiting":
            # Not created (e.g. CreateContainerConfigError: a missing ConfigMap key): retried by the pod worker.
            msg = st.message or st.reason
            if cv.reason != st.reason or cv.message != msg:
                self._event(pod, "Warning", "Failed", f"Error: {msg}", fp)
            cv.state, cv.reason, cv.message = "waiting", st.reason or "CreateContainerError", msg
            cs.start_retry_at = now + self.t.worker_period
            return
        cs.start_retry_at = None
        cid = qualify_container_id(getattr(st, "container_id", "") or "", seed)
        self._event(pod, "Normal", "Created", f"Created container: {name}", fp)
        self._event(pod, "Normal", "Started", f"Started container {name}", fp)
        cv.state, cv.reason, cv.message, cv.exit_code = "running", "", "", None
        cv.started_at = getattr(st, "started_at", None) or now
        cv.finished_at = None
        cv.container_id = cid
        cv.created = True
        cs.stage = "running"
        cs.probes = {}
        for kind in probes.KINDS:
            p = c.get(probes.FIELD[kind])
            if p:
                cs.probes[kind] = probes.initial(kind, p, cv.started_at, self.scale)
        cv.started = "startup" not in cs.probes
        cv.ready = cv.started and "readiness" not in cs.probes
        if getattr(st, "state", "running") == "terminated":
            self._ended(cs, cv, st, now)

    def _poll(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
              now: float) -> bool:
        """Look at the runtime; True when the container's instance has ended."""
        try:
            st = self.runtime.container_state(rec.uid, c["name"])
        except Exception:
            st = None
        if st is None:
            from ..runtime import ContainerState

            st = ContainerState(state="terminated", exit_code=255, reason="Unknown", finished_at=now)
        if st.state == "terminated":
            self._ended(cs, cv, st, now)
            return True
        if cs.kill_deadline is not None and now >= cs.kill_deadline:
            from ..runtime import ContainerState

            self._ended(cs, cv, ContainerState(state="terminated", exit_code=137, reason="Error", finished_at=now),
                        now)
            return True
        if cv.init and not cv.sidecar and not getattr(st, "process", False) and not _runs_in_shell(c) \
                and now - (cv.started_at or now) >= self.t.container_start:
            # A simulated init container (no command the exec shell runs) has nothing to run: it completes.
            try:
                self.runtime.stop_container(rec.uid, c["name"], 0)
            except Exception:
                pass
            from ..runtime import ContainerState

            self._ended(cs, cv, ContainerState(state="terminated", exit_code=0, reason="Completed", finished_at=now),
                        now)
            return True
        return False

    def _ended(self, cs: CState, cv: ContainerView, st: Any, now: float) -> None:
        code = st.exit_code if st.exit_code is not None else (137 if cs.kill_message else 0)
        cv.state = "terminated"
        cv.exit_code = int(code)
        cv.reason = st.reason or ("Completed" if code == 0 else "Error")
        cv.message = st.message or ""
        cv.finished_at = st.finished_at or now
        if st.started_at:
            cv.started_at = st.started_at
        cv.ready = cv.started = False
        cs.stage = "exited"
        cs.kill_deadline = None
        cs.probes = {}

    def _probe(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
               policy: str, fp: str, now: float) -> float | None:
        """Run due probes of a running container; returns when the next one is due."""
        if cs.kill_deadline is not None:
            return cs.kill_deadline
        for kind in probes.due(cs.probes, cv.started, now):
            spec_p = c.get(probes.FIELD[kind]) or {}
            ok, output = probes.run(self.runtime, pod, c, spec_p, rec.view.pod_ip, self.scale)
            if not ok:
                self._event(pod, "Warning", "Unhealthy", f"{probes.LABEL[kind]} probe failed: {output}", fp)
            state, _ = probes.record(cs.probes[kind], ok, spec_p, time.time(), self.scale)
            cs.probes[kind] = state
            if kind == "startup" and state.result == "success":
                cv.started = True
                for other in ("liveness", "readiness"):
                    if other in cs.probes:
                        o = cs.probes[other]
                        cs.probes[other] = probes.ProbeState(o.kind, o.result, next_at=max(o.next_at, now))
                cv.ready = "readiness" not in cs.probes
            elif kind == "readiness":
                cv.ready = cv.started and state.result == "success"
            if state.result == "failure" and kind in ("liveness", "startup"):
                what = "liveness" if kind == "liveness" else "startup"
                message = f"Container {c['name']} failed {what} probe"
                init = cv.init
                if policy != "Never" or (init and cv.sidecar):
                    message += ", will be restarted"
                self._kill(rec, pod, c, cs, cv, message, spec_p, fp, now)
                return cs.kill_deadline
        return probes.next_due(cs.probes)

    def _kill(self, rec: PodRecord, pod: dict[str, Any], c: dict[str, Any], cs: CState, cv: ContainerView,
              message: str, probe: dict[str, Any], fp: str, now: float) -> None:
        self._event(pod, "Normal", "Killing", message, fp)
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        wall = max(0.0, float(30 if grace is None else grace) * self.scale)
        try:
            self.runtime.stop_container(rec.uid, c["name"], wall)
        except Exception:
            log.debug("%s: stop_container failed", self.name, exc_info=True)
        cs.kill_message = message
        cs.kill_deadline = now + wall + max(0.05, self.relist_seconds)
        cv.ready = False

    # -- status ------------------------------------------------------------------------------
    def _post_status(self, rec: PodRecord) -> None:
        if rec.frozen or not self._reachable():
            return
        now = time.time()
        new = compute_pod_status(rec.pod, rec.view, now, k8s_version=self.ctx.k8s_version)
        if not status_differs(rec.pod.get("status") or {}, new):
            return
        rt = self.api.rt("pods")

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            if cur["metadata"].get("uid") != rec.uid:
                raise _Gone()
            cur["status"] = compute_pod_status(cur, rec.view, now, k8s_version=self.ctx.k8s_version)
            return cur

        self._tls.writing = True
        try:
            rec.pod = self.api.update_status(rt, rec.ns, rec.name, mutate, manager=MANAGER)
        except (_Gone, NotFound):
            pass
        except ApiError as exc:
            log.debug("%s: status of %s/%s: %s", self.name, rec.ns, rec.name, exc)
        finally:
            self._tls.writing = False
        phase = (rec.pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            rec.view.terminal = True

    # -- termination -------------------------------------------------------------------------
    def _terminate(self, rec: PodRecord, pod: dict[str, Any], now: float) -> float | None:
        meta = pod.get("metadata") or {}
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        wall = max(0.0, float(grace) * self.scale)
        shortened = rec.grace_wall is not None and wall < rec.grace_wall
        if rec.grace_deadline is None or shortened:
            deadline = now + wall
            rec.grace_deadline = deadline if rec.grace_deadline is None else min(rec.grace_deadline, deadline)
            rec.grace_wall = wall
            if shortened:
                rec.stopped.clear()
        for init, name in rec.running():
            key = rec.key(init, name)
            if key in rec.stopped:
                continue
            rec.stopped.add(key)
            self._event(pod, "Normal", "Killing", f"Stopping container {name}", self._fp(init, name))
            try:
                self.runtime.stop_container(rec.uid, name, wall)
            except Exception:
                log.debug("%s: stop_container failed", self.name, exc_info=True)
        # Containers that never started will not start now.
        for init, c in rec.containers():
            cs = rec.cs.get(rec.key(init, c["name"]))
            if cs is not None and cs.stage in ("new", "pulling", "pulled"):
                cs.stage = "cancelled"
        self._collect(rec, now)
        if not rec.running():
            return self._finalize(rec, pod)
        return min(rec.grace_deadline or now, now + self.relist_seconds)

    def _collect(self, rec: PodRecord, now: float) -> None:
        """Pick up containers that have stopped."""
        for init, name in rec.running():
            cs = rec.cs[rec.key(init, name)]
            cv = rec.cview(init, name)
            if cv is None:
                continue
            try:
                st = self.runtime.container_state(rec.uid, name)
            except Exception:
                st = None
            if st is not None and st.state == "terminated":
                self._ended(cs, cv, st, now)

    def _finalize(self, rec: PodRecord, pod: dict[str, Any]) -> float | None:
        """Containers are down (or out of grace): post the terminal status, final DELETE, clean up."""
        now = time.time()
        for init, name in rec.running():
            try:
                self.runtime.stop_container(rec.uid, name, 0)
            except Exception:
                pass
            cs = rec.cs[rec.key(init, name)]
            cv = rec.cview(init, name)
            if cv is not None:
                from ..runtime import ContainerState

                self._ended(cs, cv, ContainerState(state="terminated", exit_code=137, reason="Error",
                                                   finished_at=now), now)
        if not self._reachable():
            return now + max(0.1, self.timings.s(1.0))  # the final delete waits for the API
        if not rec.frozen:
            rec.view.terminal = True
            rec.view.sandbox_ready = False
            self._post_status(rec)
        rt = self.api.rt("pods")
        self._tls.writing = True
        try:
            self.api.delete(rt, rec.ns, rec.name, DeleteOptions(grace_period=0, precondition_uid=rec.uid))
        except (NotFound, Conflict):
            pass
        except ApiError as exc:
            log.debug("%s: final delete of %s/%s: %s", self.name, rec.ns, rec.name, exc)
            return now + max(0.1, self.timings.s(1.0))
        finally:
            self._tls.writing = False
        self._drop(rec)
        return None

    def _teardown(self, rec: PodRecord) -> None:
        """The pod object is gone (force deleted, or replaced): stop and remove everything of it."""
        for init, name in rec.running():
            self._event(rec.pod, "Normal", "Killing", f"Stopping container {name}", self._fp(init, name))
        self._drop(rec)

    def _stop_leftovers(self, rec: PodRecord, pod: dict[str, Any]) -> None:
        now = time.time()
        for init, name in rec.running():
            try:
                self.runtime.stop_container(rec.uid, name, 0)
            except Exception:
                pass
            cv = rec.cview(init, name)
            if cv is not None:
                from ..runtime import ContainerState

                self._ended(rec.cs[rec.key(init, name)], cv,
                            ContainerState(state="terminated", exit_code=137, reason="Error", finished_at=now), now)

    def _drop(self, rec: PodRecord) -> None:
        self._remove_pod(rec.uid)
        self._records.pop(rec.uid, None)
        uids = self._by_key.get((rec.ns, rec.name))
        if uids is not None:
            uids.discard(rec.uid)
            if not uids:
                del self._by_key[(rec.ns, rec.name)]

    def _remove_pod(self, uid: str) -> None:
        try:
            self.runtime.remove_pod(uid)
        except Exception:
            log.debug("%s: remove_pod %s failed", self.name, uid, exc_info=True)

    # -- PLEG --------------------------------------------------------------------------------
    def _relist(self) -> None:
        """Wake pods whose running containers the runtime reports as ended."""
        # Runtimes that can say just the state spare a copy of it per container (many per second).
        state_of = getattr(self.runtime, "container_state_name", None)
        for rec in list(self._records.values()):
            for init, name in rec.running():
                try:
                    if state_of is not None:
                        state = state_of(rec.uid, name)
                    else:
                        st = self.runtime.container_state(rec.uid, name)
                        state = None if st is None else st.state
                except Exception:
                    state = None
                if state is None or state == "terminated":
                    self.enqueue(("pod", rec.ns, rec.name))
                    break

    # -- introspection (tests, debugging) ------------------------------------------------------
    def pod_ips(self) -> dict[str, str]:
        return {uid: r.view.pod_ip for uid, r in self._records.items() if r.view.pod_ip}

    @property
    def boot_id(self) -> str:
        return self._boot_id

    @property
    def up(self) -> bool:
        return self._up

