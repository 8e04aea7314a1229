"""API clients from kubeconfig contexts, with exec credentials minted once per process.

The official client runs a kubeconfig user's exec plugin for every client it
builds. For an EKS kubeconfig that is ``kubekit eks-token`` (or ``aws eks
get-token``): a new Python process, 0.5 to 1.5 s each, and a drill or a
federation builds one client per member. Here a credential is reused until a
minute before its ``expirationTimestamp`` (as client-go's exec authenticator
caches it), kubekit's own plugin runs in-process (the same ``get_token`` the
plugin runs, with the plugin's arguments), and any other plugin runs as the
client would run it. Clients refresh the token when it expires through the
client's ``refresh_api_key_hook``.
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import threading
from pathlib import Path
from typing import Any, Callable

import yaml
from kubernetes import client, config
from kubernetes.config.exec_provider import ExecProvider
from kubernetes.config.kube_config import ConfigNode

from kubekit.errors import InvalidParameter

REFRESH_MARGIN = datetime.timedelta(seconds=60)
PLUGIN_ARGS = ["-m", "kubekit", "eks-token"]
PLUGIN_OPTIONS = {"--cluster-name", "--region", "--target"}

_lock = threading.Lock()
_credentials: dict[str, tuple[dict[str, Any], datetime.datetime | None]] = {}


def standalone(path: Path, context: str) -> dict[str, Any]:
    """One context of the kubeconfig at ``path`` as a self-contained kubeconfig (certificate files inlined)."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    ctx = next((c for c in doc.get("contexts") or [] if c.get("name") == context), None)
    if ctx is None:
        names = sorted(c.get("name", "") for c in doc.get("contexts") or [])
        raise InvalidParameter("context", context, f"is not in {path}", f"It has: {', '.join(names) or 'none'}")
    cluster_name = ctx["context"].get("cluster")
    user_name = ctx["context"].get("user")
    cluster = dict(next(c for c in doc.get("clusters") or [] if c.get("name") == cluster_name)["cluster"])
    user = dict(next((u for u in doc.get("users") or [] if u.get("name") == user_name), {"user": {}})["user"])
    base = Path(path).parent

    def inline(section: dict[str, Any], key: str) -> None:
        if section.get(key):
            file = Path(section.pop(key))
            file = file if file.is_absolute() else base / file
            section[f"{key}-data"] = base64.b64encode(file.read_bytes()).decode()

    inline(cluster, "certificate-authority")
    inline(user, "client-certificate")
    inline(user, "client-key")
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": user}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context}


def _kubekit_plugin(spec: dict[str, Any]) -> tuple[str, str, str, str | None] | None:
    """(cluster, region, target, home) when ``spec`` runs ``kubekit eks-token`` with options it knows, else None."""
    args = [str(a) for a in spec.get("args") or []]
    rest = args[len(PLUGIN_ARGS):]
    if args[:len(PLUGIN_ARGS)] != PLUGIN_ARGS or len(rest) % 2:
        return None
    opts = dict(zip(rest[::2], rest[1::2]))
    if set(opts) - PLUGIN_OPTIONS or "--cluster-name" not in opts or "--region" not in opts:
        return None
    env = {e.get("name"): e.get("value") for e in spec.get("env") or []}
    if set(env) - {"KUBEKIT_HOME"}:
        return None
    return opts["--cluster-name"], opts["--region"], opts.get("--target", "sandbox"), env.get("KUBEKIT_HOME")


def _mint(spec: dict[str, Any]) -> dict[str, Any]:
    """The ExecCredential ``status`` the plugin of ``spec`` would print."""
    own = _kubekit_plugin(spec)
    if own is None:
        return dict(ExecProvider(ConfigNode("exec", spec), None).run())
    from dataclasses import replace

    from kubekit.aws.target import resolve
    from kubekit.aws.token import get_token

    cluster, region, target_text, home = own
    target = resolve(target_text)
    if home is not None:
        target = replace(target, home=home)
    return dict(get_token(target, cluster, region)["status"])


def _expiry(status: dict[str, Any]) -> datetime.datetime | None:
    stamp = status.get("expirationTimestamp")
    if not stamp:
        return None
    return datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def exec_credential(spec: dict[str, Any]) -> dict[str, Any]:
    """The credential (``status`` of an ExecCredential) for an exec plugin spec, minted when none is fresh."""
    key = json.dumps(spec, sort_keys=True, default=str)
    now = datetime.datetime.now(datetime.timezone.utc)
    with _lock:
        hit = _credentials.get(key)
    if hit is not None and (hit[1] is None or hit[1] - REFRESH_MARGIN > now):
        return hit[0]
    status = _mint(spec)
    with _lock:
        _credentials[key] = (status, _expiry(status))
    return status


def _refresher(spec: dict[str, Any]) -> Callable[[client.Configuration], None]:
    def refresh(cfg: client.Configuration) -> None:
        cfg.api_key["authorization"] = "Bearer " + exec_credential(spec)["token"]
    return refresh


def configure(doc: dict[str, Any], context: str | None, cfg: client.Configuration) -> None:
    """Fill ``cfg`` from a self-contained kubeconfig, as ``load_kube_config_from_dict`` does, but with cached
    exec credentials. A plugin that answers with a client certificate instead of a token goes the usual way."""
    name = context or doc.get("current-context")
    ctx = next((c for c in doc.get("contexts") or [] if c.get("name") == name), None)
    user_name = (ctx or {}).get("context", {}).get("user")
    user = next((u for u in doc.get("users") or [] if u.get("name") == user_name), None)
    spec = ((user or {}).get("user") or {}).get("exec")
    if not spec:
        config.load_kube_config_from_dict(doc, context=name, client_configuration=cfg, persist_config=False)
        return
    status = exec_credential(spec)
    if "token" not in status:
        config.load_kube_config_from_dict(doc, context=name, client_configuration=cfg, persist_config=False)
        return
    with_token = copy.deepcopy(doc)
    for u in with_token["users"]:
        if u.get("name") == user_name:
            u["user"] = {k: v for k, v in u["user"].items() if k != "exec"} | {"token": status["token"]}
    config.load_kube_config_from_dict(with_token, context=name, client_configuration=cfg, persist_config=False)
    cfg.refresh_api_key_hook = _refresher(spec)


def new_client(path: str | Path, context: str, *, retries: bool = True) -> client.ApiClient:
    """An ApiClient for ``context`` of the kubeconfig at ``path``."""
    cfg = client.Configuration()
    configure(standalone(Path(path), context), context, cfg)
    if not retries:
        cfg.retries = False
    return client.ApiClient(cfg)
