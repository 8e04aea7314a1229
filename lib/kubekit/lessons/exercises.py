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
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"


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


def _grow_zone(t: Any, *, cluster_name: str, zone: str, nodes: int, region: str = "us-east-1",
               context: str | None = None, kubeconfig: str | None = None, **_: Any) -> tuple[list[str], list[str]]:
    kc = _kc(context or cluster_name, kubeconfig)
    listed = client.CoreV1Api(kc.api).list_node().items
    groups_of = {n.metadata.name: (n.metadata.labels or {}).get(NODEGROUP_LABEL, "") for n in listed}
    inside = sorted(n.metadata.name for n in listed if (n.metadata.labels or {}).get(ZONE_LABEL) == zone)
    if not inside:
        return [], [f"{kc.context} has no nodes in {zone}"]
    right, missing = [], []
    eks = t.client("eks", region)
    mine = sorted({groups_of[n] for n in inside} - {""})
    sizes = {g: eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=g)["nodegroup"]["scalingConfig"]
             for g in eks.list_nodegroups(clusterName=cluster_name)["nodegroups"]}
    wanted = sum(sizes[g]["desiredSize"] for g in mine if g in sizes)
    if wanted == nodes:
        right.append(f"node group {', '.join(mine)} wants {nodes} nodes (desiredSize)")
    else:
        missing.append(f"node group {', '.join(mine) or '-'} in {zone} wants {wanted} nodes, not {nodes}")
    ready = sorted(n.metadata.name for n in listed if n.metadata.name in inside and _ready(n))
    if len(ready) == nodes:
        right.append(f"{zone} has {nodes} Ready nodes: {', '.join(ready)}")
    else:
        missing.append(f"{zone} has {len(ready)} Ready nodes, want {nodes}")
    grown = sorted(f"{g} ({s['desiredSize']})" for g, s in sizes.items()
                   if g not in mine and s["desiredSize"] != s["minSize"])
    if grown:
        missing.append(f"node groups of other zones changed too: {', '.join(grown)}")
    else:
        right.append("the node groups of the other zones are as apply() made them")
    return right, missing


# -- 02 -------------------------------------------------------------------------------------------
def _set_and_pets(kc: Any, namespace: str, name: str) -> tuple[Any, Any, dict[int, Any]]:
    """The cluster, the StatefulSet (None if there is none) and its pets by ordinal."""
    apps, core = client.AppsV1Api(kc.api), client.CoreV1Api(kc.api)
    try:
        sts = apps.read_namespaced_stateful_set(name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return kc, None, {}
        raise
    pods = {}
    for pod in core.list_namespaced_pod(namespace).items:
        head, _, tail = pod.metadata.name.rpartition("-")
        if head == name and tail.isdigit() and not pod.metadata.deletion_timestamp:
            pods[int(tail)] = pod
    return kc, sts, pods


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _scale_to_5(target: Any, *, namespace: str = "pets", name: str = "web", kubeconfig: str | None = None,
                **_: Any) -> tuple[list[str], list[str]]:
    kc, sts, pods = _set_and_pets(_kc(target, kubeconfig), namespace, name)
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
    kc, sts, pods = _set_and_pets(_kc(target, kubeconfig), namespace, name)
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


def _shrink_delete(target: Any, *, namespace: str = "pets", name: str = "web", replicas: int = 3,
                   kubeconfig: str | None = None, **_: Any) -> tuple[list[str], list[str]]:
    kc, sts, pods = _set_and_pets(_kc(target, kubeconfig), namespace, name)
    if sts is None:
        return [], [f"no StatefulSet {namespace}/{name}: run the lesson up to here first"]
    right, missing = [], []
    policy = sts.spec.persistent_volume_claim_retention_policy
    when_scaled, when_deleted = (policy.when_scaled, policy.when_deleted) if policy else ("Retain", "Retain")
    if when_scaled == "Delete":
        right.append("whenScaled: Delete (the claims of removed pets go with them)")
    else:
        missing.append(f"persistentVolumeClaimRetentionPolicy.whenScaled is {when_scaled}, want Delete")
    if when_deleted == "Retain":
        right.append("whenDeleted stays Retain (deleting the set still keeps every claim)")
    else:
        missing.append(f"whenDeleted is {when_deleted}: deleting the set would now delete all the data")
    if sts.spec.replicas == replicas:
        right.append(f"StatefulSet {namespace}/{name} wants {replicas} pets")
    else:
        missing.append(f"StatefulSet {namespace}/{name} wants {sts.spec.replicas} pets, not {replicas}")
    prefix = f"data-{name}-"
    claims = {c.metadata.name: c.status.phase for c in
              client.CoreV1Api(kc.api).list_namespaced_persistent_volume_claim(namespace).items
              if c.metadata.name.startswith(prefix) and c.metadata.name[len(prefix):].isdigit()}
    left = sorted((c for c in claims if int(c[len(prefix):]) >= replicas), key=lambda c: int(c[len(prefix):]))
    if left:
        missing.append(f"claims of removed pets are still there: {', '.join(left)}")
    else:
        right.append(f"no claims beyond {prefix}{replicas - 1}: the removed pets' claims were deleted")
    ready = [f"{name}-{o}" for o in range(replicas) if o in pods and _ready(pods[o])]
    if all(claims.get(f"{prefix}{o}") == "Bound" for o in range(replicas)) and len(ready) == replicas:
        right.append(f"{', '.join(ready)} are Ready on their own claims")
    else:
        missing.append(f"want {', '.join(f'{name}-{o}' for o in range(replicas))} Ready with bound claims; "
                       f"Ready: {', '.join(ready) or 'none'}")
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


def _empty_member(host: Any, *, namespace: str = "fed-demo", kubeconfig: str | None = None,
                  replicas: int | None = None, **_: Any) -> tuple[list[str], list[str]]:
    from .. import federation

    right, missing, fw = _fw_state(str(host), kubeconfig, namespace)
    if fw is None:
        return right, missing
    members = _members(str(host), kubeconfig)
    total = int(fw["spec"]["template"]["spec"].get("replicas", 0))
    if replicas is not None and total != replicas:
        missing.append(f"the template wants {total} replicas, not {replicas}: move them, do not drop them")
    found = {m: int(((d or {}).get("spec") or {}).get("replicas") or 0)
             for m, d in _web_in_members(str(host), kubeconfig, namespace).items()}
    first, others = members[0], members[1:]
    if found.get(first):
        missing.append(f"{first} still runs {found[first]} web replica(s)")
    else:
        right.append(f"{first} runs no web replicas")
    moved = sum(found.get(m, 0) for m in others)
    split = ", ".join(f"{m}: {found.get(m, 0)}" for m in others)
    if moved == total and total:
        right.append(f"the other members run all {total}: {split}")
    else:
        missing.append(f"the other members run {moved} of {total} ({split})")
    state = {o["metadata"]["name"]: (o.get("status") or {}).get("state") for o in
             federation.list_members(str(host), kubeconfig)}
    if state.get(first) == "Ready":
        right.append(f"{first} is still a Ready member (emptied, not removed)")
    else:
        missing.append(f"{first} is {state.get(first) or 'not registered'}: keep it a member, only empty it")
    return right, missing


EXERCISES: dict[str, Exercise] = {e.id: e for e in (
    Exercise("01.plan-region", "plan the same cluster in another region and read its monthly cost",
             "aws.plan(name, region='eu-west-1', zones=3, target=t); the plan's .monthly is the estimate",
             _plan_region),
    Exercise("01.drain-zone", "drain the last zone of the cluster you built",
             "for each node in that zone: demo.kubectl('drain', NODE, '--ignore-daemonsets'), "
             "with demo = cluster.connect(context=entry.context, kubeconfig=entry.path)", _drain_zone),
    Exercise("01.grow-zone", "add a node to the first zone: grow its node group, and only that one",
             "t.client('eks', region).update_nodegroup_config(clusterName=..., nodegroupName=f'ng-{p.zones[0]}', "
             "scalingConfig={'desiredSize': nodes_per_zone + 1}), then wait until the new node is Ready",
             _grow_zone),
    Exercise("02.scale-to-5", "scale the pets to 5",
             "pets.scale(kc, ps, 5) (or kubectl -n pets scale statefulset/web --replicas=5)", _scale_to_5),
    Exercise("02.canary-two", "a canary of two pets: only the two highest pets get a new version",
             "pets.update(kc, ps, version='v3', partition=...): pets with ordinal >= partition move",
             _canary_two),
    Exercise("02.shrink-delete", "scale back to 3 and let the removed pets' claims (and data) go",
             "pets.update(kc, ps, when_scaled='Delete') changes the live set's retention policy; then scale to 3",
             _shrink_delete),
    Exercise("03.move-weight", "give the second member half of the web tier (weights 1:2:1)",
             "build the FederatedWorkload again with weights=dict(zip(members, (1, 2, 1))) and apply it",
             _move_weight),
    Exercise("03.canary-cluster", "run nginx:1.28 in the last member only, without changing the template",
             "overrides=[{'clusterName': members[-1], 'image': 'nginx:1.28'}] in federation.federated_workload",
             _canary_cluster),
    Exercise("03.empty-member", "empty the first member for maintenance: no web replicas there, all of them elsewhere",
             "set the weight of members[0] to 0 in web_fw['spec']['replicaScheduling']['clusters'] and apply it again",
             _empty_member),
)}


def check(exercise: str, target: Any, **context: Any) -> Verdict:
    """Inspect the live state for ``exercise``; never changes anything."""
    ex = EXERCISES.get(exercise)
    if ex is None:
        raise InvalidParameter("exercise", exercise, "no such exercise", f"choose one of {', '.join(EXERCISES)}")
    right, missing = ex.check(target, **context)
    return Verdict(ex.id, ex.title, tuple(right), tuple(missing), ex.hint)
