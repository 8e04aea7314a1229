"""Matching rules shared by several plugins: node selectors, tolerations, pod (anti-)affinity terms.

Sources: ``k8s.io/component-helpers/scheduling/corev1/nodeaffinity`` (NodeSelector
terms are ORed, expressions in a term ANDed, ``matchFields`` only knows
``metadata.name``, an empty term matches nothing), ``core/v1 helper``
``Toleration.ToleratesTaint`` (empty key with Exists tolerates everything; empty
effect matches all effects; empty operator means Equal), and
``pkg/scheduler/framework/types.go`` ``AffinityTerm`` (namespaces default to the
pod's own; a nil labelSelector matches nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..selectors import LabelSelector, Requirement, selector_from_label_selector

Obj = dict[str, Any]

NO_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")


# -- node selectors -----------------------------------------------------------------------
def _expr_matches(expr: Obj, labels: Mapping[str, str]) -> bool:
    key = expr.get("key", "")
    op = expr.get("operator", "")
    values = [str(v) for v in expr.get("values") or []]
    has = key in labels
    if op == "In":
        return has and labels[key] in values
    if op == "NotIn":
        return not has or labels[key] not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt"):
        if not has or len(values) != 1:
            return False
        try:
            lv, rv = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return lv > rv if op == "Gt" else lv < rv
    return False


def term_matches(term: Obj, labels: Mapping[str, str], node_name: str) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(_expr_matches(e, labels) for e in exprs):
        return False
    return all(_expr_matches(f, {"metadata.name": node_name}) if f.get("key") == "metadata.name" else False
               for f in fields)


def node_selector_terms_match(terms: list[Obj], labels: Mapping[str, str], node_name: str) -> bool:
    return any(term_matches(t, labels, node_name) for t in terms or [])


def required_node_affinity(spec: Obj) -> list[Obj] | None:
    na = ((spec.get("affinity") or {}).get("nodeAffinity")) or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is None:
        return None
    return list(req.get("nodeSelectorTerms") or [])


def pod_matches_node_selector_and_affinity(spec: Obj, labels: Mapping[str, str], node_name: str) -> bool:
    """NodeAffinity's Filter: ``nodeSelector`` and the required node affinity."""
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = required_node_affinity(spec)
    if terms is not None and not node_selector_terms_match(terms, labels, node_name):
        return False
    return True


def topology_selector_terms_match(terms: list[Obj] | None, labels: Mapping[str, str]) -> bool:
    """StorageClass allowedTopologies (``v1helper.MatchTopologySelectorTerms``); no terms match all."""
    if not terms:
        return True
    for t in terms:
        ok = True
        for req in t.get("matchLabelExpressions") or []:
            if labels.get(req.get("key", "")) not in [str(v) for v in req.get("values") or []]:
                ok = False
                break
        if ok:
            return True
    return False


# -- taints and tolerations ---------------------------------------------------------------------
def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: list[Obj] | None, taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations or [])


def first_untolerated_taint(taints: list[Obj], tolerations: list[Obj] | None,
                            effects: tuple[str, ...] = NO_SCHEDULE_EFFECTS) -> Obj | None:
    """``v1helper.FindMatchingUntoleratedTaint`` over the taints with the given effects, in node order."""
    for taint in taints or []:
        if taint.get("effect") in effects and not tolerated(tolerations, taint):
            return taint
    return None


# -- pod (anti-)affinity terms --------------------------------------------------------------------
@dataclass(frozen=True)
class AffinityTerm:
    selector: LabelSelector
    namespaces: frozenset[str]
    namespace_selector: LabelSelector | None  # None: only ``namespaces``
    topology_key: str
    weight: int = 0

    def matches(self, pod_namespace: str, pod_labels: Mapping[str, str],
                ns_labels: Mapping[str, Mapping[str, str]]) -> bool:
        if pod_namespace not in self.namespaces:
            if self.namespace_selector is None or not self.namespace_selector.matches(ns_labels.get(pod_namespace, {})):
                return False
        return self.selector.matches(pod_labels)


def _term(pod_namespace: str, pod_labels: Mapping[str, str], t: Obj, weight: int = 0) -> AffinityTerm:
    sel = selector_from_label_selector(t.get("labelSelector"))
    extra: list[Requirement] = []
    if t.get("labelSelector") is not None:
        for k in t.get("matchLabelKeys") or []:
            if k in pod_labels:
                extra.append(Requirement(k, "in", (pod_labels[k],)))
        for k in t.get("mismatchLabelKeys") or []:
            if k in pod_labels:
                extra.append(Requirement(k, "notin", (pod_labels[k],)))
    if extra:
        sel = LabelSelector(list(sel.reqs) + extra)
    ns_sel_raw = t.get("namespaceSelector")
    namespaces = list(t.get("namespaces") or [])
    if not namespaces and ns_sel_raw is None:
        namespaces = [pod_namespace]
    ns_sel = selector_from_label_selector(ns_sel_raw) if ns_sel_raw is not None else None
    return AffinityTerm(sel, frozenset(namespaces), ns_sel, t.get("topologyKey") or "", weight)


def pod_affinity_terms(pod: Obj, kind: str, required: bool = True) -> list[AffinityTerm]:
    """Terms of ``podAffinity`` or ``podAntiAffinity`` (kind), required or preferred (weighted)."""
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    labels = meta.get("labels") or {}
    block = (((pod.get("spec") or {}).get("affinity") or {}).get(kind)) or {}
    if required:
        return [_term(ns, labels, t) for t in block.get("requiredDuringSchedulingIgnoredDuringExecution") or []]
    return [_term(ns, labels, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0))
            for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
