"""D1 ``pet-kill``: delete one pet's pod, as ``kubectl delete pod web-1`` does, and measure the way back.

What should happen (federation-drills.md §6(b) D1; sim-fidelity ST-13, PL-07): graceful
termination within terminationGracePeriodSeconds, then the StatefulSet controller
recreates **the same name** with the same claim, so the same volume (same zone, usually
the same node); the data is intact; the other pets are untouched. The write ledger gives
the RTO of the pet's shard (first failed write to first acknowledged write after) and
checks every acknowledged write reads back (RPO 0).
"""

from __future__ import annotations

import time

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ..errors import KubeError
from . import expect as ex
from .base import Check, DrillContext, Param, Wait, register
from .petbase import FIRST, START, PetDrill, ready_of


@register
class PetKill(PetDrill):
    name = "pet-kill"
    catalogue_id = "D1"
    title = "Kill a pet pod"
    description = ("Deletes one pet's pod: it comes back under the same name with the same claim and volume, its "
                   "data intact, the other pets untouched; the ledger measures its shard's RTO.")
    tags = ("pod", "statefulset", "ledger")
    params = (Param("ordinal", 1, "the pet to kill (web-<ordinal>)"),
              *PetDrill.common_params,
              Param("grace", -1, "grace period seconds of the delete (-1: the pod's own)"))

    def victim(self, ctx: DrillContext) -> str:
        return self.ps(ctx).pet(int(ctx.p("ordinal")))

    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = self.common_preflight(ctx)
        if not 0 <= int(ctx.p("ordinal")) < int(ctx.p("replicas")):
            reasons.append(f"ordinal {ctx.p('ordinal')} is not a pet of a set of {ctx.p('replicas')} replicas")
        return reasons

    def inject(self, ctx: DrillContext) -> str:
        name = self.victim(ctx)
        pod = self.pet(ctx, name)
        ctx.state["victim"], ctx.state["victim_uid"] = name, pod.metadata.uid if pod else ""
        ctx.state["victim_node"] = pod.spec.node_name if pod else ""
        self.baseline(ctx)
        grace = int(ctx.p("grace"))
        body = k8s.V1DeleteOptions(grace_period_seconds=grace) if grace >= 0 else None
        ctx.t0 = time.time()
        try:
            ctx.core().delete_namespaced_pod(name, self._ns(ctx), body=body)
        except ApiException as exc:
            raise KubeError(f"delete pod {name}", exc) from exc
        return f"delete pod {self._ns(ctx)}/{name}"

    def _replaced(self, ctx: DrillContext) -> bool:
        p = self.pet(ctx, ctx.state["victim"])
        return bool(p and p.metadata.uid != ctx.state["victim_uid"] and not p.metadata.deletion_timestamp)

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        name = ctx.state["victim"]

        def gone(c: DrillContext) -> bool:
            p = self.pet(c, name)
            return p is None or p.metadata.uid != c.state["victim_uid"]

        def back(c: DrillContext) -> bool:
            p = self.pet(c, name)
            ok = bool(self._replaced(c) and p and ready_of(p) == "True")
            if ok and "ready_at" not in c.state:
                c.state["ready_at"] = time.time()
            return ok

        waits = [Wait(f"{name} terminated", gone, b(s("default_termination_grace"), minimum=FIRST)),
                 Wait(f"{name} recreated and Ready", back, b(s("startup_budget"), minimum=START)),
                 self.seen_ready([name])]
        if ctx.ledger is not None:
            def writes_back(c: DrillContext) -> bool:
                return any(w.ok and w.shard == name and w.start >= c.state.get("ready_at", float("inf"))
                           for w in c.ledger.writes[-200:]) if c.ledger else True
            waits.append(Wait(f"writes to {name} acknowledged again", writes_back,
                              b(s("startup_budget"), minimum=START)))
        return waits

    def expected(self, ctx: DrillContext) -> ex.Expected:
        before = ctx.state["before"][ctx.state["victim"]]
        pod = ex.PodRef(self._ns(ctx), ctx.state["victim"], before.node, "pet", volume=before.pv)
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.POD_DELETE, (before.node,), (pod,), ctx.primary), ctx.profile,
                           ctx.state.get("topology"))

    def verify(self, ctx: DrillContext) -> list[Check]:
        name = ctx.state["victim"]
        pod = self.pet(ctx, name)
        out = [ctx.check("the fault took effect: a new pod for the pet", self._replaced(ctx),
                         f"uid {pod.metadata.uid[:8] if pod else '-'} (was {ctx.state['victim_uid'][:8]})"),
               ctx.check(f"{name}: same name and hostname, Ready", bool(pod and pod.spec.hostname == name and
                                                                        ready_of(pod) == "True"),
                         f"hostname {pod.spec.hostname if pod else '-'}")]
        out += self.identity_checks(ctx, [name])
        before, after = ctx.state["before"], self.snapshot(ctx)
        others = [p for p in before if p != name]
        moved = [p for p in others if p not in after or after[p].uid != before[p].uid]
        out += self.data_checks(ctx)
        out.append(ctx.check("the other pets untouched", not moved, f"replaced: {', '.join(moved) or 'none'}"))
        shards = self.ledger_shards(ctx)
        if shards:
            hit = shards.get(name)
            ctx.state["rto"] = hit.rto if hit else None
            out.append(ctx.check(f"RTO of {name}'s shard measured", bool(hit and hit.outages and hit.recovered),
                                 f"{hit.rto:.2f} s" if hit and hit.rto is not None else "no outage seen"))
            down = [s for s, a in shards.items() if s != name and a.outages]
            out.append(ctx.check("the other shards kept serving", not down, f"outages on: {', '.join(down) or 'none'}"))
        return out

