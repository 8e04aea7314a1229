"""The federation controller: a thin loop around :func:`decide.decide`.

``Federation(host_context).start()`` runs it in a background thread (``stop()``
ends it cleanly); ``kubekit federation run --host-context C`` runs the same loop
in the foreground; ``sync()`` runs one pass synchronously (tests and notebooks).

One pass:

1. hold the ``kubekit-federation`` Lease in the host (one active controller; a
   second one waits),
2. collect member probe results (probes run on their own schedule in a small
   thread pool, so a member that hangs never delays the others) and publish
   health changes to ``MemberCluster.status`` with an Event,
3. list what every healthy member holds (one LIST per member, namespace and kind,
   by the ``kubekit.io/federated-workload`` label),
4. for each ``FederatedWorkload``: ``decide()``, then apply (server-side apply,
   field manager ``kubekit-federation``) and delete what it says, post its
   Events, write its status.

All memory that matters lives in the host (workload and member status), so a
restarted controller continues where the last one stopped and neither duplicates
nor deletes anything.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from kubekit.errors import InvalidParameter, KitError, KubeError, MemberUnreachable, NotReady

from . import crds
from .decide import Action, Decision, Key, decide, object_key
from .health import Health, Probe, transition
from .members import api_client, host_rest, member_kubeconfig, probe
from .model import (
    API_VERSION,
    FIELD_MANAGER,
    LABEL_MANAGED_BY,
    LABEL_WORKLOAD,
    MANAGED_BY,
    NAMESPACE,
    OFFLINE,
    READY,
    UNKNOWN,
    Member,
    Workload,
    parse_member,
    parse_workload,
)
from .render import MCS_API_VERSION
from .rest import NotFound, Rest

FINALIZER = "kubekit.io/federation"
LEASE = "kubekit-federation"
LEASE_DURATION_S = 15
STATUS_REFRESH_S = 30.0


def _iso(t: float, micro: bool = False) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.fromtimestamp(t, timezone.utc).strftime(fmt)


def _parse_iso(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the federation's timeline: when, what object, why, what."""

    time: float
    source: str  # "federation"
    object: str  # "fw default/web" or "mc member-us-east-1a"
    type: str
    reason: str
    message: str

    def __str__(self) -> str:
        stamp = datetime.fromtimestamp(self.time, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        return f"{stamp}  {self.object:<28} {self.reason:<18} {self.message}"


@dataclass
class _MemberState:
    member: Member
    health: Health
    rest: Rest | None = None
    generation: int = 0
    pending: Future[Probe] | None = None
    next_probe: float = 0.0
    version: str = ""
    zones: tuple[tuple[str, int], ...] = ()
    status_written: float = 0.0
    namespaces: set[str] = field(default_factory=set)
    error: str = ""
    obj: dict[str, Any] = field(default_factory=dict)  # the MemberCluster as last listed
    write_status: bool = False


@dataclass
class SyncReport:
    leader: bool = True
    members: dict[str, str] = field(default_factory=dict)
    workloads: dict[str, str] = field(default_factory=dict)
    applied: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)


class Federation:
    """The controller for one host cluster. See the module docstring.

    ``on_event(entry)`` is called for every timeline line; ``timeline`` (a
    :class:`kubekit.timeline.Timeline`) receives them too, in its ``federation`` lane.
    """

    def __init__(self, host_context: "str | Any | None" = None, *, kubeconfig: str | os.PathLike[str] | None = None,
                 namespace: str = NAMESPACE, resync_s: float = 1.0, install: bool = True,
                 on_event: Callable[[TimelineEntry], None] | None = None, identity: str | None = None,
                 timeline: Any = None, lease_duration_s: int = LEASE_DURATION_S) -> None:
        self.host = host_rest(host_context if host_context is not None else _current_context(kubeconfig), kubeconfig)
        self.namespace = namespace
        self.resync_s = resync_s
        self.lease_duration_s = max(1, int(lease_duration_s))  # whole seconds: Lease spec.leaseDurationSeconds
        self.identity = identity or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.timeline: deque[TimelineEntry] = deque(maxlen=10_000)
        self.on_event = on_event
        self.shared_timeline = timeline  # a kubekit.timeline.Timeline: every decision also lands there
        self._members: dict[str, _MemberState] = {}
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kubekit-fed-probe")
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kubekit-fed-observe")
        self._wl_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kubekit-fed-workload")
        self._event_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kubekit-fed-events")
        self._lock = threading.RLock()  # one pass at a time
        self._mlock = threading.RLock()  # the members' state (shared with the prober thread)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._prober: threading.Thread | None = None
        self._lease_renewed = 0.0
        self._leader = False
        self.last_error = ""
        self.passes = 0
        if install:
            self.install()

    # -- lifecycle -----------------------------------------------------------------------------
    def install(self) -> None:
        """The CRDs and the controller's namespace (idempotent)."""
        crds.install(self.host)
        self.host.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}})

    def start(self) -> "Federation":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kubekit-federation", daemon=True)
        self._prober = threading.Thread(target=self._probe_loop, name="kubekit-federation-prober", daemon=True)
        self._thread.start()
        self._prober.start()
        return self

    def stop(self, timeout: float = 10.0, *, release: bool = True) -> None:
        """Stop the loop, wait for the pass in progress, release the Lease.

        ``release=False`` leaves the Lease to expire, as a crashed or killed controller does
        (the federation-controller-loss drill).
        """
        self._stop.set()
        self._wake.set()
        for t in (self._thread, self._prober):
            if t is not None:
                t.join(timeout)
        self._thread = self._prober = None
        with self._lock:
            if release:
                self._release_lease()
            else:
                self._leader = False
        self._probes.shutdown(wait=False, cancel_futures=True)
        for pool in (self._workers, self._wl_pool, self._event_pool):
            pool.shutdown(wait=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "Federation":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def kick(self) -> None:
        """Run the next pass now instead of after ``resync_s``."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync(wait_probes=False)
                self.last_error = ""
            except Exception as exc:  # keep running: the next pass retries
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._record("federation", "Warning", "SyncFailed", self.last_error)
            self._wake.wait(self.resync_s)
            self._wake.clear()

    # -- one pass ------------------------------------------------------------------------------
    def sync(self, wait_probes: bool = True) -> SyncReport:
        """One full pass. ``wait_probes``: probe every member that is due and wait for the answers."""
        with self._lock:
            report = SyncReport()
            self.passes += 1
            if not self._hold_lease():
                report.leader = False
                # A standby keeps its member clients ready (as controller-runtime warms its caches before
                # leader election), so a takeover acts at once; it neither probes nor writes anything.
                self._sync_members(report)
                return report
            self._sync_members(report)
            if self._prober is None or not self._prober.is_alive():
                self._probe_once(wait=wait_probes)
            with self._mlock:
                report.members = {n: st.health.state for n, st in self._members.items()}
            self._sync_workloads(report)
            return report

    # -- lease ---------------------------------------------------------------------------------
    def _hold_lease(self) -> bool:
        now = time.time()
        if self._leader and now - self._lease_renewed < self.lease_duration_s / 3:
            return True
        lease = self.host.get("coordination.k8s.io/v1", "Lease", self.namespace, LEASE)
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration_s,
                "renewTime": _iso(now, micro=True)}
        try:
            if lease is None:
                self.host.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                  "metadata": {"name": LEASE, "namespace": self.namespace},
                                  "spec": dict(spec, acquireTime=_iso(now, micro=True), leaseTransitions=0)})
                self._became_leader(None)
            else:
                cur = lease.get("spec") or {}
                holder = cur.get("holderIdentity") or ""
                expires = _parse_iso(cur.get("renewTime")) + float(cur.get("leaseDurationSeconds") or LEASE_DURATION_S)
                if holder and holder != self.identity and expires > now:
                    if self._leader:
                        self._record("federation", "Warning", "LeaseLost", f"{holder} holds the lease")
                    self._leader = False
                    return False
                if holder != self.identity:
                    spec["acquireTime"] = _iso(now, micro=True)
                    spec["leaseTransitions"] = int(cur.get("leaseTransitions") or 0) + 1
                lease["spec"] = dict(cur, **spec)
                res = self.host.resource("coordination.k8s.io/v1", "Lease")
                self.host.request("PUT", res.path(self.namespace, LEASE), body=lease)
                if holder != self.identity:
                    self._became_leader(holder or None)
        except KubeError as exc:
            if exc.status == 409:
                return False
            raise
        self._leader = True
        self._lease_renewed = now
        return True

    def _became_leader(self, previous: str | None) -> None:
        self._record("federation", "Normal", "LeaderElected",
                     f"{self.identity} leads" + (f" (took over from {previous})" if previous else ""))

    def _release_lease(self) -> None:
        if not self._leader:
            return
        try:
            lease = self.host.get("coordination.k8s.io/v1", "Lease", self.namespace, LEASE)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                res = self.host.resource("coordination.k8s.io/v1", "Lease")
                self.host.request("PUT", res.path(self.namespace, LEASE), body=lease)
        except KitError:
            pass
        self._leader = False

    # -- members -------------------------------------------------------------------------------
    def members(self) -> dict[str, Member]:
        """The members as the controller sees them now (health included)."""
        with self._mlock:
            return {n: s.member for n, s in self._members.items()}

    def _sync_members(self, report: SyncReport) -> None:
        with self._mlock:
            self._refresh_members(report)

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._leader:  # only the leader probes and writes MemberCluster status
                    self._probe_once(wait=False)
            except Exception as exc:  # keep probing
                self._record("federation", "Warning", "ProbeFailed", f"{type(exc).__name__}: {exc}")
            self._stop.wait(0.05)

    def _probe_once(self, wait: bool) -> None:
        """Start the probes that are due, collect the finished ones, publish what changed."""
        now = time.time()
        with self._mlock:
            states = list(self._members.items())
            for name, st in states:
                if st.rest is not None and st.pending is None and now >= st.next_probe:
                    st.pending = self._probes.submit(probe, st.rest, st.member.health_check.timeout_s)
                    st.next_probe = now + st.member.health_check.period_s
        for name, st in states:
            fut = st.pending
            if fut is None:
                continue
            if wait:
                try:
                    fut.result(timeout=st.member.health_check.timeout_s + 5)
                except Exception:
                    pass
            if not fut.done():
                continue
            try:
                result = fut.result()
            except Exception as exc:
                result = Probe("no-answer", f"{type(exc).__name__}: {exc}", time.time())
            with self._mlock:
                st.pending = None
                self._apply_probe(name, st, result)
        for name, st in states:
            if st.write_status:
                st.write_status = False
                self._write_member_status(name, st)

    def _refresh_members(self, report: SyncReport) -> None:
        objs = {o["metadata"]["name"]: o for o in self.host.list(API_VERSION, "MemberCluster")}
        for name in list(self._members):
            if name not in objs:
                self._record(f"mc {name}", "Normal", "MemberRemoved", f"{name} is no longer a member")
                del self._members[name]
        now = time.time()
        for name, obj in objs.items():
            st = self._members.get(name)
            gen = int(obj["metadata"].get("generation") or 0)
            try:
                member = parse_member(obj)
            except KitError as exc:
                report.errors.append(str(exc))
                continue
            if st is None or not self._leader:  # a standby follows what the leader publishes
                status = obj.get("status") or {}
                health = _health_of(member, status)
                if st is None:
                    st = self._members[name] = _MemberState(member, health,
                                                            version=status.get("kubernetesVersion", ""))
                    st.status_written = now
                else:
                    st.health = health
            if st.rest is None or st.generation != gen:
                try:
                    kc = member_kubeconfig(self.host, member)
                    st.rest = Rest(api_client(kc, member.context or None), name, timeout=member.health_check.timeout_s)
                    st.error = ""
                except (KitError, ValueError, KeyError, TypeError) as exc:
                    st.rest = None
                    if st.error != str(exc):
                        st.error = str(exc)
                        self._record(f"mc {name}", "Warning", "NoClient", st.error, obj=obj)
                st.generation = gen
            st.member = _with_state(member, st.health.state)
            st.obj = obj

    def _apply_probe(self, name: str, st: _MemberState, result: Probe) -> None:
        before = st.health
        st.health = before.next(result, st.member.health_check)
        st.member = _with_state(st.member, st.health.state)
        if result.version:
            st.version = result.version
        if result.zones:
            st.zones = result.zones
        change = transition(before, st.health)
        if change:
            if st.health.state == READY:
                msg = f"{name} answers again ({change})" if before.state != UNKNOWN else f"{name} is Ready"
                etype = "Normal"
            else:
                hc = st.member.health_check
                msg = (f"{name} is {st.health.state} after {st.health.failures} failed probe(s) "
                       f"(every {hc.period_s:g} s, timeout {hc.timeout_s:g} s, threshold {hc.failure_threshold}): "
                       f"{result.message}")
                etype = "Warning"
            self._record(f"mc {name}", etype, f"Member{st.health.state}", msg, obj=st.obj or None)
            self.kick()
        if change or time.time() - st.status_written > STATUS_REFRESH_S:
            st.write_status = True

    def _write_member_status(self, name: str, st: _MemberState) -> None:
        h = st.health
        since = _iso(h.since or h.last_probe or time.time())
        ready = h.state == READY
        status: dict[str, Any] = {
            "state": h.state,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else ("Unknown" if h.state == UNKNOWN else "False"),
                 "reason": "ClusterReady" if ready else f"Cluster{h.state}", "message": h.message or h.state,
                 "lastTransitionTime": since, "lastProbeTime": _iso(h.last_probe or time.time())},
                {"type": "Offline", "status": "True" if h.state == OFFLINE else "False",
                 "reason": "ClusterNotReachable" if h.state == OFFLINE else "ClusterReachable",
                 "message": h.message if h.state == OFFLINE else "the API server answers",
                 "lastTransitionTime": since, "lastProbeTime": _iso(h.last_probe or time.time())},
            ],
            "lastProbeTime": _iso(h.last_probe or time.time()),
            "consecutiveFailures": h.failures, "consecutiveSuccesses": h.successes,
        }
        if st.version:
            status["kubernetesVersion"] = st.version
        if st.zones:
            status["zones"] = [{"name": z, "nodes": n} for z, n in st.zones]
            status["nodes"] = sum(n for _, n in st.zones)
        try:
            self.host.merge_patch(API_VERSION, "MemberCluster", None, name, {"status": status}, subresource="status")
            st.status_written = time.time()
        except KitError as exc:
            self._record(f"mc {name}", "Warning", "StatusFailed", str(exc))

    # -- workloads -----------------------------------------------------------------------------
    def _sync_workloads(self, report: SyncReport) -> None:
        self._dark: set[str] = set()  # members that did not answer during this pass: not tried again in it
        objs = self.host.list(API_VERSION, "FederatedWorkload")
        with self._mlock:
            members = {n: s.member for n, s in self._members.items()}
        parsed: list[tuple[dict[str, Any], Workload | None, KitError | None]] = []
        for obj in objs:
            try:
                parsed.append((obj, parse_workload(obj), None))
            except KitError as exc:
                parsed.append((obj, None, exc))
        kinds: dict[str, set[tuple[str, str, str]]] = {}
        for _, wl, _ in parsed:
            if wl is None:
                continue
            kinds.setdefault(wl.namespace, set()).add((wl.api_version, wl.kind, ""))
            if wl.kind == "Service" and wl.group == "":
                kinds[wl.namespace].add((MCS_API_VERSION, "ServiceExport", ""))
        observed = self._observe(kinds)
        now = time.time()

        def one(item: tuple[dict[str, Any], Workload | None, KitError | None]) -> tuple[str, str]:
            obj, wl, err = item
            key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
            if wl is None:
                self._invalid(obj, err, now)
                return key, "Invalid"
            if not wl.deleting and FINALIZER not in (obj["metadata"].get("finalizers") or []):
                self.host.merge_patch(API_VERSION, "FederatedWorkload", wl.namespace, wl.name,
                                      {"metadata": {"finalizers": list(obj["metadata"].get("finalizers") or [])
                                                    + [FINALIZER]}})
            mine = {c: dict(by_wl.get(wl.name, {})) for c, by_wl in observed.get(wl.namespace, {}).items()}
            d = decide(wl, members, obj.get("status") or {}, mine, now)
            self._execute(obj, wl, d, report)
            return key, str(d.status.get("phase", ""))

        for key, phase in self._wl_pool.map(one, parsed):
            report.workloads[key] = phase

    def _observe(self, kinds: dict[str, set[tuple[str, str, str]]]) -> dict[str, dict[str, dict[str, dict[Key, Any]]]]:
        """{namespace: {cluster: {workload name: {key: live object}}}} for every Ready member."""
        out: dict[str, dict[str, dict[str, dict[Key, Any]]]] = {ns: {} for ns in kinds}
        with self._mlock:
            ready = [(n, s) for n, s in self._members.items() if s.member.state == READY and s.rest is not None]

        def one(name: str, st: _MemberState) -> tuple[str, dict[str, dict[str, dict[Key, Any]]] | None]:
            found: dict[str, dict[str, dict[Key, Any]]] = {}
            assert st.rest is not None
            try:
                for ns, ks in kinds.items():
                    per: dict[str, dict[Key, Any]] = {}
                    for api_version, kind, _ in ks:
                        try:
                            items = st.rest.list(api_version, kind, ns, selector=LABEL_WORKLOAD)
                        except NotFound:
                            items = []
                        for item in items:
                            item.setdefault("apiVersion", api_version)
                            item.setdefault("kind", kind)
                            owner = (item["metadata"].get("labels") or {}).get(LABEL_WORKLOAD, "")
                            per.setdefault(owner, {})[object_key(item)] = item
                    found[ns] = per
            except MemberUnreachable:
                self._dark.add(name)
                return name, None
            except KubeError:
                return name, None
            return name, found

        for name, found in self._workers.map(lambda a: one(*a), ready):
            if found is None:
                continue
            for ns, per in found.items():
                out[ns][name] = per
        return out

    def _execute(self, obj: dict[str, Any], wl: Workload, d: Decision, report: SyncReport) -> None:
        for ev in d.events:
            self._record(f"fw {wl.key}", ev.type, ev.reason, ev.message, obj=obj)
        by_cluster: dict[str, list[Action]] = {}
        for a in d.actions:
            by_cluster.setdefault(a.cluster, []).append(a)
        failures: list[str] = []

        def run(cluster: str, actions: list[Action]) -> list[tuple[Action, str]]:
            with self._mlock:
                st = self._members.get(cluster)
            done: list[tuple[Action, str]] = []
            if st is None or st.rest is None:
                return [(a, f"no client for {cluster}") for a in actions]
            for a in actions:
                if cluster in self._dark:
                    done.append((a, f"{cluster} did not answer"))
                    continue
                try:
                    if a.verb == "apply":
                        self._ensure_namespace(st, wl.namespace)
                        self._apply(st, a.obj)
                    else:
                        ref = a.obj
                        st.rest.delete(ref["apiVersion"], ref["kind"], ref["metadata"].get("namespace"),
                                       ref["metadata"]["name"])
                    done.append((a, ""))
                except MemberUnreachable as exc:
                    self._dark.add(cluster)
                    done.append((a, str(exc)))
                except KitError as exc:
                    done.append((a, str(exc)))
            return done

        results = [run(c, acts) for c, acts in by_cluster.items()]
        for done in results:
            for a, err in done:
                if err:
                    failures.append(f"{a.cluster}: {err}")
                    self._record(f"fw {wl.key}", "Warning", "ApplyFailed" if a.verb == "apply" else "DeleteFailed",
                                 err, obj=obj)
                else:
                    with self._mlock:
                        if a.verb == "apply":
                            report.applied += 1
                        else:
                            report.deleted += 1
                    self._record(f"fw {wl.key}", "Normal", a.reason, a.message, obj=obj)
        status = dict(d.status)
        if not d.error and not wl.deleting:
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "Propagated"]
            old = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Propagated"),
                       {})
            ok = not failures
            cond = {"type": "Propagated", "status": "True" if ok else "False",
                    "reason": "Applied" if ok else "ApplyFailed",
                    "message": "every reachable member holds the desired objects" if ok else "; ".join(failures)[:1000],
                    "observedGeneration": wl.generation}
            cond["lastTransitionTime"] = (old.get("lastTransitionTime") if old.get("status") == cond["status"]
                                          else None) or _iso(time.time())
            conds.append(cond)
            status["conditions"] = conds
        report.errors.extend(failures)
        if status != (obj.get("status") or {}):
            try:
                self._write_status(wl, status)
            except NotFound:
                return
        if wl.deleting and d.finalized:
            fins = [f for f in obj["metadata"].get("finalizers") or [] if f != FINALIZER]
            try:
                self.host.merge_patch(API_VERSION, "FederatedWorkload", wl.namespace, wl.name,
                                      {"metadata": {"finalizers": fins or None}})
                self._record(f"fw {wl.key}", "Normal", "Finalized", "removed from every member", obj=obj)
            except NotFound:
                pass

    def _write_status(self, wl: Workload, status: dict[str, Any]) -> None:
        self.host.apply({"apiVersion": API_VERSION, "kind": "FederatedWorkload",
                         "metadata": {"name": wl.name, "namespace": wl.namespace}, "status": status},
                        subresource="status")

    def _invalid(self, obj: dict[str, Any], err: KitError | None, now: float) -> None:
        reason = getattr(err, "reason", "InvalidSpec")
        message = str(err)
        prev = obj.get("status") or {}
        old = next((c for c in prev.get("conditions") or [] if c.get("type") == "Accepted"), {})
        if old.get("reason") == reason and old.get("message") == message:
            return
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        self._record(f"fw {key}", "Warning", reason, message, obj=obj)
        conds = [c for c in prev.get("conditions") or [] if c.get("type") != "Accepted"]
        conds.append({"type": "Accepted", "status": "False", "reason": reason, "message": message,
                      "lastTransitionTime": _iso(now),
                      "observedGeneration": int(obj["metadata"].get("generation") or 0)})
        self.host.apply({"apiVersion": API_VERSION, "kind": "FederatedWorkload",
                         "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]},
                         "status": dict(prev, conditions=conds, phase="Invalid",
                                        observedGeneration=int(obj["metadata"].get("generation") or 0))},
                        subresource="status")

    def _ensure_namespace(self, st: _MemberState, namespace: str) -> None:
        if namespace in st.namespaces:
            return
        assert st.rest is not None
        if st.rest.get("v1", "Namespace", None, namespace) is None:
            st.rest.apply({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": namespace, "labels": {LABEL_MANAGED_BY: MANAGED_BY}}})
        st.namespaces.add(namespace)

    def _apply(self, st: _MemberState, obj: dict[str, Any]) -> None:
        assert st.rest is not None
        try:
            st.rest.apply(obj)
        except NotFound:
            if obj["apiVersion"] != MCS_API_VERSION:
                raise
            crds.ensure(st.rest, crds.SERVICE_EXPORT_CRD)
            self._record(f"mc {st.member.name}", "Normal", "InstalledCRD",
                         f"installed the Multi-Cluster Services ServiceExport CRD in {st.member.name}")
            st.rest.forget(MCS_API_VERSION)
            st.rest.apply(obj)

    # -- events and timeline -------------------------------------------------------------------
    def _record(self, what: str, etype: str, reason: str, message: str, obj: dict[str, Any] | None = None) -> None:
        now = time.time()
        entry = TimelineEntry(now, "federation", what, etype, reason, message)
        self.timeline.append(entry)
        if self.on_event is not None:
            try:
                self.on_event(entry)
            except Exception:
                pass
        if self.shared_timeline is not None:
            kind, _, ref = what.partition(" ")
            obj_ref = {"fw": f"federatedworkload/{ref}", "mc": f"membercluster/{ref}"}.get(kind, what)
            try:
                self.shared_timeline.add("federation", reason, message, cluster=ref if kind == "mc" else "",
                                         object=obj_ref, time=now, type=etype)
            except Exception:
                pass
        if obj is None:
            return
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{uuid.uuid4().hex[:12]}", "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion", API_VERSION), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024], "type": etype,
            "source": {"component": FIELD_MANAGER},
            "firstTimestamp": _iso(now), "lastTimestamp": _iso(now), "count": 1,
            "reportingComponent": FIELD_MANAGER, "reportingInstance": self.identity,
        }

        def post() -> None:
            try:
                self.host.create(body)
            except KitError:
                pass

        try:
            self._event_pool.submit(post)
        except RuntimeError:  # stopped: post it here
            post()

    # -- waiting -------------------------------------------------------------------------------
    def wait(self, name: str, namespace: str = "default", *, phase: str = "Ready", timeout: float = 60.0,
             generation: bool = True) -> dict[str, Any]:
        """Wait until the workload's status reaches ``phase`` (for its current generation); returns the object."""
        return wait_for(self.host, name, namespace, phase=phase, timeout=timeout, generation=generation,
                        kick=self.kick if self.running else self.sync)

    def wait_member(self, name: str, state: str, timeout: float = 60.0) -> float:
        """Wait until the controller sees member ``name`` in ``state`` and has published it in the
        MemberCluster's status (what tables and other readers see); returns the seconds waited."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self._mlock:
                st = self._members.get(name)
                seen = st is not None and st.health.state == state
            if seen:
                obj = self.host.get(API_VERSION, "MemberCluster", None, name) or {}
                if (obj.get("status") or {}).get("state") == state:
                    return time.monotonic() - t0
            if not self.running:
                self.sync()
            time.sleep(0.05)
        raise NotReady(f"member {name} did not become {state} within {timeout:g} s")


def _health_of(member: Member, status: dict[str, Any]) -> Health:
    """A member's health as the MemberCluster's status records it (what a new leader starts from)."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return Health(state=member.state, successes=int(status.get("consecutiveSuccesses") or 0),
                  failures=int(status.get("consecutiveFailures") or 0),
                  since=_parse_iso(ready.get("lastTransitionTime")),
                  last_probe=_parse_iso(status.get("lastProbeTime")))


def _with_state(member: Member, state: str) -> Member:
    from dataclasses import replace

    return replace(member, state=state)


def _current_context(kubeconfig: str | os.PathLike[str] | None) -> str:
    from kubernetes import config

    from kubekit.cluster import resolve_kubeconfig

    _, current = config.list_kube_config_contexts(config_file=str(resolve_kubeconfig(kubeconfig)))
    if not current:
        raise InvalidParameter("host_context", None, "no context given and the kubeconfig has no current-context")
    return str(current["name"])


def wait_for(host: Rest, name: str, namespace: str = "default", *, phase: str = "Ready", timeout: float = 60.0,
             generation: bool = True, kick: Callable[[], Any] | None = None) -> dict[str, Any]:
    t0 = time.monotonic()
    last: dict[str, Any] = {}
    while time.monotonic() - t0 < timeout:
        last = host.get(API_VERSION, "FederatedWorkload", namespace, name) or {}
        st = last.get("status") or {}
        gen_ok = not generation or int(st.get("observedGeneration") or -1) == int(
            (last.get("metadata") or {}).get("generation") or 0)
        if gen_ok and st.get("phase") == phase:
            return last
        if kick is not None:
            kick()
        time.sleep(0.1)
    st = last.get("status") or {}
    raise NotReady(f"FederatedWorkload {namespace}/{name} not {phase} within {timeout:g} s "
                   f"(phase {st.get('phase')!r}, ready {st.get('ready')!r})")


__all__ = ["FINALIZER", "Federation", "SyncReport", "TimelineEntry", "wait_for"]
