"""D5 without the ledger: power off a node's EC2 instance, watch Kubernetes react, then remediate.

What happens (federation-drills.md §6(b) D5; sim-fidelity AWS-03, NL-02..NL-11): the kubelet's
Lease stops; the node goes NotReady after the grace period; the cloud node lifecycle
controller adds the ``shutdown:NoSchedule`` taint (the Node is *not* deleted: the instance
still exists); the node lifecycle controller adds ``unreachable:NoExecute``; after the
pods' tolerationSeconds (300 s) the taint eviction controller deletes them: the Deployment's
pod is replaced on another node at once, the StatefulSet's pet stays **Terminating** (at most
one pod per identity) and nothing moves it.

Remediation, guarded (node-shutdown.md, non-graceful node shutdown): only once EC2 says the
instance is ``stopped`` and the node is not Ready, add
``node.kubernetes.io/out-of-service=nodeshutdown:NoExecute``; PodGC force-deletes the stuck
pods, the volume is detached at once, the pet is recreated (same name, same claim, another
node of the same zone); then remove the taint and start the instance again.

The workload is the drill's own (a namespace per run): one StatefulSet pet with a claim
and one Deployment pod, both preferring the victim node.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from kubernetes.client.rest import ApiException

from ..errors import KitError, KubeError
from . import expect as ex
from .base import Check, Drill, DrillContext, Param, Wait, register
from .petbase import instance_id, ready_of, taint_keys

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
OUT_OF_SERVICE = {"key": ex.TAINT_OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}
PET, WEB = "pet", "web"


def _toleration(pod: Any) -> float | None:
    vals = [t.toleration_seconds for t in pod.spec.tolerations or []
            if t.effect == "NoExecute" and t.key in (ex.TAINT_UNREACHABLE, None) and t.toleration_seconds is not None]
    return float(min(vals)) if vals else None


@register
class NodeStop(Drill):
    name = "node-stop"
    catalogue_id = "D5"
    title = "Lose a node (EC2 stop), then the out-of-service remediation"
    description = ("Stops one node's EC2 instance: NotReady, shutdown taint, NoExecute taint, eviction after "
                   "tolerationSeconds; the Deployment's pod is replaced, the pet stays Terminating until the "
                   "out-of-service taint is applied after the shutdown is verified.")
    needs_aws = True
    tags = ("node", "ec2", "statefulset", "out-of-service")
    params = (
        Param("node", "", "node to stop (default: the first node of a zone that has another Ready node)"),
        Param("namespace", "", "namespace for the drill's workload (default: drill-node-stop-<random>)"),
        Param("volume", True, "give the pet a PersistentVolumeClaim (shows the detach)"),
        Param("remediate", True, "apply the out-of-service taint after verifying the shutdown (else only restart)"),
        Param("hold", 60.0, "upstream seconds to watch the pet stay Terminating after the eviction"),
        Param("image", "registry.k8s.io/pause:3.10", "container image of the pet and the Deployment"),
    )

    # -- helpers -------------------------------------------------------------------------------
    def _ns(self, ctx: DrillContext) -> str:
        if "namespace" not in ctx.state:
            ctx.state["namespace"] = ctx.p("namespace") or f"drill-node-stop-{uuid.uuid4().hex[:5]}"
        return str(ctx.state["namespace"])

    def namespaces(self, ctx: DrillContext) -> list[str]:
        return [self._ns(ctx)]

    def _node(self, ctx: DrillContext) -> Any | None:
        try:
            return ctx.core().read_node(ctx.state["victim"])
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"read node {ctx.state['victim']}", exc) from exc

    def _pod(self, ctx: DrillContext, name: str) -> Any | None:
        try:
            return ctx.core().read_namespaced_pod(name, self._ns(ctx))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"read pod {name}", exc) from exc

    def _instance_state(self, ctx: DrillContext) -> str:
        iid = ctx.state["instance"]
        res = ctx.ec2().describe_instances(InstanceIds=[iid])["Reservations"]
        return str(res[0]["Instances"][0]["State"]["Name"]) if res else "missing"

    def _web_pods(self, ctx: DrillContext) -> list[Any]:
        return ctx.core().list_namespaced_pod(self._ns(ctx), label_selector=f"app={WEB}").items

    # -- the steps -----------------------------------------------------------------------------
    def preflight(self, ctx: DrillContext) -> list[str]:
        reasons = []
        nodes = ctx.core().list_node().items
        ready = [n for n in nodes if ready_of(n) == "True" and not n.spec.unschedulable]
        down = sorted(n.metadata.name for n in nodes if ready_of(n) != "True")
        if down:
            reasons.append(f"{len(down)} node(s) already not Ready ({', '.join(down[:3])}): run drills on a healthy "
                           "cluster, or the result mixes two faults")
        by_zone: dict[str, list[str]] = {}
        for n in ready:
            by_zone.setdefault((n.metadata.labels or {}).get(ZONE, ""), []).append(n.metadata.name)
        victim = ctx.p("node")
        if not victim:
            zones = sorted(z for z, ns in by_zone.items() if len(ns) >= 2) or sorted(by_zone)
            victim = sorted(by_zone[zones[0]])[0] if zones else ""
        node = next((n for n in nodes if n.metadata.name == victim), None)
        if node is None:
            return reasons + [f"node {victim or '(none)'} not found: pass node=<a Ready node>"]
        zone = (node.metadata.labels or {}).get(ZONE, "")
        if not (node.spec.provider_id or "").startswith("aws://"):
            reasons.append(f"node {victim} has no AWS providerID ({node.spec.provider_id!r}): its instance cannot be "
                           "stopped through EC2")
        others_in_zone = [n for n in by_zone.get(zone, []) if n != victim]
        if ctx.p("volume") and not others_in_zone:
            reasons.append(f"no other Ready node in zone {zone}: the pet's zonal volume could not follow it after "
                           "the remediation (no capacity left in the zone)")
        if not [n for n in ready if n.metadata.name != victim]:
            reasons.append("no other Ready node: the Deployment's pod would have nowhere to go")
        ctx.state.update(victim=victim, zone=zone, instance=instance_id(node),
                         topology=ex.Topology.from_nodes({"metadata": {"name": n.metadata.name,
                                                                       "labels": n.metadata.labels or {}}}
                                                         for n in nodes))
        if not reasons:
            state = self._instance_state(ctx)
            if state != "running":
                reasons.append(f"instance {ctx.state['instance']} of {victim} is {state}, not running")
        try:
            ctx.core().read_namespace(self._ns(ctx))
            reasons.append(f"namespace {self._ns(ctx)} already exists: delete it or pick another namespace")
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError("read namespace", exc) from exc
        return reasons

    def prepare(self, ctx: DrillContext) -> None:
        ns, victim = self._ns(ctx), ctx.state["victim"]
        affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "preference": {"matchExpressions": [{"key": HOSTNAME, "operator": "In",
                                                                "values": [victim]}]}}]}}
        container = {"name": "app", "image": ctx.p("image")}
        pet: dict[str, Any] = {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": PET},
            "spec": {"serviceName": PET, "replicas": 1, "selector": {"matchLabels": {"app": PET}},
                     "template": {"metadata": {"labels": {"app": PET}},
                                  "spec": {"affinity": affinity, "containers": [dict(container)]}}}}
        if ctx.p("volume"):
            pet["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
            pet["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WEB},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": WEB}},
                        "template": {"metadata": {"labels": {"app": WEB}},
                                     "spec": {"affinity": affinity, "containers": [dict(container)]}}}}
        try:
            ctx.core().create_namespace({"metadata": {"name": ns, "labels": {"kubekit.io/drill": self.name}}})
            ctx.apps().create_namespaced_stateful_set(ns, pet)
            ctx.apps().create_namespaced_deployment(ns, web)
        except ApiException as exc:
            raise KubeError("create the drill's workload", exc) from exc
        timeout = ctx.budget(ctx.scaled("startup_budget"), minimum=20.0)
        pod = ctx.wait(f"{PET}-0 Ready", lambda: (p := self._pod(ctx, f"{PET}-0")) and ready_of(p) == "True" and p,
                       timeout)
        web_pod = ctx.wait("web pod Ready", lambda: next((p for p in self._web_pods(ctx) if ready_of(p) == "True"
                                                          and not p.metadata.deletion_timestamp), None), timeout)
        for p in (pod, web_pod):
            if p.spec.node_name != victim:
                raise KitError(f"{p.metadata.name} was scheduled on {p.spec.node_name}, not on {victim}: the drill "
                               "needs both pods on the node it stops")
        owner = next((f"{r.kind}/{r.name}" for r in web_pod.metadata.owner_references or [] if r.controller), "")
        claim = pv = ""
        if ctx.p("volume"):
            claim = f"data-{PET}-0"
            pv = ctx.core().read_namespaced_persistent_volume_claim(claim, ns).spec.volume_name or ""
        ctx.state.update(pet_uid=pod.metadata.uid, web_pod=web_pod.metadata.name, web_owner=owner, claim=claim, pv=pv,
                         pet_toleration=_toleration(pod), web_toleration=_toleration(web_pod))

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        pet = self._pod(ctx, f"{PET}-0")
        web_ready = [p for p in self._web_pods(ctx) if ready_of(p) == "True" and not p.metadata.deletion_timestamp]
        node = self._node(ctx)
        return [Check(f"{PET}-0 Ready", bool(pet and ready_of(pet) == "True" and not pet.metadata.deletion_timestamp),
                      f"on {pet.spec.node_name}" if pet else "missing"),
                Check("web has a Ready pod", bool(web_ready), f"{len(web_ready)} Ready"),
                Check(f"node {ctx.state['victim']} Ready", bool(node and ready_of(node) == "True"))]

    def inject(self, ctx: DrillContext) -> str:
        iid = ctx.state["instance"]
        ctx.t0 = time.time()
        ctx.ec2().stop_instances(InstanceIds=[iid])
        return f"EC2 StopInstances {iid} ({ctx.state['victim']})"

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        s, b = ctx.scaled, ctx.budget
        victim = ctx.state["victim"]

        def not_ready(c: DrillContext) -> bool:
            n = self._node(c)
            return bool(n and ready_of(n) != "True")

        def has_taint(key: str) -> Any:
            return lambda c: (n := self._node(c)) is not None and key in taint_keys(n)

        def evicted(c: DrillContext) -> bool:
            pet, web = self._pod(c, f"{PET}-0"), self._pod(c, c.state["web_pod"])
            done = bool(pet and pet.metadata.deletion_timestamp) and (web is None or bool(
                web.metadata.deletion_timestamp))
            if done and "evicted_at" not in c.state:
                c.state["evicted_at"] = time.time()
            return done

        def replaced(c: DrillContext) -> bool:
            return any(ready_of(p) == "True" and not p.metadata.deletion_timestamp and p.spec.node_name != victim
                       for p in self._web_pods(c))

        tol = ctx.state.get("pet_toleration") or s("default_toleration_seconds")
        hold = max(0.5, ctx.p("hold") * (ctx.profile.scale if ctx.profile else 1.0))

        def held(c: DrillContext) -> bool:
            return time.time() >= c.state.get("evicted_at", 0.0) + hold
        return [
            Wait(f"{victim} NotReady", not_ready, b(s("lease_renew") + s("node_monitor_grace") +
                                                     s("node_monitor_period"))),
            Wait("shutdown taint", has_taint(ex.TAINT_SHUTDOWN), b(s("cloud_node_monitor_period"))),
            Wait("NoExecute taint", has_taint(ex.TAINT_UNREACHABLE), b(s("node_monitor_period"))),
            Wait("pods evicted after tolerationSeconds", evicted, b(tol)),
            Wait("Deployment pod replaced on another node", replaced, b(s("startup_budget"))),
            Wait(f"{PET}-0 still Terminating after {hold:g} s", held, hold + 5.0),
        ]

    def expected(self, ctx: DrillContext) -> ex.Expected:
        victim = ctx.state["victim"]
        ns = self._ns(ctx)
        pods = (ex.PodRef(ns, f"{PET}-0", victim, "pet", toleration_seconds=ctx.state.get("pet_toleration"),
                          volume=ctx.state.get("pv", "")),
                ex.PodRef(ns, ctx.state["web_pod"], victim, "stateless", owner=ctx.state["web_owner"],
                          toleration_seconds=ctx.state.get("web_toleration")))
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.NODE_STOP, (victim,), pods, ctx.primary), ctx.profile,
                           ctx.state.get("topology"))

    def expected_remediation(self, ctx: DrillContext) -> ex.Expected | None:
        if "remediation_t0" not in ctx.state:
            return None
        victim, ns = ctx.state["victim"], self._ns(ctx)
        pods = (ex.PodRef(ns, f"{PET}-0", victim, "pet", volume=ctx.state.get("pv", "")),
                ex.PodRef(ns, ctx.state["web_pod"], victim, "stateless", owner=ctx.state["web_owner"]))
        assert ctx.profile is not None
        return ex.expected(ex.Fault(ex.OUT_OF_SERVICE, (victim,), pods, ctx.primary), ctx.profile)

    def verify(self, ctx: DrillContext) -> list[Check]:
        victim, ns = ctx.state["victim"], self._ns(ctx)
        node = self._node(ctx)
        pet = self._pod(ctx, f"{PET}-0")
        same_identity = ctx.core().list_namespaced_pod(
            ns, label_selector=f"statefulset.kubernetes.io/pod-name={PET}-0").items
        state = self._instance_state(ctx)
        return [
            ctx.check("the fault took effect: node NotReady", bool(node and ready_of(node) != "True"),
                      f"Ready={ready_of(node) if node else 'deleted'}"),
            ctx.check("the stopped instance's Node is kept", node is not None),
            ctx.check("EC2 reports the instance stopped", state == "stopped", state),
            ctx.check("shutdown taint on the node", bool(node and ex.TAINT_SHUTDOWN in taint_keys(node))),
            ctx.check(f"{PET}-0 stuck Terminating (same pod, not replaced)",
                      bool(pet and pet.metadata.deletion_timestamp and pet.metadata.uid == ctx.state["pet_uid"]),
                      "terminating" if pet and pet.metadata.deletion_timestamp else "not terminating" if pet else
                      "gone"),
            ctx.check("at most one pod for the pet identity", len(same_identity) <= 1, f"{len(same_identity)} pod(s)"),
            ctx.check("the Deployment runs on another node", any(
                ready_of(p) == "True" and not p.metadata.deletion_timestamp and p.spec.node_name != victim
                for p in self._web_pods(ctx))),
        ]

    def remediate(self, ctx: DrillContext) -> None:
        if "instance" not in ctx.state or "pet_uid" not in ctx.state:
            return  # nothing was prepared
        victim, ns = ctx.state["victim"], self._ns(ctx)
        s, b = ctx.scaled, ctx.budget
        if ctx.p("remediate"):
            state, node = self._instance_state(ctx), self._node(ctx)
            verified = state == "stopped" and node is not None and ready_of(node) != "True"
            ctx.check("shutdown verified before the out-of-service taint", verified,
                      f"instance {state}, node Ready={ready_of(node) if node else 'deleted'}", phase="remediate")
            if verified:
                ctx.state["remediation_t0"] = time.time()
                assert ctx.timeline is not None
                ctx.timeline.mark(f"out-of-service taint on {victim}", kind="remediation",
                                  time=ctx.state["remediation_t0"], object=f"node/{victim}")
                ctx.action("add the out-of-service taint", self._set_out_of_service, ctx, True, rollback=True)
                try:
                    pod = ctx.wait(f"{PET}-0 recreated and Ready", lambda: (p := self._pod(ctx, f"{PET}-0")) and
                                   p.metadata.uid != ctx.state["pet_uid"] and ready_of(p) == "True" and p,
                                   b(s("podgc_period") + s("volume_detach_budget") + s("startup_budget")))
                    ctx.state["remediation_end"] = time.time()
                    same_claim = True
                    if ctx.state.get("claim"):
                        vols = [v.persistent_volume_claim.claim_name for v in pod.spec.volumes or []
                                if v.persistent_volume_claim]
                        pvc = ctx.core().read_namespaced_persistent_volume_claim(ctx.state["claim"], ns)
                        same_claim = vols == [ctx.state["claim"]] and pvc.spec.volume_name == ctx.state["pv"]
                    new_node = ctx.core().read_node(pod.spec.node_name)
                    ctx.check(f"{PET}-0 recreated with the same claim and volume", same_claim,
                              f"claim {ctx.state.get('claim') or '-'}, volume {ctx.state.get('pv') or '-'}",
                              phase="remediate")
                    ctx.check(f"{PET}-0 moved within zone {ctx.state['zone']}",
                              pod.spec.node_name != victim and (new_node.metadata.labels or {}).get(ZONE) ==
                              ctx.state["zone"], f"now on {pod.spec.node_name}", phase="remediate")
                except KitError as exc:
                    ctx.state["remediation_end"] = time.time()
                    ctx.check(f"{PET}-0 recreated after the out-of-service taint", False, str(exc), phase="remediate")
                ctx.action("remove the out-of-service taint", self._set_out_of_service, ctx, False, rollback=True)
                node = self._node(ctx)
                ctx.check("out-of-service taint removed", bool(node and ex.TAINT_OUT_OF_SERVICE not in
                                                                taint_keys(node)), phase="remediate")
        self._power_on(ctx)

    def _power_on(self, ctx: DrillContext) -> None:
        s, b = ctx.scaled, ctx.budget
        if self._instance_state(ctx) in ("stopped", "stopping"):
            ctx.action("EC2 StartInstances", ctx.ec2().start_instances, InstanceIds=[ctx.state["instance"]],
                       rollback=True)
            if ctx.timeline is not None:
                ctx.timeline.mark(f"start {ctx.state['instance']}", kind="recovery",
                                  object=f"instance/{ctx.state['instance']}")
            try:
                ctx.wait(f"{ctx.state['victim']} Ready again", lambda: (n := self._node(ctx)) is not None and
                         ready_of(n) == "True" and not taint_keys(n) & {ex.TAINT_SHUTDOWN, ex.TAINT_UNREACHABLE},
                         b(s("lease_renew") + s("node_monitor_period") + s("cloud_node_monitor_period"), minimum=10.0))
                ctx.check("node Ready again, taints gone", True, phase="remediate")
            except KitError as exc:
                ctx.check("node Ready again, taints gone", False, str(exc), phase="remediate")

    def _set_out_of_service(self, ctx: DrillContext, on: bool) -> None:
        node = self._node(ctx)
        if node is None:
            return
        taints = [{k: v for k, v in (("key", t.key), ("value", t.value), ("effect", t.effect),
                                     ("timeAdded", t.time_added.isoformat() if t.time_added else None)) if v}
                  for t in node.spec.taints or [] if t.key != ex.TAINT_OUT_OF_SERVICE]
        if on:
            taints.append(dict(OUT_OF_SERVICE))
        try:
            ctx.core().patch_node(ctx.state["victim"], {"spec": {"taints": taints}})
        except ApiException as exc:
            raise KubeError(f"{'add' if on else 'remove'} the out-of-service taint", exc) from exc

    def cleanup(self, ctx: DrillContext) -> None:
        errors = []
        if "instance" in ctx.state:
            try:
                node = self._node(ctx)
                if node is not None and ex.TAINT_OUT_OF_SERVICE in taint_keys(node):
                    self._set_out_of_service(ctx, False)
                self._power_on(ctx)
            except Exception as exc:  # noqa: BLE001 - keep cleaning
                errors.append(f"restore node: {exc}")
        if "namespace" in ctx.state:
            try:
                ctx.core().delete_namespace(self._ns(ctx))
            except ApiException as exc:
                if exc.status != 404:
                    errors.append(f"delete namespace {self._ns(ctx)}: {exc.status} {exc.reason}")
        if errors:
            raise KitError("cleanup incomplete: " + "; ".join(errors))
