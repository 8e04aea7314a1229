"""The answers to the exercises, as the library calls a trainee would type.

Each function's body (without its final ``return``) is, line for line, the
collapsed answer cell of its notebook: ``answer_source(exercise)`` gives that
text, the notebooks are built from it, and ``tests/e2e/test_exercises.py``
runs these functions against the sandbox and checks the cells still match.
Parameters carry the names the notebook's variables have.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Callable

from .. import aws, cluster, federation, pets  # noqa: F401  (the names the answer cells use)


def plan_region(t: Any, cluster_name: str) -> tuple[Any, int]:
    eu = aws.plan(f"{cluster_name}-eu", region="eu-west-1", zones=3, target=t)
    eu_monthly = round(eu.monthly)
    print(eu.summary())
    return eu, eu_monthly


def drain_zone(entry: Any, p: Any) -> Any:
    demo = cluster.connect(context=entry.context, kubeconfig=entry.path)
    drained = next(row.nodes for row in demo.nodes_by_zone().rows if row.zone == p.zones[-1])
    for node in drained:
        print(demo.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data").strip())
    return demo


def grow_zone(t: Any, p: Any, entry: Any) -> Any:
    eks = t.client("eks", p.region)
    eks.update_nodegroup_config(clusterName=p.stack, nodegroupName=f"ng-{p.zones[0]}",
                                scalingConfig={"desiredSize": p.nodes_per_zone + 1})
    aws.wait_nodes_ready(entry.path, entry.context, expect=p.nodes + 1, progress=False)
    print(cluster.connect(context=entry.context, kubeconfig=entry.path).nodes_by_zone())
    return eks


def scale_to_5(kc: Any, ps: Any) -> Any:
    ps, grown = pets.scale(kc, ps, 5)
    print(grown)
    return ps


def canary_two(kc: Any, ps: Any) -> Any:
    ps, canary = pets.update(kc, ps, version="v3", partition=ps.replicas - 2)
    print(f"on v3: {', '.join(canary.updated)}")
    return ps


def shrink_delete(kc: Any, ps: Any) -> Any:
    ps, _ = pets.update(kc, ps, when_scaled="Delete")
    ps, shrunk = pets.scale(kc, ps, 3)
    print(shrunk)
    print(f"claims left: {', '.join(pets.claims(kc, ps))}")
    return ps


def move_weight(host_context: str, kc: Any, fed: Any, web: dict[str, Any], members: list[str],
                namespace: str) -> Any:
    web_fw = federation.federated_workload("web", web, namespace=namespace, weights=dict(zip(members, (1, 2, 1))),
                                           purge_mode="Gracefully", grace_period_s=60)
    federation.apply_workload(host_context, web_fw, kc)
    fed.wait("web", namespace, timeout=60)
    print(federation.workload_table(host_context, namespace, kc, names=["web"]))
    return web_fw


def canary_cluster(host_context: str, kc: Any, fed: Any, web: dict[str, Any], members: list[str],
                   namespace: str) -> Any:
    web_fw = federation.federated_workload("web", web, namespace=namespace, weights=dict(zip(members, (1, 2, 1))),
                                           purge_mode="Gracefully", grace_period_s=60,
                                           overrides=[{"clusterName": members[-1], "image": "nginx:1.28"}])
    federation.apply_workload(host_context, web_fw, kc)
    fed.wait("web", namespace, timeout=60)
    print(federation.workload_table(host_context, namespace, kc, names=["web"]))
    return web_fw


def empty_member(host_context: str, kc: Any, fed: Any, web_fw: dict[str, Any], members: list[str],
                 namespace: str) -> Any:
    for rule in web_fw["spec"]["replicaScheduling"]["clusters"]:
        if rule["name"] == members[0]:
            rule["weight"] = 0  # no replicas there; the other members share all of them
    federation.apply_workload(host_context, web_fw, kc)
    fed.wait("web", namespace, timeout=60)
    print(federation.workload_table(host_context, namespace, kc, names=["web"]))
    return web_fw


SOLUTIONS: dict[str, Callable[..., Any]] = {
    "01.plan-region": plan_region,
    "01.drain-zone": drain_zone,
    "01.grow-zone": grow_zone,
    "02.scale-to-5": scale_to_5,
    "02.canary-two": canary_two,
    "02.shrink-delete": shrink_delete,
    "03.move-weight": move_weight,
    "03.canary-cluster": canary_cluster,
    "03.empty-member": empty_member,
}


def answer_source(exercise: str) -> str:
    """The answer cell's code: the solution's body without its signature and final ``return``."""
    source = textwrap.dedent(inspect.getsource(SOLUTIONS[exercise]))
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    body = fn.body[:-1] if isinstance(fn.body[-1], ast.Return) else fn.body
    lines = source.splitlines()[body[0].lineno - 1:body[-1].end_lineno]
    return textwrap.dedent("\n".join(lines))


def solve(exercise: str, **variables: Any) -> Any:
    """Run the answer of ``exercise`` with the notebook's variables (by name); returns what the cell defines."""
    fn = SOLUTIONS[exercise]
    wanted = inspect.signature(fn).parameters
    return fn(**{name: variables[name] for name in wanted})
