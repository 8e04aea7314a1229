"""The controller's decisions, health, rendering and validation: pure functions, no cluster."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kubekit.errors import InvalidWorkload
from kubekit.federation import explain, export_karmada, federated_workload, plan
from kubekit.federation.decide import decide, object_key
from kubekit.federation.health import NO_ANSWER, OK, UNHEALTHY, Health, Probe
from kubekit.federation.model import HealthCheck, Member, parse_workload
from kubekit.federation.render import clusterset_name, drift, render

DEP = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
STS = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kv"},
       "spec": {"replicas": 6, "serviceName": "kv", "selector": {"matchLabels": {"app": "kv"}},
                "template": {"metadata": {"labels": {"app": "kv"}},
                             "spec": {"containers": [{"name": "kv", "image": "python:3.12-slim"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                          "spec": {"accessModes": ["ReadWriteOnce"],
                                                   "resources": {"requests": {"storage": "1Gi"}}}}]}}
NAMES = ["a", "b", "c"]


def members(**states: str) -> dict[str, Member]:
    return {n: Member(n, "us-east-1", f"us-east-1{n}", state=states.get(n, "Ready")) for n in NAMES}


def fw(template: dict[str, Any] = DEP, **kw: Any) -> dict[str, Any]:
    obj = federated_workload("web", copy.deepcopy(template), **kw)
    obj["metadata"].update(generation=1, uid="u-1")
    return obj


def live(obj: dict[str, Any], ready: int | None = None) -> dict[str, Any]:
    """What a member would hold after applying ``obj`` (and becoming ready)."""
    out = copy.deepcopy(obj)
    out["metadata"]["generation"] = 1
    replicas = (obj.get("spec") or {}).get("replicas")
    if replicas is not None:
        out["status"] = {"observedGeneration": 1, "readyReplicas": replicas if ready is None else ready}
    return out


def run(wl_obj: dict[str, Any], ms: dict[str, Member], status: dict[str, Any] | None = None,
        world: dict[str, dict[Any, Any]] | None = None, now: float = 1000.0):  # type: ignore[no-untyped-def]
    """decide(), then pretend the actions happened; returns (decision, new world)."""
    wl = parse_workload(wl_obj)
    world = {c: dict(objs) for c, objs in (world or {c: {} for c in ms}).items()}
    observed = {c: objs for c, objs in world.items() if ms[c].ready}
    d = decide(wl, ms, status or {}, observed, now)
    for a in d.actions:
        if a.verb == "apply":
            world[a.cluster][a.key] = live(a.obj)
        else:
            world[a.cluster].pop(a.key, None)
    return d, world


def counts(world: dict[str, dict[Any, Any]]) -> dict[str, int]:
    return {c: objs[("apps/v1", "Deployment", "web")]["spec"]["replicas"]
            for c, objs in sorted(world.items()) if ("apps/v1", "Deployment", "web") in objs}


def test_propagates_divided_and_reports_ready() -> None:
    obj = fw(weights={"a": 2, "b": 1, "c": 1})
    d, world = run(obj, members())
    assert [a.reason for a in d.actions] == ["Propagated"] * 3
    assert counts(world) == {"a": 2, "b": 1, "c": 1}
    d2, _ = run(obj, members(), d.status, world)
    assert d2.actions == []
    assert d2.status["phase"] == "Ready" and d2.status["ready"] == "4/4"
    assert [e.reason for e in d2.events] == ["Ready"]


def test_labels_and_hash_on_rendered_objects() -> None:
    d, world = run(fw(), members())
    obj = world["a"][("apps/v1", "Deployment", "web")]
    assert obj["metadata"]["labels"]["kubekit.io/federated-workload"] == "web"
    assert obj["metadata"]["annotations"]["kubekit.io/member-cluster"] == "a"
    assert obj["metadata"]["annotations"]["kubekit.io/spec-hash"]


def test_drift_is_detected_and_repaired_but_an_update_is_not_drift() -> None:
    obj = fw()
    d, world = run(obj, members())
    d, world = run(obj, members(), d.status, world)
    world["b"][("apps/v1", "Deployment", "web")]["spec"]["replicas"] = 7  # kubectl scale in member b
    d3, world = run(obj, members(), d.status, world)
    assert [e.reason for e in d3.events if e.reason == "DriftDetected"] == ["DriftDetected"]
    assert "spec.replicas: want 1, found 7" in d3.events[0].message
    assert [(a.cluster, a.reason) for a in d3.actions] == [("b", "DriftRepaired")]
    assert d3.status["clusters"][1]["drift"] == ["spec.replicas: want 1, found 7"]
    # A template change is an update in every member, not drift.
    obj2 = copy.deepcopy(obj)
    obj2["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    d4, _ = run(obj2, members(), d3.status, world)
    assert {a.reason for a in d4.actions} == {"Updated"}
    assert not [e for e in d4.events if e.reason == "DriftDetected"]


def test_placement_change_deletes_what_is_no_longer_wanted() -> None:
    d, world = run(fw(), members())
    changed = fw(clusters=["a", "c"])
    changed["metadata"]["generation"] = 2
    d2, world = run(changed, members(), d.status, world)
    assert sorted((a.cluster, a.verb, a.reason) for a in d2.actions) == [
        ("b", "delete", "NotPlaced"), ("c", "apply", "Updated")]
    assert counts(world) == {"a": 2, "c": 2}


BAD = [
    (dict(clusters=["nope"]), "UnknownCluster"),
    (dict(selector={"matchLabels": {"tier": "platinum"}}), "NoMatchingClusters"),
    (dict(weights={"a": 0, "b": 0, "c": 0}), "WeightsSumToZero"),
    (dict(weights={"a": {"weight": 1, "minReplicas": 3, "maxReplicas": 2}}), "MinGreaterThanMax"),
    (dict(weights={"x": 1}), "UnknownCluster"),
    (dict(overrides=[{"clusterName": "zz", "image": "x"}]), "UnknownCluster"),
    (dict(overrides=[{"clusterName": "a", "clusterOverrides": [{"path": "/spec/nope/0", "value": 1}]}]),
     "InvalidOverride"),
    (dict(weights={"a": {"weight": 1, "maxReplicas": 1}, "b": {"weight": 1, "maxReplicas": 1},
                   "c": {"weight": 1, "maxReplicas": 1}}), "MaxReplicasTooLow"),
]


@pytest.mark.parametrize("kw,reason", BAD)
def test_bad_input_is_a_condition_and_nothing_is_applied(kw: dict[str, Any], reason: str) -> None:
    try:
        obj = fw(**kw)
        d, world = run(obj, members())
    except InvalidWorkload as exc:  # caught while parsing (what the controller reports the same way)
        assert exc.reason == reason
        return
    assert d.error is not None and d.error.reason == reason, d.error
    assert d.actions == []
    cond = next(c for c in d.status["conditions"] if c["type"] == "Accepted")
    assert cond["status"] == "False" and cond["reason"] == reason
    assert d.status["phase"] == "Invalid"
    assert [e.reason for e in d.events] == [reason]
    d2, _ = run(obj, members(), d.status, world)
    assert d2.events == []  # said once, not every pass


def _placed(purge: str, rebalance: bool = False):  # type: ignore[no-untyped-def]
    obj = fw(purge_mode=purge, rebalance=rebalance, grace_period_s=30)
    d, world = run(obj, members())
    d, world = run(obj, members(), d.status, world)
    assert counts(world) == {"a": 2, "b": 1, "c": 1}
    return obj, d, world


@pytest.mark.parametrize("purge", ["Directly", "Gracefully", "Never"])
def test_member_loss_redivides_stateless_replicas(purge: str) -> None:
    obj, d, world = _placed(purge)
    lost = members(b="Offline")
    d2, world = run(obj, lost, d.status, world, now=1010)
    assert counts(world) == {"a": 3, "b": 1, "c": 1}  # b's copy is untouched (unreachable)
    assert d2.placement == {"a": 3, "c": 1}
    assert d2.status["evictions"][0]["cluster"] == "b" and d2.status["evictions"][0]["purgeMode"] == purge
    assert any(e.reason == "FailoverStarted" and "b is Offline" in e.message for e in d2.events)
    d3, world = run(obj, lost, d2.status, world, now=1011)  # survivors become ready
    # b comes back
    d4, world = run(obj, members(), d3.status, world, now=1012)
    if purge == "Never":
        assert counts(world) == {"a": 3, "b": 1, "c": 1}  # left for a human
        assert [r for r in d4.status["clusters"] if r["name"] == "b"][0]["state"] == "Orphaned"
    else:
        assert counts(world) == {"a": 3, "c": 1}
        assert [a.reason for a in d4.actions] == ["Purged"]
        d5, world = run(obj, members(), d4.status, world, now=1013)
        assert d5.status["evictions"] == []
        assert [e.reason for e in d5.events if e.reason.startswith("Eviction")] == ["EvictionCompleted"]


def test_gracefully_keeps_the_old_copy_until_ready_or_timeout() -> None:
    obj, d, world = _placed("Gracefully")
    lost = members(b="Offline")
    d2, world = run(obj, lost, d.status, world, now=1010)
    # survivors not ready yet (a has 2 of 3 ready) and b answers again: b's copy is protected
    world["a"][("apps/v1", "Deployment", "web")]["status"]["readyReplicas"] = 2
    d3, world = run(obj, members(), d2.status, world, now=1015)
    assert "b" in counts(world) and not [a for a in d3.actions if a.cluster == "b"]
    # grace period (30 s) expires
    d4, world = run(obj, members(), d3.status, world, now=1041)
    assert [a.reason for a in d4.actions if a.cluster == "b"] == ["Purged"]
    assert "GracePeriodExpired" in d4.actions[-1].message


def test_recovery_moves_back_only_with_rebalance() -> None:
    for rebalance, want in ((False, {"a": 3, "c": 1}), (True, {"a": 2, "b": 1, "c": 1})):
        obj, d, world = _placed("Directly", rebalance=rebalance)
        d2, world = run(obj, members(b="Offline"), d.status, world, now=1010)
        d3, world = run(obj, members(), d2.status, world, now=1011)
        d4, world = run(obj, members(), d3.status, world, now=1012)
        assert counts(world) == want, rebalance


def test_duplicated_follows_spread_and_replaces_a_lost_cluster() -> None:
    obj = fw(scheduling="Duplicated", spread=[{"spreadByField": "cluster", "maxGroups": 2}], purge_mode="Directly")
    d, world = run(obj, members())
    assert counts(world) == {"a": 4, "b": 4}
    d2, world = run(obj, members(a="Offline"), d.status, world)
    assert d2.placement == {"b": 4, "c": 4}


def test_statefulset_gets_ordinal_slices_and_pets_never_move() -> None:
    obj = fw(STS)
    d, world = run(obj, members())
    got = {c: (o["spec"]["ordinals"]["start"], o["spec"]["replicas"])
           for c, objs in world.items() for o in objs.values()}
    assert got == {"a": (0, 2), "b": (2, 2), "c": (4, 2)}
    d2, world = run(obj, members(b="Offline"), d.status, world)
    assert d2.placement == {"a": 2, "b": 2, "c": 2} and d2.actions == []
    assert not d2.status["evictions"]
    # Weights that would make a member grow into another's ordinals are refused, nothing applied.
    obj2 = fw(STS, weights={"a": 2, "b": 1, "c": 1})
    obj2["metadata"]["generation"] = 2
    d3, _ = run(obj2, members(), d2.status, world)
    assert d3.error is not None and d3.error.reason == "OrdinalConflict" and d3.actions == []


def test_deleting_removes_everything_then_finalizes() -> None:
    obj = fw()
    d, world = run(obj, members())
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    d2, world = run(obj, members(c="Offline"), d.status, world)
    assert sorted(a.cluster for a in d2.actions) == ["a", "b"] and not d2.finalized
    d3, world = run(obj, members(), d2.status, world)
    assert [a.cluster for a in d3.actions] == ["c"]
    d4, _ = run(obj, members(), d3.status, world)
    assert d4.finalized


# -- health --------------------------------------------------------------------------------------

def test_health_thresholds() -> None:
    hc = HealthCheck(period_s=1, timeout_s=1, failure_threshold=3, success_threshold=2)
    h = Health()
    h = h.next(Probe(OK, at=1), hc)
    assert h.state == "Ready"  # the first good probe of an unknown member
    for t in (2, 3):
        h = h.next(Probe(NO_ANSWER, at=t), hc)
        assert h.state == "Ready"
    h = h.next(Probe(NO_ANSWER, at=4), hc)
    assert (h.state, h.since) == ("Offline", 4)
    h = h.next(Probe(OK, at=5), hc)
    assert h.state == "Offline"  # successThreshold 2
    h = h.next(Probe(OK, at=6), hc)
    assert (h.state, h.since) == ("Ready", 6)
    for t in (7, 8, 9):
        h = h.next(Probe(UNHEALTHY, at=t), hc)
    assert h.state == "NotReady"
    assert hc.detection_s == 4


# -- rendering -----------------------------------------------------------------------------------

def test_overrides_apply_in_order() -> None:
    obj = fw(overrides=[{"clusterName": "b", "image": "nginx:1.28", "replicas": 9,
                         "clusterOverrides": [{"path": "/metadata/labels/tier", "op": "add", "value": "edge"},
                                              {"path": "/spec/template/spec/containers/0/args",
                                               "op": "add", "value": ["-v"]}]}])
    wl = parse_workload(obj)
    (b,) = render(wl, "b", 1)
    assert b["spec"]["replicas"] == 9
    assert b["spec"]["template"]["spec"]["containers"][0] == {"name": "web", "image": "nginx:1.28", "args": ["-v"]}
    assert b["metadata"]["labels"]["tier"] == "edge"
    (a,) = render(wl, "a", 2)
    assert a["spec"]["replicas"] == 2 and "tier" not in a["metadata"]["labels"]


def test_service_gets_a_service_export_and_clusterset_names() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kv"},
           "spec": {"clusterIP": "None", "selector": {"app": "kv"}, "ports": [{"port": 8080}]}}
    wl = parse_workload(fw(svc, scheduling="Duplicated"))
    objs = render(wl, "a")
    assert [o["kind"] for o in objs] == ["Service", "ServiceExport"]
    assert objs[1]["apiVersion"] == "multicluster.x-k8s.io/v1alpha1"
    assert clusterset_name("kv", "pets", pet="kv-3", cluster="member-b") == "kv-3.member-b.kv.pets.svc.clusterset.local"
    assert clusterset_name("kv", "pets") == "kv.pets.svc.clusterset.local"


def test_drift_ignores_what_the_server_adds_and_normalises_quantities() -> None:
    want = {"spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}]}}}}
    have = {"spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
        {"name": "a", "imagePullPolicy": "IfNotPresent",
         "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}}}
    assert drift(want, have) == []
    have["spec"]["replicas"] = 3
    assert drift(want, have) == ["spec.replicas: want 2, found 3"]


def test_statefulset_overrides_of_replicas_are_refused() -> None:
    with pytest.raises(InvalidWorkload) as err:
        parse_workload(fw(STS, overrides=[{"clusterName": "a", "replicas": 5}]))
    assert err.value.reason == "InvalidOverride"


# -- plan, explain, export -------------------------------------------------------------------------

def test_plan_and_explain_side_by_side() -> None:
    obj = fw(weights={"a": 2, "b": 1, "c": 1})
    obj["spec"]["template"]["spec"]["replicas"] = 5
    ms = members()
    p = plan(obj, ms)
    assert p.replicas == {"a": 3, "b": 1, "c": 1}
    assert set(p.manifests) == {"a", "b", "c"}
    e = explain(obj, ms, offline=["b"])
    healthy = e.results["all healthy"]
    assert healthy["kubekit"] == {"a": 3, "b": 1, "c": 1}
    assert healthy["karmada"] == {"a": 3, "b": 1, "c": 1}
    assert sum(healthy["fedv1"].values()) == 5 and 0 in healthy["fedv1"].values()  # rounding up starves one
    lost = e.results["b offline"]
    assert "b" not in {c for c, n in lost["kubekit"].items() if n}
    assert "Fed v1 planner" in str(e)
    bad = plan(fw(clusters=["a"], weights={"a": 0}), ms)
    assert bad.error is not None and "NOT PLACEABLE" in str(bad)


def test_export_karmada() -> None:
    obj = fw(weights={"a": 2, "*": 1}, purge_mode="Directly",
             overrides=[{"clusterName": "b", "image": "nginx:1.28"}])
    docs = list(yaml.safe_load_all(export_karmada(obj)))
    assert [d["kind"] for d in docs] == ["Deployment", "PropagationPolicy", "OverridePolicy"]
    pp = docs[1]["spec"]
    assert pp["resourceSelectors"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]
    rs = pp["placement"]["replicaScheduling"]
    assert rs["replicaSchedulingType"] == "Divided" and rs["replicaDivisionPreference"] == "Weighted"
    assert rs["weightPreference"]["staticWeightList"][0] == {"targetCluster": {"clusterNames": ["a"]}, "weight": 2}
    assert pp["failover"] == {"cluster": {"purgeMode": "Directly"}}
    assert docs[2]["spec"]["overrideRules"][0]["overriders"]["plaintext"][0]["value"] == "nginx:1.28"
    sts = export_karmada(fw(STS), members())
    assert "/spec/ordinals" in sts and "start: 4" in sts


def test_object_key() -> None:
    assert object_key({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}) == ("v1", "Service", "x")
