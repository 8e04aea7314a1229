"""D3 ``node-drain``: drain a node under a PodDisruptionBudget, the way ``kubectl drain`` does.

What should happen (federation-drills.md §6(b) D3; kubernetes/website safely-drain-node.md,
api-eviction.md): the node is cordoned, then every pod on it is evicted through the eviction
API. The budget (``maxUnavailable: 1``) lets one pet go; every other eviction is answered
**429** "Cannot evict pod as it would violate the pod's disruption budget." and retried (kubectl:
every 5 s) until the evicted pet is Ready again, so the pets move **one at a time**, each to
another node of its own zone (its EBS volume is zonal). Never more than maxUnavailable pets are
down; no pet is left Pending on a volume node affinity conflict.

The drill's pets all prefer the drained node (a preferred node affinity, no zone spread), so the
budget has something to refuse. Pre-flight refuses when no budget would protect the pets (``pdb``
false), when the node carries pods that ``kubectl drain`` would refuse without ``--force`` (no
controller), or pets of other sets without a budget, and when the node's zone has no other
schedulable node. Remediation: uncordon.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from .. import pets
from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, DrillContext, Param, Wait, register
from .petbase import FIRST, START, PetDrill, pick_node, prefer_node, zone_of

MIRROR = "kubernetes.io/config.mirror"


def _owner_kind(pod: Any) -> str:
    return next((r.kind for r in pod.metadata.owner_references or [] if r.controller), "")


def drainable(pods: list[Any]) -> tuple[list[Any], list[Any]]:
    """(pods kubectl drain evicts, pods it refuses without --force); DaemonSet and mirror pods are skipped."""
    evict, refuse = [], []
    for p in pods:
        if (p.metadata.annotations or {}).get(MIRROR) or _owner_kind(p) == "DaemonSet":
            continue
        if p.status.phase in ("Succeeded", "Failed"):
            continue
        (evict if _owner_kind(p) else refuse).append(p)
    return evict, refuse


@register
class NodeDrain(PetDrill):
    name = "node-drain"
    catalogue_id = "D3"
    title = "Drain a node under a PodDisruptionBudget"
    description = ("Cordons a node and evicts its pods through the eviction API: the budget answers 429 while it "
                   "would be violated, the pets move one at a time to another node of their zone.")
    tags = ("node", "drain", "pdb", "eviction", "statefulset", "ledger")
    params = (Param("node", "", "node to drain (default: the first node of a zone with another schedulable node)"),
              *PetDrill.common_params,
              Param("pdb", True, "protect the pets with a PodDisruptionBudget (false: pre-flight refuses)"),
              Param("max_unavailable", 1, "the budget's maxUnavailable"))

    def describe(self, ctx: DrillContext) -> pets.PetSet:
        # No zone spread, all pets preferring the node: the budget has something to refuse. They start in
        # parallel (updates stay ordered): the drill is about the drain, not ordered creation.
        return dataclasses.replace(super().describe(ctx), zone_spread="", pod_management="Parallel",
                                   max_unavailable=int(ctx.p("max_unavailable")) if ctx.p("pdb") else 0)

    def shape(self, ctx: DrillContext, sts: dict[str, Any]) -> None:
        sts["spec"]["template"]["spec"]["affinity"] = prefer_node(ctx.state["victim"])

    # -- pre-flight ----------------------------------------------------------------------------
    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = self.common_preflight(ctx)
        if not ctx.p("pdb"):
            reasons.append("no PodDisruptionBudget would cover the pets: a drain evicts them all at once (kubectl "
                           "drain evicts in parallel); set pdb=true or give the set a budget first")
        if int(ctx.p("max_unavailable")) < 1:
            reasons.append("max_unavailable must be at least 1 (0 blocks every eviction: the drain never ends)")
        nodes = ctx.core().list_node().items
        node, by_zone = pick_node(nodes, str(ctx.p("node")))
        if node is None:
            return reasons + [f"node {ctx.p('node') or '(none)'} not found: pass node=<a Ready node>"]
        victim = node.metadata.name
        zone = zone_of(node)
        ctx.state.update(victim=victim, zone=zone)
        if not [n for n in by_zone.get(zone, []) if n != victim]:
            reasons.append(f"no other schedulable node in zone {zone}: the pets' zonal volumes could not follow them "
                           "(no capacity left in the zone)")
        on_node = ctx.core().list_pod_for_all_namespaces(field_selector=f"spec.nodeName={victim}").items
        evict, refuse = drainable(on_node)
        if refuse:
            reasons.append(f"{len(refuse)} pod(s) on {victim} have no controller ("
                           f"{', '.join(f'{p.metadata.namespace}/{p.metadata.name}' for p in refuse[:3])}): kubectl "
                           "drain refuses them without --force, and they would not come back")
        budgets = k8s.PolicyV1Api(ctx.api()).list_pod_disruption_budget_for_all_namespaces().items
        for p in evict:
            if _owner_kind(p) != "StatefulSet":
                continue
            covered = any(b.metadata.namespace == p.metadata.namespace and _selects(b, p) for b in budgets)
            if not covered:
                reasons.append(f"pet {p.metadata.namespace}/{p.metadata.name} on {victim} has no "
                               "PodDisruptionBudget: the drain could take its set below quorum")
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        super().prepare(ctx)
        off = [name for name, b in ctx.state["before"].items() if b.node != ctx.state["victim"]]
        if off:
            raise KitError(f"{', '.join(off)} not scheduled on {ctx.state['victim']}: the drill needs its pets on the "
                           "node it drains (is the node full?)")

    # -- the fault -----------------------------------------------------------------------------
    def inject(self, ctx: DrillContext) -> str:
        victim = ctx.state["victim"]
        self.baseline(ctx)
        ctx.state.update(evicted=[], refusals={}, drain_error="", drain_done=False)
        ctx.t0 = time.time()
        try:
            ctx.core().patch_node(victim, {"spec": {"unschedulable": True}})
        except ApiException as exc:
            raise KubeError(f"cordon {victim}", exc) from exc
        ctx.state["cordoned"] = True
        stop = threading.Event()
        ctx.state["drain_stop"] = stop
        thread = threading.Thread(target=self._drain, args=(ctx, stop), name="kubekit-drain", daemon=True)
        ctx.state["drain_thread"] = thread
        thread.start()
        return f"kubectl drain {victim} (cordon, then the eviction API)"

    def _drain(self, ctx: DrillContext, stop: threading.Event) -> None:
        """kubectl drain's loop: evict every pod; on 429 retry after the (scaled) 5 s; stop when none is left."""
        victim, core = ctx.state["victim"], ctx.core()
        retry = max(0.05, ctx.scaled("drain_retry"))
        try:
            pending = {(p.metadata.namespace, p.metadata.name): p for p in drainable(
                core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={victim}").items)[0]}
            while pending and not stop.is_set():
                for (ns, name) in sorted(pending):
                    body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name=name, namespace=ns))
                    try:
                        core.create_namespaced_pod_eviction(name, ns, body)
                        ctx.state["evicted"].append(name if ns == self._ns(ctx) else f"{ns}/{name}")
                        del pending[(ns, name)]
                    except ApiException as exc:
                        if exc.status == 404:
                            del pending[(ns, name)]
                        elif exc.status == 429:
                            n = ctx.state["refusals"].get(name, 0)
                            ctx.state["refusals"][name] = n + 1
                            if n == 0 and ctx.timeline is not None:
                                ctx.timeline.add("eviction-api", "eviction-refused", _message(exc),
                                                 object=f"pod/{ns}/{name}", cluster=ctx.primary, status=429)
                        else:
                            raise KubeError(f"evict {ns}/{name}", exc) from exc
                if pending:
                    stop.wait(retry)
        except Exception as exc:  # noqa: BLE001 - reported by the observation and verification
            ctx.state["drain_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            ctx.state["drain_done"] = True

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        victim, n = ctx.state["victim"], len(ctx.state["before"])
        per_pet = s("default_termination_grace") + s("volume_detach_budget") + s("startup_budget") + s("drain_retry")
        waits = []
        if n > int(ctx.p("max_unavailable")):
            waits.append(Wait("an eviction refused (429) by the budget", lambda c: bool(c.state["refusals"]),
                              b(s("drain_retry"), minimum=FIRST)))

        def drained(c: DrillContext) -> bool:
            if c.state["drain_error"]:
                raise KitError(c.state["drain_error"])
            left = drainable(c.core().list_pod_for_all_namespaces(field_selector=f"spec.nodeName={victim}").items)[0]
            return bool(c.state["drain_done"]) and not left

        waits.append(Wait(f"{victim} drained (every pod evicted and gone)", drained, b(per_pet * n, minimum=START * n)))
        waits.append(Wait("every pet Ready on another node", lambda c: self._moved(c), b(per_pet, minimum=START)))
        waits.append(self.seen_ready(list(ctx.state["before"])))
        return waits

    def _moved(self, ctx: DrillContext) -> bool:
        now = pets.pets_now(ctx.api(), self.ps(ctx))
        return self.all_ready(ctx) and all(p.node != ctx.state["victim"] for p in now.values())

    def _order(self, ctx: DrillContext) -> list[str]:
        mine = set(ctx.state["before"])
        return [p for p in ctx.state.get("evicted", []) if p in mine]

    def expected(self, ctx: DrillContext) -> ex.Expected:
        before, ns = ctx.state["before"], self._ns(ctx)
        order = self._order(ctx) + sorted(p for p in before if p not in self._order(ctx))
        pods = tuple(ex.PodRef(ns, p, before[p].node, "pet", volume=before[p].pv) for p in order)
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.NODE_DRAIN, (ctx.state["victim"],), pods, ctx.primary,
                                    {"max_unavailable": int(ctx.p("max_unavailable"))}), ctx.profile,
                           ctx.state.get("topology"))

    # -- verification --------------------------------------------------------------------------
    def disrupted_at_once(self, ctx: DrillContext) -> tuple[int, list[str]]:
        """The most pets down at once (eviction to Ready again), from the timeline, and the eviction order."""
        if ctx.timeline is None:
            return 0, []
        ns = self._ns(ctx)
        marks: list[tuple[float, int, str]] = []
        order = []
        for e in ctx.timeline.entries(what=("pod-terminating", "pod-ready"), object=f"pod/{ns}/",
                                      since=ctx.t0 or 0.0):
            name = e.object.rsplit("/", 1)[-1]
            if e.what == "pod-terminating":
                marks.append((e.time, 1, name))
                order.append(name)
            elif name in order:
                marks.append((e.time, -1, name))
        down: set[str] = set()
        most = 0
        for _, delta, name in sorted(marks, key=lambda m: (m[0], m[1])):
            (down.add if delta > 0 else down.discard)(name)
            most = max(most, len(down))
        return most, order

    def verify(self, ctx: DrillContext) -> list[Check]:
        victim, m = ctx.state["victim"], int(ctx.p("max_unavailable"))
        node = self.node(ctx, victim)
        now = pets.pets_now(ctx.api(), self.ps(ctx))
        on_node = [p.name for p in now.values() if p.node == victim]
        n = len(ctx.state["before"])
        out = [ctx.check("the fault took effect: node cordoned and drained of the pets",
                         bool(node and node.spec.unschedulable) and not on_node and bool(self._order(ctx)),
                         f"evicted in order: {', '.join(self._order(ctx)) or 'none'}; still on the node: "
                         f"{', '.join(on_node) or 'none'}")]
        refused = sum(ctx.state.get("refusals", {}).values())
        if n > m:
            out.append(ctx.check("the budget refused evictions (429) while it would be violated", refused > 0,
                                 f"{refused} refusal(s) for {', '.join(sorted(ctx.state.get('refusals', {})))}"))
        most, order = self.disrupted_at_once(ctx)
        out.append(ctx.check(f"never more than {m} pet(s) disrupted at once (moved one at a time)" if m == 1 else
                             f"never more than {m} pets disrupted at once", 0 < most <= m,
                             f"at most {most} at once; evicted: {' -> '.join(order) or 'none'}"))
        out += self.identity_checks(ctx, list(ctx.state["before"]))
        moved = [p.name for p in now.values() if p.node and p.node != victim]
        out.append(ctx.check("every pet on another node of its zone", sorted(moved) == sorted(ctx.state["before"]),
                             f"moved: {', '.join(moved) or 'none'}"))
        out += self.data_checks(ctx)
        return out

    # -- remediation ---------------------------------------------------------------------------
    def _stop_drain(self, ctx: DrillContext) -> None:
        stop, thread = ctx.state.get("drain_stop"), ctx.state.get("drain_thread")
        if stop is not None:
            stop.set()
        if thread is not None:
            thread.join(10.0)

    def _uncordon(self, ctx: DrillContext) -> None:
        try:
            ctx.core().patch_node(ctx.state["victim"], {"spec": {"unschedulable": False}})
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError(f"uncordon {ctx.state['victim']}", exc) from exc
        ctx.state["cordoned"] = False

    def remediate(self, ctx: DrillContext) -> None:
        self._stop_drain(ctx)
        if not ctx.state.get("cordoned"):
            return
        ctx.action(f"uncordon {ctx.state['victim']}", self._uncordon, ctx, rollback=True)
        node = self.node(ctx, ctx.state["victim"])
        ctx.check("node uncordoned", bool(node and not node.spec.unschedulable), phase="remediate")

    def cleanup(self, ctx: DrillContext) -> None:
        self._stop_drain(ctx)
        try:
            if ctx.state.get("cordoned"):
                self._uncordon(ctx)
        finally:
            super().cleanup(ctx)


def _selects(budget: Any, pod: Any) -> bool:
    sel = budget.spec.selector
    if sel is None:
        return False
    labels = pod.metadata.labels or {}
    if any(labels.get(k) != v for k, v in (sel.match_labels or {}).items()):
        return False
    for e in sel.match_expressions or []:
        has, val = e.key in labels, labels.get(e.key)
        if (e.operator == "In" and val not in (e.values or [])) or (e.operator == "NotIn" and val in (e.values or [])) \
                or (e.operator == "Exists" and not has) or (e.operator == "DoesNotExist" and has):
            return False
    return bool(sel.match_labels or sel.match_expressions)


def _message(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)
