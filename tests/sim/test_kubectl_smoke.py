"""kubectl smoke test: rollout status, wait, logs, exec and drain against a StatefulSet, with real kubectl.

A 3-zone cluster (2 nodes per zone, profile ``instant``) runs a 3-pet StatefulSet whose
container is a shell loop (``sh -c 'echo ...; sleep 3600'``, run by kubesim's exec shell, so
``kubectl logs`` has something to show) with a zonal volume per pet. Every command is the
environment's real kubectl (``kubesim.testing.Kubectl``) and is checked for its exit code and
the lines upstream kubectl prints.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from kubesim.testing import Kubectl, running_cluster, eventually

NS = "smoke"
MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: smoke}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: smoke, labels: {app: web}}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: smoke}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: [sh, -c, 'echo "pet $(hostname) serving"; echo "data in /data"; sleep 3600']
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    return eventually(what, pred, timeout=timeout, interval=interval)


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("smoke")
    with running_cluster(str(work), profile="instant", nodes_per_zone=2, seed=5) as c:
        kubectl = Kubectl(c.kubeconfig_path, str(work / "kcache"))  # type: ignore[attr-defined]
        out = kubectl("apply", "-f", "-", input=MANIFEST)
        assert "statefulset.apps/web created" in out
        yield kubectl


def test_rollout_status(k):
    out = k("rollout", "status", "sts/web", "-n", NS, "--timeout=60s", timeout=90)
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[-1] == "partitioned roll out complete: 3 new pods have been updated...", lines
    for line in lines[:-1]:
        assert line.startswith(("Waiting for ", "Waiting for statefulset spec update")), line
    row = k("get", "sts", "web", "-n", NS, "--no-headers").split()
    assert row[:2] == ["web", "3/3"]


def test_wait(k):
    out = k("wait", "--for=condition=Ready", "pod", "-l", "app=web", "-n", NS, "--timeout=30s", timeout=60)
    assert sorted(out.splitlines()) == [f"pod/web-{i} condition met" for i in range(3)]
    out = k("wait", "--for=jsonpath={.status.phase}=Bound", "pvc", "--all", "-n", NS, "--timeout=30s", timeout=60)
    assert sorted(out.splitlines()) == [f"persistentvolumeclaim/data-web-{i} condition met" for i in range(3)]
    # a condition that never comes: exit 1 with kubectl's timeout message
    proc = k.run("wait", "--for=condition=Ready=false", "pod/web-0", "-n", NS, "--timeout=1s", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: timed out waiting for the condition on pods/web-0", proc.stderr


def test_logs(k):
    wait_for(lambda: "pet web-1 serving" in k("logs", "web-1", "-n", NS), 10, "log line")
    assert k("logs", "web-1", "-n", NS) == "pet web-1 serving\ndata in /data\n"
    assert k("logs", "web-1", "-n", NS, "--tail=1") == "data in /data\n"
    out = k("logs", "sts/web", "-n", NS)  # kubectl picks the first pod of the set
    assert out.startswith("pet web-") and out.endswith("data in /data\n")
    proc = k.run("logs", "web-1", "-n", NS, "-c", "nope", check=False)
    assert proc.returncode == 1
    assert "container nope is not valid for pod web-1" in proc.stderr


def test_exec(k):
    assert k("exec", "web-0", "-n", NS, "--", "hostname") == "web-0\n"
    assert k("exec", "web-0", "-n", NS, "--", "sh", "-c", "echo kept > /data/f && cat /data/f") == "kept\n"
    proc = k.run("exec", "web-0", "-n", NS, "--", "sh", "-c", "echo to-stderr >&2; exit 3", check=False)
    assert proc.returncode == 3
    assert "to-stderr" in proc.stderr and "command terminated with exit code 3" in proc.stderr
    ip1 = k.json("get", "pod", "web-1", "-n", NS)["status"]["podIP"]
    wait_for(lambda: k.run("exec", "web-0", "-n", NS, "--", "getent", "hosts",
                           f"web-1.web.{NS}.svc.cluster.local", check=False).stdout.split()[:1] == [ip1],
             10, "pet DNS name")


def test_drain(k):
    pod = k.json("get", "pod", "web-0", "-n", NS)
    node, uid = pod["spec"]["nodeName"], pod["metadata"]["uid"]
    zone = k.json("get", "node", node)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    on_node = [p["metadata"]["name"] for p in k.json("get", "pods", "-n", NS, "--field-selector",
                                                     f"spec.nodeName={node}")["items"]]
    proc = k.run("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s", timeout=90,
                 check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert f"node/{node} cordoned" in text
    for name in on_node:
        assert f"evicting pod {NS}/{name}" in text and f"pod/{name} evicted" in text
    assert text.rstrip().endswith(f"node/{node} drained"), text
    assert k.json("get", "node", node)["spec"]["unschedulable"] is True
    row = k("get", "node", node, "--no-headers").split()
    assert row[1] == "Ready,SchedulingDisabled"

    # the pet comes back under its name, in its volume's zone, on the other node there, with its data
    def back() -> Any:
        p = k.json("get", "pod", "web-0", "-n", NS)
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
        return p if p["metadata"]["uid"] != uid and ready else None

    p = wait_for(back, 20, "web-0 back")
    assert p["spec"]["nodeName"] != node
    assert k.json("get", "node", p["spec"]["nodeName"])["metadata"]["labels"]["topology.kubernetes.io/zone"] == zone
    assert k("exec", "web-0", "-n", NS, "--", "cat", "/data/f") == "kept\n"
    k("rollout", "status", "sts/web", "-n", NS, "--timeout=30s", timeout=60)
    out = k("uncordon", node)
    assert out.strip() == f"node/{node} uncordoned"
    assert not k.json("get", "node", node)["spec"].get("unschedulable")
    evictions = [e for e in k.json("get", "events", "-n", NS, "--field-selector", "involvedObject.name=web-0")["items"]
                 if e["reason"] == "Killing"]
    assert evictions and evictions[0]["message"] == "Stopping container web"
    assert json.dumps(evictions[0]["source"]) == json.dumps({"component": "kubelet", "host": node})
