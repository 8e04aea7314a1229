"""D9 ``member-cluster-loss``: a member cluster's API server stops answering; the federation reacts.

What should happen (federation-drills.md §2, §3, §6(b) D9): the controller's probes fail;
after ``failureThreshold`` of them (every ``periodSeconds``, each waiting ``timeoutSeconds``)
the MemberCluster is Offline (KubeFed: about 30 s with 10 s / 3 s / 3; Karmada 30 s
failure threshold). The stateless ``web`` Deployment, Divided by weight, is re-divided over
the healthy members at once (KubeFed's RSP; Karmada Divided failover), and the lost member's
copy becomes an eviction task with the workload's purge mode. The petkv StatefulSet's slice in
the lost member is **not** moved: its pets may still run there, and a second copy would be two
pods for one identity. The other pets ride through: a ledger writes to them all along.

Then reachability comes back: the member is Ready after ``successThreshold`` probes, the old
web copy is purged (Directly, Gracefully) or left (Never), nothing is rebalanced back, and
nothing is duplicated: the same StatefulSet and the same pet pods, the survivors keep what they
took, and the auditor never saw one pet identity in two clusters.

The fault is injected the real way for the sandbox: its control API makes the member's API
server stop answering (``kubekit sandbox isolate``); on AWS one would block the endpoint with a
security group or NACL rule. The drill never touches kubesim's internals.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import KitError
from . import expect as ex
from .base import Check, Drill, DrillContext, Param, Wait, register
from .fedworld import KV, FedWorld, wait_until, weights_param, world


@register
class MemberClusterLoss(Drill):
    name = "member-cluster-loss"
    catalogue_id = "D9"
    title = "Lose a member cluster (its API server stops answering)"
    description = ("Makes one member's API server unreachable: Offline after failureThreshold x period, Divided "
                   "stateless replicas re-divided over the healthy members per purge mode, the pets' slice in the "
                   "lost member deliberately not moved, the other pets ride through; then reachability is restored "
                   "and nothing is duplicated.")
    tags = ("federation", "member-cluster", "failover", "statefulset")
    params = (
        Param("member", "", "member to lose (default: the second member by name)"),
        Param("members", "", "comma-separated member contexts (default: the host's members, else the sandbox's)"),
        Param("kubeconfig", "", "kubeconfig with the host and member contexts (default: the sandbox's)"),
        Param("namespace", "", "namespace of the drill's workloads (default: drill-member-cluster-loss-<random>)"),
        Param("web_replicas", 4, "replicas of the stateless web Deployment"),
        Param("weights", "1,2,1", "web's weights in member order (the lost member holds the most by default)"),
        Param("pets", 6, "petkv pets, in equal ordinal slices over the members"),
        Param("purge_mode", "Gracefully", "what happens to the lost member's web copy: Directly, Gracefully, Never"),
        Param("probe_period", 0, "health check period (s) for members the drill registers (0: 10 s x profile scale)"),
        Param("probe_timeout", 0, "health check timeout (s) for members the drill registers (0: 3 s x scale)"),
        Param("failure_threshold", 3, "failed probes before Offline, for members the drill registers"),
        Param("hold", 1.0, "seconds to stay lost after the failover (the pets must not move meanwhile)"),
        Param("mode", "timeout", "how the API server stops answering: timeout (silence) or reset"),
        Param("controller", True, "start a federation controller for the drill (false: use the one running)"),
    )

    # -- helpers -------------------------------------------------------------------------------
    def namespaces(self, ctx: DrillContext) -> list[str]:
        return [world(ctx).ns] if "world" in ctx.state else []

    def _state(self, ctx: DrillContext, member: str) -> str:
        w = world(ctx)
        if w.fed is not None:
            m = w.fed.members().get(member)
            return m.state if m else ""
        from ..federation.model import API_VERSION

        return str(((w.host.get(API_VERSION, "MemberCluster", None, member) or {}).get("status") or {}).get("state"))

    def _survivors(self, ctx: DrillContext) -> list[str]:
        return [m for m in world(ctx).members if m != ctx.state["lost"]]

    def _lost_pets(self, ctx: DrillContext) -> list[str]:
        start, n = ctx.state["slices"].get(ctx.state["lost"], (0, 0))
        return [f"{KV}-{o}" for o in range(start, start + n)]

    # -- the steps -----------------------------------------------------------------------------
    def preflight(self, ctx: DrillContext) -> list[str]:
        w = FedWorld(ctx, self.name)
        ctx.state["world"] = w
        reasons = w.preflight(need=2)
        lost = ctx.p("member") or (w.members[1] if len(w.members) > 1 else "")
        if lost and lost not in w.members:
            reasons.append(f"member {lost} is not one of {', '.join(w.members)}")
        if ctx.p("purge_mode") not in ("Directly", "Gracefully", "Never"):
            reasons.append(f"purge_mode {ctx.p('purge_mode')!r}: use Directly, Gracefully or Never")
        if not getattr(ctx.target, "is_sandbox", False):
            reasons.append("this drill isolates a member through the sandbox's control API; on real clusters block "
                           "the member's API endpoint yourself (security group / NACL) and watch with the timeline")
        ctx.state["lost"] = lost
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        w = world(ctx)
        w.start()
        ws = weights_param(ctx.p("weights"), len(w.members))
        ctx.state["fws"] = w.deploy(web_replicas=ctx.p("web_replicas"), weights=ws, purge_mode=ctx.p("purge_mode"))
        ctx.state["slices"] = dict(w.slices)
        lost = ctx.state["lost"]
        ctx.state["web_before"] = w.replicas()
        ctx.state["kv_before"] = {m: w.ctx.apps(m).read_namespaced_stateful_set(KV, w.ns).metadata.uid
                                  for m in w.members}
        ctx.state["pets_before"] = {m: w.pods(m, f"app={KV}") for m in w.members}
        start, n = ctx.state["slices"].get(lost, (0, 0))
        ctx.ledger = w.ledger(skip=lambda o: start <= o < start + n)  # the survivors' pets only
        ctx.state["auditor"] = w.auditor()

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        w = world(ctx)
        out = []
        for name in (w.web_fw, w.kv_fw):
            st = (w.fw(name).get("status") or {})
            out.append(Check(f"{name} Ready", st.get("phase") == "Ready", f"{st.get('phase')} {st.get('ready', '')}"))
        states = {m: self._state(ctx, m) for m in w.members}
        out.append(Check("every member Ready", all(s == "Ready" for s in states.values()),
                         ", ".join(f"{m} {s}" for m, s in states.items())))
        return out

    def inject(self, ctx: DrillContext) -> str:
        from .. import sandbox
        from .fedworld import sandbox_home

        lost = ctx.state["lost"]
        ctx.t0 = time.time()
        sandbox.set_reachable(lost, False, home=sandbox_home(ctx), mode=ctx.p("mode"))
        ctx.state["isolated"] = True
        return f"member {lost}: API server unreachable ({ctx.p('mode')})"

    def _health(self, ctx: DrillContext) -> dict[str, Any]:
        return world(ctx).health[ctx.state["lost"]]

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        w, lost = world(ctx), ctx.state["lost"]
        h = self._health(ctx)
        detect = h["periodSeconds"] * h["failureThreshold"] + h["timeoutSeconds"]
        total = ctx.p("web_replicas")
        survivors = self._survivors(ctx)
        hold = float(ctx.p("hold"))

        def offline(c: DrillContext) -> bool:
            ok = self._state(c, lost) == "Offline"
            if ok and "offline_at" not in c.state:
                c.state["offline_at"] = time.time()
            return ok

        def redivided(c: DrillContext) -> bool:
            return sum(w.replicas(members=survivors).values()) == total

        def ready(c: DrillContext) -> bool:
            ok = sum(w.replicas(members=survivors, field="status").values()) == total
            if ok and "ready_at" not in c.state:
                c.state["ready_at"] = time.time()
            return ok

        def held(c: DrillContext) -> bool:
            return time.time() >= c.state.get("ready_at", 0.0) + hold
        return [
            Wait(f"{lost} Offline", offline, ctx.budget(detect)),
            Wait(f"web re-divided over {', '.join(survivors)}", redivided, ctx.budget(w.resync_s + 1)),
            Wait("web's replacement replicas Ready", ready, ctx.budget(ctx.scaled("startup_budget"), minimum=10.0)),
            Wait(f"{lost} still lost for {hold:g} s", held, hold + 5.0),
        ]

    def _fault(self, ctx: DrillContext, kind: str) -> ex.FederationFault:
        w, h = world(ctx), self._health(ctx)
        return ex.FederationFault(kind, ctx.state["lost"], divided=(f"{w.ns}/{w.web_fw}",),
                                  stateful=(f"{w.ns}/{w.kv_fw}",),
                                  pets=tuple(f"{w.ns}/{p}" for p in self._lost_pets(ctx)),
                                  purge_mode=ctx.p("purge_mode"), period_s=h["periodSeconds"],
                                  timeout_s=h["timeoutSeconds"], failure_threshold=h["failureThreshold"],
                                  success_threshold=h["successThreshold"], resync_s=w.resync_s)

    def expected(self, ctx: DrillContext) -> ex.Expected:
        assert ctx.profile is not None
        return ex.expected_federation(self._fault(ctx, ex.MEMBER_LOSS), ctx.profile)

    def expected_remediation(self, ctx: DrillContext) -> ex.Expected | None:
        if "remediation_t0" not in ctx.state:
            return None
        assert ctx.profile is not None
        return ex.expected_federation(self._fault(ctx, ex.MEMBER_RESTORE), ctx.profile)

    def verify(self, ctx: DrillContext) -> list[Check]:
        from ..federation.model import API_VERSION

        w, lost = world(ctx), ctx.state["lost"]
        survivors = self._survivors(ctx)
        out = []
        mc = w.host.get(API_VERSION, "MemberCluster", None, lost) or {}
        conds = {c["type"]: c["status"] for c in (mc.get("status") or {}).get("conditions") or []}
        out.append(Check("the fault took effect: member Offline", (mc.get("status") or {}).get("state") == "Offline"
                         and conds.get("Offline") == "True", f"state {(mc.get('status') or {}).get('state')}, "
                         f"conditions {conds}"))
        if "offline_at" in ctx.state and ctx.t0 is not None:
            h = self._health(ctx)
            took = ctx.state["offline_at"] - ctx.t0
            budget = h["periodSeconds"] * h["failureThreshold"] + h["timeoutSeconds"] + 2.0
            out.append(Check("Offline within failureThreshold x period + timeout (+2 s)", took <= budget,
                             f"{took:.2f} s (budget {budget:g} s)"))
        now = w.replicas(members=survivors)
        out.append(Check("web re-divided over the healthy members", sum(now.values()) == ctx.p("web_replicas"),
                         ", ".join(f"{m} {n}" for m, n in now.items())))
        web = w.fw(w.web_fw).get("status") or {}
        task = next((t for t in web.get("evictions") or [] if t.get("cluster") == lost), None)
        out.append(Check(f"an eviction task for {lost} with purge mode {ctx.p('purge_mode')}",
                         bool(task and task.get("purgeMode") == ctx.p("purge_mode")), str(task)[:160]))
        kv = w.fw(w.kv_fw).get("status") or {}
        placement = {p["cluster"]: (p.get("ordinalStart"), p.get("replicas")) for p in kv.get("placement") or []}
        out.append(Check("the pets' slices did not move (lost member's slice kept)",
                         {c: (s, n) for c, (s, n) in ctx.state["slices"].items()} == placement
                         and not kv.get("evictions"), f"placement {placement}"))
        moved = {}
        for m in survivors:
            moved[m] = sorted(w.pods(m, f"app={KV}"))
        lost_pets = self._lost_pets(ctx)
        out.append(Check(f"{', '.join(lost_pets)} not recreated in another member",
                         not any(p in pods for pods in moved.values() for p in lost_pets),
                         "; ".join(f"{m}: {', '.join(p)}" for m, p in moved.items())))
        same = all(w.pods(m, f"app={KV}") == ctx.state["pets_before"][m] for m in survivors)
        out.append(Check("the survivors' pets rode through (same pods)", same))
        if ctx.ledger is not None:
            failed = [x for x in ctx.ledger.writes if not x.ok]
            out.append(Check("no failed write to the survivors' pets", not failed and bool(ctx.ledger.writes),
                             f"{len(ctx.ledger.writes)} writes, {len(failed)} failed"))
        out.append(ctx.state["auditor"].check())
        return out

    def remediate(self, ctx: DrillContext) -> None:
        from .. import sandbox
        from .fedworld import sandbox_home

        if not ctx.state.get("isolated"):
            return
        w, lost = world(ctx), ctx.state["lost"]
        ctx.state["remediation_t0"] = time.time()
        ctx.action(f"restore {lost}", sandbox.set_reachable, lost, True, home=sandbox_home(ctx), rollback=True)
        ctx.state["isolated"] = False
        if ctx.timeline is not None:
            ctx.timeline.mark(f"member {lost}: API server answers again", kind="recovery",
                              time=ctx.state["remediation_t0"])
        h = self._health(ctx)
        total = ctx.p("web_replicas")
        try:
            wait_until(f"{lost} Ready", lambda: self._state(ctx, lost) == "Ready",
                       ctx.budget(h["periodSeconds"] * h["successThreshold"] + h["timeoutSeconds"]))
            if ctx.p("purge_mode") != "Never":
                wait_until("the old web copy purged", lambda: lost not in w.replicas(),
                           ctx.budget(w.resync_s * 3 + 1))
                w.wait_fw(w.web_fw, "Ready", ctx.budget(w.resync_s * 3 + 1, minimum=10.0))
            else:
                time.sleep(max(1.0, w.resync_s * 3))
            ctx.state["remediation_end"] = time.time()
            every = w.replicas()
            want = total + (ctx.state["web_before"].get(lost, 0) if ctx.p("purge_mode") == "Never" else 0)
            ctx.check("no duplicated web replicas after recovery", sum(every.values()) == want,
                      f"{', '.join(f'{m} {n}' for m, n in every.items())} (want {want} in all)", phase="remediate")
            kept = {m: n for m, n in every.items() if m != lost}
            ctx.check("no rebalance back: the survivors keep what they took", sum(kept.values()) == total,
                      str(kept), phase="remediate")
            uids = {m: ctx.apps(m).read_namespaced_stateful_set(KV, w.ns).metadata.uid for m in w.members}
            ctx.check("the same StatefulSet in every member (nothing recreated)", uids == ctx.state["kv_before"],
                      phase="remediate")
            pets = w.pods(lost, f"app={KV}")
            ctx.check(f"the pets in {lost} are the same pods", pets == ctx.state["pets_before"][lost],
                      ", ".join(sorted(pets)), phase="remediate")
            w.wait_fw(w.kv_fw, "Ready", ctx.budget(w.resync_s * 3 + 1, minimum=10.0))
        except KitError as exc:
            ctx.state["remediation_end"] = time.time()
            ctx.check(f"{lost} back and reconciled", False, str(exc), phase="remediate")
        aud = ctx.state.get("auditor")
        if aud is not None:
            time.sleep(0.3)
            c = aud.check()
            ctx.check(c.name + " (through recovery)", c.passed, c.detail, phase="remediate")

    def cleanup(self, ctx: DrillContext) -> None:
        from .. import sandbox
        from .fedworld import sandbox_home

        errors = []
        if ctx.state.get("isolated"):
            try:
                sandbox.set_reachable(ctx.state["lost"], True, home=sandbox_home(ctx))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"restore {ctx.state['lost']}: {exc}")
        aud = ctx.state.get("auditor")
        if aud is not None:
            aud.stop()
        if "world" in ctx.state:
            errors += world(ctx).cleanup()
        if errors:
            raise KitError("cleanup incomplete: " + "; ".join(errors))
