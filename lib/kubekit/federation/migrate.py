"""Move pets between member clusters: the explicit, fenced, step-by-step ``ordinals.start`` migration.

Pets never move by themselves (a lost member's pets stay where they are). Moving a
slice of a federated StatefulSet is this procedure, one ordinal at a time (the loop of
KEP-3335 "StatefulSet start ordinal", federation-drills.md §4 and §6(b) D12)::

    p = migrate.plan_migration({"a": (0, 2), "b": (2, 2), "c": (4, 2)}, "a", "b", set_name="kv")
    print(p.table())                                   # the steps, and the slices after each
    res = migrate.migrate("sandbox", "statefulset-kv", "a", "b", namespace="fed")   # do it
    res = migrate.migrate(..., dry_run=True)           # the plan from the live objects, nothing changed

For each ordinal ``o`` (the top one of the source when the destination's slice starts
right above it; the bottom one when it ends right below it):

1. ``shrink-source``  pin the slices in ``spec.replicaScheduling.ordinalSlices`` without ``o``
   in the source; the federation controller scales the source's StatefulSet down;
2. ``wait-gone``      the pod ``<set>-o`` is gone from the source (not just Terminating): the fence;
3. ``export``         a read-only petkv pod (no ordinal, so it owns no key and refuses writes)
   mounts the source's claim and hands over every key;
4. ``import``         the destination gets a claim of the same name, filled by a petkv pod that
   owns only ``o``'s shard, before any pet uses it; its checksum must equal the export's;
5. ``move-boundary``  the destination's slice takes ``o`` (``ordinals.start`` lowered or
   ``replicas`` raised); its StatefulSet creates ``<set>-o`` on the prepared claim;
6. ``wait-ready``     ``<set>-o`` Ready in the destination;
7. ``verify``         it holds every exported key with its value;
8. ``release-claim``  the source's old claim is deleted (``keep_source_claim`` keeps it).

Every step has a guard checked just before it runs (members Ready, a federation controller
holding its Lease, the pet in exactly one place, no stale claim in the destination) and is
recorded (start, end, outcome, detail; and on a :class:`kubekit.timeline.Timeline`, source
``migration``). At no moment do two pods hold one pet identity: the destination's pet is
created only after the source's is gone and both helper pods are gone too. A failure before
``move-boundary`` rolls back (the source gets its ordinal and its untouched claim back).
Everything goes through the host's API (the FederatedWorkload) and the members' APIs
(official client), so it runs unchanged on real clusters. Afterwards the slices stay pinned
in ``ordinalSlices`` (the weights no longer decide where pets live); a federation controller
must hold its Lease throughout, since it is what applies each slice change to the members.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kubekit.errors import CheckFailed, InvalidParameter, KitError, NotReady

from .model import API_VERSION, NAMESPACE, READY, OrdinalSlice, parse_member, parse_workload
from .rest import Rest

DOWN, UP = "down", "up"   # down: the source's top ordinals move to the start of the slice above it
ACTIONS = ("pin", "shrink-source", "wait-gone", "export", "import", "move-boundary", "wait-ready", "verify",
           "release-claim")
MIGRATION_LABEL = "kubekit.io/migration"
Slices = Mapping[str, tuple[int, int]]


class MigrationFailed(KitError):
    """A migration step's guard or action failed; ``result`` holds what was done (and rolled back)."""

    def __init__(self, message: str, result: "MigrationResult") -> None:
        super().__init__(message)
        self.result = result


# -- the plan (pure) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    index: int
    action: str
    ordinal: int | None
    cluster: str
    detail: str
    guard: str
    slices: tuple[OrdinalSlice, ...]     # the pinned slices once this step is done

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "action": self.action, "ordinal": self.ordinal, "cluster": self.cluster,
                "detail": self.detail, "guard": self.guard,
                "slices": {s.cluster: [s.start, s.replicas] for s in self.slices}}


@dataclass(frozen=True)
class MigrationPlan:
    set_name: str
    namespace: str
    workload: str
    source: str
    dest: str
    direction: str
    ordinals: tuple[int, ...]
    before: tuple[OrdinalSlice, ...]
    after: tuple[OrdinalSlice, ...]
    steps: tuple[Step, ...]

    def pets(self) -> list[str]:
        return [f"{self.set_name}-{o}" for o in self.ordinals]

    def table(self) -> str:
        rows = [{"#": str(s.index), "action": s.action, "pet": f"{self.set_name}-{s.ordinal}" if s.ordinal is not None
                 else "", "cluster": s.cluster, "what": s.detail,
                 "slices after": " ".join(f"{x.cluster}:{_range(x)}" for x in s.slices)} for s in self.steps]
        head = (f"move {', '.join(self.pets())} of {self.namespace}/{self.set_name} from {self.source} to {self.dest} "
                f"({len(self.steps)} steps)")
        return head + "\n" + _table(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"set": self.set_name, "namespace": self.namespace, "workload": self.workload, "source": self.source,
                "dest": self.dest, "direction": self.direction, "ordinals": list(self.ordinals),
                "before": {s.cluster: [s.start, s.replicas] for s in self.before},
                "after": {s.cluster: [s.start, s.replicas] for s in self.after},
                "steps": [s.to_dict() for s in self.steps]}

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


def _range(s: OrdinalSlice) -> str:
    return f"{s.start}..{s.stop - 1}" if s.replicas else "-"


def _as_slices(slices: Slices | Sequence[OrdinalSlice]) -> dict[str, OrdinalSlice]:
    if isinstance(slices, Mapping):
        return {c: OrdinalSlice(c, int(v[0]), int(v[1])) for c, v in slices.items()}
    return {s.cluster: s for s in slices}


def plan_migration(slices: Slices | Sequence[OrdinalSlice], source: str, dest: str, count: int = 1, *,
                   set_name: str = "pet", namespace: str = "default", workload: str = "",
                   keep_source_claim: bool = False, pinned: bool = False) -> MigrationPlan:
    """The steps that move ``count`` ordinals from ``source`` to ``dest`` (no I/O; raises InvalidParameter).

    ``slices``: ``{cluster: (start, replicas)}`` now. The destination's slice must be adjacent to
    the source's (``ordinals.start`` keeps every slice contiguous), or empty (then it starts at
    the first moved ordinal). ``pinned``: the slices are already in ``ordinalSlices`` (no ``pin`` step).
    """
    cur = _as_slices(slices)
    if source == dest:
        raise InvalidParameter("dest", dest, "is the source cluster")
    if source not in cur or cur[source].replicas == 0:
        raise InvalidParameter("source", source, "holds no pets of this set",
                               f"Slices: {', '.join(f'{c}:{_range(s)}' for c, s in sorted(cur.items())) or 'none'}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidParameter("count", count, "must be a whole number of pets, at least 1")
    src = cur[source]
    if count > src.replicas:
        raise InvalidParameter("count", count, f"{source} holds only {src.replicas} pet(s) ({_range(src)})")
    dst = cur.get(dest, OrdinalSlice(dest, src.stop, 0))
    if dst.replicas == 0:
        dst = OrdinalSlice(dest, src.stop, 0)
    held = [s for s in cur.values() if s.replicas]
    for a in held:
        for b in held:
            if a is not b and a.start < b.stop and b.start < a.stop:
                raise InvalidParameter("slices", {c: (s.start, s.replicas) for c, s in cur.items()},
                                       f"{a.cluster} and {b.cluster} overlap: fix the federation first")
    if dst.start == src.stop:
        direction = DOWN
        ordinals = tuple(range(src.stop - 1, src.stop - 1 - count, -1))
    elif dst.stop == src.start:
        direction = UP
        ordinals = tuple(range(src.start, src.start + count))
    else:
        raise InvalidParameter("dest", dest, f"its slice {_range(dst)} is not next to {source}'s {_range(src)}",
                               "ordinals.start keeps slices contiguous: move pets between neighbouring slices "
                               "(or to a member with no slice), one neighbour at a time")
    pet = lambda o: f"{set_name}-{o}"  # noqa: E731
    steps: list[Step] = []
    state = dict(cur)

    def snap() -> tuple[OrdinalSlice, ...]:
        return tuple(sorted(state.values(), key=lambda s: (s.start if s.replicas else 1 << 30, s.cluster)))

    def add(action: str, o: int | None, cluster: str, detail: str, guard: str) -> None:
        steps.append(Step(len(steps) + 1, action, o, cluster, detail, guard, snap()))

    if not pinned:
        state.setdefault(dest, replace(dst))
        add("pin", None, "", "write today's slices to spec.replicaScheduling.ordinalSlices (nothing moves)",
            "a federation controller holds its Lease")
    for o in ordinals:
        s, d = state[source], state.get(dest, dst)
        state[source] = (OrdinalSlice(source, s.start, s.replicas - 1) if direction == DOWN
                         else OrdinalSlice(source, s.start + 1, s.replicas - 1))
        add("shrink-source", o, source, f"{source} slice {_range(s)} -> {_range(state[source])}: its StatefulSet "
            f"removes {pet(o)}", f"both members Ready; {pet(o)} Ready in {source} only; no claim for it in {dest}")
        add("wait-gone", o, source, f"{pet(o)} deleted from {source} (not just Terminating)", "")
        add("export", o, source, f"read-only petkv pod on {source}'s claim of {pet(o)}: dump every key",
            f"{pet(o)} gone from {source}")
        add("import", o, dest, f"claim of {pet(o)} made in {dest}, filled by a petkv pod owning only its shard; "
            "checksums equal", f"no pod {pet(o)} in {dest}")
        state[dest] = (OrdinalSlice(dest, o, d.replicas + 1) if direction == DOWN and d.replicas
                       else OrdinalSlice(dest, d.start if d.replicas else o, d.replicas + 1))
        add("move-boundary", o, dest, f"{dest} slice {_range(d)} -> {_range(state[dest])}: ordinals.start "
            f"{state[dest].start}, replicas {state[dest].replicas}",
            f"{pet(o)} in no cluster; helper pods gone")
        add("wait-ready", o, dest, f"{pet(o)} Ready in {dest} on the prepared claim", "")
        add("verify", o, dest, f"{pet(o)} in {dest} holds every exported key", "")
        if not keep_source_claim:
            add("release-claim", o, source, f"delete {source}'s old claim(s) of {pet(o)}", "verify passed")
    return MigrationPlan(set_name, namespace, workload, source, dest, direction, ordinals,
                         tuple(sorted(cur.values(), key=lambda s: s.cluster)),
                         tuple(sorted(state.values(), key=lambda s: s.cluster)), tuple(steps))


def slices_of(fw: Mapping[str, Any]) -> tuple[dict[str, tuple[int, int]], bool]:
    """``({cluster: (start, replicas)}, pinned)`` of a FederatedWorkload: pinned slices, else its status."""
    pinned = ((fw.get("spec") or {}).get("replicaScheduling") or {}).get("ordinalSlices")
    if pinned:
        return {s["cluster"]: (int(s.get("start") or 0), int(s.get("replicas") or 0)) for s in pinned}, True
    out = {}
    for p in (fw.get("status") or {}).get("placement") or []:
        if p.get("ordinalStart") is not None:
            out[p["cluster"]] = (int(p["ordinalStart"]), int(p.get("replicas") or 0))
    return out, False


# -- doing it ------------------------------------------------------------------------------------

@dataclass
class StepRecord:
    step: Step
    start: float
    end: float = 0.0
    status: str = "running"          # succeeded | failed | rolled-back | running
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.step.to_dict(), "start": self.start, "end": self.end,
                "duration": round(self.end - self.start, 3), "status": self.status, "result": self.detail}


@dataclass
class MigrationResult:
    plan: MigrationPlan
    records: list[StepRecord] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)
    exported: dict[int, dict[str, str]] = field(default_factory=dict)   # ordinal -> the keys handed over
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.dry_run and bool(self.records) and all(r.status == "succeeded" for r in self.records) \
            and len(self.records) == len(self.plan.steps)

    def unavailable(self) -> dict[int, float]:
        """Seconds each moved pet was not serving: from ``shrink-source`` to the end of ``wait-ready``."""
        out = {}
        for o in self.plan.ordinals:
            mine = [r for r in self.records if r.step.ordinal == o]
            start = next((r.start for r in mine if r.step.action == "shrink-source"), None)
            end = next((r.end for r in mine if r.step.action == "wait-ready" and r.status == "succeeded"), None)
            if start is not None and end is not None:
                out[o] = round(end - start, 3)
        return out

    def table(self) -> str:
        rows = [{"#": str(r.step.index), "action": r.step.action,
                 "pet": f"{self.plan.set_name}-{r.step.ordinal}" if r.step.ordinal is not None else "",
                 "cluster": r.step.cluster, "status": r.status, "s": f"{r.end - r.start:.2f}",
                 "result": r.detail[:70]} for r in self.records]
        text = _table(rows) if rows else self.plan.table()
        if self.rollback:
            text += "\nrolled back: " + "; ".join(self.rollback)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "ok": self.ok, "dry_run": self.dry_run,
                "steps": [r.to_dict() for r in self.records], "rollback": list(self.rollback),
                "unavailable_s": self.unavailable(), "exported_keys": {o: len(v) for o, v in self.exported.items()}}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


def member_rests(host: Rest, timeout: float = 10.0) -> dict[str, Rest]:
    """A client per registered member, from its kubeconfig Secret (what the controller uses)."""
    from .members import api_client, member_kubeconfig

    out = {}
    for obj in host.list(API_VERSION, "MemberCluster"):
        m = parse_member(obj)
        out[m.name] = Rest(api_client(member_kubeconfig(host, m), m.context or None), m.name, timeout=timeout)
    return out


class _Runner:
    def __init__(self, host: Rest, members: Mapping[str, Rest], fw: dict[str, Any], plan: MigrationPlan,
                 timeout: float, timeline: Any, progress: Callable[[str], None] | None,
                 lease_namespace: str) -> None:
        self.host, self.members, self.plan = host, dict(members), plan
        self.timeout, self.timeline, self.progress = timeout, timeline, progress
        self.lease_namespace = lease_namespace
        self.ns, self.set, self.fw_name = plan.namespace, plan.set_name, fw["metadata"]["name"]
        tmpl = fw["spec"]["template"]
        self.claims = [c["metadata"]["name"] for c in tmpl["spec"].get("volumeClaimTemplates") or []]
        self.claim_specs = {c["metadata"]["name"]: c.get("spec") or {} for c in
                            tmpl["spec"].get("volumeClaimTemplates") or []}
        pod_spec = tmpl["spec"]["template"]["spec"]
        self.pod_template = tmpl["spec"]["template"]
        self.container = pod_spec["containers"][0]
        self.port = next((p.get("containerPort") for p in self.container.get("ports") or []), 8080)
        self.result = MigrationResult(plan)
        self.created: list[tuple[str, str]] = []   # (cluster, claim) this migration made: rollback removes only these

    # -- small reads ---------------------------------------------------------------------------
    def pet(self, o: int) -> str:
        return f"{self.set}-{o}"

    def claim(self, tmpl: str, o: int) -> str:
        return f"{tmpl}-{self.pet(o)}"

    def pod(self, cluster: str, name: str) -> dict[str, Any] | None:
        return self.members[cluster].get("v1", "Pod", self.ns, name)

    def ready(self, pod: dict[str, Any] | None) -> bool:
        conds = {c["type"]: c["status"] for c in ((pod or {}).get("status") or {}).get("conditions") or []}
        return bool(pod) and conds.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp")

    def member_ready(self, name: str) -> bool:
        obj = self.host.get(API_VERSION, "MemberCluster", None, name) or {}
        return (obj.get("status") or {}).get("state") == READY

    def wait(self, what: str, fn: Callable[[], Any], timeout: float | None = None) -> Any:
        end = time.monotonic() + (timeout or self.timeout)
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > end:
                raise NotReady(f"{what}: not within {timeout or self.timeout:g} s")
            time.sleep(0.05)

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    # -- guards --------------------------------------------------------------------------------
    def controller_alive(self) -> str:
        from .controller import LEASE, _parse_iso

        lease = self.host.get("coordination.k8s.io/v1", "Lease", self.lease_namespace, LEASE) or {}
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        expires = _parse_iso(spec.get("renewTime")) + float(spec.get("leaseDurationSeconds") or 0)
        if not holder or expires < time.time():
            return ("no federation controller holds its Lease: start one (kubekit federation run, or "
                    "Federation(...).start()); the migration changes slices through it")
        return ""

    def holders(self, o: int) -> list[str]:
        """Members where a pod holds pet identity ``o`` (Terminating counts), or that did not answer."""
        out = []
        for c, rest in sorted(self.members.items()):
            try:
                if rest.get("v1", "Pod", self.ns, self.pet(o)) is not None:
                    out.append(c)
            except KitError:
                out.append(f"{c} (unreachable)")
        return out

    # -- the FederatedWorkload -----------------------------------------------------------------
    def write_slices(self, slices: Sequence[OrdinalSlice]) -> None:
        body = [{"cluster": s.cluster, "start": s.start, "replicas": s.replicas} for s in
                sorted(slices, key=lambda s: s.cluster)]
        obj = self.host.merge_patch(API_VERSION, "FederatedWorkload", self.ns, self.fw_name,
                                    {"spec": {"replicaScheduling": {"ordinalSlices": body}}})
        gen = int(obj["metadata"].get("generation") or 0)

        def applied() -> bool:
            fw = self.host.get(API_VERSION, "FederatedWorkload", self.ns, self.fw_name) or {}
            st = fw.get("status") or {}
            if int(st.get("observedGeneration") or -1) < gen or st.get("phase") == "Invalid":
                if st.get("phase") == "Invalid" and int(st.get("observedGeneration") or -1) >= gen:
                    acc = next((c for c in st.get("conditions") or [] if c.get("type") == "Accepted"), {})
                    raise KitError(f"the federation refused the slices: {acc.get('message', '')}")
                return False
            for s in slices:
                if not self.member_ready(s.cluster):
                    continue
                live = self.members[s.cluster].get("apps/v1", "StatefulSet", self.ns, self.set)
                if s.replicas == 0:
                    if live is not None and int(live["spec"].get("replicas") or 0) != 0:
                        return False
                    continue
                if live is None or int(live["spec"].get("replicas") or 0) != s.replicas or \
                        int((live["spec"].get("ordinals") or {}).get("start") or 0) != s.start:
                    return False
            return True
        self.wait("the federation applied the slices", applied)

    # -- helper pods ---------------------------------------------------------------------------
    def helper_pod(self, name: str, o: int, petkv_name: str) -> dict[str, Any]:
        c = {k: v for k, v in self.container.items() if k not in ("livenessProbe",)}
        args = list(c.get("args") or [])
        c["args"] = args + ["--name", petkv_name]
        volumes = [v for v in self.pod_template["spec"].get("volumes") or [] if v.get("name") not in self.claims]
        volumes += [{"name": t, "persistentVolumeClaim": {"claimName": self.claim(t, o)}} for t in self.claims]
        meta = self.pod_template.get("metadata") or {}
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(("kubesim.io/",
                                                                                                   "kubekit.io/petkv"))}
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": self.ns, "labels": {MIGRATION_LABEL: self.pet(o)},
                             "annotations": annotations},
                "spec": {"containers": [c], "volumes": volumes, "restartPolicy": "Never",
                         "terminationGracePeriodSeconds": 1, "enableServiceLinks": False}}

    def run_helper(self, cluster: str, name: str, o: int, petkv_name: str,
                   use: Callable[[str], Any]) -> Any:
        rest = self.members[cluster]
        rest.create(self.helper_pod(name, o, petkv_name))
        try:
            self.wait(f"helper pod {name} Ready in {cluster}", lambda: self.ready(self.pod(cluster, name)))
            return use(f"/api/v1/namespaces/{self.ns}/pods/{name}:{self.port}/proxy")
        finally:
            rest.delete("v1", "Pod", self.ns, name)
            self.wait(f"helper pod {name} gone from {cluster}", lambda: self.pod(cluster, name) is None)

    # -- the steps -----------------------------------------------------------------------------
    def do(self, step: Step) -> str:
        o, src, dst = step.ordinal, self.plan.source, self.plan.dest
        a = step.action
        if a == "pin":
            if (why := self.controller_alive()):
                raise KitError(why)
            self.write_slices(step.slices)
            return "slices pinned"
        assert o is not None
        if a == "shrink-source":
            if (why := self.controller_alive()):
                raise KitError(why)
            for m in (src, dst):
                if not self.member_ready(m):
                    raise KitError(f"member {m} is not Ready: a migration needs both ends healthy")
            if not self.ready(self.pod(src, self.pet(o))):
                raise KitError(f"{self.pet(o)} is not Ready in {src}: nothing safe to move")
            if (where := [h for h in self.holders(o) if h != src]):
                raise KitError(f"{self.pet(o)} also exists in {', '.join(where)}: resolve that first")
            for t in self.claims:
                if self.members[dst].get("v1", "PersistentVolumeClaim", self.ns, self.claim(t, o)) is not None:
                    raise KitError(f"claim {self.claim(t, o)} already exists in {dst}: it may hold stale data; "
                                   "delete it (after checking) and retry")
            self.write_slices(step.slices)
            return f"{src} scaled to {next(s for s in step.slices if s.cluster == src).replicas}"
        if a == "wait-gone":
            self.wait(f"{self.pet(o)} gone from {src}", lambda: self.pod(src, self.pet(o)) is None)
            return "gone"
        if a == "export":
            if self.pod(src, self.pet(o)) is not None:
                raise KitError(f"{self.pet(o)} still exists in {src}: not fenced")
            dump = self.run_helper(src, f"{self.pet(o)}-export", o, "export",
                                   lambda base: self.members[src].request("GET", f"{base}/kv"))
            keys = dict((dump or {}).get("keys") or {})
            self.result.exported[o] = keys
            from kubekit.workloads.petkv import checksum

            return f"{len(keys)} keys, checksum {checksum(keys)}"
        if a == "import":
            from kubekit.workloads.petkv import checksum

            if self.pod(dst, self.pet(o)) is not None:
                raise KitError(f"{self.pet(o)} already runs in {dst}")
            keys = self.result.exported.get(o, {})
            for t in self.claims:
                self.members[dst].create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                          "metadata": {"name": self.claim(t, o), "namespace": self.ns,
                                                       "labels": {MIGRATION_LABEL: self.pet(o)}},
                                          "spec": dict(self.claim_specs[t])})
                self.created.append((dst, self.claim(t, o)))

            def fill(base: str) -> str:
                if keys:
                    self.members[dst].request("POST", f"{base}/batch", body={"put": keys}, timeout=30)
                return str((self.members[dst].request("GET", f"{base}/identity") or {}).get("checksum", ""))
            got = self.run_helper(dst, f"{self.pet(o)}-import", o, f"import-{o}", fill)
            if got != checksum(keys):
                raise KitError(f"imported checksum {got} != exported {checksum(keys)}")
            return f"{len(keys)} keys in {dst}, checksum {got}"
        if a == "move-boundary":
            if (where := self.holders(o)):
                raise KitError(f"{self.pet(o)} exists in {', '.join(where)}: creating it in {dst} would make two")
            for c in (src, dst):
                left = self.members[c].list("v1", "Pod", self.ns, selector=f"{MIGRATION_LABEL}={self.pet(o)}")
                if left:
                    raise KitError(f"helper pods still in {c}: {', '.join(p['metadata']['name'] for p in left)}")
            self.write_slices(step.slices)
            return f"{dst} now {_range(next(s for s in step.slices if s.cluster == dst))}"
        if a == "wait-ready":
            pod = self.wait(f"{self.pet(o)} Ready in {dst}", lambda: (p := self.pod(dst, self.pet(o))) and
                            self.ready(p) and p)
            vols = sorted(v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes") or []
                          if v.get("persistentVolumeClaim"))
            want = sorted(self.claim(t, o) for t in self.claims)
            if vols != want:
                raise KitError(f"{self.pet(o)} in {dst} uses claims {vols}, not {want}")
            return f"Ready on {pod['spec'].get('nodeName', '?')}"
        if a == "verify":
            base = f"/api/v1/namespaces/{self.ns}/pods/{self.pet(o)}:{self.port}/proxy"
            held = dict((self.members[dst].request("GET", f"{base}/kv") or {}).get("keys") or {})
            keys = self.result.exported.get(o, {})
            bad = sorted(k for k, v in keys.items() if held.get(k) != v)
            if bad:
                raise CheckFailed(f"{len(bad)} exported keys missing or different in {dst}: {', '.join(bad[:5])}")
            return f"all {len(keys)} exported keys present ({len(held)} held now)"
        if a == "release-claim":
            for t in self.claims:
                self.members[src].delete("v1", "PersistentVolumeClaim", self.ns, self.claim(t, o))
            return f"deleted {', '.join(self.claim(t, o) for t in self.claims)} in {src}"
        raise InvalidParameter("step", a, "unknown action")

    def note(self, what: str, step: Step, detail: str) -> None:
        if self.timeline is None:
            return
        try:
            self.timeline.add("migration", what, f"{step.action}: {detail}"[:200],
                              cluster=step.cluster, object=f"pod/{self.ns}/{self.pet(step.ordinal)}"
                              if step.ordinal is not None else f"federatedworkload/{self.ns}/{self.fw_name}",
                              action=step.action, step=step.index)
        except Exception:  # noqa: BLE001 - the timeline is an observer
            pass

    def run(self) -> MigrationResult:
        for step in self.plan.steps:
            rec = StepRecord(step, time.time())
            self.result.records.append(rec)
            self.say(f"[{step.index}/{len(self.plan.steps)}] {step.action} {step.detail}")
            self.note(f"migration-{step.action}", step, "started")
            try:
                rec.detail = self.do(step)
                rec.status, rec.end = "succeeded", time.time()
                self.note(f"migration-{step.action}-done", step, rec.detail)
            except Exception as exc:  # noqa: BLE001 - recorded, rolled back, re-raised
                rec.status, rec.end, rec.detail = "failed", time.time(), f"{type(exc).__name__}: {exc}"
                self.note("migration-step-failed", step, rec.detail)
                self.roll_back(step)
                raise MigrationFailed(f"migration step {step.index} ({step.action}) failed: {exc}",
                                      self.result) from exc
        return self.result

    def roll_back(self, failed: Step) -> None:
        """Before the boundary moved: give the source its ordinal (and untouched claim) back."""
        o = failed.ordinal
        done = {r.step.action for r in self.result.records if r.step.ordinal == o and r.status == "succeeded"}
        if o is None or "move-boundary" in done or failed.action in ("move-boundary", "wait-ready", "verify",
                                                                      "release-claim"):
            if o is not None:
                self.result.rollback.append(f"none: {self.pet(o)}'s boundary had moved (finish or migrate back)")
            return
        try:
            for c in (self.plan.source, self.plan.dest):
                for p in self.members[c].list("v1", "Pod", self.ns, selector=f"{MIGRATION_LABEL}={self.pet(o)}"):
                    self.members[c].delete("v1", "Pod", self.ns, p["metadata"]["name"])
                    self.result.rollback.append(f"deleted helper pod {p['metadata']['name']} in {c}")
            for c, claim in [x for x in self.created if x[1] in {self.claim(t, o) for t in self.claims}]:
                if self.members[c].delete("v1", "PersistentVolumeClaim", self.ns, claim):  # only what it made
                    self.result.rollback.append(f"deleted the imported claim {claim} in {c}")
            shrink = next(st for st in self.plan.steps if st.action == "shrink-source" and st.ordinal == o)
            restore = []
            for sl in shrink.slices:
                if sl.cluster == self.plan.source:  # the source's slice as it was before this ordinal left
                    sl = (OrdinalSlice(sl.cluster, sl.start, sl.replicas + 1) if self.plan.direction == DOWN
                          else OrdinalSlice(sl.cluster, sl.start - 1, sl.replicas + 1))
                restore.append(sl)
            self.write_slices(restore)
            self.result.rollback.append(f"slices restored: {self.pet(o)} back in {self.plan.source}")
        except Exception as exc:  # noqa: BLE001
            self.result.rollback.append(f"rollback incomplete: {type(exc).__name__}: {exc}")


def migrate(host: "str | Any", workload: str, source: str, dest: str, count: int = 1, *, namespace: str = "default",
            kubeconfig: str | None = None, dry_run: bool = False, keep_source_claim: bool = False,
            timeout: float = 120.0, members: Mapping[str, Any] | None = None, timeline: Any = None,
            progress: Callable[[str], None] | None = None, lease_namespace: str = NAMESPACE) -> MigrationResult:
    """Move ``count`` pets of FederatedWorkload ``workload`` (a StatefulSet) from ``source`` to ``dest``.

    ``dry_run``: only the plan, from the live slices. ``members``: {name: Rest, ApiClient or context}
    (default: built from the MemberCluster Secrets). Raises MigrationFailed (with the records and
    what was rolled back) when a guard or a step fails.
    """
    from .members import host_rest

    h = host_rest(host, kubeconfig)
    fw = h.get(API_VERSION, "FederatedWorkload", namespace, workload)
    if fw is None:
        raise InvalidParameter("workload", f"{namespace}/{workload}", "no such FederatedWorkload")
    wl = parse_workload(fw)
    if not (wl.stateful and wl.divided):
        raise InvalidParameter("workload", workload, f"is a {wl.kind} ({wl.scheduling.type}), not a Divided "
                               "StatefulSet: only pets have ordinal slices to move")
    slices, pinned = slices_of(fw)
    plan = plan_migration(slices, source, dest, count, set_name=wl.object_name, namespace=namespace,
                          workload=workload, keep_source_claim=keep_source_claim, pinned=pinned)
    if dry_run:
        return MigrationResult(plan, dry_run=True)
    if members is None:
        rests = member_rests(h)
    else:
        rests = {n: (r if isinstance(r, Rest) else host_rest(r, kubeconfig)) for n, r in members.items()}
    for m in (source, dest):
        if m not in rests:
            raise InvalidParameter("member", m, "is not a registered MemberCluster")
    return _Runner(h, rests, fw, plan, timeout, timeline, progress, lease_namespace).run()


def _table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no steps)"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)


__all__ = ["ACTIONS", "DOWN", "UP", "MigrationFailed", "MigrationPlan", "MigrationResult", "Step", "StepRecord",
           "member_rests", "migrate", "plan_migration", "slices_of"]
