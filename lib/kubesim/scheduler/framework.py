"""One scheduling cycle as pure functions: snapshot in, feasible nodes / scores / decision out.

The default profile's plugins run in upstream order (SC-01,
``pkg/scheduler/apis/config/v1/default_plugins.go``): PreFilter (NodeAffinity,
NodePorts, NodeResourcesFit, VolumeBinding, VolumeZone, PodTopologySpread,
InterPodAffinity; the first rejection applies to every node), then per node the
filters NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit, VolumeBinding, VolumeZone, PodTopologySpread,
InterPodAffinity, where the first failing filter gives the node's reasons.
Scoring weights are the default profile's: TaintToleration 3, NodeAffinity 2,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit (LeastAllocated) 1,
NodeResourcesBalancedAllocation 1. Ties between the best nodes are broken by a
seeded hash of pod and node names instead of upstream's random reservoir
sampling, so runs repeat.

Nothing here does I/O: :class:`Snapshot` is built from plain objects, and the
controller (``kubesim.controllers.scheduler``) applies the decision.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from . import interpod, messages as m, spread, volumes
from .affinity import (first_untolerated_taint, pod_matches_node_selector_and_affinity, term_matches, tolerated)
from .model import NodeInfo, PodInfo, counts_on_node, node_info, pod_info

Obj = dict[str, Any]
Version = tuple[int, int]

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}

WEIGHTS = {"TaintToleration": 3, "NodeAffinity": 2, "PodTopologySpread": 2, "InterPodAffinity": 2,
           "NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1}


@dataclass
class Snapshot:
    """The cluster as one scheduling cycle sees it (the scheduler cache's snapshot)."""

    nodes: list[NodeInfo]
    pvcs: Mapping[tuple[str, str], Obj] = field(default_factory=dict)
    pvs: Mapping[str, Obj] = field(default_factory=dict)
    classes: Mapping[str, Obj] = field(default_factory=dict)
    services: list[Obj] = field(default_factory=list)
    owners: Mapping[tuple[str, str, str], Obj] = field(default_factory=dict)
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    version: Version = (1, 33)

    @staticmethod
    def build(nodes: Iterable[Obj], pods: Iterable[Obj | PodInfo], *, pvcs: Iterable[Obj] = (),
              pvs: Iterable[Obj] = (), storage_classes: Iterable[Obj] = (), services: Iterable[Obj] = (),
              owners: Iterable[Obj] = (), namespaces: Iterable[Obj] = (), version: Version = (1, 33)) -> "Snapshot":
        by_node: dict[str, list[PodInfo]] = {}
        for p in pods:
            pi = p if isinstance(p, PodInfo) else pod_info(p)
            if counts_on_node(pi):
                by_node.setdefault(pi.node_name, []).append(pi)
        infos = sorted((node_info(n, by_node.get((n.get("metadata") or {}).get("name", ""), ())) for n in nodes),
                       key=lambda ni: ni.name)

        def key(o: Obj) -> tuple[str, str]:
            meta = o.get("metadata") or {}
            return (meta.get("namespace") or "default", meta.get("name") or "")

        return Snapshot(
            nodes=infos,
            pvcs={key(c): c for c in pvcs},
            pvs={(v.get("metadata") or {}).get("name", ""): v for v in pvs},
            classes={(c.get("metadata") or {}).get("name", ""): c for c in storage_classes},
            services=list(services),
            owners={(o.get("kind", ""),) + key(o): o for o in owners},
            namespaces={(n.get("metadata") or {}).get("name", ""): (n.get("metadata") or {}).get("labels") or {}
                        for n in namespaces},
            version=version)


@dataclass
class FilterResult:
    feasible: list[str]
    diagnosis: m.Diagnosis
    plans: dict[str, volumes.VolumePlan] = field(default_factory=dict)

    @property
    def reasons(self) -> dict[str, tuple[str, ...]]:
        return {n: s.reasons for n, s in self.diagnosis.node_status.items()}


# -- filters ---------------------------------------------------------------------------------------
def _fit(pod: PodInfo, ni: NodeInfo) -> m.Status | None:
    """NodeResourcesFit (``fitsRequest``): every insufficient resource is a reason."""
    reasons = []
    if len(ni.pods) + 1 > ni.allowed_pods:
        reasons.append(m.TOO_MANY_PODS)
    r = pod.requests
    if r.milli_cpu or r.memory or r.ephemeral or r.scalars:
        a, used = ni.allocatable, ni.requested
        if r.milli_cpu > 0 and r.milli_cpu > a.milli_cpu - used.milli_cpu:
            reasons.append(m.insufficient("cpu"))
        if r.memory > 0 and r.memory > a.memory - used.memory:
            reasons.append(m.insufficient("memory"))
        if r.ephemeral > 0 and r.ephemeral > a.ephemeral - used.ephemeral:
            reasons.append(m.insufficient("ephemeral-storage"))
        for name, q in r.scalars:
            if q and q > a.scalar(name) - used.scalar(name):
                reasons.append(m.insufficient(name))
    if reasons:
        return m.reject("NodeResourcesFit", *reasons, code=m.UNSCHEDULABLE)
    return None


@dataclass
class _Cycle:
    pod: Obj
    info: PodInfo
    claims: volumes.PodClaims
    zones: list[tuple[str, set[str]]]
    spread: spread.FilterState | None
    interpod: interpod.InterPodState | None


def _prefilter(snap: Snapshot, pod: Obj) -> tuple[_Cycle | None, m.Status | None]:
    info = pod_info(pod)
    claims, st = volumes.prefilter(pod, snap.pvcs, snap.classes)
    if st is not None:
        return None, st
    zones, st = volumes.zone_prefilter(claims, snap.pvs)
    if st is not None:
        return None, st
    return _Cycle(pod, info, claims, zones, spread.prefilter(pod, snap.nodes),
                  interpod.prefilter(pod, snap.nodes, snap.namespaces)), None


def _filter(snap: Snapshot, cyc: _Cycle, ni: NodeInfo) -> tuple[m.Status | None, volumes.VolumePlan | None]:
    spec = cyc.info.spec
    tolerations = spec.get("tolerations")
    if ni.unschedulable and not tolerated(tolerations, UNSCHEDULABLE_TAINT):
        return m.reject("NodeUnschedulable", m.NODE_UNSCHEDULABLE), None
    if spec.get("nodeName") and spec["nodeName"] != ni.name:
        return m.reject("NodeName", m.NODE_NAME), None
    taint = first_untolerated_taint(ni.taints, tolerations)
    if taint is not None:
        return m.reject("TaintToleration", m.untolerated_taint(taint, snap.version)), None
    if not pod_matches_node_selector_and_affinity(spec, ni.labels, ni.name):
        return m.reject("NodeAffinity", m.NODE_AFFINITY), None
    if cyc.info.ports and any(p.conflicts(u) for p in cyc.info.ports for u in ni.used_ports):
        return m.reject("NodePorts", m.NODE_PORTS, code=m.UNSCHEDULABLE), None
    st = _fit(cyc.info, ni)
    if st is not None:
        return st, None
    plan = None
    if not cyc.claims.empty:
        st, plan = volumes.filter_node(cyc.claims, ni.labels, ni.name, snap.pvs, snap.classes, snap.version)
        if st is not None:
            return st, None
        st = volumes.zone_filter(cyc.zones, ni.labels)
        if st is not None:
            return st, None
    if cyc.spread is not None:
        st = cyc.spread.check(cyc.pod, ni)
        if st is not None:
            return st, None
    if cyc.interpod is not None:
        st = cyc.interpod.check(ni)
        if st is not None:
            return st, None
    return None, plan


def find_feasible(snap: Snapshot, pod: Obj) -> FilterResult:
    diag = m.Diagnosis(num_nodes=len(snap.nodes))
    cyc, st = _prefilter(snap, pod)
    if st is not None or cyc is None:
        diag.prefilter = st
        return FilterResult([], diag)
    feasible: list[str] = []
    plans: dict[str, volumes.VolumePlan] = {}
    for ni in snap.nodes:
        st, plan = _filter(snap, cyc, ni)
        if st is not None:
            diag.node_status[ni.name] = st
        else:
            feasible.append(ni.name)
            if plan is not None and not plan.empty:
                plans[ni.name] = plan
    return FilterResult(feasible, diag, plans)


def filter_nodes(pod: Obj, nodes: Iterable[Obj], pods_by_node: Mapping[str, Iterable[Obj]] | None = None, *,
                 pvcs: Iterable[Obj] = (), pvs: Iterable[Obj] = (), storage_classes: Iterable[Obj] = (),
                 version: Version = (1, 33), **extra: Any) -> tuple[list[str], FilterResult]:
    """Feasible node names for ``pod``, and the full result (per-node statuses, PreBind plans).

    ``pods_by_node`` maps node name to the pods bound there (their ``spec.nodeName``
    may be omitted).
    """
    pods: list[Obj] = []
    for node, ps in (pods_by_node or {}).items():
        for p in ps:
            p = dict(p)
            p["spec"] = {**(p.get("spec") or {}), "nodeName": node}
            pods.append(p)
    snap = Snapshot.build(nodes, pods, pvcs=pvcs, pvs=pvs, storage_classes=storage_classes, version=version,
                          **extra)
    res = find_feasible(snap, pod)
    return res.feasible, res


# -- scoring ---------------------------------------------------------------------------------------
def _normalize(raw: dict[str, int], reverse: bool = False) -> dict[str, int]:
    """``helper.DefaultNormalizeScore`` (max 100)."""
    hi = max(raw.values()) if raw else 0
    if hi == 0:
        return {n: (100 if reverse else 0) for n in raw}
    return {n: (100 - 100 * s // hi) if reverse else 100 * s // hi for n, s in raw.items()}


def _least_allocated(info: PodInfo, ni: NodeInfo) -> int:
    total = 0
    for req, alloc in ((ni.nonzero_cpu + info.nonzero[0], ni.allocatable.milli_cpu),
                       (ni.nonzero_mem + info.nonzero[1], ni.allocatable.memory)):
        total += 0 if alloc == 0 or req > alloc else (alloc - req) * 100 // alloc
    return total // 2


def _balanced(info: PodInfo, ni: NodeInfo) -> int:
    fr = []
    for req, alloc in ((ni.requested.milli_cpu + info.requests.milli_cpu, ni.allocatable.milli_cpu),
                       (ni.requested.memory + info.requests.memory, ni.allocatable.memory)):
        fr.append(min(1.0, req / alloc) if alloc else 1.0)
    mean = sum(fr) / len(fr)
    std = math.sqrt(sum((f - mean) ** 2 for f in fr) / len(fr))
    return int((1 - std) * 100)


def score(snap: Snapshot, pod: Obj, feasible: list[str]) -> dict[str, int]:
    """Weighted sum of the default profile's normalized scores per feasible node."""
    info = pod_info(pod)
    spec = info.spec
    by_name = {ni.name: ni for ni in snap.nodes}
    nodes = [by_name[n] for n in feasible]
    # A plugin that gives every node the same score cannot change the choice: those are skipped.
    parts: dict[str, dict[str, int]] = {}
    if any(t.get("effect") == "PreferNoSchedule" for ni in nodes for t in ni.taints):
        prefer_tols = [t for t in spec.get("tolerations") or [] if (t.get("effect") or "PreferNoSchedule") ==
                       "PreferNoSchedule"]
        parts["TaintToleration"] = _normalize({
            ni.name: sum(1 for t in ni.taints if t.get("effect") == "PreferNoSchedule"
                         and not tolerated(prefer_tols, t))
            for ni in nodes}, reverse=True)
    pref = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
            .get("preferredDuringSchedulingIgnoredDuringExecution")) or []
    if pref:
        parts["NodeAffinity"] = _normalize({
            ni.name: sum(int(w.get("weight") or 0) for w in pref
                         if term_matches(w.get("preference") or {}, ni.labels, ni.name))
            for ni in nodes})
    parts["NodeResourcesFit"] = {ni.name: _least_allocated(info, ni) for ni in nodes}
    parts["NodeResourcesBalancedAllocation"] = {ni.name: _balanced(info, ni) for ni in nodes}
    default_sel = None
    if not spec.get("topologySpreadConstraints"):
        default_sel = spread.default_selector(pod, snap.services, snap.owners)
    parts["PodTopologySpread"] = spread.score(pod, nodes, snap.nodes, default_sel)
    parts["InterPodAffinity"] = interpod.score(pod, nodes, snap.nodes, snap.namespaces)
    total = {n: 0 for n in feasible}
    for plugin, scores in parts.items():
        w = WEIGHTS[plugin]
        for n, s in scores.items():
            total[n] += w * s
    return total


def tie_break(seed: int, pod: Obj, node: str) -> str:
    meta = pod.get("metadata") or {}
    return hashlib.sha256(f"{seed}/{meta.get('namespace', '')}/{meta.get('name', '')}/{node}".encode()).hexdigest()


def select_host(scores: Mapping[str, int], pod: Obj, seed: int = 0) -> str:
    """The best-scored node; ties broken by a seeded hash (upstream picks at random)."""
    best = max(scores.values())
    top = [n for n, s in scores.items() if s == best]
    return min(top, key=lambda n: tie_break(seed, pod, n))


@dataclass
class Decision:
    node: str | None
    result: FilterResult
    scores: dict[str, int] = field(default_factory=dict)

    @property
    def plan(self) -> volumes.VolumePlan:
        return self.result.plans.get(self.node or "", volumes.VolumePlan())


def schedule(snap: Snapshot, pod: Obj, seed: int = 0) -> Decision:
    """Filter, score and select (``schedulePod``); ``node`` is None when nothing fits."""
    res = find_feasible(snap, pod)
    if not res.feasible:
        return Decision(None, res)
    if len(res.feasible) == 1:
        return Decision(res.feasible[0], res, {res.feasible[0]: 0})
    scores = score(snap, pod, res.feasible)
    return Decision(select_host(scores, pod, seed), res, scores)


def failure_message(decision_or_result: Decision | FilterResult, version: Version = (1, 33), pod: Obj | None = None
                    ) -> str:
    res = decision_or_result.result if isinstance(decision_or_result, Decision) else decision_or_result
    policy = ((pod or {}).get("spec") or {}).get("preemptionPolicy")
    return m.failure_message(res.diagnosis, version, preemption_policy=policy)
