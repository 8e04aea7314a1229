"""End to end: a StatefulSet driven with real kubectl against kubesim (profile ``instant``).

Ordered bring-up with claims before pods, ``kubectl rollout status`` messages, scale
3 -> 5 -> 3, a deleted pet coming back with its name and claim, a rolling update in
descending order, a partition canary, ControllerRevisions and the controller's events.

"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kubesim.api import Request
from kubesim.testing import Kubectl, running_cluster, eventually

NS = "pets"


class Recorder:
    """Every ADDED/DELETED of pods and PVCs in the namespace, in commit order."""

    def __init__(self, cluster: Any, namespace: str) -> None:
        self.events: list[tuple[str, str, str]] = []
        self._subs = [cluster.store.subscribe(k, namespace, None, self._on) for k in ("pods", "persistentvolumeclaims")]

    def _on(self, ev: Any) -> None:
        if ev.type in ("ADDED", "DELETED"):
            self.events.append((ev.type, ev.entry.key, ev.entry.name))

    def close(self) -> None:
        for s in self._subs:
            s.close()

    def names(self, type_: str, key: str) -> list[str]:
        return [n for t, k, n in self.events if t == type_ and k == key]


def wait_for(what: str, fn: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    return eventually(what, fn, timeout=timeout, interval=interval)


MANIFEST = """
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: registry.k8s.io/nginx-slim:0.27
        ports: [{name: http, containerPort: 80}]
        volumeMounts: [{name: data, mountPath: /usr/share/nginx/html}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("sts")
    with running_cluster(str(work), profile="instant", seed=7) as c:
        kubectl = Kubectl(c.kubeconfig_path, str(tmp_path_factory.mktemp("kcache")))  # type: ignore[attr-defined]
        c.api.create(c.api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": NS}}, Request(field_manager="tests"))
        rec = Recorder(c, NS)
        yield c, kubectl, rec
        rec.close()


def pods(c: Any) -> dict[str, dict[str, Any]]:
    return {e.name: e.obj() for e in c.store.list("pods", NS)[0]}


def sts_status(c: Any) -> dict[str, Any]:
    e = c.store.get("apps/statefulsets", NS, "web")
    return (e.obj().get("status") or {}) if e else {}


def all_ready(c: Any, n: int) -> bool:
    st = sts_status(c)
    live = [p for p in pods(c).values() if not p["metadata"].get("deletionTimestamp")]
    return (st.get("readyReplicas") == n and st.get("replicas") == n and len(live) == n
            and st.get("currentRevision") == st.get("updateRevision"))


def rollout_status(k: Kubectl) -> list[str]:
    out = k("rollout", "status", "sts/web", "-n", NS, "--timeout=90s", timeout=120)
    return [line for line in out.splitlines() if line.strip()]


ALLOWED = ("Waiting for statefulset spec update to be observed...", "Waiting for ", "Waiting for partitioned roll out",
           "partitioned roll out complete: ")


def check_rollout_lines(lines: list[str], final: str) -> None:
    assert lines[-1] == final, lines
    for line in lines[:-1]:
        assert line.startswith(ALLOWED), line


def test_1_apply_orders_claims_and_pods(world):
    c, k, rec = world
    out = k("apply", "-n", NS, "-f", "-", input=MANIFEST)
    assert "statefulset.apps/web created" in out
    lines = rollout_status(k)
    check_rollout_lines(lines, "partitioned roll out complete: 3 new pods have been updated...")
    wait_for("3 ready pets", lambda: all_ready(c, 3))
    pvc_added, pod_added = rec.names("ADDED", "persistentvolumeclaims"), rec.names("ADDED", "pods")
    assert pod_added == ["web-0", "web-1", "web-2"]
    order = [(key, name) for t, key, name in rec.events if t == "ADDED"]
    for i in range(3):
        assert order.index(("persistentvolumeclaims", f"data-web-{i}")) < order.index(("pods", f"web-{i}"))
    assert pvc_added == ["data-web-0", "data-web-1", "data-web-2"]

    got = k.json("get", "pod", "web-1", "-n", NS)
    md, spec = got["metadata"], got["spec"]
    assert md["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert md["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert md["generateName"] == "web-"
    assert md["ownerReferences"][0]["kind"] == "StatefulSet" and md["ownerReferences"][0]["controller"] is True
    assert spec["hostname"] == "web-1" and spec["subdomain"] == "web"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in spec["volumes"]
    st = sts_status(c)
    assert md["labels"]["controller-revision-hash"] == st["updateRevision"] == st["currentRevision"]
    assert st["collisionCount"] == 0 and st["availableReplicas"] == 3 and st["observedGeneration"] == 1
    claim = k.json("get", "pvc", "data-web-1", "-n", NS)
    assert claim["metadata"]["labels"] == {"app": "web"}

    revs = k("get", "controllerrevisions", "-n", NS)
    assert st["updateRevision"] in revs and "statefulset.apps/web" in revs


def test_2_events_from_statefulset_controller(world):
    c, k, _ = world
    events = k.json("get", "events", "-n", NS, "--field-selector", "involvedObject.name=web")["items"]
    msgs = {(e["reason"], e["message"]) for e in events if e["source"].get("component") == "statefulset-controller"}
    assert ("SuccessfulCreate", "create Claim data-web-0 Pod web-0 in StatefulSet web success") in msgs
    assert ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in msgs
    assert ("SuccessfulCreate", "create Pod web-2 in StatefulSet web successful") in msgs
    described = k("describe", "sts", "web", "-n", NS)
    assert "statefulset-controller" in described and "create Pod web-1 in StatefulSet web successful" in described


def test_3_scale_up_and_down(world):
    c, k, rec = world
    rec.events.clear()
    k("scale", "sts/web", "-n", NS, "--replicas=5")
    wait_for("5 ready pets", lambda: all_ready(c, 5))
    assert rec.names("ADDED", "pods") == ["web-3", "web-4"]
    assert rec.names("ADDED", "persistentvolumeclaims") == ["data-web-3", "data-web-4"]
    rec.events.clear()
    k("scale", "sts/web", "-n", NS, "--replicas=3")
    wait_for("scale-down to 3", lambda: all_ready(c, 3) and set(pods(c)) == {"web-0", "web-1", "web-2"})
    assert rec.names("DELETED", "pods") == ["web-4", "web-3"]
    # default retention (Retain/Retain): the claims stay
    names = {e.name for e in c.store.list("persistentvolumeclaims", NS)[0]}
    assert {"data-web-3", "data-web-4"} <= names
    events = k.json("get", "events", "-n", NS, "--field-selector", "involvedObject.name=web")["items"]
    assert any(e["message"] == "delete Pod web-4 in StatefulSet web successful" for e in events)


def test_4_deleted_pet_comes_back_with_same_name_and_claim(world):
    c, k, _ = world
    old = pods(c)["web-1"]
    claim_uid = c.store.get("persistentvolumeclaims", NS, "data-web-1").obj()["metadata"]["uid"]
    k("delete", "pod", "web-1", "-n", NS, "--wait=true", timeout=60)
    new = wait_for("web-1 recreated", lambda: (p := pods(c).get("web-1")) and
                   p["metadata"]["uid"] != old["metadata"]["uid"] and p)
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in new["spec"]["volumes"]
    assert c.store.get("persistentvolumeclaims", NS, "data-web-1").obj()["metadata"]["uid"] == claim_uid
    wait_for("3 ready pets", lambda: all_ready(c, 3))


def test_5_image_change_rolls_highest_first(world):
    c, k, rec = world
    before = sts_status(c)["currentRevision"]
    rec.events.clear()
    k("set", "image", "sts/web", "-n", NS, "web=registry.k8s.io/nginx-slim:0.28")
    lines = rollout_status(k)
    check_rollout_lines(lines, "partitioned roll out complete: 3 new pods have been updated...")
    wait_for("rolled out", lambda: all_ready(c, 3) and sts_status(c)["currentRevision"] != before)
    assert rec.names("DELETED", "pods") == ["web-2", "web-1", "web-0"]
    st = sts_status(c)
    for p in pods(c).values():
        assert p["metadata"]["labels"]["controller-revision-hash"] == st["updateRevision"]
        assert p["spec"]["containers"][0]["image"] == "registry.k8s.io/nginx-slim:0.28"
    revs = k.json("get", "controllerrevisions", "-n", NS)["items"]
    assert sorted(r["revision"] for r in revs) == [1, 2]
    assert {r["metadata"]["name"] for r in revs} >= {before, st["updateRevision"]}
    table = k("get", "controllerrevisions", "-n", NS)
    assert "REVISION" in table.splitlines()[0]


def test_6_partition_canary(world):
    c, k, rec = world
    k("patch", "sts/web", "-n", NS, "--type=merge", "-p",
      json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}))
    current = sts_status(c)["currentRevision"]
    rec.events.clear()
    k("set", "image", "sts/web", "-n", NS, "web=registry.k8s.io/nginx-slim:0.29")
    lines = rollout_status(k)
    check_rollout_lines(lines, "partitioned roll out complete: 1 new pods have been updated...")
    wait_for("canary ready", lambda: (st := sts_status(c)).get("updatedReplicas") == 1
             and st.get("readyReplicas") == 3)
    time.sleep(0.3)  # give the controller a chance to (wrongly) touch web-1
    assert rec.names("DELETED", "pods") == ["web-2"]
    st = sts_status(c)
    assert st["currentRevision"] == current != st["updateRevision"]
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods(c).items()}
    assert images == {"web-0": "registry.k8s.io/nginx-slim:0.28", "web-1": "registry.k8s.io/nginx-slim:0.28",
                      "web-2": "registry.k8s.io/nginx-slim:0.29"}
    # finish the rollout by lowering the partition
    k("patch", "sts/web", "-n", NS, "--type=merge", "-p",
      json.dumps({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}))
    lines = rollout_status(k)
    check_rollout_lines(lines, "partitioned roll out complete: 3 new pods have been updated...")
    wait_for("rolled out", lambda: all_ready(c, 3) and sts_status(c)["currentRevision"] == st["updateRevision"])
    assert len(k.json("get", "controllerrevisions", "-n", NS)["items"]) == 3


def test_6b_rollout_undo_reuses_the_old_revision(world):
    """ST-19: a revert bumps the matching ControllerRevision's number instead of making a new one."""
    c, k, _ = world
    before = {r["metadata"]["name"]: r for r in k.json("get", "controllerrevisions", "-n", NS)["items"]}
    history_out = k("rollout", "history", "sts/web", "-n", NS)
    assert [line.split()[0] for line in history_out.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    k("rollout", "undo", "sts/web", "-n", NS)
    lines = rollout_status(k)
    check_rollout_lines(lines, "partitioned roll out complete: 3 new pods have been updated...")
    wait_for("rolled back", lambda: all_ready(c, 3) and sts_status(c)["currentRevision"] == sts_status(c)[
        "updateRevision"] and sts_status(c)["updateRevision"] in before
        and before[sts_status(c)["updateRevision"]]["revision"] == 2)
    after = {r["metadata"]["name"]: r["revision"] for r in k.json("get", "controllerrevisions", "-n", NS)["items"]}
    assert set(after) == set(before)
    assert after[sts_status(c)["updateRevision"]] == 4
    images = {p["spec"]["containers"][0]["image"] for p in pods(c).values()}
    assert images == {"registry.k8s.io/nginx-slim:0.28"}


def test_7_official_client_reads_status(world):
    from kubernetes import client, config

    c, _, _ = world
    api = config.new_client_from_config(config_file=c.kubeconfig_path)
    try:
        got = client.AppsV1Api(api).read_namespaced_stateful_set("web", NS)
        assert got.status.ready_replicas == 3 and got.status.current_revision == got.status.update_revision
        revs = client.AppsV1Api(api).list_namespaced_controller_revision(NS).items
        assert all(r.metadata.owner_references[0].name == "web" for r in revs)
        assert all(r.metadata.labels["controller.kubernetes.io/hash"] == r.metadata.name.split("-", 1)[1]
                   for r in revs)
    finally:
        api.close()


def test_8_claim_being_deleted_blocks_the_pet(world):
    """ST-07: a claim stuck Terminating keeps its pet from coming back (FailedCreate), then a new claim is made.

    A test finalizer holds the claim in Terminating; pvc-protection alone would let it go
    as soon as the old pod is gone, which races the controller's next sync.
    """
    c, k, rec = world
    hold = "kubekit.io/test-hold"
    old_uid = c.store.get("persistentvolumeclaims", NS, "data-web-2").obj()["metadata"]["uid"]
    k("patch", "pvc", "data-web-2", "-n", NS, "--type=json", "-p",
      json.dumps([{"op": "add", "path": "/metadata/finalizers/-", "value": hold}]))
    k("delete", "pvc", "data-web-2", "-n", NS, "--wait=false")
    k("delete", "pod", "web-2", "-n", NS, "--wait=true", timeout=60)

    def failed_create() -> bool:
        events = k.json("get", "events", "-n", NS, "--field-selector", "involvedObject.name=web")["items"]
        return any(e["type"] == "Warning" and e["reason"] == "FailedCreate" and e["message"] ==
                   "create Pod web-2 in StatefulSet web failed error: pvc data-web-2 is being deleted" for e in events)

    wait_for("FailedCreate event", failed_create)
    time.sleep(0.2)
    assert "web-2" not in pods(c)
    rec.events.clear()
    claim = c.store.get("persistentvolumeclaims", NS, "data-web-2").obj()
    keep = [f for f in claim["metadata"].get("finalizers") or [] if f != hold]
    k("patch", "pvc", "data-web-2", "-n", NS, "--type=merge", "-p", json.dumps({"metadata": {"finalizers": keep}}))
    wait_for("web-2 back", lambda: all_ready(c, 3), timeout=90)
    new_claim = c.store.get("persistentvolumeclaims", NS, "data-web-2").obj()
    assert new_claim["metadata"]["uid"] != old_uid
    order = [(t, key, name) for t, key, name in rec.events if name.endswith("web-2")]
    assert order.index(("DELETED", "persistentvolumeclaims", "data-web-2")) < \
        order.index(("ADDED", "persistentvolumeclaims", "data-web-2")) < order.index(("ADDED", "pods", "web-2"))


RETAINED = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Delete}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: db, image: registry.k8s.io/nginx-slim:0.27}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_9_parallel_and_when_scaled_delete(world):
    """ST-11 + ST-22: Parallel creates without waiting; whenScaled=Delete removes the condemned pet's claim."""
    c, k, rec = world
    rec.events.clear()
    k("apply", "-n", NS, "-f", "-", input=RETAINED)

    def db_ready(n: int) -> bool:
        e = c.store.get("apps/statefulsets", NS, "db")
        st = (e.obj().get("status") or {}) if e else {}
        live = [p for name, p in pods(c).items() if name.startswith("db-")]
        return st.get("readyReplicas") == n and st.get("replicas") == n and len(live) == n

    wait_for("3 db pets", lambda: db_ready(3))
    assert sorted(rec.names("ADDED", "pods")) == ["db-0", "db-1", "db-2"]
    k("scale", "sts/db", "-n", NS, "--replicas=1")
    wait_for("db scaled to 1", lambda: db_ready(1))
    wait_for("condemned claims collected", lambda: {e.name for e in c.store.list("persistentvolumeclaims", NS)[0]
                                                   if e.name.startswith("data-db-")} == {"data-db-0"})
    owners = c.store.get("persistentvolumeclaims", NS, "data-db-0").obj()["metadata"].get("ownerReferences")
    assert not owners  # in range: no pod ref; whenDeleted=Retain: no set ref
    k("delete", "sts", "db", "-n", NS)
    wait_for("db pods gone", lambda: not [n for n in pods(c) if n.startswith("db-")])
    assert c.store.get("persistentvolumeclaims", NS, "data-db-0") is not None  # whenDeleted=Retain
