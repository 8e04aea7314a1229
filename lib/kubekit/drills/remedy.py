"""Guarded remediation of a pet stuck Terminating on a lost node, for a real incident (and its rehearsal).

A StatefulSet keeps *at most one* pod per identity: when a pet's node stops answering, the
pet is marked for deletion but stays ``Terminating`` until the kubelet confirms, and the
controller will not create its replacement meanwhile (sim-fidelity STS-*, upstream
``pkg/controller/statefulset``; docs "Force Delete StatefulSet Pods"). Two documented ways
out, each safe **only** once the old pod can no longer run:

1. **Force delete** (``kubectl delete pod --grace-period=0 --force``): only after the node is
   *proven gone*: its Node object deleted, or its cloud instance terminated. If the node is
   merely partitioned, the old pet still runs and a force delete makes two writers
   (kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod).
2. **Out-of-service taint** ``node.kubernetes.io/out-of-service=nodeshutdown:NoExecute``
   (non-graceful node shutdown, GA in 1.28): only after the shutdown is *verified* (the
   instance is stopped, the Node not Ready). PodGC then force-deletes the node's pods and
   the attach/detach controller detaches their volumes at once; the taint must be removed
   afterwards (kubernetes.io/docs/concepts/cluster-administration/node-shutdown,
   "Non-graceful node shutdown handling").

:func:`diagnose` reads the state (Kubernetes API + EC2 when there is AWS access),
:func:`recover` picks the one safe path and refuses (``CheckFailed``) when neither proof
holds. Every guard re-reads the state immediately before acting. :func:`stage_stuck_pet`
makes the situation on purpose (sandbox rehearsal).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from ..errors import CheckFailed, InvalidParameter, KubeError, NotReady
from .expect import TAINT_OUT_OF_SERVICE, TAINT_SHUTDOWN

OUT_OF_SERVICE = {"key": TAINT_OUT_OF_SERVICE, "value": "nodeshutdown", "effect": "NoExecute"}
GONE_STATES = ("terminated", "shutting-down", "missing")

# verdicts of a diagnosis
NOT_STUCK = "not-stuck"
NODE_GONE = "node-gone"               # force delete is safe
NODE_SHUT_DOWN = "node-shut-down"     # the out-of-service taint is safe
NODE_UNPROVEN = "node-unproven"       # NotReady, but nothing proves the old pet stopped: fence first
NODE_READY = "node-ready"             # the kubelet answers: not a lost-node case


def _ready(node: Any) -> str:
    return next((c.status for c in (node.status.conditions or []) if c.type == "Ready"), "Unknown")


def _core(api: Any) -> Any:
    return api if isinstance(api, k8s.CoreV1Api) else k8s.CoreV1Api(api)


@dataclass(frozen=True)
class Diagnosis:
    """What is known about a pet and its node, and which remedy (if any) is safe."""

    namespace: str
    pod: str
    uid: str
    terminating: bool
    node: str
    node_exists: bool
    node_ready: str                  # True | False | Unknown | "" (no node)
    taints: tuple[str, ...]
    instance: str                    # EC2 instance id from spec.providerID ("" when unknown)
    instance_state: str              # running | stopped | terminated | missing | unknown (no AWS access)
    claims: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        if not self.terminating:
            return NOT_STUCK
        if not self.node_exists or self.instance_state in GONE_STATES:
            return NODE_GONE
        if self.node_ready == "True":
            return NODE_READY
        if self.instance_state == "stopped":
            return NODE_SHUT_DOWN
        return NODE_UNPROVEN

    @property
    def node_gone(self) -> bool:
        return self.verdict == NODE_GONE

    @property
    def shutdown_verified(self) -> bool:
        return self.verdict == NODE_SHUT_DOWN

    def advice(self) -> str:
        return {
            NOT_STUCK: f"{self.pod} is not Terminating: nothing to recover",
            NODE_GONE: f"node {self.node or '?'} is gone ({'Node deleted' if not self.node_exists else 'instance ' + self.instance_state}): "
                       f"force-deleting {self.pod} is safe",
            NODE_SHUT_DOWN: f"node {self.node} is shut down (instance stopped, Ready={self.node_ready}): add the "
                            "out-of-service taint, wait for the pet, remove the taint",
            NODE_UNPROVEN: f"node {self.node} is Ready={self.node_ready} but its instance is {self.instance_state}: the old "
                           f"{self.pod} may still run; fence the node (stop the instance) before anything else",
            NODE_READY: f"node {self.node} is Ready: its kubelet will finish the deletion; do not force anything",
        }[self.verdict]

    def table(self) -> str:
        rows = [("pod", f"{self.namespace}/{self.pod}" + (" (Terminating)" if self.terminating else "")),
                ("node", self.node or "-"), ("node object", "present" if self.node_exists else "deleted"),
                ("node Ready", self.node_ready or "-"), ("taints", ", ".join(self.taints) or "-"),
                ("instance", f"{self.instance or '-'} ({self.instance_state})"),
                ("claims", ", ".join(self.claims) or "-"), ("verdict", self.verdict), ("advice", self.advice())]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


def _instance_state(ec2: Any, instance: str) -> str:
    if ec2 is None or not instance:
        return "unknown"
    try:
        res = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
    except Exception as exc:  # noqa: BLE001 - InvalidInstanceID.NotFound means terminated long ago
        if "NotFound" in str(exc):
            return "missing"
        raise
    return str(res[0]["Instances"][0]["State"]["Name"]) if res else "missing"


def diagnose(api: Any, namespace: str, pod: str, *, ec2: Any = None) -> Diagnosis:
    """Read the pod, its node and (with ``ec2``) its instance. Raises InvalidParameter for a missing pod."""
    core = _core(api)
    try:
        p = core.read_namespaced_pod(pod, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise InvalidParameter("pod", f"{namespace}/{pod}", "no such pod") from exc
        raise KubeError(f"read pod {namespace}/{pod}", exc) from exc
    node_name = p.spec.node_name or ""
    node = None
    if node_name:
        try:
            node = core.read_node(node_name)
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError(f"read node {node_name}", exc) from exc
    instance = (node.spec.provider_id or "").rsplit("/", 1)[-1] if node is not None else ""
    claims = tuple(v.persistent_volume_claim.claim_name for v in p.spec.volumes or [] if v.persistent_volume_claim)
    return Diagnosis(namespace, pod, p.metadata.uid, bool(p.metadata.deletion_timestamp), node_name, node is not None,
                     _ready(node) if node is not None else "",
                     tuple(sorted(f"{t.key}:{t.effect}" for t in node.spec.taints or [])) if node is not None else (),
                     instance, _instance_state(ec2, instance) if node is not None else "missing", claims)


# -- the guarded steps ---------------------------------------------------------------------------

def force_delete(api: Any, namespace: str, pod: str, *, ec2: Any = None) -> Diagnosis:
    """Force-delete a stuck pet, only if its node is proven gone (re-diagnosed now); else CheckFailed."""
    d = diagnose(api, namespace, pod, ec2=ec2)
    if not d.node_gone:
        raise CheckFailed(f"refused to force-delete {namespace}/{pod}: {d.advice()}")
    try:
        _core(api).delete_namespaced_pod(pod, namespace, grace_period_seconds=0,
                                         body=k8s.V1DeleteOptions(grace_period_seconds=0,
                                                                  preconditions=k8s.V1Preconditions(uid=d.uid)))
    except ApiException as exc:
        if exc.status not in (404, 409):   # already gone, or replaced (the uid precondition)
            raise KubeError(f"force delete pod {namespace}/{pod}", exc) from exc
    return d


def _set_taint(api: Any, node: str, on: bool) -> None:
    core = _core(api)
    try:
        live = core.read_node(node)
    except ApiException as exc:
        raise KubeError(f"read node {node}", exc) from exc
    taints = [{k: v for k, v in (("key", t.key), ("value", t.value), ("effect", t.effect),
                                 ("timeAdded", t.time_added.isoformat() if t.time_added else None)) if v}
              for t in live.spec.taints or [] if t.key != TAINT_OUT_OF_SERVICE]
    if on:
        taints.append(dict(OUT_OF_SERVICE))
    try:
        core.patch_node(node, {"spec": {"taints": taints}})
    except ApiException as exc:
        raise KubeError(f"{'add' if on else 'remove'} the out-of-service taint on {node}", exc) from exc


def add_out_of_service(api: Any, namespace: str, pod: str, *, ec2: Any) -> Diagnosis:
    """Taint the pet's node out-of-service, only if its shutdown is verified now (EC2 stopped, not Ready)."""
    d = diagnose(api, namespace, pod, ec2=ec2)
    if not d.shutdown_verified:
        raise CheckFailed(f"refused to taint {d.node or 'the node'} out-of-service: {d.advice()}")
    _set_taint(api, d.node, True)
    return d


def remove_out_of_service(api: Any, node: str) -> bool:
    """Remove the out-of-service taint (if the node still exists); True when it is gone afterwards."""
    core = _core(api)
    try:
        live = core.read_node(node)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise KubeError(f"read node {node}", exc) from exc
    if any(t.key == TAINT_OUT_OF_SERVICE for t in live.spec.taints or []):
        _set_taint(api, node, False)
    return not any(t.key == TAINT_OUT_OF_SERVICE for t in core.read_node(node).spec.taints or [])


def wait_replaced(api: Any, namespace: str, pod: str, old_uid: str, *, timeout: float,
                  interval: float = 0.1) -> Any:
    """Wait for the pet to come back: same name, new uid, Ready, not Terminating; returns the pod."""
    core = _core(api)
    end = time.monotonic() + timeout
    while True:
        try:
            p = core.read_namespaced_pod(pod, namespace)
            ok = (p.metadata.uid != old_uid and not p.metadata.deletion_timestamp
                  and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []))
            if ok:
                return p
        except ApiException as exc:
            if exc.status != 404:
                raise KubeError(f"read pod {namespace}/{pod}", exc) from exc
        if time.monotonic() >= end:
            raise NotReady(f"{namespace}/{pod} not recreated and Ready within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Recovery:
    """What :func:`recover` did: the diagnosis, the path, each step and each check."""

    before: Diagnosis
    path: str = ""                          # force-delete | out-of-service | refused
    steps: list[tuple[str, str]] = field(default_factory=list)       # (step, outcome)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    node_after: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.path in ("force-delete", "out-of-service") and all(ok for _, ok, _ in self.checks)

    def table(self) -> str:
        lines = [f"path: {self.path}"] + [f"  {i + 1}. {s}: {o}" for i, (s, o) in enumerate(self.steps)]
        lines += [f"  {'PASS' if ok else 'FAIL'} {n}" + (f": {d}" if d else "") for n, ok, d in self.checks]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


def recover(api: Any, namespace: str, pod: str, *, ec2: Any = None, timeout: float = 120.0,
            say: Callable[[str], None] | None = None) -> Recovery:
    """The guarded procedure: diagnose, then force delete (node gone) or out-of-service (shutdown verified),
    wait for the pet, remove the taint. Anything else is refused with the reason (no change made)."""
    t0 = time.monotonic()
    d = diagnose(api, namespace, pod, ec2=ec2)
    rec = Recovery(d)

    def step(what: str, outcome: str) -> None:
        rec.steps.append((what, outcome))
        if say is not None:
            say(f"{what}: {outcome}")

    step("diagnose", d.advice())
    if d.verdict == NODE_GONE:
        rec.path = "force-delete"
        force_delete(api, namespace, pod, ec2=ec2)
        step("force delete", f"{pod} deleted with grace period 0 (uid precondition {d.uid[:8]})")
    elif d.verdict == NODE_SHUT_DOWN:
        rec.path = "out-of-service"
        add_out_of_service(api, namespace, pod, ec2=ec2)
        step("out-of-service taint", f"added to {d.node}")
    else:
        rec.path = "refused"
        rec.checks.append(("a safe remedy exists", False, d.advice()))
        rec.seconds = time.monotonic() - t0
        return rec
    try:
        new = wait_replaced(api, namespace, pod, d.uid, timeout=timeout)
        rec.node_after = new.spec.node_name or ""
        step("pet recreated", f"{pod} Ready on {rec.node_after}")
        claims = tuple(v.persistent_volume_claim.claim_name for v in new.spec.volumes or []
                       if v.persistent_volume_claim)
        rec.checks.append(("same claims after recovery", claims == d.claims, ", ".join(claims) or "no claims"))
        rec.checks.append(("moved off the lost node", rec.node_after != d.node, ""))
    except NotReady as exc:
        rec.checks.append(("pet recreated and Ready", False, str(exc)))
    finally:
        if rec.path == "out-of-service":
            removed = remove_out_of_service(api, d.node)
            step("out-of-service taint", "removed" if removed else "STILL PRESENT")
            rec.checks.append(("out-of-service taint removed afterwards", removed, d.node))
    one = _core(api).list_namespaced_pod(namespace, field_selector=f"metadata.name={pod}").items
    rec.checks.append(("at most one pod for the identity", len(one) <= 1, f"{len(one)} pod(s)"))
    rec.seconds = time.monotonic() - t0
    return rec


# -- rehearsal: make the situation on purpose ----------------------------------------------------

@dataclass(frozen=True)
class Staged:
    namespace: str
    pod: str
    node: str
    instance: str


def stage_stuck_pet(api: Any, ec2: Any, namespace: str, pod: str, *, timeout: float = 60.0) -> Staged:
    """Stop the EC2 instance under ``pod``, wait until its Node is not Ready, then delete the pod (as a
    user would): it stays Terminating. The sandbox rehearsal of a lost node (never on a real cluster by
    accident: the caller passes the pod to sacrifice)."""
    core = _core(api)
    p = core.read_namespaced_pod(pod, namespace)
    node = core.read_node(p.spec.node_name)
    instance = (node.spec.provider_id or "").rsplit("/", 1)[-1]
    if not instance.startswith("i-"):
        raise InvalidParameter("pod", pod, f"its node {node.metadata.name} has no EC2 instance to stop")
    ec2.stop_instances(InstanceIds=[instance])
    end = time.monotonic() + timeout
    while _ready(core.read_node(node.metadata.name)) == "True":
        if time.monotonic() > end:
            raise NotReady(f"{node.metadata.name} still Ready {timeout:g} s after its instance was stopped")
        time.sleep(0.1)
    core.delete_namespaced_pod(pod, namespace)
    while not core.read_namespaced_pod(pod, namespace).metadata.deletion_timestamp:
        time.sleep(0.05)
    return Staged(namespace, pod, node.metadata.name, instance)


def start_instance(api: Any, ec2: Any, node: str, instance: str, *, timeout: float = 60.0) -> None:
    """Power the instance on again and wait for its Node to be Ready without the shutdown taint."""
    state = _instance_state(ec2, instance)
    if state in ("stopped", "stopping"):
        ec2.start_instances(InstanceIds=[instance])
    core = _core(api)
    end = time.monotonic() + timeout
    while True:
        n = core.read_node(node)
        if _ready(n) == "True" and not any(t.key == TAINT_SHUTDOWN for t in n.spec.taints or []):
            return
        if time.monotonic() > end:
            raise NotReady(f"{node} not Ready {timeout:g} s after starting {instance}")
        time.sleep(0.1)


__all__ = ["Diagnosis", "NODE_GONE", "NODE_READY", "NODE_SHUT_DOWN", "NODE_UNPROVEN", "NOT_STUCK", "Recovery",
           "Staged", "add_out_of_service", "diagnose", "force_delete", "recover", "remove_out_of_service",
           "stage_stuck_pet", "start_instance", "wait_replaced"]
