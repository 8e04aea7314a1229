"""Pictures and tables for notebooks: zones as columns, nodes as boxes; layouts side by side.

Everything returns plain objects (a matplotlib Figure, a text table) so the same
call renders in JupyterLab, in a headless run (a static PNG in the output) and
in a documentation snapshot. Order is always sorted, so outputs are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class NodeBox:
    name: str
    zone: str
    ready: bool
    group: str = ""
    pods: tuple[str, ...] = ()


def nodes_from_api(api: Any, group_label: str = "eks.amazonaws.com/nodegroup") -> list[NodeBox]:
    """Nodes of a cluster (an official ``ApiClient``) as boxes, sorted by zone and name."""
    from kubernetes import client

    out = []
    for n in client.CoreV1Api(api).list_node().items:
        labels = n.metadata.labels or {}
        ready = any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        out.append(NodeBox(n.metadata.name, labels.get(ZONE_LABEL, "<none>"), ready, labels.get(group_label, "")))
    return sorted(out, key=lambda b: (b.zone, b.name))


def table(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain aligned text table (what kubectl prints), stable for snapshots."""
    rows = list(rows)
    if not rows:
        return "(none)"
    cols = columns or list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)


def zone_map(boxes: list[NodeBox], title: str = "") -> Any:
    """A figure with one column per zone and one box per node (green Ready, red not)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    zones = sorted({b.zone for b in boxes}) or ["(no nodes)"]
    per_zone = {z: [b for b in boxes if b.zone == z] for z in zones}
    height = max([len(v) for v in per_zone.values()] + [1])
    fig, ax = plt.subplots(figsize=(2.6 * len(zones) + 0.5, 0.9 * height + 1.2))
    for i, z in enumerate(zones):
        ax.add_patch(FancyBboxPatch((i + 0.04, -0.1), 0.92, height + 0.55, boxstyle="round,pad=0.02",
                                    facecolor="#f3f4f6", edgecolor="#9ca3af"))
        ax.text(i + 0.5, height + 0.25, z, ha="center", va="center", fontsize=10, weight="bold")
        for j, b in enumerate(per_zone[z]):
            y = height - 1 - j
            ax.add_patch(FancyBboxPatch((i + 0.1, y + 0.1), 0.8, 0.7, boxstyle="round,pad=0.02",
                                        facecolor="#bbf7d0" if b.ready else "#fecaca", edgecolor="#374151"))
            label = b.name if len(b.name) <= 28 else b.name[:26] + "…"
            ax.text(i + 0.5, y + 0.55, label, ha="center", va="center", fontsize=7)
            if b.group:
                ax.text(i + 0.5, y + 0.3, b.group, ha="center", va="center", fontsize=6, color="#4b5563")
    ax.set_xlim(0, len(zones))
    ax.set_ylim(-0.2, height + 0.6)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def compare_plans(*plans: Any) -> str:
    """Layouts side by side: what changed between kube-up.sh's cluster and EKS, and why it matters."""
    rows = []
    for p in plans:
        masters = "1 instance (yours)" if p.flavor == "kube-up" else "managed by EKS, multi-AZ"
        rows.append({"layout": p.flavor, "zones": len(p.zones), "control plane": masters,
                     "nodes": f"{p.nodes} x {p.instance_type}",
                     "single point of failure": "the master" if p.flavor == "kube-up" else "none (regional)",
                     "resources": len(p.steps), "$/month": f"{p.monthly:,.0f}"})
    return table(rows)
