"""A map of the cluster for notebooks: zones as columns, nodes as boxes, pets as chips coloured by phase.

:func:`show` picks the right form: in JupyterLab (a kernel started by a Jupyter
server, which sets ``JPY_SESSION_NAME``) a live ipywidgets view refreshed in the
background; headless (papermill, nbval, a terminal) a static matplotlib picture,
so executed notebooks and documentation snapshots hold an image. Set
``KUBEKIT_LIVE=1`` or ``0`` to force either. Everything is read through the
official client (a copy of the caller's ``ApiClient`` for the live view, so it
never shares a request in flight with the notebook).
"""

from __future__ import annotations

import html
import os
import threading
from dataclasses import dataclass
from typing import Any

from . import pets as _pets
from .views import nodes_from_api

COLOURS = {"Ready": "#86efac", "NotReady": "#fde68a", "Pending": "#fde68a", "Terminating": "#d1d5db",
           "Failed": "#fca5a5", "Succeeded": "#d1d5db", "Unknown": "#fca5a5"}


@dataclass(frozen=True)
class Chip:
    name: str
    node: str
    phase: str


@dataclass(frozen=True)
class Picture:
    """What the map shows: nodes (sorted by zone and name) and the set's pets on them."""

    title: str
    nodes: tuple[Any, ...]  # views.NodeBox
    chips: tuple[Chip, ...]

    @property
    def zones(self) -> list[str]:
        return sorted({n.zone for n in self.nodes}) or ["(no nodes)"]

    def on(self, node: str) -> list[Chip]:
        return [c for c in self.chips if c.node == node]

    @property
    def unscheduled(self) -> list[Chip]:
        return [c for c in self.chips if not c.node]


def picture(target: Any, ps: "_pets.PetSet") -> Picture:
    api = _pets.api_client(target)
    chips = tuple(Chip(p.name, p.node, _pets.phase_of(p)) for p in _pets.pets_now(api, ps).values())
    return Picture(f"{ps.namespace}/{ps.name}", tuple(nodes_from_api(api)), chips)


def figure(pic: Picture) -> Any:
    """A static picture (matplotlib Figure) of ``pic``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    zones = pic.zones
    per_zone = {z: [n for n in pic.nodes if n.zone == z] for z in zones}
    heights = {n.name: 0.62 + 0.32 * max(1, len(pic.on(n.name))) for n in pic.nodes}
    column = max([sum(heights[n.name] + 0.15 for n in v) for v in per_zone.values()] + [1.0])
    fig, ax = plt.subplots(figsize=(2.6 * len(zones) + 0.4, 0.9 * column + 1.0))
    for i, z in enumerate(zones):
        ax.add_patch(FancyBboxPatch((i + 0.04, 0), 0.92, column + 0.45, boxstyle="round,pad=0.02",
                                    facecolor="#f3f4f6", edgecolor="#9ca3af"))
        ax.text(i + 0.5, column + 0.25, z, ha="center", va="center", fontsize=10, weight="bold")
        y = column
        for n in per_zone[z]:
            h = heights[n.name]
            y -= h + 0.15
            ax.add_patch(FancyBboxPatch((i + 0.1, y + 0.05), 0.8, h, boxstyle="round,pad=0.02",
                                        facecolor="white" if n.ready else "#fecaca", edgecolor="#374151"))
            ax.text(i + 0.5, y + h - 0.12, n.name, ha="center", va="center", fontsize=6.5, color="#374151")
            for j, c in enumerate(pic.on(n.name)):
                cy = y + h - 0.5 - 0.32 * j
                ax.add_patch(FancyBboxPatch((i + 0.2, cy), 0.6, 0.24, boxstyle="round,pad=0.01",
                                            facecolor=COLOURS.get(c.phase, "#e5e7eb"), edgecolor="#4b5563"))
                ax.text(i + 0.5, cy + 0.12, f"{c.name}  {c.phase}", ha="center", va="center", fontsize=7)
    if pic.unscheduled:
        ax.text(0.05, -0.2, "not scheduled: " + ", ".join(c.name for c in pic.unscheduled), fontsize=8,
                color="#b91c1c", va="top")
    ax.set_xlim(0, len(zones))
    ax.set_ylim(-0.4, column + 0.55)
    ax.axis("off")
    ax.set_title(pic.title, fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def to_html(pic: Picture) -> str:
    """The same map as HTML (the live view's content)."""
    cols = []
    for z in pic.zones:
        boxes = []
        for n in [n for n in pic.nodes if n.zone == z]:
            chips = "".join(
                f'<div style="background:{COLOURS.get(c.phase, "#e5e7eb")};border:1px solid #4b5563;'
                f'border-radius:4px;margin:3px 6px;padding:1px 4px;font-size:12px">'
                f"{html.escape(c.name)} <small>{html.escape(c.phase)}</small></div>" for c in pic.on(n.name))
            boxes.append(f'<div style="background:{"white" if n.ready else "#fecaca"};border:1px solid #374151;'
                         f'border-radius:6px;margin:6px;padding:3px"><div style="font-size:10px;color:#374151">'
                         f"{html.escape(n.name)}</div>{chips}</div>")
        cols.append(f'<div style="flex:1;background:#f3f4f6;border:1px solid #9ca3af;border-radius:8px;margin:4px">'
                    f'<div style="text-align:center;font-weight:bold">{html.escape(z)}</div>{"".join(boxes)}</div>')
    lost = ", ".join(html.escape(c.name) for c in pic.unscheduled)
    extra = f'<div style="color:#b91c1c">not scheduled: {lost}</div>' if lost else ""
    return (f'<div><b>{html.escape(pic.title)}</b><div style="display:flex">{"".join(cols)}</div>{extra}</div>')


class LiveMap:
    """An ipywidgets view of :func:`picture`, refreshed every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, target: Any, ps: "_pets.PetSet", interval: float = 1.0) -> None:
        import ipywidgets
        from kubernetes import client

        self.api = client.ApiClient(configuration=_pets.api_client(target).configuration)
        self.ps = ps
        self.interval = interval
        self.widget = ipywidgets.HTML(to_html(picture(self.api, ps)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubekit-live-map")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.widget.value = to_html(picture(self.api, self.ps))
            except Exception as exc:  # keep the view alive through a transient API error
                self.widget.value = f"<pre>live map: {html.escape(str(exc).splitlines()[0])}</pre>"

    def follow(self, ps: "_pets.PetSet") -> None:
        """Show another description of the set (after a scale changes its replicas)."""
        self.ps = ps

    def stop(self) -> None:
        self._stop.set()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def live_available() -> bool:
    forced = os.environ.get("KUBEKIT_LIVE", "").strip().lower()
    if forced in ("1", "true", "yes", "0", "false", "no"):
        return forced in ("1", "true", "yes")
    return bool(os.environ.get("JPY_SESSION_NAME"))


_live: dict[tuple[str, str, str], LiveMap] = {}


def show(target: Any, ps: "_pets.PetSet", *, live: bool | None = None, interval: float = 1.0) -> Any:
    """A live map in JupyterLab, a static picture elsewhere (``live`` forces either).

    The live map of a set is made once per kernel and shown again (following the
    newest description of the set) on later calls.
    """
    if not (live if live is not None else live_available()):
        return figure(picture(target, ps))
    key = (str(_pets.api_client(target).configuration.host), ps.namespace, ps.name)
    view = _live.get(key)
    if view is None or view._stop.is_set():
        view = _live[key] = LiveMap(target, ps, interval=interval)
    view.follow(ps)
    return view
