"""``export_karmada(fw)``: the same policy for users who move to Karmada (policy.karmada.io/v1alpha1).

Three documents: the resource template (Karmada propagates ordinary objects
created in its API server), a ``PropagationPolicy`` (placement, spread
constraints, tolerations, replica scheduling, cluster failover purge mode) and,
when there are overrides or ordinal slices, an ``OverridePolicy`` of plaintext
JSON-patch overriders. What Karmada cannot express (per-cluster min/max
replicas, rebalance, purge mode Never, ordinal slices that follow its own
division) is said in comments at the top.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from .model import DIVIDED, DUPLICATED, NEVER, Workload, parse_workload
from .plan import plan

POLICY_API = "policy.karmada.io/v1alpha1"


def _affinity(wl: Workload) -> dict[str, Any]:
    aff: dict[str, Any] = {}
    if wl.placement.clusters is not None:
        aff["clusterNames"] = list(wl.placement.clusters)
    if wl.placement.selector:
        aff["labelSelector"] = copy.deepcopy(wl.placement.selector)
    return aff


def export_karmada(fw: Any, members: Any = None) -> str:
    """Multi-document YAML: template, PropagationPolicy, OverridePolicy. ``members`` (optional) lets a
    StatefulSet's ordinal slices be exported as per-cluster overrides."""
    wl = fw if isinstance(fw, Workload) else parse_workload(fw)
    notes = [f"Exported by kubekit from FederatedWorkload {wl.key}."]
    template = copy.deepcopy(wl.template)
    template.setdefault("metadata", {})["name"] = wl.object_name
    template["metadata"]["namespace"] = wl.namespace

    placement: dict[str, Any] = {}
    aff = _affinity(wl)
    if aff:
        placement["clusterAffinity"] = aff
    if wl.placement.tolerations:
        placement["clusterTolerations"] = [
            {k: v for k, v in {"key": t.key, "operator": t.operator, "value": t.value or None,
                               "effect": t.effect or None}.items() if v is not None}
            for t in wl.placement.tolerations]
    if wl.placement.spread:
        placement["spreadConstraints"] = [
            {k: v for k, v in {"spreadByField": s.field, "minGroups": s.min_groups,
                               "maxGroups": s.max_groups}.items() if v is not None}
            for s in wl.placement.spread]
    if wl.divisible:
        if wl.scheduling.type == DUPLICATED:
            placement["replicaScheduling"] = {"replicaSchedulingType": "Duplicated"}
        else:
            rs: dict[str, Any] = {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted"}
            if wl.scheduling.preferences:
                rs["weightPreference"] = {"staticWeightList": [
                    {"targetCluster": {} if p.name == "*" else {"clusterNames": [p.name]}, "weight": p.weight}
                    for p in sorted(wl.scheduling.preferences, key=lambda p: p.name == "*")]}
            placement["replicaScheduling"] = rs
            bounded = [p.name for p in wl.scheduling.preferences if p.min_replicas or p.max_replicas is not None]
            if bounded:
                notes.append(f"minReplicas/maxReplicas of {', '.join(bounded)} have no Karmada equivalent "
                             "(static weights only); they are dropped.")
            if wl.scheduling.rebalance:
                notes.append("rebalance: true has no equivalent: Karmada never moves replicas back after a "
                             "cluster recovers (trigger a reschedule with spec.rescheduleTriggeredAt).")
    spec: dict[str, Any] = {
        "resourceSelectors": [{"apiVersion": wl.api_version, "kind": wl.kind, "name": wl.object_name}],
        "placement": placement,
    }
    if wl.divided and not wl.stateful:
        if wl.failover.purge_mode == NEVER:
            notes.append("purgeMode Never has no cluster-failover equivalent; failover is left off (the "
                         "default since Karmada 1.12).")
        else:
            spec["failover"] = {"cluster": {"purgeMode": wl.failover.purge_mode}}
            notes.append("Cluster failover also needs --feature-gates=Failover=true, a ClusterTaintPolicy adding "
                         "a NoExecute taint and --enable-no-execute-taint-eviction=true (Karmada >= 1.14); the "
                         f"grace period ({wl.failover.grace_period_s:g} s here) is the controller flag "
                         "--graceful-eviction-timeout.")
    if wl.kind == "Service" and wl.service_export:
        notes.append("Multi-cluster Service: propagate a ServiceExport too (multicluster.x-k8s.io), or use "
                     "Karmada's MultiClusterService (alpha).")
    policy = {"apiVersion": POLICY_API, "kind": "PropagationPolicy",
              "metadata": {"name": wl.name, "namespace": wl.namespace}, "spec": spec}

    rules = []
    for o in wl.overrides:
        ops = []
        containers = (((wl.template.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        for i, c in enumerate(containers):
            if o.image is not None and (not o.container or c.get("name") == o.container):
                ops.append({"path": f"/spec/template/spec/containers/{i}/image", "operator": "replace",
                            "value": o.image})
            if o.args is not None and (c.get("name") == o.container or (not o.container and i == 0)):
                ops.append({"path": f"/spec/template/spec/containers/{i}/args", "operator": "add",
                            "value": list(o.args)})
        if o.replicas is not None:
            ops.append({"path": "/spec/replicas", "operator": "replace", "value": o.replicas})
        if o.storage_class is not None:
            if wl.stateful:
                for i, _ in enumerate(wl.template["spec"].get("volumeClaimTemplates") or []):
                    ops.append({"path": f"/spec/volumeClaimTemplates/{i}/spec/storageClassName", "operator": "add",
                                "value": o.storage_class})
            else:
                ops.append({"path": "/spec/storageClassName", "operator": "add", "value": o.storage_class})
        ops += [{"path": p.path, "operator": p.op, **({} if p.op == "remove" else {"value": p.value})}
                for p in o.patches]
        if ops:
            rules.append({"targetCluster": {"clusterNames": [o.cluster]}, "overriders": {"plaintext": ops}})
    if wl.stateful and wl.scheduling.type == DIVIDED and members is not None:
        p = plan(wl, members)
        if p.error is None:
            for r in p.rows:
                if r.ordinals and r.ordinals[1]:
                    rules.append({"targetCluster": {"clusterNames": [r.cluster]}, "overriders": {"plaintext": [
                        {"path": "/spec/ordinals", "operator": "add", "value": {"start": r.ordinals[0]}}]}})
            notes.append("Ordinal slices are exported as per-cluster /spec/ordinals overrides; they are only right "
                         "while Karmada's division gives each cluster the same replicas as kubekit's "
                         f"({', '.join(f'{c}: {n}' for c, n in p.replicas.items())}).")
    docs = [template, policy]
    if rules:
        docs.append({"apiVersion": POLICY_API, "kind": "OverridePolicy",
                     "metadata": {"name": wl.name, "namespace": wl.namespace},
                     "spec": {"resourceSelectors": spec["resourceSelectors"], "overrideRules": rules}})
    header = "".join(f"# {line}\n" for line in notes)
    return header + yaml.safe_dump_all(docs, sort_keys=False)
