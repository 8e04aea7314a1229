"""The scheduler's view of pods and nodes (``framework.PodInfo`` / ``framework.NodeInfo``).

Everything here is derived from plain API objects (dicts) and immutable once
built, so a snapshot can be shared by a whole scheduling cycle and cached by
resourceVersion between cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from ..defaults.quantity import QuantityError, value

Obj = dict[str, Any]

# pkg/scheduler/util/pod_resources.go: requests the scorers assume for containers without one.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

_NATIVE = ("cpu", "memory", "ephemeral-storage", "pods")


def milli(q: Any) -> int:
    """A quantity in thousandths, rounded up (``Quantity.MilliValue``)."""
    try:
        return int(math.ceil(value(q) * 1000))
    except (QuantityError, ValueError, TypeError, ZeroDivisionError):
        return 0


def units(q: Any) -> int:
    """A quantity as a whole number, rounded up (``Quantity.Value``)."""
    try:
        return int(math.ceil(value(q)))
    except (QuantityError, ValueError, TypeError, ZeroDivisionError):
        return 0


def is_scalar_resource(name: str) -> bool:
    """Extended (``example.com/foo``), hugepages and attachable-volume resources (schedutil)."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


@dataclass(frozen=True)
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    scalars: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def from_list(rl: Mapping[str, Any] | None) -> "Resources":
        rl = rl or {}
        scalars = tuple(sorted((k, units(v)) for k, v in rl.items() if k not in _NATIVE and is_scalar_resource(k)))
        return Resources(milli(rl["cpu"]) if "cpu" in rl else 0, units(rl["memory"]) if "memory" in rl else 0,
                         units(rl["ephemeral-storage"]) if "ephemeral-storage" in rl else 0, scalars)

    def scalar(self, name: str) -> int:
        for k, v in self.scalars:
            if k == name:
                return v
        return 0

    def __add__(self, other: "Resources") -> "Resources":
        sc = dict(self.scalars)
        for k, v in other.scalars:
            sc[k] = sc.get(k, 0) + v
        return Resources(self.milli_cpu + other.milli_cpu, self.memory + other.memory,
                         self.ephemeral + other.ephemeral, tuple(sorted(sc.items())))

    def max(self, other: "Resources") -> "Resources":
        sc = dict(self.scalars)
        for k, v in other.scalars:
            sc[k] = max(sc.get(k, 0), v)
        return Resources(max(self.milli_cpu, other.milli_cpu), max(self.memory, other.memory),
                         max(self.ephemeral, other.ephemeral), tuple(sorted(sc.items())))


def _container_requests(c: Obj) -> Mapping[str, Any]:
    return ((c.get("resources") or {}).get("requests")) or {}


def pod_requests(spec: Obj) -> Resources:
    """``resourcehelper.PodRequests``: containers, init containers (sidecars add up), overhead."""
    pod_level = ((spec.get("resources") or {}).get("requests")) or None
    if pod_level:
        total = Resources.from_list(pod_level)
    else:
        total = Resources()
        for c in spec.get("containers") or []:
            total = total + Resources.from_list(_container_requests(c))
        restartable = Resources()
        init_max = Resources()
        for c in spec.get("initContainers") or []:
            req = Resources.from_list(_container_requests(c))
            if c.get("restartPolicy") == "Always":
                total = total + req
                restartable = restartable + req
                req = restartable
            else:
                req = req + restartable
            init_max = init_max.max(req)
        total = total.max(init_max)
    overhead = spec.get("overhead")
    if overhead:
        total = total + Resources.from_list(overhead)
    return total


def pod_nonzero_requests(spec: Obj) -> tuple[int, int]:
    """CPU (milli) and memory the scorers count, with the defaults for containers that ask for none."""
    cpu = mem = 0
    for c in spec.get("containers") or []:
        r = _container_requests(c)
        cpu += milli(r["cpu"]) if "cpu" in r else DEFAULT_MILLI_CPU_REQUEST
        mem += units(r["memory"]) if "memory" in r else DEFAULT_MEMORY_REQUEST
    init_cpu = init_mem = 0
    for c in spec.get("initContainers") or []:
        r = _container_requests(c)
        init_cpu = max(init_cpu, milli(r["cpu"]) if "cpu" in r else DEFAULT_MILLI_CPU_REQUEST)
        init_mem = max(init_mem, units(r["memory"]) if "memory" in r else DEFAULT_MEMORY_REQUEST)
    return max(cpu, init_cpu), max(mem, init_mem)


@dataclass(frozen=True)
class HostPort:
    ip: str
    protocol: str
    port: int

    def conflicts(self, other: "HostPort") -> bool:
        if self.port != other.port or self.protocol != other.protocol:
            return False
        return self.ip == other.ip or "0.0.0.0" in (self.ip, other.ip)


def host_ports(spec: Obj) -> tuple[HostPort, ...]:
    out = []
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            for p in c.get("ports") or []:
                hp = p.get("hostPort")
                if hp:
                    out.append(HostPort(p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(hp)))
    return tuple(out)


@dataclass
class PodInfo:
    """One pod as the scheduler sees it."""

    obj: Obj
    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str]
    node_name: str
    requests: Resources
    nonzero: tuple[int, int]
    ports: tuple[HostPort, ...]
    terminating: bool
    terminal: bool
    priority: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def spec(self) -> Obj:
        return self.obj.get("spec") or {}

    @cached_property
    def has_pod_affinity(self) -> bool:
        aff = self.spec.get("affinity") or {}
        return bool(aff.get("podAffinity") or aff.get("podAntiAffinity"))

    def terms(self, kind: str, required: bool) -> list[Any]:
        """This pod's (anti-)affinity terms, parsed once (``PodInfo.RequiredAffinityTerms`` ...)."""
        if not self.has_pod_affinity:
            return []
        cache = self.__dict__.setdefault("_terms", {})
        k = (kind, required)
        if k not in cache:
            from .affinity import pod_affinity_terms

            cache[k] = pod_affinity_terms(self.obj, kind, required)
        return cache[k]


def pod_info(pod: Obj) -> PodInfo:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    return PodInfo(obj=pod, namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
                   uid=meta.get("uid") or "", labels=dict(meta.get("labels") or {}),
                   node_name=spec.get("nodeName") or "", requests=pod_requests(spec),
                   nonzero=pod_nonzero_requests(spec), ports=host_ports(spec),
                   terminating=bool(meta.get("deletionTimestamp")), terminal=phase in ("Succeeded", "Failed"),
                   priority=int(spec.get("priority") or 0))


@dataclass
class NodeInfo:
    """A node plus what is already placed on it."""

    obj: Obj
    name: str
    labels: Mapping[str, str]
    taints: list[Obj]
    unschedulable: bool
    allocatable: Resources
    allowed_pods: int
    pods: list[PodInfo] = field(default_factory=list)
    requested: Resources = field(default_factory=Resources)
    nonzero_cpu: int = 0
    nonzero_mem: int = 0
    used_ports: list[HostPort] = field(default_factory=list)
    # (namespace, selector requirements) -> matching non-terminating pods; cleared when a pod is added
    memo: dict[Any, int] = field(default_factory=dict)

    def count(self, selector: Any, namespace: str) -> int:
        """Pods here in ``namespace``, not terminating, whose labels match ``selector`` (spread counting)."""
        k = (namespace, tuple(selector.reqs))
        n = self.memo.get(k)
        if n is None:
            n = self.memo[k] = sum(1 for p in self.pods if p.namespace == namespace and not p.terminating
                                   and selector.matches(p.labels))
        return n

    def add(self, p: PodInfo) -> None:
        self.memo.clear()
        self.pods.append(p)
        self.requested = self.requested + p.requests
        self.nonzero_cpu += p.nonzero[0]
        self.nonzero_mem += p.nonzero[1]
        self.used_ports.extend(p.ports)


def node_info(node: Obj, pods: Iterable[PodInfo] = ()) -> NodeInfo:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    alloc = (node.get("status") or {}).get("allocatable") or {}
    ni = NodeInfo(obj=node, name=meta.get("name") or "", labels=dict(meta.get("labels") or {}),
                  taints=list(spec.get("taints") or []), unschedulable=bool(spec.get("unschedulable")),
                  allocatable=Resources.from_list(alloc), allowed_pods=units(alloc["pods"]) if "pods" in alloc else 0)
    for p in pods:
        ni.add(p)
    return ni


def counts_on_node(p: PodInfo) -> bool:
    """Whether a bound pod still occupies its node in the scheduler cache.

    Terminating pods count until they are gone (SC-05); pods in a terminal phase
    no longer hold resources.
    """
    return bool(p.node_name) and not p.terminal
