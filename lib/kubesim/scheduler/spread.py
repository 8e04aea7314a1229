"""PodTopologySpread: hard constraints as a filter, soft ones (and the system defaults) as a score.

Follows ``pkg/scheduler/framework/plugins/podtopologyspread`` (``common.go``
``filterTopologySpreadConstraints``, ``filtering.go`` ``calPreFilterState`` /
``Filter``, ``scoring.go`` ``PreScore`` / ``Score`` / ``NormalizeScore``,
``plugin.go`` ``systemDefaultConstraints``):

- a node is counted in a domain only if it passes the constraint's
  ``nodeAffinityPolicy`` (Honor by default: the pod's nodeSelector / required
  node affinity) and ``nodeTaintsPolicy`` (Ignore by default), and carries every
  topology key of the pod's constraints;
- matching pods: same namespace, selector (plus ``matchLabelKeys``) matches,
  not terminating;
- Filter: ``count(domain of node) + selfMatch - globalMin > maxSkew`` rejects
  (Unschedulable); a node without the key is UnschedulableAndUnresolvable
  ``(missing required label)``; ``globalMin`` is 0 while fewer than
  ``minDomains`` domains exist;
- Score: ``sum(count * log(domains + 2) + maxSkew - 1)``, normalized so that
  fewer matching pods score higher; pods with no constraints of their own and
  owned by a Service / RC / RS / StatefulSet get the system defaults (SC-06:
  hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..selectors import LabelSelector, Requirement, selector_from_label_selector
from . import messages as m
from .affinity import NO_SCHEDULE_EFFECTS, first_untolerated_taint, pod_matches_node_selector_and_affinity
from .model import NodeInfo

Obj = dict[str, Any]

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
MAX_NODE_SCORE = 100

# plugin.go systemDefaultConstraints
SYSTEM_DEFAULTS = ({"maxSkew": 3, "topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway"},
                   {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"})


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def constraints(pod: Obj, action: str, default_selector: LabelSelector | None = None) -> list[Constraint]:
    """The pod's constraints with ``whenUnsatisfiable == action``; system defaults for soft ones."""
    spec = pod.get("spec") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    raw = spec.get("topologySpreadConstraints") or []
    out = []
    if raw:
        for c in raw:
            if (c.get("whenUnsatisfiable") or "DoNotSchedule") != action:
                continue
            sel = selector_from_label_selector(c.get("labelSelector"))
            keys = [k for k in c.get("matchLabelKeys") or [] if k in labels]
            if keys:
                sel = LabelSelector(list(sel.reqs) + [Requirement(k, "in", (labels[k],)) for k in keys])
            out.append(Constraint(int(c.get("maxSkew") or 1), c.get("topologyKey") or "", sel,
                                  int(c.get("minDomains") or 1),
                                  (c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                                  (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"))
        return out
    if action == "ScheduleAnyway" and default_selector is not None and default_selector.reqs:
        return [Constraint(c["maxSkew"], c["topologyKey"], default_selector, 1, True, False) for c in SYSTEM_DEFAULTS]
    return []


def _eligible(c: Constraint, pod: Obj, ni: NodeInfo) -> bool:
    spec = pod.get("spec") or {}
    if c.honor_affinity and (spec.get("nodeSelector") or spec.get("affinity")) and \
            not pod_matches_node_selector_and_affinity(spec, ni.labels, ni.name):
        return False
    if c.honor_taints and first_untolerated_taint(ni.taints, spec.get("tolerations"), NO_SCHEDULE_EFFECTS):
        return False
    return True



@dataclass
class FilterState:
    cons: list[Constraint]
    counts: list[dict[str, int]]  # per constraint: domain value -> matching pods

    def check(self, pod: Obj, ni: NodeInfo) -> m.Status | None:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        for i, c in enumerate(self.cons):
            val = ni.labels.get(c.topology_key)
            if val is None:
                return m.reject("PodTopologySpread", m.SPREAD_MISSING_LABEL)
            domains = self.counts[i]
            global_min = min(domains.values()) if domains else 0
            if len(domains) < c.min_domains:
                global_min = 0
            self_match = 1 if c.selector.matches(labels) else 0
            skew = domains.get(val, 0) + self_match - global_min
            if skew > c.max_skew:
                return m.reject("PodTopologySpread", m.SPREAD_CONSTRAINTS, code=m.UNSCHEDULABLE)
        return None


def prefilter(pod: Obj, nodes: Iterable[NodeInfo]) -> FilterState | None:
    cons = constraints(pod, "DoNotSchedule")
    if not cons:
        return None
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    keys = [c.topology_key for c in cons]
    counts: list[dict[str, int]] = [{} for _ in cons]
    for ni in nodes:
        if not all(k in ni.labels for k in keys):
            continue
        for i, c in enumerate(cons):
            if not _eligible(c, pod, ni):
                continue
            val = ni.labels[c.topology_key]
            counts[i][val] = counts[i].get(val, 0) + ni.count(c.selector, ns)
    return FilterState(cons, counts)


def score(pod: Obj, feasible: list[NodeInfo], all_nodes: Iterable[NodeInfo],
          default_selector: LabelSelector | None = None) -> dict[str, int]:
    """Normalized PodTopologySpread scores (0..100) of the feasible nodes; {} when it has nothing to say."""
    spec = pod.get("spec") or {}
    cons = constraints(pod, "ScheduleAnyway", default_selector)
    if not cons or not feasible:
        return {}
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    require_all = bool(spec.get("topologySpreadConstraints"))
    keys = [c.topology_key for c in cons]
    ignored: set[str] = set()
    size = [0] * len(cons)
    pairs: list[dict[str, int]] = [{} for _ in cons]
    for ni in feasible:
        if require_all and not all(k in ni.labels for k in keys):
            ignored.add(ni.name)
            continue
        for i, c in enumerate(cons):
            if c.topology_key == HOSTNAME:
                size[i] += 1
                continue
            val = ni.labels.get(c.topology_key)
            if val is not None and val not in pairs[i]:
                pairs[i][val] = 0
                size[i] += 1
    weights = [math.log(s + 2) for s in size]
    eligible: dict[tuple[bool, bool], bool] = {}
    for ni in all_nodes:
        eligible.clear()
        for i, c in enumerate(cons):
            if c.topology_key == HOSTNAME:
                continue
            val = ni.labels.get(c.topology_key)
            if val is None or val not in pairs[i]:
                continue
            policy = (c.honor_affinity, c.honor_taints)
            if policy not in eligible:
                eligible[policy] = _eligible(c, pod, ni)
            if eligible[policy]:
                pairs[i][val] += ni.count(c.selector, ns)
    raw: dict[str, int] = {}
    for ni in feasible:
        if ni.name in ignored:
            continue
        s = 0.0
        for i, c in enumerate(cons):
            val = ni.labels.get(c.topology_key)
            if val is None:
                continue
            cnt = ni.count(c.selector, ns) if c.topology_key == HOSTNAME else pairs[i].get(val, 0)
            s += cnt * weights[i] + (c.max_skew - 1)
        raw[ni.name] = int(round(s))
    out: dict[str, int] = {}
    if raw:
        lo, hi = min(raw.values()), max(raw.values())
        for name, s in raw.items():
            out[name] = MAX_NODE_SCORE if hi == 0 else MAX_NODE_SCORE * (hi + lo - s) // hi
    for name in ignored:
        out[name] = 0
    return out


def default_selector(pod: Obj, services: Iterable[Obj], owners: Mapping[tuple[str, str, str], Obj]
                     ) -> LabelSelector | None:
    """``helper.DefaultSelector``: selectors of the Services that select the pod and of its controller.

    ``owners`` maps (kind, namespace, name) to ReplicaSet / ReplicationController / StatefulSet objects.
    """
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    merged: dict[str, str] = {}
    for svc in services:
        smeta = svc.get("metadata") or {}
        sel = (svc.get("spec") or {}).get("selector") or {}
        if (smeta.get("namespace") or "default") != ns or not sel:
            continue
        if all(labels.get(k) == v for k, v in sel.items()):
            merged.update(sel)
    reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted(merged.items())]
    ctrl = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
    if ctrl is not None:
        kind = ctrl.get("kind", "")
        owner = owners.get((kind, ns, ctrl.get("name", "")))
        if owner is not None:
            if kind == "ReplicationController":
                merged.update((owner.get("spec") or {}).get("selector") or {})
                reqs = [Requirement(k, "=", (str(v),)) for k, v in sorted(merged.items())]
            elif kind in ("ReplicaSet", "StatefulSet"):
                reqs = reqs + list(selector_from_label_selector((owner.get("spec") or {}).get("selector")).reqs)
    return LabelSelector(reqs) if reqs else None
