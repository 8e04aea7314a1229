"""``kubeconfig(cluster)``: what ``aws eks update-kubeconfig`` writes, in Python; then wait for nodes.

The entry is built from ``describe_cluster`` (endpoint and CA) with an exec
credential plugin that mints EKS tokens (``kubekit eks-token``, the equivalent of
``aws eks get-token``), so both kubectl and the Python client authenticate the
EKS way. The file is merged (other contexts kept) and written with mode 0600.
The user's ``~/.kube/config`` is never touched unless ``path`` says so.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import AwsError, InvalidParameter, NotReady
from .target import Target, kubekit_home, resolve


@dataclass(frozen=True)
class KubeconfigEntry:
    path: str
    context: str
    cluster: str
    region: str
    endpoint: str


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old or {})
    for section in ("clusters", "users", "contexts"):
        names = {e["name"] for e in new[section]}
        out[section] = [e for e in (old or {}).get(section) or [] if e.get("name") not in names] + new[section]
    out["current-context"] = new["current-context"]
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    out.setdefault("preferences", {})
    return out


def _describe(target: Target, cluster: str, region: str) -> dict[str, Any]:
    """describe_cluster; in the sandbox, wait until the cloud has published its local endpoint.

    The sandbox daemon writes each new cluster's real (loopback) endpoint into moto's
    record a moment after creation; a kubeconfig must never point anywhere else.
    """
    from urllib.parse import urlparse

    eks = target.client("eks", region)
    deadline = time.monotonic() + 30
    while True:
        info = eks.describe_cluster(name=cluster)["cluster"]
        if not target.is_sandbox or urlparse(info.get("endpoint") or "").hostname == "127.0.0.1":
            return info
        if time.monotonic() > deadline:
            raise NotReady(f"the sandbox has not started cluster {cluster} (its endpoint is still "
                           f"{info.get('endpoint')!r}); see $KUBEKIT_HOME/sandbox.log")
        time.sleep(0.1)


def entry(target: Target, cluster: str, region: str, context: str | None = None) -> tuple[dict[str, Any], str]:
    try:
        info = _describe(target, cluster, region)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise InvalidParameter("cluster", cluster, f"no EKS cluster of that name in {region} on "
                                                       f"{target.describe()}", "Create it with apply(plan(...)) "
                                                                               "first") from exc
        raise AwsError("eks:DescribeCluster", exc) from exc
    except BotoCoreError as exc:
        raise AwsError("eks:DescribeCluster", exc) from exc
    arn = info["arn"]
    ctx = context or arn
    args = ["-m", "kubekit", "eks-token", "--cluster-name", cluster, "--region", region]
    env = []
    if target.is_sandbox:
        args += ["--target", "sandbox"]
        env.append({"name": "KUBEKIT_HOME", "value": str(kubekit_home(target.home))})
    else:
        args += ["--target", f"aws:{target.profile}" if target.profile else "aws"]
    user: dict[str, Any] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                                     "args": args, "env": env or None, "interactiveMode": "Never",
                                     "provideClusterInfo": False}}
    if not env:
        user["exec"].pop("env")
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": arn, "cluster": {"server": info["endpoint"],
                                                  "certificate-authority-data": info["certificateAuthority"]["data"]}}],
           "users": [{"name": arn, "user": user}],
           "contexts": [{"name": ctx, "context": {"cluster": arn, "user": arn}}],
           "current-context": ctx}
    return doc, info["endpoint"]


def kubeconfig(cluster: str, *, region: str = "us-east-1", target: "str | Target | None" = None,
               path: str | None = None, context: str | None = None, wait: bool = True,
               expect_nodes: int | None = None, zones: list[str] | None = None, timeout: float = 600,
               progress: bool | str = "auto") -> KubeconfigEntry:
    t = resolve(target)
    doc, endpoint = entry(t, cluster, region, context)
    file = Path(path or os.environ.get("KUBEKIT_KUBECONFIG") or kubekit_home(t.home) / "kubeconfig")
    old: dict[str, Any] = {}
    if file.exists():
        try:
            old = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError:
            old = {}
    merged = _merge(old, doc)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(merged, f, sort_keys=False)
    os.replace(tmp, file)
    result = KubeconfigEntry(str(file), doc["current-context"], cluster, region, endpoint)
    if wait:
        wait_nodes_ready(result.path, result.context, expect=expect_nodes, zones=zones, timeout=timeout,
                         progress=progress)
    return result


def _list_nodes(api: Any) -> list[dict[str, Any]]:
    from kubernetes.client.exceptions import ApiException

    method, url, headers, body, post = api.param_serialize("GET", "/api/v1/nodes",
                                                           header_params={"Accept": "application/json"},
                                                           auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post, _request_timeout=30)
    response.read()
    if response.status != 200:
        raise ApiException(status=response.status, reason=response.reason)
    return list(json.loads(response.data)["items"])


def wait_nodes_ready(path: str, context: str, *, expect: int | None = None, zones: list[str] | None = None,
                     timeout: float = 600, progress: bool | str = "auto") -> list[dict[str, str]]:
    """Wait until ``expect`` nodes (if given) are Ready and every zone in ``zones`` has one."""
    from tqdm.auto import tqdm

    from kubekit.kubeclient import new_client

    api = new_client(path, context)
    deadline = time.monotonic() + timeout
    want = expect
    rows: list[dict[str, str]] = []
    with tqdm(total=want, desc="nodes Ready", unit="node", disable=progress is False, leave=False) as bar:
        try:
            while True:
                # GET /api/v1/nodes as plain JSON: CoreV1Api and its models take 0.6 s to import, a
                # third of `kubekit sandbox up`'s own CPU, for three fields of each node.
                nodes = _list_nodes(api)
                rows = []
                for n in nodes:
                    conditions = (n.get("status") or {}).get("conditions") or []
                    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), "Unknown")
                    rows.append({"node": n["metadata"]["name"],
                                 "zone": (n["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone", ""),
                                 "ready": ready})
                ready_rows = [r for r in rows if r["ready"] == "True"]
                bar.n = len(ready_rows)
                bar.refresh()
                zones_ok = not zones or set(zones) <= {r["zone"] for r in ready_rows}
                count_ok = (want is None and rows and len(ready_rows) == len(rows)) or \
                    (want is not None and len(ready_rows) >= want)
                if count_ok and zones_ok:
                    return sorted(rows, key=lambda r: (r["zone"], r["node"]))
                if time.monotonic() > deadline:
                    missing = sorted(set(zones or []) - {r["zone"] for r in ready_rows})
                    raise NotReady(f"{len(ready_rows)}/{want if want is not None else len(rows)} nodes Ready after "
                                   f"{timeout:.0f} s" + (f"; no Ready node in {', '.join(missing)}" if missing else ""))
                time.sleep(0.2)
        finally:
            api.close()


def kubeup_kubeconfig(stack: str, *, region: str = "us-east-1", target: "str | Target | None" = None,
                      path: str | None = None, context: str | None = None, timeout: float = 60) -> KubeconfigEntry:
    """The context kube-up.sh wrote for its cluster (the master's address, a bearer token, its CA).

    Only the sandbox runs Kubernetes on a kube-up master (its cloud turns the master
    instance into an API server); on real AWS the kube-up layout is built for
    comparison and its instances run no cluster software.
    """
    import json

    from ..errors import KitError

    t = resolve(target)
    if not t.is_sandbox:
        raise KitError("on real AWS the kube-up layout is created for comparison only: its instances run no "
                       "Kubernetes, so there is no context to write")
    record = kubekit_home(t.home) / "kube-up" / region / f"{stack}.json"
    deadline = time.monotonic() + timeout
    while not record.exists():
        if time.monotonic() > deadline:
            raise NotReady(f"the kube-up master of {stack} has no API server yet ({record} missing)")
        time.sleep(0.1)
    data = json.loads(record.read_text())
    name = context or f"kube-up-{stack}"
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": name, "cluster": {"server": data["server"], "certificate-authority-data": data["ca"]}}],
           "users": [{"name": name, "user": {"token": data["token"]}}],
           "contexts": [{"name": name, "context": {"cluster": name, "user": name}}], "current-context": name}
    file = Path(path or kubekit_home(t.home) / "kubeconfig")
    old: dict[str, Any] = {}
    if file.exists():
        old = yaml.safe_load(file.read_text()) or {}
    merged = _merge(old, doc)
    merged["current-context"] = old.get("current-context") or name
    tmp = file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(merged, f, sort_keys=False)
    os.replace(tmp, file)
    return KubeconfigEntry(str(file), name, stack, region, data["server"])
