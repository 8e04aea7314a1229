"""Bring the world to the state a lesson needs (prepare) and remove what the lesson made (cleanup).

Both are idempotent and repair rather than assume: a trainee may have run the
lessons in another order, deleted the pets, cordoned nodes, grown a node group, isolated a member
or left a half-made federation behind. Each returns a :class:`Report` whose
rows say what was done, so the notebook's first and last cells show it.
Everything goes through the same public calls the notebooks use (the sandbox
control API, :mod:`kubekit.aws`, the official Kubernetes client).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from .. import cluster as _cluster
from ..errors import InvalidParameter, KitError, NotReady
from ..views import table
from .catalogue import get
from .exercises import NODEGROUP_LABEL

SANDBOX = "sandbox"
COLUMNS = ["action", "object", "where"]


@dataclass
class Report:
    """What prepare or cleanup did, one row per object; printed as a small table."""

    title: str
    rows: list[dict[str, str]] = field(default_factory=list)
    empty: str = "nothing to do"

    def add(self, action: str, obj: str, where: str) -> None:
        self.rows.append({"action": action, "object": obj, "where": where})

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.title}: {self.empty}"
        return f"{self.title}:\n{table(self.rows, COLUMNS)}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass
class Prepared:
    """A prepared lesson: what its cells need (a cluster, an AWS target, a federation) and the repair report."""

    lesson: str
    target: str
    kubeconfig: str | None
    options: dict[str, Any]
    report: Report
    kc: Any = None  # kubekit.cluster.Cluster (00, 02)
    aws: Any = None  # kubekit.aws Target (01, 05)
    fed: Any = None  # a running kubekit.federation.Federation (03)
    members: list[str] = field(default_factory=list)
    where_is: dict[str, dict[str, str]] = field(default_factory=dict)
    health: Any = None

    def __str__(self) -> str:
        return str(self.report)

    def __repr__(self) -> str:
        return str(self.report)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


# -- small repairs -------------------------------------------------------------------------------
def uncordon_all(kc: Any, where: str, report: Report) -> list[str]:
    """Make every cordoned node schedulable again (a drained zone, a cordon left by a drill)."""
    core = client.CoreV1Api(kc.api)
    names = sorted(n.metadata.name for n in core.list_node().items if n.spec.unschedulable)
    for name in names:
        core.patch_node(name, {"spec": {"unschedulable": None}})
        report.add("uncordoned", f"node {name}", where)
    return names


def shrink_nodegroups(t: Any, kc: Any, name: str, region: str, report: Report, timeout: float = 120.0) -> list[str]:
    """Scale every node group of EKS cluster ``name`` grown beyond its minSize (the size apply gave it) back to it.

    Waits until the extra nodes are gone from the cluster, so what runs next sees the
    nodes the plan made.
    """
    eks = t.client("eks", region)
    shrunk: dict[str, int] = {}
    for group in sorted(eks.list_nodegroups(clusterName=name)["nodegroups"]):
        size = eks.describe_nodegroup(clusterName=name, nodegroupName=group)["nodegroup"]["scalingConfig"]
        if size["desiredSize"] > size["minSize"]:
            eks.update_nodegroup_config(clusterName=name, nodegroupName=group,
                                        scalingConfig={"desiredSize": size["minSize"]})
            shrunk[group] = size["minSize"]
            report.add("scaled back", f"node group {group} ({size['desiredSize']} -> {size['minSize']} nodes)", "AWS")
    core = client.CoreV1Api(kc.api)
    deadline = time.monotonic() + timeout
    for group, size in shrunk.items():
        while len(core.list_node(label_selector=f"{NODEGROUP_LABEL}={group}").items) > size:
            if time.monotonic() > deadline:
                raise NotReady(f"node group {group} still has more than {size} nodes after {timeout:g} s")
            time.sleep(0.2)
    return sorted(shrunk)


def remove_sets(kc: Any, namespace: str, where: str, report: Report) -> None:
    """Delete every StatefulSet in ``namespace`` with its Service, PDB, ConfigMap and claims, then stray claims."""
    from .. import pets

    apps, core = client.AppsV1Api(kc.api), client.CoreV1Api(kc.api)
    try:
        core.read_namespace(namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return
        raise
    for sts in sorted(apps.list_namespaced_stateful_set(namespace).items, key=lambda s: s.metadata.name):
        ps = pets.PetSet(sts.metadata.name, namespace=namespace)
        before = list(pets.claims(kc, ps))
        pets.teardown(kc, ps)
        report.add("removed", f"StatefulSet {namespace}/{ps.name} (+ Service, PDB, ConfigMap)", where)
        if before:
            report.add("removed", f"{len(before)} claims of {ps.name} and their volumes", where)
    stray = sorted(c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items)
    for name in stray:
        core.delete_namespaced_persistent_volume_claim(name, namespace)
    if stray:
        deadline = time.monotonic() + 60
        while core.list_namespaced_persistent_volume_claim(namespace).items:
            if time.monotonic() > deadline:
                raise NotReady(f"claims in {namespace} were not deleted within 60 s; a pod still uses them")
            time.sleep(0.1)
        report.add("removed", f"{len(stray)} stray claims ({', '.join(stray)})", where)


def ensure_sandbox(*, clusters: int = 0, empty: bool = False) -> None:
    """Start the sandbox, or bootstrap what it lacks; a running one with every cluster is left as it is.

    ``sandbox.up`` re-checks every stack (seconds per cluster); a lesson only needs
    the clusters to exist, and repairs the rest itself.
    """
    from .. import sandbox

    state = sandbox.status()
    if state.get("state") == "running":
        have = {c["name"] for c in state.get("clusters", [])}
        members = [m for m in state.get("members", []) if m in have]
        if (empty or SANDBOX in have) and len(members) >= clusters:
            return
    sandbox.up(empty=empty, clusters=clusters)


def _context_cluster(context: str, kubeconfig: str | None) -> Any | None:
    """The Cluster of ``context`` when the kubeconfig has it, else None."""
    try:
        return _cluster.connect(context=context, kubeconfig=kubeconfig)
    except (_cluster.KubeconfigError, OSError):
        return None


# -- per lesson ----------------------------------------------------------------------------------
def _prepare_00(p: Prepared) -> None:
    if p.target == SANDBOX:
        ensure_sandbox(clusters=int(p.options.get("member_clusters", 0)))
    p.kc = _cluster.connect(context=p.target, kubeconfig=p.kubeconfig)
    uncordon_all(p.kc, p.target, p.report)


def _demo_cluster(p: Prepared) -> Any | None:
    """The cluster lesson 01 built, if it exists (looked up in EKS first: a dead endpoint is never dialled)."""
    name, region = p.options.get("cluster_name", "demo"), p.options.get("region", "us-east-1")
    try:
        if name not in p.aws.client("eks", region).list_clusters()["clusters"]:
            return None
    except Exception:  # no AWS access: nothing of ours to repair
        return None
    return _context_cluster(name, p.kubeconfig)


def _prepare_01(p: Prepared) -> None:
    from .. import aws

    if p.target == SANDBOX:
        ensure_sandbox(empty=True)
    p.aws = aws.resolve(p.target)
    demo = _demo_cluster(p)
    if demo is not None:  # a zone drained, a node group grown in an earlier run of the exercises
        uncordon_all(demo, demo.context, p.report)
        shrink_nodegroups(p.aws, demo, p.options.get("cluster_name", "demo"), p.options.get("region", "us-east-1"),
                          p.report)


def _prepare_02(p: Prepared) -> None:
    if p.target == SANDBOX:
        ensure_sandbox()
    p.kc = _cluster.connect(context=p.target, kubeconfig=p.kubeconfig)
    uncordon_all(p.kc, p.target, p.report)
    remove_sets(p.kc, p.options.get("namespace", "pets"), p.target, p.report)


_feds: dict[tuple[str, str, str], Any] = {}  # the controller each prepare started in this process


def _prepare_03(p: Prepared) -> None:
    from .. import federation, sandbox

    namespace = p.options.get("namespace", "fed-demo")
    if p.target == SANDBOX:
        # an isolated member first: the bootstrap in up() waits for every member's nodes
        lost = [c["name"] for c in sandbox.status().get("clusters", []) if c.get("reachable") is False]
        for name in sorted(lost):
            sandbox.set_reachable(name, True)
            p.report.add("restored", f"API server of {name}", "sandbox")
        ensure_sandbox(clusters=3)
        p.where_is = {m["context"]: {"region": m["region"], "zone": m["zone"]} for m in sandbox.members()}
    else:  # region and zone are read from each member's nodes
        contexts = str(p.options.get("member_contexts", ""))
        p.where_is = {c.strip(): {} for c in contexts.split(",") if c.strip()}
    if not p.where_is:
        raise InvalidParameter("member_contexts", p.options.get("member_contexts", ""), "no member clusters",
                               "pass their kubeconfig contexts, comma-separated")
    p.members = list(p.where_is)
    p.health = federation.HealthCheck(period_s=int(p.options.get("probe_period", 1)), timeout_s=1,
                                      failure_threshold=int(p.options.get("failure_threshold", 2)))
    kc = p.kubeconfig
    federation.install_crds(p.target, kc)
    registered = {o["metadata"]["name"] for o in federation.list_members(p.target, kc)}
    for name in sorted(registered - set(p.members)):
        federation.unregister_member(p.target, name, kubeconfig=kc)
        p.report.add("unregistered", f"MemberCluster {name} (not a member of this lesson)", p.target)
    for name in p.members:
        federation.register_member(p.target, name, context=name, kubeconfig=kc, health_check=p.health,
                                   **p.where_is[name])
        if name not in registered:
            p.report.add("registered", f"MemberCluster {name}", p.target)
    key = (p.target, str(kc), namespace)
    old = _feds.pop(key, None)
    if old is not None:  # a controller from an earlier prepare in this kernel: one leader at a time
        old.stop()
    p.fed = _feds[key] = federation.Federation(p.target, kubeconfig=kc, resync_s=0.5).start()
    _delete_workloads(p, namespace, p.report)
    for name in p.members:
        p.fed.wait_member(name, "Ready", timeout=60)


def _delete_workloads(p: Prepared, namespace: str, report: Report, action: str = "removed") -> None:
    """Delete the lesson's FederatedWorkloads (the running controller removes what they made in the members)."""
    from .. import federation

    host = p.fed.host
    names = sorted(o["metadata"]["name"] for o in host.list(federation.API_VERSION, "FederatedWorkload", namespace))
    for name in names:
        federation.delete_workload(p.target, name, namespace, p.kubeconfig)
    deadline = time.monotonic() + 60
    while host.list(federation.API_VERSION, "FederatedWorkload", namespace):
        if time.monotonic() > deadline:
            raise NotReady(f"FederatedWorkloads in {namespace} still exist after 60 s: is a member unreachable? "
                           f"(kubectl get fw -n {namespace} -o yaml shows their conditions)")
        time.sleep(0.2)
    for name in names:
        report.add(action, f"FederatedWorkload {namespace}/{name} (and its objects in every member)", p.target)


def _prepare_05(p: Prepared) -> None:
    from .. import aws

    if p.target == SANDBOX:
        ensure_sandbox(empty=True)
    p.aws = aws.resolve(p.target)


PREPARE = {"00": _prepare_00, "01": _prepare_01, "02": _prepare_02, "03": _prepare_03, "04": None, "05": _prepare_05}


def prepare(lesson: str, target: str = SANDBOX, *, kubeconfig: str | None = None, **options: Any) -> Prepared:
    """Bring the sandbox (or the real target) to the state ``lesson`` needs; returns what its cells use.

    ``target``: the kubeconfig context (00, 02), the AWS target (01, 05: ``sandbox``,
    ``aws`` or ``aws:<profile>``) or the federation's host context (03). With
    ``sandbox`` the sandbox is started (or reused) with what the lesson needs.
    ``options`` are the lesson's own parameters (namespace, cluster_name, ...).
    """
    entry = get(lesson)
    step = PREPARE.get(entry.id)
    if step is None:
        raise InvalidParameter("lesson", lesson, "has no prepare step here", "its notebook prepares itself")
    p = Prepared(entry.id, target, kubeconfig or None, dict(options),
                 Report(f"lesson {entry.id} prepared on {target}", empty="nothing to repair"))
    step(p)
    return p


# -- cleanup -------------------------------------------------------------------------------------
def cleanup(lesson: "Prepared | str", target: str = SANDBOX, *, kubeconfig: str | None = None,
            **options: Any) -> Report:
    """Remove what ``lesson`` made (a :class:`Prepared`, or a lesson id plus the same target and options).

    Lesson 01 keeps its stacks unless ``destroy=True`` (05-teardown destroys them);
    02 and 03 keep their workloads with ``remove=False``; 05 stops the sandbox
    with ``stop_sandbox=True``. Returns the report (a table of what went).
    """
    p = lesson if isinstance(lesson, Prepared) else prepare_light(str(lesson), target, kubeconfig, options)
    opts = {**p.options, **options}
    report = Report(f"lesson {p.lesson} cleaned up", empty="nothing to remove")
    if p.lesson == "01":
        demo = _demo_cluster(p)
        if demo is not None:
            uncordon_all(demo, demo.context, report)
            shrink_nodegroups(p.aws, demo, opts.get("cluster_name", "demo"), opts.get("region", "us-east-1"), report)
        stacks = [opts.get("cluster_name", "demo"), f"{opts.get('cluster_name', 'demo')}-kubeup"]
        for stack in stacks:
            if opts.get("destroy", False):
                from .. import aws

                done = aws.destroy(stack, region=opts.get("region", "us-east-1"), target=p.aws,
                                   confirm_account=opts.get("confirm_account") or None, progress=False)
                if done["deleted"]:
                    report.add("destroyed", f"stack {stack} ({len(done['deleted'])} resources)", "AWS")
            else:
                report.add("kept", f"stack {stack} (05-teardown destroys it)", "AWS")
    elif p.lesson == "02" and opts.get("remove", True):
        uncordon_all(p.kc, p.target, report)
        remove_sets(p.kc, opts.get("namespace", "pets"), p.target, report)
    elif p.lesson == "03":
        if opts.get("remove", True):
            _delete_workloads(p, opts.get("namespace", "fed-demo"), report, action="deleted")
        if p.fed is not None:
            p.fed.stop()
            _feds.pop((p.target, str(p.kubeconfig), opts.get("namespace", "fed-demo")), None)
            report.add("stopped", "the federation controller (its lease released)", p.target)
    elif p.lesson == "05" and opts.get("stop_sandbox", False) and p.target == SANDBOX:
        from .. import sandbox

        if sandbox.down():
            report.add("stopped", "the sandbox (its state is kept for the next `kubekit sandbox up`)", "127.0.0.1")
    return report


def prepare_light(lesson: str, target: str, kubeconfig: str | None, options: dict[str, Any]) -> Prepared:
    """What cleanup needs without repairing anything (for a cleanup in a fresh kernel)."""
    entry = get(lesson)
    p = Prepared(entry.id, target, kubeconfig or None, dict(options), Report(f"lesson {entry.id}"))
    if entry.id in ("00", "02"):
        p.kc = _cluster.connect(context=target, kubeconfig=kubeconfig)
    elif entry.id in ("01", "05"):
        from .. import aws

        p.aws = aws.resolve(target)
    elif entry.id == "03":
        from .. import federation

        try:
            p.fed = federation.Federation(target, kubeconfig=kubeconfig, resync_s=0.5).start()
        except KitError as exc:
            raise NotReady(f"cannot start the federation controller on {target}: {exc}") from exc
    return p
