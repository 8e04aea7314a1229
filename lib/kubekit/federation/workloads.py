"""Short calls for notebooks: build, apply, read and show federation objects."""

from __future__ import annotations

import json
import os
from typing import Any

from .crds import install
from .decide import object_key
from .members import host_rest
from .model import API_VERSION, DIVIDED, DUPLICATED, GRACEFULLY, REPLICA_KINDS, parse_member
from .rest import Rest


def install_crds(host: "str | Any", kubeconfig: str | os.PathLike[str] | None = None) -> list[str]:
    """Install (or update) the MemberCluster and FederatedWorkload CRDs in the host."""
    return install(host_rest(host, kubeconfig))


def federated_workload(name: str, template: dict[str, Any], *, namespace: str = "default",
                       clusters: list[str] | None = None, selector: dict[str, Any] | None = None,
                       spread: list[dict[str, Any]] | None = None, scheduling: str = DIVIDED,
                       weights: dict[str, Any] | None = None, rebalance: bool = False,
                       purge_mode: str = GRACEFULLY, grace_period_s: int | None = None,
                       overrides: list[dict[str, Any]] | None = None,
                       tolerations: list[dict[str, Any]] | None = None,
                       service_export: bool | None = None) -> dict[str, Any]:
    """A FederatedWorkload manifest.

    ``weights``: ``{cluster or "*": weight}`` or ``{cluster: {"weight": 2, "minReplicas": 1, "maxReplicas": 4}}``.
    ``spread``: ``[{"spreadByField": "zone", "minGroups": 2, "maxGroups": 3}]``.
    ``overrides``: ``[{"clusterName": c, "image": ..., "clusterOverrides": [{"path": ..., "value": ...}]}]``.
    """
    spec: dict[str, Any] = {"template": template}
    placement: dict[str, Any] = {}
    if clusters is not None:
        placement["clusters"] = list(clusters)
    if selector is not None:
        placement["clusterSelector"] = selector
    if spread:
        placement["spreadConstraints"] = spread
    if tolerations:
        placement["clusterTolerations"] = tolerations
    if placement:
        spec["placement"] = placement
    rs: dict[str, Any] = {"type": scheduling, "rebalance": rebalance}
    if weights:
        rs["clusters"] = [dict({"name": c}, **(w if isinstance(w, dict) else {"weight": w}))
                          for c, w in weights.items()]
    spec["replicaScheduling"] = rs
    fo: dict[str, Any] = {"purgeMode": purge_mode}
    if grace_period_s is not None:
        fo["gracePeriodSeconds"] = grace_period_s
    spec["failover"] = fo
    if overrides:
        spec["overrides"] = overrides
    if service_export is not None:
        spec["serviceExport"] = service_export
    return {"apiVersion": API_VERSION, "kind": "FederatedWorkload",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def federate(manifests: list[dict[str, Any]], *, namespace: str | None = None, prefix: str = "",
             **kw: Any) -> list[dict[str, Any]]:
    """A FederatedWorkload per manifest (e.g. ``PetSet.manifests()``): objects with replicas get ``kw``'s
    scheduling (Divided by default); the others (ConfigMap, Service, PDB ...) are Duplicated to the same
    clusters. The workload is named ``<prefix><kind>-<name>`` in lower case."""
    out = []
    for m in manifests:
        meta = m.get("metadata") or {}
        ns = namespace or meta.get("namespace") or "default"
        template = json.loads(json.dumps(m))
        template.get("metadata", {}).pop("namespace", None)
        args = dict(kw)
        if (m.get("apiVersion", "").rpartition("/")[0], m.get("kind")) not in REPLICA_KINDS:
            args["scheduling"] = DUPLICATED
            args.pop("weights", None)
            args.pop("rebalance", None)
        name = f"{prefix}{m['kind'].lower()}-{meta['name']}"
        out.append(federated_workload(name, template, namespace=ns, **args))
    return out


def apply_workload(host: "str | Any", fw: dict[str, Any], kubeconfig: str | os.PathLike[str] | None = None,
                   manager: str = "kubekit") -> dict[str, Any]:
    """Create or update a FederatedWorkload by server-side apply (as ``kubectl apply --server-side``)."""
    rest = host_rest(host, kubeconfig)
    ns = fw["metadata"].get("namespace") or "default"
    if rest.get("v1", "Namespace", None, ns) is None:
        rest.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, manager=manager)
    return rest.apply(fw, manager=manager)


def get_workload(host: "str | Any", name: str, namespace: str = "default",
                 kubeconfig: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    return host_rest(host, kubeconfig).get(API_VERSION, "FederatedWorkload", namespace, name)


def delete_workload(host: "str | Any", name: str, namespace: str = "default",
                    kubeconfig: str | os.PathLike[str] | None = None) -> bool:
    return host_rest(host, kubeconfig).delete(API_VERSION, "FederatedWorkload", namespace, name)


def list_members(host: "str | Any", kubeconfig: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    return sorted(host_rest(host, kubeconfig).list(API_VERSION, "MemberCluster"), key=lambda o: o["metadata"]["name"])


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[c.upper() for c in columns]] + [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


class Table(str):
    """A plain-text table that prints itself in notebooks."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def member_table(host: "str | Any", kubeconfig: str | os.PathLike[str] | None = None) -> Table:
    rows = []
    for obj in list_members(host, kubeconfig):
        m = parse_member(obj)
        st = obj.get("status") or {}
        hc = m.health_check
        rows.append({"member": m.name, "state": st.get("state", "Unknown"), "region": m.region, "zone": m.zone or "-",
                     "version": st.get("kubernetesVersion", ""), "nodes": st.get("nodes", ""),
                     "probe": f"{hc.period_s:g}s/{hc.timeout_s:g}s x{hc.failure_threshold}"})
    return Table(_table(rows, ["member", "state", "region", "zone", "version", "nodes", "probe"]))


def workload_table(host: "str | Any", namespace: str | None = None, kubeconfig: str | os.PathLike[str] | None = None,
                   per_cluster: bool = True, names: list[str] | None = None) -> Table:
    """One line per workload (only ``names`` if given) and member: desired and ready replicas, state, drift."""
    rest = host_rest(host, kubeconfig)
    objs = sorted(rest.list(API_VERSION, "FederatedWorkload", namespace),
                  key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    if names is not None:
        objs = [o for o in objs if o["metadata"]["name"] in names]
    rows = []
    for obj in objs:
        st = obj.get("status") or {}
        name = obj["metadata"]["name"] if namespace else f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        kind = ((obj.get("spec") or {}).get("template") or {}).get("kind", "")
        rows.append({"workload": name, "kind": kind, "cluster": "(all)", "want": st.get("replicas", ""),
                     "ready": st.get("ready", ""), "state": st.get("phase", "")})
        if per_cluster:
            starts = {p["cluster"]: p.get("ordinalStart") for p in st.get("placement") or []}
            for c in st.get("clusters") or []:
                start = starts.get(c["name"])
                want = c.get("replicas", "")
                ords = (f"{start}..{start + want - 1}" if start is not None and want else "")
                rows.append({"workload": "", "kind": "", "cluster": c["name"], "want": want,
                             "ready": c.get("readyReplicas", "-"), "state": c.get("state", ""),
                             "ordinals": ords, "drift": "yes" if c.get("drift") else ""})
    cols = ["workload", "kind", "cluster", "want", "ready", "state"]
    if any(r.get("ordinals") for r in rows):
        cols.append("ordinals")
    if any(r.get("drift") for r in rows):
        cols.append("drift")
    return Table(_table(rows, cols))


def pets_by_cluster(members: dict[str, Rest | Any], name: str, namespace: str = "default") -> dict[str, list[dict[str, Any]]]:
    """{cluster: [{pod, ordinal, phase, ready, node, zone}]} for the pets of StatefulSet ``name`` in each member.

    ``members``: {cluster: Rest, ApiClient or context name}.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for cluster, handle in sorted(members.items()):
        rest = handle if isinstance(handle, Rest) else host_rest(handle)
        try:
            sts = rest.get("apps/v1", "StatefulSet", namespace, name)
        except Exception:
            out[cluster] = []
            continue
        if sts is None:
            out[cluster] = []
            continue
        selector = ",".join(f"{k}={v}" for k, v in ((sts["spec"].get("selector") or {}).get("matchLabels") or {}).items())
        nodes = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone", "")
                 for n in rest.list("v1", "Node")}
        pets = []
        for pod in rest.list("v1", "Pod", namespace, selector=selector or None):
            pname = pod["metadata"]["name"]
            if not pname.startswith(name + "-") or not pname.rsplit("-", 1)[-1].isdigit():
                continue
            conds = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
            node = (pod.get("spec") or {}).get("nodeName", "")
            pets.append({"pod": pname, "ordinal": int(pname.rsplit("-", 1)[-1]),
                         "phase": (pod.get("status") or {}).get("phase", ""), "ready": conds.get("Ready") == "True",
                         "node": node, "zone": nodes.get(node, "")})
        out[cluster] = sorted(pets, key=lambda p: p["ordinal"])
    return out


def pet_map(pets: dict[str, list[dict[str, Any]]], title: str = "pets by member cluster") -> Any:
    """A picture: one column per member cluster, one box per pet (green Ready, grey not)."""
    import matplotlib

    matplotlib.use("Agg") if not os.environ.get("MPLBACKEND") else None
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    clusters = sorted(pets)
    rows = max([len(v) for v in pets.values()] + [1])
    fig, ax = plt.subplots(figsize=(2.6 * max(len(clusters), 1) + 0.4, 0.75 * rows + 1.2))
    for i, c in enumerate(clusters):
        ax.text(i + 0.5, rows + 0.35, c, ha="center", va="center", fontsize=9, fontweight="bold")
        zone = next((p["zone"] for p in pets[c] if p["zone"]), "")
        ax.text(i + 0.5, rows + 0.05, zone, ha="center", va="center", fontsize=8, color="#555")
        for j, p in enumerate(pets[c]):
            y = rows - 1 - j
            color = "#8fd19e" if p["ready"] else "#d0d0d0"
            ax.add_patch(FancyBboxPatch((i + 0.1, y + 0.12), 0.8, 0.7, boxstyle="round,pad=0.02",
                                        facecolor=color, edgecolor="#333"))
            ax.text(i + 0.5, y + 0.47, p["pod"], ha="center", va="center", fontsize=9)
    ax.set_xlim(0, max(len(clusters), 1))
    ax.set_ylim(0, rows + 0.6)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


__all__ = ["apply_workload", "delete_workload", "federate", "federated_workload", "get_workload", "install_crds",
           "list_members", "member_table", "object_key", "pet_map", "pets_by_cluster", "workload_table"]
