"""The multi-cluster sandbox (issue 6): member clusters, losing one, and clusterset DNS names in exec.

One sandbox for the module: the host ``sandbox`` (3 zones), two us-east-1 members and
one in eu-west-1, bootstrapped by ``kubekit.sandbox.up(clusters=2, regions=[...])``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config

from kubekit import sandbox
from kubesim.testing import Kubectl, eventually

pytestmark = pytest.mark.slow  # one sandbox with four clusters (about 30 s to bring up)

KUBEKIT = [sys.executable, "-m", "kubekit"]
A, B, EU = "member-us-east-1a", "member-us-east-1b", "member-eu-west-1a"
MCS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "serviceexports.multicluster.x-k8s.io"},
    "spec": {"group": "multicluster.x-k8s.io", "scope": "Namespaced",
             "names": {"plural": "serviceexports", "singular": "serviceexport", "kind": "ServiceExport",
                       "listKind": "ServiceExportList", "shortNames": ["svcex"]},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    return eventually(what, fn, timeout=timeout, interval=interval)


class World:
    def __init__(self, home: Path, info: sandbox.SandboxInfo, cache: str) -> None:
        self.home, self.info = home, info
        self.clients: dict[str, Any] = {}
        self.cache = cache

    def api(self, context: str) -> Any:
        if context not in self.clients:
            self.clients[context] = config.new_client_from_config(config_file=self.info.kubeconfig, context=context)
        return self.clients[context]

    def core(self, context: str) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api(context))

    def kubectl(self, context: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return Kubectl(self.info.kubeconfig, self.cache).run("--context", context, *args, check=check)

    def endpoint(self, context: str) -> str:
        doc = yaml.safe_load(Path(self.info.kubeconfig).read_text())
        cluster = next(c["context"]["cluster"] for c in doc["contexts"] if c["name"] == context)
        return next(c["cluster"]["server"] for c in doc["clusters"] if c["name"] == cluster)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("multi-home")
    t0 = time.monotonic()
    info = sandbox.up(home=home, profile="fast", clusters=2, regions=["eu-west-1"], timeout=120)
    print(f"sandbox up with 4 clusters in {time.monotonic() - t0:.1f} s")
    w = World(home, info, str(tmp_path_factory.mktemp("kubectl-cache")))
    try:
        yield w
    finally:
        w.close()
        sandbox.down(home=home)


def ready_nodes(core: k8s.CoreV1Api) -> list[Any]:
    return [n for n in core.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]


# -- members ---------------------------------------------------------------------------------

def test_members_are_single_zone_clusters_with_their_own_contexts_and_networks(world: World) -> None:
    members = sandbox.members(home=world.home)
    assert [(m["name"], m["context"], m["region"], m["zone"]) for m in members] == [
        (A, A, "us-east-1", "us-east-1a"), (B, B, "us-east-1", "us-east-1b"), (EU, EU, "eu-west-1", "eu-west-1a")]
    assert all(m["kubeconfig"] == world.info.kubeconfig for m in members)
    doc = yaml.safe_load(Path(world.info.kubeconfig).read_text())
    assert doc["current-context"] == "sandbox"  # the federation host stays the default
    assert {c["name"] for c in doc["contexts"]} == {"sandbox", A, B, EU}
    assert stat.S_IMODE(os.stat(world.info.kubeconfig).st_mode) == 0o600
    assert len(ready_nodes(world.core("sandbox"))) == 6
    pod_nets: list[ipaddress.IPv4Network] = []
    for m in members:
        nodes = ready_nodes(world.core(m["context"]))
        assert len(nodes) == 2, m["name"]
        for n in nodes:
            labels = n.metadata.labels
            assert (labels["topology.kubernetes.io/region"], labels["topology.kubernetes.io/zone"]) == (
                m["region"], m["zone"])
            assert n.spec.provider_id.startswith(f"aws:///{m['zone']}/i-")
            pod_nets.append(ipaddress.ip_network(n.spec.pod_cidr))
    pod_nets += [ipaddress.ip_network(n.spec.pod_cidr) for n in world.core("sandbox").list_node().items]
    # Pod networks come from each cluster's own VPC: none overlaps another, in any cluster.
    assert not any(a.overlaps(b) for i, a in enumerate(pod_nets) for b in pod_nets[i + 1:]), pod_nets
    # Separate stacks, each made by the ordinary bootstrap code: own VPC, own EKS cluster.
    for region, names in (("us-east-1", {"sandbox", A, B}), ("eu-west-1", {EU})):
        kw = dict(region_name=region, endpoint_url=world.info.endpoint, aws_access_key_id="kubekit-sandbox",
                  aws_secret_access_key="kubekit-sandbox")
        assert set(boto3.client("eks", **kw).list_clusters()["clusters"]) == names
        vpcs = boto3.client("ec2", **kw).describe_vpcs(Filters=[{"Name": "tag:kubekit.io/stack",
                                                                 "Values": sorted(names)}])["Vpcs"]
        cidrs = [ipaddress.ip_network(v["CidrBlock"]) for v in vpcs]
        assert len(cidrs) == len(names) and not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])
    out = subprocess.run([*KUBEKIT, "sandbox", "members"], env=dict(os.environ, KUBEKIT_HOME=str(world.home)),
                         capture_output=True, text=True, check=True).stdout
    assert [m["name"] for m in json.loads(out)] == [A, B, EU]


def _entries(text: str) -> dict[str, Any]:
    """A kubeconfig's entries by section and name (threads may write them in any order)."""
    doc = yaml.safe_load(text)
    out: dict[str, Any] = {k: v for k, v in doc.items() if k not in ("clusters", "users", "contexts")}
    for section in ("clusters", "users", "contexts"):
        out[section] = {e["name"]: e for e in doc[section]}
    return out


def test_up_again_is_idempotent(world: World) -> None:
    before = Path(world.info.kubeconfig).read_text()
    t0 = time.monotonic()
    again = sandbox.up(home=world.home, clusters=2, regions=["eu-west-1"], timeout=120)
    assert again.pid == world.info.pid
    assert [m["name"] for m in sandbox.members(home=world.home)] == [A, B, EU]
    assert _entries(Path(world.info.kubeconfig).read_text()) == _entries(before)
    # A plain `up` keeps the members (and their contexts) it does not mention.
    sandbox.up(home=world.home, timeout=120)
    assert [m["name"] for m in sandbox.members(home=world.home)] == [A, B, EU]
    print(f"idempotent up in {time.monotonic() - t0:.1f} s")
    with pytest.raises(sandbox.SandboxError, match="only 6 zones"):
        sandbox.up(home=world.home, clusters=7)


# -- member loss -----------------------------------------------------------------------------

def _probe(url: str, timeout: float) -> str:
    """What a client meets at an API server: 'answers', 'timeout' or 'reset'."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(url + "/healthz", timeout=timeout) as r:
            return "answers" if r.status == 200 else f"status {r.status}"
    except urllib.error.HTTPError as exc:
        return "answers" if exc.code in (401, 403) else f"status {exc.code}"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except urllib.error.URLError as exc:
        return "timeout" if isinstance(exc.reason, (TimeoutError, socket.timeout)) else "reset"
    except (ConnectionError, ssl.SSLError, OSError):
        return "reset"


def test_an_isolated_member_stops_answering_and_comes_back_on_the_same_address(world: World) -> None:
    url = world.endpoint(B)
    assert _probe(url, 5) == "answers"
    out = sandbox.set_reachable(B, False, home=world.home)
    assert out == {"region": "us-east-1", "name": B, "reachable": False}
    assert _probe(url, 1.0) == "timeout"
    # The others are untouched; status shows which one is lost.
    assert len(world.core(A).list_node(_request_timeout=5).items) == 2
    assert _probe(world.endpoint("sandbox"), 5) == "answers"
    clusters = {c["name"]: c for c in sandbox.status(home=world.home)["clusters"]}
    assert clusters[B]["reachable"] is False and clusters[A]["reachable"] is True
    # The cluster keeps running inside: its nodes stay Ready (seen once it is back).
    sandbox.set_reachable(B, True, home=world.home)
    assert world.endpoint(B) == url and _probe(url, 5) == "answers"
    assert len(ready_nodes(world.core(B))) == 2

    # The CLI, and the quick-failing mode: new connections are reset at once.
    env = dict(os.environ, KUBEKIT_HOME=str(world.home))
    res = subprocess.run([*KUBEKIT, "sandbox", "isolate", B, "--mode", "reset"], env=env, capture_output=True,
                         text=True)
    assert res.returncode == 0 and "unreachable (reset)" in res.stdout, res.stderr
    t1 = time.monotonic()
    assert _probe(url, 5) == "reset" and time.monotonic() - t1 < 3
    with pytest.raises(Exception):  # the official client fails at once too (no retry waits on a reset)
        world.core(B).list_node(_request_timeout=5)
    res = subprocess.run([*KUBEKIT, "sandbox", "restore", B], env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "reachable again" in res.stdout, res.stderr
    assert len(world.kubectl(B, "get", "nodes", "--no-headers").stdout.splitlines()) == 2
    with pytest.raises(sandbox.SandboxError, match="no sandbox cluster named 'member-nowhere'"):
        sandbox.set_reachable("member-nowhere", False, home=world.home)


def test_an_open_watch_is_cut_when_its_cluster_is_lost(world: World) -> None:
    from kubernetes import watch

    core = world.core(A)
    w = watch.Watch()
    stream = w.stream(core.list_namespace, timeout_seconds=30, _request_timeout=60)
    next(stream)  # the watch is open
    t0 = time.monotonic()
    sandbox.set_reachable(A, False, home=world.home)
    try:
        with pytest.raises(Exception):
            for _ in stream:
                pass
        assert time.monotonic() - t0 < 10
    finally:
        w.stop()
        sandbox.set_reachable(A, True, home=world.home)


def test_the_control_channel_wants_the_token(world: World) -> None:
    token_file = world.home / "control.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    record = json.loads((world.home / "sandbox.json").read_text())
    base = f"http://127.0.0.1:{record['control_port']}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        req = urllib.request.Request(base + "/v1/reachability", method="POST", headers=headers,
                                     data=json.dumps({"cluster": A, "reachable": False}).encode())
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(req, timeout=5)
        assert err.value.code == 401
    assert _probe(world.endpoint(A), 5) == "answers"
    req = urllib.request.Request(base + "/v1/clusters",
                                 headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
    with opener.open(req, timeout=5) as r:
        assert {c["name"] for c in json.loads(r.read())} == {"sandbox", A, B, EU}


# -- clusterset DNS in exec ------------------------------------------------------------------

def _web(world: World, context: str, replicas: int = 2) -> list[Any]:
    """A headless service ``web`` and a StatefulSet ``web`` in default; returns its Ready pods."""
    core, apps = world.core(context), k8s.AppsV1Api(world.api(context))
    core.create_namespaced_service("default", {
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}]}})
    apps.create_namespaced_stateful_set("default", {
        "metadata": {"name": "web"},
        "spec": {"serviceName": "web", "replicas": replicas, "podManagementPolicy": "Parallel",
                 "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})

    def ready() -> list[Any]:
        eps = core.read_namespaced_endpoints("web", "default") if core.list_namespaced_endpoints(
            "default", field_selector="metadata.name=web").items else None
        addresses = [a for s in (eps.subsets or []) for a in s.addresses or []] if eps else []
        return addresses if len(addresses) == replicas else []

    wait_for(f"web endpoints in {context}", ready, timeout=45)
    return sorted(core.list_namespaced_pod("default", label_selector="app=web").items, key=lambda p: p.metadata.name)


def _getent(world: World, context: str, pod: str, name: str) -> tuple[int, list[str]]:
    """``getent hosts NAME`` in a pod (exec through the Python client): exit status and addresses."""
    from kubernetes.stream import stream

    out = stream(world.core(context).connect_get_namespaced_pod_exec, pod, "default",
                 command=["sh", "-c", f"getent hosts {name}; echo status=$?"], stdout=True, stderr=True,
                 stdin=False, tty=False)
    lines = [line for line in out.splitlines() if line.strip()]
    status = int(lines[-1].split("=", 1)[1])
    return status, [line.split()[0] for line in lines[:-1] if not line.startswith("getent")]


def test_pet_and_exported_service_names_resolve_across_members(world: World) -> None:
    pets_a = _web(world, A)
    pets_b = _web(world, B, replicas=1)
    ips_a = [p.status.pod_ip for p in pets_a]
    ip_b = pets_b[0].status.pod_ip
    assert ip_b not in ips_a
    # A pet of member a, by its clusterset name, from a pod in member b: kubectl exec, as a user does.
    res = world.kubectl(B, "exec", "web-0", "--", "getent", "hosts", f"web-0.{A}.web.default.svc.clusterset.local")
    assert res.stdout.split() == [ips_a[0], f"web-0.{A}.web.default.svc.clusterset.local"]
    assert _getent(world, B, "web-0", f"web-0.{A}.web.default.svc.clusterset.local") == (0, [ips_a[0]])
    assert _getent(world, B, "web-0", f"web-1.{A}.web.default.svc.clusterset.local") == (0, [ips_a[1]])
    assert _getent(world, A, "web-0", f"web-0.{B}.web.default.svc.clusterset.local") == (0, [ip_b])
    code, _ = _getent(world, B, "web-0", f"web-7.{A}.web.default.svc.clusterset.local")
    assert code == 2  # getent: key not found
    # The service's clusterset name: only clusters that export it (no CRD yet: nobody does).
    code, _ = _getent(world, B, "web-0", "web.default.svc.clusterset.local")
    assert code == 2
    for context in (A, B):
        ext = k8s.ApiextensionsV1Api(world.api(context))
        ext.create_custom_resource_definition(MCS_CRD)
        wait_for("the CRD served", lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition(MCS_CRD["metadata"]["name"]).status.conditions or []))
    custom = k8s.CustomObjectsApi(world.api(A))
    custom.create_namespaced_custom_object("multicluster.x-k8s.io", "v1alpha1", "default", "serviceexports",
                                           {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
                                            "metadata": {"name": "web"}})
    assert _getent(world, B, "web-0", "web.default.svc.clusterset.local") == (0, sorted(ips_a, key=_ip_key))
    k8s.CustomObjectsApi(world.api(B)).create_namespaced_custom_object(
        "multicluster.x-k8s.io", "v1alpha1", "default", "serviceexports",
        {"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport", "metadata": {"name": "web"}})
    both = sorted(ips_a + [ip_b], key=_ip_key)
    assert _getent(world, A, "web-0", "web.default.svc.clusterset.local") == (0, both)
    # A lost member's endpoints are withdrawn; they come back with it.
    sandbox.set_reachable(A, False, home=world.home, mode="reset")
    try:
        assert _getent(world, B, "web-0", "web.default.svc.clusterset.local") == (0, [ip_b])
        assert _getent(world, B, "web-0", f"web-0.{A}.web.default.svc.clusterset.local")[0] == 2
    finally:
        sandbox.set_reachable(A, True, home=world.home)
    assert _getent(world, B, "web-0", "web.default.svc.clusterset.local") == (0, both)
    # Cluster-local names are unchanged.
    assert _getent(world, B, "web-0", "web-0.web.default.svc.cluster.local") == (0, [ip_b])


def _ip_key(ip: str) -> tuple[int, ...]:
    return tuple(int(p) for p in ip.split("."))
