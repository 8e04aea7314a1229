"""D10 ``federation-controller-loss``: the federation controller dies mid-flight; the members do not care.

What should happen (federation-drills.md §6(b) D10; KubeFed and Karmada are push-based): the
members keep running what they were given (the data plane is unaffected: a ledger keeps
writing to every pet); nothing is propagated while no controller runs (a spec change made
meanwhile waits, and so does a hand-made change in a member, the drift); the dead controller's
Lease is not released, so it expires ``leaseDurationSeconds`` after its last renewal (KubeFed
15 s); a standby controller (started at once, as a second replica would run) takes the Lease
only then, and reconciles: it propagates the change, repairs the drift, and neither duplicates
nor deletes anything (the same objects, the same pets, no Purged or NotPlaced).

The fault: the drill's controller (a ``Federation`` thread) is stopped without releasing its
Lease, as a crashed or killed process leaves it (``Federation.stop(release=False)``).
"""

from __future__ import annotations

import time

from kubernetes.client.rest import ApiException

from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, Drill, DrillContext, Param, Wait, register
from .fedworld import KV, WEB, FedWorld, lease_holder, wait_until, weights_param, world

LEASE_OBJECT = "lease/kubekit-federation/kubekit-federation"


@register
class FederationControllerLoss(Drill):
    name = "federation-controller-loss"
    catalogue_id = "D10"
    title = "Lose the federation controller (it dies without releasing its Lease)"
    description = ("Stops the federation controller mid-flight: members keep serving, nothing propagates while it is "
                   "down, its Lease expires, a standby takes over and propagates the change and repairs the drift "
                   "made meanwhile, without duplicating or deleting anything.")
    tags = ("federation", "control-plane", "lease", "drift")
    params = (
        Param("members", "", "comma-separated member contexts (default: the host's members, else the sandbox's)"),
        Param("kubeconfig", "", "kubeconfig with the host and member contexts (default: the sandbox's)"),
        Param("namespace", "", "namespace of the drill's workloads (default: drill-<name>-<random>)"),
        Param("web_replicas", 4, "replicas of the stateless web Deployment"),
        Param("scale_to", 6, "web's replicas after the change made while the controller is down"),
        Param("weights", "1,1,1", "web's weights in member order"),
        Param("pets", 6, "petkv pets, in equal ordinal slices over the members"),
        Param("drift_replicas", 7, "replicas written by hand into the first member's web Deployment while down"),
        Param("standby", True, "a warm standby replica runs before the crash, as in an HA deployment (false: a "
                               "new controller is started right after the crash and builds its clients then)"),
        Param("probe_period", 0, "health check period (s) for members the drill registers (0: 10 s x profile scale)"),
        Param("probe_timeout", 0, "health check timeout (s) for members the drill registers (0: 3 s x scale)"),
        Param("failure_threshold", 3, "failed probes before Offline, for members the drill registers"),
        Param("controller", True, "must be true: the drill crashes a controller of its own"),
    )

    def namespaces(self, ctx: DrillContext) -> list[str]:
        return [world(ctx).ns] if "world" in ctx.state else []

    # -- the steps -----------------------------------------------------------------------------
    def preflight(self, ctx: DrillContext) -> list[str]:
        w = FedWorld(ctx, self.name)
        ctx.state["world"] = w
        reasons = w.preflight(need=2)
        if not ctx.p("controller"):
            reasons.append("controller=false: this drill kills a controller it started itself, never yours")
        if ctx.p("scale_to") == ctx.p("web_replicas"):
            reasons.append("scale_to equals web_replicas: the change made while down would not be visible")
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        w = world(ctx)
        w.start()
        ctx.state["fws"] = w.deploy(web_replicas=ctx.p("web_replicas"),
                                    weights=weights_param(ctx.p("weights"), len(w.members)))
        ctx.state["drifted_member"] = w.members[0]
        ctx.state["web_uids"] = self._uids(ctx, "Deployment", WEB)
        ctx.state["kv_uids"] = self._uids(ctx, "StatefulSet", KV)
        ctx.state["pets_before"] = {m: w.pods(m, f"app={KV}") for m in w.members}
        ctx.state["old_identity"] = w.fed.identity
        ctx.state["primary"] = w.fed
        if ctx.p("standby"):  # a second replica: waits for the Lease with its member clients ready
            self._start_standby(ctx)
            wait_until("the standby warmed up", lambda: w.fed.passes >= 2,
                       ctx.budget(w.resync_s * 2, minimum=30.0))
        ctx.ledger = w.ledger()
        ctx.state["auditor"] = w.auditor()

    def _uids(self, ctx: DrillContext, kind: str, name: str) -> dict[str, str]:
        w = world(ctx)
        out = {}
        for m in w.members:
            api = ctx.apps(m)
            obj = (api.read_namespaced_deployment(name, w.ns) if kind == "Deployment"
                   else api.read_namespaced_stateful_set(name, w.ns))
            out[m] = obj.metadata.uid
        return out

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        w = world(ctx)
        out = []
        for name in (w.web_fw, w.kv_fw):
            st = w.fw(name).get("status") or {}
            out.append(Check(f"{name} Ready", st.get("phase") == "Ready", f"{st.get('phase')} {st.get('ready', '')}"))
        holder, expires = lease_holder(w.host)
        out.append(Check("a federation controller holds the Lease", bool(holder) and expires > time.time(), holder))
        return out

    def inject(self, ctx: DrillContext) -> str:
        from .. import federation

        w = world(ctx)
        ctx.t0 = time.time()
        ctx.state["primary"].stop(release=False)   # crash: the Lease is left to expire
        ctx.state["crashed"] = True
        ctx.note("controller-crashed", f"{ctx.state['old_identity']} stopped without releasing its Lease")
        # While it is down: a spec change (must wait) and a hand-made change in a member (drift).
        fw = w.fw(w.web_fw)
        tmpl = fw["spec"]["template"]
        tmpl["spec"]["replicas"] = ctx.p("scale_to")
        new = federation.federated_workload(WEB, tmpl, namespace=w.ns,
                                            weights=dict(zip(w.members, weights_param(ctx.p("weights"),
                                                                                      len(w.members)))),
                                            clusters=w.members, purge_mode="Gracefully", grace_period_s=600)
        federation.apply_workload(w.host, new)
        ctx.note("spec-changed", f"{w.ns}/{WEB} replicas {ctx.p('web_replicas')} -> {ctx.p('scale_to')}")
        m = ctx.state["drifted_member"]
        try:
            ctx.apps(m).patch_namespaced_deployment_scale(WEB, w.ns, {"spec": {"replicas": ctx.p("drift_replicas")}})
        except ApiException as exc:
            raise KubeError(f"scale {WEB} in {m} by hand", exc) from exc
        ctx.note("drift-made", f"{m}: {WEB} scaled to {ctx.p('drift_replicas')} by hand", cluster=m)
        ctx.state["down_replicas"] = w.replicas()
        if not ctx.p("standby"):
            self._start_standby(ctx)
        return f"federation controller {ctx.state['old_identity']} crashed (Lease not released)"

    def _start_standby(self, ctx: DrillContext) -> None:
        import uuid

        from ..federation import Federation

        w = world(ctx)
        w.fed = Federation(w.host, resync_s=w.resync_s, timeline=ctx.timeline, lease_duration_s=w.lease_s,
                           identity=f"drill-standby-{uuid.uuid4().hex[:6]}", install=False).start()
        ctx.state["new_identity"] = w.fed.identity
        ctx.note("standby-started", w.fed.identity)

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        w = world(ctx)
        old, new = ctx.state["old_identity"], ctx.state["new_identity"]
        total = ctx.p("scale_to")
        drifted = ctx.state["drifted_member"]

        def expired(c: DrillContext) -> bool:
            holder, expires = lease_holder(w.host)
            if holder == old and expires > time.time():
                return False
            if "lease_expired_at" not in c.state:
                at = min(time.time(), expires) if holder == old else time.time()
                c.state["lease_expired_at"] = at
                c.state["replicas_at_expiry"] = w.replicas()
                if c.timeline is not None:
                    c.timeline.add("lease", "lease-expired", f"{old} stopped renewing", object=LEASE_OBJECT, time=at)
            return True

        def leads(c: DrillContext) -> bool:
            holder, expires = lease_holder(w.host)
            return holder == new and expires > time.time()

        def propagated(c: DrillContext) -> bool:
            return sum(w.replicas().values()) == total and drifted in w.replicas()

        def repaired(c: DrillContext) -> bool:
            want = {p["cluster"]: p.get("replicas") for p in (w.fw(w.web_fw).get("status") or {}).get("placement")
                    or []}
            return bool(want) and w.replicas() == want

        def ready(c: DrillContext) -> bool:
            return all((w.fw(n).get("status") or {}).get("phase") == "Ready" for n in (w.web_fw, w.kv_fw))
        lease = float(w.lease_s)
        return [
            Wait("the dead controller's Lease expired", expired, ctx.budget(lease)),
            Wait("the standby leads", leads, ctx.budget(w.resync_s + 1)),
            Wait(f"the change made while down propagated ({total} web replicas)", propagated,
                 ctx.budget(w.resync_s + 1)),
            Wait("the drift made while down repaired", repaired, ctx.budget(w.resync_s + 1)),
            Wait("every workload Ready", ready, ctx.budget(ctx.scaled("startup_budget"), minimum=10.0)),
        ]

    def expected(self, ctx: DrillContext) -> ex.Expected:
        w = world(ctx)
        assert ctx.profile is not None
        ref = f"{w.ns}/{w.web_fw}"
        return ex.expected_federation(ex.FederationFault(ex.CONTROLLER_LOSS, resync_s=w.resync_s,
                                                         lease_duration_s=w.lease_s, changed=(ref,),
                                                         drifted=(ref,)), ctx.profile)

    def verify(self, ctx: DrillContext) -> list[Check]:
        w = world(ctx)
        out = []
        tl = ctx.timeline
        elected = tl.first("LeaderElected", since=ctx.t0) if tl is not None else None
        out.append(Check("the fault took effect: the Lease changed hands only after expiry",
                         elected is not None and "lease_expired_at" in ctx.state
                         and elected.time >= ctx.state["lease_expired_at"] - 0.05,
                         f"expired at +{ctx.state.get('lease_expired_at', 0) - (ctx.t0 or 0):.2f} s, new leader at "
                         f"+{(elected.time - (ctx.t0 or 0)) if elected else float('nan'):.2f} s"))
        down, at_expiry = ctx.state.get("down_replicas", {}), ctx.state.get("replicas_at_expiry", {})
        out.append(Check("nothing propagated while no controller ran", bool(at_expiry) and at_expiry == down,
                         f"while down {down}; at expiry {at_expiry}"))
        early = [e for e in (tl.entries(source="federation", since=ctx.t0) if tl is not None else [])
                 if e.what in ("Propagated", "Updated", "DriftRepaired") and elected is not None
                 and e.time < elected.time]
        out.append(Check("no federation action before the takeover", not early,
                         "; ".join(f"{e.what} {e.detail}"[:60] for e in early[:3])))
        out.append(Check("the same member objects (nothing recreated)",
                         self._uids(ctx, "Deployment", WEB) == ctx.state["web_uids"]
                         and self._uids(ctx, "StatefulSet", KV) == ctx.state["kv_uids"]))
        pets = {m: w.pods(m, f"app={KV}") for m in w.members}
        out.append(Check("the same pets (members kept serving)", pets == ctx.state["pets_before"],
                         "; ".join(f"{m}: {', '.join(sorted(p))}" for m, p in pets.items())))
        bad = [e for e in (tl.entries(source="federation", since=ctx.t0) if tl is not None else [])
               if e.what in ("Purged", "NotPlaced", "Deleted", "FailoverStarted")]
        out.append(Check("no deletion, purge or failover by the new controller", not bad,
                         "; ".join(f"{e.what} {e.detail}"[:60] for e in bad[:3])))
        if ctx.ledger is not None:
            failed = [x for x in ctx.ledger.writes if not x.ok]
            out.append(Check("data plane unaffected: no failed write", not failed and bool(ctx.ledger.writes),
                             f"{len(ctx.ledger.writes)} writes, {len(failed)} failed"))
        out.append(ctx.state["auditor"].check())
        return out

    def cleanup(self, ctx: DrillContext) -> None:
        aud = ctx.state.get("auditor")
        if aud is not None:
            aud.stop()
        errors = []
        if "world" in ctx.state:
            w = world(ctx)
            primary = ctx.state.get("primary")
            if primary is not None and w.fed is not primary and not ctx.state.get("crashed"):
                primary.stop()                  # the standby was never needed
            if ctx.state.get("crashed") and (w.fed is None or not w.fed.running):
                try:
                    self._start_standby(ctx)    # somebody must remove the workloads
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"restart a controller: {exc}")
            errors += w.cleanup()
        if errors:
            raise KitError("cleanup incomplete: " + "; ".join(errors))
