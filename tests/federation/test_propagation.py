"""Propagation, status, drift repair, deletion, bad input, ordinal slices and MCS exports, against real API servers."""

from __future__ import annotations

import copy
import json

import pytest
from fedhelpers import World, wait_until

from kubekit import federation
from kubekit.federation import Federation
from kubekit.federation.model import API_VERSION, FIELD_MANAGER, LABEL_WORKLOAD

DEP = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
WEIGHTS = {"member-us-east-1a": 2, "member-us-east-1b": 1, "member-us-east-1c": 1}


def member_replicas(world: World, ns: str, name: str = "web", kind: str = "Deployment") -> dict[str, int]:
    out = {}
    for m in world.members:
        obj = world.rest(m).get("apps/v1", kind, ns, name)
        if obj is not None:
            out[m] = obj["spec"]["replicas"]
    return out


def events(world: World, ns: str, name: str) -> list[tuple[str, str]]:
    items = world.rest("host").list("v1", "Event", ns)
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


def test_crds_have_schema_status_and_printer_columns(world: World) -> None:
    crd = world.rest("host").get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None,
                                 "federatedworkloads.kubekit.io")
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert "template" in version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    out = world.kubectl("host", "get", "memberclusters")
    assert out.split()[:7] == ["NAME", "STATE", "REGION", "ZONE", "VERSION", "NODES", "AGE"]
    # The schema rejects what it can (a bad enum), before the controller ever sees it.
    bad = federation.federated_workload("bad", DEP, namespace="schema", purge_mode="Sometimes")
    with pytest.raises(Exception) as err:
        federation.apply_workload("host", bad, world.kubeconfig)
    assert "purgeMode" in str(err.value)


def test_propagate_divided_with_status_and_events(world: World, fed: Federation) -> None:
    ns = "prop"
    fw = federation.federated_workload("web", DEP, namespace=ns, weights=WEIGHTS)
    federation.apply_workload("host", fw, world.kubeconfig)
    obj = fed.wait("web", ns, timeout=20)
    assert member_replicas(world, ns) == {"member-us-east-1a": 2, "member-us-east-1b": 1, "member-us-east-1c": 1}
    st = obj["status"]
    assert (st["phase"], st["ready"], st["replicas"], st["readyReplicas"]) == ("Ready", "4/4", 4, 4)
    assert {c["type"]: c["status"] for c in st["conditions"]} == {"Accepted": "True", "Ready": "True",
                                                                   "Propagated": "True"}
    live = world.rest("member-us-east-1a").get("apps/v1", "Deployment", ns, "web")
    assert live["metadata"]["labels"][LABEL_WORKLOAD] == "web"
    assert any(m["manager"] == FIELD_MANAGER and m["operation"] == "Apply" for m in live["metadata"]["managedFields"])
    reasons = [r for r, _ in events(world, ns, "web")]
    assert reasons.count("Propagated") == 3 and "Ready" in reasons
    table = world.kubectl("host", "get", "fw", "-n", ns)
    assert "member-us-east-1a:2 member-us-east-1b:1 member-us-east-1c:1" in table and "4/4" in table
    assert any("Propagated" in str(e) for e in fed.timeline)

    # Change the weights: the rebalance follows.
    fw2 = federation.federated_workload("web", DEP, namespace=ns, weights={"member-us-east-1a": 1, "*": 1})
    federation.apply_workload("host", fw2, world.kubeconfig)
    fed.wait("web", ns, timeout=20)
    assert sorted(member_replicas(world, ns).values()) == [1, 1, 2]


def test_drift_is_reported_and_repaired(world: World, fed: Federation) -> None:
    ns = "drift"
    federation.apply_workload("host", federation.federated_workload("web", DEP, namespace=ns), world.kubeconfig)
    fed.wait("web", ns, timeout=20)
    before = member_replicas(world, ns)
    world.kubectl("member-us-east-1b", "scale", "deployment/web", "-n", ns, "--replicas=7")
    world.kubectl("member-us-east-1b", "set", "image", "deployment/web", "-n", ns, "web=nginx:evil")
    wait_until(lambda: member_replicas(world, ns) == before and world.rest("member-us-east-1b").get(
        "apps/v1", "Deployment", ns, "web")["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27",
               what="drift repaired")
    found = [m for r, m in events(world, ns, "web") if r == "DriftDetected"]
    assert found and "member-us-east-1b" in found[0]
    assert any(r == "DriftRepaired" for r, _ in events(world, ns, "web"))
    # A deleted member object is recreated.
    world.rest("member-us-east-1c").delete("apps/v1", "Deployment", ns, "web")
    wait_until(lambda: member_replicas(world, ns) == before, what="recreated")


def test_placement_change_and_deletion_remove_member_objects(world: World, fed: Federation) -> None:
    ns = "place"
    federation.apply_workload("host", federation.federated_workload("web", DEP, namespace=ns), world.kubeconfig)
    fed.wait("web", ns, timeout=20)
    assert len(member_replicas(world, ns)) == 3
    fw = federation.federated_workload("web", DEP, namespace=ns, clusters=["member-us-east-1a", "member-us-east-1c"])
    federation.apply_workload("host", fw, world.kubeconfig)
    wait_until(lambda: member_replicas(world, ns) == {"member-us-east-1a": 2, "member-us-east-1c": 2},
               what="b removed")
    federation.delete_workload("host", "web", ns, world.kubeconfig)
    wait_until(lambda: not member_replicas(world, ns)
               and federation.get_workload("host", "web", ns, world.kubeconfig) is None, what="finalized")


BAD = [
    ("nomatch", dict(selector={"matchLabels": {"tier": "platinum"}}), "NoMatchingClusters"),
    ("zero", dict(weights={"*": 0}), "WeightsSumToZero"),
    ("minmax", dict(weights={"member-us-east-1a": {"weight": 1, "minReplicas": 3, "maxReplicas": 1}}),
     "MinGreaterThanMax"),
    ("unknown", dict(clusters=["member-eu-west-1a"]), "UnknownCluster"),
]


@pytest.mark.parametrize("name,kw,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_condition_and_nothing_half_applied(world: World, fed: Federation, name: str,
                                                           kw: dict[str, object], reason: str) -> None:
    ns = f"bad-{name}"
    fw = federation.federated_workload("web", DEP, namespace=ns, **kw)  # type: ignore[arg-type]
    federation.apply_workload("host", fw, world.kubeconfig)
    obj = fed.wait("web", ns, phase="Invalid", timeout=20)
    cond = next(c for c in obj["status"]["conditions"] if c["type"] == "Accepted")
    assert (cond["status"], cond["reason"]) == ("False", reason)
    assert cond["message"]
    assert member_replicas(world, ns) == {}
    for m in world.members:
        assert world.rest(m).get("v1", "Namespace", None, ns) is None
    assert [r for r, _ in events(world, ns, "web")] == [reason]


def test_statefulset_slices_and_service_export(world: World, fed: Federation) -> None:
    ns = "pets"
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kv"},
           "spec": {"replicas": 6, "serviceName": "kv", "podManagementPolicy": "Parallel",
                    "selector": {"matchLabels": {"app": "kv"}},
                    "template": {"metadata": {"labels": {"app": "kv"}},
                                 "spec": {"containers": [{"name": "kv", "image": "registry.k8s.io/pause:3.10"}]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kv"},
           "spec": {"clusterIP": "None", "selector": {"app": "kv"}, "ports": [{"port": 8080}]}}
    for fw in federation.federate([svc, sts], namespace=ns):
        federation.apply_workload("host", fw, world.kubeconfig)
    fed.wait("statefulset-kv", ns, timeout=30)
    fed.wait("service-kv", ns, timeout=30)
    members = {m: world.rest(m) for m in world.members}
    pets = federation.pets_by_cluster(members, "kv", ns)
    assert {m: [p["pod"] for p in v] for m, v in pets.items()} == {
        "member-us-east-1a": ["kv-0", "kv-1"], "member-us-east-1b": ["kv-2", "kv-3"],
        "member-us-east-1c": ["kv-4", "kv-5"]}
    for m, start in (("member-us-east-1a", 0), ("member-us-east-1b", 2), ("member-us-east-1c", 4)):
        assert world.rest(m).get("apps/v1", "StatefulSet", ns, "kv")["spec"]["ordinals"] == {"start": start}
        export = world.rest(m).get("multicluster.x-k8s.io/v1alpha1", "ServiceExport", ns, "kv")
        assert export is not None and export["metadata"]["labels"][LABEL_WORKLOAD] == "service-kv"
    table = str(federation.workload_table("host", ns, world.kubeconfig))
    assert "2..3" in table
    fig = federation.pet_map(pets)
    assert fig.axes


def test_cli_run_once(world: World) -> None:
    import subprocess
    import sys

    env = {"KUBECONFIG": world.kubeconfig, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "kubekit", "federation", "run", "--host-context", "host", "--once"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.index("{\n"):])
    assert report["leader"] and set(report["members"]) == set(world.members)
    assert all(s == "Ready" for s in report["members"].values())
    assert copy.deepcopy(report["applied"]) == 0  # everything already in place: nothing re-applied
    assert API_VERSION == "kubekit.io/v1alpha1"


def test_decisions_land_in_a_shared_timeline(world: World) -> None:
    from kubekit.timeline import Timeline

    tl = Timeline()
    ctl = world.controller(timeline=tl)
    try:
        federation.apply_workload("host", federation.federated_workload("web", DEP, namespace="tl"), world.kubeconfig)
        ctl.wait("web", "tl", timeout=20)
    finally:
        ctl.stop()
    mine = [e for e in tl.entries() if e.source == "federation" and e.object == "federatedworkload/tl/web"]
    assert [e.what for e in mine].count("Propagated") == 3
