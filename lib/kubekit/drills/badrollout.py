"""D2 ``bad-rollout``: a RollingUpdate with a partition canary to an image that cannot be pulled, then the rollback.

What should happen (federation-drills.md §6(b) D2; sim-fidelity ST-09, ST-15, ST-17, kubelet
image pulls): the StatefulSet controller replaces the highest ordinal first; the new pod's
image pull fails (``ErrImagePull``, then ``ImagePullBackOff``) and it never becomes Ready, so
the rollout stops there: the other ordinals of the canary range are *not* updated (no progress
past a broken pet) and the pets below the partition are never touched. Only the broken pet's
shard stops taking writes; the others keep serving.

Remediation, as the StatefulSet documentation says ("Forced rollback"): revert the template
(``kubectl rollout undo``); that alone does not repair it, the controller keeps waiting for the
broken pet, so then delete the pods that ran the bad revision (only those, and only while they
are not Ready). They come back at the reverted revision with their own claims.

The set keeps the default ``podManagementPolicy: OrderedReady``: with it a broken pet blocks the
controller, which is what the forced rollback is about.

The image: ``<petkv image repo>:kubekit-drill-missing`` unless given; on a real registry that tag
does not exist. kubesim pulls every image, so in the sandbox the drill marks it unavailable
through kubesim's documented control endpoint (``PUT /kubesim/v1/images/unavailable``, the
registry's answer, not the cluster's API) and unmarks it afterwards; on other clusters that
endpoint does not exist and nothing is done.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes.client.rest import ApiException

from .. import pets
from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, DrillContext, Param, Wait, register
from .petbase import FIRST, START, PetDrill, ready_of

REVISION = "controller-revision-hash"
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff")
IMAGES_PATH = "/kubesim/v1/images/unavailable"


def _kubesim(api: Any, method: str, body: Any = None) -> Any:
    """A call to kubesim's control endpoint through the client's transport; None when the cluster has none."""
    m, url, hdrs, b, _ = api.param_serialize(method, IMAGES_PATH, header_params={"Content-Type": "application/json"},
                                             body=body, auth_settings=["BearerToken"])
    try:
        resp = api.call_api(m, url, header_params=hdrs, body=b, _request_timeout=10)
        data = resp.read()
    except ApiException as exc:
        if exc.status in (403, 404):
            return None
        raise KubeError(f"{method} {IMAGES_PATH}", exc) from exc
    if resp.status in (403, 404):
        return None
    if resp.status >= 300:
        raise KitError(f"{method} {IMAGES_PATH}: {resp.status} {data[:200]!r}")
    return json.loads(data or b"null")


def waiting_reason(pod: Any) -> str:
    for cs in (pod.status.container_statuses or []) if pod is not None else []:
        if cs.state and cs.state.waiting and cs.state.waiting.reason:
            return str(cs.state.waiting.reason)
    return ""


@register
class BadRollout(PetDrill):
    name = "bad-rollout"
    catalogue_id = "D2"
    title = "Bad rollout with a partition canary, then the rollback"
    description = ("Rolls the pets to an image that cannot be pulled, with a partition: the highest ordinal breaks "
                   "(ImagePullBackOff), the rollout stalls there, the others keep serving; rolled back by reverting "
                   "the template and deleting the broken pet.")
    tags = ("statefulset", "rollout", "image", "ledger")
    params = (*PetDrill.common_params,
              Param("partition", 1, "RollingUpdate partition: ordinals >= start + partition are the canary range"),
              Param("bad_image", "", "image to roll to (default: <petkv image repo>:kubekit-drill-missing)"),
              Param("hold", 60.0, "upstream seconds to watch the rollout stay stalled"),
              Param("rollback", True, "revert the template and delete the broken pets (else leave it broken)"))

    def _bad(self, ctx: DrillContext) -> str:
        return str(ctx.p("bad_image")) or f"{self.ps(ctx).image.rsplit(':', 1)[0]}:kubekit-drill-missing"

    def _sts(self, ctx: DrillContext) -> Any:
        return ctx.apps().read_namespaced_stateful_set(self.ps(ctx).name, self._ns(ctx))

    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = self.common_preflight(ctx)
        part, n = int(ctx.p("partition")), int(ctx.p("replicas"))
        if part < 1:
            reasons.append("partition must be at least 1: with 0 no pet is kept out of the rollout (no canary)")
        elif part >= n:
            reasons.append(f"partition {part} >= replicas {n}: no pet would be updated, nothing to observe")
        return reasons

    # -- the fault -----------------------------------------------------------------------------
    def inject(self, ctx: DrillContext) -> str:
        api, ps = ctx.api(), self.ps(ctx)
        sts = self._sts(ctx)
        c = next(c for c in sts.spec.template.spec.containers if c.name == ps.container)
        strategy = sts.spec.update_strategy
        ctx.state.update(good_image=c.image, current_revision=sts.status.current_revision,
                         old_partition=(strategy.rolling_update.partition or 0) if strategy.rolling_update else 0,
                         bad_image=self._bad(ctx), uids={p.name: p.uid for p in pets.pets_now(api, ps).values()})
        marked = _kubesim(api, "GET")
        if marked is not None:  # the sandbox's registry: the tag is gone from it
            ctx.state["images_before"] = list(marked.get("images") or [])
            _kubesim(api, "PUT", {"images": sorted({*ctx.state["images_before"], self._bad(ctx)})})
            ctx.note("image-unavailable", f"{self._bad(ctx)} marked unavailable in the sandbox registry")
        self.baseline(ctx)
        first = ps.ordinals_start + int(ctx.p("partition"))
        ctx.state["canary_range"] = [ps.pet(o) for o in ps.ordinals if o >= first]
        ctx.state["broken"] = ps.pet(ps.ordinals[-1])
        ctx.t0 = time.time()
        patch = {"spec": {"updateStrategy": {"type": "RollingUpdate",
                                             "rollingUpdate": {"partition": int(ctx.p("partition"))}},
                          "template": {"spec": {"containers": [{"name": ps.container, "image": self._bad(ctx)}]}}}}
        try:
            ctx.apps().patch_namespaced_stateful_set(ps.name, self._ns(ctx), patch)
        except ApiException as exc:
            raise KubeError(f"patch statefulset {ps.name}", exc) from exc
        return f"roll {ps.name} to {self._bad(ctx)} with partition {ctx.p('partition')}"

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        top = ctx.state["broken"]

        def replaced(c: DrillContext) -> bool:
            p = self.pet(c, top)
            return bool(p and p.metadata.uid != c.state["uids"].get(top) and not p.metadata.deletion_timestamp)

        def failing(c: DrillContext) -> bool:
            ok = replaced(c) and waiting_reason(self.pet(c, top)) in PULL_FAILURES
            if ok and "failing_at" not in c.state:
                c.state["failing_at"] = time.time()
            return ok

        hold = max(0.5, float(ctx.p("hold")) * (ctx.profile.scale if ctx.profile else 1.0))

        def held(c: DrillContext) -> bool:
            return time.time() >= c.state.get("failing_at", float("inf")) + hold

        return [Wait(f"{top} replaced at the new revision", replaced, b(s("default_termination_grace"), minimum=FIRST)),
                Wait(f"{top} fails to pull its image", failing, b(s("startup_budget"), minimum=START)),
                Wait(f"the rollout stays stalled for {hold:g} s", held, hold + 5.0)]

    def expected(self, ctx: DrillContext) -> ex.Expected:
        before = ctx.state["before"]
        pods = tuple(ex.PodRef(self._ns(ctx), name, b.node, "pet", volume=b.pv) for name, b in before.items())
        ps = self.ps(ctx)
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.BAD_ROLLOUT, (), pods, ctx.primary,
                                    {"partition": ps.ordinals_start + int(ctx.p("partition"))}), ctx.profile)

    def verify(self, ctx: DrillContext) -> list[Check]:
        ps, top = self.ps(ctx), ctx.state["broken"]
        now = pets.pets_now(ctx.api(), ps)
        st = ctx.apps().read_namespaced_stateful_set_status(ps.name, self._ns(ctx)).status
        ctx.state["update_revision"] = st.update_revision
        pod = self.pet(ctx, top)
        reason = waiting_reason(pod)
        broken = bool(pod and pod.metadata.uid != ctx.state["uids"].get(top) and reason in PULL_FAILURES
                      and ready_of(pod) != "True")
        out = [ctx.check(f"the fault took effect: {top} broken at the new revision",
                         broken and (pod.metadata.labels or {}).get(REVISION) == st.update_revision,
                         f"{reason or 'not waiting'}, revision {(pod.metadata.labels or {}).get(REVISION, '-')}"
                         if pod else "missing")]
        others = [p for p in ctx.state["uids"] if p != top]
        untouched = [p for p in others if now.get(_ordinal(p)) and now[_ordinal(p)].uid == ctx.state["uids"][p]
                     and now[_ordinal(p)].ready]
        out.append(ctx.check("only the canary broke: the other pets untouched and Ready",
                             sorted(untouched) == sorted(others), f"untouched: {', '.join(untouched) or 'none'}"))
        waiting = [p for p in ctx.state["canary_range"] if p != top]
        out.append(ctx.check("the rollout stalled at the broken pet",
                             (st.updated_replicas or 0) == 1 and st.current_revision != st.update_revision
                             and all(now[_ordinal(p)].revision == ctx.state["current_revision"] for p in waiting
                                     if _ordinal(p) in now),
                             f"updated {st.updated_replicas or 0}/{st.replicas}, ready {st.ready_replicas or 0}; "
                             f"waiting: {', '.join(waiting) or 'none'}"))
        shards = self.ledger_shards(ctx)
        if shards:
            down = sorted(s for s, a in shards.items() if a.outages)
            out.append(ctx.check("only the broken pet's shard failed writes", down == [top],
                                 f"shards with failed writes: {', '.join(down) or 'none'}"))
        return out

    # -- remediation ---------------------------------------------------------------------------
    def remediate(self, ctx: DrillContext) -> None:
        if "good_image" not in ctx.state:
            return
        ps, ns = self.ps(ctx), self._ns(ctx)
        if not ctx.p("rollback"):
            return
        patch = {"spec": {"updateStrategy": {"type": "RollingUpdate",
                                             "rollingUpdate": {"partition": ctx.state["old_partition"]}},
                          "template": {"spec": {"containers": [{"name": ps.container,
                                                                "image": ctx.state["good_image"]}]}}}}
        ctx.action("revert the template (rollout undo)", ctx.apps().patch_namespaced_stateful_set, ps.name, ns,
                   patch, rollback=True)
        if ctx.timeline is not None:
            ctx.timeline.mark(f"revert {ps.name} to {ctx.state['good_image']}", kind="remediation")
        # Known issue (statefulset.md "Forced rollback"): the controller still waits for the broken pet.
        bad_rev = ctx.state.get("update_revision")
        time.sleep(min(1.0, max(0.2, ctx.scaled("node_monitor_period"))))
        broken = [p for p in pets.pets_now(ctx.api(), ps).values()
                  if bad_rev and p.revision == bad_rev and not p.ready and not p.terminating]
        ctx.state["still_broken_after_revert"] = [p.name for p in broken]
        ctx.note("revert-alone", f"after the revert, still at the bad revision: "
                                 f"{', '.join(p.name for p in broken) or 'none'}")
        ctx.state["remediation_t0"] = time.time()
        if ctx.timeline is not None:
            ctx.timeline.mark(f"delete the broken pets {', '.join(p.name for p in broken) or '(none)'}",
                              kind="remediation", time=ctx.state["remediation_t0"])
        for p in broken:  # guarded: only pets at the bad revision that are not Ready
            ctx.action(f"delete {p.name} (bad revision, not Ready)", ctx.core().delete_namespaced_pod, p.name, ns,
                       rollback=True)
        ctx.state["deleted_broken"] = [p.name for p in broken]
        try:
            ctx.wait("every pet Ready at the reverted revision", lambda: self._rolled_back(ctx),
                     ctx.budget(ctx.scaled("startup_budget") * max(1, len(broken)), minimum=START))
            self.settle(ctx, [p.name for p in broken], ctx.state["remediation_t0"])
            ctx.state["remediation_end"] = time.time()
            ctx.check("rolled back: every pet Ready at the reverted revision", True, phase="remediate")
        except KitError as exc:
            ctx.state["remediation_end"] = time.time()
            ctx.check("rolled back: every pet Ready at the reverted revision", False, str(exc), phase="remediate")
        self.identity_checks(ctx, [ctx.state["broken"]], phase="remediate")
        self.data_checks(ctx, phase="remediate")
        self._unmark(ctx)

    def _rolled_back(self, ctx: DrillContext) -> bool:
        ps = self.ps(ctx)
        st = ctx.apps().read_namespaced_stateful_set_status(ps.name, self._ns(ctx)).status
        now = pets.pets_now(ctx.api(), ps)
        return bool(st.update_revision and all(p.revision == st.update_revision for p in now.values())
                    and self.all_ready(ctx))

    def expected_remediation(self, ctx: DrillContext) -> ex.Expected | None:
        names = ctx.state.get("deleted_broken") or []
        if not names:
            return None
        before = ctx.state["before"]
        pods = tuple(ex.PodRef(self._ns(ctx), n, before[n].node, "pet", volume=before[n].pv) for n in names)
        assert ctx.profile is not None
        exp = ex.expected(ex.Fault(ex.POD_DELETE, (), pods, ctx.primary), ctx.profile)
        return ex.Expected(exp.fault, exp.profile, exp.phases,
                           exp.notes + ("forced rollback: " + ex.RULE_SOURCES["forced-rollback"],))

    def _unmark(self, ctx: DrillContext) -> None:
        if "images_before" in ctx.state:
            _kubesim(ctx.api(), "PUT", {"images": ctx.state.pop("images_before")})

    def cleanup(self, ctx: DrillContext) -> None:
        try:
            self._unmark(ctx)
        finally:
            super().cleanup(ctx)


def _ordinal(name: str) -> int:
    return int(name.rsplit("-", 1)[-1])
