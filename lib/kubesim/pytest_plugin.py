"""pytest fixtures for kubesim: a real cluster on 127.0.0.1:0, real kubectl, the official client.

Import them in a conftest: ``from kubesim.pytest_plugin import cluster, client, kubectl, namespace``.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest

from kubesim.api import Request
from kubesim.cluster import Cluster
from kubesim.testing import Kubectl, running_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(str(tmp_path_factory.mktemp("kubesim")), seed=1) as c:
        yield c


@pytest.fixture(scope="module")
def kubectl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig_path, str(tmp_path_factory.mktemp("kubectl-cache")))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(cluster: Cluster) -> Iterator[Any]:
    from kubernetes import config

    api_client = config.new_client_from_config(config_file=cluster.kubeconfig_path)  # type: ignore[attr-defined]
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test, created through the API as a user would."""
    raw = "t-" + request.node.name.lower()
    name = "".join(ch if ch.isalnum() else "-" for ch in raw)[:44].strip("-") + "-" + uuid.uuid4().hex[:6]
    api = cluster.api
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
               Request(field_manager="tests"))
    return name
