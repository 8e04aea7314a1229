"""End to end: exec, logs and the pod/service proxy through real kubectl and the official Python client.

One cluster (profile ``instant``, kubesim's own scheduler, kubelet and runtime)
serves a StatefulSet of shell pets with volumes, a workload process speaking
HTTP on its ``KUBESIM_PORT_8080``, and a few one-off pods. Every assertion
is on what a user sees: kubectl's output and exit code, the client's
exceptions and ``returncode``.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from typing import Any, Callable

import pytest
from kubernetes import client as k8s
from kubernetes import config
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from kubesim import storage
from kubesim.testing import Kubectl, running_cluster, eventually

NS = "exec"

ECHO_HTTP = textwrap.dedent('''
    import http.server, json, os, signal, sys
    port = int(os.environ["KUBESIM_PORT_8080"])

    class H(http.server.BaseHTTPRequestHandler):
        def answer(self, extra):
            body = json.dumps({"host": os.environ["HOSTNAME"], "method": self.command, "path": self.path,
                               "auth": self.headers.get("Authorization"), **extra}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.answer({})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.answer({"body": self.rfile.read(n).decode()})

        def log_message(self, fmt, *args):
            print("served", self.command, self.path, flush=True)

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("listening", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
''')

MANIFESTS = textwrap.dedent(f'''
    apiVersion: v1
    kind: Service
    metadata: {{name: nginx, namespace: {NS}}}
    spec:
      clusterIP: None
      selector: {{app: web}}
      ports: [{{port: 80, name: web}}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {{name: web, namespace: {NS}}}
    spec:
      serviceName: nginx
      replicas: 2
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: web
            image: nginx:1.27
            ports: [{{containerPort: 80, name: web}}]
            volumeMounts: [{{name: data, mountPath: /data}}]
      volumeClaimTemplates:
      - metadata: {{name: data}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gi}}}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {{name: echo, namespace: {NS}}}
    spec:
      selector: {{app: echo}}
      ports: [{{port: 80, targetPort: 8080, name: http}}]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: echo
      namespace: {NS}
      labels: {{app: echo}}
      annotations: {{kubesim.io/workload: echo-http}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: python:3.12-slim
        command: [python, /app/echo_http.py]
        ports: [{{containerPort: 8080}}]
        readinessProbe:
          httpGet: {{path: /ready, port: 8080}}
          periodSeconds: 1
    ---
    apiVersion: v1
    kind: Pod
    metadata: {{name: ticker, namespace: {NS}}}
    spec:
      restartPolicy: Never
      containers:
      - name: tick
        image: busybox
        command: [sh, -c, 'for i in 1 2 3; do echo line $i; sleep 0.4; done; echo bye >&2']
    ---
    apiVersion: v1
    kind: Pod
    metadata: {{name: two, namespace: {NS}}}
    spec:
      containers:
      - {{name: a, image: busybox, command: [sleep, "3600"]}}
      - {{name: b, image: busybox, command: [sleep, "3600"]}}
''')


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 30.0, every: float = 0.05) -> Any:
    return eventually(what, fn, timeout=timeout, interval=every, tolerate=(ApiException,))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("exec")
    script = d / "echo_http.py"
    script.write_text(ECHO_HTTP)
    with running_cluster(str(d), profile="instant", zones=["us-east-1a", "us-east-1b"],
                         workloads={"echo-http": str(script)}) as cluster:
        kubectl = Kubectl(cluster.kubeconfig_path, str(d / "cache"))  # type: ignore[attr-defined]
        api = config.new_client_from_config(config_file=cluster.kubeconfig_path)  # type: ignore[attr-defined]
        core = k8s.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NS}})
        kubectl("apply", "-f", "-", input=MANIFESTS)
        for name in ("web-0", "web-1", "echo", "two"):
            wait_for(f"{name} Ready", lambda n=name: any(
                c.type == "Ready" and c.status == "True"
                for c in core.read_namespaced_pod(n, NS).status.conditions or []))
        yield cluster, kubectl, core
        api.close()


def run(kubectl: Kubectl, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return kubectl.run("-n", NS, *args, input=input, check=False)


# -- exec through kubectl ----------------------------------------------------------------------
def test_kubectl_exec_writes_into_the_pets_volume(env):
    cluster, kubectl, core = env
    out = run(kubectl, "exec", "web-0", "--", "sh", "-c", "echo hi > /data/x; cat /data/x")
    assert (out.returncode, out.stdout, out.stderr) == (0, "hi\n", "")
    claim = core.read_namespaced_persistent_volume_claim("data-web-0", NS)
    pv = cluster.api.get(cluster.api.rt("persistentvolumes"), None, claim.spec.volume_name)
    with open(os.path.join(storage.volume_dir(cluster.state_root, pv), "x")) as f:
        assert f.read() == "hi\n"
    # the other pet has its own volume
    out = run(kubectl, "exec", "web-1", "--", "cat", "/data/x")
    assert out.returncode == 1
    assert out.stderr == "cat: can't open '/data/x': No such file or directory\ncommand terminated with exit code 1\n"


def test_kubectl_exec_exit_code_and_stderr(env):
    _, kubectl, _ = env
    out = run(kubectl, "exec", "web-0", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert out.returncode == 3
    assert out.stdout == "out\n"
    assert out.stderr == "err\ncommand terminated with exit code 3\n"


def test_kubectl_exec_stdin(env):
    _, kubectl, _ = env
    out = run(kubectl, "exec", "-i", "web-1", "--", "sh", "-c", "cat > /data/in; wc -l < /data/in; cat /data/in",
              input="alpha\nbeta\n")
    assert (out.returncode, out.stdout) == (0, "2\nalpha\nbeta\n"), out.stderr
    # a shell reading its commands from stdin
    out = run(kubectl, "exec", "-i", "web-1", "--", "sh", input="echo $HOSTNAME\nhostname -f\nexit 4\n")
    assert out.returncode == 4
    assert out.stdout == "web-1\nweb-1.nginx.exec.svc.cluster.local\n"


def test_kubectl_cp_both_ways(env, tmp_path):
    _, kubectl, _ = env
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "backup.txt").write_text("row 1\nrow 2\n")
    out = run(kubectl, "cp", str(tmp_path / "up"), "web-0:/data/restore")
    assert out.returncode == 0, out.stderr
    assert run(kubectl, "exec", "web-0", "--", "cat", "/data/restore/backup.txt").stdout == "row 1\nrow 2\n"
    out = run(kubectl, "cp", "web-0:/data/restore/backup.txt", str(tmp_path / "down.txt"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "down.txt").read_text() == "row 1\nrow 2\n"


def test_kubectl_exec_unknown_command_lists_what_is_supported(env):
    _, kubectl, _ = env
    out = run(kubectl, "exec", "web-0", "--", "nginx", "-s", "reload")
    assert out.returncode == 127
    assert out.stderr.startswith("sh: nginx: not found\nkubesim exec shell supports: ")
    assert "getent" in out.stderr


def test_exec_resolves_pet_and_service_names(env):
    _, kubectl, core = env
    ip0 = core.read_namespaced_pod("web-0", NS).status.pod_ip
    out = run(kubectl, "exec", "web-1", "--", "getent", "hosts", "web-0.nginx")
    assert (out.returncode, out.stdout) == (0, f"{ip0:<15} web-0.nginx.exec.svc.cluster.local\n"), out.stderr
    kube_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    out = run(kubectl, "exec", "web-1", "--", "sh", "-c", "nslookup kubernetes.default")
    assert out.returncode == 0 and f"Address: {kube_ip}" in out.stdout


def test_kubectl_exec_errors(env):
    cluster, kubectl, core = env
    core.create_namespaced_pod(NS, {"metadata": {"name": "nowhere"}, "spec": {
        "nodeSelector": {"no-such": "node"}, "containers": [{"name": "c", "image": "busybox"}]}})
    out = run(kubectl, "exec", "nowhere", "--", "ls")
    assert out.returncode == 1
    assert out.stderr.strip().endswith("pod nowhere does not have a host assigned"), out.stderr
    out = run(kubectl, "exec", "missing", "--", "ls")
    assert out.stderr.strip() == 'Error from server (NotFound): pods "missing" not found'
    # a container that is not running (its image cannot be pulled)
    cluster.faults.set_unavailable_images(["registry.example/broken:*"])
    core.create_namespaced_pod(NS, {"metadata": {"name": "broken"}, "spec": {
        "containers": [{"name": "c", "image": "registry.example/broken:1"}]}})
    wait_for("ImagePullBackOff", lambda: any(
        (s.state.waiting and s.state.waiting.reason in ("ErrImagePull", "ImagePullBackOff"))
        for s in core.read_namespaced_pod("broken", NS).status.container_statuses or []))
    out = run(kubectl, "exec", "broken", "--", "ls")
    assert out.returncode == 1
    assert out.stderr.strip() == 'error: Internal error occurred: unable to upgrade connection: container not found ' \
                                 '("c")'
    out = run(kubectl, "logs", "broken")
    assert out.returncode == 1
    assert 'container "c" in pod "broken" is waiting to start' in out.stderr


# -- exec through the Python client ------------------------------------------------------------
def test_python_stream_returncode_and_output(env):
    _, _, core = env
    resp = stream(core.connect_get_namespaced_pod_exec, "web-0", NS,
                  command=["sh", "-c", "echo out; echo err >&2; exit 3"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 3
    assert resp.read_stdout() == "out\n"
    assert resp.read_stderr() == "err\n"
    out = stream(core.connect_get_namespaced_pod_exec, "web-0", NS, command=["hostname"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "web-0\n"


def test_python_stream_stdin_with_v5_close(env):
    _, _, core = env
    resp = stream(core.connect_get_namespaced_pod_exec, "web-1", NS, command=["sh", "-c", "cat | wc -l"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    assert resp.subprotocol == "v5.channel.k8s.io"
    resp.write_stdin("a\nb\nc\n")
    resp.close_channel(0)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0
    assert resp.read_stdout() == "3\n"


def test_python_stream_tty_shell(env):
    _, _, core = env
    resp = stream(core.connect_get_namespaced_pod_exec, "web-0", NS, command=["sh"],
                  stderr=True, stdin=True, stdout=True, tty=True, _preload_content=False)
    resp.write_stdin("echo $((6 * 7))\r")
    resp.write_stdin("exit 5\r")
    resp.run_forever(timeout=10)
    assert resp.returncode == 5
    assert resp.read_stdout() == "/ # echo $((6 * 7))\r\n42\r\n/ # exit 5\r\n"


def test_python_stream_v4_only(env):
    _, _, core = env
    resp = stream(core.connect_get_namespaced_pod_exec, "web-0", NS, command=["sh", "-c", "echo v4; exit 2"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
                  _request_timeout=10, _headers={"sec-websocket-protocol": "v4.channel.k8s.io"})
    resp.run_forever(timeout=10)
    assert resp.subprotocol == "v4.channel.k8s.io"
    assert resp.returncode == 2
    assert resp.read_stdout() == "v4\n"


# -- logs --------------------------------------------------------------------------------------
def test_kubectl_logs_and_follow(env):
    _, kubectl, core = env
    proc = subprocess.run([kubectl.binary, "--cache-dir", kubectl.cache_dir, "-n", NS, "logs", "-f", "ticker"],
                          env=dict(os.environ, KUBECONFIG=kubectl.kubeconfig, HOME=kubectl.cache_dir),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "line 1\nline 2\nline 3\nbye\n"
    wait_for("ticker done", lambda: core.read_namespaced_pod("ticker", NS).status.phase == "Succeeded")
    out = run(kubectl, "logs", "ticker", "--tail=2")
    assert out.stdout == "line 3\nbye\n"
    out = run(kubectl, "logs", "ticker", "--timestamps", "--tail=1")
    stamp, text = out.stdout.rstrip("\n").split(" ", 1)
    assert text == "bye" and len(stamp) == len("2025-01-01T00:00:00.000000000Z") and stamp.endswith("Z")
    assert core.read_namespaced_pod_log("ticker", NS, limit_bytes=6) == "line 1"


def test_logs_previous_after_a_restart(env):
    _, kubectl, core = env
    core.create_namespaced_pod(NS, {"metadata": {"name": "crash"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo run at $(date +%s%N); exit 1"]}]}})
    wait_for("a restart", lambda: any((s.restart_count or 0) >= 1 for s in
                                      core.read_namespaced_pod("crash", NS).status.container_statuses or []))
    out = run(kubectl, "logs", "crash", "--previous")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("run at ") and out.stdout.count("\n") == 1


def test_logs_errors(env):
    _, _, core = env
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("two", NS)
    assert err.value.status == 400
    assert json.loads(err.value.body)["message"] == "a container name must be specified for pod two, choose one " \
                                                    "of: [a b]"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("two", NS, container="zzz")
    assert json.loads(err.value.body)["message"] == "container zzz is not valid for pod two"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("two", NS, container="a", previous=True)
    assert json.loads(err.value.body)["message"] == 'previous terminated container "a" in pod "two" not found'
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("two", NS, container="a", tail_lines=-1)
    assert err.value.status == 422
    assert json.loads(err.value.body)["message"] == 'PodLogOptions "two" is invalid: tailLines: Invalid value: -1: ' \
                                                    "must be greater than or equal to 0"


def test_workload_logs(env):
    _, kubectl, _ = env
    out = run(kubectl, "logs", "echo")
    assert out.stdout.startswith("listening\n")


# -- proxy -------------------------------------------------------------------------------------
def test_pod_proxy_reaches_the_workload(env):
    _, kubectl, _ = env
    out = kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/pods/echo:8080/proxy/hello?x=1")
    body = json.loads(out)
    assert body == {"host": "echo", "method": "GET", "path": "/hello?x=1", "auth": None}
    # no port: the first declared container port
    assert json.loads(kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/pods/echo/proxy/"))["path"] == "/"


def test_service_proxy_and_post_body(env):
    cluster, kubectl, core = env
    out = kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/services/echo:80/proxy/svc")
    assert json.loads(out)["path"] == "/svc"
    out = kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/services/echo:http/proxy/named")
    assert json.loads(out)["path"] == "/named"
    status, data, _ = raw(core.api_client, "POST", f"/api/v1/namespaces/{NS}/pods/echo:8080/proxy/write",
                          body={"k": "v"}, headers={"Content-Type": "application/json"})
    assert status == 200
    got = json.loads(data)
    assert (got["method"], got["path"], json.loads(got["body"])) == ("POST", "/write", {"k": "v"})
    # a redirect's Location is rewritten to stay under the proxy path (the client follows it)
    status, data, _ = raw(core.api_client, "GET", f"/api/v1/namespaces/{NS}/pods/echo:8080/proxy/redirect")
    assert (status, json.loads(data)["path"]) == (200, "/elsewhere")


def raw(api: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):
    """A request through the official client's transport (auth, TLS) to any path."""
    m, url, hdrs, b, _ = api.param_serialize(method, path, header_params=headers or {}, body=body,
                                             auth_settings=["BearerToken"])
    resp = api.call_api(m, url, header_params=hdrs, body=b)
    resp.read()
    return resp.status, resp.data, resp.getheaders()


def test_proxy_errors(env):
    cluster, kubectl, core = env
    ip0 = core.read_namespaced_pod("web-0", NS).status.pod_ip
    out = run(kubectl, "get", "--raw", f"/api/v1/namespaces/{NS}/pods/web-0:80/proxy/")
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error from server (ServiceUnavailable): error trying to reach service: " \
                                 f"dial tcp {ip0}:80: connect: connection refused"
    out = run(kubectl, "get", "--raw", f"/api/v1/namespaces/{NS}/services/echo:81/proxy/")
    assert 'no service port 81 found for service "echo"' in out.stderr
    node = core.read_namespaced_pod("echo", NS).spec.node_name
    ip = core.read_namespaced_pod("echo", NS).status.pod_ip
    cluster.faults.set_partitioned(node, True)
    try:
        out = run(kubectl, "get", "--raw", f"/api/v1/namespaces/{NS}/pods/echo:8080/proxy/")
    finally:
        cluster.faults.set_partitioned(node, False)
    assert out.stderr.strip() == f"Error from server (ServiceUnavailable): error trying to reach service: " \
                                 f"dial tcp {ip}:8080: i/o timeout"


def test_exec_and_logs_on_an_unreachable_node(env):
    cluster, kubectl, core = env
    pod = core.read_namespaced_pod("web-1", NS)
    cluster.faults.set_partitioned(pod.spec.node_name, True)
    try:
        exec_out = run(kubectl, "exec", "web-1", "--", "hostname")
        logs_out = run(kubectl, "logs", "web-1")
    finally:
        cluster.faults.set_partitioned(pod.spec.node_name, False)
    ip = pod.status.host_ip
    assert exec_out.returncode == 1
    assert exec_out.stderr.strip() == f"error: Internal error occurred: error dialing backend: dial tcp {ip}:10250: " \
                                      "i/o timeout"
    assert logs_out.stderr.strip() == f'Error from server: Get "https://{ip}:10250/containerLogs/{NS}/web-1/web": ' \
                                      f"dial tcp {ip}:10250: i/o timeout"
