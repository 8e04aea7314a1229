"""Deployments, ReplicaSets, DaemonSets, Jobs and CronJobs end to end, through real kubectl and the official client.

One kubesim cluster (3 zones x 1 node, profile ``instant``) on 127.0.0.1:0 for the
module, a namespace per test. When the cluster has no running kubelet yet,
``FakeNodes`` stands in for it: it binds unscheduled pods and writes pod status
through the API's status path (Running and Ready; ``sh -c 'exit N'`` containers of
Job pods finish with that code), and finishes deleted pods. With the real
kubelet present it does nothing.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from kubesim import clock
from kubesim.api import DeleteOptions
from kubesim.cluster import Cluster, NodeSpec
from kubesim.errors import ApiError
from kubesim.testing import Kubectl, running_cluster, eventually


class FakeNodes:
    """A stand-in for scheduler + kubelet, used only while the cluster has no kubelet of its own."""

    def __init__(self, cluster: Cluster, period: float = 0.02) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-nodes", daemon=True)

    @staticmethod
    def needed(cluster: Cluster) -> bool:
        return not any(agent is not None for agent in cluster.kubelets.values())

    def start(self) -> "FakeNodes":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a racing write is retried on the next tick
                pass
            time.sleep(self.period)

    def tick(self) -> None:
        from kubesim.controllers.daemonset import target_node
        from kubesim.scheduler.binding import bind_pod

        api = self.api
        rt = api.rt("pods")
        nodes = sorted(e.name for e in api.store.list("nodes")[0])
        for i, e in enumerate(api.store.list("pods")[0]):
            p = e.obj()
            meta, st = p["metadata"], p.get("status") or {}
            ns, name = meta["namespace"], meta["name"]
            if meta.get("deletionTimestamp"):
                if not meta.get("finalizers"):
                    try:
                        api.delete(rt, ns, name, DeleteOptions(grace_period=0))
                    except ApiError:
                        pass
                elif st.get("phase") not in ("Succeeded", "Failed"):
                    api.update_status(rt, ns, name, lambda cur: {**cur, "status": {**cur["status"],
                                                                                    "phase": "Failed"}},
                                      manager="kubelet")
                continue
            if not p["spec"].get("nodeName"):
                if nodes:
                    try:
                        bind_pod(api, ns, name, target_node(p) or nodes[i % len(nodes)])
                    except ApiError:
                        pass
                continue
            if st.get("phase") != "Pending":
                continue
            self._start(p)

    def _start(self, p: dict[str, Any]) -> None:
        now = clock.rfc3339()
        c0 = p["spec"]["containers"][0]
        argv = (c0.get("command") or []) + (c0.get("args") or [])
        code = None
        if p["spec"].get("restartPolicy") in ("Never", "OnFailure") and argv:
            text = " ".join(argv)
            code = int(text.rsplit("exit", 1)[1].strip() or 0) if "exit" in text else 0

        def upd(cur: dict[str, Any]) -> dict[str, Any]:
            s = cur.setdefault("status", {})
            s["startTime"] = now
            if code is None:
                s["phase"] = "Running"
                s["conditions"] = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                                   for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
                s["containerStatuses"] = [{"name": c0["name"], "image": c0["image"], "imageID": "", "ready": True,
                                           "restartCount": 0, "started": True, "state": {"running": {"startedAt": now}}}]
            else:
                s["phase"] = "Succeeded" if code == 0 else "Failed"
                s["conditions"] = [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastProbeTime": None,
                                    "lastTransitionTime": now}]
                s["containerStatuses"] = [{"name": c0["name"], "image": c0["image"], "imageID": "", "ready": False,
                                           "restartCount": 0, "started": False,
                                           "state": {"terminated": {"exitCode": code,
                                                                    "reason": "Completed" if code == 0 else "Error",
                                                                    "startedAt": now, "finishedAt": now}}}]
            return cur

        self.api.update_status(self.api.rt("pods"), p["metadata"]["namespace"], p["metadata"]["name"], upd,
                               manager="kubelet")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(str(tmp_path_factory.mktemp("kubesim-workloads")), profile="instant", seed=7) as c:
        fake = FakeNodes(c).start() if FakeNodes.needed(c) else None
        try:
            yield c
        finally:
            if fake is not None:
                fake.stop()


@pytest.fixture
def k(kubectl: Kubectl, namespace: str) -> Callable[..., str]:
    def run(*args: str, **kw: Any) -> str:
        return kubectl("-n", namespace, *args, **kw)

    return run


def wait_for(fn: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    return eventually(what, fn, timeout=timeout)


def events(k: Callable[..., str], kind: str | None = None, name: str | None = None) -> list[tuple[str, str, str]]:
    items = json.loads(k("get", "events", "-o", "json"))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items
            if (kind is None or e["involvedObject"]["kind"] == kind)
            and (name is None or e["involvedObject"]["name"] == name)]


def get(k: Callable[..., str], *what: str) -> Any:
    return json.loads(k("get", *what, "-o", "json"))


# -- Deployments --------------------------------------------------------------------------

def test_deployment_rollout_set_image_undo_scale(k):
    k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
    out = k("rollout", "status", "deploy/web", "--timeout=30s")
    assert 'deployment "web" successfully rolled out' in out
    rss = get(k, "rs")["items"]
    assert len(rss) == 1
    rs1 = rss[0]["metadata"]["name"]
    h1 = rss[0]["metadata"]["labels"]["pod-template-hash"]
    assert rs1 == f"web-{h1}" and set(h1) <= set("456789bcdf")
    assert rss[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = get(k, "pods", "-l", "app=web")["items"]
    assert len(pods) == 3 and all(p["metadata"]["name"].startswith(rs1 + "-") for p in pods)
    assert all(len(p["metadata"]["name"]) == len(rs1) + 6 for p in pods)
    ev = events(k)
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set {rs1} to 3 from 0") in ev
    assert any(e[:2] == ("Normal", "SuccessfulCreate") and e[2].startswith(f"Created pod: {rs1}-") for e in ev)
    d = get(k, "deploy", "web")
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert st["observedGeneration"] == d["metadata"]["generation"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == f'ReplicaSet "{rs1}" has successfully progressed.'

    k("set", "image", "deploy/web", "nginx=nginx:1.26")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=30s")
    rss = {r["metadata"]["name"]: r for r in get(k, "rs")["items"]}
    assert len(rss) == 2 and rss[rs1]["spec"]["replicas"] == 0
    rs2 = next(n for n in rss if n != rs1)
    assert rss[rs2]["spec"]["replicas"] == 3
    assert rss[rs2]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    ev = events(k, "Deployment", "web")
    assert ("Normal", "ScalingReplicaSet", f"Scaled down replica set {rs1} to 0 from 1") in ev
    wait_for(lambda: len(get(k, "pods", "-l", "app=web")["items"]) == 3, what="old pods gone")
    history = k("rollout", "history", "deploy/web")
    assert "REVISION" in history and "\n1 " in history and "\n2 " in history

    k("rollout", "undo", "deploy/web")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=30s")
    d = get(k, "deploy", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    rss = {r["metadata"]["name"]: r for r in get(k, "rs")["items"]}
    assert rss[rs1]["spec"]["replicas"] == 3 and rss[rs2]["spec"]["replicas"] == 0
    assert rss[rs1]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"

    k("scale", "deploy/web", "--replicas=5")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=30s")
    assert get(k, "deploy", "web")["status"]["availableReplicas"] == 5
    assert ("Normal", "ScalingReplicaSet", f"Scaled up replica set {rs1} to 5 from 3") in events(k, "Deployment")


def test_deployment_pause_resume_and_recreate(k):
    k("create", "deployment", "api", "--image=nginx:1.25", "--replicas=2")
    k("rollout", "status", "deploy/api", "--timeout=30s")
    k("rollout", "pause", "deploy/api")
    k("set", "image", "deploy/api", "nginx=nginx:1.27")
    cond = wait_for(lambda: next((c for c in get(k, "deploy", "api")["status"].get("conditions", [])
                                  if c["type"] == "Progressing" and c["reason"] == "DeploymentPaused"), None),
                    what="paused condition")
    assert (cond["status"], cond["message"]) == ("Unknown", "Deployment is paused")
    time.sleep(0.3)
    assert len(get(k, "rs")["items"]) == 1
    k("rollout", "resume", "deploy/api")
    assert "successfully rolled out" in k("rollout", "status", "deploy/api", "--timeout=30s")
    assert len(get(k, "rs")["items"]) == 2
    # Recreate: the old ReplicaSet reaches 0 before the new one is scaled up.
    k("patch", "deploy/api", "--type=merge", "-p",
      '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}')
    k("set", "image", "deploy/api", "nginx=nginx:1.28")
    assert "successfully rolled out" in k("rollout", "status", "deploy/api", "--timeout=30s")
    scaling = [m for t, r, m in events(k, "Deployment", "api") if r == "ScalingReplicaSet"]
    down = next(i for i, m in enumerate(scaling) if m.endswith("to 0 from 2") and "Scaled down" in m)
    up = next(i for i, m in enumerate(scaling) if "1.28" not in m and i > down and "Scaled up" in m)
    assert down < up


# -- ReplicaSet and ReplicationController ---------------------------------------------------

def test_replicaset_and_replication_controller(k, client, namespace):
    from kubernetes import client as kc

    apps = kc.AppsV1Api(client)
    core = kc.CoreV1Api(client)
    apps.create_namespaced_replica_set(namespace, {
        "metadata": {"name": "front"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"tier": "front"}},
                 "template": {"metadata": {"labels": {"tier": "front"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    wait_for(lambda: (apps.read_namespaced_replica_set("front", namespace).status.ready_replicas or 0) == 2,
             what="rs ready")
    core.create_namespaced_replication_controller(namespace, {
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 1, "selector": {"app": "legacy"},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    k("scale", "rc/legacy", "--replicas=3")
    wait_for(lambda: (core.read_namespaced_replication_controller("legacy", namespace).status.ready_replicas
                      or 0) == 3, what="rc scaled")
    pods = core.list_namespaced_pod(namespace, label_selector="app=legacy").items
    assert all(p.metadata.name.startswith("legacy-") and p.metadata.owner_references[0].kind ==
               "ReplicationController" for p in pods)
    k("scale", "rs/front", "--replicas=1")
    wait_for(lambda: len([p for p in core.list_namespaced_pod(namespace, label_selector="tier=front").items
                          if not p.metadata.deletion_timestamp]) == 1, what="rs scaled down")
    assert any(r == "SuccessfulDelete" for _, r, _ in events(k, "ReplicaSet", "front"))
    # A deleted pod is replaced.
    victim = core.list_namespaced_pod(namespace, label_selector="app=legacy").items[0].metadata.name
    k("delete", "pod", victim, "--wait=false")
    wait_for(lambda: len([p for p in core.list_namespaced_pod(namespace, label_selector="app=legacy").items
                          if p.metadata.name != victim and not p.metadata.deletion_timestamp]) == 3,
             what="replacement pod")


# -- DaemonSets ----------------------------------------------------------------------------

DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox:1.36}]
"""


def test_daemonset_one_pod_per_node_follows_nodes(k, cluster, kubectl):
    k("apply", "-f", "-", input=DS)
    assert 'daemon set "agent" successfully rolled out' in k("rollout", "status", "ds/agent", "--timeout=30s")

    def by_node() -> dict[str, str]:
        return {p["spec"]["nodeName"]: p["metadata"]["name"] for p in get(k, "pods", "-l", "app=agent")["items"]
                if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")}

    nodes = {n["metadata"]["name"] for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]}
    placed = wait_for(lambda: by_node() if set(by_node()) == nodes else None, what="a pod per node")
    pod = get(k, "pod", next(iter(placed.values())))
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchFields"][0]["key"] == "metadata.name"
    tols = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tols
    assert pod["metadata"]["labels"]["controller-revision-hash"]
    st = get(k, "ds", "agent")["status"]
    assert st["desiredNumberScheduled"] == st["numberReady"] == st["updatedNumberScheduled"] == len(nodes)
    revs = get(k, "controllerrevisions")["items"]
    assert len(revs) == 1 and revs[0]["metadata"]["name"].startswith("agent-")

    # A new node gets a pod; a node tainted NoExecute loses it.
    cluster.register_node(NodeSpec(name="us-east-1a-node-9", zone="us-east-1a", region="us-east-1",
                                   internal_ip="10.0.1.99", pod_cidr="10.244.99.0/24"))
    wait_for(lambda: "us-east-1a-node-9" in by_node(), what="pod on the new node")
    victim = sorted(nodes)[0]
    kubectl("taint", "nodes", victim, "dedicated=infra:NoExecute")
    try:
        wait_for(lambda: victim not in by_node(), what="pod gone from the tainted node")
        # Upstream both controllers act on an untolerated NoExecute taint: the taint eviction controller
        # deletes at once (TaintManagerEviction) and the DaemonSet controller deletes pods that should not
        # keep running (SuccessfulDelete) unless the pod is already terminating; whichever is first wins.
        wait_for(lambda: any(r == "SuccessfulDelete" for _, r, _ in events(k, "DaemonSet", "agent")) or
                 any(r == "TaintManagerEviction" for _, r, _ in events(k, "Pod")), what="the deletion's event")
    finally:
        kubectl("taint", "nodes", victim, "dedicated=infra:NoExecute-")
        cluster.api.delete(cluster.api.rt("nodes"), None, "us-east-1a-node-9")

    k("set", "image", "ds/agent", "agent=busybox:1.37")
    assert "successfully rolled out" in k("rollout", "status", "ds/agent", "--timeout=30s")
    assert len(get(k, "controllerrevisions")["items"]) == 2
    assert "REVISION" in k("rollout", "history", "ds/agent")


# -- Jobs and CronJobs ---------------------------------------------------------------------

JOBS = """
apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36, command: [sh, -c, "exit 0"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36, command: [sh, -c, "exit 1"]}]
"""


def test_jobs_complete_and_hit_backoff_limit(k):
    k("apply", "-f", "-", input=JOBS)
    assert "condition met" in k("wait", "--for=condition=complete", "job/ok", "--timeout=30s")
    ok = get(k, "job", "ok")
    assert ok["status"]["succeeded"] == 1 and ok["status"]["completionTime"]
    assert [c["type"] for c in ok["status"]["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert ok["status"]["uncountedTerminatedPods"] == {}
    pods = get(k, "pods", "-l", "job-name=ok")["items"]
    assert len(pods) == 1 and pods[0]["metadata"]["name"].startswith("ok-")
    assert pods[0]["status"]["phase"] == "Succeeded"
    assert "batch.kubernetes.io/job-tracking" not in (pods[0]["metadata"].get("finalizers") or [])
    assert ("Normal", "Completed", "Job completed") in events(k, "Job", "ok")
    assert any(e[1] == "SuccessfulCreate" and e[2] == f"Created pod: {pods[0]['metadata']['name']}"
               for e in events(k, "Job", "ok"))

    assert "condition met" in k("wait", "--for=condition=failed", "job/bad", "--timeout=30s")
    bad = get(k, "job", "bad")
    assert bad["status"]["failed"] == 2
    failed = next(c for c in bad["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                     "Job has reached the specified backoff limit")
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(k, "Job", "bad")
    assert len(get(k, "pods", "-l", "job-name=bad")["items"]) == 2


def test_cronjob_and_manual_job_from_it(k):
    k("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *", "--", "sh", "-c", "exit 0")
    cj = get(k, "cronjob", "tick")
    assert cj["spec"]["concurrencyPolicy"] == "Allow" and cj["spec"]["successfulJobsHistoryLimit"] == 3
    k("create", "job", "manual", "--from=cronjob/tick")
    assert "condition met" in k("wait", "--for=condition=complete", "job/manual", "--timeout=30s")
    job = get(k, "job", "manual")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    wait_for(lambda: any(r == "UnexpectedJob" for _, r, _ in events(k, "CronJob", "tick")), what="UnexpectedJob")
