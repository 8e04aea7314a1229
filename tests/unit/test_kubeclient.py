"""kubekit.kubeclient: exec credentials are minted once per process and refreshed when they expire."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubekit import kubeclient
from kubekit.errors import InvalidParameter

PLUGIN = """
import json, pathlib, sys
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
json.dump({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
           "status": {"token": f"token-{n}", "expirationTimestamp": sys.argv[2]}}, sys.stdout)
"""


def _stamp(delta: datetime.timedelta) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kubeconfig(tmp_path: Path, expires: str) -> Path:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    ca = tmp_path / "ca.crt"
    ca.write_text("not a real certificate\n")
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.crt"}}],
           "users": [{"name": "u", "user": {"exec": {
               "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
               "args": [str(script), str(tmp_path / "count"), expires], "interactiveMode": "Never"}}}],
           "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}], "current-context": "ctx"}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def _bearer(api: client.ApiClient) -> str:
    return str(api.configuration.get_api_key_with_prefix("authorization"))


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    kubeclient._credentials.clear()
    yield
    kubeclient._credentials.clear()


def test_a_fresh_credential_is_minted_once_for_many_clients(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, _stamp(datetime.timedelta(minutes=14)))
    apis = [kubeclient.new_client(path, "ctx") for _ in range(3)]
    assert [_bearer(a) for a in apis] == ["Bearer token-1"] * 3
    assert (tmp_path / "count").read_text() == "1"


def test_an_expiring_credential_is_minted_again_on_the_next_request(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, _stamp(datetime.timedelta(seconds=30)))  # inside the refresh margin
    api = kubeclient.new_client(path, "ctx")
    assert _bearer(api) == "Bearer token-2"  # the hook refreshed it before this request
    assert _bearer(api) == "Bearer token-3"
    assert (tmp_path / "count").read_text() == "3"


def test_certificate_files_are_inlined_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    doc = kubeclient.standalone(_kubeconfig(tmp_path, _stamp(datetime.timedelta(minutes=5))), "ctx")
    cluster = doc["clusters"][0]["cluster"]
    assert "certificate-authority" not in cluster and cluster["certificate-authority-data"]
    assert doc["current-context"] == "ctx" and doc["users"][0]["user"]["exec"]["command"] == sys.executable


def test_an_unknown_context_names_the_ones_there_are(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="It has: ctx"):
        kubeclient.standalone(_kubeconfig(tmp_path, _stamp(datetime.timedelta(minutes=5))), "nope")


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["-m", "kubekit", "eks-token", "--cluster-name", "a", "--region", "us-east-1", "--target", "sandbox"],
     [{"name": "KUBEKIT_HOME", "value": "/h"}], ("a", "us-east-1", "sandbox", "/h")),
    (["-m", "kubekit", "eks-token", "--cluster-name", "a", "--region", "eu-west-1", "--target", "aws:prod"],
     None, ("a", "eu-west-1", "aws:prod", None)),
    (["-m", "kubekit", "eks-token", "--cluster-name", "a"], None, None),                          # no region
    (["-m", "kubekit", "eks-token", "--cluster-name", "a", "--region", "r", "--role", "x"], None, None),
    (["-m", "kubekit", "eks-token", "--cluster-name", "a", "--region"], None, None),              # odd
    (["eks", "get-token", "--cluster-name", "a", "--region", "r"], None, None),                    # aws-cli's
    (["-m", "kubekit", "eks-token", "--cluster-name", "a", "--region", "r"],
     [{"name": "AWS_PROFILE", "value": "p"}], None),                                               # env it can't honour
])
def test_only_kubekit_s_own_plugin_runs_in_process(args: list[str], env: Any, expected: Any) -> None:
    spec = {"command": sys.executable, "args": args, **({"env": env} if env else {})}
    assert kubeclient._kubekit_plugin(spec) == expected


def test_a_plugin_without_expiry_is_cached_for_the_process(tmp_path: Path) -> None:
    script = tmp_path / "p.py"
    script.write_text("import json,sys,pathlib\np=pathlib.Path(sys.argv[1]);p.write_text(p.read_text()+'x')\n"
                      "json.dump({'apiVersion':'client.authentication.k8s.io/v1beta1','kind':'ExecCredential',"
                      "'status':{'token':'t'}},sys.stdout)\n")
    (tmp_path / "n").write_text("")
    spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
            "args": [str(script), str(tmp_path / "n")], "interactiveMode": "Never"}
    assert kubeclient.exec_credential(spec)["token"] == kubeclient.exec_credential(spec)["token"] == "t"
    assert (tmp_path / "n").read_text() == "x"
