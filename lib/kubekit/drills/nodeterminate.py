"""D4 ``node-terminate``: terminate a node's EC2 instance (boto3), the hard way to lose a node.

What should happen (federation-drills.md §6(b) D4; sim-fidelity NL-02, NL-10, AWS-03, SV-10):
the kubelet's Lease stops; the node goes NotReady after the grace period; the cloud node
lifecycle controller finds the instance gone and **deletes the Node**; PodGC force-deletes
the orphaned pods (quarantine 40 s, period 20 s); the StatefulSet recreates the pet under the
same name, on another node of **the same zone** (its EBS volume is zonal), once the volume is
detached from the dead node (at the latest after the 6 min force detach); the node group (an
Auto Scaling group) launches a replacement instance in that zone, which registers as a new Node.
Never two pods for one pet. Nothing to remediate: this is self-healing, and the drill checks it is.

Pre-flight refuses a node that is not in a managed node group (nobody would replace it: the
cluster would lose capacity for good), a zone without another Ready node (the pet could not
follow its volume), and an instance that is not running.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import KitError
from . import expect as ex
from .base import Check, DrillContext, Param, Wait, register
from .petbase import CONTROL, START, PetDrill, instance_id, pick_node, prefer_node, ready_of, zone_of

NODEGROUP = "eks.amazonaws.com/nodegroup"


@register
class NodeTerminate(PetDrill):
    name = "node-terminate"
    catalogue_id = "D4"
    title = "Lose a node, hard (EC2 terminate)"
    description = ("Terminates one node's EC2 instance: NotReady, the Node deleted by the cloud node controller, the "
                   "pet force-deleted by PodGC and recreated in its volume's zone; the node group replaces the "
                   "instance.")
    needs_aws = True
    tags = ("node", "ec2", "statefulset", "podgc", "node-group", "ledger")
    params = (Param("node", "", "node to terminate (default: the first node of a zone with another Ready node)"),
              *PetDrill.common_params)

    def shape(self, ctx: DrillContext, sts: dict[str, Any]) -> None:
        sts["spec"]["template"]["spec"]["affinity"] = prefer_node(ctx.state["victim"])

    def _instance(self, ctx: DrillContext, iid: str) -> dict[str, Any] | None:
        res = ctx.ec2().describe_instances(InstanceIds=[iid])["Reservations"]
        return res[0]["Instances"][0] if res and res[0]["Instances"] else None

    def _state(self, ctx: DrillContext) -> str:
        inst = self._instance(ctx, ctx.state["instance"])
        return str(inst["State"]["Name"]) if inst else "missing"

    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = self.common_preflight(ctx)
        nodes = ctx.core().list_node().items
        node, by_zone = pick_node(nodes, str(ctx.p("node")))
        if node is None:
            return reasons + [f"node {ctx.p('node') or '(none)'} not found: pass node=<a Ready node>"]
        victim = node.metadata.name
        zone = zone_of(node)
        ctx.state.update(victim=victim, zone=zone, instance=instance_id(node),
                         nodegroup=(node.metadata.labels or {}).get(NODEGROUP, ""),
                         nodes_before=sorted(n.metadata.name for n in nodes))
        if not (node.spec.provider_id or "").startswith("aws://"):
            reasons.append(f"node {victim} has no AWS providerID ({node.spec.provider_id!r}): its instance cannot be "
                           "terminated through EC2")
        if not ctx.state["nodegroup"]:
            reasons.append(f"node {victim} is not in a managed node group: nobody would replace its instance, the "
                           "cluster would lose that capacity for good")
        if not [n for n in by_zone.get(zone, []) if n != victim]:
            reasons.append(f"no other Ready node in zone {zone}: the pet's zonal volume could not follow it (no "
                           "capacity left in the zone)")
        if not reasons and self._state(ctx) != "running":
            reasons.append(f"instance {ctx.state['instance']} of {victim} is {self._state(ctx)}, not running")
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        super().prepare(ctx)
        on = [name for name, b in ctx.state["before"].items() if b.node == ctx.state["victim"]]
        if not on:
            raise KitError(f"no pet was scheduled on {ctx.state['victim']}: the drill needs one there")
        ctx.state["pets_on_victim"] = on

    def inject(self, ctx: DrillContext) -> str:
        iid = ctx.state["instance"]
        self.baseline(ctx)
        ctx.t0 = time.time()
        ctx.ec2().terminate_instances(InstanceIds=[iid])
        return f"EC2 TerminateInstances {iid} ({ctx.state['victim']})"

    def _replacement(self, ctx: DrillContext) -> Any | None:
        """A Ready node of the same node group and zone that did not exist before the fault."""
        for n in ctx.core().list_node().items:
            if n.metadata.name in ctx.state["nodes_before"] or ready_of(n) != "True":
                continue
            if zone_of(n) == ctx.state["zone"] and (n.metadata.labels or {}).get(NODEGROUP) == ctx.state["nodegroup"]:
                return n
        return None

    def _pet_back(self, ctx: DrillContext, name: str) -> bool:
        p = self.pet(ctx, name)
        return bool(p and p.metadata.uid != ctx.state["before"][name].uid and not p.metadata.deletion_timestamp
                    and ready_of(p) == "True")

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        victim, on = ctx.state["victim"], ctx.state["pets_on_victim"]

        def not_ready(c: DrillContext) -> bool:
            n = self.node(c, victim)
            return n is None or ready_of(n) != "True"

        def gc(c: DrillContext) -> bool:
            return all((p := self.pet(c, name)) is None or p.metadata.uid != c.state["before"][name].uid
                       for name in on)

        def back(c: DrillContext) -> bool:
            ok = all(self._pet_back(c, name) for name in on)
            if ok and "ready_at" not in c.state:
                c.state["ready_at"] = time.time()
            return ok

        waits = [Wait(f"{victim} NotReady", not_ready, b(s("lease_renew") + s("node_monitor_grace")
                                                         + s("node_monitor_period"), minimum=CONTROL)),
                 Wait(f"Node {victim} deleted", lambda c: self.node(c, victim) is None,
                      b(s("cloud_node_monitor_period"), minimum=CONTROL)),
                 Wait(f"{', '.join(on)} force-deleted by PodGC", gc,
                      b(s("podgc_quarantine") + 2 * s("podgc_period"), minimum=CONTROL)),
                 Wait(f"{', '.join(on)} recreated and Ready", back,
                      b(s("force_detach_after") + s("volume_detach_budget") + s("startup_budget"), minimum=START)),
                 self.seen_ready(on),
                 Wait(f"a replacement node Ready in {ctx.state['zone']}", lambda c: self._replacement(c) is not None,
                      b(s("asg_replace_budget") + s("startup_budget"), minimum=START))]
        if ctx.ledger is not None:
            def writes_back(c: DrillContext) -> bool:
                return all(any(w.ok and w.shard == name and w.start >= c.state.get("ready_at", float("inf"))
                               for w in c.ledger.writes[-400:]) for name in on) if c.ledger else True
            waits.append(Wait("writes to the pet acknowledged again", writes_back,
                              b(s("startup_budget"), minimum=START)))
        return waits

    def expected(self, ctx: DrillContext) -> ex.Expected:
        victim, ns, before = ctx.state["victim"], self._ns(ctx), ctx.state["before"]
        pods = tuple(ex.PodRef(ns, name, victim, "pet", volume=before[name].pv) for name in ctx.state["pets_on_victim"])
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.NODE_TERMINATE, (victim,), pods, ctx.primary,
                                    {"replacement": bool(ctx.state["nodegroup"])}), ctx.profile,
                           ctx.state.get("topology"))

    def verify(self, ctx: DrillContext) -> list[Check]:
        victim, on, before = ctx.state["victim"], ctx.state["pets_on_victim"], ctx.state["before"]
        state = self._state(ctx)
        out = [ctx.check("the fault took effect: EC2 reports the instance terminated", state == "terminated", state),
               ctx.check(f"Node {victim} deleted (the cloud node controller)", self.node(ctx, victim) is None)]
        for name in on:
            out.append(ctx.check(f"{name} recreated under the same name, Ready", self._pet_back(ctx, name)))
        out += self.identity_checks(ctx, on)
        after = self.snapshot(ctx)
        moved = [n for n in on if n in after and after[n].node != victim and after[n].zone == ctx.state["zone"]]
        out.append(ctx.check(f"the pet moved within zone {ctx.state['zone']}", sorted(moved) == sorted(on),
                             ", ".join(f"{n} on {after[n].node}" for n in on if n in after)))
        others = [p for p in before if p not in on]
        touched = [p for p in others if p not in after or after[p].uid != before[p].uid]
        out.append(ctx.check("the other pets untouched", not touched, f"replaced: {', '.join(touched) or 'none'}"))
        repl = self._replacement(ctx)
        out.append(ctx.check(f"the node group replaced the instance in {ctx.state['zone']}", repl is not None,
                             f"new node {repl.metadata.name} ({instance_id(repl)})" if repl else "no new Ready node"))
        if repl is not None:
            ctx.state["replacement"] = repl.metadata.name
        out += self.data_checks(ctx)
        shards = self.ledger_shards(ctx)
        if shards:
            down = sorted(s for s, a in shards.items() if a.outages)
            out.append(ctx.check("only the lost pet's shard failed writes", set(down) <= set(on),
                                 f"shards with failed writes: {', '.join(down) or 'none'}"))
        return out
