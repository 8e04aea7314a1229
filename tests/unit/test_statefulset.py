"""The StatefulSet controller's decision function, table-driven (sim-fidelity §1, ST-01..ST-25).

Pod states are faked in the inputs: ``pod(...)`` builds a pet in a given phase,
readiness and revision; ``World`` applies the decided actions to plain lists so a
few multi-sync scenarios (ordered bring-up, rolling update order) can be walked
without a server.
"""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from kubesim import clock
from kubesim.controllers import history
from kubesim.controllers import statefulset as ss
from kubesim.controllers.statefulset import (
    AdoptPod, AdoptRevision, BumpRevision, CreateClaim, CreatePod, CreateRevision, DeletePod, DeleteRevision,
    RecordEvent, SetClaimOwners, SyncError, UpdatePod, UpdateStatus, decide,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
SET_UID = "set-uid"
_uids = itertools.count(1)


def template(image: str = "nginx:1.25", volumes: list | None = None) -> dict:
    spec = {"containers": [{"image": image, "imagePullPolicy": "IfNotPresent", "name": "web", "resources": {},
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "terminationGracePeriodSeconds": 30}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}}, "spec": spec}


def sts(replicas: int = 3, *, policy: str = "OrderedReady", strategy: str = "RollingUpdate", partition: int = 0,
        max_unavailable=None, image: str = "nginx:1.25", claims: bool = True, retention=("Retain", "Retain"),
        start: int | None = None, min_ready: int = 0, status: dict | None = None, deleting: bool = False,
        history_limit: int = 10, generation: int = 1) -> dict:
    us: dict = {"type": strategy}
    if strategy == "RollingUpdate":
        us["rollingUpdate"] = {"partition": partition}
        if max_unavailable is not None:
            us["rollingUpdate"]["maxUnavailable"] = max_unavailable
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
            "template": template(image), "podManagementPolicy": policy, "updateStrategy": us,
            "revisionHistoryLimit": history_limit, "minReadySeconds": min_ready,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": retention[0], "whenScaled": retention[1]}}
    if claims:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data", "labels": {"tier": "db"}},
                                         "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}}]
    if start is not None:
        spec["ordinals"] = {"start": start}
    meta = {"name": "web", "namespace": "default", "uid": SET_UID, "generation": generation,
            "annotations": {"note": "x"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:00:00Z"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec,
            "status": status or {}}


def stored(cr: dict, age: int = 0) -> dict:
    cr = copy.deepcopy(cr)
    cr["metadata"]["uid"] = f"rev-{next(_uids)}"
    cr["metadata"]["creationTimestamp"] = clock.rfc3339(NOW - timedelta(hours=1, seconds=-age))
    return cr


def revision_for(s: dict, number: int = 1) -> dict:
    return stored(ss.new_revision(ss.SetView(s, (1, 33)), number, 0), age=number)


def pod(name: str, rev: str, *, phase: str = "Running", ready: bool = True, terminating: bool = False,
        ready_for: float = 3600, uid: str | None = None, labels: dict | None = None) -> dict:
    o = int(name.rsplit("-", 1)[1])
    lab = {"app": "web", ss.POD_NAME_LABEL: name, ss.POD_INDEX_LABEL: str(o), ss.REVISION_LABEL: rev}
    if labels is not None:
        lab = labels
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}-{next(_uids)}",
                      "labels": lab,
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                           "uid": SET_UID, "controller": True, "blockOwnerDeletion": True}]},
         "spec": {"hostname": name, "subdomain": "web",
                  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}"}}]},
         "status": {"phase": phase}}
    if phase == "Running":
        p["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                      "lastTransitionTime": clock.rfc3339(NOW - timedelta(seconds=ready_for))}]
    if terminating:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:50Z"
    return p


def pvc(name: str, *, deleting: bool = False, owners: list | None = None) -> dict:
    c = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": "default", "uid": f"pvc-{name}"}}
    if deleting:
        c["metadata"]["deletionTimestamp"] = "2026-01-01T11:59:00Z"
        c["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
    if owners:
        c["metadata"]["ownerReferences"] = owners
    return c


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


def pod_ops(actions) -> list[tuple[str, str]]:
    out = []
    for a in actions:
        if isinstance(a, CreatePod):
            out.append(("create", a.pod))
        elif isinstance(a, DeletePod):
            out.append(("delete", a.pod))
        elif isinstance(a, UpdatePod):
            out.append(("update", a.pod))
    return out


def status_of(actions) -> dict | None:
    return next((a.status for a in actions if isinstance(a, UpdateStatus)), None)


def steady(n: int = 3, **kw) -> tuple[dict, list[dict], list[dict], dict]:
    """A set with ``n`` Ready pets at its only revision, status in sync."""
    s = sts(n, **kw)
    rev = revision_for(s)
    name = rev["metadata"]["name"]
    s["status"] = {"observedGeneration": 1, "replicas": n, "readyReplicas": n, "currentReplicas": n,
                   "updatedReplicas": n, "currentRevision": name, "updateRevision": name, "collisionCount": 0,
                   "availableReplicas": n}
    pods = [pod(f"web-{i}", name) for i in range(n)]
    return s, pods, [rev], rev


# -- naming, identity and hashing -------------------------------------------------------------

@pytest.mark.parametrize("name,want", [
    ("web-0", ("web", 0)), ("web-12", ("web", 12)), ("my-web-3", ("my-web", 3)), ("web", ("", -1)),
    ("web-x", ("", -1)), ("web-99999999999", ("web", -1)),
])
def test_parent_and_ordinal(name, want):
    assert ss.parent_and_ordinal(name) == want


def test_new_pod_identity_fields():
    """ST-04/ST-06: identity fields, controller ref, the claim volume replacing a same-named template volume."""
    s = sts(3)
    s["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]
    p = ss.new_pod(ss.SetView(s, (1, 33)), ss.template_of_revision(revision_for(s)), 2, "web-abc")
    m = p["metadata"]
    assert m["name"] == "web-2" and m["generateName"] == "web-" and m["namespace"] == "default"
    assert m["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-2",
                           "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "web-abc"}
    assert m["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": SET_UID,
                                     "controller": True, "blockOwnerDeletion": True}]
    assert p["spec"]["hostname"] == "web-2" and p["spec"]["subdomain"] == "web"
    assert p["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}},
                                    {"name": "cfg", "emptyDir": {}}]
    assert "creationTimestamp" not in m


def test_claims_merge_selector_labels():
    """ST-06: claim labels = template labels + selector matchLabels (selector wins)."""
    s = sts(1)
    s["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"] = {"tier": "db", "app": "other"}
    claim = ss.claims_for(ss.SetView(s, (1, 33)), 0)["data"]
    assert claim["metadata"]["name"] == "data-web-0"
    assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}


# Upstream test vectors: k/k pkg/controller/statefulset/testdata/compatibility_{set,revision}_1.3{3,4}.0.json
_COMPAT_TEMPLATE = {"metadata": {"annotations": {"test": "value"}, "labels": {"app": "foo"}},
                    "spec": {"containers": [{"image": "test", "imagePullPolicy": "Always", "name": "test",
                                             "resources": {}, "terminationMessagePath": "/dev/termination-log",
                                             "terminationMessagePolicy": "File"}],
                             "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                             "schedulerName": "default-scheduler", "securityContext": {},
                             "terminationGracePeriodSeconds": 30}}


@pytest.mark.parametrize("creation_null,want", [(True, "c77f6d978"), (False, "776999688b")])
def test_revision_hash_matches_upstream(creation_null, want):
    tmpl = copy.deepcopy(_COMPAT_TEMPLATE)
    if creation_null:  # 1.33 serializes the embedded ObjectMeta's zero creationTimestamp as null
        tmpl["metadata"]["creationTimestamp"] = None
    raw = history.go_json(ss.revision_data(tmpl))
    assert raw.startswith(b'{"spec":{"template":{"$patch":"replace","metadata":')
    assert history.hash_controller_revision(raw, 0) == want


@pytest.mark.parametrize("version,want", [((1, 33), "test-c77f6d978"), ((1, 34), "test-776999688b")])
def test_revision_name_through_api_defaulting(version, want):
    """The template as kubesim stores it hashes to the name a real cluster of that version gives."""
    import random

    from kubesim.api import Api
    from kubesim.resources import Registry
    from kubesim.schemas import SchemaSet
    from kubesim.store import Store

    api = Api(Store(), Registry(), SchemaSet(f"{version[0]}.{version[1]}"), k8s_version=version,
              rng=random.Random(1))
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    body = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "test"},
            "spec": {"selector": {"matchLabels": {"app": "foo"}},
                     "template": {"metadata": {"annotations": {"test": "value"}, "labels": {"app": "foo"}},
                                  "spec": {"containers": [{"image": "test", "name": "test"}]}}}}
    obj = api.create(api.rt("apps/statefulsets"), "default", body)
    acts = decide(obj, [], [], [], NOW, version)
    cr = next(a.revision for a in acts if isinstance(a, CreateRevision))
    assert cr["metadata"]["name"] == want
    assert cr["metadata"]["labels"] == {"app": "foo", "controller.kubernetes.io/hash": want.split("-")[1]}
    assert cr["revision"] == 1


def test_go_json_escaping_and_order():
    assert history.go_json({"b": 1, "a": "<&>", "$": [1.5, 2.0, None, True]}) == \
        b'{"$":[1.5,2,null,true],"a":"\\u003c\\u0026\\u003e","b":1}'


def test_fnv_variants_and_safe_encoding():
    assert history.fnv32(b"") == history.fnv32a(b"") == 0x811C9DC5
    assert history.fnv32(b"a") != history.fnv32a(b"a")
    assert history.safe_encode_string("0123456789") == "456789bcdf"  # 48 % 27 = 21 -> "4"


def test_revision_name_is_stable_and_changes_with_template():
    s1, s2 = sts(3), sts(3)
    s2["metadata"]["generation"] = 7  # metadata does not enter the hash
    n1 = ss.new_revision(ss.SetView(s1, (1, 33)), 1, 0)["metadata"]["name"]
    assert n1 == ss.new_revision(ss.SetView(s2, (1, 33)), 5, 0)["metadata"]["name"]
    assert n1 != ss.new_revision(ss.SetView(sts(3, image="nginx:2"), (1, 33)), 1, 0)["metadata"]["name"]
    assert n1 != ss.new_revision(ss.SetView(s1, (1, 33)), 1, 1)["metadata"]["name"]  # collisionCount probe
    cr = ss.new_revision(ss.SetView(s1, (1, 33)), 1, 0)
    assert cr["metadata"]["annotations"] == {"note": "x"}
    assert cr["data"]["spec"]["template"]["$patch"] == "replace"


# -- ControllerRevisions (ST-19) ---------------------------------------------------------------

def test_first_sync_creates_revision_then_claims_then_pod():
    acts = decide(sts(3), [], [], [], NOW)
    assert kinds(acts) == ["CreateRevision", "CreateClaim", "CreatePod", "UpdateStatus"]
    claim, create = acts[1], acts[2]
    assert claim.claim["metadata"]["name"] == "data-web-0" and create.pod == "web-0"
    rev = acts[0].revision["metadata"]["name"]
    assert create.pod_obj["metadata"]["labels"][ss.REVISION_LABEL] == rev
    st = status_of(acts)
    assert st == {"observedGeneration": 1, "replicas": 0, "currentRevision": rev, "updateRevision": rev,
                  "collisionCount": 0, "availableReplicas": 0}


def test_template_change_creates_next_revision_and_revert_reuses_old():
    s, pods, revs, r1 = steady()
    s2 = copy.deepcopy(s)
    s2["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    acts = decide(s2, pods, [], revs, NOW)
    r2 = next(a.revision for a in acts if isinstance(a, CreateRevision))
    assert r2["revision"] == 2
    # revert to the first template while r2 is the newest: r1 is bumped to revision 3, nothing created
    revs2 = revs + [stored(r2, age=10)]
    acts = decide(s, pods, [], revs2, NOW)
    assert not any(isinstance(a, CreateRevision) for a in acts)
    assert BumpRevision(r1["metadata"]["name"], 3) in acts


def test_collision_bumps_count_and_renames():
    s = sts(1)
    cand = ss.new_revision(ss.SetView(s, (1, 33)), 1, 0)
    squatter = stored(cand)
    squatter["data"] = {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "zzz"}}}}}
    squatter["metadata"]["labels"] = {"other": "x"}  # not selected, but its name is taken
    acts = decide(s, [], [], [squatter], NOW)
    made = next(a.revision for a in acts if isinstance(a, CreateRevision))
    assert made["metadata"]["name"] != squatter["metadata"]["name"]
    assert made["metadata"]["name"] == "web-" + history.hash_controller_revision(
        history.go_json(ss.revision_data(s["spec"]["template"])), 1)
    assert status_of(acts)["collisionCount"] == 1


def test_history_truncated_to_limit_oldest_first():
    s, pods, revs, live = steady(history_limit=2)
    old = []
    for n in range(2, 6):
        other = sts(3, image=f"nginx:old{n}")
        old.append(stored(ss.new_revision(ss.SetView(other, (1, 33)), n - 1, 0), age=n))
    live = copy.deepcopy(live)
    live["revision"] = 9
    acts = decide(s, pods, [], old + [live], NOW)
    deleted = [a.name for a in acts if isinstance(a, DeleteRevision)]
    assert deleted == [old[0]["metadata"]["name"], old[1]["metadata"]["name"]]


def test_orphans_are_adopted():
    s, pods, revs, rev = steady(1)
    orphan_rev = copy.deepcopy(revs[0])
    del orphan_rev["metadata"]["ownerReferences"]
    orphan_pod = copy.deepcopy(pods[0])
    del orphan_pod["metadata"]["ownerReferences"]
    acts = decide(s, [orphan_pod], [], [orphan_rev], NOW)
    assert AdoptRevision(rev["metadata"]["name"], rev["metadata"]["uid"]) in acts
    assert AdoptPod("web-0", orphan_pod["metadata"]["uid"]) in acts
    foreign = copy.deepcopy(pods[0])
    foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    acts = decide(s, [foreign], [], revs, NOW)  # owned by another controller: not ours, its slot looks empty
    assert not any(isinstance(a, AdoptPod) for a in acts) and ("create", "web-0") in pod_ops(acts)
    stranger = copy.deepcopy(orphan_pod)
    stranger["metadata"]["labels"]["app"] = "other"  # orphan not matching the selector: ignored
    assert not any(isinstance(a, AdoptPod) for a in decide(s, [stranger], [], revs, NOW))


# -- OrderedReady (ST-09, ST-10, ST-13, ST-14, ST-21) -------------------------------------------

def _bringup(rev: str):
    return [pod("web-0", rev, phase="Pending")]


@pytest.mark.parametrize("case,pods_fn,want", [
    ("web-0 pending blocks web-1", lambda r: [pod("web-0", r, phase="Pending")], []),
    ("web-0 running not ready blocks", lambda r: [pod("web-0", r, ready=False)], []),
    ("web-0 ready -> web-1", lambda r: [pod("web-0", r)], [("create", "web-1")]),
    ("terminating web-0 blocks everything", lambda r: [pod("web-0", r, terminating=True)], []),
    ("hole at web-1 filled first", lambda r: [pod("web-0", r), pod("web-2", r)], [("create", "web-1")]),
    ("terminating web-1 is not replaced", lambda r: [pod("web-0", r), pod("web-1", r, terminating=True),
                                                     pod("web-2", r)], []),
    ("deleted web-1 recreated when reached", lambda r: [pod("web-0", r), pod("web-2", r)], [("create", "web-1")]),
    ("unhealthy web-0 delays recreation of web-1", lambda r: [pod("web-0", r, ready=False), pod("web-2", r)], []),
])
def test_ordered_ready_scale_up(case, pods_fn, want):
    s, _, revs, rev = steady(3)
    assert pod_ops(decide(s, pods_fn(rev["metadata"]["name"]), [], revs, NOW)) == want, case


@pytest.mark.parametrize("ready_for,want", [(5, []), (20, [("create", "web-1")])])
def test_min_ready_seconds_gates_next_ordinal(ready_for, want):
    s, _, revs, rev = steady(2, min_ready=10)
    pods = [pod("web-0", rev["metadata"]["name"], ready_for=ready_for)]
    acts = decide(s, pods, [], revs, NOW)
    assert pod_ops(acts) == want
    assert ss.requeue_after(s, acts) == 10.0


@pytest.mark.parametrize("case,states,want", [
    ("deletes highest first", {}, [("delete", "web-2")]),
    ("terminating web-2 blocks web-1", {"web-2": dict(terminating=True)}, []),
    ("unready web-0 blocks scale-down", {"web-0": dict(ready=False)}, []),
    ("unready web-2 alone is deleted", {"web-2": dict(ready=False)}, [("delete", "web-2")]),
    ("web-2 and web-1 unready: neither", {"web-2": dict(ready=False), "web-1": dict(ready=False)}, []),
])
def test_ordered_ready_scale_down(case, states, want):
    s, _, revs, rev = steady(3)
    s["spec"]["replicas"] = 1
    name = rev["metadata"]["name"]
    pods = [pod(f"web-{i}", name, **states.get(f"web-{i}", {})) for i in range(3)]
    assert pod_ops(decide(s, pods, [], revs, NOW)) == want, case


def test_ordinals_start():
    """ST-03: ordinals.start=3, replicas=2 -> web-3, web-4; web-0 is condemned."""
    s = sts(2, start=3)
    rev = revision_for(s)
    acts = decide(s, [], [], [rev], NOW)
    assert pod_ops(acts) == [("create", "web-3")]
    assert next(a for a in acts if isinstance(a, CreateClaim)).claim["metadata"]["name"] == "data-web-3"
    name = rev["metadata"]["name"]
    acts = decide(s, [pod("web-0", name), pod("web-3", name), pod("web-4", name)], [], [rev], NOW)
    assert pod_ops(acts) == [("delete", "web-0")]


# -- Parallel (ST-11) ----------------------------------------------------------------------------

def test_parallel_creates_all_in_slow_start_batches():
    s = sts(5, policy="Parallel")
    rev = revision_for(s)
    acts = decide(s, [], [], [rev], NOW)
    creates = [a for a in acts if isinstance(a, CreatePod)]
    assert [a.pod for a in creates] == [f"web-{i}" for i in range(5)]
    batches = [a.batch for a in creates]
    assert batches[0] < batches[1] == batches[2] < batches[3] == batches[4]  # 1, 2, 2
    assert ss.slow_start_batches(5) == [1, 2, 2]
    assert ss.slow_start_batches(1000) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 489]
    assert ss.slow_start_batches(2000)[-3:] == [500, 500, 489]


def test_parallel_does_not_wait_for_readiness_or_termination():
    s, _, revs, rev = steady(5, policy="Parallel")
    name = rev["metadata"]["name"]
    pods = [pod("web-0", name, phase="Pending"), pod("web-1", name, ready=False),
            pod("web-2", name, terminating=True)]
    assert pod_ops(decide(s, pods, [], revs, NOW)) == [("create", "web-3"), ("create", "web-4")]
    s["spec"]["replicas"] = 1
    pods = [pod(f"web-{i}", name, ready=(i != 3)) for i in range(5)]
    assert sorted(pod_ops(decide(s, pods, [], revs, NOW))) == [("delete", f"web-{i}") for i in range(1, 5)]


def test_parallel_pvc_being_deleted_stops_after_its_batch():
    s = sts(4, policy="Parallel")
    rev = revision_for(s)
    acts = decide(s, [], [pvc("data-web-1", deleting=True)], [rev], NOW)
    # batch 1: web-0; batch 2: web-1 (fails) + web-2; batch 3 (web-3) is not attempted
    assert pod_ops(acts) == [("create", "web-0"), ("create", "web-2")]
    assert any(isinstance(a, SyncError) for a in acts)


# -- rolling update, partition, OnDelete, maxUnavailable (ST-15..ST-18) ---------------------------

def _changed(s: dict, image: str = "nginx:2", **spec) -> tuple[dict, str]:
    s2 = copy.deepcopy(s)
    s2["metadata"]["generation"] = 2
    s2["spec"]["template"]["spec"]["containers"][0]["image"] = image
    for k, v in spec.items():
        s2["spec"][k] = v
    return s2, ss.new_revision(ss.SetView(s2, (1, 33)), 2, 0)["metadata"]["name"]


def test_rolling_update_highest_first_one_at_a_time():
    s, pods, revs, rev = steady(3)
    s2, new = _changed(s)
    acts = decide(s2, pods, [], revs, NOW)
    assert pod_ops(acts) == [("delete", "web-2")]
    new_rev = next(a.revision for a in acts if isinstance(a, CreateRevision))
    revs2 = revs + [stored(new_rev, age=5)]
    old = rev["metadata"]["name"]
    # web-2 recreated at the new revision, not ready yet: wait
    pods2 = [pod("web-0", old), pod("web-1", old), pod("web-2", new, ready=False)]
    assert pod_ops(decide(s2, pods2, [], revs2, NOW)) == []
    pods2[2] = pod("web-2", new)
    assert pod_ops(decide(s2, pods2, [], revs2, NOW)) == [("delete", "web-1")]
    # web-1 gone: it is recreated at the update revision (ordinal >= partition)
    acts = decide(s2, [pods2[0], pods2[2]], [], revs2, NOW)
    made = next(a for a in acts if isinstance(a, CreatePod))
    assert made.pod == "web-1" and made.pod_obj["metadata"]["labels"][ss.REVISION_LABEL] == new
    assert made.pod_obj["spec"]["containers"][0]["image"] == "nginx:2"


def test_partition_canary():
    s, pods, revs, rev = steady(3)
    s2, new = _changed(s, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    assert pod_ops(decide(s2, pods, [], revs, NOW)) == [("delete", "web-2")]
    new_rev = stored(ss.new_revision(ss.SetView(s2, (1, 33)), 2, 0), age=5)
    old = rev["metadata"]["name"]
    pods2 = [pod("web-0", old), pod("web-1", old), pod("web-2", new)]
    acts = decide(s2, pods2, [], revs + [new_rev], NOW)
    assert pod_ops(acts) == []
    st = status_of(acts)
    assert (st["currentRevision"], st["updateRevision"], st["currentReplicas"], st["updatedReplicas"]) == \
        (old, new, 2, 1)
    # a user-deleted web-1 below the partition comes back at the current revision, with the old image
    acts = decide(s2, [pods2[0], pods2[2]], [], revs + [new_rev], NOW)
    made = next(a for a in acts if isinstance(a, CreatePod))
    assert made.pod_obj["metadata"]["labels"][ss.REVISION_LABEL] == old
    assert made.pod_obj["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_partition_above_replicas_updates_nothing():
    s, pods, revs, _ = steady(3)
    s2, _ = _changed(s, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 5}})
    assert pod_ops(decide(s2, pods, [], revs, NOW)) == []


def test_on_delete_never_deletes_and_recreates_at_update_revision():
    s, pods, revs, rev = steady(3, strategy="OnDelete")
    s2, new = _changed(s)
    acts = decide(s2, pods, [], revs, NOW)
    assert pod_ops(acts) == []
    new_rev = stored(next(a.revision for a in acts if isinstance(a, CreateRevision)), age=5)
    acts = decide(s2, pods[:2], [], revs + [new_rev], NOW)
    made = next(a for a in acts if isinstance(a, CreatePod))
    assert made.pod == "web-2" and made.pod_obj["metadata"]["labels"][ss.REVISION_LABEL] == new
    # no completeRollingUpdate under OnDelete: currentRevision stays
    s3 = copy.deepcopy(s2)
    s3["spec"]["replicas"] = 1
    acts = decide(s3, [pod("web-0", new)], [], revs + [new_rev], NOW)
    assert status_of(acts)["currentRevision"] == rev["metadata"]["name"]


@pytest.mark.parametrize("version,max_unavailable,want", [
    ((1, 33), 2, [("delete", "web-3")]),                    # field ignored before 1.35
    ((1, 35), 2, [("delete", "web-3"), ("delete", "web-2")]),
    ((1, 35), "50%", [("delete", "web-3"), ("delete", "web-2")]),
    ((1, 35), "10%", [("delete", "web-3")]),               # rounds down, at least 1
])
def test_max_unavailable(version, max_unavailable, want):
    s, pods, revs, _ = steady(4, max_unavailable=max_unavailable)
    s2, _ = _changed(s)
    assert pod_ops(decide(s2, pods, [], revs, NOW, version)) == want


def test_max_unavailable_counts_unavailable_pods():
    s, pods, revs, _ = steady(4, max_unavailable=2)
    s2, _ = _changed(s)
    pods[0] = pod("web-0", pods[0]["metadata"]["labels"][ss.REVISION_LABEL], ready=False)
    assert pod_ops(decide(s2, pods, [], revs, NOW, (1, 35))) == []  # web-0 unready blocks the monotonic pass


# -- failed pods, identity repair, claims (ST-05, ST-07, ST-12, ST-22) ----------------------------

@pytest.mark.parametrize("phase_", ["Failed", "Succeeded"])
def test_failed_pod_deleted_then_replaced_later(phase_):
    s, pods, revs, rev = steady(3)
    pods[1] = pod("web-1", rev["metadata"]["name"], phase=phase_)
    acts = decide(s, pods, [], revs, NOW)
    assert pod_ops(acts) == [("delete", "web-1")]
    assert not any(isinstance(a, RecordEvent) for a in acts)
    pods[1] = pod("web-1", rev["metadata"]["name"], phase=phase_, terminating=True)
    assert pod_ops(decide(s, pods, [], revs, NOW)) == []


def test_failed_pod_before_1_31_recreated_in_same_sync_with_event():
    s, pods, revs, rev = steady(3)
    pods[1] = pod("web-1", rev["metadata"]["name"], phase="Failed")
    acts = decide(s, pods, [], revs, NOW, (1, 30))
    assert pod_ops(acts) == [("delete", "web-1"), ("create", "web-1")]
    ev = next(a for a in acts if isinstance(a, RecordEvent))
    assert (ev.type, ev.reason, ev.message) == ("Warning", "RecreatingFailedPod",
                                                "StatefulSet default/web is recreating failed Pod web-1")


def test_identity_repaired_by_update():
    s, pods, revs, rev = steady(2)
    del pods[1]["metadata"]["labels"][ss.POD_NAME_LABEL]
    acts = decide(s, pods, [], revs, NOW)
    up = next(a for a in acts if isinstance(a, UpdatePod))
    assert up.pod == "web-1" and up.labels == {ss.POD_NAME_LABEL: "web-1", ss.POD_INDEX_LABEL: "1"}
    assert up.volumes is None
    assert pod_ops(acts) == [("update", "web-1")]


def test_pvc_being_deleted_blocks_creation():
    s, pods, revs, _ = steady(3)
    acts = decide(s, pods[:2], [pvc("data-web-0"), pvc("data-web-1"), pvc("data-web-2", deleting=True)], revs, NOW)
    assert pod_ops(acts) == []
    ev = next(a for a in acts if isinstance(a, RecordEvent))
    assert (ev.type, ev.reason, ev.message) == (
        "Warning", "FailedCreate", "create Pod web-2 in StatefulSet web failed error: pvc data-web-2 is being deleted")
    assert any(isinstance(a, SyncError) for a in acts)
    # once the old claim is gone a new one is made before the pod
    acts = decide(s, pods[:2], [pvc("data-web-0"), pvc("data-web-1")], revs, NOW)
    assert [type(a).__name__ for a in acts if isinstance(a, (CreateClaim, CreatePod))] == ["CreateClaim", "CreatePod"]


def test_existing_claim_is_reused():
    s, pods, revs, _ = steady(3)
    acts = decide(s, pods[:2], [pvc("data-web-2")], revs, NOW)
    assert not any(isinstance(a, CreateClaim) for a in acts)
    assert pod_ops(acts) == [("create", "web-2")]


def _set_ref() -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": SET_UID, "controller": True,
            "blockOwnerDeletion": True}


def _pod_ref(p: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "name": p["metadata"]["name"], "uid": p["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


@pytest.mark.parametrize("retention,condemned,want", [
    (("Retain", "Retain"), False, []),
    (("Retain", "Retain"), True, []),
    (("Delete", "Retain"), False, ["set"]),
    (("Delete", "Retain"), True, ["set"]),
    (("Retain", "Delete"), False, []),
    (("Retain", "Delete"), True, ["pod"]),
    (("Delete", "Delete"), False, ["set"]),
    (("Delete", "Delete"), True, ["pod"]),
])
def test_retention_policy_owner_refs(retention, condemned, want):
    s = ss.SetView(sts(2 if not condemned else 1, retention=retention), (1, 33))
    p = pod("web-1", "r")
    refs = ss.claim_owner_refs(pvc("data-web-1"), s, p)
    expect = {"set": _set_ref(), "pod": _pod_ref(p)}
    assert refs == [expect[w] for w in want]
    claim = pvc("data-web-1", owners=refs)
    assert ss.claim_owner_up_to_date(claim, s, p)


def test_stale_refs_are_left_alone():
    s = ss.SetView(sts(1, retention=("Delete", "Delete")), (1, 33))
    stale = dict(_set_ref(), uid="old-set-uid")
    assert ss.claim_owner_up_to_date(pvc("data-web-0", owners=[stale]), s, pod("web-0", "r"))


def test_scale_down_with_when_scaled_delete_sets_pod_ref_before_delete():
    s, pods, revs, _ = steady(3, retention=("Retain", "Delete"))
    s["spec"]["replicas"] = 2
    claims = [pvc(f"data-web-{i}") for i in range(3)]
    acts = decide(s, pods, claims, revs, NOW)
    set_owner = next(a for a in acts if isinstance(a, SetClaimOwners))
    assert set_owner.claim == "data-web-2" and set_owner.owner_references == [_pod_ref(pods[2])]
    assert pod_ops(acts) == [("delete", "web-2")]
    assert kinds(acts).index("SetClaimOwners") < kinds(acts).index("DeletePod")


def test_stale_claim_blocks_scale_up_until_collected():
    s, pods, revs, _ = steady(3, retention=("Retain", "Delete"))
    old_owner = {"apiVersion": "v1", "kind": "Pod", "name": "web-2", "uid": "old-web-2", "controller": True}
    acts = decide(s, pods[:2], [pvc("data-web-2", owners=[old_owner])], revs, NOW)
    assert pod_ops(acts) == []
    # with the default Retain policy the same claim is simply reused
    s2, pods2, revs2, _ = steady(3)
    assert pod_ops(decide(s2, pods2[:2], [pvc("data-web-2", owners=[old_owner])], revs2, NOW)) == \
        [("create", "web-2")]


def test_when_deleted_delete_adds_set_ref_on_pending_pod():
    s, pods, revs, rev = steady(1, retention=("Delete", "Retain"))
    pods = [pod("web-0", rev["metadata"]["name"], phase="Pending")]
    acts = decide(s, pods, [pvc("data-web-0")], revs, NOW)
    fixes = [(a.claim, a.owner_references) for a in acts if isinstance(a, SetClaimOwners)]
    assert fixes == [("data-web-0", [_set_ref()])]
    assert pod_ops(acts) == []  # the pending pet only gets its claim fixed


# -- status (ST-20, ST-23) ---------------------------------------------------------------------

def test_status_counts_and_complete_rolling_update():
    s, pods, revs, rev = steady(3)
    s["status"] = {}
    st = status_of(decide(s, pods, [], revs, NOW))
    name = rev["metadata"]["name"]
    assert st == {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
                  "updatedReplicas": 3, "currentRevision": name, "updateRevision": name, "collisionCount": 0,
                  "availableReplicas": 3}


def test_status_not_written_when_unchanged():
    s, pods, revs, _ = steady(3)
    assert not any(isinstance(a, UpdateStatus) for a in decide(s, pods, [], revs, NOW))


def test_rollout_completes_current_revision():
    s, pods, revs, rev = steady(2)
    s2, new = _changed(s)
    new_rev = stored(ss.new_revision(ss.SetView(s2, (1, 33)), 2, 0), age=5)
    acts = decide(s2, [pod("web-0", new), pod("web-1", new)], [], revs + [new_rev], NOW)
    st = status_of(acts)
    assert st["currentRevision"] == st["updateRevision"] == new and st["currentReplicas"] == 2


def test_terminating_pods_not_counted_as_current_or_updated():
    s, pods, revs, rev = steady(2)
    pods[1] = pod("web-1", rev["metadata"]["name"], terminating=True)
    st = status_of(decide(s, pods, [], revs, NOW))
    assert st["replicas"] == 2 and st["currentReplicas"] == 1 and st["readyReplicas"] == 2


def test_deleting_set_only_updates_status():
    s, pods, revs, _ = steady(3, deleting=True)
    s["status"]["readyReplicas"] = 0
    acts = decide(s, pods[:1], [], revs, NOW)
    assert pod_ops(acts) == [] and kinds(acts) == ["UpdateStatus"]


# -- events ---------------------------------------------------------------------------------------

def test_event_texts():
    assert ss.pod_event("create", "web", "web-0") == \
        ("Normal", "SuccessfulCreate", "create Pod web-0 in StatefulSet web successful")
    assert ss.pod_event("delete", "web", "web-2") == \
        ("Normal", "SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful")
    assert ss.pod_event("create", "web", "web-0", "boom") == \
        ("Warning", "FailedCreate", "create Pod web-0 in StatefulSet web failed error: boom")
    assert ss.claim_event("create", "web", "web-0", "data-web-0") == \
        ("Normal", "SuccessfulCreate", "create Claim data-web-0 Pod web-0 in StatefulSet web success")
    assert ss.claim_event("create", "web", "web-0", "data-web-0", "boom") == \
        ("Warning", "FailedCreate", "create Claim data-web-0 for Pod web-0 in StatefulSet web failed error: boom")
    assert ss.aggregate(["a"]) == "a" and ss.aggregate(["a", "b", "a"]) == "[a, b]"


# -- multi-sync walks -------------------------------------------------------------------------------

class World:
    """Applies actions to lists, as an instant API server would; pods are made Ready on request."""

    def __init__(self, s: dict, version=(1, 33)) -> None:
        self.sts, self.pods, self.pvcs, self.revs = s, [], [], []
        self.version = version
        self.log: list[tuple[str, str]] = []

    def sync(self) -> list:
        acts = decide(self.sts, self.pods, self.pvcs, self.revs, NOW, self.version)
        for a in acts:
            if isinstance(a, CreateRevision):
                self.revs.append(stored(a.revision, age=len(self.revs)))
            elif isinstance(a, CreateClaim):
                self.pvcs.append(copy.deepcopy(a.claim))
                self.log.append(("claim", a.claim["metadata"]["name"]))
            elif isinstance(a, CreatePod):
                p = copy.deepcopy(a.pod_obj)
                p["metadata"]["uid"] = f"uid-{next(_uids)}"
                p["status"] = {"phase": "Pending"}
                self.pods.append(p)
                self.log.append(("create", a.pod))
            elif isinstance(a, DeletePod):
                self.pods = [p for p in self.pods if p["metadata"]["name"] != a.pod]
                self.log.append(("delete", a.pod))
            elif isinstance(a, UpdateStatus):
                self.sts["status"] = a.status
        return acts

    def ready_all(self) -> None:
        for p in self.pods:
            p["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": clock.rfc3339(NOW - timedelta(hours=1))}]}

    def settle(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            self.sync()
            self.ready_all()


def test_walk_ordered_bringup_claims_before_pods():
    w = World(sts(3))
    w.settle()
    assert w.log == [("claim", "data-web-0"), ("create", "web-0"), ("claim", "data-web-1"), ("create", "web-1"),
                     ("claim", "data-web-2"), ("create", "web-2")]
    st = w.sts["status"]
    assert st["readyReplicas"] == 3 and st["currentRevision"] == st["updateRevision"]


def test_walk_rolling_update_order_and_scale():
    w = World(sts(3))
    w.settle()
    w.log.clear()
    w.sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    w.sts["metadata"]["generation"] = 2
    w.settle()
    assert [e for e in w.log if e[0] == "delete"] == [("delete", "web-2"), ("delete", "web-1"), ("delete", "web-0")]
    st = w.sts["status"]
    assert st["currentRevision"] == st["updateRevision"] and st["updatedReplicas"] == 3
    assert len(w.revs) == 2 and sorted(r["revision"] for r in w.revs) == [1, 2]
    w.log.clear()
    w.sts["spec"]["replicas"] = 5
    w.settle()
    w.sts["spec"]["replicas"] = 3
    w.settle()
    assert w.log == [("claim", "data-web-3"), ("create", "web-3"), ("claim", "data-web-4"), ("create", "web-4"),
                     ("delete", "web-4"), ("delete", "web-3")]


# -- the loop's failure semantics, against an in-process API (no HTTP) ----------------------------

def _api():
    import random

    from kubesim.api import Api, Request
    from kubesim.resources import Registry
    from kubesim.schemas import SchemaSet
    from kubesim.store import Store

    api = Api(Store(), Registry(), SchemaSet("1.33"), rng=random.Random(1))
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return api, Request(field_manager="tests")


def test_loop_applies_actions_and_records_events():
    api, req = _api()
    body = sts(4, policy="Parallel")
    del body["metadata"]["uid"], body["status"]
    api.create(api.rt("apps/statefulsets"), "default", body, req)
    hold = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-web-1", "finalizers": ["kubekit.io/hold"]},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    api.create(api.rt("persistentvolumeclaims"), "default", hold, req)
    api.delete(api.rt("persistentvolumeclaims"), "default", "data-web-1")
    ctl = ss.StatefulSetController(api)
    again = ctl.reconcile(("default", "web"))
    assert again is not None  # the sync ended in an error: back off
    names = sorted(e.name for e in api.store.list("pods", "default")[0])
    assert names == ["web-0", "web-2"]  # web-1 blocked by its claim; web-3's batch never ran
    msgs = sorted((e.obj()["reason"], e.obj()["message"]) for e in api.store.list("events", "default")[0])
    assert ("FailedCreate", "create Pod web-1 in StatefulSet web failed error: pvc data-web-1 is being deleted") in msgs
    assert ("SuccessfulCreate", "create Claim data-web-0 Pod web-0 in StatefulSet web success") in msgs
    assert ("SuccessfulCreate", "create Pod web-2 in StatefulSet web successful") in msgs
    ev = next(e.obj() for e in api.store.list("events", "default")[0])
    assert ev["source"] == {"component": "statefulset-controller"}
    assert ev["involvedObject"]["kind"] == "StatefulSet"
    st = api.get(api.rt("apps/statefulsets"), "default", "web")["status"]
    assert st["replicas"] == 0 and st["currentRevision"] == st["updateRevision"]
    revs = api.store.list("apps/controllerrevisions", "default")[0]
    assert [r.name for r in revs] == [st["updateRevision"]]
    rev = revs[0].obj()
    assert rev["metadata"]["ownerReferences"][0]["name"] == "web" and rev["revision"] == 1
    assert rev["metadata"]["managedFields"][0]["manager"] == "kube-controller-manager"
    pod0 = api.get(api.rt("pods"), "default", "web-0")
    assert pod0["metadata"]["labels"][ss.REVISION_LABEL] == st["updateRevision"]


# -- the per-set memo (SyncMemo): same actions as without it --------------------------------------

def _versioned(objs: list[dict], start: int = 1) -> list[dict]:
    """Stored copies: a resourceVersion makes an object cacheable by the memo."""
    out = copy.deepcopy(objs)
    for i, o in enumerate(out):
        o["metadata"]["resourceVersion"] = str(start + i)
    return out


def test_memo_pod_facts_are_reused_until_the_resource_version_changes():
    memo = ss.SyncMemo()
    p = _versioned([pod("web-0", "r1")])[0]
    f = memo.pod(p)
    memo.rotate()
    assert memo.pod(copy.deepcopy(p)) is f  # same uid and resourceVersion: the facts of the last sync
    p2 = copy.deepcopy(p)
    p2["metadata"]["labels"][ss.REVISION_LABEL] = "r2"
    p2["metadata"]["resourceVersion"] = "99"
    f2 = memo.pod(p2)
    assert f2 is not f and f2.revision == "r2" and f.revision == "r1"
    memo.rotate()
    memo.rotate()  # not seen by the last sync: dropped
    assert memo.pod(p2) is not f2
    bare = pod("web-1", "r1")  # no resourceVersion: never cached
    assert memo.pod(bare) is not memo.pod(bare)


def test_pod_facts_match_the_predicates():
    now = NOW
    cases = [pod("web-0", "r1"), pod("web-1", "r2", ready=False), pod("web-2", "r1", phase="Pending"),
             pod("web-3", "r1", terminating=True), pod("web-4", "r1", ready_for=5), pod("web-05", "r1"),
             pod("web-6", "r1", labels={"app": "web"}), {"metadata": {"name": "x"}}]
    s = ss.SetView(sts(3), (1, 33))
    for p in cases:
        f = ss._Pod(p)
        assert f.revision == ss.pod_revision(p) and f.terminating == ss.is_terminating(p)
        assert f.running_ready == ss.is_running_and_ready(p) and (f.phase != "") == ss.is_created(p)
        assert (f.parent, f.ordinal) == ss.parent_and_ordinal(p["metadata"]["name"])
        for mrs in (0, 10, 100000):
            assert f.available(mrs, now) == ss.is_available(p, mrs, now)
            assert f.unavailable(mrs, now) == ss.is_unavailable(p, mrs, now)
        sync = ss._Sync(s, {}, now, ss._Plan(), revision_for(sts(3)), revision_for(sts(3)))
        assert sync.identity_matches(f) == ss.identity_matches(s, p)


@pytest.mark.parametrize("case", ["steady", "rolling", "scale-down", "parallel-mixed", "template-change"])
def test_memo_gives_the_same_actions_over_several_syncs(case):
    kw: dict = {"policy": "Parallel"} if case == "parallel-mixed" else {}
    s, pods, revs, rev = steady(4, **kw)
    if case == "rolling" or case == "template-change":
        s["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    if case == "rolling":
        revs = revs + [revision_for(s, 2)]
    if case == "scale-down":
        s["spec"]["replicas"] = 2
    if case == "parallel-mixed":
        pods[1] = pod("web-1", rev["metadata"]["name"], phase="Pending")
        pods[2] = pod("web-2", rev["metadata"]["name"], ready=False)
        del pods[3]
    pods, revs = _versioned(pods, 10), _versioned(revs, 50)
    claims = [pvc(f"data-web-{i}") for i in range(4)]
    memo = ss.SyncMemo()
    for step in range(3):
        want = decide(copy.deepcopy(s), copy.deepcopy(pods), claims, copy.deepcopy(revs), NOW)
        got = decide(s, pods, claims, revs, NOW, memo=memo)
        memo.rotate()
        assert got == want
        # a pod changes between syncs (new resourceVersion): its facts are derived again
        changed = copy.deepcopy(pods[0])
        changed["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        changed["metadata"]["resourceVersion"] = str(100 + step)
        pods = [changed] + pods[1:]


def test_memo_recomputes_a_pod_whose_readiness_changed():
    s, pods, revs, _ = steady(3)
    pods, revs = _versioned(pods, 10), _versioned(revs, 50)
    memo = ss.SyncMemo()
    assert status_of(decide(s, pods, [], revs, NOW, memo=memo)) is None  # in sync
    memo.rotate()
    down = copy.deepcopy(pods[2])
    down["status"]["conditions"][0]["status"] = "False"
    down["metadata"]["resourceVersion"] = "77"
    st = status_of(decide(s, pods[:2] + [down], [], revs, NOW, memo=memo))
    assert st is not None and st["readyReplicas"] == 2 and st["availableReplicas"] == 2
