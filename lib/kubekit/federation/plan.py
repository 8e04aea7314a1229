"""``plan()``: what the controller would apply, before anything is applied; ``explain()``: the same
input under kubekit's division, Federation v1's planner, KubeFed's ReplicaSchedulingPreference and
Karmada's static weights, side by side, with and without members offline.

Both are pure over their inputs: a FederatedWorkload (dict) and the members (MemberCluster dicts,
:class:`Member` values, or a host to read them from).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import yaml

from kubekit.errors import InvalidWorkload

from . import placement as pl
from .decide import decide
from .model import OFFLINE, READY, UNKNOWN, ClusterPreference, Member, Workload, parse_member, parse_workload
from .render import render

ALGORITHMS = ("kubekit", "fedv1", "kubefed-rsp", "karmada")
TITLES = {"kubekit": "kubekit", "fedv1": "Fed v1 planner", "kubefed-rsp": "KubeFed RSP", "karmada": "Karmada static"}
ON_LOSS = {
    "kubekit": "re-divides a lost member's replicas over the healthy ones at once (purge mode decides when "
               "the old copy goes); moves back on recovery only with rebalance: true; never moves pets",
    "fedv1": "replans over ready clusters on every reconcile; rebalance=false keeps current replicas where they "
             "are (a cluster that joins later gets nothing: kubernetes/kubernetes#33312)",
    "kubefed-rsp": "plans over ready clusters only, Deployments and ReplicaSets only; no rebalance back after a "
                   "cluster recovers (kubefed#763)",
    "karmada": "Divided replicas migrate to the remaining clusters only with the Failover gate, a NoExecute "
               "ClusterTaintPolicy and --enable-no-execute-taint-eviction (>= 1.14); never moved back",
}


def _members(members: Any) -> dict[str, Member]:
    if isinstance(members, Mapping):
        items: Iterable[Any] = members.values()
    elif isinstance(members, (list, tuple)):
        items = members
    else:  # a host: context name, Cluster or Rest
        from .workloads import list_members

        items = list_members(members)
    out = {}
    for m in items:
        member = m if isinstance(m, Member) else parse_member(m)
        out[member.name] = member
    return out


def _workload(fw: Any) -> Workload:
    return fw if isinstance(fw, Workload) else parse_workload(fw)


def _assume_healthy(members: dict[str, Member], offline: Sequence[str] = ()) -> dict[str, Member]:
    out = {}
    for n, m in members.items():
        state = OFFLINE if n in offline else (READY if m.state == UNKNOWN else m.state)
        out[n] = dataclasses.replace(m, state=state)
    return out


@dataclass
class PlanRow:
    cluster: str
    state: str
    region: str
    zone: str
    replicas: int | None
    ordinals: tuple[int, int] | None
    objects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Plan:
    workload: Workload
    rows: list[PlanRow]
    error: InvalidWorkload | None = None

    @property
    def manifests(self) -> dict[str, list[dict[str, Any]]]:
        return {r.cluster: r.objects for r in self.rows if r.objects}

    @property
    def replicas(self) -> dict[str, int | None]:
        return {r.cluster: r.replicas for r in self.rows if r.objects}

    def yaml(self, cluster: str) -> str:
        return yaml.safe_dump_all(self.manifests.get(cluster, []), sort_keys=False)

    def __str__(self) -> str:
        wl = self.workload
        head = f"FederatedWorkload {wl.key}: {wl.kind} {wl.object_name}"
        if wl.divisible:
            head += f", {wl.replicas} replicas {wl.scheduling.type}"
        if self.error is not None:
            return f"{head}\nNOT PLACEABLE ({self.error.reason}): {self.error}"
        rows = [["CLUSTER", "STATE", "REGION", "ZONE", "REPLICAS", "ORDINALS", "OBJECTS"]]
        for r in self.rows:
            rows.append([r.cluster, r.state, r.region or "-", r.zone or "-",
                         "-" if r.replicas is None else str(r.replicas) if r.objects else "0",
                         f"{r.ordinals[0]}..{r.ordinals[0] + r.ordinals[1] - 1}" if r.ordinals and r.ordinals[1] else "-",
                         ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in r.objects) or "(nothing)"])
        widths = [max(len(x[i]) for x in rows) for i in range(len(rows[0]))]
        table = "\n".join("  ".join(v.ljust(w) for v, w in zip(x, widths)).rstrip() for x in rows)
        return f"{head}\n{table}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def plan(fw: Any, members: Any, *, offline: Sequence[str] = ()) -> Plan:
    """Per-cluster manifests and replica counts for ``fw``; members not yet probed count as Ready.

    ``offline``: pretend these members are Offline (what a failover would do). A workload that cannot
    be placed gives a Plan whose ``error`` says why (and no manifests), as the controller would report.
    """
    wl = _workload(fw)
    ms = _assume_healthy(_members(members), offline)
    status: dict[str, Any] = {}
    if offline:  # the placement before the loss, then the loss
        before = decide(wl, _assume_healthy(_members(members)), {}, {}, 0.0)
        if before.error is None:
            status = dict(before.status)
    d = decide(wl, ms, status, {}, 0.0)
    rows = []
    for name, m in sorted(ms.items()):
        objs: list[dict[str, Any]] = []
        if d.error is None and name in d.placement:
            sl = d.slices.get(name)
            objs = render(wl, name, d.placement[name], sl[0] if sl else None)
        rows.append(PlanRow(name, m.state, m.region, m.zone, d.placement.get(name), d.slices.get(name), objs))
    return Plan(wl, rows, d.error)


@dataclass
class Explanation:
    workload: Workload
    clusters: list[str]
    scenarios: list[str]  # "all healthy", "member-x offline"
    results: dict[str, dict[str, dict[str, int]]]  # scenario -> algorithm -> cluster -> replicas
    notes: list[str]

    def __str__(self) -> str:
        wl = self.workload
        prefs = ", ".join(f"{p.name}: w{p.weight}" + (f" min{p.min_replicas}" if p.min_replicas else "")
                          + (f" max{p.max_replicas}" if p.max_replicas is not None else "")
                          for p in wl.scheduling.preferences) or "equal weights"
        out = [f"{wl.key}: {wl.replicas} replicas, {prefs}"]
        for sc in self.scenarios:
            out.append(f"\n{sc}:")
            rows = [["CLUSTER"] + [TITLES[a] for a in ALGORITHMS]]
            for c in self.clusters:
                rows.append([c] + [str(self.results[sc][a].get(c, 0)) for a in ALGORITHMS])
            rows.append(["total"] + [str(sum(self.results[sc][a].values())) for a in ALGORITHMS])
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        out.append("")
        out += [f"- {n}" for n in self.notes]
        return "\n".join(out)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def explain(fw: Any, members: Any, *, offline: Sequence[str] = ()) -> Explanation:
    """The replica split under the four algorithms, all members healthy and then with ``offline`` lost."""
    wl = _workload(fw)
    all_members = _assume_healthy(_members(members))
    cands = pl.eligible(wl.placement, all_members)
    prefs = {p.name: p for p in wl.scheduling.preferences}
    key = f"{wl.namespace}/{wl.name}"
    scenarios = [("all healthy", ())]
    if offline:
        scenarios.append((f"{', '.join(offline)} offline", tuple(offline)))
    results: dict[str, dict[str, dict[str, int]]] = {}
    first: dict[str, dict[str, int]] = {}
    for title, lost in scenarios:
        ready = [c for c in cands if c not in lost]
        res: dict[str, dict[str, int]] = {}
        p = plan(wl, all_members, offline=lost)
        res["kubekit"] = {} if p.error else {c: int(n or 0) for c, n in p.replicas.items()}
        current = first.get("fedv1") if lost else None
        fv1, _ = pl.fedv1_plan(wl.replicas, ready, prefs or {"*": ClusterPreference("*", 1)},
                               rebalance=wl.scheduling.rebalance, current=current, key=key)
        res["fedv1"] = fv1
        res["kubefed-rsp"] = pl.kubefed_rsp(wl.replicas, ready, prefs, rebalance=wl.scheduling.rebalance,
                                            current=first.get("kubefed-rsp") if lost else None, key=key)
        res["karmada"] = pl.karmada_static(wl.replicas, ready, prefs, last=first.get("karmada") if lost else None)
        results[title] = res
        if not lost:
            first = res
    notes = [f"{TITLES[a]}: {ON_LOSS[a]}" for a in ALGORITHMS]
    if wl.stateful:
        notes.insert(0, "StatefulSet: kubekit divides once into ordinal slices and never moves pets; "
                        "KubeFed's RSP does not schedule StatefulSets at all")
    sums = {a: sum(results["all healthy"][a].values()) for a in ALGORITHMS}
    diff = [c for c in cands if len({results["all healthy"][a].get(c, 0) for a in ALGORITHMS}) > 1]
    if diff:
        notes.append(f"they disagree on {', '.join(diff)}: Fed v1/KubeFed round each share up in weight order "
                     "(the last clusters can get nothing), Karmada floors and hands the remainder out by weight, "
                     "kubekit gives it by largest remainder")
    if len(set(sums.values())) > 1:
        notes.append(f"totals differ ({sums}): a max/min bound or zero weight left replicas unplaced")
    return Explanation(wl, cands, [t for t, _ in scenarios], results, notes)
