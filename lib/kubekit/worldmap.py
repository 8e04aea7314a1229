"""A map of the whole world the lessons run in: regions, zones, clusters, nodes and pets.

:func:`show` gives a live ipywidgets view in JupyterLab (refreshed in the
background) and a static matplotlib picture headless (papermill, nbval,
``make docs``), the same choice as :func:`kubekit.widgets.show`. Every cluster is
read through the official client from its kubeconfig context, so the map of
real clusters is drawn the same way as the sandbox's.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from kubernetes import client

from . import cluster as _cluster

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
NODE_COLOURS = {"Ready": "#bbf7d0", "Cordoned": "#e5e7eb", "NotReady": "#fecaca", "Unreachable": "#fecaca"}
PET_COLOURS = {"Ready": "#86efac", "Pending": "#fde68a", "NotReady": "#fde68a", "Terminating": "#d1d5db"}


@dataclass(frozen=True)
class Node:
    cluster: str
    name: str
    region: str
    zone: str
    state: str  # Ready, NotReady or Cordoned
    pets: tuple[tuple[str, str], ...] = ()  # (namespace/pet, phase), sorted


@dataclass(frozen=True)
class World:
    """Every node of every cluster, with the pets (StatefulSet pods) on it."""

    nodes: tuple[Node, ...]
    unreachable: tuple[str, ...] = ()  # clusters that did not answer

    @property
    def regions(self) -> list[str]:
        return sorted({n.region for n in self.nodes})

    def zones(self, region: str) -> list[str]:
        return sorted({n.zone for n in self.nodes if n.region == region})

    def clusters(self, region: str | None = None, zone: str | None = None) -> list[str]:
        return sorted({n.cluster for n in self.nodes if region in (None, n.region) and zone in (None, n.zone)})

    def at(self, region: str, zone: str, cluster: str) -> list[Node]:
        return [n for n in self.nodes if (n.region, n.zone, n.cluster) == (region, zone, cluster)]

    @property
    def pets(self) -> int:
        return sum(len(n.pets) for n in self.nodes)

    def summary(self) -> str:
        clusters = sorted({n.cluster for n in self.nodes})
        zones = sorted({(n.region, n.zone) for n in self.nodes})
        text = (f"{len(self.regions)} region(s), {len(zones)} zone(s), {len(clusters)} cluster(s), "
                f"{len(self.nodes)} nodes, {self.pets} pets")
        if self.unreachable:
            text += f"; not answering: {', '.join(self.unreachable)}"
        return text


def _pet_phase(pod: Any) -> str:
    if pod.metadata.deletion_timestamp:
        return "Terminating"
    if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
        return "Ready"
    return "Pending" if pod.status.phase == "Pending" else "NotReady"


def read_cluster(context: str, kubeconfig: str | None = None, timeout: float = 5.0) -> list[Node]:
    """The nodes of one cluster with its pets on them."""
    kc = _cluster.connect(context=context, kubeconfig=kubeconfig)
    core = client.CoreV1Api(kc.api)
    pets: dict[str, list[tuple[str, str]]] = {}
    for pod in core.list_pod_for_all_namespaces(_request_timeout=timeout).items:
        if any(o.kind == "StatefulSet" for o in pod.metadata.owner_references or []) and pod.spec.node_name:
            pets.setdefault(pod.spec.node_name, []).append(
                (f"{pod.metadata.namespace}/{pod.metadata.name}", _pet_phase(pod)))
    out = []
    for n in core.list_node(_request_timeout=timeout).items:
        labels = n.metadata.labels or {}
        ready = any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        state = "NotReady" if not ready else "Cordoned" if n.spec.unschedulable else "Ready"
        out.append(Node(context, n.metadata.name, labels.get(REGION_LABEL, "(no region)"),
                        labels.get(ZONE_LABEL, "(no zone)"), state, tuple(sorted(pets.get(n.metadata.name, [])))))
    return out


def world(contexts: Iterable[str], kubeconfig: str | None = None) -> World:
    """Read every context; a cluster that does not answer is listed, not fatal (a lost member is part of the map)."""
    nodes: list[Node] = []
    lost = []
    for context in sorted(set(contexts)):
        try:
            nodes += read_cluster(context, kubeconfig)
        except Exception:  # unreachable or refused: shown as such
            lost.append(context)
    return World(tuple(sorted(nodes, key=lambda n: (n.region, n.zone, n.cluster, n.name))), tuple(lost))


def sandbox_contexts() -> list[str]:
    """The sandbox's clusters: the host ``sandbox`` and every member."""
    from . import sandbox

    return ["sandbox"] + [m["context"] for m in sandbox.members()]


# -- pictures ------------------------------------------------------------------------------------
def _short(name: str) -> str:
    return name.split(".")[0]


def figure(w: World, title: str = "the sandbox") -> Any:
    """A static picture: one panel per region, zones as columns, one box per cluster with its nodes and pets."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    columns = [(r, z) for r in w.regions for z in w.zones(r)] or [("(none)", "(no nodes)")]
    line = 0.28

    def box_height(nodes: list[Node]) -> float:
        return 0.4 + sum(line * (1 + len(n.pets)) for n in nodes)

    heights = [sum(box_height(w.at(r, z, c)) + 0.15 for c in w.clusters(r, z)) for r, z in columns]
    top = max(heights + [1.0])
    fig, ax = plt.subplots(figsize=(2.3 * len(columns) + 0.4, 0.75 * top + 1.3))
    for i, (r, z) in enumerate(columns):
        first = i == 0 or columns[i - 1][0] != r
        ax.add_patch(FancyBboxPatch((i + 0.03, 0), 0.94, top + 0.5, boxstyle="round,pad=0.02",
                                    facecolor="#f3f4f6", edgecolor="#9ca3af"))
        ax.text(i + 0.5, top + 0.3, z, ha="center", va="center", fontsize=9, weight="bold")
        if first:
            ax.text(i + 0.05, top + 0.75, r, ha="left", va="center", fontsize=10, weight="bold", color="#1d4ed8")
        y = top + 0.05
        for c in w.clusters(r, z):
            nodes = w.at(r, z, c)
            h = box_height(nodes)
            y -= h + 0.15
            ax.add_patch(FancyBboxPatch((i + 0.08, y), 0.84, h, boxstyle="round,pad=0.02", facecolor="white",
                                        edgecolor="#374151"))
            ax.text(i + 0.5, y + h - 0.18, c, ha="center", va="center", fontsize=8, weight="bold")
            ny = y + h - 0.4
            for n in nodes:
                ax.add_patch(FancyBboxPatch((i + 0.13, ny - 0.2), 0.74, 0.22, boxstyle="round,pad=0.01",
                                            facecolor=NODE_COLOURS.get(n.state, "#e5e7eb"), edgecolor="#6b7280"))
                label = _short(n.name) + ("" if n.state == "Ready" else f" ({n.state})")
                ax.text(i + 0.5, ny - 0.09, label, ha="center", va="center", fontsize=6.5)
                for pet, phase in n.pets:
                    ny -= line
                    ax.add_patch(FancyBboxPatch((i + 0.22, ny - 0.19), 0.56, 0.2, boxstyle="round,pad=0.01",
                                                facecolor=PET_COLOURS.get(phase, "#e5e7eb"), edgecolor="#4b5563"))
                    ax.text(i + 0.5, ny - 0.09, pet.split("/")[-1], ha="center", va="center", fontsize=6.5)
                ny -= line
    ax.set_xlim(0, len(columns))
    ax.set_ylim(-0.1, top + 0.95)
    ax.axis("off")
    ax.set_title(f"{title}: {w.summary()}", fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def to_html(w: World, title: str = "the sandbox") -> str:
    """The same map as HTML (the live view's content)."""
    regions = []
    for r in w.regions:
        cols = []
        for z in w.zones(r):
            boxes = []
            for c in w.clusters(r, z):
                rows = []
                for n in w.at(r, z, c):
                    chips = "".join(f'<span style="background:{PET_COLOURS.get(ph, "#e5e7eb")};border-radius:3px;'
                                    f'padding:0 3px;margin:1px;font-size:11px">{html.escape(p.split("/")[-1])}</span>'
                                    for p, ph in n.pets)
                    rows.append(f'<div style="background:{NODE_COLOURS.get(n.state, "#e5e7eb")};border-radius:4px;'
                                f'margin:2px;padding:1px 4px;font-size:11px">{html.escape(_short(n.name))} '
                                f'<small>{html.escape(n.state)}</small><div>{chips}</div></div>')
                boxes.append(f'<div style="background:white;border:1px solid #374151;border-radius:6px;margin:4px;'
                             f'padding:2px"><b style="font-size:12px">{html.escape(c)}</b>{"".join(rows)}</div>')
            cols.append(f'<div style="flex:1;background:#f3f4f6;border:1px solid #9ca3af;border-radius:8px;margin:3px">'
                        f'<div style="text-align:center;font-weight:bold">{html.escape(z)}</div>{"".join(boxes)}</div>')
        regions.append(f'<div style="margin:4px"><div style="color:#1d4ed8;font-weight:bold">{html.escape(r)}</div>'
                       f'<div style="display:flex">{"".join(cols)}</div></div>')
    return (f'<div style="font-family:sans-serif"><b>{html.escape(title)}</b>: {html.escape(w.summary())}'
            f'{"".join(regions)}</div>')


class LiveWorld:
    """An ipywidgets view of :func:`world`, refreshed every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, contexts: list[str], kubeconfig: str | None = None, interval: float = 2.0,
                 title: str = "the sandbox") -> None:
        import ipywidgets

        self.contexts, self.kubeconfig, self.interval, self.title = list(contexts), kubeconfig, interval, title
        self.widget = ipywidgets.HTML(to_html(world(self.contexts, kubeconfig), title))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubekit-world-map")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.widget.value = to_html(world(self.contexts, self.kubeconfig), self.title)
            except Exception as exc:  # keep the view alive through a transient error
                self.widget.value = f"<pre>world map: {html.escape(str(exc).splitlines()[0])}</pre>"

    def stop(self) -> None:
        self._stop.set()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def show(contexts: Iterable[str], kubeconfig: str | None = None, *, live: bool | None = None,
         interval: float = 2.0, title: str = "the sandbox") -> Any:
    """A live map in JupyterLab, a static picture elsewhere (``live`` forces either)."""
    from .widgets import live_available

    contexts = list(contexts)
    if live if live is not None else live_available():
        return LiveWorld(contexts, kubeconfig, interval=interval, title=title)
    return figure(world(contexts, kubeconfig), title)
