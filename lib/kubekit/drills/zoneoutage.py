"""D7 ``zone-outage``: stop every EC2 instance of one zone (boto3), then bring the zone back.

What should happen (federation-drills.md §0, §6(b) D7; sim-fidelity NL-05, NL-06, AWS-03):
every node of the zone goes NotReady after the grace period and gets the shutdown taint (the
Nodes stay: the instances are only stopped). Whether pods are evicted depends on the zone
states (``expect.zone_states`` / ``expect.taint_rule``): a zone with no Ready node is
*FullDisruption* and is tainted at the normal rate (the first node at once, the next 10 s
later); a *partial* outage (more than 2 and >= 55 % of the zone's nodes) stops evictions in a
cluster of <= 50 nodes (the small-cluster rule); every zone down stops them everywhere. After
tolerationSeconds (300 s) the Deployment's pod moves to another zone, but **the pet whose
volume is in the lost zone cannot move**: its EBS volume only attaches in that zone
(PV node affinity), so it stays Terminating (at most one pod per identity) and, even if
force-deleted, its replacement stays Pending ("volume node affinity conflict"). The other pets
keep serving: the set rides through at N-1.

Remediation: optionally show the Pending (``show_pending``: force-delete the stuck pet, only
after EC2 says every instance of the zone is stopped, and read the scheduler's answer), then
start the instances again; the pet comes back in its zone with its data.

Pre-flight refuses when no other zone has a Ready, schedulable node (the outage would be
total), when the cluster has a single zone, and when an instance of the zone is not running.
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from .. import pets
from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, DrillContext, Param, Wait, register
from .petbase import CONTROL, START, PetDrill, instance_id, ready_of, taint_keys, zone_of

WEB = "web-stateless"
# The scheduler's VolumeBinding answer: "had volume node affinity conflict" up to 1.32, "didn't match
# PersistentVolume's node affinity" from 1.33 (kube-scheduler volumebinding; sim-fidelity §3).
VOLUME_CONFLICT = ("volume node affinity conflict", "didn't match PersistentVolume's node affinity")


def _toleration(pod: Any) -> float | None:
    vals = [t.toleration_seconds for t in pod.spec.tolerations or []
            if t.effect == "NoExecute" and t.key in (ex.TAINT_UNREACHABLE, None) and t.toleration_seconds is not None]
    return float(min(vals)) if vals else None


@register
class ZoneOutage(PetDrill):
    name = "zone-outage"
    catalogue_id = "D7"
    title = "Lose an availability zone (every instance stopped)"
    description = ("Stops every EC2 instance of one zone: zone-wide NotReady, evictions by the zone-disruption "
                   "rules; the Deployment moves, the pet whose volume is in the zone cannot; restart brings it back.")
    needs_aws = True
    tags = ("zone", "ec2", "statefulset", "eviction", "ledger")
    params = (Param("zone", "", "zone to lose (default: the first zone, if another zone has capacity)"),
              *PetDrill.common_params,
              Param("keep", 0, "nodes of the zone left running (a partial outage; 0: the whole zone)"),
              Param("stateless", True, "also run a one-pod Deployment in the zone (it should move)"),
              Param("hold", 60.0, "upstream seconds to watch the pet stay stuck after the eviction"),
              Param("show_pending", True, "force-delete the stuck pet (after verifying the shutdown) to show it "
                                          "stays Pending: its volume cannot leave the zone"),
              Param("image", "registry.k8s.io/pause:3.10", "the Deployment's image"))

    # -- pre-flight ----------------------------------------------------------------------------
    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = self.common_preflight(ctx)
        nodes = ctx.core().list_node().items
        zones = sorted({zone_of(n) for n in nodes})
        zone = str(ctx.p("zone")) or (zones[0] if zones else "")
        in_zone = sorted((n for n in nodes if zone_of(n) == zone), key=lambda n: n.metadata.name)
        if not in_zone:
            return reasons + [f"zone {zone or '(none)'} has no nodes (zones: {', '.join(zones) or 'none'})"]
        keep = int(ctx.p("keep"))
        if not 0 <= keep < len(in_zone):
            reasons.append(f"keep={keep}: the zone has {len(in_zone)} node(s); keep must leave at least one to stop")
        lost = in_zone[keep:]
        elsewhere = [n for n in nodes if zone_of(n) != zone and ready_of(n) == "True" and not n.spec.unschedulable]
        if len(zones) < 2:
            reasons.append("the cluster has a single zone: losing it loses everything")
        elif not elsewhere:
            reasons.append(f"no Ready, schedulable node outside {zone}: no other zone has capacity, the outage "
                           "would be total")
        bad = [n.metadata.name for n in lost if not (n.spec.provider_id or "").startswith("aws://")]
        if bad:
            reasons.append(f"node(s) without an AWS providerID ({', '.join(bad)}): their instances cannot be stopped")
        ctx.state.update(zone=zone, lost=[n.metadata.name for n in lost],
                         instances={n.metadata.name: instance_id(n) for n in lost})
        if not reasons:
            states = self._states(ctx)
            down = [f"{i} {s}" for i, s in states.items() if s != "running"]
            if down:
                reasons.append(f"instance(s) of {zone} not running: {', '.join(down)}")
        rules = ex.taint_rule(ctx.state["topology"], ctx.state["lost"])
        ctx.state["rule"] = rules.get(zone, (None, ""))[1]
        return reasons

    def _states(self, ctx: DrillContext) -> dict[str, str]:
        ids = list(ctx.state["instances"].values())
        out = {i: "missing" for i in ids}
        for r in ctx.ec2().describe_instances(InstanceIds=ids)["Reservations"]:
            for inst in r["Instances"]:
                out[inst["InstanceId"]] = inst["State"]["Name"]
        return out

    # -- the workload --------------------------------------------------------------------------
    def prepare(self, ctx: DrillContext) -> None:
        super().prepare(ctx)
        zone, before = ctx.state["zone"], ctx.state["before"]
        ctx.state["pinned"] = sorted(p for p, b in before.items() if b.node in ctx.state["lost"])
        if not ctx.state["pinned"]:
            raise KitError(f"no pet runs on the nodes to stop in {zone}: the drill needs one there "
                           f"(pets on {', '.join(sorted({b.node for b in before.values()}))})")
        if ctx.p("stateless"):
            affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100, "preference": {"matchExpressions": [{"key": "kubernetes.io/hostname",
                                                                    "operator": "In",
                                                                    "values": ctx.state["lost"]}]}}]}}
            web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WEB},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": WEB}},
                            "template": {"metadata": {"labels": {"app": WEB}},
                                         "spec": {"affinity": affinity,
                                                  "containers": [{"name": "app", "image": ctx.p("image")}]}}}}
            try:
                ctx.apps().create_namespaced_deployment(self._ns(ctx), web)
            except ApiException as exc:
                raise KubeError("create the drill's Deployment", exc) from exc
            pod = ctx.wait("Deployment pod Ready", lambda: next(iter(self._web_ready(ctx)), None),
                           ctx.budget(ctx.scaled("startup_budget"), minimum=START))
            if pod.spec.node_name not in ctx.state["lost"]:
                raise KitError(f"the Deployment's pod landed on {pod.spec.node_name}, outside the nodes to stop")
            owner = next((f"{r.kind}/{r.name}" for r in pod.metadata.owner_references or [] if r.controller), "")
            ctx.state.update(web_pod=pod.metadata.name, web_node=pod.spec.node_name, web_owner=owner,
                             web_toleration=_toleration(pod))
        pet = self.pet(ctx, ctx.state["pinned"][0])
        ctx.state["pet_toleration"] = _toleration(pet) if pet is not None else None

    def _web_ready(self, ctx: DrillContext, outside: bool = False) -> list[Any]:
        pods = ctx.core().list_namespaced_pod(self._ns(ctx), label_selector=f"app={WEB}").items
        return [p for p in pods if ready_of(p) == "True" and not p.metadata.deletion_timestamp
                and (not outside or p.spec.node_name not in ctx.state["lost"])]

    # -- the fault -----------------------------------------------------------------------------
    def inject(self, ctx: DrillContext) -> str:
        ids = list(ctx.state["instances"].values())
        self.baseline(ctx)
        ctx.t0 = time.time()
        ctx.ec2().stop_instances(InstanceIds=ids)
        ctx.state["stopped"] = True
        return f"EC2 StopInstances {', '.join(ids)} (zone {ctx.state['zone']})"

    def _tainted(self, ctx: DrillContext) -> bool:
        return ex.taint_rule(ctx.state["topology"], ctx.state["lost"]).get(ctx.state["zone"], (None, ""))[0] \
            is not None

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        lost, pinned = ctx.state["lost"], ctx.state["pinned"]

        def every(pred: Any) -> Any:
            return lambda c: all((n := self.node(c, name)) is not None and pred(n) for name in lost)

        waits = [Wait(f"every node of {ctx.state['zone']} NotReady", every(lambda n: ready_of(n) != "True"),
                      b(s("lease_renew") + s("node_monitor_grace") + s("node_monitor_period"), minimum=CONTROL)),
                 Wait("shutdown taint on every stopped node", every(lambda n: ex.TAINT_SHUTDOWN in taint_keys(n)),
                      b(s("cloud_node_monitor_period"), minimum=CONTROL))]
        tol = ctx.state.get("pet_toleration") or s("default_toleration_seconds")
        if self._tainted(ctx):
            waits.append(Wait("NoExecute taint on every stopped node", every(
                lambda n: ex.TAINT_UNREACHABLE in taint_keys(n)),
                b(s("node_monitor_period") + s("node_eviction_period") * len(lost), minimum=CONTROL)))

            def evicted(c: DrillContext) -> bool:
                done = all((p := self.pet(c, name)) is not None and p.metadata.deletion_timestamp for name in pinned)
                if done and "evicted_at" not in c.state:
                    c.state["evicted_at"] = time.time()
                return done
            waits.append(Wait(f"{', '.join(pinned)} evicted after tolerationSeconds", evicted, b(tol, minimum=CONTROL)))
            if ctx.p("stateless"):
                waits.append(Wait("the Deployment's pod runs in another zone", lambda c: bool(
                    self._web_ready(c, outside=True)), b(s("startup_budget"), minimum=START)))
        else:
            ctx.state["evicted_at"] = time.time()
        hold = max(0.5, float(ctx.p("hold")) * (ctx.profile.scale if ctx.profile else 1.0))
        waits.append(Wait(f"{', '.join(pinned)} still stuck after {hold:g} s",
                          lambda c: time.time() >= c.state.get("evicted_at", 0.0) + hold, hold + 5.0))
        return waits

    def expected(self, ctx: DrillContext) -> ex.Expected:
        ns, before = self._ns(ctx), ctx.state["before"]
        pods = [ex.PodRef(ns, p, before[p].node, "pet", toleration_seconds=ctx.state.get("pet_toleration"),
                          volume=before[p].pv) for p in ctx.state["pinned"]]
        if ctx.state.get("web_pod"):
            pods.append(ex.PodRef(ns, ctx.state["web_pod"], ctx.state["web_node"], "stateless",
                                  owner=ctx.state["web_owner"], toleration_seconds=ctx.state.get("web_toleration")))
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.NODE_STOP, tuple(ctx.state["lost"]), tuple(pods), ctx.primary), ctx.profile,
                           ctx.state["topology"])

    # -- verification --------------------------------------------------------------------------
    def verify(self, ctx: DrillContext) -> list[Check]:
        zone, lost, pinned, before = ctx.state["zone"], ctx.state["lost"], ctx.state["pinned"], ctx.state["before"]
        nodes = ctx.core().list_node().items
        down = [n.metadata.name for n in nodes if n.metadata.name in lost and ready_of(n) != "True"]
        states = self._states(ctx)
        out = [ctx.check(f"the fault took effect: every stopped node of {zone} NotReady", sorted(down) == sorted(lost),
                         f"{len(down)}/{len(lost)} NotReady"),
               ctx.check("EC2 reports the instances stopped", all(v == "stopped" for v in states.values()),
                         ", ".join(f"{i} {v}" for i, v in sorted(states.items()))),
               ctx.check("the other zones stay Ready", all(ready_of(n) == "True" for n in nodes
                                                           if zone_of(n) != zone),
                         ", ".join(sorted({zone_of(n) for n in nodes if zone_of(n) != zone})))]
        ctx.state["zone_states"] = ex.zone_states(ctx.state["topology"], lost)
        tainted = self._tainted(ctx)
        for name in pinned:
            p = self.pet(ctx, name)
            stuck = bool(p and p.metadata.uid == before[name].uid and (p.metadata.deletion_timestamp or not tainted))
            out.append(ctx.check(f"{name} stuck with its zone ({'Terminating' if tainted else 'not evicted'})", stuck,
                                 "terminating" if p and p.metadata.deletion_timestamp else "not terminating" if p
                                 else "gone"))
            out.append(ctx.check(f"{name}: at most one pod for the identity", len(self.pods_of(ctx, name)) <= 1))
            out.append(ctx.check(f"{name} cannot move: its volume is in {zone}", before[name].volume_zone == zone,
                                 f"volume {before[name].pv} in {before[name].volume_zone}; "
                                 f"{ex.RULE_SOURCES['volume-zone']}"))
        survivors = [p for p in before if p not in pinned]
        now = pets.pets_now(ctx.api(), self.ps(ctx))
        serving = [p.name for p in now.values() if p.name in survivors and p.ready and p.uid == before[p.name].uid]
        out.append(ctx.check(f"the set rides through at N-{len(pinned)}: the other pets serve",
                             sorted(serving) == sorted(survivors), f"serving: {', '.join(serving) or 'none'}"))
        if ctx.state.get("web_pod") and tainted:
            moved = self._web_ready(ctx, outside=True)
            out.append(ctx.check("the Deployment moved to another zone", bool(moved),
                                 f"on {moved[0].spec.node_name}" if moved else "not moved"))
        shards = self.ledger_shards(ctx)
        if shards:
            failing = sorted(s for s, a in shards.items() if a.outages)
            out.append(ctx.check("only the lost zone's shards failed writes", set(failing) <= set(pinned),
                                 f"shards with failed writes: {', '.join(failing) or 'none'}"))
        return out

    # -- remediation ---------------------------------------------------------------------------
    def remediate(self, ctx: DrillContext) -> None:
        if not ctx.state.get("stopped"):
            return
        full = ex.zone_states(ctx.state["topology"], ctx.state["lost"]).get(ctx.state["zone"]) == "FullDisruption"
        if ctx.p("show_pending") and ctx.state.get("pinned") and full:
            self._show_pending(ctx)  # with a Ready node left in the zone the pet would simply move there
        back = time.time()
        self._power_on(ctx)
        s, b = ctx.scaled, ctx.budget
        try:
            ctx.wait("every pet Ready again", lambda: self.all_ready(ctx),
                     b(s("lease_renew") + s("node_monitor_period") + s("force_detach_after") + s("startup_budget"),
                       minimum=START))
            self.settle(ctx, ctx.state["pinned"], back)
            ctx.check("every pet Ready again, in its zone", True, phase="remediate")
        except KitError as exc:
            ctx.check("every pet Ready again, in its zone", False, str(exc), phase="remediate")
        self.identity_checks(ctx, ctx.state["pinned"], phase="remediate")
        self.data_checks(ctx, phase="remediate")

    def _show_pending(self, ctx: DrillContext) -> None:
        """Force-delete the stuck pet (guarded: the zone's instances verified stopped) and read the scheduler."""
        states = self._states(ctx)
        nodes = [self.node(ctx, n) for n in ctx.state["lost"]]
        verified = all(v == "stopped" for v in states.values()) and all(n is not None and ready_of(n) != "True"
                                                                        for n in nodes)
        ctx.check("shutdown verified before the force delete", verified,
                  ", ".join(f"{i} {v}" for i, v in sorted(states.items())), phase="remediate")
        if not verified:
            return
        name, ns = ctx.state["pinned"][0], self._ns(ctx)
        old = self.pet(ctx, name)
        if ctx.timeline is not None:
            ctx.timeline.mark(f"force delete {name} (its node is powered off)", kind="remediation",
                              object=f"pod/{ns}/{name}")
        ctx.action(f"force delete {name}", ctx.core().delete_namespaced_pod, name, ns,
                   body=k8s.V1DeleteOptions(grace_period_seconds=0), rollback=True)
        old_uid = old.metadata.uid if old is not None else ""

        def unschedulable() -> str:
            p = self.pet(ctx, name)
            if p is None or p.metadata.uid == old_uid:
                return ""
            evs = ctx.core().list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
            msgs = [e.message for e in evs if e.reason == "FailedScheduling" and e.involved_object.uid ==
                    p.metadata.uid]
            return str(msgs[-1]) if msgs and p.status.phase == "Pending" else ""

        try:
            msg = ctx.wait(f"{name} Pending, unschedulable", unschedulable,
                           ctx.budget(ctx.scaled("startup_budget"), minimum=START))
            ctx.state["pending_message"] = msg
            ctx.check(f"{name} stays Pending: its volume cannot leave {ctx.state['zone']}",
                      any(t in msg for t in VOLUME_CONFLICT), msg, phase="remediate")
        except KitError as exc:
            ctx.check(f"{name} stays Pending: its volume cannot leave {ctx.state['zone']}", False, str(exc),
                      phase="remediate")

    def _power_on(self, ctx: DrillContext) -> None:
        ids = [i for i, v in self._states(ctx).items() if v in ("stopped", "stopping")]
        if not ids:
            return
        ctx.action("EC2 StartInstances", ctx.ec2().start_instances, InstanceIds=ids, rollback=True)
        if ctx.timeline is not None:
            ctx.timeline.mark(f"start {', '.join(ids)} (zone {ctx.state['zone']} back)", kind="recovery")
        s, b = ctx.scaled, ctx.budget
        try:
            ctx.wait(f"every node of {ctx.state['zone']} Ready again", lambda: all(
                (n := self.node(ctx, name)) is not None and ready_of(n) == "True"
                and not taint_keys(n) & {ex.TAINT_SHUTDOWN, ex.TAINT_UNREACHABLE} for name in ctx.state["lost"]),
                b(s("lease_renew") + s("node_monitor_period") + s("cloud_node_monitor_period"), minimum=START))
            ctx.check("zone back: nodes Ready, taints gone", True, phase="remediate")
        except KitError as exc:
            ctx.check("zone back: nodes Ready, taints gone", False, str(exc), phase="remediate")
        ctx.state["stopped"] = False

    def cleanup(self, ctx: DrillContext) -> None:
        try:
            if ctx.state.get("stopped"):
                self._power_on(ctx)
        finally:
            super().cleanup(ctx)
