"""What the single-cluster pet drills share: their own petkv set, the write ledger, identity checks, cleanup.

A :class:`PetDrill` deploys a petkv StatefulSet (:mod:`kubekit.pets`) in a namespace of its
own, so a drill never touches anything it did not make, and wires the write ledger
(:class:`kubekit.drills.Ledger`) to petkv through the API server's pod proxy::

    kv = pets.kv(api, ps, timeout=...)
    ctx.ledger = Ledger(write=kv.put, read=kv.get, shard_of=kv.shard_of)

so RPO (acknowledged writes lost) and RTO (per shard = per pet) come out the same way in
the sandbox and on EKS. Subclasses shape the set (:meth:`PetDrill.shape`, e.g. a node
preference) and add their fault; the helpers here read pets, nodes and claims through the
official client only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from kubernetes.client.rest import ApiException

from .. import pets
from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, Drill, DrillContext, Param, Wait
from .ledger import Ledger

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
POD_NAME = "statefulset.kubernetes.io/pod-name"
# Wall-clock floors of the drills' waits (seconds): watch latency, controller loops and real process
# starts do not scale with the profile, and a loaded machine stretches them.
FIRST = 5.0      # the fault's first visible effect (an API answer, a deletion)
CONTROL = 10.0   # a controller's reaction (NotReady, taints, PodGC, the cloud node controller)
START = 30.0     # a pod scheduled, its volume attached, its process started and Ready


def ready_of(obj: Any) -> str:
    """The Ready condition's status of a Node or Pod (``Unknown`` without one)."""
    return next((c.status for c in (obj.status.conditions or []) if c.type == "Ready"), "Unknown")


def taint_keys(node: Any) -> set[str]:
    return {t.key for t in node.spec.taints or []}


def instance_id(node: Any) -> str:
    """The EC2 instance id from ``spec.providerID`` (``aws:///<zone>/<id>``)."""
    return (node.spec.provider_id or "").rsplit("/", 1)[-1]


def zone_of(node: Any) -> str:
    return str((node.metadata.labels or {}).get(ZONE, ""))


def pick_node(nodes: Sequence[Any], wanted: str) -> tuple[Any | None, dict[str, list[str]]]:
    """The node a node drill acts on, and the schedulable Ready nodes by zone.

    ``wanted`` names it; empty picks the first node of the first zone that keeps another
    schedulable Ready node (so the zone's pets have somewhere to go).
    """
    by_zone: dict[str, list[str]] = {}
    for n in nodes:
        if ready_of(n) == "True" and not n.spec.unschedulable:
            by_zone.setdefault(zone_of(n), []).append(n.metadata.name)
    if not wanted:
        zones = sorted(z for z, names in by_zone.items() if len(names) >= 2)
        wanted = sorted(by_zone[zones[0]])[0] if zones else ""
    return next((n for n in nodes if n.metadata.name == wanted), None), by_zone


def topology(nodes: Sequence[Any]) -> ex.Topology:
    return ex.Topology.from_nodes({"metadata": {"name": n.metadata.name, "labels": n.metadata.labels or {}}}
                                  for n in nodes)


def prefer_node(node: str) -> dict[str, Any]:
    """A preferred (not required) node affinity: the pets land there, and may go elsewhere later."""
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "preference": {"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": [node]}]}}]}}


def _probes(sts: dict[str, Any]) -> None:
    """Probes for drills under scaled profiles: no kill or unready on a few slow answers.

    petkv's liveness probe (period 10 s, 3 failures) kills a pet after 3 slow answers: 0.3 s
    under the ``instant`` profile, which a loaded machine exceeds, and then the drill measures
    the machine instead of the fault (the start-up itself is covered by the pets' startupProbe).
    Faults still show at once: a pod that is gone or on a dead node fails its probes or is not
    probed at all.
    """
    for c in sts["spec"]["template"]["spec"]["containers"]:
        if c.get("livenessProbe"):
            c["livenessProbe"]["failureThreshold"] = 30
        if c.get("readinessProbe"):
            c["readinessProbe"]["failureThreshold"] = 15


class PetDrill(Drill):
    """Base of the drills on the drill's own petkv set (D1-D4, D7); see the module docstring."""

    set_name = "web"
    common_params: tuple[Param, ...] = (
        Param("namespace", "", "namespace for the drill's pets (default: drill-<name>-<random>)"),
        Param("replicas", 3, "pets in the drill's StatefulSet (one petkv shard each)"),
        Param("ledger", True, "keep writing to the pets during the drill (RPO, RTO per shard)"),
        Param("max_rpo", 0, "acknowledged writes the drill may lose and still pass"),
        Param("seed_keys", 30, "keys written before the fault and read back afterwards"),
    )

    # -- the set -------------------------------------------------------------------------------
    def _ns(self, ctx: DrillContext) -> str:
        if "namespace" not in ctx.state:
            ctx.state["namespace"] = ctx.p("namespace") or f"drill-{self.name}-{uuid.uuid4().hex[:5]}"
        return str(ctx.state["namespace"])

    def namespaces(self, ctx: DrillContext) -> list[str]:
        return [self._ns(ctx)]

    def describe(self, ctx: DrillContext) -> pets.PetSet:
        """The drill's set: petkv, one pet per zone (subclasses change spread, PDB, pod management)."""
        return pets.PetSet(self.set_name, namespace=self._ns(ctx), replicas=int(ctx.p("replicas")))

    def shape(self, ctx: DrillContext, sts: dict[str, Any]) -> None:
        """Change the StatefulSet manifest before it is applied (e.g. a node preference)."""

    def ps(self, ctx: DrillContext) -> pets.PetSet:
        if "petset" not in ctx.state:
            ctx.state["petset"] = self.describe(ctx)
        return ctx.state["petset"]  # type: ignore[no-any-return]

    def pet(self, ctx: DrillContext, name: str) -> Any | None:
        try:
            return ctx.core().read_namespaced_pod(name, self._ns(ctx))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"read pod {name}", exc) from exc

    def node(self, ctx: DrillContext, name: str) -> Any | None:
        try:
            return ctx.core().read_node(name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"read node {name}", exc) from exc

    def pods_of(self, ctx: DrillContext, pet: str) -> list[Any]:
        """Every pod object carrying one pet identity (more than one would be a split brain)."""
        return ctx.core().list_namespaced_pod(self._ns(ctx), label_selector=f"{POD_NAME}={pet}").items

    def snapshot(self, ctx: DrillContext) -> dict[str, pets.PetIdentity]:
        return {r.pet: r for r in pets.identity(ctx.api(), self.ps(ctx), data=False)}

    def all_ready(self, ctx: DrillContext) -> bool:
        now = pets.pets_now(ctx.api(), self.ps(ctx))
        return sorted(now) == list(self.ps(ctx).ordinals) and all(p.ready and not p.terminating
                                                                  for p in now.values())

    # -- the steps -----------------------------------------------------------------------------
    def common_preflight(self, ctx: DrillContext) -> list[str]:
        """Refuse on a cluster that already has a fault, or when the namespace is taken."""
        reasons = []
        nodes = ctx.core().list_node().items
        down = sorted(n.metadata.name for n in nodes if ready_of(n) != "True")
        if down:
            reasons.append(f"{len(down)} node(s) already not Ready ({', '.join(down[:3])}): run drills on a healthy "
                           "cluster, or the result mixes two faults")
        if int(ctx.p("replicas")) < 1:
            reasons.append("replicas must be at least 1")
        try:
            ctx.core().read_namespace(self._ns(ctx))
            reasons.append(f"namespace {self._ns(ctx)} already exists: delete it or pick another namespace")
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError("read namespace", exc) from exc
        ctx.state["topology"] = topology(nodes)
        return reasons

    def preflight(self, ctx: DrillContext) -> list[str]:
        return self.common_preflight(ctx)

    def prepare(self, ctx: DrillContext) -> None:
        """Deploy the set, wait for every pet, remember who is where; start the ledger's client."""
        api, ps, ns = ctx.api(), self.ps(ctx), self._ns(ctx)
        try:
            ctx.core().create_namespace({"metadata": {"name": ns, "labels": {"kubekit.io/drill": self.name}}})
        except ApiException as exc:
            raise KubeError(f"create namespace {ns}", exc) from exc
        ctx.state["created_namespace"] = True
        pets.ensure_storage_class(api, ps.storage_class)
        for obj in ps.manifests():
            if obj["kind"] == "StatefulSet":
                _probes(obj)
                self.shape(ctx, obj)
            pets.apply(api, obj)
        timeout = ctx.budget(ctx.scaled("startup_budget") * ps.replicas, minimum=START * 2)
        pets.wait_ready(api, ps, timeout=timeout, progress=False)
        ctx.state["before"] = self.snapshot(ctx)
        kv = pets.kv(api, ps, timeout=max(1.0, ctx.scaled("lease_renew")))
        ctx.state["kv"] = kv
        ctx.state["seed"] = kv.write(int(ctx.p("seed_keys")), prefix="seed", workers=4)
        if ctx.state["seed"].failed:
            raise KitError(f"{len(ctx.state['seed'].failed)} of the seed writes failed before the fault")
        if ctx.p("ledger") and ctx.ledger is None:
            ctx.ledger = Ledger(write=kv.put, read=kv.get, shard_of=kv.shard_of)
            ctx.state["own_ledger"] = True

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        now = pets.pets_now(ctx.api(), self.ps(ctx))
        want = [self.ps(ctx).pet(o) for o in self.ps(ctx).ordinals]
        ready = [p.name for p in now.values() if p.ready and not p.terminating]
        out = [Check("every pet Ready", sorted(ready) == sorted(want), f"Ready: {', '.join(ready) or 'none'}")]
        if "kv" in ctx.state:
            answers = ctx.state["kv"].identities(want)
            out.append(Check("every pet serves petkv", sorted(answers) == sorted(want),
                             f"answering: {', '.join(sorted(answers)) or 'none'}"))
        return out

    def cleanup(self, ctx: DrillContext) -> None:
        if ctx.state.get("own_ledger") and ctx.ledger is not None and ctx.ledger.running:
            ctx.ledger.stop()
        if not ctx.state.get("created_namespace"):
            return
        ns = self._ns(ctx)
        try:
            ctx.core().delete_namespace(ns)
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError(f"delete namespace {ns}", exc) from exc
            return
        # Wait (briefly) so the next drill starts on a quiet cluster; a stuck pod is reported, not fatal.
        deadline = time.monotonic() + ctx.budget(ctx.scaled("default_termination_grace"), minimum=15.0)
        while time.monotonic() < deadline:
            try:
                ctx.core().read_namespace(ns)
            except ApiException as exc:
                if exc.status == 404:
                    return
                raise KubeError(f"read namespace {ns}", exc) from exc
            time.sleep(0.1)
        ctx.note("cleanup", f"namespace {ns} still terminating")

    # -- verification helpers ------------------------------------------------------------------
    def identity_checks(self, ctx: DrillContext, names: Sequence[str], *, phase: str = "") -> list[Check]:
        """Each named pet: exactly one pod, Ready, its own claim on the same volume, in its volume's zone."""
        before: dict[str, pets.PetIdentity] = ctx.state.get("before", {})
        after = self.snapshot(ctx)
        out = []
        for name in names:
            pods = self.pods_of(ctx, name)
            out.append(ctx.check(f"{name}: at most one pod for the identity", len(pods) <= 1, f"{len(pods)} pod(s)",
                                 phase))
            b, a = before.get(name), after.get(name)
            same = bool(a and b and a.pvc == b.pvc and a.pv == b.pv and a.pvc == self.ps(ctx).claim(a.ordinal))
            out.append(ctx.check(f"{name}: same claim and volume", same,
                                 f"claim {a.pvc if a else '-'}, volume {a.pv if a else '-'}"
                                 + ("" if same or not b else f" (before: {b.pvc}, {b.pv})"), phase))
            out.append(ctx.check(f"{name}: in its volume's zone", bool(a and a.zone and a.zone == a.volume_zone),
                                 f"node {a.node if a else '-'} in {a.zone if a else '-'}, volume in "
                                 f"{a.volume_zone if a else '-'}", phase))
        return out

    def seen_ready(self, names: Sequence[str]) -> Wait:
        """Wait until the timeline has recorded each pet Ready again after the fault: the API answers a
        poll before the watch delivers the change, and the grade reads the timeline."""
        def caught_up(c: DrillContext) -> bool:
            if c.timeline is None:
                return True
            ns = self._ns(c)
            return all(c.timeline.first("pod-ready", object=f"pod/{ns}/{n}", since=c.t0 or 0.0) is not None
                       for n in names)
        return Wait("the timeline saw the pets Ready again", caught_up, FIRST)

    def settle(self, ctx: DrillContext, names: Sequence[str], since: float, *, phase: str = "remediate") -> None:
        """After a recovery: wait until the timeline saw the pets Ready and the ledger wrote to them again.

        The recovery was polled from the API; the grade reads the timeline (a watch, a little
        later) and the ledger's outage windows close only with an acknowledged write.
        """
        ns = self._ns(ctx)

        def done() -> bool:
            seen = ctx.timeline is None or all(
                ctx.timeline.first("pod-ready", object=f"pod/{ns}/{n}", since=since) is not None for n in names)
            writes = ctx.ledger is None or not ctx.ledger.running or all(
                any(w.ok and w.shard == n and w.start >= since for w in ctx.ledger.writes[-400:]) for n in names)
            return seen and writes
        try:
            ctx.wait("the timeline and the ledger saw the pets back", done, START)
        except KitError as exc:
            ctx.check("the pets seen back (timeline, ledger)", False, str(exc), phase)

    def baseline(self, ctx: DrillContext, timeout: float = 3.0) -> None:
        """Before the fault: let the ledger get one acknowledged write on every shard (a reference point)."""
        if ctx.ledger is None or not ctx.ledger.running:
            return
        want = {self.ps(ctx).pet(o) for o in self.ps(ctx).ordinals}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not want <= {w.shard for w in ctx.ledger.acknowledged()}:
            time.sleep(0.02)

    def data_checks(self, ctx: DrillContext, *, phase: str = "") -> list[Check]:
        """The seed keys (written before the fault) all read back from their owners."""
        seed = ctx.state.get("seed")
        if seed is None:
            return []
        report = ctx.state["kv"].check(seed)
        bad = len(report.lost) + len(report.wrong)
        return [ctx.check("data written before the fault intact", not bad and not report.unreachable,
                          f"{len(seed.acked)} keys: {len(report.lost)} lost, {len(report.wrong)} wrong, "
                          f"unreachable pets: {', '.join(report.unreachable) or 'none'}", phase)]

    def ledger_shards(self, ctx: DrillContext) -> dict[str, Any]:
        """Per shard (pet): its availability over the ledger so far (empty without a ledger)."""
        if ctx.ledger is None or not ctx.ledger.writes:
            return {}
        return {s.shard: s for s in ctx.ledger.availability().shards}


__all__ = ["PetDrill", "instance_id", "prefer_node", "ready_of", "taint_keys", "topology", "zone_of"]
