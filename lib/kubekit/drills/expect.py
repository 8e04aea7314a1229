"""What Kubernetes should do, and when, for a fault on *this* cluster: its timing profile and version.

::

    profile = read_profile(api_client)           # kube-system/kubesim-timing if present, else upstream defaults
    topo = read_topology(api_client)             # nodes per zone (the eviction rules depend on it)
    exp = expected(Fault(NODE_STOP, nodes=("ip-10-0-0-4…",), pods=(pet, web)), profile, topo)
    print(exp.table())                           # phases, windows (effective and upstream), the flag that sets each

Everything below :func:`read_profile` / :func:`read_topology` is pure.

A phase is expected ``window`` seconds after its ``anchor``: ``T0`` (the injection) or
another phase, so the grader can chain on what was actually observed (eviction =
*observed* taint + tolerationSeconds). Windows are effective seconds (upstream x the
profile's scale); ``upstream`` gives the same window in upstream seconds.

Rules (sources: ../shared/reference/federation-drills.md §0, §6(b); sim-fidelity.md §4-§5):

- **node lost** (EC2 stop or terminate, kubelet partition): the kubelet's Lease stops
  being renewed at R (within one renew interval of T0); Ready=Unknown at
  R + grace .. R + grace + node-monitor-period (grace 40 s up to 1.31, 50 s from 1.32);
- **NoExecute taint** ``node.kubernetes.io/unreachable`` in the same monitor pass, through a
  per-zone rate limiter (``--node-eviction-rate`` 0.1/s, burst 1): the first node of a zone at
  once, the k-th about (k-1) x 10 s later. Zone states: a zone with no Ready node is
  FullDisruption (normal rate); more than 2 not-ready nodes and >= 55 % of the zone is
  PartialDisruption: ``--secondary-node-eviction-rate`` 0.01/s, or **no taints at all when
  the zone has <= 50 nodes** (``--large-cluster-size-threshold``); when every zone is
  FullDisruption nothing is tainted (and existing taints are removed);
- **eviction** by the taint-eviction-controller at taint + min(tolerationSeconds) (300 s,
  DefaultTolerationSeconds); a Deployment's pod is then replaced at once by its ReplicaSet;
  a StatefulSet pet stays **Terminating** (at most one pod per identity) until the node
  comes back, the Node is deleted, or an operator acts;
- **stopped instance**: the cloud node lifecycle controller adds
  ``node.cloudprovider.kubernetes.io/shutdown:NoSchedule`` within its monitor period once the
  node is not Ready, and never deletes the node;
- **terminated instance**: the Node is deleted by the cloud node lifecycle controller, only once
  NotReady, within its monitor period; PodGC force-deletes the orphaned pods 40..80 s later
  (quarantine 40 s, period 20 s); the pet is recreated by its StatefulSet; its volume is
  force-detached at the latest 6 min after it stopped being used;
- **out-of-service** taint (``node.kubernetes.io/out-of-service=nodeshutdown:NoExecute``, added
  by an operator after the shutdown is verified): PodGC force-deletes the terminating pods within
  one period (20 s) and the attach/detach controller detaches their volumes without waiting
  the 6 min; the StatefulSet recreates the pet;
- **pod delete** (kubectl delete pod): graceful termination within terminationGracePeriodSeconds
  (30 s), recreated at once under the same name by its StatefulSet;
- **bad rollout** (a RollingUpdate with a partition to an image that cannot be pulled): the
  StatefulSet controller replaces the highest ordinal at once; its new pod fails the pull
  (``ErrImagePull``, then ``ImagePullBackOff`` within the first image back-off, 10 s) and never
  becomes Ready; the rollout stops there: no pet below it is touched, neither the other canary
  ordinals (it waits for the broken pet) nor those below the partition. Reverting the template is
  not enough: the broken pets must also be deleted (statefulset.md "Forced rollback");
- **node drain** (kubectl drain: cordon, then the eviction API for each pod): with a
  PodDisruptionBudget allowing ``m`` disruptions, the first ``m`` evictions are accepted at once
  and the others answered 429; kubectl retries every 5 s, so the k-th pet leaves only once an
  earlier one is Ready again on another node (same zone: the volume is zonal);
- **zone outage** (every instance of a zone stopped): the node-lost rules above for every node
  of the zone, with the zone states deciding the eviction rate; pets whose volume is in that
  zone have nowhere to go (volume node affinity) and stay Terminating;
- **node group replacement** (an instance of a managed node group terminated): EC2 Auto Scaling
  launches a replacement instance in the same zone (budget, not a flag).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import InvalidParameter

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "kubesim-timing"   # what kubesim publishes (lib/kubesim/timings.py as_configmap_data)
ZONE_LABEL = "topology.kubernetes.io/zone"
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"

# Fault kinds.
NODE_STOP = "node-stop"              # EC2 StopInstances: power off, Node stays
NODE_TERMINATE = "node-terminate"    # EC2 TerminateInstances: Node deleted by the cloud controller
NODE_PARTITION = "node-partition"    # kubelet unreachable, instance running
OUT_OF_SERVICE = "out-of-service"    # the operator's taint on a shut-down node
POD_DELETE = "pod-delete"            # kubectl delete pod
BAD_ROLLOUT = "bad-rollout"          # RollingUpdate (partition) to an image that cannot be pulled
NODE_DRAIN = "node-drain"            # kubectl drain: cordon + eviction API under a PDB
FAULT_KINDS = (NODE_STOP, NODE_TERMINATE, NODE_PARTITION, OUT_OF_SERVICE, POD_DELETE, BAD_ROLLOUT, NODE_DRAIN)

TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

UNHEALTHY_ZONE_THRESHOLD = 0.55      # --unhealthy-zone-threshold
LARGE_CLUSTER_SIZE_THRESHOLD = 50    # --large-cluster-size-threshold

FOREVER = math.inf


@dataclass(frozen=True)
class Knob:
    """One timing: its upstream default (seconds), the flag or field that sets it, and the source."""

    name: str
    upstream: float
    flag: str
    source: str


KNOBS: dict[str, Knob] = {k.name: k for k in (
    Knob("lease_renew", 10.0, "kubelet node Lease renew interval (leaseDurationSeconds 40 / 4)",
         "k8s.io/kubelet config/v1beta1 types.go; Kubernetes docs Nodes > Heartbeats (sim-fidelity NL-01)"),
    Knob("node_monitor_period", 5.0, "kube-controller-manager --node-monitor-period",
         "kube-controller-manager flags (federation-drills §0; sim-fidelity NL-02)"),
    Knob("node_monitor_grace", 50.0, "kube-controller-manager --node-monitor-grace-period (40 s <= 1.31, 50 s >= 1.32)",
         "kubernetes/kubernetes PR #126287 (federation-drills §0; sim-fidelity V1, NL-02)"),
    Knob("node_eviction_period", 10.0, "kube-controller-manager --node-eviction-rate=0.1 (per zone, burst 1)",
         "kubernetes/website nodes.md 'Rate limits on eviction'; rate_limited_queue.go (sim-fidelity NL-05)"),
    Knob("secondary_eviction_period", 100.0, "kube-controller-manager --secondary-node-eviction-rate=0.01",
         "kubernetes/website nodes.md 'Rate limits on eviction' (sim-fidelity NL-06)"),
    Knob("default_toleration_seconds", 300.0,
         "kube-apiserver --default-unreachable-toleration-seconds / --default-not-ready-toleration-seconds",
         "DefaultTolerationSeconds admission; kubernetes/website taint-and-toleration.md (sim-fidelity NL-07, NL-08)"),
    Knob("podgc_period", 20.0, "PodGC gcCheckPeriod", "pkg/controller/podgc/gc_controller.go (sim-fidelity NL-10)"),
    Knob("podgc_quarantine", 40.0, "PodGC quarantineTime",
         "pkg/controller/podgc/gc_controller.go (sim-fidelity NL-10)"),
    Knob("force_detach_after", 360.0,
         "attach/detach maxWaitForUnmountDuration (--disable-force-detach-on-timeout turns it off)",
         "kubernetes/website node-shutdown.md (federation-drills §0; sim-fidelity SV-10)"),
    Knob("cloud_node_monitor_period", 5.0, "cloud-controller-manager --node-monitor-period",
         "cloud-provider controllers/nodelifecycle MonitorNodes; config defaults (sim-fidelity AWS-03)"),
    Knob("default_termination_grace", 30.0, "pod spec.terminationGracePeriodSeconds default",
         "core/v1 Pod defaults (federation-drills §6(b) D1)"),
    Knob("startup_budget", 60.0, "budget: a replacement pod Ready (schedule, attach, start; image pulls extra)",
         "federation-drills §6(b) D1 pass criterion 'Ready < X s (e.g. 60 s + image pull)'"),
    Knob("volume_detach_budget", 10.0, "budget: attach/detach reconciler (100 ms loop) + EBS DetachVolume",
         "pkg/controller/volume/attachdetach reconciler; sim-fidelity SV-10"),
    Knob("image_pull_backoff", 10.0, "kubelet image pull back-off (initial 10 s, doubling, max 300 s)",
         "pkg/kubelet/kubelet.go backOffPeriod / MaxImageBackOff; kubernetes/website images.md 'ImagePullBackOff'"),
    Knob("drain_retry", 5.0, "kubectl drain: a refused (429) eviction is retried every 5 s",
         "kubernetes/kubectl pkg/drain/drain.go evictPods '(will retry after 5s)' (tests/sim/test_drain.py)"),
    Knob("asg_replace_budget", 60.0, "budget: EC2 Auto Scaling replaces a terminated node-group instance "
         "(health check + RunInstances)", "docs.aws.amazon.com/autoscaling/ec2/userguide/"
         "ec2-auto-scaling-health-checks.html (federation-drills §6(b) D4 'ASG replaces the instance')"),
)}

RULE_SOURCES = {
    "zone-states": "node_lifecycle_controller.go ComputeZoneState / handleDisruption; --unhealthy-zone-threshold 0.55, "
                   "--large-cluster-size-threshold 50 (federation-drills §0; sim-fidelity NL-06)",
    "at-most-one": "kubernetes/website force-delete-stateful-set-pod.md; node-shutdown.md 'stuck in terminating "
                   "status' (federation-drills §5)",
    "out-of-service": "kubernetes/website node-shutdown.md Non-graceful node shutdown (GA 1.28); podgc gcTerminating "
                      "(sim-fidelity NL-11)",
    "cloud-node": "cloud-provider controllers/nodelifecycle MonitorNodes: only not-Ready nodes (sim-fidelity AWS-03)",
    "replicaset": "ReplicaSet controller: terminating pods do not count, a replacement is created at once",
    "rolling-update": "StatefulSet RollingUpdate: highest ordinal first, one at a time, waits while an updated pet "
                      "is not Running and Ready (sim-fidelity ST-09, ST-15; kubernetes/website statefulset.md "
                      "'Rolling Updates')",
    "partition": "StatefulSet partition: ordinals below it keep the current revision (sim-fidelity ST-17; "
                 "kubernetes/website statefulset.md 'Partitions')",
    "forced-rollback": "kubernetes/website statefulset.md 'Forced rollback': after reverting the template, delete "
                       "the pods that ran the bad configuration",
    "eviction": "pods/eviction: 429 'Cannot evict pod as it would violate the pod's disruption budget.' "
                "(pkg/registry/core/pod/storage/eviction.go; kubernetes/website api-eviction.md, safely-drain-node.md)",
    "volume-zone": "a zonal EBS volume binds its pet to the zone: PV nodeAffinity topology.kubernetes.io/zone, "
                   "scheduler VolumeZone/VolumeBinding (sim-fidelity SV-06, AWS-04)",
    "node-group": "EKS managed node group = EC2 Auto Scaling group: a terminated instance is replaced in its "
                  "subnet's zone (sandbox: kubekit.sandbox.cloud)",
}


# -- the cluster's profile -----------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """A cluster's timing profile: effective seconds = upstream x ``scale``; grace depends on the version."""

    name: str = "upstream"
    scale: float = 1.0
    version: tuple[int, int] = (1, 33)
    upstream: Mapping[str, float] = field(default_factory=dict)    # knob -> upstream seconds (overrides KNOBS)
    effective: Mapping[str, float] = field(default_factory=dict)   # knob -> seconds as published
    source: str = "upstream defaults"

    def up(self, knob: str) -> float:
        """The upstream value of a knob (seconds) for this cluster's version."""
        if knob in self.upstream:
            return float(self.upstream[knob])
        if knob == "node_monitor_grace":
            return 40.0 if self.version <= (1, 31) else 50.0
        return KNOBS[knob].upstream

    def s(self, knob: str) -> float:
        """The effective value of a knob (seconds) on this cluster."""
        if knob in self.effective:
            return float(self.effective[knob])
        return self.up(knob) * self.scale

    @property
    def grace(self) -> float:
        return self.s("node_monitor_grace")

    def describe(self) -> str:
        v = f"{self.version[0]}.{self.version[1]}"
        return (f"profile {self.name} (x{self.scale:g}) on Kubernetes {v}: node grace {self.grace:g} s "
                f"(upstream {self.up('node_monitor_grace'):g} s), "
                f"tolerations {self.s('default_toleration_seconds'):g} s "
                f"(upstream {self.up('default_toleration_seconds'):g} s); from {self.source}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scale": self.scale, "version": f"{self.version[0]}.{self.version[1]}",
                "source": self.source,
                "knobs": {k: {"effective": self.s(k), "upstream": self.up(k), "flag": KNOBS[k].flag} for k in KNOBS}}


_VALUE = re.compile(r"^\s*([0-9.eE+-]+)s?\s*(?:\(upstream\s+([0-9.eE+-]+)s?\))?\s*$")


def parse_version(info: Mapping[str, Any] | str | tuple[int, int] | None) -> tuple[int, int]:
    """(major, minor) from a /version answer (``minor`` may be ``"31+"`` on EKS) or a ``v1.31.2-eks`` string."""
    if info is None:
        return (1, 33)
    if isinstance(info, tuple):
        return info
    if isinstance(info, Mapping):
        major, minor = str(info.get("major", "")), str(info.get("minor", ""))
        m1, m2 = re.match(r"\d+", major), re.match(r"\d+", minor)
        if m1 and m2:
            return (int(m1.group()), int(m2.group()))
        info = str(info.get("gitVersion") or info.get("git_version") or "")
    m = re.search(r"(\d+)\.(\d+)", str(info))
    if not m:
        raise InvalidParameter("version", info, "cannot read a Kubernetes MAJOR.MINOR from it")
    return (int(m.group(1)), int(m.group(2)))


def profile_from(configmap_data: Mapping[str, str] | None, version: Any = None) -> Profile:
    """The profile from the ``kubesim-timing`` ConfigMap's data (None: upstream defaults) and /version."""
    ver = parse_version(version)
    if not configmap_data:
        return Profile("upstream", 1.0, ver, source="upstream defaults (no kube-system/kubesim-timing ConfigMap)")
    scale = float(configmap_data.get("scale", "1") or 1)
    upstream: dict[str, float] = {}
    effective: dict[str, float] = {}
    for key, text in configmap_data.items():
        if key in ("profile", "scale"):
            continue
        m = _VALUE.match(str(text))
        if not m:
            continue
        effective[key] = float(m.group(1))
        if m.group(2) is not None:
            upstream[key] = float(m.group(2))
    return Profile(str(configmap_data.get("profile", "custom")), scale, ver, upstream, effective,
                   source=f"ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}")


def read_profile(api_client: Any) -> Profile:
    """Read the ConfigMap ``kube-system/kubesim-timing`` (if any) and ``/version`` of a cluster."""
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    from ..errors import KubeError

    try:
        v = k8s.VersionApi(api_client).get_code()
        version: Any = {"major": v.major, "minor": v.minor, "gitVersion": v.git_version}
    except ApiException as exc:
        raise KubeError("GET /version", exc) from exc
    try:
        cm = k8s.CoreV1Api(api_client).read_namespaced_config_map(CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        data = dict(cm.data or {})
    except ApiException as exc:
        if exc.status not in (403, 404):
            raise KubeError(f"read ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}", exc) from exc
        data = {}
    return profile_from(data or None, version)


# -- the cluster's shape and the fault -----------------------------------------------------------

@dataclass(frozen=True)
class Topology:
    """Nodes per zone (only nodes that count for disruption: not labelled exclude-disruption)."""

    zones: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_nodes(cls, nodes: Iterable[Mapping[str, Any]]) -> "Topology":
        zones: dict[str, list[str]] = {}
        for n in nodes:
            meta = n.get("metadata") or {}
            labels = meta.get("labels") or {}
            if EXCLUDE_DISRUPTION in labels:
                continue
            zones.setdefault(labels.get(ZONE_LABEL, ""), []).append(meta.get("name", ""))
        return cls({z: tuple(sorted(ns)) for z, ns in sorted(zones.items())})

    def zone_of(self, node: str) -> str:
        return next((z for z, ns in self.zones.items() if node in ns), "")

    @property
    def size(self) -> int:
        return sum(len(ns) for ns in self.zones.values())


def read_topology(api_client: Any) -> Topology:
    from kubernetes import client as k8s

    nodes = k8s.CoreV1Api(api_client).list_node().items
    return Topology.from_nodes({"metadata": {"name": n.metadata.name, "labels": n.metadata.labels or {}}}
                               for n in nodes)


@dataclass(frozen=True)
class PodRef:
    """A pod the fault touches: a ``pet`` (StatefulSet) or ``stateless`` (Deployment/ReplicaSet)."""

    namespace: str
    name: str
    node: str = ""
    kind: str = "pet"                          # pet | stateless
    owner: str = ""                            # "ReplicaSet/web-7d9c" (stateless replacements are matched by it)
    toleration_seconds: float | None = None    # min NoExecute tolerationSeconds (effective); None: the default
    volume: str = ""                           # its PV (pets with a claim)

    @property
    def ref(self) -> str:
        return f"pod/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Fault:
    """A fault: its kind, the nodes and pods it touches, and kind-specific ``options``.

    Options: ``bad-rollout``: ``partition`` (the first ordinal updated); ``node-drain``:
    ``max_unavailable`` (the PDB's, default 1; ``pods`` in eviction order); ``node-terminate``:
    ``replacement`` (True: the node group replaces the instance).
    """

    kind: str
    nodes: tuple[str, ...] = ()
    pods: tuple[PodRef, ...] = ()
    cluster: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise InvalidParameter("fault kind", self.kind, "unknown fault kind",
                                   f"Use one of {', '.join(FAULT_KINDS)}")


# -- phases --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Match:
    """Which timeline entries a phase is about: ``what`` in a set, exact object, field values (or sets)."""

    what: tuple[str, ...]
    object: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    cluster: str | None = None
    cancelled_by: tuple[str, ...] = ()   # an entry is void if one of these follows it for the same object

    def __call__(self, entry: Any) -> bool:
        if entry.what not in self.what:
            return False
        if self.object is not None and entry.object != self.object:
            return False
        if self.cluster and entry.cluster != self.cluster:
            return False
        for k, v in self.fields.items():
            got = entry.fields.get(k)
            if isinstance(v, (tuple, frozenset, set)):
                if got not in v:
                    return False
            elif got != v:
                return False
        return True


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    source: str                                 # the controller expected to act
    match: Match
    anchor: str                                 # "T0" or another phase's key
    window: tuple[float, float]                 # effective seconds after the anchor
    upstream: tuple[float, float]               # the same in upstream seconds
    cites: str                                  # the flag(s) or document that set it
    expect: str = "present"                     # present | absent (must NOT happen)
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "source": self.source, "anchor": self.anchor,
                "window": list(self.window), "upstream": list(self.upstream), "cites": self.cites,
                "expect": self.expect, "why": self.why,
                "match": {"what": list(self.match.what), "object": self.match.object, "fields": {
                    k: list(v) if isinstance(v, (tuple, set, frozenset)) else v for k, v in self.match.fields.items()}}}


@dataclass(frozen=True)
class Expected:
    fault: Fault
    profile: Profile
    phases: tuple[Phase, ...]
    notes: tuple[str, ...] = ()

    def phase(self, key: str) -> Phase:
        return next(p for p in self.phases if p.key == key)

    def table(self) -> str:
        rows = []
        for p in self.phases:
            rows.append({"phase": p.key, "source": p.source, "after": p.anchor,
                         "window_s": _win(p.window), "upstream_s": _win(p.upstream),
                         "expect": p.expect, "set by": p.cites[:70]})
        from .ledger import _table

        out = _table(rows)
        if self.notes:
            out += "\n" + "\n".join(f"- {n}" for n in self.notes)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"fault": {"kind": self.fault.kind, "nodes": list(self.fault.nodes), "cluster": self.fault.cluster,
                          "pods": [p.__dict__ for p in self.fault.pods], "options": dict(self.fault.options)},
                "profile": self.profile.to_dict(), "phases": [p.to_dict() for p in self.phases],
                "notes": list(self.notes)}


def _win(w: tuple[float, float]) -> str:
    lo, hi = w
    fmt = (lambda v: "inf" if v == FOREVER else f"{v:g}")
    return fmt(lo) if lo == hi else f"{fmt(lo)}..{fmt(hi)}"


class _Builder:
    def __init__(self, profile: Profile, cluster: str) -> None:
        self.p = profile
        self.cluster = cluster or None
        self.phases: list[Phase] = []
        self.notes: list[str] = []

    def add(self, key: str, title: str, source: str, match: Match, anchor: str, lo: Sequence[tuple[str, float]],
            hi: Sequence[tuple[str, float]] | float, cites: Iterable[str], expect: str = "present",
            why: str = "") -> Phase:
        """``lo``/``hi``: sums of (knob, multiplier) terms ("" = a constant in effective seconds)."""
        def total(terms: Sequence[tuple[str, float]] | float, up: bool) -> float:
            if isinstance(terms, (int, float)):
                return float(terms)
            return sum((mult if not knob else mult * (self.p.up(knob) if up else self.p.s(knob)))
                       for knob, mult in terms)
        window = (total(lo, False), total(hi, False))
        upstream = (total(lo, True), total(hi, True))
        cite = "; ".join(dict.fromkeys(c for c in cites if c))
        ph = Phase(key, title, source, replace(match, cluster=self.cluster), anchor, window, upstream, cite, expect,
                   why)
        self.phases.append(ph)
        return ph

    def cite(self, *knobs: str) -> list[str]:
        """"<flag> = <upstream value> s [<source>]" for each knob."""
        return [f"{KNOBS[k].flag} = {self.p.up(k):g} s [{KNOBS[k].source}]" for k in knobs]


def zone_states(topology: Topology, lost: Iterable[str]) -> dict[str, str]:
    """``Normal`` | ``PartialDisruption`` | ``FullDisruption`` per zone after ``lost`` nodes go not-Ready."""
    lost = set(lost)
    out = {}
    for zone, nodes in topology.zones.items():
        not_ready = sum(n in lost for n in nodes)
        ready = len(nodes) - not_ready
        if ready == 0 and not_ready > 0:
            out[zone] = "FullDisruption"
        elif not_ready > 2 and not_ready / len(nodes) >= UNHEALTHY_ZONE_THRESHOLD:
            out[zone] = "PartialDisruption"
        else:
            out[zone] = "Normal"
    return out


def taint_rule(topology: Topology, lost: Iterable[str]) -> dict[str, tuple[str | None, str]]:
    """Per zone: (knob of the tainting period or None = no NoExecute taints, the reason)."""
    lost = set(lost)
    states = zone_states(topology, lost)
    everything_down = bool(states) and all(s == "FullDisruption" for s in states.values())
    out: dict[str, tuple[str | None, str]] = {}
    for zone, state in states.items():
        size = len(topology.zones[zone])
        if not any(n in lost for n in topology.zones[zone]):
            continue
        if everything_down:
            out[zone] = (None, "every zone is FullDisruption: the node lifecycle controller stops tainting and "
                               "removes NoExecute taints (no evictions)")
        elif state == "PartialDisruption" and size <= LARGE_CLUSTER_SIZE_THRESHOLD:
            out[zone] = (None, f"zone {zone or '(none)'} is PartialDisruption and has {size} <= "
                               f"{LARGE_CLUSTER_SIZE_THRESHOLD} nodes: eviction rate 0, no NoExecute taints "
                               "(small-cluster rule)")
        elif state == "PartialDisruption":
            out[zone] = ("secondary_eviction_period", f"zone {zone} is PartialDisruption with {size} nodes: "
                                                      "--secondary-node-eviction-rate 0.01/s")
        else:
            out[zone] = ("node_eviction_period", f"zone {zone or '(none)'} is {state}: --node-eviction-rate 0.1/s "
                                                 "(first node at once, then one per 10 s)")
    return out


def expected(fault: Fault, profile: Profile, topology: Topology | None = None) -> Expected:
    """The expected phases of a fault on a cluster with this profile and shape (pure)."""
    b = _Builder(profile, fault.cluster)
    topology = topology or Topology({"": tuple(fault.nodes)})
    if fault.kind in (NODE_STOP, NODE_TERMINATE, NODE_PARTITION):
        _node_lost(b, fault, topology)
    elif fault.kind == OUT_OF_SERVICE:
        _out_of_service(b, fault)
    elif fault.kind == POD_DELETE:
        _pod_delete(b, fault)
    elif fault.kind == BAD_ROLLOUT:
        _bad_rollout(b, fault)
    elif fault.kind == NODE_DRAIN:
        _drain(b, fault)
    return Expected(fault, profile, tuple(b.phases), tuple(b.notes))


def _node_lost(b: _Builder, fault: Fault, topo: Topology) -> None:
    rules = taint_rule(topo, fault.nodes)
    lost_per_zone: dict[str, list[str]] = {}
    for n in fault.nodes:
        lost_per_zone.setdefault(topo.zone_of(n), []).append(n)
    for zone, (knob, why) in sorted(rules.items()):
        b.notes.append(why)
    for zone, state in sorted(zone_states(topo, fault.nodes).items()):
        pinned = [p.name for p in fault.pods if p.kind == "pet" and p.volume and topo.zone_of(p.node) == zone]
        if state == "FullDisruption" and pinned:
            b.notes.append(f"zone {zone} has no Ready node: {', '.join(pinned)} cannot move, their volumes are "
                           f"in {zone} ({RULE_SOURCES['volume-zone']})")
    if fault.kind == NODE_STOP:
        b.notes.append("stopped instance: Node kept, shutdown taint only; pets stay Terminating (at most one)")
    elif fault.kind == NODE_TERMINATE:
        b.notes.append("terminated instance: Node deleted once NotReady; PodGC frees the pods; pets recreated")
    for n in fault.nodes:
        ref = f"node/{n}"
        b.add(f"lease-stop:{n}", f"{n}: kubelet stops renewing its Lease", "kubelet",
              Match(("lease-renewals-stopped",), ref, cancelled_by=("lease-renewals-resumed",)), "T0",
              [("lease_renew", -1.0)], [("lease_renew", 1.0)],
              b.cite("lease_renew"), why="renewals stop with the kubelet; R = the last renewal")
        b.add(f"not-ready:{n}", f"{n}: Ready=Unknown (NodeNotReady)", "node-lifecycle-controller",
              Match(("node-not-ready",), ref), f"lease-stop:{n}", [("node_monitor_grace", 1.0)],
              [("node_monitor_grace", 1.0), ("node_monitor_period", 1.0)],
              b.cite("node_monitor_grace", "node_monitor_period"), why="R + grace .. R + grace + monitor period")
        if fault.kind == NODE_STOP:
            b.add(f"shutdown-taint:{n}", f"{n}: shutdown taint (instance stopped)", "cloud-node-lifecycle-controller",
                  Match(("taint-added",), ref, {"key": TAINT_SHUTDOWN}), f"not-ready:{n}", [],
                  [("cloud_node_monitor_period", 1.0)], b.cite("cloud_node_monitor_period") + [RULE_SOURCES[
                      "cloud-node"]], why="only nodes that are not Ready are looked up in EC2")
            b.add(f"node-kept:{n}", f"{n}: the Node is not deleted (instance only stopped)",
                  "cloud-node-lifecycle-controller", Match(("node-deleted",), ref), "T0", [], FOREVER,
                  [RULE_SOURCES["cloud-node"]], expect="absent")
        elif fault.kind == NODE_TERMINATE:
            b.add(f"node-deleted:{n}", f"{n}: Node deleted (instance terminated)", "cloud-node-lifecycle-controller",
                  Match(("node-deleted",), ref), f"not-ready:{n}", [], [("cloud_node_monitor_period", 1.0)],
                  b.cite("cloud_node_monitor_period") + [RULE_SOURCES["cloud-node"]],
                  why="deleted only once NotReady")
            if fault.options.get("replacement"):
                zone = topo.zone_of(n)
                b.add(f"replacement:{n}", f"{n}: the node group launches a replacement instance in {zone}", "aws",
                      Match(("instance-pending", "instance-running"), None, {"zone": zone, "previous": ""}), "T0",
                      [], [("asg_replace_budget", 1.0)], b.cite("asg_replace_budget") + [RULE_SOURCES["node-group"]],
                      why="the Auto Scaling group sees fewer instances than desired")
                b.phases[-1] = replace(b.phases[-1], match=replace(b.phases[-1].match, cluster=None))  # AWS, any
        knob, why = rules.get(topo.zone_of(n), ("node_eviction_period", ""))
        k = len(lost_per_zone.get(topo.zone_of(n), [n]))
        taint_match = Match(("taint-added",), ref, {"key": (TAINT_UNREACHABLE, TAINT_NOT_READY), "effect": "NoExecute"})
        tainted = knob is not None
        if fault.kind == NODE_TERMINATE:
            # The cloud node controller may delete the Node before the NoExecute taint lands (both act
            # on the NotReady it sees); the pods go through PodGC either way, so the taint is not graded.
            b.notes.append(f"{n}: a NoExecute taint may or may not be added before the Node is deleted")
        elif tainted:
            b.add(f"noexecute-taint:{n}", f"{n}: NoExecute taint {TAINT_UNREACHABLE}", "node-lifecycle-controller",
                  taint_match, f"not-ready:{n}", [], [("node_monitor_period", 1.0), (str(knob), k - 1.0)],
                  b.cite("node_monitor_period", str(knob)) + [RULE_SOURCES["zone-states"]],
                  why=why + (f"; {k} nodes lost in the zone" if k > 1 else ""))
        else:
            b.add(f"noexecute-taint:{n}", f"{n}: no NoExecute taint", "node-lifecycle-controller", taint_match,
                  f"not-ready:{n}", [], FOREVER, [RULE_SOURCES["zone-states"]], expect="absent", why=why)
        for pod in (p for p in fault.pods if p.node == n):
            _pod_on_lost_node(b, fault, pod, tainted)


def _pod_on_lost_node(b: _Builder, fault: Fault, pod: PodRef, tainted: bool) -> None:
    n = pod.node
    tol: Sequence[tuple[str, float]] = ([("", pod.toleration_seconds)] if pod.toleration_seconds is not None
                                        else [("default_toleration_seconds", 1.0)])
    tol_up = ((pod.toleration_seconds / b.p.scale) if pod.toleration_seconds is not None else None)
    evict_match = Match(("pod-terminating",), pod.ref)
    if fault.kind == NODE_TERMINATE:
        b.add(f"podgc:{pod.name}", f"{pod.name}: force-deleted by PodGC (node gone)", "pod-garbage-collector",
              Match(("pod-deleted",), pod.ref), f"node-deleted:{n}", [("podgc_quarantine", 1.0)],
              [("podgc_quarantine", 1.0), ("podgc_period", 2.0)], b.cite("podgc_quarantine", "podgc_period"),
              why="orphaned pods: first pass quarantines the node name 40 s, a later pass deletes")
        gone = f"podgc:{pod.name}"
    else:
        if tainted:
            ph = b.add(f"evicted:{pod.name}", f"{pod.name}: evicted (taint + tolerationSeconds)",
                       "taint-eviction-controller", evict_match, f"noexecute-taint:{n}", tol, tol,
                       b.cite("default_toleration_seconds"), why="deleted at taint + min(tolerationSeconds)")
            if tol_up is not None:  # a pod-specific toleration: its own upstream equivalent
                b.phases[-1] = replace(ph, upstream=(tol_up, tol_up))
        else:
            b.add(f"evicted:{pod.name}", f"{pod.name}: not evicted (no NoExecute taint)", "taint-eviction-controller",
                  evict_match, f"not-ready:{n}", [], FOREVER, [RULE_SOURCES["zone-states"]], expect="absent")
        gone = f"evicted:{pod.name}"
    if pod.kind == "stateless":
        if fault.kind == NODE_TERMINATE or tainted:
            b.add(f"replaced:{pod.name}", f"{pod.name}: replacement created by {pod.owner or 'its ReplicaSet'}",
                  "replicaset-controller", Match(("pod-created",), None, {"owner": pod.owner}), gone, [], 0.0,
                  [RULE_SOURCES["replicaset"]])
            b.add(f"replacement-ready:{pod.name}", f"{pod.name}: replacement Ready", "kubelet",
                  Match(("pod-ready",), None, {"owner": pod.owner}), f"replaced:{pod.name}", [],
                  [("startup_budget", 1.0)], b.cite("startup_budget"))
        return
    # a pet
    if fault.kind == NODE_TERMINATE:
        b.add(f"recreated:{pod.name}", f"{pod.name}: recreated under the same name", "statefulset-controller",
              Match(("pod-created",), pod.ref), gone, [], 0.0, [RULE_SOURCES["at-most-one"]])
        if pod.volume:
            b.add(f"detached:{pod.name}", f"{pod.name}: volume {pod.volume} detached from {n}",
                  "attachdetach-controller", Match(("volume-detached",), None, {"pv": pod.volume, "node": n}), gone,
                  [], [("force_detach_after", 1.0), ("volume_detach_budget", 1.0)],
                  b.cite("force_detach_after", "volume_detach_budget"),
                  why="at the latest after the 6 min force detach")
        b.add(f"pet-ready:{pod.name}", f"{pod.name}: Ready again", "kubelet", Match(("pod-ready",), pod.ref),
              f"recreated:{pod.name}", [], [("force_detach_after", 1.0 if pod.volume else 0.0),
                                            ("startup_budget", 1.0)], b.cite("startup_budget"))
    else:
        b.add(f"stuck:{pod.name}", f"{pod.name}: stays (Terminating) while the node is down", "statefulset-controller",
              Match(("pod-deleted", "pod-created"), pod.ref), gone if tainted else "T0", [], FOREVER,
              [RULE_SOURCES["at-most-one"]], expect="absent",
              why="at most one pod per identity: nobody confirms the old one is gone")


def _out_of_service(b: _Builder, fault: Fault) -> None:
    b.notes.append("out-of-service: force delete + immediate detach, only after the shutdown is verified; "
                   "remove the taint afterwards")
    for n in fault.nodes:
        ref = f"node/{n}"
        b.add(f"oos-taint:{n}", f"{n}: out-of-service taint applied", "user",
              Match(("taint-added",), ref, {"key": TAINT_OUT_OF_SERVICE}), "T0", [], 0.0,
              [RULE_SOURCES["out-of-service"]])
        for pod in (p for p in fault.pods if p.node == n):
            b.add(f"force-deleted:{pod.name}", f"{pod.name}: force-deleted", "pod-garbage-collector",
                  Match(("pod-deleted",), pod.ref), f"oos-taint:{n}", [], [("podgc_period", 1.0)],
                  b.cite("podgc_period") + [RULE_SOURCES["out-of-service"]],
                  why="PodGC gcTerminating: terminating pods on a not-Ready out-of-service node")
            if pod.volume:
                b.add(f"detached:{pod.name}", f"{pod.name}: volume {pod.volume} detached at once",
                      "attachdetach-controller",
                      Match(("volume-detached",), None, {"pv": pod.volume, "node": n}), f"force-deleted:{pod.name}",
                      [], [("volume_detach_budget", 1.0)], b.cite("volume_detach_budget") + [
                          RULE_SOURCES["out-of-service"]], why="no 6 min wait with the out-of-service taint")
            if pod.kind == "pet":
                b.add(f"recreated:{pod.name}", f"{pod.name}: recreated under the same name", "statefulset-controller",
                      Match(("pod-created",), pod.ref), f"force-deleted:{pod.name}", [], 0.0,
                      [RULE_SOURCES["at-most-one"]])
                b.add(f"pet-ready:{pod.name}", f"{pod.name}: Ready again", "kubelet", Match(("pod-ready",), pod.ref),
                      f"recreated:{pod.name}", [], [("startup_budget", 1.0)], b.cite("startup_budget"))


def _pod_delete(b: _Builder, fault: Fault) -> None:
    for pod in fault.pods:
        b.add(f"deleted:{pod.name}", f"{pod.name}: terminated gracefully", "kubelet", Match(("pod-deleted",), pod.ref),
              "T0", [], [("default_termination_grace", 1.0)], b.cite("default_termination_grace"))
        if pod.kind == "pet":
            b.add(f"recreated:{pod.name}", f"{pod.name}: recreated under the same name", "statefulset-controller",
                  Match(("pod-created",), pod.ref), f"deleted:{pod.name}", [], 0.0, [RULE_SOURCES["at-most-one"]])
            b.add(f"pet-ready:{pod.name}", f"{pod.name}: Ready again", "kubelet", Match(("pod-ready",), pod.ref),
                  f"recreated:{pod.name}", [], [("startup_budget", 1.0)], b.cite("startup_budget"))


# -- federation: a lost member cluster, a lost federation controller (D9, D10) --------------------
# Appended for kubekit.drills.memberloss / controllerloss. The federation's timings are not kubesim
# knobs: they come from each MemberCluster's spec.healthCheck and the controller's settings, so these
# rules take them as numbers (effective seconds) and cite the upstream defaults they correspond to.

MEMBER_LOSS = "member-loss"            # a member's API server stops answering (sandbox isolate; SG/NACL on AWS)
MEMBER_RESTORE = "member-restore"      # it answers again
CONTROLLER_LOSS = "controller-loss"    # the federation controller dies without releasing its Lease
FAULT_KINDS = FAULT_KINDS + (MEMBER_LOSS, MEMBER_RESTORE, CONTROLLER_LOSS)

FEDERATION_SOURCES = {
    "kubefed-health": "KubeFed clusterHealthCheck period 10 s, timeout 3 s, failureThreshold 3, successThreshold 1 "
                      "(about 30 s to ClusterNotReady) [kubefed:pkg/apis/core/v1beta1/defaults/defaults.go; "
                      "federation-drills §0, §2]",
    "karmada-health": "Karmada --cluster-failure-threshold 30 s, --cluster-success-threshold 30 s, "
                      "--cluster-monitor-grace-period 40 s [karmada:cmd/controller-manager/app/options/options.go; "
                      "federation-drills §0, §3]",
    "replan": "KubeFed RSP re-plans Divided replicas over healthy clusters at once; Karmada Divided failover with "
              "purge mode Directly / Gracefully (old copy kept until the new is healthy or "
              "--graceful-eviction-timeout 10 min) / Never [federation-drills §2, §3, §6(b) D9]",
    "pets-stay": "no federation moves a StatefulSet's pets (KubeFed: no RSP for StatefulSets, #1188; Karmada "
                 "#4581, #4386); kubekit keeps ordinal slices where they are [federation-drills §6(a), §7]",
    "purge": "purge on recovery: Directly deletes the old copy once the member answers; Gracefully once the new "
             "placement is Ready (or the grace period ends); Never leaves it [Karmada purgeMode, "
             "pkg/apis/policy/v1alpha1/propagation_types.go; federation-drills §3]",
    "lease": "leader election Lease: a holder that stops renewing loses it leaseDurationSeconds after its last "
             "renewal; KubeFed 15 s lease / 10 s renew / 5 s retry (defaults.go) [federation-drills §2]",
    "push-stops": "a lost federation control plane: members keep running, push stops syncing, no failover "
                  "meanwhile; converges on restart with no spurious evictions [federation-drills §6(b) D10]",
}
KUBEFED_HEALTH = (10.0, 3.0, 3, 1)       # period, timeout, failureThreshold, successThreshold (upstream)


@dataclass(frozen=True)
class FederationFault:
    """What the federation rules need: the member (D9) or controller (D10), the workloads, the settings."""

    kind: str
    member: str = ""
    divided: tuple[str, ...] = ()              # "ns/name" of Divided stateless FederatedWorkloads placed in it
    stateful: tuple[str, ...] = ()             # "ns/name" of Divided StatefulSet FederatedWorkloads
    pets: tuple[str, ...] = ()                 # "ns/pod" pets that live in the lost member
    purge_mode: str = "Gracefully"
    period_s: float = KUBEFED_HEALTH[0]
    timeout_s: float = KUBEFED_HEALTH[1]
    failure_threshold: int = KUBEFED_HEALTH[2]
    success_threshold: int = KUBEFED_HEALTH[3]
    resync_s: float = 1.0                      # the controller's pass interval (one pass follows a change at once)
    lease_duration_s: float = 15.0
    drifted: tuple[str, ...] = ()              # D10: workloads changed by hand while the controller was down
    changed: tuple[str, ...] = ()              # D10: workloads whose spec changed while it was down


def expected_federation(f: FederationFault, profile: Profile) -> Expected:
    """The expected phases of a federation fault (pure; windows in effective seconds, upstream = KubeFed's)."""
    if f.kind not in (MEMBER_LOSS, MEMBER_RESTORE, CONTROLLER_LOSS):
        raise InvalidParameter("fault kind", f.kind, "not a federation fault",
                               f"Use {MEMBER_LOSS}, {MEMBER_RESTORE} or {CONTROLLER_LOSS}")
    b = _Builder(profile, "")
    up_p, up_t, up_f, up_s = KUBEFED_HEALTH
    # One controller pass after a change: it wakes at once (kick), else within resync; + the pass itself.
    pass_s = f.resync_s + 1.5

    def add(key: str, title: str, source: str, match: Match, anchor: str, lo: float, hi: float, cites: list[str],
            upstream: tuple[float, float] | None = None, expect: str = "present", why: str = "") -> None:
        ph = b.add(key, title, source, match, anchor, [("", lo)], [("", hi)] if hi != FOREVER else FOREVER, cites,
                   expect=expect, why=why)
        if upstream is not None:
            b.phases[-1] = replace(ph, upstream=upstream)

    hc = (f"spec.healthCheck period {f.period_s:g} s, timeout {f.timeout_s:g} s, failureThreshold "
          f"{f.failure_threshold}, successThreshold {f.success_threshold}")
    if f.kind == MEMBER_LOSS:
        b.notes.append(f"member {f.member} unreachable; {hc}; purge mode {f.purge_mode}")
        add(f"member-offline:{f.member}", f"{f.member}: Offline after {f.failure_threshold} failed probes",
            "federation", Match(("MemberOffline",), f"membercluster/{f.member}"), "T0",
            (f.failure_threshold - 1) * f.period_s, f.failure_threshold * f.period_s + f.timeout_s,
            [hc, FEDERATION_SOURCES["kubefed-health"], FEDERATION_SOURCES["karmada-health"]],
            upstream=((up_f - 1) * up_p, up_f * up_p + up_t),
            why="the first failing probe starts within one period of T0; Offline after failureThreshold of them")
        for w in f.divided:
            ref = f"federatedworkload/{w}"
            add(f"failover:{w}", f"{w}: failover started (replicas re-divided)", "federation",
                Match(("FailoverStarted",), ref), f"member-offline:{f.member}", 0.0, pass_s,
                [FEDERATION_SOURCES["replan"]], upstream=(0.0, pass_s))
            add(f"redivided:{w}", f"{w}: survivors' replicas raised", "federation",
                Match(("Updated", "Propagated"), ref), f"failover:{w}", 0.0, pass_s,
                [FEDERATION_SOURCES["replan"]], upstream=(0.0, pass_s))
        for w in f.stateful:
            add(f"no-failover:{w}", f"{w}: pets not failed over", "federation",
                Match(("FailoverStarted",), f"federatedworkload/{w}"), "T0", 0.0, FOREVER,
                [FEDERATION_SOURCES["pets-stay"]], expect="absent")
        for p in f.pets:
            add(f"pet-stays:{p.rsplit('/', 1)[-1]}", f"{p}: not recreated in another cluster", "statefulset-controller",
                Match(("pod-created",), f"pod/{p}"), "T0", 0.0, FOREVER,
                [FEDERATION_SOURCES["pets-stay"], RULE_SOURCES["at-most-one"]], expect="absent")
    elif f.kind == MEMBER_RESTORE:
        b.notes.append(f"member {f.member} answers again; purge mode {f.purge_mode}; no rebalance back")
        add(f"member-ready:{f.member}", f"{f.member}: Ready after {f.success_threshold} good probe(s)",
            "federation", Match(("MemberReady",), f"membercluster/{f.member}"), "T0", 0.0,
            f.success_threshold * f.period_s + f.timeout_s, [hc, FEDERATION_SOURCES["kubefed-health"]],
            upstream=(0.0, up_s * up_p + up_t))
        for w in f.divided:
            ref = f"federatedworkload/{w}"
            if f.purge_mode == "Never":
                add(f"purged:{w}", f"{w}: old copy left for a human (Never)", "federation",
                    Match(("Purged",), ref), "T0", 0.0, FOREVER, [FEDERATION_SOURCES["purge"]], expect="absent")
            else:
                add(f"purged:{w}", f"{w}: old copy purged ({f.purge_mode})", "federation",
                    Match(("Purged",), ref), f"member-ready:{f.member}", 0.0, pass_s, [FEDERATION_SOURCES["purge"]],
                    upstream=(0.0, pass_s))
                add(f"eviction-done:{w}", f"{w}: eviction completed", "federation",
                    Match(("EvictionCompleted",), ref), f"purged:{w}", 0.0, 2 * pass_s,
                    [FEDERATION_SOURCES["purge"]], upstream=(0.0, 2 * pass_s))
        for p in f.pets:
            add(f"pet-kept:{p.rsplit('/', 1)[-1]}", f"{p}: the same pod (not recreated)", "statefulset-controller",
                Match(("pod-created",), f"pod/{p}"), "T0", 0.0, FOREVER, [RULE_SOURCES["at-most-one"]],
                expect="absent")
    else:
        d = float(f.lease_duration_s)
        b.notes.append(f"controller lost; Lease {d:g} s (renewed every {d / 3:g} s); a standby takes over on expiry")
        add("lease-expired", "federation Lease expires (not renewed)", "lease",
            Match(("lease-expired",), None), "T0", max(0.0, d * 2 / 3 - f.resync_s), d,
            [FEDERATION_SOURCES["lease"]], upstream=(10.0, 15.0),
            why="the last renewal was at most one renew interval (duration / 3) before T0")
        add("leader-elected", "a new controller takes the Lease", "federation",
            Match(("LeaderElected",), None), "lease-expired", 0.0, pass_s,
            [FEDERATION_SOURCES["lease"]], upstream=(0.0, 5.0), why="a standby retries every resync interval")
        for w in f.changed:
            add(f"propagated:{w}", f"{w}: the change made while down is propagated", "federation",
                Match(("Updated", "Propagated"), f"federatedworkload/{w}"), "leader-elected", 0.0, pass_s,
                [FEDERATION_SOURCES["push-stops"]])
        for w in f.drifted:
            add(f"drift-repaired:{w}", f"{w}: the hand-made change is repaired", "federation",
                Match(("DriftRepaired",), f"federatedworkload/{w}"), "leader-elected", 0.0, pass_s,
                [FEDERATION_SOURCES["push-stops"]])
        add("nothing-deleted", "no object deleted or purged by the restart", "federation",
            Match(("Purged", "NotPlaced", "Deleted", "FailoverStarted"), None), "T0", 0.0, FOREVER,
            [FEDERATION_SOURCES["push-stops"]], expect="absent")
    return Expected(Fault(f.kind, (), (), ""), profile, tuple(b.phases), tuple(b.notes))


def _bad_rollout(b: _Builder, fault: Fault) -> None:
    """Pets in ``fault.pods`` (any order); ``options["partition"]``: the lowest ordinal the update may touch."""
    def ordinal(p: PodRef) -> int:
        tail = p.name.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    pets = sorted(fault.pods, key=ordinal, reverse=True)
    if not pets:
        return
    first = int(fault.options.get("partition", 0))
    top = pets[0]
    b.notes.append(f"RollingUpdate from the highest ordinal: {top.name} is replaced first and never becomes Ready; "
                   f"the rollout stops there (partition {first})")
    b.notes.append("remediation: revert the template, then delete the broken pets (" +
                   RULE_SOURCES["forced-rollback"] + ")")
    ref = top.ref
    owner = f"statefulset/{top.namespace}/{top.name.rsplit('-', 1)[0]}"
    b.add(f"updated:{top.name}", f"{top.name}: deleted for the update (highest ordinal first)",
          "statefulset-controller", Match(("SuccessfulDelete",), owner), "T0", [], 0.0,
          [RULE_SOURCES["rolling-update"]], why="the set's only SuccessfulDelete event: the rollout stops after it")
    b.add(f"gone:{top.name}", f"{top.name}: terminated gracefully", "kubelet", Match(("pod-deleted",), ref),
          f"updated:{top.name}", [], [("default_termination_grace", 1.0)], b.cite("default_termination_grace"))
    b.add(f"recreated:{top.name}", f"{top.name}: recreated at the update revision", "statefulset-controller",
          Match(("pod-created",), ref), f"gone:{top.name}", [], 0.0, [RULE_SOURCES["rolling-update"]])
    b.add(f"pull-failed:{top.name}", f"{top.name}: image pull fails (ErrImagePull)", "kubelet",
          Match(("Failed",), ref), f"recreated:{top.name}", [], [("startup_budget", 1.0)], b.cite("startup_budget"),
          why="scheduled, attached, then the pull is refused by the registry")
    b.add(f"backoff:{top.name}", f"{top.name}: ImagePullBackOff", "kubelet", Match(("BackOff",), ref),
          f"pull-failed:{top.name}", [], [("image_pull_backoff", 1.0)], b.cite("image_pull_backoff"),
          why="ErrImagePull for at most the first half of the 10 s back-off, then ImagePullBackOff")
    b.add(f"never-ready:{top.name}", f"{top.name}: never Ready at the bad revision", "kubelet",
          Match(("pod-ready",), ref), f"recreated:{top.name}", [], FOREVER, [RULE_SOURCES["rolling-update"]],
          expect="absent")
    for p in pets[1:]:
        if ordinal(p) >= first:
            b.add(f"stalled:{p.name}", f"{p.name}: not updated (the rollout waits for {top.name})",
                  "statefulset-controller", Match(("pod-terminating",), p.ref), "T0", [], FOREVER,
                  [RULE_SOURCES["rolling-update"]], expect="absent",
                  why="no progress past a pet that is not Running and Ready")
        else:
            b.add(f"kept:{p.name}", f"{p.name}: below the partition, untouched", "statefulset-controller",
                  Match(("pod-terminating",), p.ref), "T0", [], FOREVER, [RULE_SOURCES["partition"]],
                  expect="absent")


def _drain(b: _Builder, fault: Fault) -> None:
    """``fault.pods`` in the order the drain evicted them; ``options["max_unavailable"]`` from the PDB."""
    m = max(1, int(fault.options.get("max_unavailable", 1)))
    b.notes.append(f"PodDisruptionBudget maxUnavailable {m}: {m} eviction(s) accepted at once, the others answered "
                   "429 and retried until an earlier pet is Ready again; each pet comes back in its volume's zone")
    for n in fault.nodes:
        b.add(f"cordoned:{n}", f"{n}: cordoned (spec.unschedulable)", "user", Match(("cordoned",), f"node/{n}"),
              "T0", [], 0.0, ["kubectl drain: cordon first (kubernetes/website safely-drain-node.md)"])
    pods = list(fault.pods)
    for i, pod in enumerate(pods):
        ref = pod.ref
        if i < m:
            anchor, hi = "T0", [("", 0.0)]
        else:
            anchor, hi = f"ready:{pods[i - m].name}", [("drain_retry", 1.0)]
            b.add(f"refused:{pod.name}", f"{pod.name}: eviction refused (429, the budget allows no more)",
                  "eviction-api", Match(("eviction-refused",), ref), "T0", [], 0.0, [RULE_SOURCES["eviction"]])
        b.add(f"evicted:{pod.name}", f"{pod.name}: evicted", "eviction-api",
              Match(("pod-terminating",), ref, {"reason": "EvictionByEvictionAPI"}), anchor, [], hi,
              b.cite("drain_retry") + [RULE_SOURCES["eviction"]] if i >= m else [RULE_SOURCES["eviction"]],
              why="accepted once the budget allows a disruption" if i >= m else "the budget allows it")
        b.add(f"gone:{pod.name}", f"{pod.name}: terminated gracefully", "kubelet", Match(("pod-deleted",), ref),
              f"evicted:{pod.name}", [], [("default_termination_grace", 1.0)], b.cite("default_termination_grace"))
        if pod.volume and pod.node:
            b.add(f"detached:{pod.name}", f"{pod.name}: volume {pod.volume} detached from {pod.node}",
                  "attachdetach-controller", Match(("volume-detached",), None, {"pv": pod.volume, "node": pod.node}),
                  f"gone:{pod.name}", [], [("volume_detach_budget", 1.0)], b.cite("volume_detach_budget"))
        if pod.kind == "pet":
            b.add(f"recreated:{pod.name}", f"{pod.name}: recreated under the same name", "statefulset-controller",
                  Match(("pod-created",), ref), f"gone:{pod.name}", [], 0.0, [RULE_SOURCES["at-most-one"]])
            b.add(f"ready:{pod.name}", f"{pod.name}: Ready on another node of its zone", "kubelet",
                  Match(("pod-ready",), ref), f"recreated:{pod.name}", [],
                  [("volume_detach_budget", 1.0), ("startup_budget", 1.0)],
                  b.cite("volume_detach_budget", "startup_budget") + [RULE_SOURCES["volume-zone"]])
