"""Exercises against one shared sandbox: each check says "not done" (with a hint) before its scripted
solution and "right" after it; prepare repairs what a trainee broke; cleanup says what it removed.

The solutions are kubekit.lessons.solutions, whose bodies are the notebooks' collapsed answer cells
(test_answer_cells_match_solutions keeps the two the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from kubernetes import client

from kubekit import aws, cluster, federation, lessons, pets, sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sandbox.SandboxInfo]:
    """One sandbox with three member clusters; KUBEKIT_HOME and KUBECONFIG point at it for the module."""
    home = tmp_path_factory.mktemp("kubekit-lessons")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBEKIT_HOME", str(home))
        mp.setenv("KUBECONFIG", str(home / "kubeconfig"))
        info = sandbox.up(home=home, clusters=3)
        try:
            yield info
        finally:
            sandbox.down(home=home)


def before_and_after(exercise: str, target: object, solve: dict[str, object], **context: object) -> object:
    """Check (must be not done, with a hint), solve, check again (must be right); returns what the answer made."""
    first = lessons.check(exercise, target, **context)
    assert not first.ok, f"{exercise} says right before it was solved:\n{first}"
    assert first.missing and first.hint, first
    assert "hint" in repr(first) and "not done yet" in first._repr_html_()
    made = lessons.solve(exercise, **solve)
    after = lessons.check(exercise, target, **(context | {k: v for k, v in _made(exercise, made).items()}))
    assert after.ok, f"{exercise} is not right after its solution:\n{after}"
    assert after.right and "hint" not in repr(after)
    return made


def _made(exercise: str, made: object) -> dict[str, object]:
    if exercise == "01.plan-region":
        plan, monthly = made  # type: ignore[misc]
        return {"plan": plan, "monthly": monthly}
    return {}


def test_answer_cells_match_solutions() -> None:
    """Every exercise has a check and a solution, and its notebook's collapsed answer cell is that solution."""
    assert set(lessons.EXERCISES) == set(lessons.SOLUTIONS)
    for exercise in lessons.EXERCISES:
        nb_path = next((REPO / "notebooks").glob(f"{exercise[:2]}-*.ipynb"))
        nb = nbformat.read(str(nb_path), as_version=4)
        answers = [c for c in nb.cells if c.cell_type == "code" and f"answer: {exercise}" in c.source]
        assert len(answers) == 1, f"{nb_path.name}: want one answer cell for {exercise}"
        cell = answers[0]
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, "answer cells are collapsed"
        body = "\n".join(line[4:] for line in cell.source.splitlines() if line.startswith("    "))
        assert body == lessons.answer_source(exercise), f"{nb_path.name}: the answer cell of {exercise} drifted"
        checks = [c for c in nb.cells if c.cell_type == "code" and f'check("{exercise}"' in c.source]
        assert checks and nb.cells.index(checks[0]) > nb.cells.index(cell), f"{exercise}: check after the answer"
        shown = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in checks[0].outputs)
        assert f"{exercise}: right" in shown, f"{nb_path.name}: the stored check of {exercise} is not right"


def test_01_exercises(world: sandbox.SandboxInfo) -> None:
    lesson = lessons.prepare("01", "sandbox", cluster_name="demo")
    assert lesson.aws is not None and lesson.aws.is_sandbox
    before = lessons.check("01.plan-region", lesson.aws, plan=None, monthly=None)
    assert not before.ok and "no plan yet" in before.missing[0]
    wrong = lessons.check("01.plan-region", lesson.aws,
                          plan=lessons.solve("01.plan-region", t=lesson.aws, cluster_name="demo")[0], monthly=1)
    assert not wrong.ok and any("not what the plan says" in m for m in wrong.missing)
    before_and_after("01.plan-region", lesson.aws, {"t": lesson.aws, "cluster_name": "demo"})

    # drain a zone of the host cluster (the notebook drains the cluster it built; the check is the same)
    entry = SimpleNamespace(context="sandbox", path=world.kubeconfig)
    plan = SimpleNamespace(zones=["us-east-1a", "us-east-1b", "us-east-1c"])
    before_and_after("01.drain-zone", "sandbox", {"entry": entry, "p": plan}, zone="us-east-1c",
                     kubeconfig=world.kubeconfig)
    # lesson 02 needs every node: its prepare uncordons the drained zone and says so
    repaired = lessons.prepare("02", "sandbox", namespace="pets")
    assert [r["object"] for r in repaired.report.rows] == ["node ip-10-0-64-4.ec2.internal",
                                                           "node ip-10-0-64-5.ec2.internal"], repaired
    assert lessons.check("01.drain-zone", "sandbox", zone="us-east-1c").missing

    # grow the first zone of the host cluster by one node (its node groups are the plan's, 2 nodes each)
    host = SimpleNamespace(stack="sandbox", region="us-east-1", zones=plan.zones, nodes_per_zone=2, nodes=6)
    grow = {"cluster_name": "sandbox", "zone": "us-east-1a", "nodes": 3, "context": "sandbox",
            "kubeconfig": world.kubeconfig}
    eks = before_and_after("01.grow-zone", lesson.aws, {"t": lesson.aws, "p": host, "entry": entry}, **grow)
    # a wrong answer grows another zone too: the check names the group; prepare scales both back
    eks.update_nodegroup_config(clusterName="sandbox", nodegroupName="ng-us-east-1b",
                                scalingConfig={"desiredSize": 3})
    wrong = lessons.check("01.grow-zone", lesson.aws, **grow)
    assert wrong.missing == ("node groups of other zones changed too: ng-us-east-1b (3)",), wrong
    aws.wait_nodes_ready(world.kubeconfig, "sandbox", expect=8, progress=False)
    again = lessons.prepare("01", "sandbox", cluster_name="sandbox")
    assert [(r["action"], r["object"]) for r in again.report.rows] == [
        ("scaled back", "node group ng-us-east-1a (3 -> 2 nodes)"),
        ("scaled back", "node group ng-us-east-1b (3 -> 2 nodes)")], again
    assert [len(row.nodes) for row in cluster.connect(context="sandbox").nodes_by_zone().rows] == [2, 2, 2]
    assert str(lessons.cleanup(again)).count("kept") == 2  # nothing left to scale back


def test_02_exercises_and_repair(world: sandbox.SandboxInfo) -> None:
    lesson = lessons.prepare("02", "sandbox", namespace="pets")
    kc = lesson.kc
    ps = pets.PetSet("web", namespace="pets", replicas=3)
    pets.deploy(kc, ps, progress=False)
    ps = before_and_after("02.scale-to-5", kc, {"kc": kc, "ps": ps})
    assert ps.replicas == 5
    ps = before_and_after("02.canary-two", kc, {"kc": kc, "ps": ps})
    assert lessons.check("02.scale-to-5", kc).ok  # still five pets
    # half an answer: the policy changed, the set not scaled yet
    half, _ = pets.update(kc, ps, when_scaled="Delete", progress=False)
    partial = lessons.check("02.shrink-delete", kc)
    assert partial.missing == ("StatefulSet pets/web wants 5 pets, not 3",
                               "claims of removed pets are still there: data-web-3, data-web-4"), partial
    assert "whenScaled: Delete (the claims of removed pets go with them)" in partial.right
    ps, _ = pets.update(kc, half, when_scaled="Retain", progress=False)
    ps = before_and_after("02.shrink-delete", kc, {"kc": kc, "ps": ps})
    assert list(pets.claims(kc, ps)) == ["data-web-0", "data-web-1", "data-web-2"]

    # a trainee breaks things: a pet deleted, a node cordoned, a stray set with claims
    core = client.CoreV1Api(kc.api)
    core.delete_namespaced_pod("web-1", "pets")
    pets.cordon(kc, ["ip-10-0-0-4.ec2.internal"])
    again = lessons.prepare("02", "sandbox", namespace="pets")
    actions = [(r["action"], r["object"]) for r in again.report.rows]
    assert ("uncordoned", "node ip-10-0-0-4.ec2.internal") in actions
    assert ("removed", "StatefulSet pets/web (+ Service, PDB, ConfigMap)") in actions
    assert not client.AppsV1Api(kc.api).list_namespaced_stateful_set("pets").items
    assert not core.list_namespaced_persistent_volume_claim("pets").items
    assert lessons.check("02.scale-to-5", kc).missing  # back to before the lesson
    pets.deploy(kc, pets.PetSet("web", namespace="pets", replicas=1), progress=False)
    removed = lessons.cleanup(again)
    assert [r["action"] for r in removed.rows] == ["removed", "removed"], removed
    assert "StatefulSet pets/web" in str(removed)
    assert str(lessons.cleanup(again)).endswith("nothing to remove")


WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def test_03_exercises_and_a_half_made_federation(world: sandbox.SandboxInfo) -> None:
    ns = "fed-demo"
    lesson = lessons.prepare("03", "sandbox", namespace=ns)
    fed, members = lesson.fed, lesson.members
    assert members == ["member-us-east-1a", "member-us-east-1b", "member-us-east-1c"]
    first = federation.federated_workload("web", WEB, namespace=ns, weights=dict(zip(members, (2, 1, 1))))
    federation.apply_workload("sandbox", first, None)
    fed.wait("web", ns, timeout=60)
    solve = {"host_context": "sandbox", "kc": None, "fed": fed, "web": WEB, "members": members, "namespace": ns}
    before_and_after("03.move-weight", "sandbox", solve, namespace=ns)
    web_fw = before_and_after("03.canary-cluster", "sandbox", solve, namespace=ns)
    # emptying the first member by dropping its replicas is not the answer
    fewer = {**WEB, "spec": {**WEB["spec"], "replicas": 3}}
    dropped = federation.federated_workload("web", fewer, namespace=ns, weights=dict(zip(members, (0, 2, 1))))
    federation.apply_workload("sandbox", dropped, None)
    fed.wait("web", ns, timeout=60)
    wrong = lessons.check("03.empty-member", "sandbox", namespace=ns, replicas=4)
    assert wrong.missing == ("the template wants 3 replicas, not 4: move them, do not drop them",), wrong
    before_and_after("03.empty-member", "sandbox", solve | {"web_fw": web_fw}, namespace=ns, replicas=4)

    # half-made: the controller gone (kernel died), a member lost, a stray registration, the workload left
    fed.stop()
    sandbox.set_reachable(members[1], False, mode="reset")
    federation.register_member("sandbox", "member-bogus", context=members[0], region="us-east-1", zone="us-east-1a")
    again = lessons.prepare("03", "sandbox", namespace=ns)
    actions = [(r["action"], r["object"]) for r in again.report.rows]
    assert ("restored", f"API server of {members[1]}") in actions
    assert ("unregistered", "MemberCluster member-bogus (not a member of this lesson)") in actions
    assert ("removed", f"FederatedWorkload {ns}/web (and its objects in every member)") in actions
    for m in members:
        assert federation.rest_for(m).get("apps/v1", "Deployment", ns, "web") is None
    assert lessons.check("03.move-weight", "sandbox", namespace=ns).missing
    federation.apply_workload("sandbox", first, None)
    again.fed.wait("web", ns, timeout=60)
    removed = lessons.cleanup(again)
    assert [(r["action"], r["object"]) for r in removed.rows] == [
        ("deleted", f"FederatedWorkload {ns}/web (and its objects in every member)"),
        ("stopped", "the federation controller (its lease released)")], removed
    assert not again.fed.running
    assert all(federation.rest_for(m).get("apps/v1", "Deployment", ns, "web") is None for m in members)
