"""A map of the cluster for notebooks: zones as columns, nodes as boxes, pets as chips coloured by phase.

:func:`show` picks the right form: in JupyterLab (a kernel started by a Jupyter
server, which sets ``JPY_SESSION_NAME``) a live ipywidgets view refreshed in the
background; headless (papermill, nbval, a terminal) a static matplotlib picture,
so executed notebooks and documentation snapshots hold an image. Set
``KUBEKIT_LIVE=1`` or ``0`` to force either. Everything is read through the
official client (a copy of the caller's ``ApiClient`` for the live view, so it
never shares a request in flight with the notebook).

:func:`drill_panel` adds fault buttons ("kill a pet", "stop a node", "lose a zone",
"restore") beside the live map and a live :mod:`kubekit.timeline` of what every controller
did about the fault; headless it leaves the same map and timeline as one static picture.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import pets as _pets
from .errors import AwsError, InvalidParameter, KitError, KubeError, NotReady
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

    fig, ax = plt.subplots(figsize=map_size(pic))
    draw_map(ax, pic)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _column(pic: Picture) -> tuple[dict[str, float], float]:
    per_zone = {z: [n for n in pic.nodes if n.zone == z] for z in pic.zones}
    heights = {n.name: 0.62 + 0.32 * max(1, len(pic.on(n.name))) for n in pic.nodes}
    column = max([sum(heights[n.name] + 0.15 for n in v) for v in per_zone.values()] + [1.0])
    return heights, column


def map_size(pic: Picture) -> tuple[float, float]:
    """Inches the map needs: 2.6 per zone, height by the fullest zone."""
    return 2.6 * len(pic.zones) + 0.4, 0.9 * _column(pic)[1] + 1.0


def draw_map(ax: Any, pic: Picture) -> None:
    """Draw the map of ``pic`` into a matplotlib Axes (zones as columns, nodes as boxes, pets as chips)."""
    from matplotlib.patches import FancyBboxPatch

    zones = pic.zones
    heights, column = _column(pic)
    for i, z in enumerate(zones):
        ax.add_patch(FancyBboxPatch((i + 0.04, 0), 0.92, column + 0.45, boxstyle="round,pad=0.02",
                                    facecolor="#f3f4f6", edgecolor="#9ca3af"))
        ax.text(i + 0.5, column + 0.25, z, ha="center", va="center", fontsize=10, weight="bold")
        y = column
        for n in [n for n in pic.nodes if n.zone == z]:
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
        self.widget.add_class("kubekit-live-map")
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


# -- the drill panel -----------------------------------------------------------------------------
#
# Buttons that break the cluster on purpose while the map and the timeline show what every
# controller does about it. The faults are the simple injections of the catalogued drills
# (kubekit.drills: pet-kill, node-stop, zone-outage), done directly so a click acts at once:
# delete a pet's Pod (official client), EC2 StopInstances of a node's instance, of every node
# of a zone, and StartInstances to restore (boto3). ``DrillPanel.run_drill`` runs a whole
# catalogued drill instead (its own workload, grading and report).

@dataclass(frozen=True)
class PanelAction:
    """One fault button: its label and the catalogued drill that does the same fault in full."""

    key: str
    label: str
    drill: str


FAULTS = (PanelAction("kill-pet", "kill a pet", "pet-kill"),
          PanelAction("stop-node", "stop a node", "node-stop"),
          PanelAction("lose-zone", "lose a zone", "zone-outage"))
RESTORE = "restore"
TIMELINE_ROWS = 24


def drill_info(name: str) -> str:
    """``"D5 Lose a node ..."`` for a catalogued drill; "" while it is not (yet) in the catalogue."""
    try:
        from .drills.base import get

        cls = get(name)
    except (InvalidParameter, ImportError):  # not registered, or the catalogue cannot be loaded right now
        return ""
    return f"{cls.catalogue_id} {cls.title}".strip()


def parse_provider_id(provider_id: str) -> tuple[str, str] | None:
    """(zone, EC2 instance id) of a Node's ``spec.providerID``; None when it is not an EC2 instance.

    The forms are those of cloud-provider-aws ``KubernetesInstanceID.MapToAWSInstanceID``
    (pkg/providers/v1/instances.go): ``aws:///<zone>/<id>``, ``aws:////<id>`` and a bare
    ``<id>``; the id is the last path token and must match ``^i-[^/]*$`` (Fargate nodes, whose
    id is ``fargate-...``, have no instance to stop).
    """
    s = provider_id.strip()
    if not s:
        return None
    if not s.startswith("aws://"):
        if "://" in s:
            return None
        s = "aws:///" + "/" + s
    tokens = s[len("aws://"):].strip("/").split("/")
    iid = tokens[-1]
    if not iid.startswith("i-"):
        return None
    return (tokens[-2] if len(tokens) >= 2 else ""), iid


@dataclass(frozen=True)
class NodeInfo:
    """A node as the panel needs it: where it is, whether it is Ready, which EC2 instance it is."""

    name: str
    zone: str
    ready: bool
    instance: str = ""


def nodes_info(api: Any) -> list[NodeInfo]:
    """The cluster's nodes with their instances (official client), sorted by zone and name."""
    from kubernetes import client

    out = []
    for n in client.CoreV1Api(api).list_node().items:
        labels = n.metadata.labels or {}
        parsed = parse_provider_id(n.spec.provider_id or "")
        zone = labels.get("topology.kubernetes.io/zone") or (parsed[0] if parsed else "")
        ready = any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
        out.append(NodeInfo(n.metadata.name, zone, ready, parsed[1] if parsed else ""))
    return sorted(out, key=lambda n: (n.zone, n.name))


def _ordinal(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 1 << 30


def pick_pet(chips: Sequence[Chip], ordinal: int | None = None) -> Chip:
    """The pet to kill: ``ordinal`` if given, else the Ready pet with the lowest ordinal."""
    ordered = sorted(chips, key=lambda c: (_ordinal(c.name), c.name))
    if ordinal is not None:
        found = [c for c in ordered if _ordinal(c.name) == ordinal]
        if not found:
            raise InvalidParameter("pet", ordinal, "no such pet now", f"pets: {', '.join(c.name for c in ordered)}")
        return found[0]
    ready = [c for c in ordered if c.phase == "Ready"]
    if not ready:
        raise InvalidParameter("pet", None, "no Ready pet to kill", "wait for the pets (or press restore)")
    return ready[0]


def pick_node(nodes: Sequence[NodeInfo], chips: Sequence[Chip], node: str | None = None) -> NodeInfo:
    """The node to stop: ``node`` if given, else the node of the first Ready pet that runs on an instance."""
    by_name = {n.name: n for n in nodes}
    if node:
        if node not in by_name:
            raise InvalidParameter("node", node, "not a node of this cluster", f"nodes: {', '.join(sorted(by_name))}")
        chosen = by_name[node]
    else:
        hosts = [by_name[c.node] for c in sorted(chips, key=lambda c: (_ordinal(c.name), c.name))
                 if c.phase == "Ready" and c.node in by_name and by_name[c.node].ready and by_name[c.node].instance]
        spare = [n for n in nodes if n.ready and n.instance]
        if not (hosts or spare):
            raise InvalidParameter("node", None, "no Ready node with an EC2 instance to stop")
        chosen = (hosts or spare)[0]
    if not chosen.instance:
        raise InvalidParameter("node", chosen.name, "has no EC2 providerID (aws:///<zone>/i-...): nothing to stop")
    return chosen


def zone_nodes(nodes: Sequence[NodeInfo], chips: Sequence[Chip], zone: str | None = None) -> tuple[str, list[NodeInfo]]:
    """The zone to lose (``zone``, else the first Ready pet's) and its nodes that run on instances."""
    if not zone:
        zone = pick_node(nodes, chips).zone
    inside = [n for n in nodes if n.zone == zone and n.instance]
    if not inside:
        zones = sorted({n.zone for n in nodes if n.instance})
        raise InvalidParameter("zone", zone, "has no node with an EC2 instance", f"zones: {', '.join(zones)}")
    return zone, inside


@dataclass(frozen=True)
class Row:
    """One timeline line as the panel shows it (``count``: repeats of it merged into this line)."""

    t: str
    source: str
    object: str
    what: str
    detail: str
    mark: bool = False
    count: int = 1

    @property
    def label(self) -> str:
        return f"{self.what} x{self.count}" if self.count > 1 else self.what


def timeline_rows(entries: Sequence[Any], t0: float | None, limit: int = TIMELINE_ROWS) -> list[Row]:
    """What the panel lists: entries from the latest fault on, repeats in a row merged, at most ``limit``.

    Nothing before the first mark (the cluster's background chatter is not the drill's story);
    without a fault the latest other mark (a restore) starts the list. The first line stays;
    when there are more, the newest are kept (a live view follows the end). ``t`` is in seconds
    after ``t0`` (the fault), else after the first line.
    """
    def is_mark(e: Any) -> bool:
        return bool(e.source == "drill" and e.fields.get("mark"))

    marks = [i for i, e in enumerate(entries) if is_mark(e)]
    faults = [i for i in marks if entries[i].what == "fault"] or marks
    shown = list(entries[faults[-1]:]) if faults else []
    base = t0 if t0 is not None else (shown[0].time if shown else 0.0)
    rows: list[Row] = []
    for e in shown:
        last = rows[-1] if rows else None
        if last is not None and not is_mark(e) and (last.source, last.object, last.what) == (e.source, e.object,
                                                                                           e.what):
            rows[-1] = replace(last, count=last.count + 1)
            continue
        rows.append(Row(f"{e.time - base:+.1f}s", e.source, e.object, e.what, e.detail[:80], is_mark(e)))
    if len(rows) > limit:
        rows = rows[:1] + rows[len(rows) - limit + 1:]
    return rows


def timeline_html(rows: Sequence[Row], status: str = "") -> str:
    """The timeline as an HTML table (the live panel's content)."""
    head = f'<div class="kubekit-drill-status" style="margin:2px 0 4px 0">{html.escape(status)}</div>' if status else ""
    if not rows:
        return head + '<div style="color:#6b7280">(nothing yet: press a button)</div>'
    cells = []
    for r in rows:
        style = ' style="font-weight:bold;background:#fef3c7"' if r.mark else ""
        obj = r.object if len(r.object) <= 48 else r.object[:47] + "\u2026"
        cells.append(f'<tr class="kubekit-timeline-row"{style}><td style="text-align:right">{html.escape(r.t)}</td>'
                     f'<td>{html.escape(r.source)}</td><td title="{html.escape(r.object)}">{html.escape(obj)}</td>'
                     f'<td>{html.escape(r.label)}</td><td style="color:#4b5563;white-space:normal">'
                     f"{html.escape(r.detail)}</td></tr>")
    return (head + '<table style="font-size:12px;border-collapse:collapse;white-space:nowrap;line-height:1.3">'
            '<tr style="text-align:left"><th>t</th><th>source</th><th>object</th><th>what</th><th>detail</th></tr>'
            f'{"".join(cells)}</table>')


def panel_figure(pic: Picture, rows: Sequence[Row], status: str = "", slots: int = TIMELINE_ROWS) -> Any:
    """The static picture of a panel: the map above, the timeline's rows below (matplotlib Figure).

    The timeline has room for ``slots`` rows whatever it holds, so the figure's size (its
    text/plain in a stored notebook) does not depend on how many events a run saw.
    """
    import matplotlib.pyplot as plt

    width, height = map_size(pic)
    width = max(width, 8.0)
    rows = list(rows)[:1] + list(rows)[max(1, len(rows) - slots + 1):] if len(rows) > slots else list(rows)
    lines = max(slots, 1) + 2
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, height + 0.2 * lines + 0.3),
                                      gridspec_kw={"height_ratios": [height, 0.2 * lines + 0.3]})
    draw_map(top, pic)
    bottom.axis("off")
    bottom.set_xlim(0, 1)
    bottom.set_ylim(0, lines)
    y = lines - 0.5
    bottom.text(0, y, status, fontsize=8, va="center", weight="bold")
    y -= 1
    if not rows:
        bottom.text(0, y, "timeline: (nothing yet)", fontsize=8, va="center", color="#6b7280")
    else:
        bottom.text(0, y, "timeline", fontsize=8, va="center", weight="bold")
        for r in rows:
            y -= 1
            bottom.text(0, y, f"{r.t:>8}  {r.source:<26.26} {r.object:<34.34} {r.label:<22.22} {r.detail:.48}",
                        fontsize=6.5, va="center", family="monospace", weight="bold" if r.mark else "normal")
    fig.tight_layout()
    plt.close(fig)
    return fig


class DrillPanel:
    """Fault buttons, the live map of ``ps`` and a live timeline; a static picture when headless.

    The same methods work without a browser (``kill_pet``, ``stop_node``, ``lose_zone``,
    ``restore``, ``wait_recovered``), so a headless run can drive it and leave its picture.
    EC2 faults go through ``aws`` (a kubekit.aws target, ``"sandbox"`` by default) behind the
    ``confirm_account`` safety gate of real accounts.
    """

    def __init__(self, target: Any, ps: "_pets.PetSet", *, aws: Any = "sandbox", region: str = "us-east-1",
                 confirm_account: str | None = None, live: bool | None = None, interval: float = 1.0,
                 cluster: str = "cluster") -> None:
        from kubernetes import client

        from .timeline import Timeline

        self.api = client.ApiClient(configuration=_pets.api_client(target).configuration)
        self.ps, self.region, self.cluster, self.interval = ps, region, cluster, interval
        self.confirm_account = confirm_account
        self.live = live if live is not None else live_available()
        self._aws, self._ec2, self._gate_ok = aws, None, False
        self.status = ""
        self.busy = threading.Lock()
        self.timeline = Timeline()
        self.timeline.watch_cluster(cluster, self.api, namespaces=[ps.namespace])
        self._stop = threading.Event()
        self.widget: Any = None
        self.map: LiveMap | None = None
        if aws is not None:
            try:
                ids = [n.instance for n in nodes_info(self.api) if n.instance]
                if ids:
                    self.timeline.watch_aws(self._target(), region, [{"Name": "instance-id", "Values": ids}],
                                            interval=0.5, cluster=cluster)
            except KitError as exc:
                self.status = f"EC2 not reachable ({exc}): only 'kill a pet' works"
        if self.live:
            self._build(interval)

    # widgets ---------------------------------------------------------------------------------
    def _build(self, interval: float) -> None:
        import ipywidgets

        self.map = LiveMap(self.api, self.ps, interval=interval)
        self.buttons: dict[str, Any] = {}
        for a in (*FAULTS, PanelAction(RESTORE, RESTORE, "")):
            info = drill_info(a.drill) if a.drill else ""
            b = ipywidgets.Button(description=a.label, tooltip=(f"{a.label}: like drill {info}" if info else a.label),
                                  button_style="" if a.key == RESTORE else "danger")
            b.add_class(f"kubekit-{a.key}")
            b.on_click(lambda _b, key=a.key: self._clicked(key))
            self.buttons[a.key] = b
        self.log = ipywidgets.HTML(timeline_html([], self.status))
        self.log.add_class("kubekit-timeline")
        self.widget = ipywidgets.VBox([
            ipywidgets.HTML(f"<b>drill panel</b> · {html.escape(self.ps.namespace)}/{html.escape(self.ps.name)}"),
            ipywidgets.HBox(list(self.buttons.values())),
            self.map.widget,
            self.log,
        ])
        self.widget.add_class("kubekit-drill-panel")
        self._thread = threading.Thread(target=self._refresh, daemon=True, name="kubekit-drill-panel")
        self._thread.start()

    def _refresh(self) -> None:
        last = ""
        while not self._stop.wait(min(self.interval, 0.5)):
            value = timeline_html(self.rows(), self.status)
            if value != last:
                self.log.value = last = value

    def _clicked(self, key: str) -> None:
        # A click runs in a thread of its own: the kernel stays free to deliver the next messages.
        actions = {"kill-pet": self.kill_pet, "stop-node": self.stop_node, "lose-zone": self.lose_zone,
                   RESTORE: self.restore}
        threading.Thread(target=self._guarded, args=(actions[key],), daemon=True, name=f"kubekit-{key}").start()

    def _guarded(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a button shows its error instead of raising into the void
            self._say(f"{type(exc).__name__}: {exc}")

    def _say(self, text: str) -> None:
        self.status = text

    # AWS ---------------------------------------------------------------------------------------
    def _target(self) -> Any:
        from .aws.target import resolve

        return resolve(self._aws) if isinstance(self._aws, str) else self._aws

    def ec2(self) -> Any:
        """An EC2 client of the panel's AWS target, once the safety gate let it through."""
        if self._aws is None:
            raise KitError("this panel has no AWS target: pass aws='sandbox' or aws='aws:<profile>'")
        if not self._gate_ok:
            from .aws.gate import check_account

            check_account(self._target(), self.confirm_account, self.region)
            self._gate_ok = True
        if self._ec2 is None:
            self._ec2 = self._target().client("ec2", self.region)
        return self._ec2

    def _ec2_call(self, action: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.ec2(), action)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"ec2:{action}", exc) from exc

    # the faults --------------------------------------------------------------------------------
    def _fault(self, label: str, do: Any, **fields: Any) -> str:
        with self.busy:
            self.timeline.mark(label, t0=True, cluster=self.cluster, **fields)
            do()
        self._say(label)
        return label

    def kill_pet(self, ordinal: int | None = None) -> str:
        """Delete one pet's Pod (drill pet-kill's fault); its StatefulSet recreates it: same name, same claim."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        chip = pick_pet(picture(self.api, self.ps).chips, ordinal)

        def do() -> None:
            try:
                client.CoreV1Api(self.api).delete_namespaced_pod(chip.name, self.ps.namespace)
            except ApiException as exc:
                raise KubeError(f"delete pod {chip.name}", exc) from exc
        return self._fault(f"kill a pet: delete pod {chip.name} (on {chip.node or 'no node'})", do,
                           object=f"pod/{self.ps.namespace}/{chip.name}")

    def stop_node(self, node: str | None = None) -> str:
        """EC2 StopInstances of one node's instance (drill node-stop's fault); default: a pet's node."""
        n = pick_node(nodes_info(self.api), picture(self.api, self.ps).chips, node)
        return self._fault(f"stop a node: EC2 StopInstances {n.instance} ({n.name}, {n.zone})",
                           lambda: self._ec2_call("stop_instances", InstanceIds=[n.instance]), object=f"node/{n.name}")

    def lose_zone(self, zone: str | None = None) -> str:
        """EC2 StopInstances of every node of a zone (drill zone-outage's fault); default: a pet's zone."""
        z, inside = zone_nodes(nodes_info(self.api), picture(self.api, self.ps).chips, zone)
        ids = [n.instance for n in inside]
        return self._fault(f"lose a zone: EC2 StopInstances of {len(ids)} node(s) in {z}",
                           lambda: self._ec2_call("stop_instances", InstanceIds=ids), zone=z)

    def restore(self) -> str:
        """Start every stopped instance of the cluster's nodes again (the faults' undo)."""
        ids = [n.instance for n in nodes_info(self.api) if n.instance]
        stopped: list[str] = []
        if ids and self._aws is not None:
            res = self._ec2_call("describe_instances", InstanceIds=ids)
            stopped = sorted(i["InstanceId"] for r in res["Reservations"] for i in r["Instances"]
                             if i["State"]["Name"] in ("stopped", "stopping"))
        if not stopped:
            self._say("restore: every node's instance is running")
            return self.status
        with self.busy:
            self.timeline.mark(f"restore: EC2 StartInstances {', '.join(stopped)}", kind="recovery",
                               cluster=self.cluster)
            self._ec2_call("start_instances", InstanceIds=stopped)
        self._say(f"restore: started {len(stopped)} instance(s)")
        return self.status

    def run_drill(self, name: str, **params: Any) -> Any:
        """Run a whole catalogued drill (``kubekit.drills.base.get(name)``) against this cluster; its result."""
        from .drills.base import DrillContext, get, run

        drill = get(name)
        ctx = DrillContext(clusters={self.cluster: self.api}, target=self._target() if self._aws is not None
                           else None, region=self.region, confirm_account=self.confirm_account,
                           progress=lambda text: self.timeline.add("drill", "progress", text, cluster=self.cluster))
        self.timeline.mark(f"drill {name} started", kind="drill", cluster=self.cluster)
        return run(drill, ctx, params)

    # reading -----------------------------------------------------------------------------------
    def rows(self, limit: int = TIMELINE_ROWS) -> list[Row]:
        return timeline_rows(self.timeline.entries(), self.timeline.t0, limit)

    def recovered(self) -> bool:
        """Every pet Ready and every node Ready."""
        pic = picture(self.api, self.ps)
        return (len(pic.chips) == self.ps.replicas and all(c.phase == "Ready" for c in pic.chips)
                and all(n.ready for n in pic.nodes))

    def wait_recovered(self, timeout: float = 120.0, interval: float = 0.25) -> float:
        """Wait until :meth:`recovered`; the seconds it took. Raises NotReady after ``timeout``."""
        import time

        start = time.monotonic()
        while not self.recovered():
            if time.monotonic() - start > timeout:
                raise NotReady(f"{self.ps.namespace}/{self.ps.name} not recovered within {timeout:g} s")
            time.sleep(interval)
        return time.monotonic() - start

    def figure(self) -> Any:
        """The static picture: map and timeline now."""
        return panel_figure(picture(self.api, self.ps), self.rows(), self.status)

    def close(self) -> None:
        """Stop the refresh, the map and the timeline's watches; close the widgets."""
        self._stop.set()
        if self.map is not None:
            self.map.stop()
        self.timeline.stop()
        if self.widget is not None:
            self.widget.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget if self.live and self.widget is not None else self.figure())


_panels: dict[tuple[str, str, str], DrillPanel] = {}


def drill_panel(target: Any, ps: "_pets.PetSet", **kwargs: Any) -> DrillPanel:
    """The drill panel of a set, made once per kernel (a closed one is made again); see :class:`DrillPanel`."""
    key = (str(_pets.api_client(target).configuration.host), ps.namespace, ps.name)
    panel = _panels.get(key)
    if panel is None or panel._stop.is_set():
        panel = _panels[key] = DrillPanel(target, ps, **kwargs)
    return panel
