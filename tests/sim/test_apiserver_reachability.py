"""An API server made unreachable, as a lost cluster's (ApiServer.set_available), and back on the same port."""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config, watch

from kubesim.testing import running_cluster


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    with running_cluster(str(tmp_path_factory.mktemp("reach")), zones=[], nodes_per_zone=0) as c:
        api = config.new_client_from_config(config_file=c.kubeconfig_path)  # type: ignore[attr-defined]
        try:
            yield c, api
        finally:
            api.close()


def tls_hello(port: int, timeout: float) -> str:
    """Connect and do a TLS handshake: 'ok', 'timeout' or 'reset'."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                return "ok"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except (ConnectionError, ssl.SSLError, OSError):
        return "reset"


def fresh_core(api: Any) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)


def test_timeout_mode_is_a_black_hole_and_restore_keeps_the_port(world):
    cluster, api = world
    port = cluster.server.port
    assert tls_hello(port, 5) == "ok"
    cluster.server.set_available(False)  # default mode: timeout
    assert cluster.server.available is False
    t0 = time.monotonic()
    assert tls_hello(port, 0.5) == "timeout"
    assert 0.4 < time.monotonic() - t0 < 3
    cluster.server.set_available(True)
    assert cluster.server.port == port and tls_hello(port, 5) == "ok"
    assert fresh_core(api).read_namespace("default").metadata.name == "default"


def test_reset_mode_fails_at_once_and_the_flag_setter_uses_it(world):
    cluster, api = world
    port = cluster.server.port
    cluster.server.available = False  # the plain flag: connections dropped at once
    try:
        t0 = time.monotonic()
        assert tls_hello(port, 5) == "reset"
        assert time.monotonic() - t0 < 1
        cluster.server.set_available(False, "timeout")  # switching mode while down
        assert tls_hello(port, 0.3) == "timeout"
    finally:
        cluster.server.available = True
    assert tls_hello(port, 5) == "ok"
    with pytest.raises(ValueError):
        cluster.server.set_available(False, "sometimes")


def test_open_watches_are_cut_and_work_again_after(world):
    cluster, api = world
    core = fresh_core(api)
    w = watch.Watch()
    stream = w.stream(core.list_namespace, timeout_seconds=30, _request_timeout=30)
    next(stream)
    t0 = time.monotonic()
    cluster.server.set_available(False)
    try:
        with pytest.raises(Exception):
            for _ in stream:
                pass
        assert time.monotonic() - t0 < 5
    finally:
        w.stop()
        cluster.server.set_available(True)
    # The cluster kept running meanwhile: what was written in process is there when it is back.
    names = [e.metadata.name for e in fresh_core(api).list_namespace(_request_timeout=5).items]
    assert "default" in names
