"""The "your turn" exercises and their checks: each inspects the live cluster (or AWS) and says what is
right, what is missing and a hint.

    check("02.scale-to-5", kc)                              # kc: a kubekit.cluster.Cluster or a context name
    check("01.plan-region", t, plan=eu, monthly=eu_monthly)
    check("03.move-weight", "sandbox", kubeconfig=None, namespace="fed-demo")

A check never changes anything, and says the same thing for the same state
(sorted names, no times), so executed notebooks stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kubernetes import client

from .. import cluster as _cluster
from ..errors import InvalidParameter, KitError
from .verdict import Verdict

ZONE_LABEL = "topology.kubernetes.io/zone"
REVISION_LABEL = "controller-revision-hash"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    hint: str
    check: Callable[..., tuple[list[str], list[str]]]


def _kc(target: Any, kubeconfig: str | None = None) -> Any:
    """A Cluster for ``target``: a Cluster already, or a context name."""
    if isinstance(target, _cluster.Cluster):
        return target
    return _cluster.connect(context=str(target), kubeconfig=kubeconfig)


# -- 01 -------------------------------------------------------------------------------------------
def _plan_region(t: Any, *, plan: Any = None, monthly: Any = None, home_region: str = "us-east-1",
                 **_: Any) -> tuple[list[str], list[str]]:
    from ..aws.regions import zones as available

    right, missing = [], []
    if plan is None:
        return right, ["no plan yet (`eu` is None)"]
    if plan.region == home_region:
        missing.append(f"the plan is in {plan.region}, the region the lesson used: pick another one")
    else:
        right.append(f"a plan in {plan.region}, not {home_region}")
    outside = sorted(set(plan.zones) - set(available(t, plan.region)))
    if outside:
        missing.append(f"zones {', '.join(outside)} are not in {plan.region}")
    elif len(plan.zones) < 3:
        missing.append(f"{len(plan.zones)} zone(s): spread over 3 zones")
    else:
        right.append(f"{len(plan.zones)} zones, all in {plan.region}: {', '.join(plan.zones)}")
    if monthly is None:
        missing.append("the monthly cost is not read yet (`eu_monthly` is None)")
    elif abs(float(monthly) - plan.monthly) > 1:
        missing.append(f"${float(monthly):,.0f}/month is not what the plan says")
    else:
        right.append(f"monthly cost read: about ${plan.monthly:,.0f}")
    return right, missing


def _drain_zone(target: Any, *, zone: str, kubeconfig: str | None = None, **_: Any) -> tuple[list[str], list[str]]:
    kc = _kc(target, kubeconfig)
    core = client.CoreV1Api(kc.api)
    nodes = core.list_node().items
    inside = sorted((n for n in nodes if (n.metadata.labels or {}).get(ZONE_LABEL) == zone),
                    key=lambda n: n.metadata.name)
    if not inside:
        return [], [f"{kc.context} has no nodes in {zone}"]
    right, missing = [], []
    open_nodes = [n.metadata.name for n in inside if not n.spec.unschedulable]
    if open_nodes:
        missing.append(f"still schedulable in {zone}: {', '.join(open_nodes)}")
    else:
        right.append(f"all {len(inside)} nodes in {zone} are cordoned")
    names = {n.metadata.name for n in inside}
    left = sorted(f"{p.metadata.namespace}/{p.metadata.name}" for p in core.list_pod_for_all_namespaces().items
                  if p.spec.node_name in names and not p.metadata.deletion_timestamp
                  and not any(o.kind == "DaemonSet" for o in p.metadata.owner_references or []))
    if left:
        missing.append(f"pods still on them: {', '.join(left)}")
    else:
        right.append("no pods left on them (DaemonSet pods aside)")
    closed = sorted(n.metadata.name for n in nodes if n.metadata.name not in names and n.spec.unschedulable)
    if closed:
        missing.append(f"nodes outside {zone} are cordoned too: {', '.join(closed)}")
    else:
        right.append("the other zones still take new pods")
    return right, missing


# -- 02 -------------------------------------------------------------------------------------------
def _set_and_pets(kc: Any, namespace: str, name: str) -> tuple[Any, dict[int, Any]]:
    apps, core = client.AppsV1Api(kc.api), client.CoreV1Api(kc.api)
    try:
        sts = apps.read_namespaced_stateful_set(name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None, {}
        raise
    pods = {}
    for pod in core.list_namespaced_pod(namespace).items:
        head, _, tail = pod.metadata.name.rpartition("-")
        if head == name and tail.isdigit() and not pod.metadata.deletion_timestamp:
            pods[int(tail)] = pod
    return sts, pods


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _scale_to_5(target: Any, *, namespace: str = "pets", name: str = "web", kubeconfig: str | None = None,
                **_: Any) -> tuple[list[str], list[str]]:
    kc = _kc(target, kubeconfig)
    sts, pods = _set_and_pets(kc, namespace, name)
    if sts is None:
        return [], [f"no StatefulSet {namespace}/{name}: run the lesson up to here first"]
    right, missing = [], []
    want = sts.spec.replicas
    if want == 5:
        right.append(f"StatefulSet {namespace}/{name} wants 5 pets")
    else:
        missing.append(f"StatefulSet {namespace}/{name} wants {want} pets, not 5")
    expected = [f"{name}-{o}" for o in range(5)]
    ready = sorted(f"{name}-{o}" for o, p in pods.items() if _ready(p))
    absent = [p for p in expected if p not in ready]
    if absent:
        missing.append(f"not Ready yet: {', '.join(absent)}")
    else:
        right.append(f"{', '.join(expected)} are Ready")
    claims = {c.metadata.name: c.status.phase for c in
              client.CoreV1Api(kc.api).list_namespaced_persistent_volume_claim(namespace).items}
    unbound = [f"data-{p}" for p in expected if claims.get(f"data-{p}") != "Bound"]
    if unbound:
        missing.append(f"claims not bound: {', '.join(unbound)}")
    else:
        right.append("each pet has its own bound claim data-<pet>")
    return right, missing


def _canary_two(target: Any, *, namespace: str = "pets", name: str = "web", kubeconfig: str | None = None,
                **_: Any) -> tuple[list[str], list[str]]:
    kc = _kc(target, kubeconfig)
    sts, pods = _set_and_pets(kc, namespace, name)
    if sts is None:
        return [], [f"no StatefulSet {namespace}/{name}: run the lesson up to here first"]
    right, missing = [], []
    current, update = sts.status.current_revision, sts.status.update_revision
    start = (sts.spec.ordinals.start if sts.spec.ordinals else 0) or 0
    ordinals = list(range(start, start + (sts.spec.replicas or 0)))
    if current == update:
        missing.append("no update in progress: every pet runs the same revision (change the version)")
        return right, missing
    moved = [o for o in ordinals if o in pods and pods[o].metadata.labels.get(REVISION_LABEL) == update]
    names = [f"{name}-{o}" for o in moved]
    if moved == ordinals[-2:] and len(ordinals) > 2:
        right.append(f"exactly two pets run the new revision: {', '.join(names)}")
    else:
        missing.append(f"want the two highest pets ({', '.join(f'{name}-{o}' for o in ordinals[-2:])}) on the new "
                       f"revision, found {', '.join(names) or 'none'}")
    stayed = [o for o in ordinals[:-2] if o in pods and pods[o].metadata.labels.get(REVISION_LABEL) == current]
    if len(stayed) == len(ordinals[:-2]):
        right.append(f"the others stay on the current revision ({len(stayed)} pets)")
    else:
        missing.append("some lower pets left the current revision: the partition is too low")
    strategy = sts.spec.update_strategy
    partition = (strategy.rolling_update.partition if strategy and strategy.rolling_update else 0) or 0
    if partition == len(ordinals) - 2:
        right.append(f"rollingUpdate.partition = {partition} holds the rest back")
    else:
        missing.append(f"rollingUpdate.partition is {partition}, want {len(ordinals) - 2} (replicas - 2)")
    not_ready = sorted(f"{name}-{o}" for o in ordinals if o not in pods or not _ready(pods[o]))
    if not_ready:
        missing.append(f"not Ready: {', '.join(not_ready)}")
    return right, missing


# -- 03 -------------------------------------------------------------------------------------------
def _members(host: str, kubeconfig: str | None) -> list[str]:
    from .. import federation

    return sorted(o["metadata"]["name"] for o in federation.list_members(host, kubeconfig))


def _web_in_members(host: str, kubeconfig: str | None, namespace: str) -> dict[str, dict[str, Any] | None]:
    from .. import federation

    out: dict[str, dict[str, Any] | None] = {}
    for m in _members(host, kubeconfig):
        try:
            out[m] = federation.rest_for(m, kubeconfig).get("apps/v1", "Deployment", namespace, "web")
        except KitError:
            out[m] = None
    return out


def _fw_state(host: str, kubeconfig: str | None, namespace: str) -> tuple[list[str], list[str], Any]:
    from .. import federation

    fw = federation.get_workload(host, "web", namespace, kubeconfig)
    if fw is None:
        return [], [f"no FederatedWorkload {namespace}/web: run the lesson up to step 2 first"], None
    st = fw.get("status") or {}
    current = int(st.get("observedGeneration") or -1) == int(fw["metadata"].get("generation") or 0)
    if current and st.get("phase") == "Ready":
        return [f"FederatedWorkload {namespace}/web is Ready ({st.get('ready', '')})"], [], fw
    return [], [f"FederatedWorkload {namespace}/web is {st.get('phase', 'not reported yet')}, not Ready"], fw


def _move_weight(host: Any, *, namespace: str = "fed-demo", kubeconfig: str | None = None,
                 **_: Any) -> tuple[list[str], list[str]]:
    right, missing, fw = _fw_state(str(host), kubeconfig, namespace)
    if fw is None:
        return right, missing
    members = _members(str(host), kubeconfig)
    total = int(fw["spec"]["template"]["spec"].get("replicas", 0))
    want = {m: (total // 2 if i == 1 else total // 4) for i, m in enumerate(members)}
    weights = {c["name"]: c.get("weight", 1) for c in fw["spec"].get("replicaScheduling", {}).get("clusters", [])}
    if [weights.get(m) for m in members] == [1, 2, 1]:
        right.append("weights are 1:2:1 (" + ", ".join(f"{m}: {weights[m]}" for m in members) + ")")
    else:
        missing.append("weights are " + ", ".join(f"{m}: {weights.get(m, '-')}" for m in members) + ", want 1:2:1")
    found = {m: (d or {}).get("spec", {}).get("replicas") for m, d in _web_in_members(str(host), kubeconfig,
                                                                                      namespace).items()}
    if found == want:
        right.append(f"{members[1]} runs half of web: " + ", ".join(f"{m}: {found[m]}" for m in members))
    else:
        missing.append("web replicas per member are " + ", ".join(f"{m}: {found.get(m)}" for m in members)
                       + "; want " + ", ".join(f"{m}: {want[m]}" for m in members))
    return right, missing


def _canary_cluster(host: Any, *, namespace: str = "fed-demo", kubeconfig: str | None = None,
                    **_: Any) -> tuple[list[str], list[str]]:
    right, missing, fw = _fw_state(str(host), kubeconfig, namespace)
    if fw is None:
        return right, missing
    members = _members(str(host), kubeconfig)
    base = fw["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["image"]
    images = {m: ((d or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}])[0]
              .get("image") for m, d in _web_in_members(str(host), kubeconfig, namespace).items()}
    canary = members[-1]
    if images.get(canary) == "nginx:1.28":
        right.append(f"{canary} runs nginx:1.28")
    else:
        missing.append(f"{canary} runs {images.get(canary)}, want nginx:1.28")
    others = {m: images.get(m) for m in members[:-1]}
    if all(i == base for i in others.values()):
        right.append(f"the other members keep the template's {base}")
    else:
        missing.append("other members run " + ", ".join(f"{m}: {i}" for m, i in others.items()) + f", want {base}")
    if any(o.get("clusterName") == canary for o in fw["spec"].get("overrides") or []):
        right.append("done with a per-cluster override, the template is unchanged")
    return right, missing


EXERCISES: dict[str, Exercise] = {e.id: e for e in (
    Exercise("01.plan-region", "plan the same cluster in another region and read its monthly cost",
             "aws.plan(name, region='eu-west-1', zones=3, target=t); the plan's .monthly is the estimate",
             _plan_region),
    Exercise("01.drain-zone", "drain the last zone of the cluster you built",
             "for each node in that zone: demo.kubectl('drain', NODE, '--ignore-daemonsets'), "
             "with demo = cluster.connect(context=entry.context, kubeconfig=entry.path)", _drain_zone),
    Exercise("02.scale-to-5", "scale the pets to 5",
             "pets.scale(kc, ps, 5) (or kubectl -n pets scale statefulset/web --replicas=5)", _scale_to_5),
    Exercise("02.canary-two", "a canary of two pets: only the two highest pets get a new version",
             "pets.update(kc, ps, version='v3', partition=...): pets with ordinal >= partition move",
             _canary_two),
    Exercise("03.move-weight", "give the second member half of the web tier (weights 1:2:1)",
             "build the FederatedWorkload again with weights=dict(zip(members, (1, 2, 1))) and apply it",
             _move_weight),
    Exercise("03.canary-cluster", "run nginx:1.28 in the last member only, without changing the template",
             "overrides=[{'clusterName': members[-1], 'image': 'nginx:1.28'}] in federation.federated_workload",
             _canary_cluster),
)}


def check(exercise: str, target: Any, **context: Any) -> Verdict:
    """Inspect the live state for ``exercise``; never changes anything."""
    ex = EXERCISES.get(exercise)
    if ex is None:
        raise InvalidParameter("exercise", exercise, "no such exercise", f"choose one of {', '.join(EXERCISES)}")
    right, missing = ex.check(target, **context)
    return Verdict(ex.id, ex.title, tuple(right), tuple(missing), ex.hint)
