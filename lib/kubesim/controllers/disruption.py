"""The disruption controller: PodDisruptionBudget status, as kube-controller-manager computes it.

Upstream: pkg/controller/disruption/disruption.go (``trySync``, ``getExpectedPodCount``,
``getExpectedScale`` and the controller finders, ``countHealthyPods``,
``buildDisruptedPodMap``, ``updatePdbStatus``, ``failSafe``,
``nonTerminatingPodHasStaleDisruptionCondition``/``syncStalePodDisruption``);
staging k8s.io/component-helpers/apps/poddisruptionbudget/helpers.go
(``UpdateDisruptionAllowedCondition``, ``ConditionsAreUpToDate``);
apimachinery pkg/util/intstr (``GetScaledValueFromIntOrPercent``).

The numbers:

- ``maxUnavailable`` (int or percent): expectedPods = the sum of the ``spec.replicas``
  of the controllers owning the selected pods (ReplicationController, Deployment via
  its ReplicaSet, ReplicaSet, StatefulSet, else anything with a scale subresource);
  desiredHealthy = expectedPods - maxUnavailable (percent rounded **up**), at least 0.
- ``minAvailable`` int: expectedPods = number of selected pods, desiredHealthy = the value.
- ``minAvailable`` percent: expectedPods from the controllers' scale as above,
  desiredHealthy = percent of it rounded **up**.
- currentHealthy = selected pods that are Ready, not being deleted and not in
  ``disruptedPods`` (an eviction in flight, for at most DeletionTimeout = 2 min).
- disruptionsAllowed = currentHealthy - desiredHealthy, never negative, 0 while
  expectedPods is 0.
- Condition ``DisruptionAllowed``: True/``SufficientPods`` when disruptions are allowed,
  else False/``InsufficientPods``; False/``SyncFailed`` with the error when the numbers
  cannot be computed (e.g. a pod owned by a controller that does not exist), in which
  case disruptionsAllowed is forced to 0 (fail safe).
- ``observedGeneration`` = the PDB's generation (the eviction subresource refuses to act
  on a PDB whose status is older than its spec).

Every duration is an upstream value scaled by the cluster's timing profile.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Hashable, Iterable, Mapping

from .. import clock
from ..api import Request
from ..errors import ApiError, Conflict, NotFound
from ..selectors import selector_from_label_selector
from ..store import Event
from .base import Controller
from .endpointutil import is_pod_ready, is_pod_terminal, meta, pod_condition

log = logging.getLogger("kubesim.controllers.disruption")

Obj = dict[str, Any]
DELETION_TIMEOUT = 120.0             # DeletionTimeout (2 min)
STALE_POD_DISRUPTION_TIMEOUT = 120.0  # stalePodDisruptionTimeout (2 min)
CONDITION = "DisruptionAllowed"
SUFFICIENT = "SufficientPods"
INSUFFICIENT = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
COMPONENT = "controllermanager"  # the EventSource of disruption.go's recorder
UNMANAGED_MSG = ("Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. "
                 "As a result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                 "behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an "
                 "integer value.")


class ScaleError(Exception):
    """Why the expected pod count could not be computed (becomes a SyncFailed condition)."""


# -- pure arithmetic -------------------------------------------------------------------------
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``."""
    if isinstance(value, bool):
        raise ScaleError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.endswith("%"):
            raise ScaleError(f"invalid value for IntOrString: invalid type: string is not a percentage")
        try:
            pct = int(value[:-1])
        except ValueError:
            raise ScaleError(f"invalid value \"{value}\": strconv.Atoi: parsing \"{value[:-1]}\": invalid syntax")
        exact = pct * total / 100
        return int(math.ceil(exact)) if round_up else int(math.floor(exact))
    raise ScaleError("invalid value for IntOrString: invalid type: neither int nor percentage")


def controller_ref(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta(pod).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


ScaleOf = Callable[[Mapping[str, Any], str], "tuple[str, int] | None"]


def expected_scale(pods: list[Mapping[str, Any]], scale_of: ScaleOf) -> tuple[int, list[str]]:
    """``getExpectedScale``: the sum of the owning controllers' scale, and the unmanaged pods.

    ``scale_of(controller_ref, namespace)`` returns ``(uid, replicas)``, None when no such
    controller exists, or raises :class:`ScaleError`.
    """
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(meta(pod).get("name", ""))
            continue
        if ref.get("uid") in scales:
            continue
        found = scale_of(ref, meta(pod).get("namespace", ""))
        if found is None:
            raise ScaleError(f"found no controllers for pod \"{meta(pod).get('name', '')}\"")
        scales[found[0]] = found[1]
    return sum(scales.values()), unmanaged


def expected_pod_count(pdb: Mapping[str, Any], pods: list[Mapping[str, Any]],
                       scale_of: ScaleOf) -> tuple[int, int, list[str]]:
    """``getExpectedPodCount``: (expectedPods, desiredHealthy, unmanaged pod names)."""
    spec = pdb.get("spec") or {}
    expected, desired, unmanaged = 0, 0, []
    if spec.get("maxUnavailable") is not None:
        expected, unmanaged = expected_scale(pods, scale_of)
        max_unavailable = scaled_value(spec["maxUnavailable"], expected, True)
        desired = max(0, expected - max_unavailable)
    elif spec.get("minAvailable") is not None:
        min_available = spec["minAvailable"]
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            desired = min_available
            expected = len(pods)
        else:
            expected, unmanaged = expected_scale(pods, scale_of)
            desired = scaled_value(min_available, expected, True)
    return expected, desired, unmanaged


def build_disrupted_pod_map(pods: list[Mapping[str, Any]], disrupted: Mapping[str, str] | None, now: datetime,
                            timeout: float) -> tuple[dict[str, str], datetime | None, list[str]]:
    """``buildDisruptedPodMap``: entries still pending, the next recheck time, pods that were never deleted."""
    result: dict[str, str] = {}
    recheck: datetime | None = None
    expired: list[str] = []
    if not disrupted:
        return result, recheck, expired
    for pod in pods:
        name = meta(pod).get("name", "")
        if meta(pod).get("deletionTimestamp"):
            continue
        stamp = disrupted.get(name)
        if stamp is None:
            continue
        t = clock.parse_time(stamp)
        if t is None:
            continue
        expected_deletion = t + timedelta(seconds=timeout)
        if expected_deletion < now:
            expired.append(name)
        else:
            if recheck is None or expected_deletion < recheck:
                recheck = expected_deletion
            result[name] = stamp
    return result, recheck, expired


def count_healthy(pods: list[Mapping[str, Any]], disrupted: Mapping[str, str], now: datetime,
                  timeout: float) -> int:
    """``countHealthyPods``."""
    n = 0
    for pod in pods:
        if meta(pod).get("deletionTimestamp"):
            continue
        stamp = disrupted.get(meta(pod).get("name", ""))
        t = clock.parse_time(stamp) if stamp else None
        if t is not None and t + timedelta(seconds=timeout) > now:
            continue
        if is_pod_ready(pod):
            n += 1
    return n


def set_condition(conditions: list[Obj], cond: Obj, now: str) -> list[Obj]:
    """``apimeta.SetStatusCondition``: lastTransitionTime moves only when the status changes."""
    out = [dict(c) for c in conditions]
    for c in out:
        if c.get("type") == cond["type"]:
            if c.get("status") != cond["status"]:
                c["status"] = cond["status"]
                c["lastTransitionTime"] = now
            c["reason"] = cond.get("reason", "")
            c["message"] = cond.get("message", "")
            c["observedGeneration"] = cond.get("observedGeneration", 0)
            return out
    new = {"type": cond["type"], "status": cond["status"], "observedGeneration": cond.get("observedGeneration", 0),
           "lastTransitionTime": now, "reason": cond.get("reason", ""), "message": cond.get("message", "")}
    out.append(new)
    return out


def update_disruption_allowed_condition(status: Obj, now: str) -> Obj:
    """``UpdateDisruptionAllowedCondition`` on a status dict (returns it)."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    status["conditions"] = set_condition(status.get("conditions") or [], {
        "type": CONDITION, "status": "True" if allowed else "False",
        "reason": SUFFICIENT if allowed else INSUFFICIENT,
        "observedGeneration": int(status.get("observedGeneration") or 0)}, now)
    return status


def conditions_up_to_date(pdb: Mapping[str, Any]) -> bool:
    """``ConditionsAreUpToDate``."""
    status = pdb.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
    if cond is None:
        return False
    if int(status.get("observedGeneration") or 0) != int(meta(pdb).get("generation") or 0):
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT


@dataclass
class SyncResult:
    """What one sync decided: the status to write (None: up to date), events, when to look again."""

    status: Obj | None
    events: list[tuple[str, str, str, str]] = field(default_factory=list)  # (target, type, reason, message)
    recheck_at: datetime | None = None
    failed: str | None = None


def status_for(pdb: Mapping[str, Any], current: int, desired: int, expected: int, disrupted: dict[str, str],
               now: str) -> Obj | None:
    """``updatePdbStatus``: the new status, or None when nothing would change."""
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    old = pdb.get("status") or {}
    gen = int(meta(pdb).get("generation") or 0)
    if (int(old.get("currentHealthy") or 0) == current and int(old.get("desiredHealthy") or 0) == desired
            and int(old.get("expectedPods") or 0) == expected and int(old.get("disruptionsAllowed") or 0) == allowed
            and (old.get("disruptedPods") or {}) == disrupted
            and int(old.get("observedGeneration") or 0) == gen and conditions_up_to_date(pdb)):
        return None
    status: Obj = {"observedGeneration": gen}
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status.update({"disruptionsAllowed": allowed, "currentHealthy": current, "desiredHealthy": desired,
                   "expectedPods": expected, "conditions": list(old.get("conditions") or [])})
    return update_disruption_allowed_condition(status, now)


def fail_safe_status(pdb: Mapping[str, Any], message: str, now: str) -> Obj:
    """``failSafe``: disruptionsAllowed 0 and DisruptionAllowed=False/SyncFailed with the error."""
    status = dict(pdb.get("status") or {})
    status["disruptionsAllowed"] = 0
    status["conditions"] = set_condition(status.get("conditions") or [], {
        "type": CONDITION, "status": "False", "reason": SYNC_FAILED, "message": message,
        "observedGeneration": int(status.get("observedGeneration") or 0)}, now)
    return status


def pods_for_pdb(pdb: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``getPodsForPdb``: a nil selector matches nothing, an empty one everything (policy/v1)."""
    sel = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
    return [p for p in pods if sel.matches(meta(p).get("labels") or {})]


def sync(pdb: Mapping[str, Any], pods: list[Mapping[str, Any]], scale_of: ScaleOf, now: datetime,
         deletion_timeout: float = DELETION_TIMEOUT) -> SyncResult:
    """``trySync`` (+ ``failSafe``) without I/O; ``pods`` are the PDB's namespace's pods."""
    now_s = clock.rfc3339(now)
    selected = pods_for_pdb(pdb, pods)
    res = SyncResult(None)
    if not selected:
        res.events.append(("pdb", "Normal", "NoPods", "No matching pods found"))
    try:
        expected, desired, unmanaged = expected_pod_count(pdb, selected, scale_of)
    except ScaleError as exc:
        res.events.append(("pdb", "Warning", "CalculateExpectedPodCountFailed",
                           f"Failed to calculate the number of expected pods: {exc}"))
        res.status = fail_safe_status(pdb, str(exc), now_s)
        res.failed = str(exc)
        if res.status == (pdb.get("status") or {}):
            res.status = None
        return res
    if unmanaged:
        sel = (pdb.get("spec") or {}).get("selector")
        res.events.append(("pdb", "Warning", "UnmanagedPods", UNMANAGED_MSG.format(selector=_go_selector(sel))))
    disrupted, recheck, expired = build_disrupted_pod_map(selected, (pdb.get("status") or {}).get("disruptedPods"),
                                                          now, deletion_timeout)
    pm = meta(pdb)
    for name in expired:
        # disruption.go prints the PDB's namespace twice (a long-standing upstream typo).
        res.events.append((f"pod:{name}", "Warning", "NotDeleted",
                           f"Pod was expected by PDB {pm.get('namespace', '')}/{pm.get('namespace', '')} to be "
                           f"deleted but it wasn't"))
    current = count_healthy(selected, disrupted, now, deletion_timeout)
    res.status = status_for(pdb, current, desired, expected, disrupted, now_s)
    res.recheck_at = recheck
    return res


def _go_selector(sel: Mapping[str, Any] | None) -> str:
    """``%v`` of a *metav1.LabelSelector, roughly: ``&LabelSelector{MatchLabels:map[app:web,],...}``."""
    if sel is None:
        return "nil"
    ml = ",".join(f"{k}: {v}" for k, v in sorted((sel.get("matchLabels") or {}).items()))
    exprs = sel.get("matchExpressions") or []
    ex = ",".join(f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
                  f"Values:[{' '.join(e.get('values') or [])}],}}" for e in exprs)
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{ml},}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{ex}}},}}")


def stale_disruption_condition(pod: Mapping[str, Any], now: datetime, timeout: float) -> tuple[bool, float]:
    """``nonTerminatingPodHasStaleDisruptionCondition``: (has one, seconds until it is stale)."""
    if meta(pod).get("deletionTimestamp"):
        return False, 0.0
    cond = pod_condition(pod, "DisruptionTarget")
    if cond is None or cond.get("status") != "True" or cond.get("reason") == "TerminationByKubelet" \
            or is_pod_terminal(pod):
        return False, 0.0
    since = clock.parse_time(cond.get("lastTransitionTime")) or now
    wait = timeout - (now - since).total_seconds()
    return True, max(0.0, wait)


# -- the loop ------------------------------------------------------------------------------
_KINDS = {  # controllerRef kind -> (storage key, accepted groups)
    "ReplicationController": ("replicationcontrollers", ("",)),
    "StatefulSet": ("apps/statefulsets", ("apps",)),
}


class DisruptionController(Controller):
    name = "disruption-controller"
    watches = ("policy/poddisruptionbudgets", "pods")
    resync_seconds = 30.0

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.recorder = self.ctx.recorder(COMPONENT)
        self.deletion_timeout = self.timings.s(DELETION_TIMEOUT)
        self.stale_timeout = self.timings.s(STALE_POD_DISRUPTION_TIMEOUT)
        self._noted_nopods: set[tuple[str, str, str]] = set()

    # items: ("pdb", ns, name) | ("pod", ns, name)
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        e = ev.entry
        if e.key == "policy/poddisruptionbudgets":
            return [("pdb", e.namespace, e.name)]
        if e.key != "pods":
            return []
        out: list[Hashable] = []
        old = ev.prev.labels if ev.prev is not None else None
        for p in self.api.store.list("policy/poddisruptionbudgets", e.namespace)[0]:
            sel = selector_from_label_selector(((p.view().get("spec") or {}).get("selector")))
            if sel.matches(e.labels or {}) or (old is not None and sel.matches(old)):
                out.append(("pdb", p.namespace, p.name))
        if ev.type != "DELETED":
            out.append(("pod", e.namespace, e.name))
        return out

    def all_items(self) -> Iterable[Hashable]:
        entries, _ = self.api.store.list("policy/poddisruptionbudgets")
        return [("pdb", e.namespace, e.name) for e in entries]

    def reconcile(self, item: Hashable) -> float | None:
        kind, ns, name = item  # type: ignore[misc]
        if kind == "pod":
            return self._reconcile_pod(ns, name)
        return self._reconcile_pdb(ns, name)

    # -- PDB status ---------------------------------------------------------------------------
    def _reconcile_pdb(self, ns: str, name: str) -> float | None:
        entry = self.api.store.get("policy/poddisruptionbudgets", ns, name)
        if entry is None:
            return None
        pdb = entry.obj()
        pods = [e.obj() for e in self.api.store.list("pods", ns)[0]]
        now = clock.now()
        res = sync(pdb, pods, self._scale_of, now, self.deletion_timeout)
        for target, typ, reason, message in res.events:
            if reason == "NoPods":
                key = (ns, name, meta(pdb).get("resourceVersion", ""))
                if res.status is None and key in self._noted_nopods:
                    continue  # an unchanged PDB resynced: upstream re-records; kubesim keeps it quiet
                self._noted_nopods.add(key)
            obj = pdb
            if target.startswith("pod:"):
                pe = self.api.store.get("pods", ns, target[4:])
                if pe is None:
                    continue
                obj = pe.obj()
            self.recorder.event(obj, typ, reason, message)
        if res.status is not None:
            body = dict(pdb)
            body["status"] = res.status
            try:
                self.api.update(self.api.rt("policy/poddisruptionbudgets"), ns, name, body,
                                Request(field_manager="kube-controller-manager"), subresource="status")
            except Conflict:
                return 0.05
            except NotFound:
                return None
            except ApiError as exc:
                log.debug("pdb %s/%s status: %s", ns, name, exc)
                return 1.0
        if res.recheck_at is not None:
            return max(0.0, (res.recheck_at - now).total_seconds())
        return None

    def _scale_of(self, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        """The controller finders (RC, Deployment, ReplicaSet, StatefulSet, then any /scale)."""
        store = self.api.store
        api_version = ref.get("apiVersion") or ""
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        kind = ref.get("kind") or ""
        name = ref.get("name") or ""
        uid = ref.get("uid") or ""

        def replicas(obj: Mapping[str, Any]) -> int:
            r = (obj.get("spec") or {}).get("replicas")
            return 1 if r is None else int(r)

        if kind in _KINDS and group in _KINDS[kind][1]:
            e = store.get(_KINDS[kind][0], namespace, name)
            if e is not None and e.obj()["metadata"].get("uid") == uid:
                return uid, replicas(e.obj())
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            e = store.get("apps/replicasets", namespace, name)
            if e is not None and e.obj()["metadata"].get("uid") == uid:
                rs = e.obj()
                owner = controller_ref(rs)
                if owner is not None and owner.get("kind") == "Deployment":
                    d = store.get("apps/deployments", namespace, owner.get("name", ""))
                    if d is not None and d.obj()["metadata"].get("uid") == owner.get("uid"):
                        return d.obj()["metadata"]["uid"], replicas(d.obj())
                else:
                    return uid, replicas(rs)
        # getScaleController: anything else that serves /scale (CRDs included).
        version = api_version.split("/", 1)[1] if "/" in api_version else api_version
        rt = self.api.registry.for_kind(group, version, kind)
        if rt is None:
            raise ScaleError(f"no matches for kind \"{kind}\" in version \"{api_version}\"")
        if "scale" not in rt.subresources:
            raise ScaleError(f"{rt.plural}{'.' + rt.group if rt.group else ''} does not implement the scale "
                             f"subresource")
        from ..scale import to_scale

        e = store.get(rt.key, namespace if rt.namespaced else "", name)
        if e is None:
            return None
        sc = to_scale(rt, self.api._served(rt, e.obj()))
        if sc["metadata"].get("uid") != uid:
            return None
        return uid, int(sc["spec"]["replicas"])

    # -- stale DisruptionTarget conditions and multiple PDBs ---------------------------------
    def _reconcile_pod(self, ns: str, name: str) -> float | None:
        entry = self.api.store.get("pods", ns, name)
        if entry is None:
            return None
        pod = entry.obj()
        pdbs = [e for e in self.api.store.list("policy/poddisruptionbudgets", ns)[0]
                if pods_for_pdb(e.obj(), [pod])]
        if len(pdbs) > 1:
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets",
                                f"Pod \"{ns}\"/\"{name}\" matches multiple PodDisruptionBudgets.  Chose "
                                f"\"{pdbs[0].name}\" arbitrarily.")
        has, wait = stale_disruption_condition(pod, clock.now(), self.stale_timeout)
        if not has:
            return None
        if wait > 0:
            return wait

        def clear(cur: Obj) -> Obj | None:
            has_now, wait_now = stale_disruption_condition(cur, clock.now(), self.stale_timeout)
            if not has_now or wait_now > 0:
                return None
            conds = []
            for c in (cur.get("status") or {}).get("conditions") or []:
                if c.get("type") == "DisruptionTarget":
                    c = {"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                         "lastTransitionTime": clock.rfc3339()}
                conds.append(c)
            cur.setdefault("status", {})["conditions"] = conds
            return cur

        try:
            self.api.update_status(self.api.rt("pods"), ns, name, clear, manager="kube-controller-manager")
        except NotFound:
            return None
        except ApiError:
            return 1.0
        return None
