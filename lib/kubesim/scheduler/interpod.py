"""InterPodAffinity: required (anti-)affinity as a filter, preferred terms as a score.

Follows ``pkg/scheduler/framework/plugins/interpodaffinity`` (``filtering.go``:
``satisfyPodAffinity`` then ``satisfyPodAntiAffinity`` then
``satisfyExistingPodsAntiAffinity``; the first pod of a group whose affinity
terms match only itself may go anywhere; a node without the term's topology
key never satisfies affinity and never violates anti-affinity;
``scoring.go``: preferred terms of the incoming pod and of existing pods,
normalized min-max to 0..100).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from . import messages as m
from .affinity import AffinityTerm, pod_affinity_terms
from .model import NodeInfo

Obj = dict[str, Any]


@dataclass
class InterPodState:
    affinity: list[AffinityTerm]
    anti: list[AffinityTerm]
    # (topology key, value) -> existing pods matching all required affinity terms / an anti-affinity term
    affinity_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    anti_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # (topology key, value) pairs where an existing pod's required anti-affinity matches the incoming pod
    existing_anti: set[tuple[str, str]] = field(default_factory=set)
    self_match_all: bool = False

    def _affinity_ok(self, ni: NodeInfo) -> bool:
        pods_exist = True
        for t in self.affinity:
            val = ni.labels.get(t.topology_key)
            if val is None:
                return False  # all topology labels must exist on the node
            if self.affinity_counts.get((t.topology_key, val), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first of a group of pods with affinity to themselves may go anywhere.
        return not self.affinity_counts and self.self_match_all

    def check(self, ni: NodeInfo) -> m.Status | None:
        if self.affinity and not self._affinity_ok(ni):
            return m.reject("InterPodAffinity", m.POD_AFFINITY)
        for t in self.anti:
            val = ni.labels.get(t.topology_key)
            if val is not None and self.anti_counts.get((t.topology_key, val), 0) > 0:
                return m.reject("InterPodAffinity", m.POD_ANTI_AFFINITY, code=m.UNSCHEDULABLE)
        for key, val in self.existing_anti:
            if ni.labels.get(key) == val:
                return m.reject("InterPodAffinity", m.EXISTING_ANTI_AFFINITY, code=m.UNSCHEDULABLE)
        return None


def prefilter(pod: Obj, nodes: Iterable[NodeInfo], ns_labels: Mapping[str, Mapping[str, str]]) -> InterPodState | None:
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    affinity = pod_affinity_terms(pod, "podAffinity")
    anti = pod_affinity_terms(pod, "podAntiAffinity")
    st = InterPodState(affinity, anti)
    st.self_match_all = all(t.matches(ns, labels, ns_labels) for t in affinity)
    nodes = list(nodes)
    for ni in nodes:
        for p in ni.pods:
            if not p.has_pod_affinity:
                continue
            for t in p.terms("podAntiAffinity", True):
                if t.topology_key in ni.labels and t.matches(ns, labels, ns_labels):
                    st.existing_anti.add((t.topology_key, ni.labels[t.topology_key]))
    if not affinity and not anti:
        return st if st.existing_anti else None
    for ni in nodes:
        for p in ni.pods:
            if affinity and all(t.matches(p.namespace, p.labels, ns_labels) for t in affinity):
                for t in affinity:
                    if t.topology_key in ni.labels:
                        k = (t.topology_key, ni.labels[t.topology_key])
                        st.affinity_counts[k] = st.affinity_counts.get(k, 0) + 1
            for t in anti:
                if t.topology_key in ni.labels and t.matches(p.namespace, p.labels, ns_labels):
                    k = (t.topology_key, ni.labels[t.topology_key])
                    st.anti_counts[k] = st.anti_counts.get(k, 0) + 1
    return st


def score(pod: Obj, feasible: list[NodeInfo], all_nodes: Iterable[NodeInfo],
          ns_labels: Mapping[str, Mapping[str, str]]) -> dict[str, int]:
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    pref = [(t, 1) for t in pod_affinity_terms(pod, "podAffinity", required=False)]
    pref += [(t, -1) for t in pod_affinity_terms(pod, "podAntiAffinity", required=False)]
    topo: dict[tuple[str, str], int] = {}
    for ni in all_nodes:
        for p in ni.pods:
            if not pref and not p.has_pod_affinity:
                continue
            for t, sign in pref:
                if t.topology_key in ni.labels and t.matches(p.namespace, p.labels, ns_labels):
                    k = (t.topology_key, ni.labels[t.topology_key])
                    topo[k] = topo.get(k, 0) + sign * t.weight
            # Existing pods' preferred terms toward the incoming pod (symmetry).
            for kind, sign in (("podAffinity", 1), ("podAntiAffinity", -1)):
                for t in p.terms(kind, False):
                    if t.topology_key in ni.labels and t.matches(ns, labels, ns_labels):
                        k = (t.topology_key, ni.labels[t.topology_key])
                        topo[k] = topo.get(k, 0) + sign * t.weight
    if not topo:
        return {}
    raw = {ni.name: sum(v for (key, val), v in topo.items() if ni.labels.get(key) == val) for ni in feasible}
    lo, hi = min(raw.values()), max(raw.values())
    return {n: (int(100 * (s - lo) / (hi - lo)) if hi > lo else 0) for n, s in raw.items()}
