"""Decision functions of the Deployment, ReplicaSet, DaemonSet, Job and CronJob controllers, table-driven.

Each test feeds observed objects into a pure ``decide`` and checks the actions,
the way the upstream controllers' unit tests do (rolling_test.go, sync_test.go,
replica_set_test.go, daemon_controller_test.go, job_controller_test.go,
cronjob_controllerv2_test.go).
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from kubesim.controllers import cronjob, daemonset, deployment, job, replicaset
from kubesim.controllers.podtemplate import compute_hash, int_or_percent, safe_encode

T0 = 1_800_000_000.0  # a fixed "now" (2027-01-15)


def ts(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- helpers for building objects ----------------------------------------------------------

def make_deploy(replicas=3, surge="25%", unavail="25%", strategy="RollingUpdate", image="nginx:1", **spec):
    s = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
         "strategy": {"type": strategy}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
         "template": {"metadata": {"labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "c", "image": image}]}}}
    if strategy == "RollingUpdate":
        s["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavail}
    s.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 1,
                         "creationTimestamp": ts(T0 - 1000)},
            "spec": s, "status": {}}


def rs_for(d, replicas, available=None, revision="1", created=T0 - 900, image=None):
    tmpl = copy.deepcopy(d["spec"]["template"])
    if image:
        tmpl["spec"]["containers"][0]["image"] = image
    h = compute_hash(tmpl)
    tmpl["metadata"]["labels"]["pod-template-hash"] = h
    avail = replicas if available is None else available
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"web-{h}", "namespace": "ns", "uid": f"rs-{h}", "generation": 1,
                         "creationTimestamp": ts(created),
                         "annotations": {deployment.REVISION: revision,
                                         deployment.DESIRED: str(d["spec"]["replicas"]),
                                         deployment.MAX_REPLICAS: str(d["spec"]["replicas"]
                                                                      + deployment.max_surge(d))},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": "d-uid", "controller": True}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web", "pod-template-hash": h}},
                     "template": tmpl},
            "status": {"replicas": replicas, "readyReplicas": avail, "availableReplicas": avail,
                       "observedGeneration": 1}}


def apply_plan(d, rss, plan, *, ready=True, now=T0):
    """Apply a plan to local copies as the API server and the ReplicaSet controller would."""
    rss = {r["metadata"]["name"]: copy.deepcopy(r) for r in rss}
    for act in plan.actions:
        if isinstance(act, deployment.CreateRS):
            body = copy.deepcopy(act.body)
            body["metadata"].update(uid="rs-" + body["metadata"]["name"], generation=1,
                                    creationTimestamp=ts(now))
            body["status"] = {"replicas": 0}
            rss[body["metadata"]["name"]] = body
        elif isinstance(act, deployment.UpdateRS):
            rss[act.name]["spec"]["replicas"] = act.replicas
            rss[act.name]["metadata"]["annotations"] = act.annotations
        elif isinstance(act, deployment.DeleteRS):
            del rss[act.name]
        elif isinstance(act, deployment.SetStatus):
            d = copy.deepcopy(d)
            d["status"] = act.status
            d["metadata"].setdefault("annotations", {}).update(act.annotations)
    for r in rss.values():  # the ReplicaSet controller and kubelets catch up
        n = r["spec"]["replicas"]
        new = deployment.equal_ignore_hash(r["spec"]["template"], d["spec"]["template"])
        avail = n if (ready or not new) else 0
        r["status"] = {"replicas": n, "readyReplicas": avail, "availableReplicas": avail, "observedGeneration": 1}
    return d, list(rss.values())


def rollout(d, rss, steps=12, ready=True):
    """(new, old) spec sizes after each sync until nothing changes."""
    traj = []
    for i in range(steps):
        plan = deployment.decide(d, rss, [], T0 + i)
        d, rss = apply_plan(d, rss, plan, ready=ready, now=T0 + i)
        new = deployment.find_new_rs(d, rss)
        old = sum(deployment.replicas_of(r) for r in rss if r is not new)
        point = (deployment.replicas_of(new) if new else 0, old)
        if traj and traj[-1] == point and not any(isinstance(a, (deployment.CreateRS, deployment.UpdateRS))
                                                  for a in plan.actions):
            break
        if not traj or traj[-1] != point:
            traj.append(point)
    return traj, d, rss


# -- hashing and numbers ---------------------------------------------------------------------

def test_hash_shape():
    h = compute_hash({"metadata": {"labels": {"app": "web"}}, "spec": {}})
    assert set(h) <= set("456789bcdf") and 1 <= len(h) <= 10
    assert compute_hash({"a": 1}) == compute_hash({"a": 1}) != compute_hash({"a": 2})
    assert compute_hash({"a": 1}, 1) != compute_hash({"a": 1})
    assert safe_encode("0123456789") == "456789bcdf"


@pytest.mark.parametrize("value,total,up,want", [
    ("25%", 3, True, 1), ("25%", 3, False, 0), ("25%", 4, False, 1), ("30%", 5, True, 2), ("30%", 5, False, 1),
    (2, 10, True, 2), ("100%", 3, True, 3), ("0%", 10, True, 0), ("1", 5, False, 1),
])
def test_int_or_percent(value, total, up, want):
    assert int_or_percent(value, total, up) == want


@pytest.mark.parametrize("surge,unavail,desired,want", [
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 10, (3, 2)),
    ("30%", "30%", 5, (2, 1)),
    (0, "10%", 5, (0, 1)),      # both resolve to 0 -> maxUnavailable 1
    (0, 0, 1, (0, 1)),
    (2, "50%", 3, (2, 1)),
    ("100%", 0, 3, (3, 0)),
])
def test_resolve_fenceposts(surge, unavail, desired, want):
    assert deployment.resolve_fenceposts(surge, unavail, desired) == want


# -- Deployment rollouts ------------------------------------------------------------------

@pytest.mark.parametrize("replicas,surge,unavail,want", [
    # defaults on 3 replicas: surge 1, unavailable 0 -> one at a time, never below 3 available
    (3, "25%", "25%", [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]),
    # rolling_test.go's example: 10 replicas, surge 3, unavailable 2 (the first sync also scales old down:
    # 13 pods - 8 minimum available - 3 unavailable new = 2)
    (10, 3, 2, [(3, 8), (5, 8), (5, 3), (10, 3), (10, 0)]),
    # no surge: the old ReplicaSet goes down first
    (3, 0, 1, [(0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)]),
    # all at once
    (4, "100%", "100%", [(4, 0)]),
])
def test_rolling_update_steps(replicas, surge, unavail, want):
    d0 = make_deploy(replicas, surge, unavail, image="nginx:1")
    old = rs_for(d0, replicas, revision="1")
    d = make_deploy(replicas, surge, unavail, image="nginx:2")
    d["metadata"]["generation"] = 2
    traj, d, rss = rollout(d, [old])
    assert traj == want
    assert d["status"]["updatedReplicas"] == replicas and d["status"]["availableReplicas"] == replicas
    assert d["metadata"]["annotations"][deployment.REVISION] == "2"
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "{deployment.find_new_rs(d, rss)["metadata"]["name"]}" has ' \
                                     'successfully progressed.'


def test_first_sync_creates_rs_with_event_and_condition():
    d = make_deploy(3)
    plan = deployment.decide(d, [], [], T0)
    create = next(a for a in plan.actions if isinstance(a, deployment.CreateRS)).body
    h = create["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
    assert create["metadata"]["name"] == f"web-{h}"
    assert create["spec"]["replicas"] == 3
    assert create["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert create["metadata"]["annotations"] == {deployment.REVISION: "1", deployment.DESIRED: "3",
                                                 deployment.MAX_REPLICAS: "4"}
    events = [a.message for a in plan.actions if isinstance(a, deployment.Event_)]
    assert events == [f"Scaled up replica set web-{h} to 3 from 0"]
    status = plan.actions[-1]
    assert isinstance(status, deployment.SetStatus) and status.annotations == {deployment.REVISION: "1"}
    conds = {c["type"]: c for c in status.status["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetCreated"
    assert conds["Progressing"]["message"] == f'Created new replica set "web-{h}"'
    assert conds["Available"]["reason"] == "MinimumReplicasUnavailable"


def test_stuck_rollout_times_out():
    d0 = make_deploy(3, image="nginx:1")
    d = make_deploy(3, image="bad:1")
    traj, d, rss = rollout(d, [rs_for(d0, 3)], ready=False)
    assert traj == [(1, 3)]  # the new pod never becomes available: nothing more goes down
    for t in (T0 + 20, T0 + 21):  # status catches up with the last scaling; no progress after that
        d, rss = apply_plan(d, rss, deployment.decide(d, rss, [], t), ready=False)
    plan = deployment.decide(d, rss, [], T0 + 590)
    prog = next(c for c in plan.actions[-1].status["conditions"] if c["type"] == "Progressing")
    assert prog["reason"] == "ReplicaSetUpdated" and plan.requeue is not None
    plan = deployment.decide(d, rss, [], T0 + 602)
    st = plan.actions[-1].status
    prog = next(c for c in st["conditions"] if c["type"] == "Progressing")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"].endswith("has timed out progressing.")


def test_recreate_scales_old_to_zero_first():
    d0 = make_deploy(3, strategy="Recreate", image="nginx:1")
    d = make_deploy(3, strategy="Recreate", image="nginx:2")
    traj, d, rss = rollout(d, [rs_for(d0, 3)])
    assert traj == [(0, 0), (3, 0)]


def test_scaling_event_is_proportional():
    d0 = make_deploy(10, 3, 2, image="nginx:1")
    old = rs_for(d0, 5, revision="1", created=T0 - 900)
    new = rs_for(d0, 8, revision="2", created=T0 - 100, image="nginx:2")
    d = make_deploy(20, 3, 2, image="nginx:2")
    for r in (old, new):
        r["metadata"]["annotations"][deployment.MAX_REPLICAS] = "13"
        r["metadata"]["annotations"][deployment.DESIRED] = "10"
    plan = deployment.decide(d, [old, new], [], T0)
    sizes = {a.name: a.replicas for a in plan.actions if isinstance(a, deployment.UpdateRS)}
    # allowed 23 = 20 + surge 3; 10 to add: 8*23/13 -> 14 (+6), 5*23/13 -> 9 (+4)
    assert sizes == {new["metadata"]["name"]: 14, old["metadata"]["name"]: 9}


def test_rollback_reuses_old_rs_and_keeps_revision_history():
    d1 = make_deploy(3, image="nginx:1")
    rs1 = rs_for(d1, 0, revision="1")
    rs2 = rs_for(d1, 3, revision="2", image="nginx:2", created=T0 - 100)
    d = make_deploy(3, image="nginx:1")  # kubectl rollout undo patched the template back
    plan = deployment.decide(d, [rs1, rs2], [], T0)
    upd = next(a for a in plan.actions if isinstance(a, deployment.UpdateRS) and a.name == rs1["metadata"]["name"])
    assert upd.annotations[deployment.REVISION] == "3"
    assert upd.annotations[deployment.REVISION_HISTORY] == "1"


def test_revision_history_limit_cleanup():
    d = make_deploy(1, image="v9", revisionHistoryLimit=2)
    d["status"] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    olds = [rs_for(d, 0, revision=str(i), image=f"v{i}", created=T0 - 1000 + i) for i in range(1, 6)]
    cur = rs_for(d, 1, revision="6", created=T0 - 10)
    plan = deployment.decide(d, olds + [cur], [], T0)
    deleted = [a.name for a in plan.actions if isinstance(a, deployment.DeleteRS)]
    assert deleted == [olds[0]["metadata"]["name"], olds[1]["metadata"]["name"], olds[2]["metadata"]["name"]]


def test_paused_deployment_creates_nothing_and_says_paused():
    d = make_deploy(3, image="nginx:2", paused=True)
    old = rs_for(make_deploy(3, image="nginx:1"), 3)
    plan = deployment.decide(d, [old], [], T0)
    assert not any(isinstance(a, deployment.CreateRS) for a in plan.actions)
    prog = next(c for c in plan.actions[-1].status["conditions"] if c["type"] == "Progressing")
    assert (prog["status"], prog["reason"], prog["message"]) == ("Unknown", "DeploymentPaused",
                                                                 "Deployment is paused")


# -- ReplicaSet -----------------------------------------------------------------------------

def pod(name, *, node="n1", phase="Running", ready=True, ready_at=T0 - 100, created=T0 - 200, restarts=0, uid=None,
        cost=None, labels=None):
    p = {"metadata": {"name": name, "uid": uid or name, "creationTimestamp": ts(created),
                      "labels": labels or {"app": "web"}},
         "spec": {"nodeName": node} if node else {},
         "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                    "lastTransitionTime": ts(ready_at)}],
                    "containerStatuses": [{"name": "c", "restartCount": restarts}]}}
    if cost is not None:
        p["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    return p


@pytest.mark.parametrize("pods,want_first", [
    ([pod("a"), pod("b", node="")], "b"),                                     # unassigned first
    ([pod("a"), pod("b", phase="Pending")], "b"),                             # Pending before Running
    ([pod("a"), pod("b", ready=False)], "b"),                                 # not ready first
    ([pod("a", cost=10), pod("b", cost=-5)], "b"),                            # lower deletion cost first
    ([pod("a", node="n1"), pod("b", node="n2"), pod("c", node="n2")], "b"),   # doubled-up node first
    ([pod("a", ready_at=T0 - 10_000), pod("b", ready_at=T0 - 10)], "b"),      # ready for less time first
    ([pod("a"), pod("b", restarts=4)], "b"),                                  # more restarts first
    ([pod("a", created=T0 - 100_000, ready_at=T0 - 50), pod("b", created=T0 - 60, ready_at=T0 - 50)], "b"),
])
def test_scale_down_ranking(pods, want_first):
    assert replicaset.rank_for_deletion(pods, None, T0)[0]["metadata"]["name"] == want_first


def test_replicaset_decide_create_delete_and_status():
    rs = {"kind": "ReplicaSet", "metadata": {"name": "r", "generation": 3},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}}}}}
    d = replicaset.decide(rs, [pod("a")], T0)
    assert (d.create, d.delete) == (1, [])
    assert d.status == {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                        "observedGeneration": 3}
    gone = pod("x")
    gone["metadata"]["deletionTimestamp"] = ts(T0)
    done = pod("y", phase="Succeeded", ready=False)
    d = replicaset.decide(rs, [pod("a"), pod("b"), pod("c", ready=False), gone, done], T0)
    assert d.delete == ["c"] and d.status["replicas"] == 3
    rs["spec"]["minReadySeconds"] = 1000
    d = replicaset.decide(rs, [pod("a", ready_at=T0 - 10)], T0)
    assert d.status.get("availableReplicas", 0) == 0 and d.requeue == 1000


def test_replication_controller_uses_map_selector():
    rc = {"kind": "ReplicationController", "spec": {"selector": {"app": "web"}}}
    assert replicaset.rs_selector(rc).matches({"app": "web", "x": "y"})
    assert not replicaset.rs_selector(rc).matches({"app": "db"})


# -- DaemonSet ------------------------------------------------------------------------------

def node(name, taints=(), labels=None):
    return {"metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
            "spec": {"taints": list(taints)}}


def ds(tolerations=(), node_selector=None, affinity=None, surge=0, unavail=1):
    spec = {"containers": [{"name": "a", "image": "agent:1"}], "tolerations": list(tolerations)}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity:
        spec["affinity"] = affinity
    return {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ns", "uid": "ds", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}}}


def taint(key, effect, value=None):
    t = {"key": key, "effect": effect}
    if value:
        t["value"] = value
    return t


@pytest.mark.parametrize("daemon,n,want", [
    (ds(), node("n1"), (True, True)),
    (ds(), node("n1", [taint("dedicated", "NoSchedule", "gpu")]), (False, True)),
    (ds(), node("n1", [taint("dedicated", "NoExecute", "gpu")]), (False, False)),
    (ds([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]),
     node("n1", [taint("dedicated", "NoSchedule", "gpu")]), (True, True)),
    (ds([{"key": "dedicated", "operator": "Equal", "value": "cpu"}]),
     node("n1", [taint("dedicated", "NoSchedule", "gpu")]), (False, True)),
    (ds([{"operator": "Exists"}]), node("n1", [taint("anything", "NoExecute")]), (True, True)),
    # taints DaemonSet pods tolerate by default
    (ds(), node("n1", [taint("node.kubernetes.io/unschedulable", "NoSchedule")]), (True, True)),
    (ds(), node("n1", [taint("node.kubernetes.io/not-ready", "NoExecute")]), (True, True)),
    (ds(), node("n1", [taint("node.kubernetes.io/unreachable", "NoExecute")]), (True, True)),
    (ds(), node("n1", [taint("node.kubernetes.io/memory-pressure", "NoSchedule")]), (True, True)),
    (ds(), node("n1", [taint("node.kubernetes.io/network-unavailable", "NoSchedule")]), (False, True)),
    (ds(), node("n1", [taint("custom", "PreferNoSchedule")]), (True, True)),
    (ds(node_selector={"role": "edge"}), node("n1"), (False, False)),
    (ds(node_selector={"role": "edge"}), node("n1", labels={"role": "edge"}), (True, True)),
    (ds(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]}}}),
     node("n1", labels={"topology.kubernetes.io/zone": "b"}), (False, False)),
])
def test_daemonset_node_eligibility(daemon, n, want):
    assert daemonset.node_should_run(daemon, n) == want


def test_daemon_pod_has_tolerations_and_node_affinity():
    p = daemonset.daemon_pod(ds([{"key": "x", "operator": "Exists"}]), "n7", "abc", "1")
    tols = p["spec"]["tolerations"]
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"} in tols
    assert not any("tolerationSeconds" in t for t in tols)
    assert tols[0] == {"key": "x", "operator": "Exists"}
    terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                            "values": ["n7"]}]}]}
    assert p["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "abc",
                                       "pod-template-generation": "1"}
    assert p["metadata"]["generateName"] == "agent-" and "nodeName" not in p["spec"]
    assert daemonset.target_node(p) == "n7"


def dpod(name, node_name, hash_="new", ready=True, ready_at=T0 - 100):
    p = pod(name, node=node_name, ready=ready, ready_at=ready_at, labels={"app": "agent",
                                                                         "controller-revision-hash": hash_})
    return p


def test_daemonset_creates_per_node_and_deletes_where_not_wanted():
    nodes = [node("n1"), node("n2"), node("n3", [taint("dedicated", "NoExecute", "x")])]
    d = daemonset.decide(ds(), nodes, [dpod("p1", "n1"), dpod("p3", "n3")], "new", T0)
    assert d.create_on == ["n2"] and d.delete == ["p3"]
    assert d.status == {"currentNumberScheduled": 1, "numberMisscheduled": 1, "desiredNumberScheduled": 2,
                        "numberReady": 1, "observedGeneration": 1, "updatedNumberScheduled": 1,
                        "numberAvailable": 1, "numberUnavailable": 1}


def test_daemonset_failed_pod_is_replaced_with_event():
    p = dpod("p1", "n1")
    p["status"]["phase"] = "Failed"
    d = daemonset.decide(ds(), [node("n1")], [p], "new", T0)
    assert d.delete == ["p1"]
    assert d.events == [("Warning", "FailedDaemonPod", "Found failed daemon pod ns/p1 on node n1, will try to kill it")]


@pytest.mark.parametrize("unavail,pods,want_deleted", [
    (1, [dpod("a", "n1", "old"), dpod("b", "n2", "old"), dpod("c", "n3", "old")], ["a"]),
    (2, [dpod("a", "n1", "old"), dpod("b", "n2", "old"), dpod("c", "n3", "old")], ["a", "b"]),
    # an unavailable new pod uses up the budget
    (1, [dpod("a", "n1", "new", ready=False), dpod("b", "n2", "old"), dpod("c", "n3", "old")], []),
    # unavailable old pods are always replaced
    (1, [dpod("a", "n1", "old", ready=False), dpod("b", "n2", "old", ready=False), dpod("c", "n3", "new")],
     ["a", "b"]),
])
def test_daemonset_rolling_update_budget(unavail, pods, want_deleted):
    nodes = [node("n1"), node("n2"), node("n3")]
    d = daemonset.decide(ds(unavail=unavail), nodes, pods, "new", T0)
    assert d.delete == want_deleted and d.create_on == []


def test_daemonset_revision_history():
    daemon = ds()
    create, delete, bump = daemonset.plan_history(daemon, [], "h1", {"h1"})
    assert create["metadata"]["name"] == "agent-h1" and create["revision"] == 1
    assert create["data"]["spec"]["template"]["$patch"] == "replace"
    assert create["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "h1"}
    olds = [{"metadata": {"name": f"agent-{i}", "labels": {"controller-revision-hash": str(i)}}, "revision": i,
             "data": {"x": i}} for i in range(1, 13)]
    create, delete, bump = daemonset.plan_history(daemon, olds, "h13", {"h13"})
    assert create["revision"] == 13 and delete == ["agent-1", "agent-2"]


# -- Job ------------------------------------------------------------------------------------

def make_job(**spec):
    s = {"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
         "podReplacementPolicy": "TerminatingOrFailed",
         "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    s.update(spec)
    return {"kind": "Job", "metadata": {"name": "j", "namespace": "ns", "uid": "job"}, "spec": s,
            "status": {"startTime": ts(T0 - 5)}}


def jpod(name, phase, finished=T0 - 1, finalizer=True, ready=False):
    p = pod(name, phase=phase, ready=ready)
    if finalizer:
        p["metadata"]["finalizers"] = [job.TRACKING_FINALIZER]
    if phase in ("Succeeded", "Failed"):
        p["status"]["containerStatuses"] = [{"name": "c", "state": {"terminated": {
            "exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": ts(finished)}}}]
    return p


def conds(status):
    return [(c["type"], c.get("reason", "")) for c in status.get("conditions") or []]


def test_job_creates_pods_up_to_parallelism():
    d = job.decide(make_job(completions=5, parallelism=2), [], T0)
    assert d.create == 2 and d.status["active"] == 2
    d = job.decide(make_job(completions=None, parallelism=3), [], T0)
    assert d.create == 3
    d = job.decide(make_job(completions=3, parallelism=5), [jpod("a", "Running", finalizer=True)], T0)
    assert d.create == 2


def test_job_success_goes_through_uncounted_then_conditions():
    j = make_job()
    d = job.decide(j, [jpod("a", "Succeeded")], T0)
    assert d.status["uncountedTerminatedPods"] == {"succeeded": ["a"]}
    assert d.remove_finalizers == ["a"] and "succeeded" not in d.status and not d.status.get("conditions")
    j["status"] = d.status
    d = job.decide(j, [jpod("a", "Succeeded", finalizer=False)], T0)
    assert d.status["succeeded"] == 1 and d.status["uncountedTerminatedPods"] == {}
    assert conds(d.status) == [("SuccessCriteriaMet", "CompletionsReached")]
    j["status"] = d.status
    d = job.decide(j, [jpod("a", "Succeeded", finalizer=False)], T0)
    assert conds(d.status) == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert d.status["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert d.status["completionTime"] == ts(T0)
    assert d.events == [("Normal", "Completed", "Job completed")]
    j["status"] = d.status
    assert job.is_finished(j) and job.decide(j, [], T0).status == {}


def test_job_before_131_completes_in_one_step():
    j = make_job()
    j["status"] = {"startTime": ts(T0 - 5), "succeeded": 1, "uncountedTerminatedPods": {}}
    d = job.decide(j, [jpod("a", "Succeeded", finalizer=False)], T0, k8s_version=(1, 30))
    assert conds(d.status) == [("Complete", "")]


@pytest.mark.parametrize("limit,failed_before,want", [
    (6, 6, [("FailureTarget", "BackoffLimitExceeded")]),
    (6, 5, []),
    (0, 0, [("FailureTarget", "BackoffLimitExceeded")]),
])
def test_job_backoff_limit(limit, failed_before, want):
    j = make_job(backoffLimit=limit)
    j["status"].update(failed=failed_before, uncountedTerminatedPods={"failed": ["x"]})
    d = job.decide(j, [], T0)  # pod x was counted (its finalizer is gone)
    assert conds(d.status) == want
    if want:
        assert d.status["conditions"][0]["message"] == "Job has reached the specified backoff limit"
        j["status"] = d.status
        d = job.decide(j, [], T0)
        assert conds(d.status)[-1] == ("Failed", "BackoffLimitExceeded")
        assert d.events == [("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]


@pytest.mark.parametrize("failures,elapsed,want", [
    (0, 0, 0.0), (1, 0, 10.0), (1, 4, 6.0), (2, 0, 20.0), (3, 0, 40.0), (7, 0, 600.0), (12, 0, 600.0),
    (2, 25, 0.0),
])
def test_job_backoff_delay(failures, elapsed, want):
    rec = job.Backoff(failures, T0 - elapsed if failures else None)
    assert job.backoff_remaining(rec, T0) == pytest.approx(want)
    # under the `instant` profile (1/100) the same record waits a hundredth as long
    fresh = job.Backoff(failures, T0 if failures else None)
    assert job.backoff_remaining(fresh, T0, scale=0.01) == pytest.approx(min(10 * 2 ** max(failures - 1, 0), 600)
                                                                         / 100 if failures else 0.0)


def test_job_waits_for_backoff_before_replacing_a_failed_pod():
    j = make_job()
    j["status"].update(failed=1, uncountedTerminatedPods={})
    rec = job.Backoff(1, T0 - 3)
    d = job.decide(j, [jpod("a", "Failed", finalizer=False)], T0, backoff=rec)
    assert d.create == 0 and d.requeue == pytest.approx(7.0)
    d = job.decide(j, [jpod("a", "Failed", finalizer=False)], T0 + 8, backoff=rec)
    assert d.create == 1


def test_job_active_deadline():
    j = make_job(activeDeadlineSeconds=10)
    j["status"]["startTime"] = ts(T0 - 11)
    d = job.decide(j, [jpod("a", "Running")], T0)
    assert conds(d.status) == [("FailureTarget", "DeadlineExceeded")]
    assert d.status["conditions"][0]["message"] == "Job was active longer than specified deadline"
    assert d.delete == ["a"] and "a" in d.remove_finalizers
    j["status"]["startTime"] = ts(T0 - 4)
    d = job.decide(j, [jpod("a", "Running")], T0)
    assert conds(d.status) == [] and d.requeue == pytest.approx(6.01)


def test_job_on_failure_restarts_count_against_backoff():
    j = make_job(backoffLimit=2)
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    p = jpod("a", "Running")
    p["status"]["containerStatuses"] = [{"name": "c", "restartCount": 2}]
    assert conds(job.decide(j, [p], T0).status) == [("FailureTarget", "BackoffLimitExceeded")]


def test_job_status_fields():
    d = job.decide(make_job(completions=3, parallelism=3), [jpod("a", "Running", ready=True),
                                                          jpod("b", "Pending")], T0)
    assert d.status["ready"] == 1 and d.status["terminating"] == 0 and d.status["active"] == 3
    assert d.status["startTime"] == ts(T0 - 5)


# -- CronJob --------------------------------------------------------------------------------

def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


@pytest.mark.parametrize("spec,tz,after,want", [
    ("*/5 * * * *", None, utc(2026, 1, 1, 10, 2), utc(2026, 1, 1, 10, 5)),
    ("*/5 * * * *", None, utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 10)),
    ("0 * * * *", None, utc(2026, 1, 1, 10, 0, 30), utc(2026, 1, 1, 11, 0)),
    ("@hourly", None, utc(2026, 1, 1, 10, 59), utc(2026, 1, 1, 11, 0)),
    ("@daily", None, utc(2026, 1, 1, 10, 0), utc(2026, 1, 2, 0, 0)),
    ("30 2 * * mon-fri", None, utc(2026, 1, 2, 3, 0), utc(2026, 1, 5, 2, 30)),  # Fri -> Mon
    ("0 0 1,15 * *", None, utc(2026, 1, 2), utc(2026, 1, 15)),
    ("0 0 13 * 5", None, utc(2026, 1, 1), utc(2026, 1, 2)),  # dom OR dow: Friday the 2nd
    ("0 0 * jan-feb *", None, utc(2026, 3, 1), utc(2027, 1, 1)),
    ("0 9 * * *", "Europe/Berlin", utc(2026, 7, 1, 0, 0), utc(2026, 7, 1, 7, 0)),
    ("CRON_TZ=America/New_York 0 9 * * *", None, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 14, 0)),
    ("@every 90s", None, utc(2026, 1, 1, 0, 0, 10), utc(2026, 1, 1, 0, 1, 40)),
])
def test_cron_next(spec, tz, after, want):
    assert cronjob.parse_schedule(spec, tz).next(after) == want


@pytest.mark.parametrize("spec", ["* * * *", "61 * * * *", "@fortnightly", "a b c d e"])
def test_cron_rejects(spec):
    with pytest.raises(cronjob.ScheduleError):
        cronjob.parse_schedule(spec)


def make_cj(schedule="*/1 * * * *", created=utc(2026, 1, 1, 10, 0, 30), **spec):
    s = {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
         "failedJobsHistoryLimit": 1,
         "jobTemplate": {"metadata": {"labels": {"team": "x"}}, "spec": {"template": {"spec": {}}}}}
    s.update(spec)
    return {"kind": "CronJob", "apiVersion": "batch/v1",
            "metadata": {"name": "tick", "namespace": "ns", "uid": "cj",
                         "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "spec": s, "status": {}}


def cj_job(name, finished=None, uid=None, start=None):
    j = {"metadata": {"name": name, "uid": uid or name, "namespace": "ns"}, "status": {}}
    if finished:
        j["status"]["conditions"] = [{"type": finished, "status": "True"}]
        j["status"]["completionTime"] = "2026-01-01T10:00:00Z"
    if start:
        j["status"]["startTime"] = start
    return j


def test_cronjob_starts_job_at_schedule_with_deterministic_name():
    cj = make_cj()
    d = cronjob.decide(cj, [], utc(2026, 1, 1, 10, 0, 50))
    assert d.create is None and 9 < d.requeue < 11  # next minute, plus 100 ms
    now = utc(2026, 1, 1, 10, 1, 2)
    d = cronjob.decide(cj, [], now)
    minutes = int(utc(2026, 1, 1, 10, 1).timestamp()) // 60
    assert d.create["metadata"]["name"] == f"tick-{minutes}"
    assert d.create["metadata"]["labels"] == {"team": "x"}
    assert d.create["metadata"]["annotations"] == {cronjob.SCHEDULED_ANNOTATION: "2026-01-01T10:01:00Z"}
    assert d.create["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert d.status["lastScheduleTime"] == "2026-01-01T10:01:00Z"


def test_cronjob_missed_schedules_start_only_the_latest():
    cj = make_cj()
    d = cronjob.decide(cj, [], utc(2026, 1, 1, 10, 7, 5))
    assert d.create["metadata"]["name"] == f"tick-{int(utc(2026, 1, 1, 10, 7).timestamp()) // 60}"
    d = cronjob.decide(make_cj(created=utc(2026, 1, 1)), [], utc(2026, 1, 2))
    assert ("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
            ".spec.startingDeadlineSeconds or check clock skew") in d.events


def test_cronjob_starting_deadline():
    cj = make_cj(startingDeadlineSeconds=10)
    d = cronjob.decide(cj, [], utc(2026, 1, 1, 10, 1, 30))
    assert d.create is None  # the deadline window holds no schedule: nothing to start, nothing missed
    cj = make_cj(startingDeadlineSeconds=60)
    cj["status"]["lastScheduleTime"] = "2026-01-01T09:00:00Z"
    d = cronjob.decide(cj, [], utc(2026, 1, 1, 10, 1, 30))
    assert d.create is not None


@pytest.mark.parametrize("policy,want_create,want_delete,event", [
    ("Allow", True, [], None),
    ("Forbid", False, [], ("Normal", "JobAlreadyActive",
                           "Not starting job because prior execution is running and concurrency policy is Forbid")),
    ("Replace", True, ["tick-old"], None),
])
def test_cronjob_concurrency(policy, want_create, want_delete, event):
    cj = make_cj(concurrencyPolicy=policy)
    cj["status"] = {"active": [{"name": "tick-old", "uid": "u-old", "kind": "Job"}],
                    "lastScheduleTime": "2026-01-01T10:00:00Z"}
    d = cronjob.decide(cj, [cj_job("tick-old", uid="u-old")], utc(2026, 1, 1, 10, 1, 5))
    assert (d.create is not None) == want_create and d.delete_jobs == want_delete
    if event:
        assert event in d.events


def test_cronjob_completed_jobs_and_history_limits():
    cj = make_cj(schedule="0 0 1 1 *")
    cj["status"] = {"active": [{"name": "a", "uid": "a"}]}
    jobs = [cj_job("a", "Complete", start=f"2026-01-01T00:0{i}:00Z") for i in range(1)] + \
           [cj_job(f"ok{i}", "Complete", start=f"2026-01-01T00:0{i}:00Z") for i in range(1, 5)] + \
           [cj_job(f"bad{i}", "Failed", start=f"2026-01-01T00:0{i}:00Z") for i in range(1, 3)] + \
           [cj_job("manual")]
    d = cronjob.decide(cj, jobs, utc(2026, 1, 1, 10, 0))
    assert ("Normal", "SawCompletedJob", "Saw completed job: a, status: Complete") in d.events
    assert ("Warning", "UnexpectedJob", "Saw a job that the controller did not create or forgot: manual") in d.events
    assert "active" not in d.status and d.status["lastSuccessfulTime"] == "2026-01-01T10:00:00Z"
    assert d.delete_jobs == ["a", "ok1", "bad1"]


def test_cronjob_suspended_and_bad_timezone():
    assert cronjob.decide(make_cj(suspend=True), [], utc(2026, 1, 1, 10, 5)).create is None
    d = cronjob.decide(make_cj(timeZone="Mars/Olympus"), [], utc(2026, 1, 1, 10, 5))
    assert d.create is None and d.events[0][1] == "UnknownTimeZone"
