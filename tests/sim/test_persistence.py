"""A kubesim killed with SIGKILL comes back with every acknowledged object, same uids and resourceVersions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from kubernetes import client as k8s
from kubernetes import config


def serve(tmp_path, state):
    kc = str(tmp_path / "kubeconfig")
    proc = subprocess.Popen([sys.executable, "-m", "kubesim", "serve", "--port", "0", "--kubeconfig", kc,
                             "--state", str(state), "--nodes-per-zone", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("ready https://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
    return proc, kc


def test_sigkill_loses_nothing_acknowledged(tmp_path):
    state = tmp_path / "state"
    proc, kc = serve(tmp_path, state)
    try:
        assert oct(os.stat(kc).st_mode & 0o777) == "0o600"
        api = config.new_client_from_config(config_file=kc)
        core = k8s.CoreV1Api(api)
        apps = k8s.AppsV1Api(api)
        made = {}
        for i in range(20):
            cm = core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}})
            made[cm.metadata.name] = (cm.metadata.uid, cm.metadata.resource_version)
        last = core.patch_namespaced_config_map("cm-0", "default", {"data": {"i": "patched"}})
        made["cm-0"] = (last.metadata.uid, last.metadata.resource_version)
        sts = apps.create_namespaced_stateful_set("default", {
            "metadata": {"name": "web"}, "spec": {"serviceName": "web", "selector": {"matchLabels": {"a": "b"}},
                                                  "template": {"metadata": {"labels": {"a": "b"}},
                                                               "spec": {"containers": [{"name": "c",
                                                                                        "image": "nginx"}]}}}})
        api.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc, kc = serve(tmp_path, state)
    try:
        api = config.new_client_from_config(config_file=kc)
        core = k8s.CoreV1Api(api)
        for name, (uid, rv) in made.items():
            got = core.read_namespaced_config_map(name, "default")
            assert (got.metadata.uid, got.metadata.resource_version) == (uid, rv)
        assert core.read_namespaced_config_map("cm-0", "default").data == {"i": "patched"}
        got_sts = k8s.AppsV1Api(api).read_namespaced_stateful_set("web", "default")
        assert got_sts.metadata.uid == sts.metadata.uid
        assert len(core.list_node().items) == 3  # bootstrap did not register the nodes twice
        api.close()
    finally:
        proc.terminate()
        proc.wait(10)
