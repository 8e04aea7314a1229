"""Small shared helpers for the node-failure controllers (node lifecycle, taint eviction, pod GC).

Pure functions over plain dicts, each named after the upstream helper it follows:

- well-known taint keys and labels (k8s.io/api core/v1 well_known_taints.go, well_known_labels.go),
- ``zone_key`` (k8s.io/component-helpers node/topology/helpers.go ``GetZoneKey``),
- taint and toleration matching (k8s.io/api core/v1 toleration.go ``ToleratesTaint``, taint.go
  ``MatchTaint``; pkg/apis/core/v1/helper ``GetMatchingTolerations``),
- pod condition updates (pkg/api/v1/pod/util.go ``UpdatePodCondition``),
- node readiness (pkg/util/node ``IsNodeReady``).

No I/O here; the controllers act through :class:`kubesim.api.Api`.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import clock

Obj = dict[str, Any]

# k8s.io/api core/v1 well_known_taints.go
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

# k8s.io/api core/v1 well_known_labels.go
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"
LABEL_ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"
LABEL_REGION_BETA = "failure-domain.beta.kubernetes.io/region"

# The manager name kube-controller-manager's writes carry in managedFields.
MANAGER = "kube-controller-manager"


def epoch(text: str | None) -> float | None:
    """A metav1.Time / MicroTime string as seconds since the epoch (None if absent or bad)."""
    dt = clock.parse_time(text)
    return None if dt is None else dt.timestamp()


def zone_key(node: Obj) -> str:
    """``GetZoneKey``: region + ":\\x00:" + zone, beta labels first; "" when neither is set."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = labels[LABEL_ZONE_BETA] if LABEL_ZONE_BETA in labels else labels.get(LABEL_ZONE, "")
    region = labels[LABEL_REGION_BETA] if LABEL_REGION_BETA in labels else labels.get(LABEL_REGION, "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def zone_label(key: str) -> str:
    """A zone key as people read it (``us-east-1/us-east-1a``)."""
    region, _, zone = key.partition(":\x00:")
    return f"{region}/{zone}" if key else "<none>"


def get_condition(conditions: list[Obj] | None, type_: str) -> Obj | None:
    for c in conditions or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def node_ready_condition(node: Obj) -> Obj | None:
    return get_condition((node.get("status") or {}).get("conditions"), "Ready")


def is_node_ready(node: Obj) -> bool:
    """``IsNodeReady``: the Ready condition is True."""
    c = node_ready_condition(node)
    return c is not None and c.get("status") == "True"


# -- taints and tolerations ----------------------------------------------------------------------
def taints_of(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def match_taint(a: Obj, b: Obj) -> bool:
    """``Taint.MatchTaint``: same key and effect (value and timeAdded ignored)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def taint_exists(taints: list[Obj], taint: Obj) -> bool:
    return any(match_taint(t, taint) for t in taints)


def taint_key_exists(taints: list[Obj], key: str) -> bool:
    return any(t.get("key") == key for t in taints)


def no_execute_taints(taints: list[Obj]) -> list[Obj]:
    return [t for t in taints if t.get("effect") == "NoExecute"]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """``Toleration.ToleratesTaint``: empty effect/key match all; operator Equal (default) or Exists."""
    eff = toleration.get("effect") or ""
    if eff and eff != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def matching_tolerations(taints: list[Obj], tolerations: list[Obj]) -> tuple[bool, list[Obj]]:
    """``GetMatchingTolerations``: all taints tolerated?, and the first toleration used for each."""
    if not taints:
        return True, []
    if not tolerations:
        return False, []
    used: list[Obj] = []
    for taint in taints:
        for tol in tolerations:
            if tolerates(tol, taint):
                used.append(tol)
                break
        else:
            return False, []
    return True, used


def add_or_update_taint(taints: list[Obj], taint: Obj) -> list[Obj]:
    """``taints.AddOrUpdateTaint``: replace the taint with the same key and effect, or append it."""
    out: list[Obj] = []
    updated = False
    for t in taints:
        if match_taint(t, taint):
            out.append(dict(taint))
            updated = True
        else:
            out.append(t)
    if not updated:
        out.append(dict(taint))
    return out


def remove_taints(taints: list[Obj], remove: list[Obj]) -> list[Obj]:
    return [t for t in taints if not any(match_taint(t, r) for r in remove)]


# -- pod conditions ------------------------------------------------------------------------------
def update_pod_condition(status: Obj, condition: Obj, now: str | None = None) -> bool:
    """``UpdatePodCondition``: set or replace a condition; True when anything changed.

    ``lastTransitionTime`` is now when the status changes and kept otherwise;
    ``lastProbeTime`` is whatever the new condition carries (usually nothing).
    """
    cond = {k: v for k, v in condition.items() if v not in (None, "")}
    cond["lastTransitionTime"] = now or clock.rfc3339()
    conds = status.setdefault("conditions", [])
    for i, old in enumerate(conds):
        if old.get("type") != cond.get("type"):
            continue
        if cond.get("status") == old.get("status"):
            if old.get("lastTransitionTime") is not None:
                cond["lastTransitionTime"] = old.get("lastTransitionTime")
            else:
                cond.pop("lastTransitionTime", None)
        equal = all((cond.get(k) or None) == (old.get(k) or None)
                    for k in ("status", "reason", "message", "lastProbeTime", "lastTransitionTime"))
        conds[i] = cond
        return not equal
    conds.append(cond)
    return True


def with_pod_condition(pod: Obj, condition: Obj, now: str | None = None) -> tuple[Obj, bool]:
    """A copy of ``pod`` with the condition applied, and whether it changed."""
    out = copy.deepcopy(pod)
    changed = update_pod_condition(out.setdefault("status", {}), condition, now)
    return out, changed
