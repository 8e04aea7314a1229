"""D12 ``pet-migration``: the planned, fenced move of pets from one member cluster to another.

The DR rehearsal of federation-drills.md §6(b) D12 (the KEP-3335 loop, §4): pets never move by
themselves, so moving a slice of a federated StatefulSet is an explicit procedure,
:func:`kubekit.federation.migrate.migrate`: scale the top ordinal down in the source, wait until
its pod is gone, hand its data over through a read-only petkv pod and a pre-filled claim in the
destination, move the slice boundary (``spec.ordinals.start``), and start the pet there.

The drill runs it under load (a ledger writes to every pet through its owner's member) with
the identity auditor watching every member, and checks: every step succeeded, never two pods
for one pet identity, the moved pet has all its data (exported checksum, every acknowledged
write readable: RPO 0), only the moved shard was unavailable (and for how long), the other
shards never failed, and the slices are what the plan said.
"""

from __future__ import annotations

import time

from ..errors import KitError
from .base import Check, Drill, DrillContext, Param, Wait, register
from .fedworld import KV, FedWorld, world


@register
class PetMigration(Drill):
    name = "pet-migration"
    catalogue_id = "D12"
    title = "Planned cross-cluster pet migration (ordinals.start)"
    description = ("Moves pets from one member cluster to its neighbour slice, one ordinal at a time, fenced: "
                   "the pet is gone before its data is copied and before it starts in the destination; never two "
                   "pods for one identity; every acknowledged write kept.")
    tags = ("federation", "statefulset", "migration", "ordinals")
    params = (
        Param("source", "", "member the pets leave (default: the first member by name)"),
        Param("dest", "", "member they move to (default: the member whose slice follows the source's)"),
        Param("count", 1, "how many pets to move (one at a time)"),
        Param("members", "", "comma-separated member contexts (default: the host's members, else the sandbox's)"),
        Param("kubeconfig", "", "kubeconfig with the host and member contexts (default: the sandbox's)"),
        Param("namespace", "", "namespace of the drill's pets (default: drill-pet-migration-<random>)"),
        Param("pets", 6, "petkv pets, in equal ordinal slices over the members"),
        Param("keep_source_claim", False, "keep the source's old claim after the move (default: released)"),
        Param("warmup_keys", 5, "acknowledged ledger writes each moving pet holds before the move (data to hand "
                                "over; at most 20 s of writing)"),
        Param("probe_period", 0, "health check period (s) for members the drill registers (0: 10 s x profile scale)"),
        Param("probe_timeout", 0, "health check timeout (s) for members the drill registers (0: 3 s x scale)"),
        Param("failure_threshold", 3, "failed probes before Offline, for members the drill registers"),
        Param("controller", True, "start a federation controller for the drill (false: use the one running)"),
    )

    def namespaces(self, ctx: DrillContext) -> list[str]:
        return [world(ctx).ns] if "world" in ctx.state else []

    def preflight(self, ctx: DrillContext) -> list[str]:
        w = FedWorld(ctx, self.name)
        ctx.state["world"] = w
        reasons = w.preflight(need=2)
        src = ctx.p("source") or (w.members[0] if w.members else "")
        if src not in w.members:
            reasons.append(f"source {src or '(none)'} is not one of {', '.join(w.members)}")
        dst = ctx.p("dest") or (w.members[w.members.index(src) + 1] if src in w.members and
                                w.members.index(src) + 1 < len(w.members) else "")
        if dst not in w.members:
            reasons.append(f"dest {dst or '(none)'} is not one of {', '.join(w.members)}")
        per = ctx.p("pets") // max(1, len(w.members))
        if ctx.p("count") < 1 or ctx.p("count") > per:
            reasons.append(f"count {ctx.p('count')}: each member holds {per} pet(s)")
        ctx.state.update(source=src, dest=dst)
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        from ..federation.migrate import migrate

        w = world(ctx)
        w.start()
        ctx.state["fws"] = w.deploy(web=False)
        ctx.state["slices_before"] = dict(w.slices)
        # The plan from the live objects (a dry run): refuses now if the slices are not neighbours.
        plan = migrate(w.host, w.kv_fw, ctx.state["source"], ctx.state["dest"], ctx.p("count"), namespace=w.ns,
                       dry_run=True, keep_source_claim=ctx.p("keep_source_claim")).plan
        ctx.state["plan"] = plan
        ctx.note("migration-planned", f"{len(plan.steps)} steps: move {', '.join(plan.pets())}")
        ctx.state["pets_before"] = {m: w.pods(m, f"app={KV}") for m in w.members}
        ctx.ledger = w.ledger()
        ctx.state["auditor"] = w.auditor()

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        w = world(ctx)
        st = w.fw(w.kv_fw).get("status") or {}
        where = {}
        for m in w.members:
            try:
                where[m] = sorted(w.pods(m, f"app={KV}"))
            except Exception as exc:  # noqa: BLE001
                where[m] = [f"unreachable: {type(exc).__name__}"]
        return [Check(f"{w.kv_fw} Ready", st.get("phase") == "Ready", f"{st.get('phase')} {st.get('ready', '')}"),
                Check(f"{w.pets} pets, each in one member",
                      sorted(p for ps in where.values() for p in ps) == sorted(f"{KV}-{i}" for i in range(w.pets)),
                      "; ".join(f"{m}: {', '.join(p)}" for m, p in where.items()))]

    def inject(self, ctx: DrillContext) -> str:
        from ..federation.migrate import MigrationFailed, migrate

        w = world(ctx)
        plan = ctx.state["plan"]
        from ..federation.rest import Rest

        if ctx.ledger is not None:  # the ledger fills the moving pets first: there is data to hand over
            want, moving = int(ctx.p("warmup_keys")), set(plan.pets())
            end = time.monotonic() + 20.0
            while time.monotonic() < end:
                acked = [x.shard for x in ctx.ledger.writes if x.ok]
                if all(acked.count(p) >= want for p in moving):
                    break
                time.sleep(0.05)
        ctx.t0 = time.time()
        members = {m: Rest(ctx.api(m), m, timeout=10) for m in w.members}
        try:
            res = migrate(w.host, w.kv_fw, plan.source, plan.dest, ctx.p("count"), namespace=w.ns,
                          keep_source_claim=ctx.p("keep_source_claim"), members=members, timeline=ctx.timeline,
                          progress=ctx.say, timeout=ctx.budget(ctx.scaled("startup_budget"), minimum=30.0))
        except MigrationFailed as exc:
            res = exc.result
            ctx.state["migration_error"] = str(exc)
        ctx.state["migration"] = res
        ctx.state["migration_end"] = time.time()
        return f"migration of {', '.join(plan.pets())} from {plan.source} to {plan.dest}"

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        w, plan = world(ctx), ctx.state["plan"]

        def settled(c: DrillContext) -> bool:
            return (w.fw(w.kv_fw).get("status") or {}).get("phase") == "Ready"

        def writes_back(c: DrillContext) -> bool:
            if c.ledger is None:
                return True
            last: dict[str, bool] = {}
            for x in c.ledger.writes:
                last[x.shard] = x.ok
            return all(last.get(p, True) for p in plan.pets())
        return [Wait(f"{', '.join(plan.pets())} Ready in {plan.dest}, {w.kv_fw} Ready", settled,
                     ctx.budget(ctx.scaled("startup_budget"), minimum=10.0)),
                Wait(f"writes to {', '.join(plan.pets())} acknowledged again", writes_back, 15.0)]

    def verify(self, ctx: DrillContext) -> list[Check]:
        w, plan = world(ctx), ctx.state["plan"]
        res = ctx.state.get("migration")
        out = []
        steps = len(res.records) if res is not None else 0
        out.append(Check("every migration step succeeded", res is not None and res.ok,
                         ctx.state.get("migration_error") or f"{steps}/{len(plan.steps)} steps"))
        out.append(ctx.state["auditor"].check())
        where = {m: sorted(w.pods(m, f"app={KV}")) for m in w.members}
        moved = [p for p in plan.pets() if p in where.get(plan.dest, []) and p not in where.get(plan.source, [])]
        out.append(Check(f"the fault took effect: {', '.join(plan.pets())} now in {plan.dest}",
                         moved == plan.pets(), "; ".join(f"{m}: {', '.join(p)}" for m, p in where.items())))
        want = {s.cluster: (s.start, s.replicas) for s in plan.after if s.replicas}
        got = {c: (s, n) for c, (s, n) in w.refresh_slices(force=True).items() if n}
        out.append(Check("the slices are what the plan said", got == want, f"now {got}, planned {want}"))
        if res is not None:
            unavailable = res.unavailable()
            ctx.state["unavailable_s"] = unavailable
            exported = {o: len(k) for o, k in res.exported.items()}
            out.append(Check("the moved pets' data handed over (exported = imported checksums, all keys held)",
                             any(r.step.action == "verify" and r.status == "succeeded" for r in res.records)
                             and len(exported) == len(plan.ordinals),
                             f"exported keys {exported}; unavailable {unavailable} s"))
            claims = [f"data-{p}" for p in plan.pets()]
            left = [c for c in claims if _claim(ctx, plan.source, w.ns, c)]
            if not ctx.p("keep_source_claim"):
                out.append(Check(f"the old claims released in {plan.source}", res.ok and not left,
                                 ", ".join(left) or "none left"))
        others = {m: p for m, p in ctx.state["pets_before"].items()}
        same = all(w.pods(m, f"app={KV}").get(name) == uid for m, pods in others.items() for name, uid in pods.items()
                   if name not in plan.pets())
        out.append(Check("the other pets untouched (same pods)", same))
        if ctx.ledger is not None:
            av = ctx.ledger.availability()
            moved_shards = set(plan.pets())
            hit = sorted(s.shard for s in av.shards if s.outages and s.shard not in moved_shards)
            out.append(Check("only the moved pets' shards were unavailable", not hit,
                             f"outages on {', '.join(hit)}" if hit else
                             ", ".join(f"{s.shard} RTO {s.rto:.2f} s" for s in av.shards if s.rto is not None)
                             or "no outage at all"))
        return out

    def cleanup(self, ctx: DrillContext) -> None:
        aud = ctx.state.get("auditor")
        if aud is not None:
            aud.stop()
        if "world" in ctx.state:
            errors = world(ctx).cleanup()
            if errors:
                raise KitError("cleanup incomplete: " + "; ".join(errors))


def _claim(ctx: DrillContext, cluster: str, ns: str, name: str) -> bool:
    try:
        ctx.core(cluster).read_namespaced_persistent_volume_claim(name, ns, _request_timeout=5)
        return True
    except Exception:  # noqa: BLE001 - 404: gone
        return False
