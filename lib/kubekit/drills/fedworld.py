"""What the federation drills (D9, D10, D12) share: members, a controller, the workloads, a routed ledger.

A drill context for these drills holds the host cluster first (``sandbox``: the federation's
CRDs live there) and the members; :func:`connect_members` adds the members the host knows
(its ``MemberCluster`` objects, else the sandbox's ``members()``) when the caller passed only
the host, so ``kubekit drill run member-cluster-loss`` works on a fresh ``--clusters 3`` sandbox.

:class:`FedWorld` then registers the members that are not registered yet (with the drill's
health settings: KubeFed's 10 s / 3 s / 3 / 1 scaled by the cluster's timing profile, at least
1 s), starts a federation controller of its own (its decisions land on the drill's timeline),
federates a stateless ``web`` Deployment (Divided by weight) and a petkv StatefulSet ``kv``
in ordinal slices, and gives a write function for the ledger that routes each key to the
member running its owner pet (petkv's own hash), as a client of a federated set would.
Everything goes through the official client (kubekit never imports kubesim).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, KitError
from .base import DrillContext, until

WEB, KV = "web", "kv"
HOST_DEFAULT = "sandbox"


def kubeconfig_of(ctx: DrillContext) -> str:
    """The kubeconfig file behind the drill's contexts: the parameter, the sandbox's, $KUBECONFIG."""
    from ..cluster import resolve_kubeconfig

    given = ctx.params.get("kubeconfig") or ""
    if given:
        return str(given)
    home = getattr(ctx.target, "home", None)
    if home and (Path(home) / "kubeconfig").is_file():
        return str(Path(home) / "kubeconfig")
    return str(resolve_kubeconfig(None))


def sandbox_home(ctx: DrillContext) -> str | None:
    home = getattr(ctx.target, "home", None)
    return str(home) if home else (os.environ.get("KUBEKIT_HOME") or None)


def connect_members(ctx: DrillContext) -> list[str]:
    """Member names (sorted), connected into ``ctx.clusters``: the ``members`` parameter, the host's
    MemberClusters, else the sandbox's members. The host stays ``ctx.primary``."""
    from ..cluster import connect
    from ..federation.members import host_rest
    from ..federation.model import API_VERSION

    wanted = [m.strip() for m in str(ctx.params.get("members") or "").split(",") if m.strip()]
    contexts: dict[str, str] = {}
    if not wanted:
        try:
            for obj in host_rest(ctx.api()).list(API_VERSION, "MemberCluster"):
                contexts[obj["metadata"]["name"]] = (obj.get("spec") or {}).get("context") or obj["metadata"]["name"]
        except KitError:
            pass  # no CRD yet: a fresh host
        if not contexts and getattr(ctx.target, "is_sandbox", False):
            from .. import sandbox

            contexts = {m["name"]: m["context"] for m in sandbox.members(home=sandbox_home(ctx))}
        if not contexts:
            contexts = {n: n for n in ctx.clusters if n != ctx.primary}
    else:
        contexts = {m: m for m in wanted}
    kc = kubeconfig_of(ctx)
    missing = [(n, c) for n, c in sorted(contexts.items()) if n not in ctx.clusters]
    if missing:  # in parallel: an EKS-style kubeconfig runs a credential plugin per client
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            apis = list(pool.map(lambda nc: connect(nc[1], kc).api, missing))
        for (name, _), api in zip(missing, apis):
            ctx.clusters[name] = api
    return sorted(contexts)


def health_settings(ctx: DrillContext) -> dict[str, int]:
    """KubeFed's health check (10 s / 3 s / 3 / 1) scaled by the profile; whole seconds, at least 1 (the CRD's)."""
    scale = ctx.profile.scale if ctx.profile else 1.0
    period = int(ctx.params.get("probe_period") or 0) or max(1, round(10 * scale))
    timeout = int(ctx.params.get("probe_timeout") or 0) or max(1, round(3 * scale))
    return {"periodSeconds": period, "timeoutSeconds": timeout,
            "failureThreshold": int(ctx.params.get("failure_threshold") or 3), "successThreshold": 1}


def controller_settings(ctx: DrillContext) -> tuple[float, int]:
    """(resync seconds, Lease duration seconds) scaled from the controller's 1 s / KubeFed's 15 s."""
    scale = ctx.profile.scale if ctx.profile else 1.0
    return min(1.0, max(0.2, scale * 10)), max(2, round(15 * scale))


def lease_holder(host: Any) -> tuple[str, float]:
    """(holder identity, expiry wall time) of the federation controller's Lease ('' if none)."""
    from ..federation.controller import LEASE, _parse_iso
    from ..federation.model import NAMESPACE

    lease = host.get("coordination.k8s.io/v1", "Lease", NAMESPACE, LEASE) or {}
    spec = lease.get("spec") or {}
    return (spec.get("holderIdentity") or "",
            _parse_iso(spec.get("renewTime")) + float(spec.get("leaseDurationSeconds") or 0))


class KeyStream:
    """Ledger keys ``k000001`` ... skipping keys whose owner ordinal ``skip(o)`` says to avoid."""

    def __init__(self, shards: int, skip: Callable[[int], bool] | None = None, prefix: str = "k") -> None:
        from ..workloads.petkv import owner_ordinal

        self.shards, self.skip, self.prefix = shards, skip, prefix
        self._owner = owner_ordinal
        self._keys: list[str] = []
        self._next = 0

    def __call__(self, seq: int) -> str:
        while len(self._keys) < seq:
            self._next += 1
            k = f"{self.prefix}{self._next:06d}"
            if self.skip is None or not self.skip(self._owner(k, self.shards, 0)):
                self._keys.append(k)
        return self._keys[seq - 1]


class FedWorld:
    """The drill's federation: see the module docstring. Kept in ``ctx.state["world"]``."""

    def __init__(self, ctx: DrillContext, drill: str) -> None:
        from ..federation.members import host_rest

        self.ctx = ctx
        self.host = host_rest(ctx.api())
        self.kubeconfig = kubeconfig_of(ctx)
        self.members = connect_members(ctx)
        self.ns = str(ctx.params.get("namespace") or f"drill-{drill}-{uuid.uuid4().hex[:5]}")
        self.fed: Any = None
        self.own_controller = False
        self.registered: list[str] = []
        self.health: dict[str, dict[str, Any]] = {}
        self.resync_s, self.lease_s = controller_settings(ctx)
        self.pets = int(ctx.params.get("pets") or 6)
        self.slices: dict[str, tuple[int, int]] = {}
        self._slices_at = 0.0
        self._kv: dict[str, Any] = {}

    # -- members and controller ----------------------------------------------------------------
    def preflight(self, need: int = 2) -> list[str]:
        from ..federation.model import API_VERSION

        reasons = []
        if len(self.members) < need:
            reasons.append(f"{len(self.members)} member cluster(s) found, the drill needs {need}: run "
                           "`kubekit sandbox up --clusters 3` or pass members=a,b,c")
        for m in self.members:
            try:
                self.ctx.core(m).list_namespace(limit=1, _request_timeout=5)
            except Exception as exc:  # noqa: BLE001
                reasons.append(f"member {m} does not answer ({type(exc).__name__}): run drills on a healthy "
                               "federation, or the result mixes two faults")
        holder, expires = lease_holder(self.host) if self._has_crds() else ("", 0.0)
        if self.ctx.params.get("controller", True) and holder and expires > time.time():
            reasons.append(f"a federation controller ({holder}) holds the Lease: stop it, or pass controller=false "
                           "to drill with it")
        if not self.ctx.params.get("controller", True) and not (holder and expires > time.time()):
            reasons.append("controller=false but no federation controller holds the Lease")
        if self._has_crds():
            try:
                if self.host.get("v1", "Namespace", None, self.ns) is not None:
                    reasons.append(f"namespace {self.ns} already exists in the host: pick another namespace")
            except KitError:
                pass
            for obj in self.host.list(API_VERSION, "MemberCluster"):
                st = (obj.get("status") or {}).get("state")
                if st and st not in ("Ready", "Unknown") and obj["metadata"]["name"] in self.members:
                    reasons.append(f"member {obj['metadata']['name']} is {st} in the federation")
        return reasons

    def _has_crds(self) -> bool:
        return self.host.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None,
                             "memberclusters.kubekit.io") is not None

    def start(self) -> None:
        from ..federation import Federation, install_crds, register_member
        from ..federation.model import API_VERSION, parse_member

        install_crds(self.host)
        known = {o["metadata"]["name"]: o for o in self.host.list(API_VERSION, "MemberCluster")}
        hc = health_settings(self.ctx)
        for m in self.members:
            if m not in known:  # a fresh federation: join it with the drill's settings
                zone = (self.ctx.core(m).list_node().items[0].metadata.labels or {}).get(
                    "topology.kubernetes.io/zone", "")
                register_member(self.host, m, context=m, kubeconfig=self.kubeconfig, health_check=hc,
                                region=zone[:-1] if zone else "", zone=zone)
                self.registered.append(m)
                self.health[m] = dict(hc)
            else:
                h = parse_member(known[m]).health_check
                self.health[m] = {"periodSeconds": h.period_s, "timeoutSeconds": h.timeout_s,
                                  "failureThreshold": h.failure_threshold, "successThreshold": h.success_threshold}
        if self.ctx.params.get("controller", True):
            self.fed = Federation(self.host, resync_s=self.resync_s, timeline=self.ctx.timeline,
                                  lease_duration_s=self.lease_s, identity=f"drill-{uuid.uuid4().hex[:6]}").start()
            self.own_controller = True
            # the first probes wait for the member clients (an EKS token plugin run each): not a graded phase
            budget = max(self.ctx.budget(h["periodSeconds"] * 2 + h["timeoutSeconds"], minimum=60.0)
                         for h in self.health.values())
            for m in self.members:
                self.fed.wait_member(m, "Ready", timeout=budget)

    # -- workloads -----------------------------------------------------------------------------
    def petset(self) -> Any:
        from .. import pets

        # Parallel: the world's pets start together (a member's slice of 2 in half the time); the order
        # they start in is not what the federation drills test, and each pet still comes up as itself.
        return pets.PetSet(KV, namespace=self.ns, replicas=self.pets, pod_management="Parallel")

    def deploy(self, *, web_replicas: int = 4, weights: Sequence[int] | None = None, purge_mode: str = "Gracefully",
               web: bool = True) -> list[str]:
        """Federate ``web`` (Divided by ``weights`` in member order) and the ``kv`` pets; wait Ready."""
        from .. import federation

        fws = []
        if web:
            dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WEB},
                   "spec": {"replicas": web_replicas, "selector": {"matchLabels": {"app": WEB}},
                            "template": {"metadata": {"labels": {"app": WEB}},
                                         "spec": {"containers": [{"name": WEB,
                                                                  "image": "registry.k8s.io/pause:3.10"}]}}}}
            w = dict(zip(self.members, weights or [1] * len(self.members)))
            fws.append(federation.federated_workload(WEB, dep, namespace=self.ns, weights=w, purge_mode=purge_mode,
                                                     grace_period_s=600, clusters=self.members))
        fws += federation.federate(self.petset().manifests(), namespace=self.ns,
                                   clusters=self.members)
        for fw in fws:
            federation.apply_workload(self.host, fw)
        names = [fw["metadata"]["name"] for fw in fws]
        budget = self.ctx.budget(self.ctx.scaled("startup_budget") * 2, minimum=30.0)
        for n in names:
            self.wait_fw(n, "Ready", budget)
        self.refresh_slices(force=True)
        return names

    @property
    def kv_fw(self) -> str:
        return f"statefulset-{KV}"

    @property
    def web_fw(self) -> str:
        return WEB

    def fw(self, name: str) -> dict[str, Any]:
        from ..federation.model import API_VERSION

        return self.host.get(API_VERSION, "FederatedWorkload", self.ns, name) or {}

    def wait_fw(self, name: str, phase: str, timeout: float) -> dict[str, Any]:
        from ..federation import wait_for

        kick = self.fed.kick if self.fed is not None and self.fed.running else None
        return wait_for(self.host, name, self.ns, phase=phase, timeout=timeout, kick=kick)

    def refresh_slices(self, force: bool = False) -> dict[str, tuple[int, int]]:
        from ..federation.migrate import slices_of

        if force or time.monotonic() - self._slices_at > 0.3:
            try:
                got, _ = slices_of(self.fw(self.kv_fw))
                if got:
                    self.slices = got
                self._slices_at = time.monotonic()
            except KitError:
                pass
        return self.slices

    def cluster_of(self, ordinal: int) -> str:
        for c, (start, n) in self.refresh_slices().items():
            if start <= ordinal < start + n:
                return c
        raise KitError(f"{KV}-{ordinal} is in no member's slice")

    # -- data: petkv through the members' pod proxies ------------------------------------------
    def _client(self, cluster: str) -> Any:
        from .. import pets

        if cluster not in self._kv:
            self._kv[cluster] = pets.PetKV(self.ctx.api(cluster), self.petset(), timeout=2.0)
        return self._kv[cluster]

    def owner(self, key: str) -> int:
        from ..workloads.petkv import owner_ordinal

        return owner_ordinal(key, self.pets, 0)

    def put(self, key: str, value: str) -> None:
        self._client(self.cluster_of(self.owner(key))).put(key, value)

    def get(self, key: str) -> str | None:
        return self._client(self.cluster_of(self.owner(key))).get(key)

    def shard_of(self, key: str) -> str:
        return f"{KV}-{self.owner(key)}"

    def ledger(self, skip: Callable[[int], bool] | None = None) -> Any:
        from .ledger import Ledger

        return Ledger(self.put, self.get, KeyStream(self.pets, skip), shard_of=self.shard_of)

    # -- reading the members -------------------------------------------------------------------
    def replicas(self, kind: str = "Deployment", name: str = WEB, members: Sequence[str] | None = None,
                 field: str = "spec") -> dict[str, int]:
        """{member: replicas} (``field`` spec or status.readyReplicas) for members that answer and hold it."""
        out = {}
        for m in members or self.members:
            try:
                api = self.ctx.apps(m)
                obj = (api.read_namespaced_deployment(name, self.ns, _request_timeout=2) if kind == "Deployment"
                       else api.read_namespaced_stateful_set(name, self.ns, _request_timeout=2))
            except Exception:  # noqa: BLE001 - missing or unreachable
                continue
            out[m] = int(obj.spec.replicas or 0) if field == "spec" else int(obj.status.ready_replicas or 0)
        return out

    def pods(self, member: str, selector: str) -> dict[str, str]:
        """{pod name: uid} of pods matching ``selector`` in a member (raises when it does not answer)."""
        items = self.ctx.core(member).list_namespaced_pod(self.ns, label_selector=selector, _request_timeout=2).items
        return {p.metadata.name: p.metadata.uid for p in items}

    def auditor(self) -> Any:
        from .identity import IdentityAuditor

        return IdentityAuditor({m: self.ctx.api(m) for m in self.members}, namespace=self.ns, sets=[KV],
                               interval=0.1, timeline=self.ctx.timeline).start()

    # -- cleanup -------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        from ..federation.model import API_VERSION

        errors: list[str] = []
        try:
            if self._has_crds():
                for obj in self.host.list(API_VERSION, "FederatedWorkload", self.ns):
                    self.host.delete(API_VERSION, "FederatedWorkload", self.ns, obj["metadata"]["name"])
                end = time.monotonic() + 30
                while self.fed is not None and self.fed.running and time.monotonic() < end and \
                        self.host.list(API_VERSION, "FederatedWorkload", self.ns):
                    self.fed.kick()
                    time.sleep(0.1)
        except KitError as exc:
            errors.append(f"delete the federated workloads: {exc}")
        if self.fed is not None and self.own_controller:
            self.fed.stop()
        for m in self.members:
            try:
                self.ctx.core(m).delete_namespace(self.ns, _request_timeout=5)
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "status", None) != 404:
                    errors.append(f"delete namespace {self.ns} in {m}: {exc}"[:160])
        try:
            self.host.delete("v1", "Namespace", None, self.ns)
        except KitError as exc:
            errors.append(f"delete namespace {self.ns} in the host: {exc}"[:160])
        return errors


def world(ctx: DrillContext) -> FedWorld:
    w = ctx.state.get("world")
    if w is None:
        raise KitError("the drill's federation is not set up (pre-flight did not run)")
    return w  # type: ignore[no-any-return]


def wait_until(what: str, fn: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    return until(what, fn, timeout, interval)


def weights_param(text: str, n: int) -> list[int]:
    try:
        ws = [int(x) for x in str(text).replace(":", ",").split(",") if x.strip()]
    except ValueError as exc:
        raise InvalidParameter("weights", text, "must be whole numbers like 1,2,1") from exc
    return (ws + [1] * n)[:n]
