"""NodeRuntime driven directly: volumes on disk, shell containers, workload processes, exec, logs.

The API objects live in a real (not started) kubesim store, so volumes and env
are read exactly as the kubelet would read them.
"""

from __future__ import annotations

import base64
import json
import os
import textwrap
import time
import urllib.request

import pytest

from kubesim import storage
from kubesim.api import Request
from kubesim.cluster import Cluster
from kubesim.runtime import VolumeError
from kubesim.runtime.dns import ClusterDNS
from kubesim.runtime.node import NodeRuntime

NODE = "node-a"


@pytest.fixture
def cluster(tmp_path):
    c = Cluster("rt", state_dir=str(tmp_path / "state"))
    api = c.api
    for ns in ("default", "kube-system"):
        api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                   Request(field_manager="test"))
    c.ctx.workloads["echo-http"] = str(tmp_path / "echo_http.py")
    (tmp_path / "echo_http.py").write_text(ECHO_HTTP)
    yield c
    for rt in list(c.ctx.extra.get("runtimes", {}).values()):
        rt.kill_all()
    c.store.close()


@pytest.fixture
def runtime(cluster):
    rt = NodeRuntime(cluster.ctx, NODE)
    cluster.ctx.extra.setdefault("runtimes", {})[NODE] = rt
    return rt


ECHO_HTTP = textwrap.dedent('''
    import http.server, json, os, signal, sys
    port = int(os.environ["KUBESIM_PORT_8080"])
    data = json.loads(os.environ["KUBESIM_MOUNTS"])["/data"]

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"host": os.environ["HOSTNAME"], "path": self.path, "args": sys.argv[1:]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            n = int(self.headers.get("Content-Length") or 0)
            with open(os.path.join(data, self.path.strip("/")), "wb") as f:
                f.write(self.rfile.read(n))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            print("request", self.path, flush=True)

    srv = http.server.HTTPServer(("127.0.0.1", port), H)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("listening", flush=True)
    srv.serve_forever()
''')


def create(cluster, key, obj, ns="default"):
    api = cluster.api
    return api.create(api.rt(key), ns if api.rt(key).namespaced else None, obj, Request(field_manager="test"))


def bound_claim(cluster, claim="data-web-0", pv_name="pv-1", handle="vol-123"):
    create(cluster, "persistentvolumes", {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": handle}}})
    create(cluster, "persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "volumeName": pv_name, "storageClassName": ""}})
    api = cluster.api
    api.update_status(api.rt("persistentvolumeclaims"), "default", claim,
                      lambda cur: {**cur, "status": {"phase": "Bound"}}, manager="test")
    # The pod here is not in the API, so no controller attaches the volume: do what it would.
    from kubesim.controllers.attachdetach import attachment_name

    va = attachment_name(handle, "ebs.csi.aws.com", NODE)
    if api.store.get("storage.k8s.io/volumeattachments", "", va) is None:
        create(cluster, "storage.k8s.io/volumeattachments", {
            "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": va},
            "spec": {"attacher": "ebs.csi.aws.com", "nodeName": NODE,
                     "source": {"persistentVolumeName": pv_name}}})
        api.update_status(api.rt("storage.k8s.io/volumeattachments"), None, va,
                          lambda cur: {**cur, "status": {"attached": True}}, manager="test")


def pod(name="web-0", containers=None, volumes=None, annotations=None, **spec):
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "annotations": annotations or {}},
            "spec": {"nodeName": NODE, "containers": containers or [{"name": "c", "image": "busybox"}],
                     "volumes": volumes or [], **spec},
            "status": {"podIP": "10.244.0.7", "hostIP": "10.0.1.10"}}
    return body


def wait_state(rt, uid, name, want="terminated", timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = rt.container_state(uid, name)
        if st is not None and st.state == want:
            return st
        time.sleep(0.02)
    raise AssertionError(f"container {name} not {want}: {rt.container_state(uid, name)}")


# -- volumes ---------------------------------------------------------------------------------
def test_configmap_secret_downward_volumes_are_materialized(cluster, runtime):
    create(cluster, "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                   "data": {"app.conf": "x=1\n", "other": "y"}})
    create(cluster, "secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
                                "data": {"password": base64.b64encode(b"s3cret").decode()}})
    p = pod(containers=[{"name": "c", "image": "busybox", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app"}, {"name": "sec", "mountPath": "/secrets"},
        {"name": "info", "mountPath": "/info"}, {"name": "one", "mountPath": "/one"}]}],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}},
                 {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
                 {"name": "info", "downwardAPI": {"items": [
                     {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                 {"name": "one", "configMap": {"name": "cfg", "items": [{"key": "other", "path": "sub/o.txt"}]}}])
    runtime.prepare_pod(p)
    runtime.start_container(p, p["spec"]["containers"][0])
    res = runtime.exec(p, "c", ["sh", "-c", "cat /etc/app/app.conf /secrets/password; echo; cat /info/name; "
                                            "echo; cat /one/sub/o.txt; echo; ls /one"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout == b"x=1\ns3cret\nweb-0\ny\nsub\n"
    # ConfigMap volumes are read-only, as upstream mounts them.
    res = runtime.exec(p, "c", ["sh", "-c", "echo no > /etc/app/app.conf"])
    assert res.exit_code == 1
    assert b"Read-only file system" in res.stderr


def test_missing_configmap_is_a_failed_mount_unless_optional(cluster, runtime):
    p = pod(volumes=[{"name": "cfg", "configMap": {"name": "nope"}}])
    with pytest.raises(VolumeError) as err:
        runtime.prepare_pod(p)
    assert err.value.reason == "FailedMount"
    assert err.value.message == 'MountVolume.SetUp failed for volume "cfg" : configmap "nope" not found'
    p = pod(volumes=[{"name": "cfg", "configMap": {"name": "nope", "optional": True}}])
    runtime.prepare_pod(p)
    p = pod(volumes=[{"name": "s", "secret": {"secretName": "gone"}}])
    with pytest.raises(VolumeError, match='MountVolume.SetUp failed for volume "s" : secret "gone" not found'):
        runtime.prepare_pod(p)


def test_unbound_claim_is_a_failed_mount(cluster, runtime):
    create(cluster, "persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-web-0"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    p = pod(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}])
    with pytest.raises(VolumeError, match=r'PVC default/data-web-0 has non-bound phase \("Pending"\)'):
        runtime.prepare_pod(p)


def test_pvc_writes_land_in_the_pv_directory_and_survive_the_pod(cluster, runtime):
    bound_claim(cluster)
    c = {"name": "c", "image": "busybox", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    p = pod(containers=[c], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                                     {"name": "scratch", "emptyDir": {}}])
    runtime.prepare_pod(p)
    runtime.start_container(p, c)
    res = runtime.exec(p, "c", ["sh", "-c", "echo hello > /data/x; mkdir -p /data/d && echo 1 >> /data/d/log; "
                                            "echo private > /tmp/p; cat ../../data/x"])
    assert (res.exit_code, res.stdout) == (0, b"hello\n"), res.stderr
    pv_dir = storage.volume_dir(cluster.state_root, cluster.api.get(cluster.api.rt("persistentvolumes"), None, "pv-1"))
    assert open(os.path.join(pv_dir, "x")).read() == "hello\n"
    assert open(os.path.join(pv_dir, "d", "log")).read() == "1\n"
    assert not os.path.exists(os.path.join(pv_dir, "tmp"))
    runtime.stop_container("uid-web-0", "c", 0)
    runtime.remove_pod("uid-web-0")
    assert not os.path.exists(storage.pod_dir(cluster.state_root, NODE, "uid-web-0"))
    assert open(os.path.join(pv_dir, "x")).read() == "hello\n"  # PV data outlives the pod


def test_restart_gets_a_fresh_root_but_keeps_emptydir(cluster, runtime):
    c = {"name": "c", "image": "busybox", "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}
    p = pod(containers=[c], volumes=[{"name": "cache", "emptyDir": {}}])
    runtime.prepare_pod(p)
    runtime.start_container(p, c)
    runtime.exec(p, "c", ["sh", "-c", "echo a > /cache/f; echo b > /root/f"])
    runtime.stop_container("uid-web-0", "c", 0)
    runtime.start_container(p, c)
    res = runtime.exec(p, "c", ["sh", "-c", "cat /cache/f; cat /root/f"])
    assert res.stdout == b"a\n"
    assert b"can't open '/root/f': No such file or directory" in res.stderr


def test_root_is_built_on_first_use_from_the_pod_at_start(cluster, runtime):
    c = {"name": "c", "image": "busybox"}
    p = pod(containers=[c])
    runtime.prepare_pod(p)
    runtime.start_container(p, c)
    root = os.path.join(storage.pod_dir(cluster.state_root, NODE, "uid-web-0"), "containers", "c", "rootfs")
    assert not os.path.exists(root)  # a simulated container nobody looks at has no writable layer
    runtime.exec(p, "c", ["sh", "-c", "echo kept > /root/f"])
    assert open(os.path.join(root, "etc", "hostname")).read() == "web-0\n"
    assert "10.244.0.7\tweb-0" in open(os.path.join(root, "etc", "hosts")).read()
    # A new instance that is never used still does not see the old layer once something looks.
    runtime.stop_container("uid-web-0", "c", 0)
    runtime.start_container(p, c)
    runtime.stop_container("uid-web-0", "c", 0)
    runtime.start_container(p, c)
    res = runtime.exec(p, "c", ["sh", "-c", "cat /root/f; cat /etc/hostname"])
    assert res.stdout == b"web-0\n"
    assert b"can't open '/root/f': No such file or directory" in res.stderr


# -- containers ------------------------------------------------------------------------------
def test_shell_container_exits_with_its_code_and_logs(cluster, runtime):
    c = {"name": "job", "image": "busybox", "command": ["sh", "-c", "echo hi && echo oops >&2 && exit 3"]}
    p = pod(containers=[c])
    runtime.prepare_pod(p)
    st = runtime.start_container(p, c)
    assert st.state == "running" and st.container_id.startswith("containerd://")
    st = wait_state(runtime, "uid-web-0", "job")
    assert (st.exit_code, st.reason) == (3, "Error")
    lines = runtime.logs("uid-web-0", "job")
    assert [(x.stream, x.text) for x in lines] == [("stdout", "hi"), ("stderr", "oops")]


def test_shell_container_success_and_previous_logs(cluster, runtime):
    c = {"name": "job", "image": "busybox", "command": ["echo"], "args": ["run", "$(GREETING)"],
         "env": [{"name": "GREETING", "value": "hello"}]}
    p = pod(containers=[c])
    runtime.start_container(p, c)
    st = wait_state(runtime, "uid-web-0", "job")
    assert (st.exit_code, st.reason) == (0, "Completed")
    runtime.start_container(p, c)
    wait_state(runtime, "uid-web-0", "job")
    assert [x.text for x in runtime.logs("uid-web-0", "job", previous=True)] == ["run hello"]


def test_sleep_is_interruptible_by_stop(cluster, runtime):
    c = {"name": "s", "image": "busybox", "command": ["sleep", "3600"]}
    p = pod(containers=[c])
    runtime.start_container(p, c)
    time.sleep(0.1)
    assert runtime.container_state("uid-web-0", "s").state == "running"
    t0 = time.monotonic()
    runtime.stop_container("uid-web-0", "s", 30)
    st = wait_state(runtime, "uid-web-0", "s", timeout=2)
    assert time.monotonic() - t0 < 2
    assert st.exit_code == 143


def test_unknown_command_is_simulated(cluster, runtime):
    c = {"name": "nginx", "image": "nginx", "command": ["nginx", "-g", "daemon off;"]}
    p = pod(containers=[c])
    runtime.start_container(p, c)
    time.sleep(0.1)
    assert runtime.container_state("uid-web-0", "nginx").state == "running"
    runtime.stop_container("uid-web-0", "nginx", 5)
    st = runtime.container_state("uid-web-0", "nginx")
    assert (st.state, st.exit_code) == ("terminated", 0)
    runtime.start_container(p, c)
    runtime.stop_container("uid-web-0", "nginx", 0)
    assert runtime.container_state("uid-web-0", "nginx").exit_code == 137


def test_missing_env_configmap_is_a_config_error(cluster, runtime):
    c = {"name": "c", "image": "busybox",
         "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}
    st = runtime.start_container(pod(containers=[c]), c)
    assert (st.state, st.reason, st.message) == ("waiting", "CreateContainerConfigError", 'configmap "nope" not found')


def test_env_field_refs_and_hostname(cluster, runtime):
    c = {"name": "c", "image": "busybox", "env": [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
    p = pod(containers=[c], hostname="web-0", subdomain="nginx")
    runtime.start_container(p, c)
    res = runtime.exec(p, "c", ["sh", "-c", "echo $POD $IP $NODE $HOSTNAME; hostname; hostname -f; cat /etc/hostname"])
    assert res.stdout.decode().splitlines() == [
        "web-0 10.244.0.7 node-a web-0", "web-0", "web-0.nginx.default.svc.cluster.local", "web-0"]


def test_exec_timeout_raises(cluster, runtime):
    c = {"name": "c", "image": "busybox"}
    p = pod(containers=[c])
    runtime.start_container(p, c)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match='command "sleep 10" timed out'):
        runtime.exec(p, "c", ["sleep", "10"], timeout=0.2)
    assert time.monotonic() - t0 < 2


# -- workload processes ----------------------------------------------------------------------
def test_workload_process_serves_http_on_its_port_and_writes_its_volume(cluster, runtime):
    bound_claim(cluster)
    c = {"name": "app", "image": "python:3.12", "command": ["python", "/app/echo_http.py"], "args": ["--shard", "0"],
         "ports": [{"containerPort": 8080}], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    p = pod(containers=[c], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}}],
            annotations={"kubesim.io/workload": "echo-http"})
    runtime.prepare_pod(p)
    st = runtime.start_container(p, c)
    assert st.process is True
    ep = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ep = runtime.endpoint("uid-web-0", 8080)
        if ep is not None and any(x.text == "listening" for x in runtime.logs("uid-web-0", "app")):
            break
        time.sleep(0.05)
    assert ep is not None and ep.host == "127.0.0.1" and ep.port != 8080
    assert runtime.endpoint("uid-web-0", 9999) is None
    body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{ep.port}/hello", timeout=5).read())
    assert body == {"host": "web-0", "path": "/hello", "args": ["--shard", "0"]}
    req = urllib.request.Request(f"http://127.0.0.1:{ep.port}/k1", data=b"v1", method="PUT")
    urllib.request.urlopen(req, timeout=5)
    pv_dir = storage.volume_dir(cluster.state_root, cluster.api.get(cluster.api.rt("persistentvolumes"), None, "pv-1"))
    assert open(os.path.join(pv_dir, "k1"), "rb").read() == b"v1"
    # exec sees what the process wrote, through the same mount
    assert runtime.exec(p, "app", ["cat", "/data/k1"]).stdout == b"v1"
    runtime.stop_container("uid-web-0", "app", 5)
    st = wait_state(runtime, "uid-web-0", "app")
    assert (st.exit_code, st.reason) == (0, "Completed")
    assert runtime.endpoint("uid-web-0", 8080) is None
    assert any(x.text == "request /hello" for x in runtime.logs("uid-web-0", "app"))


def test_workload_that_ignores_sigterm_is_killed_after_grace(cluster, runtime, tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                      "time.sleep(60)\n")
    cluster.ctx.workloads["stubborn"] = str(script)
    c = {"name": "app", "image": "python:3.12"}
    p = pod(containers=[c], annotations={"kubesim.io/workload": "app=stubborn"})
    runtime.start_container(p, c)
    deadline = time.monotonic() + 10
    while not runtime.logs("uid-web-0", "app") and time.monotonic() < deadline:
        time.sleep(0.05)
    runtime.stop_container("uid-web-0", "app", 0.3)
    time.sleep(0.1)
    assert runtime.container_state("uid-web-0", "app").state == "running"
    st = wait_state(runtime, "uid-web-0", "app", timeout=5)
    assert (st.exit_code, st.reason) == (137, "Error")


def test_kill_all_stops_everything(cluster, runtime):
    c1 = {"name": "a", "image": "busybox", "command": ["sleep", "100"]}
    c2 = {"name": "b", "image": "nginx"}
    p = pod(containers=[c1, c2])
    runtime.start_container(p, c1)
    runtime.start_container(p, c2)
    runtime.kill_all()
    assert wait_state(runtime, "uid-web-0", "a").exit_code == 137
    assert wait_state(runtime, "uid-web-0", "b").exit_code == 137


# -- DNS -------------------------------------------------------------------------------------
def test_cluster_dns_names(cluster, runtime):
    create(cluster, "services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx"},
                                 "spec": {"clusterIP": "None", "selector": {"app": "nginx"},
                                          "ports": [{"port": 80}]}})
    create(cluster, "services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes"},
                                 "spec": {"ports": [{"port": 443}]}})
    create(cluster, "endpoints", {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "nginx"},
                                  "subsets": [{"addresses": [{"ip": "10.244.0.7", "hostname": "web-0"},
                                                             {"ip": "10.244.1.3", "hostname": "web-1"}],
                                               "ports": [{"port": 80}]}]})
    kube_ip = cluster.api.get(cluster.api.rt("services"), "default", "kubernetes")["spec"]["clusterIP"]
    c = {"name": "c", "image": "busybox"}
    p = pod(containers=[c])
    runtime.start_container(p, c)

    def run(cmd):
        res = runtime.exec(p, "c", ["sh", "-c", cmd])
        return res.exit_code, res.stdout.decode()

    assert run("getent hosts web-1.nginx") == (0, "10.244.1.3      web-1.nginx.default.svc.cluster.local\n")
    assert run("getent hosts nginx")[1].split("\n")[:2] == [
        "10.244.0.7      nginx.default.svc.cluster.local", "10.244.1.3      nginx.default.svc.cluster.local"]
    assert run("getent hosts kubernetes.default")[1] == f"{kube_ip:<15} kubernetes.default.svc.cluster.local\n"
    assert run("getent hosts nope")[0] == 2
    code, out = run("nslookup web-0.nginx.default.svc.cluster.local")
    assert code == 0 and "Name:\tweb-0.nginx.default.svc.cluster.local\nAddress: 10.244.0.7\n" in out
    code, out = run("nslookup nothere")
    assert code == 1 and "** server can't find nothere: NXDOMAIN" in out
    # pluggable: another resolver (federation's clusterset names) is consulted too
    fqdn = "db.default.svc.clusterset.local"
    cluster.ctx.extra["dns_resolvers"].append(lambda n: ["10.9.9.9"] if n == fqdn else None)
    assert run(f"getent hosts {fqdn}") == (0, f"10.9.9.9        {fqdn}\n")
    assert isinstance(cluster.ctx.extra["dns_resolvers"][0], ClusterDNS)
