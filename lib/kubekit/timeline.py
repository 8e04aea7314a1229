"""One event timeline across clusters and AWS, each entry with the controller (or source) that caused it.

::

    tl = Timeline()
    tl.watch_cluster("sandbox", api_client)          # pods, nodes, PVCs, events, leases, VolumeAttachments
    tl.watch_aws(kubekit.aws.Target("sandbox"), "us-east-1")   # EC2 instance state transitions
    tl.mark("stop i-0abc", t0=True)                  # the fault: T0
    ...
    tl.stop()
    print(tl.table())                                # t, source, cluster, object, what, detail
    tl.to_dict()                                     # JSON export; Timeline.from_dict() reads it back

Everything goes through the official ``kubernetes`` client (raw JSON watches, so the
decision functions below work on plain dicts) and boto3, so a timeline records a real
EKS cluster exactly as it records the sandbox.

Entries (:class:`Entry`): ``time`` (wall clock, float), ``t`` (seconds since T0, filled
when read), ``source``, ``cluster``, ``object`` (``node/<name>``, ``pod/<ns>/<name>``,
``pvc/<ns>/<name>``, ``volumeattachment/<name>``, ``instance/<id>``), ``what``, ``detail``
and free ``fields``. ``time`` is when kubekit *saw* the change (the API's own timestamps
have one-second precision, too coarse for scaled profiles).

What is recorded, and the source each change is attributed to (the pure functions
:func:`node_changes`, :func:`pod_changes`, :func:`pvc_changes`, :func:`attachment_changes`,
:func:`event_change`, :func:`source_of_event`):

- nodes: ``node-not-ready`` (Ready -> Unknown: node-lifecycle-controller; -> False: kubelet),
  ``node-ready`` (kubelet), ``taint-added``/``taint-removed`` (by key: NoExecute/NoSchedule
  not-ready/unreachable -> node-lifecycle-controller, ``node.cloudprovider.kubernetes.io/shutdown``
  -> cloud-node-lifecycle-controller, others -> user), ``cordoned``/``uncordoned`` (user),
  ``node-registered`` (kubelet), ``node-deleted`` (cloud-node-lifecycle-controller when it was
  not Ready, else apiserver);
- pods: ``pod-created`` (the owner's controller), ``pod-scheduled`` (scheduler), ``pod-ready``/
  ``pod-not-ready`` (kubelet; node-lifecycle-controller when Ready turns False without a reason,
  which is ``MarkPodsNotReady``), ``pod-phase`` (kubelet), ``disruption-target`` and
  ``pod-terminating`` (by the DisruptionTarget reason: taint-eviction-controller,
  pod-garbage-collector, eviction-api; else apiserver), ``pod-deleted`` (kubelet when it
  finished a graceful deletion; pod-garbage-collector when the pod was Failed on a missing,
  not-Ready or out-of-service node; apiserver otherwise);
- PVCs: ``pvc-created``, ``pvc-bound``/``pvc-lost`` (persistentvolume-controller), ``pvc-deleted``;
- VolumeAttachments: ``volume-attach-requested``, ``volume-detach-requested`` and
  ``volume-detached`` (attachdetach-controller), ``volume-attached`` (csi-attacher);
- Events (core/v1): ``what`` is the reason, the source is ``reportingComponent`` or
  ``source.component`` normalised (``node-controller`` -> node-lifecycle-controller,
  ``default-scheduler`` -> scheduler ...);
- Leases in ``kube-node-lease``, compactly: only ``lease-renewals-stopped`` (dated at the last
  renewal seen, R) and ``lease-renewals-resumed`` (with the gap), source kubelet;
- EC2 (polled): ``instance-<state>`` on every transition, source ``aws``.

Watches resume from their last resourceVersion; on 410 Gone they relist and record what
changed meanwhile (``fields.resync``). An API server that stops answering gives one
``api-unreachable`` entry (source ``timeline``) and ``api-reachable`` when it is back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from .errors import InvalidParameter, KitError

Obj = dict[str, Any]

# Lanes, in the order a plot stacks them (top to bottom); unknown sources go after.
SOURCES = (
    "drill", "aws", "kubelet", "node-lifecycle-controller", "cloud-node-lifecycle-controller",
    "taint-eviction-controller", "pod-garbage-collector", "statefulset-controller", "replicaset-controller",
    "deployment-controller", "scheduler", "attachdetach-controller", "csi-attacher", "persistentvolume-controller",
    "eviction-api", "user", "apiserver", "federation", "ledger", "timeline",
)

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
TAINT_UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
LEASE_NAMESPACE = "kube-node-lease"

# Event reporting components -> timeline sources.
_COMPONENTS = {
    "node-controller": "node-lifecycle-controller",
    "nodecontroller": "node-lifecycle-controller",
    "default-scheduler": "scheduler",
    "taint-controller": "taint-eviction-controller",
    "taint-eviction-controller": "taint-eviction-controller",
    "cloud-node-controller": "cloud-node-lifecycle-controller",
    "cloud-node-lifecycle-controller": "cloud-node-lifecycle-controller",
    "controllermanager": "disruption-controller",
    "persistentvolume-controller": "persistentvolume-controller",
    "attachdetach-controller": "attachdetach-controller",
}
_OWNER_SOURCES = {
    "StatefulSet": "statefulset-controller", "ReplicaSet": "replicaset-controller",
    "DaemonSet": "daemonset-controller", "Job": "job-controller", "ReplicationController": "replication-controller",
}
_DISRUPTION_SOURCES = {
    "DeletionByTaintManager": "taint-eviction-controller",
    "DeletionByPodGC": "pod-garbage-collector",
    "EvictionByEvictionAPI": "eviction-api",
    "PreemptionByScheduler": "scheduler",
    "TerminationByKubelet": "kubelet",
}


# -- entries -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One thing that happened. ``t`` is filled by :meth:`Timeline.entries` (None without a T0)."""

    time: float
    source: str
    cluster: str
    object: str
    what: str
    detail: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    t: float | None = None
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fields"] = dict(self.fields)
        d.pop("seq")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], seq: int = 0) -> "Entry":
        return cls(time=float(d["time"]), source=str(d.get("source", "")), cluster=str(d.get("cluster", "")),
                   object=str(d.get("object", "")), what=str(d["what"]), detail=str(d.get("detail", "")),
                   fields=dict(d.get("fields") or {}), t=d.get("t"), seq=seq)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


class Change(NamedTuple):
    """What a decision function found: becomes an Entry once dated and placed in a cluster."""

    source: str
    what: str
    object: str
    detail: str = ""
    fields: Mapping[str, Any] = {}


# -- decision functions (pure: dicts in, changes out) -------------------------------------------

def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def _conditions(obj: Obj | None) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def ready_of(obj: Obj | None) -> tuple[str, str]:
    """(status, reason) of an object's Ready condition; ("", "") without one."""
    c = _conditions(obj).get("Ready")
    return (c.get("status", ""), c.get("reason", "") or "") if c else ("", "")


def taints_of(node: Obj | None) -> dict[tuple[str, str], Obj]:
    return {(t.get("key", ""), t.get("effect", "")): t for t in ((node or {}).get("spec") or {}).get("taints") or []}


def taint_source(key: str) -> str:
    """The controller that manages a node taint with this key."""
    if key in (TAINT_NOT_READY, TAINT_UNREACHABLE) or (
            key.startswith("node.kubernetes.io/") and key.endswith(("-pressure", "network-unavailable"))):
        return "node-lifecycle-controller"
    if key in (TAINT_SHUTDOWN, TAINT_UNINITIALIZED):
        return "cloud-node-lifecycle-controller"
    if key == TAINT_UNSCHEDULABLE:
        return "node-lifecycle-controller"
    return "user"


def node_ref(name: str) -> str:
    return f"node/{name}"


def pod_ref(namespace: str, name: str) -> str:
    return f"pod/{namespace}/{name}"


def node_changes(old: Obj | None, new: Obj | None) -> list[Change]:
    """Changes between two versions of a Node (``old`` None: added; ``new`` None: deleted)."""
    name = _meta(new or old).get("name", "")
    ref = node_ref(name)
    if old is None and new is not None:
        return [Change("kubelet", "node-registered", ref, "node registered",
                       {"zone": (_meta(new).get("labels") or {}).get("topology.kubernetes.io/zone", "")})]
    if new is None:
        status, _ = ready_of(old)
        provider = ((old or {}).get("spec") or {}).get("providerID", "")
        source = "cloud-node-lifecycle-controller" if status != "True" and provider else "apiserver"
        return [Change(source, "node-deleted", ref, "Node object deleted", {"ready": status})]
    out: list[Change] = []
    (s0, _), (s1, r1) = ready_of(old), ready_of(new)
    if s0 != s1:
        if s1 == "True":
            out.append(Change("kubelet", "node-ready", ref, "Ready=True", {"previous": s0}))
        elif s0 == "True" or s0 == "":
            source = "node-lifecycle-controller" if s1 == "Unknown" else "kubelet"
            out.append(Change(source, "node-not-ready", ref, f"Ready={s1} ({r1})" if r1 else f"Ready={s1}",
                              {"status": s1, "reason": r1, "previous": s0}))
        else:
            source = "node-lifecycle-controller" if s1 == "Unknown" else "kubelet"
            out.append(Change(source, "node-ready-status", ref, f"Ready {s0} -> {s1}", {"status": s1, "reason": r1,
                                                                                        "previous": s0}))
    t0, t1 = taints_of(old), taints_of(new)
    for key_effect in sorted(set(t1) - set(t0)):
        t = t1[key_effect]
        key, effect = key_effect
        value = t.get("value")
        text = f"{key}{'=' + value if value else ''}:{effect}"
        out.append(Change(taint_source(key), "taint-added", ref, text, {"key": key, "effect": effect,
                                                                        "value": value or ""}))
    for key_effect in sorted(set(t0) - set(t1)):
        key, effect = key_effect
        out.append(Change(taint_source(key), "taint-removed", ref, f"{key}:{effect}", {"key": key, "effect": effect}))
    u0 = bool(((old or {}).get("spec") or {}).get("unschedulable"))
    u1 = bool(((new or {}).get("spec") or {}).get("unschedulable"))
    if u0 != u1:
        out.append(Change("user", "cordoned" if u1 else "uncordoned", ref, "spec.unschedulable=" + str(u1).lower()))
    return out


def owner_of(obj: Obj | None) -> tuple[str, str]:
    """(kind, name) of the controlling owner, ("", "") without one."""
    refs = _meta(obj).get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return (ref.get("kind", ""), ref.get("name", "")) if ref else ("", "")


def _disruption(pod: Obj | None) -> tuple[str, str]:
    c = _conditions(pod).get("DisruptionTarget")
    if c and c.get("status") == "True":
        return c.get("reason", "") or "", c.get("message", "") or ""
    return "", ""


def pod_changes(old: Obj | None, new: Obj | None, node: Obj | None = None, node_known: bool = False) -> list[Change]:
    """Changes between two versions of a Pod; ``node`` is its node as last seen (None: missing, if known)."""
    meta = _meta(new or old)
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    ref = pod_ref(ns, name)
    kind, owner = owner_of(new or old)
    fields_owner = {"owner": f"{kind}/{owner}" if kind else "", "uid": meta.get("uid", "")}
    if new is None:
        assert old is not None
        reason, _ = _disruption(old)
        phase = (old.get("status") or {}).get("phase", "")
        node_name = (old.get("spec") or {}).get("nodeName", "")
        node_gone = node_known and node is None
        node_down = node is not None and ready_of(node)[0] != "True"
        out_of_service = any(k == TAINT_OUT_OF_SERVICE for k, _ in taints_of(node))
        if reason == "DeletionByPodGC" or (phase == "Failed" and (node_gone or out_of_service or node_down)):
            source, how = "pod-garbage-collector", "force deleted by PodGC"
        elif _meta(old).get("deletionTimestamp") and not node_gone and not node_down:
            source, how = "kubelet", "deleted after graceful termination"
        elif _meta(old).get("deletionTimestamp"):
            source, how = "apiserver", "deleted (force) while its node was down"
        else:
            source, how = "apiserver", "deleted"
        return [Change(source, "pod-deleted", ref, how, {**fields_owner, "node": node_name, "phase": phase})]
    out: list[Change] = []
    spec, status = new.get("spec") or {}, new.get("status") or {}
    if old is None:
        src = _OWNER_SOURCES.get(kind, "user")
        out.append(Change(src, "pod-created", ref, f"created by {kind} {owner}" if kind else "created",
                          {**fields_owner, "node": spec.get("nodeName", "")}))
        if spec.get("nodeName"):
            return out
    o_spec, o_status = (old or {}).get("spec") or {}, (old or {}).get("status") or {}
    if spec.get("nodeName") and not o_spec.get("nodeName"):
        out.append(Change("scheduler", "pod-scheduled", ref, f"bound to {spec['nodeName']}",
                          {**fields_owner, "node": spec["nodeName"]}))
    if old is None:
        return out
    if status.get("phase") != o_status.get("phase") and status.get("phase"):
        reason, _ = _disruption(new)
        src = "pod-garbage-collector" if status["phase"] == "Failed" and reason == "DeletionByPodGC" else "kubelet"
        if status["phase"] == "Failed" and src == "kubelet" and node is not None and any(
                k == TAINT_OUT_OF_SERVICE for k, _ in taints_of(node)):
            src = "pod-garbage-collector"
        out.append(Change(src, "pod-phase", ref, f"{o_status.get('phase', '')} -> {status['phase']}",
                          {**fields_owner, "phase": status["phase"], "node": spec.get("nodeName", "")}))
    (r0, _), (r1, why) = ready_of(old), ready_of(new)
    if r0 != r1 and r1:
        if r1 == "True":
            out.append(Change("kubelet", "pod-ready", ref, "Ready=True", {**fields_owner, "node": spec.get("nodeName",
                                                                                                          "")}))
        elif r0 == "True":
            src = "kubelet" if why else "node-lifecycle-controller"
            out.append(Change(src, "pod-not-ready", ref, f"Ready={r1}" + (f" ({why})" if why else ""),
                              {**fields_owner, "node": spec.get("nodeName", "")}))
    d0, (d1, msg) = _disruption(old)[0], _disruption(new)
    if d1 and d1 != d0:
        out.append(Change(_DISRUPTION_SOURCES.get(d1, "apiserver"), "disruption-target", ref, f"{d1}: {msg}",
                          {**fields_owner, "reason": d1}))
    if _meta(new).get("deletionTimestamp") and not _meta(old).get("deletionTimestamp"):
        reason = d1 or d0
        grace = _meta(new).get("deletionGracePeriodSeconds")
        out.append(Change(_DISRUPTION_SOURCES.get(reason, "apiserver"), "pod-terminating", ref,
                          f"deletion requested (grace {grace} s)" + (f", {reason}" if reason else ""),
                          {**fields_owner, "grace": grace, "reason": reason, "node": spec.get("nodeName", "")}))
    return out


def pvc_changes(old: Obj | None, new: Obj | None) -> list[Change]:
    meta = _meta(new or old)
    ref = f"pvc/{meta.get('namespace', '')}/{meta.get('name', '')}"
    if new is None:
        return [Change("apiserver", "pvc-deleted", ref, "claim deleted")]
    phase = (new.get("status") or {}).get("phase", "")
    volume = (new.get("spec") or {}).get("volumeName", "")
    if old is None:
        return [Change("apiserver", "pvc-created", ref, f"phase {phase or 'Pending'}", {"volume": volume})]
    before = (old.get("status") or {}).get("phase", "")
    if phase != before and phase == "Bound":
        return [Change("persistentvolume-controller", "pvc-bound", ref, f"bound to {volume}", {"volume": volume})]
    if phase != before and phase:
        return [Change("persistentvolume-controller", "pvc-" + phase.lower(), ref, f"{before} -> {phase}",
                       {"volume": volume})]
    return []


def attachment_changes(old: Obj | None, new: Obj | None) -> list[Change]:
    obj = new or old or {}
    spec = obj.get("spec") or {}
    fields_ = {"node": spec.get("nodeName", ""), "pv": (spec.get("source") or {}).get("persistentVolumeName", "")}
    ref = f"volumeattachment/{_meta(obj).get('name', '')}"
    if new is None:
        return [Change("attachdetach-controller", "volume-detached", ref,
                       f"{fields_['pv']} detached from {fields_['node']}", fields_)]
    out: list[Change] = []
    if old is None:
        out.append(Change("attachdetach-controller", "volume-attach-requested", ref,
                          f"{fields_['pv']} -> {fields_['node']}", fields_))
    a0 = bool(((old or {}).get("status") or {}).get("attached"))
    a1 = bool((new.get("status") or {}).get("attached"))
    if a1 and not a0:
        out.append(Change("csi-attacher", "volume-attached", ref, f"{fields_['pv']} attached to {fields_['node']}",
                          fields_))
    if _meta(new).get("deletionTimestamp") and not _meta(old).get("deletionTimestamp"):
        out.append(Change("attachdetach-controller", "volume-detach-requested", ref,
                          f"detach {fields_['pv']} from {fields_['node']}", fields_))
    return out


def source_of_event(ev: Obj) -> str:
    """The timeline source of a core/v1 Event: its reporting component, normalised."""
    comp = ev.get("reportingComponent") or ev.get("reportingController") or (ev.get("source") or {}).get(
        "component") or ""
    comp = str(comp)
    if comp in _COMPONENTS:
        return _COMPONENTS[comp]
    if comp.startswith("ebs.csi.aws.com"):
        return "ebs-csi-controller"
    if comp.endswith("-controller") or comp in ("kubelet",):
        return comp
    return comp or "apiserver"


def event_change(old: Obj | None, new: Obj) -> Change | None:
    """An Event (ADDED, or MODIFIED with a higher count) as a timeline change; None if nothing new."""
    if old is not None and int(new.get("count") or 1) <= int(old.get("count") or 1):
        return None
    inv = new.get("involvedObject") or new.get("regarding") or {}
    kind, name, ns = inv.get("kind", ""), inv.get("name", ""), inv.get("namespace", "")
    ref = f"{kind.lower()}/{ns + '/' if ns else ''}{name}"
    return Change(source_of_event(new), str(new.get("reason", "")), ref, str(new.get("message") or new.get("note")
                                                                              or ""),
                  {"type": new.get("type", ""), "count": int(new.get("count") or 1), "kind": kind})


@dataclass
class LeaseTracker:
    """Compact lease recording: only gaps in renewals and their resumption (pure; ``now`` passed in)."""

    min_gap: float = 0.25        # never call a shorter pause a gap (wall seconds)
    factor: float = 3.0          # a gap is ``factor`` x the usual renewal interval
    last: dict[str, tuple[float, str]] = field(default_factory=dict)   # lease -> (seen at, renewTime)
    interval: dict[str, float] = field(default_factory=dict)
    stopped: dict[str, float] = field(default_factory=dict)             # lease -> last renewal seen

    def threshold(self, name: str) -> float:
        return max(self.min_gap, self.factor * self.interval.get(name, 0.0))

    def renewed(self, name: str, renew_time: str, now: float, baseline: bool = False) -> list[tuple[float, Change]]:
        prev = self.last.get(name)
        if prev is not None and prev[1] == renew_time:
            return []
        self.last[name] = (now, renew_time)
        out: list[tuple[float, Change]] = []
        if prev is not None and not baseline:
            gap = now - prev[0]
            if name in self.stopped:
                since = self.stopped.pop(name)
                out.append((now, Change("kubelet", "lease-renewals-resumed", node_ref(name),
                                        f"renewals resumed after {now - since:.3g} s", {"gap": round(now - since, 3)})))
            elif gap <= self.threshold(name) or name not in self.interval:
                # An exponential average of the interval between renewals.
                old = self.interval.get(name)
                self.interval[name] = gap if old is None else 0.8 * old + 0.2 * gap
            else:  # a gap longer than the threshold that no check caught (no check ran in between)
                out.append((prev[0], Change("kubelet", "lease-renewals-stopped", node_ref(name),
                                            f"no renewal for {gap:.3g} s", {"interval": self.interval.get(name)})))
                out.append((now, Change("kubelet", "lease-renewals-resumed", node_ref(name),
                                        f"renewals resumed after {gap:.3g} s", {"gap": round(gap, 3)})))
        return out

    def check(self, now: float) -> list[tuple[float, Change]]:
        """Leases silent for longer than their threshold: one ``lease-renewals-stopped`` each, dated R."""
        out = []
        for name, (seen, _) in sorted(self.last.items()):
            if name in self.stopped or name not in self.interval:
                continue
            if now - seen > self.threshold(name):
                self.stopped[name] = seen
                out.append((seen, Change("kubelet", "lease-renewals-stopped", node_ref(name),
                                         f"last renewal seen; none for {self.threshold(name):.3g} s",
                                         {"interval": round(self.interval[name], 4)})))
        return out

    def expired(self, name: str) -> list[tuple[float, Change]]:
        """The node lifecycle controller found this lease expired (Ready=Unknown): renewals stopped.

        Flags it now if :meth:`check` has not yet (its threshold follows the observed interval, which
        a busy machine stretches past the controller's grace period), dated at the last renewal seen.
        """
        if name in self.stopped or name not in self.last:
            return []
        seen = self.last[name][0]
        self.stopped[name] = seen
        return [(seen, Change("kubelet", "lease-renewals-stopped", node_ref(name),
                              "last renewal seen; the node lifecycle controller found the lease expired",
                              {"interval": round(self.interval.get(name, 0.0), 4)}))]

    def deleted(self, name: str) -> None:
        self.last.pop(name, None)
        self.stopped.pop(name, None)


def instance_changes(old: Mapping[str, Obj], new: Mapping[str, Obj]) -> list[Change]:
    """EC2 instance state transitions between two polls (instance id -> describe_instances item)."""
    out = []
    for iid in sorted(set(old) | set(new)):
        a, b = old.get(iid), new.get(iid)
        s0 = ((a or {}).get("State") or {}).get("Name")
        s1 = ((b or {}).get("State") or {}).get("Name")
        if s0 == s1:
            continue
        inst = b or a or {}
        fields_ = {"zone": (inst.get("Placement") or {}).get("AvailabilityZone", ""),
                   "node": inst.get("PrivateDnsName", ""), "previous": s0 or ""}
        if b is None:
            out.append(Change("aws", "instance-gone", f"instance/{iid}", f"{s0} -> (no longer listed)", fields_))
        else:
            out.append(Change("aws", f"instance-{s1}", f"instance/{iid}", f"{s0 or '(new)'} -> {s1}",
                              {**fields_, "state": s1}))
    return out


# -- watching ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Kind:
    name: str
    path: str                       # collection path for list and watch
    diff: Callable[..., Any] | None  # (old, new) -> list[Change]


def _kinds(namespaces: Sequence[str] | None) -> list[_Kind]:
    def ns_path(plural: str, group: str = "api/v1") -> list[str]:
        if not namespaces:
            return [f"/{group}/{plural}"]
        return [f"/{group}/namespaces/{ns}/{plural}" for ns in namespaces]

    out = [_Kind("nodes", "/api/v1/nodes", node_changes),
           _Kind("leases", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases", None),
           _Kind("volumeattachments", "/apis/storage.k8s.io/v1/volumeattachments", attachment_changes)]
    for p in ns_path("pods"):
        out.append(_Kind("pods", p, pod_changes))
    for p in ns_path("persistentvolumeclaims"):
        out.append(_Kind("persistentvolumeclaims", p, pvc_changes))
    for p in ns_path("events"):
        out.append(_Kind("events", p, event_change))
    if namespaces:  # node events are recorded in ``default``
        out.append(_Kind("events", "/api/v1/namespaces/default/events", event_change))
    return out


def _key(obj: Obj) -> str:
    m = _meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class _Watch(threading.Thread):
    """One list+watch loop over raw JSON, resumable, stoppable from another thread."""

    def __init__(self, tl: "Timeline", cluster: "_ClusterWatch", kind: _Kind) -> None:
        super().__init__(name=f"timeline-{cluster.name}-{kind.name}", daemon=True)
        self.tl, self.cw, self.kind = tl, cluster, kind
        self.cache: dict[str, Obj] = {}
        self.rv: str | None = None
        self.synced = threading.Event()
        self._resp: Any = None
        self._lock = threading.Lock()

    # the HTTP side -------------------------------------------------------------------------
    def _request(self, watch: bool) -> Any:
        """The raw urllib3 response of a list (or watch) of this kind; 410 raises _Gone."""
        query: list[tuple[str, Any]] = []
        if watch:
            query += [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", 300)]
            if self.rv:
                query.append(("resourceVersion", self.rv))
        api = self.cw.api
        param = api.param_serialize("GET", self.kind.path, query_params=query,
                                    header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        rr = api.call_api(*param, _request_timeout=(5.0, None if watch else 30.0))
        resp = rr.response
        if rr.status == 410:
            resp.release_conn()
            raise _Gone()
        if rr.status >= 400:
            body = resp.data[:300]
            resp.release_conn()
            raise KitError(f"GET {self.kind.path}: HTTP {rr.status}: {body!r}")
        return resp

    def _list(self) -> None:
        resp = self._request(watch=False)
        try:
            body = json.loads(resp.data or b"{}")
        finally:
            resp.release_conn()
        items = body.get("items") or []
        kind = self.kind.name
        fresh = {_key(o): o for o in items}
        first = not self.synced.is_set()
        now = self.tl.clock()
        if kind == "leases":
            for o in items:
                for at, ch in self.cw.leases.renewed(_meta(o).get("name", ""), (o.get("spec") or {}).get(
                        "renewTime", ""), now, baseline=first):
                    self.tl._record(self.cw.name, ch, at)
        elif not first and self.kind.diff is not None:  # a relist after 410: what changed meanwhile
            for key in sorted(set(self.cache) | set(fresh)):
                self._apply(self.cache.get(key), fresh.get(key), now, resync=True)
        self.cache = fresh
        if kind == "nodes":
            self.cw.nodes.update({_meta(o).get("name", ""): o for o in items})
            self.cw.nodes_listed.set()
        self.rv = (body.get("metadata") or {}).get("resourceVersion")
        self.synced.set()

    def _apply(self, old: Obj | None, new: Obj | None, now: float, resync: bool = False) -> None:
        kind = self.kind.name
        if old == new:
            return
        if kind == "pods":
            pod = new or old or {}
            node_name = (pod.get("spec") or {}).get("nodeName", "")
            node = self.cw.nodes.get(node_name) if node_name else None
            changes = pod_changes(old, new, node, node_known=self.cw.nodes_listed.is_set() and bool(node_name))
        elif kind == "events":
            if new is None:
                return
            ch = event_change(old, new)
            changes = [ch] if ch else []
        else:
            assert self.kind.diff is not None
            changes = self.kind.diff(old, new)
        if kind == "nodes":
            name = _meta(new or old).get("name", "")
            if new is None:
                self.cw.nodes.pop(name, None)
            else:
                self.cw.nodes[name] = new
        for ch in changes:
            if resync:
                ch = ch._replace(fields={**ch.fields, "resync": True})
            if ch.what == "node-not-ready" and ch.fields.get("status") == "Unknown":
                for at, stopped in self.cw.leases.expired(ch.object.split("/", 1)[-1]):
                    self.tl._record(self.cw.name, stopped, at)
            self.tl._record(self.cw.name, ch, now)

    def _event(self, ev: Obj) -> None:
        typ, obj = ev.get("type"), ev.get("object") or {}
        now = self.tl.clock()
        if typ == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise KitError(obj.get("message", "watch error"))
        if typ == "BOOKMARK":
            self.rv = _meta(obj).get("resourceVersion") or self.rv
            return
        self.rv = _meta(obj).get("resourceVersion") or self.rv
        key = _key(obj)
        if self.kind.name == "leases":
            name = _meta(obj).get("name", "")
            if typ == "DELETED":
                self.cw.leases.deleted(name)
            else:
                for at, ch in self.cw.leases.renewed(name, (obj.get("spec") or {}).get("renewTime", ""), now):
                    self.tl._record(self.cw.name, ch, at)
            return
        old = self.cache.get(key)
        if typ == "DELETED":
            self.cache.pop(key, None)
            self._apply(old, None, now)
        else:
            self.cache[key] = obj
            self._apply(old, obj, now)

    def _watch(self) -> None:
        resp = self._request(watch=True)
        with self._lock:
            self._resp = resp
        if self.cw.stopping.is_set():
            return
        try:
            buf = b""
            for chunk in resp.stream(65536, decode_content=True):
                if self.cw.stopping.is_set():
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self._event(json.loads(line))
        finally:
            with self._lock:
                self._resp = None
            resp.release_conn()

    def interrupt(self) -> None:
        with self._lock:
            resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # noqa: BLE001 - best effort: the thread also checks the stop flag
                pass

    def run(self) -> None:
        backoff = 0.1
        while not self.cw.stopping.is_set():
            try:
                if self.rv is None:
                    self._list()
                self._watch()
                backoff = 0.1
                self.cw.reachable(self.tl)
            except _Gone:
                self.rv = None
            except Exception as exc:  # noqa: BLE001 - connection refused, reset, shutdown ...
                if self.cw.stopping.is_set():
                    return
                from kubernetes.client.rest import ApiException

                if isinstance(exc, ApiException) and exc.status == 410:
                    self.rv = None
                    continue
                self.cw.unreachable(self.tl, exc)
                self.cw.stopping.wait(backoff)
                backoff = min(2.0, backoff * 2)


class _ClusterWatch:
    def __init__(self, name: str, api_client: Any) -> None:
        from kubernetes import client as k8s

        self.name = name
        # A client of its own, so the watches' long requests never take the caller's pool slots.
        self.api = k8s.ApiClient(configuration=api_client.configuration)
        self.nodes: dict[str, Obj] = {}
        self.nodes_listed = threading.Event()
        self.leases = LeaseTracker()
        self.stopping = threading.Event()
        self.watches: list[_Watch] = []
        self.checker: threading.Thread | None = None
        self._down = False
        self._lock = threading.Lock()

    def unreachable(self, tl: "Timeline", exc: Exception) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        tl._record(self.name, Change("timeline", "api-unreachable", f"cluster/{self.name}",
                                     f"{type(exc).__name__}: {str(exc)[:160]}"), tl.clock())

    def reachable(self, tl: "Timeline") -> None:
        with self._lock:
            if not self._down:
                return
            self._down = False
        tl._record(self.name, Change("timeline", "api-reachable", f"cluster/{self.name}", "watches resumed"),
                   tl.clock())

    def check_leases(self, tl: "Timeline") -> None:
        while not self.stopping.wait(0.05):
            for at, ch in self.leases.check(tl.clock()):
                tl._record(self.name, ch, at)

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        for w in self.watches:
            w.interrupt()
        end = time.monotonic() + timeout
        for w in self.watches:
            w.join(max(0.0, end - time.monotonic()))
        if self.checker is not None:
            self.checker.join(max(0.0, end - time.monotonic()))
        try:
            self.api.close()
        except Exception:  # noqa: BLE001
            pass


class _AwsWatch(threading.Thread):
    def __init__(self, tl: "Timeline", ec2: Any, region: str, filters: list[Obj] | None, interval: float,
                 cluster: str) -> None:
        super().__init__(name=f"timeline-aws-{region}", daemon=True)
        self.tl, self.ec2, self.region, self.filters, self.interval = tl, ec2, region, filters or [], interval
        self.cluster = cluster
        self.stopping = threading.Event()
        self.state: dict[str, Obj] | None = None
        self.synced = threading.Event()
        self._down = False

    def poll(self) -> dict[str, Obj]:
        out: dict[str, Obj] = {}
        kwargs: dict[str, Any] = {"Filters": self.filters} if self.filters else {}
        for page in self.ec2.get_paginator("describe_instances").paginate(**kwargs):
            for res in page.get("Reservations") or []:
                for inst in res.get("Instances") or []:
                    out[inst["InstanceId"]] = inst
        return out

    def run(self) -> None:
        # One last poll once stopping is asked for: the lane ends with the states at its stop (a
        # transition between the last periodic poll and the stop is still recorded).
        while True:
            final = self.stopping.is_set()
            try:
                now_state = self.poll()
                now = self.tl.clock()
                if self._down:
                    self._down = False
                    self.tl._record(self.cluster, Change("timeline", "aws-reachable", f"aws/{self.region}",
                                                         "EC2 answers again"), now)
                if self.state is not None:
                    for ch in instance_changes(self.state, now_state):
                        self.tl._record(self.cluster, ch, now)
                self.state = now_state
                self.synced.set()
            except Exception as exc:  # noqa: BLE001 - botocore errors, connection refused
                if not self._down:
                    self._down = True
                    self.tl._record(self.cluster, Change("timeline", "aws-unreachable", f"aws/{self.region}",
                                                         f"{type(exc).__name__}: {str(exc)[:160]}"), self.tl.clock())
            if final:
                return
            self.stopping.wait(self.interval)


def _ec2_client(session_or_clients: Any, region: str) -> Any:
    x = session_or_clients
    if hasattr(x, "describe_instances"):
        return x
    if isinstance(x, Mapping):
        return x["ec2"]
    if hasattr(x, "client"):
        return x.client("ec2", region)
    raise InvalidParameter("session_or_clients", type(x).__name__,
                           "watch_aws needs a boto3 Session, a kubekit.aws.Target, an EC2 client or {'ec2': client}")


# -- the timeline --------------------------------------------------------------------------------

class Timeline:
    """Entries from every source, in time order; thread-safe to add to while watches run."""

    def __init__(self, t0: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.t0 = t0
        self.clock = clock
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._clusters: dict[str, _ClusterWatch] = {}
        self._aws: list[_AwsWatch] = []

    # recording -------------------------------------------------------------------------------
    def _record(self, cluster: str, ch: Change, at: float) -> Entry:
        with self._lock:
            self._seq += 1
            e = Entry(time=at, source=ch.source, cluster=cluster, object=ch.object, what=ch.what, detail=ch.detail,
                      fields=dict(ch.fields), seq=self._seq)
            self._entries.append(e)
            return e

    def add(self, source: str, what: str, detail: str = "", *, cluster: str = "", object: str = "",
            time: float | None = None, **fields: Any) -> Entry:
        """Record something from another source (federation, the ledger, the drill's own steps)."""
        return self._record(cluster, Change(source, what, object, detail, fields), self.clock() if time is None
                            else time)

    def mark(self, label: str, kind: str = "fault", *, t0: bool = False, cluster: str = "", object: str = "",
             time: float | None = None, **fields: Any) -> Entry:
        """A fault, recovery or note (plots draw a line); ``t0=True`` makes it the drill's T0."""
        e = self.add("drill", kind, label, cluster=cluster, object=object, time=time, mark=True, **fields)
        if t0:
            self.t0 = e.time
        return e

    def set_t0(self, at: float | None = None) -> float:
        self.t0 = self.clock() if at is None else at
        return self.t0

    # watching --------------------------------------------------------------------------------
    def watch_cluster(self, name: str, api_client: Any, *, namespaces: Sequence[str] | None = None,
                      wait: float = 10.0) -> None:
        """Watch pods, nodes, PVCs, events, node leases and VolumeAttachments of one cluster.

        ``namespaces`` limits pods, PVCs and events (node events in ``default`` are kept);
        returns once every watch has its initial list (at most ``wait`` seconds).
        """
        if name in self._clusters:
            raise InvalidParameter("cluster", name, "is already watched by this timeline")
        cw = _ClusterWatch(name, api_client)
        self._clusters[name] = cw
        for kind in _kinds(namespaces):
            w = _Watch(self, cw, kind)
            cw.watches.append(w)
            w.start()
        cw.checker = threading.Thread(target=cw.check_leases, args=(self,), name=f"timeline-{name}-leases",
                                      daemon=True)
        cw.checker.start()
        end = time.monotonic() + wait
        for w in cw.watches:
            w.synced.wait(max(0.0, end - time.monotonic()))

    def watch_aws(self, session_or_clients: Any, region: str = "us-east-1", filters: list[Obj] | None = None, *,
                  interval: float = 0.5, cluster: str | None = None, wait: float = 10.0) -> None:
        """Poll EC2 instance states every ``interval`` s and record each transition (source ``aws``)."""
        w = _AwsWatch(self, _ec2_client(session_or_clients, region), region, filters, interval, cluster or region)
        self._aws.append(w)
        w.start()
        w.synced.wait(wait)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every watch and poller (idempotent)."""
        for w in self._aws:
            w.stopping.set()
        for cw in self._clusters.values():
            cw.stop(timeout)
        for w in self._aws:
            w.join(timeout)
        self._clusters.clear()
        self._aws.clear()

    def __enter__(self) -> "Timeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # reading ---------------------------------------------------------------------------------
    def entries(self, *, source: str | Iterable[str] | None = None, cluster: str | None = None,
                what: str | Iterable[str] | None = None, object: str | None = None,
                since: float | None = None) -> list[Entry]:
        """Entries sorted by time (``t`` relative to T0), optionally filtered; ``object`` matches a prefix."""
        with self._lock:
            items = list(self._entries)
        sources = {source} if isinstance(source, str) else set(source) if source is not None else None
        whats = {what} if isinstance(what, str) else set(what) if what is not None else None
        out = []
        for e in sorted(items, key=lambda e: (e.time, e.seq)):
            if sources is not None and e.source not in sources:
                continue
            if whats is not None and e.what not in whats:
                continue
            if cluster is not None and e.cluster != cluster:
                continue
            if object is not None and not e.object.startswith(object):
                continue
            if since is not None and e.time < since:
                continue
            out.append(replace(e, t=None if self.t0 is None else round(e.time - self.t0, 4)))
        return out

    def since(self, t0: float) -> list[Entry]:
        return self.entries(since=t0)

    def first(self, what: str | Iterable[str], *, object: str | None = None, since: float | None = None,
              **fields: Any) -> Entry | None:
        """The first entry of a kind (and object prefix, and field values) at or after ``since``."""
        for e in self.entries(what=what, object=object, since=since):
            if all(e.fields.get(k) == v for k, v in fields.items()):
                return e
        return None

    def marks(self) -> list[Entry]:
        return [e for e in self.entries(source="drill") if e.fields.get("mark")]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def table(self, entries: Sequence[Entry] | None = None, *, limit: int | None = None,
              exclude: Iterable[str] = ()) -> str:
        """A plain text table: t (s after T0), source, cluster, object, what, detail."""
        rows = [e for e in (self.entries() if entries is None else entries) if e.source not in set(exclude)]
        if limit is not None:
            rows = rows[:limit]
        return format_entries(rows, self.t0)

    def to_dict(self) -> dict[str, Any]:
        return {"t0": self.t0, "entries": [e.to_dict() for e in self.entries()]}

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(self.to_json() + "\n")
        return p

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Timeline":
        """A timeline from its JSON export (for recorded timelines, reports, tests)."""
        tl = cls(t0=data.get("t0"))
        for d in data.get("entries") or []:
            tl._seq += 1
            tl._entries.append(Entry.from_dict(d, seq=tl._seq))
        return tl

    @classmethod
    def load(cls, path: str | Path) -> "Timeline":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __repr__(self) -> str:
        return f"Timeline({len(self)} entries, t0={self.t0})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table(limit=200))


def format_entries(entries: Sequence[Entry], t0: float | None) -> str:
    if not entries:
        return "(no entries)"
    rows = []
    for e in entries:
        t = e.time - t0 if t0 is not None else e.time
        rows.append({"t": f"{t:+.2f}", "source": e.source, "cluster": e.cluster, "object": e.object, "what": e.what,
                     "detail": e.detail[:90]})
    cols = ["t", "source", "cluster", "object", "what", "detail"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)
