"""DaemonSet controller: one pod per eligible node, following nodes as they come and go.

Follows k/k ``pkg/controller/daemon``:

- ``daemon_controller.go``: ``NodeShouldRunDaemonPod`` / ``predicates`` (template
  nodeName, nodeSelector and required node affinity, untolerated NoSchedule/NoExecute
  taints; a pod keeps running on a node whose NoExecute taints it tolerates),
  ``podsShouldBeOnNode`` (create when missing, but not while an old pod still
  exists; delete failed pods with the Warning ``FailedDaemonPod`` "Found failed daemon
  pod ns/x on node n, will try to kill it"; keep only the oldest of several),
  ``syncNodes`` (pods ``<ds>-<5 random>`` bound through node affinity, not nodeName:
  ``ReplaceDaemonSetPodNodeNameNodeAffinity`` puts a ``matchFields`` term on
  ``metadata.name``, and the default scheduler places the pod), ``updateDaemonSetStatus``;
- ``update.go``: ``rollingUpdate`` (maxSurge 0: delete old pods, unavailable ones first,
  within maxUnavailable; maxSurge > 0: start the new pod beside the old one and delete
  the old one when the new one is available), ``constructHistory`` (ControllerRevisions
  ``<ds>-<hash>`` labelled ``controller-revision-hash``, ``data`` =
  ``{"spec":{"template":{..., "$patch":"replace"}}}`` so ``kubectl rollout undo ds``
  works), ``cleanupHistory`` (revisionHistoryLimit);
- ``util/daemonset_util.go``: ``AddOrUpdateDaemonPodTolerations`` (not-ready and
  unreachable NoExecute without tolerationSeconds; disk-pressure, memory-pressure,
  pid-pressure, unschedulable NoSchedule; network-unavailable for hostNetwork pods),
  ``CreatePodTemplate`` (labels ``controller-revision-hash`` and
  ``pod-template-generation``), ``IsPodUpdated``.

kubesim's scheduler must understand ``matchFields`` ``metadata.name`` for these pods to
be placed (as kube-scheduler does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable

from ..api import Request
from ..errors import AlreadyExists, ApiError, NotFound
from ..store import Event
from .podtemplate import (compute_hash, controller_ref, create_pod, created_at, delete_pod, int_or_percent,
                          is_available, is_deleting, is_ready, is_terminal, labels_of, name_of, omit_zero, owner_ref,
                          phase, pod_from_template, slow_start_batch)
from .workload import OwnerLoop

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"

DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


# -- node eligibility -----------------------------------------------------------------------

def tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for t in taints:
        if t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations):
            return t
    return None


def _expr_matches(expr: Obj, values: dict[str, str]) -> bool:
    key, op, vals = expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])
    has = key in values
    v = values.get(key)
    if op == "In":
        return has and v in vals
    if op == "NotIn":
        return not has or v not in vals
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt"):
        try:
            a, b = int(v or ""), int(vals[0])
        except (ValueError, IndexError):
            return False
        return has and (a > b if op == "Gt" else a < b)
    return False


def node_selector_matches(term_list: list[Obj], node: Obj) -> bool:
    """Required node affinity: any term matches (all its expressions and fields do)."""
    labels = labels_of(node)
    fields = {"metadata.name": name_of(node)}
    for term in term_list:
        exprs = term.get("matchExpressions") or []
        fexprs = term.get("matchFields") or []
        if not exprs and not fexprs:
            continue
        if all(_expr_matches(e, labels) for e in exprs) and all(_expr_matches(e, fields) for e in fexprs):
            return True
    return False


def daemon_tolerations(pod_spec: Obj) -> list[Obj]:
    """``AddOrUpdateDaemonPodTolerations``: the template's tolerations plus the daemon ones."""
    tols = list(pod_spec.get("tolerations") or [])
    extra = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        extra.append(NETWORK_UNAVAILABLE)
    for t in extra:
        for i, cur in enumerate(tols):
            if cur.get("key") == t["key"] and cur.get("effect") == t["effect"]:
                tols[i] = dict(t)  # AddOrUpdateTolerationInPodSpec replaces a same key/effect toleration
                break
        else:
            tols.append(dict(t))
    return tols


def node_should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """``NodeShouldRunDaemonPod`` -> (shouldRun, shouldContinueRunning)."""
    pod_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    want_node = pod_spec.get("nodeName") or ""
    if want_node and want_node != name_of(node):
        return False, False
    labels = labels_of(node)
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False, False
    req = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or None)
    if req is not None and not node_selector_matches(req.get("nodeSelectorTerms") or [], node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tols = daemon_tolerations(pod_spec)
    if untolerated(taints, tols, ("NoSchedule", "NoExecute")) is not None:
        return False, untolerated(taints, tols, ("NoExecute",)) is None
    return True, True


def target_node(pod: Obj) -> str:
    """``GetTargetNodeName``: spec.nodeName, else the node of the matchFields affinity term."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in req.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return f["values"][0]
    return ""


def daemon_pod(ds: Obj, node_name: str, hash_: str, generation: str) -> Obj:
    """``CreatePodTemplate`` + tolerations + node affinity for one node."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    spec["tolerations"] = daemon_tolerations(spec)
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    aff = spec.setdefault("affinity", {})
    na = aff.setdefault("nodeAffinity", {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is None:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        req["nodeSelectorTerms"] = [term]  # ReplaceDaemonSetPodNodeNameNodeAffinity replaces the terms
    return pod_from_template(template, ds, extra_labels={HASH_LABEL: hash_, GENERATION_LABEL: generation})


def _oldest_first(pods: list[Obj]) -> list[Obj]:
    """``podByCreationTimestampAndPhase``: scheduled first, then oldest, then name."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"), created_at(p), name_of(p)))


def is_updated(pod: Obj, hash_: str, generation: str | None) -> bool:
    lab = labels_of(pod)
    return (bool(hash_) and lab.get(HASH_LABEL) == hash_) or \
        (generation is not None and lab.get(GENERATION_LABEL) == generation)


# -- the decision -------------------------------------------------------------------------

@dataclass
class DSDecision:
    create_on: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    requeue: float | None = None


def decide(ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, now: float, *, scale: float = 1.0) -> DSDecision:
    """One ``syncDaemonSet``: pods to create (by node) and delete, and the status."""
    spec = ds.get("spec") or {}
    meta = ds.get("metadata") or {}
    generation = str(((meta.get("annotations") or {}).get(GENERATION_ANNOTATION)) or meta.get("generation") or "")
    min_ready = float(spec.get("minReadySeconds") or 0) * scale
    out = DSDecision()
    by_node: dict[str, list[Obj]] = {}
    for p in pods:
        if is_terminal(p) and is_deleting(p):
            continue
        by_node.setdefault(target_node(p), []).append(p)
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    ru = strategy.get("rollingUpdate") or {}
    surge_allowed = rolling and str(ru.get("maxSurge", 0)) not in ("0", "0%", "None")  # util.AllowsSurge
    deleting_ds = bool(meta.get("deletionTimestamp"))
    should: dict[str, tuple[bool, bool]] = {name_of(n): node_should_run(ds, n) for n in nodes}
    if not deleting_ds:
        for node in nodes:
            nn = name_of(node)
            run, keep = should[nn]
            dpods = by_node.get(nn, [])
            if run and not dpods:
                out.create_on.append(nn)
            elif keep:
                running = []
                for p in dpods:
                    if is_deleting(p):
                        continue
                    if phase(p) == "Failed":
                        out.events.append(("Warning", "FailedDaemonPod",
                                           f"Found failed daemon pod {meta.get('namespace')}/{name_of(p)} on node "
                                           f"{nn}, will try to kill it"))
                        out.delete.append(name_of(p))
                    elif phase(p) == "Succeeded":
                        out.events.append(("Normal", "SucceededDaemonPod",
                                           f"Found succeeded daemon pod {meta.get('namespace')}/{name_of(p)} on node "
                                           f"{nn}, will try to delete it"))
                        out.delete.append(name_of(p))
                    else:
                        running.append(p)
                if not surge_allowed:
                    for p in _oldest_first(running)[1:]:
                        out.delete.append(name_of(p))
                else:
                    new = [p for p in running if is_updated(p, hash_, generation)]
                    old = [p for p in running if not is_updated(p, hash_, generation)]
                    extra = _oldest_first(new)[1:] + (_oldest_first(old)[1:] if old else [])
                    out.delete.extend(name_of(p) for p in extra)
                    if new and old and is_available(_oldest_first(new)[0], min_ready, now):
                        out.delete.append(name_of(_oldest_first(old)[0]))
            elif dpods:
                out.delete.extend(name_of(p) for p in dpods if not is_deleting(p))
        # Pods on nodes that no longer exist: the pod GC removes them upstream; they count as misscheduled here.
        desired = sum(1 for nn in should if should[nn][0])
        if rolling:
            deleted, created = _rolling_update(spec, by_node, should, hash_, generation, min_ready, now, desired,
                                               surge_allowed, set(out.delete))
            out.delete.extend(d for d in deleted if d not in out.delete)
            out.create_on.extend(c for c in created if c not in out.create_on)
    out.status = _status(ds, nodes, by_node, should, hash_, generation, min_ready, now)
    if min_ready > 0 and out.status.get("numberReady", 0) != out.status.get("numberAvailable", 0):
        out.requeue = min_ready
    return out


def _rolling_update(spec: Obj, by_node: dict[str, list[Obj]], should: dict[str, tuple[bool, bool]], hash_: str,
                    generation: str, min_ready: float, now: float, desired: int, surge: bool,
                    already: set[str]) -> tuple[list[str], list[str]]:
    """``rollingUpdate``: which old pods go now (maxSurge 0), or which nodes get a surge pod."""
    ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
    max_unavailable = int_or_percent(ru.get("maxUnavailable", 1), desired, False)
    max_surge = int_or_percent(ru.get("maxSurge", 0), desired, True)
    if max_unavailable == 0 and max_surge == 0:
        max_unavailable = 1
    num_unavailable = 0
    replace_now: list[str] = []
    candidates: list[str] = []
    surge_nodes: list[str] = []
    for nn in sorted(by_node):
        pods = [p for p in by_node[nn] if not is_deleting(p) and not is_terminal(p) and p["metadata"]["name"]
                not in already]
        if not pods or not should.get(nn, (False, False))[0]:
            continue
        new = [p for p in pods if is_updated(p, hash_, generation)]
        old = [p for p in pods if not is_updated(p, hash_, generation)]
        if len(new) > 1 or len(old) > 1:
            num_unavailable += 1
            continue
        if (new and old) or (not new and not old):
            num_unavailable += 1
        elif new:
            if not is_available(new[0], min_ready, now):
                num_unavailable += 1
        else:
            if not is_available(old[0], min_ready, now):
                replace_now.append(name_of(old[0]) if not surge else nn)
            elif num_unavailable >= max_unavailable and not surge:
                continue
            else:
                candidates.append(name_of(old[0]) if not surge else nn)
    if surge:
        budget = max(0, max_surge - sum(1 for nn in by_node if len([p for p in by_node[nn]
                                                                   if not is_deleting(p)]) > 1))
        surge_nodes = replace_now + candidates[:budget]
        return [], surge_nodes
    remaining = max(0, min(max_unavailable - num_unavailable, len(candidates)))
    return replace_now + candidates[:remaining], []


def _status(ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]], should: dict[str, tuple[bool, bool]],
            hash_: str, generation: str, min_ready: float, now: float) -> Obj:
    desired = current = ready = available = updated = misscheduled = 0
    for node in nodes:
        nn = name_of(node)
        run = should[nn][0]
        dpods = by_node.get(nn, [])
        if run:
            desired += 1
            if not dpods:
                continue
            current += 1
            pod = _oldest_first(dpods)[0]
            if is_ready(pod):
                ready += 1
                if is_available(pod, min_ready, now):
                    available += 1
            if is_updated(pod, hash_, generation):
                updated += 1
        elif dpods:
            misscheduled += 1
    old = ds.get("status") or {}
    status = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
              "desiredNumberScheduled": desired, "numberReady": ready,
              "observedGeneration": (ds.get("metadata") or {}).get("generation"),
              "updatedNumberScheduled": updated, "numberAvailable": available,
              "numberUnavailable": desired - available, "collisionCount": old.get("collisionCount"),
              "conditions": old.get("conditions")}
    return omit_zero(status, keep=("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                   "numberReady"))


# -- revisions -----------------------------------------------------------------------------

def revision_data(ds: Obj) -> Obj:
    """``getPatch``: the template as a strategic-merge patch that replaces it."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def plan_history(ds: Obj, revisions: list[Obj], hash_: str, live_hashes: set[str]) -> tuple[Obj | None, list[str],
                                                                                             int | None]:
    """``constructHistory`` + ``cleanupHistory``: (revision to create or None, revisions to delete,
    new revision number for the current one if it must be bumped)."""
    data = revision_data(ds)
    cur = next((r for r in revisions if r.get("data") == data), None)
    max_rev = max((int(r.get("revision") or 0) for r in revisions), default=0)
    create = None
    bump = None
    if cur is None:
        meta = ds.get("metadata") or {}
        tlabels = (((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        create = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                  "metadata": {"name": f"{meta.get('name')}-{hash_}", "namespace": meta.get("namespace"),
                               "labels": {**tlabels, HASH_LABEL: hash_},
                               "annotations": dict(meta.get("annotations") or {}),
                               "ownerReferences": [owner_ref(ds)]},
                  "data": data, "revision": max_rev + 1}
    elif int(cur.get("revision") or 0) < max_rev:
        bump = max_rev + 1
    limit = int((ds.get("spec") or {}).get("revisionHistoryLimit") or 10)
    old = [r for r in revisions if r is not cur and labels_of(r).get(HASH_LABEL) not in live_hashes]
    old.sort(key=lambda r: int(r.get("revision") or 0))
    delete = [name_of(r) for r in old[:max(0, len(old) - limit)]]
    return create, delete, bump


# -- the loop -----------------------------------------------------------------------------

class DaemonSetController(OwnerLoop):
    """kube-controller-manager's ``daemonset-controller``."""

    name = "daemonset-controller"
    owner_key = "apps/daemonsets"
    owner_kind = "DaemonSet"

    @property
    def watches(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("apps/daemonsets", "pods", "nodes")

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        if ev.entry.key == "nodes":
            if ev.type == "MODIFIED" and ev.prev is not None:
                a, b = ev.prev.view(), ev.entry.view()
                # Heartbeats do not change eligibility; labels, taints and the node set do.
                if a.get("spec") == b.get("spec") and a["metadata"].get("labels") == b["metadata"].get("labels"):
                    return []
            return self.all_items()
        return super().items_for(ev)

    def reconcile(self, item: Any) -> float | None:
        _, ns, name = item
        ds = self.get_owner(ns, name)
        if ds is None:
            return None
        sel = (ds.get("spec") or {}).get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return None
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = compute_hash((ds.get("spec") or {}).get("template") or {}, collision)
        pods = self.owned(ds)
        self._history(ds, hash_, pods)
        nodes = [e.obj() for e in self.api.store.list("nodes")[0]]
        d = decide(ds, nodes, pods, hash_, self.now(), scale=self.timings.scale)
        for type_, reason, msg in d.events:
            self.recorder.event(ds, type_, reason, msg)
        for pod_name in d.delete:
            try:
                delete_pod(self.api, self.recorder, ds, pod_name)
            except ApiError:
                pass
        meta = ds.get("metadata") or {}
        generation = str(((meta.get("annotations") or {}).get(GENERATION_ANNOTATION)) or meta.get("generation") or "")
        targets = list(d.create_on)
        if targets:
            def one() -> None:
                create_pod(self.api, self.recorder, ds, daemon_pod(ds, targets.pop(0), hash_, generation),
                           self.manager)

            slow_start_batch(len(targets), one)
        self.write_status(ds, d.status)
        return d.requeue

    def _history(self, ds: Obj, hash_: str, pods: list[Obj]) -> None:
        ns = ds["metadata"].get("namespace")
        rt = self.api.rt("apps/controllerrevisions")
        revisions = [e.obj() for e in self.api.store.list("apps/controllerrevisions", ns)[0]
                     if (controller_ref(e.obj()) or {}).get("uid") == ds["metadata"].get("uid")]
        live = {labels_of(p).get(HASH_LABEL) for p in pods} | {hash_}
        create, delete, bump = plan_history(ds, revisions, hash_, live)
        if create is not None:
            try:
                self.api.create(rt, ns, create, Request(field_manager=self.manager))
            except AlreadyExists:
                # Same name, different data: a hash collision (collisionCount++), as upstream.
                existing = self.api.get(rt, ns, name_of(create))
                if existing.get("data") != create["data"]:
                    st = dict(ds.get("status") or {})
                    st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
                    self.write_status(ds, st)
        if bump is not None:
            cur = next(r for r in revisions if r.get("data") == revision_data(ds))

            def set_rev(obj: Obj) -> Obj:
                obj["revision"] = bump
                return obj

            self.api.mutate(rt, ns, name_of(cur), set_rev, manager=self.manager)
        for n in delete:
            try:
                self.api.delete(rt, ns, n)
            except NotFound:
                pass
