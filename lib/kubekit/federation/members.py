"""Registering member clusters and reaching them.

A member is a ``MemberCluster`` in the host plus a Secret holding a standalone
kubeconfig for it (one context, certificates inlined), as KubeFed's
``kubefedctl join`` stores a token Secret. The controller builds its client from
that Secret only, so it needs nothing else from the machine it runs on (except
the exec credential plugin an EKS kubeconfig names, such as ``kubekit eks-token``).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import yaml
from kubernetes import client

from kubekit import kubeclient
from kubekit.cluster import resolve_kubeconfig
from kubekit.errors import InvalidParameter, KitError, KubeError, MemberUnreachable

from .health import NO_ANSWER, OK, UNHEALTHY, Probe
from .model import API_VERSION, NAMESPACE, REGION_LABEL, ZONE_LABEL, HealthCheck, Member
from .rest import Rest

SECRET_PREFIX = "member-"


def standalone_kubeconfig(context: str, kubeconfig: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """One context of a kubeconfig as a self-contained kubeconfig (certificate files inlined)."""
    return kubeclient.standalone(resolve_kubeconfig(kubeconfig), context)


def api_client(kubeconfig: dict[str, Any], context: str | None = None) -> client.ApiClient:
    """An ApiClient that fails fast (no urllib3 retries): a probe must see an unreachable server at once.

    One per kubeconfig and context in a process: an exec credential plugin (an EKS token) takes a
    second or more to run, and a restarted or standby controller, a migration, would run it again
    for every member; the client refreshes the token itself when it expires (refresh_api_key_hook).
    """
    import json

    ctx = context or kubeconfig.get("current-context")
    key = (json.dumps(kubeconfig, sort_keys=True, default=str), str(ctx))
    with _CACHE_LOCK:
        cached = _MEMBER_CLIENTS.get(key)
    if cached is not None:
        return cached
    cfg = client.Configuration()
    kubeclient.configure(kubeconfig, ctx, cfg)
    cfg.retries = False
    api = client.ApiClient(cfg)
    with _CACHE_LOCK:
        return _MEMBER_CLIENTS.setdefault(key, api)


_MEMBER_CLIENTS: dict[tuple[str, str], client.ApiClient] = {}


def host_rest(host: "str | Any", kubeconfig: str | os.PathLike[str] | None = None) -> Rest:
    """A Rest for the host cluster: a context name, a kubekit.cluster.Cluster, an ApiClient or a Rest."""
    if isinstance(host, Rest):
        return host
    if isinstance(host, client.ApiClient):
        return Rest(host, "host", timeout=30)
    api = getattr(host, "api", None)
    if isinstance(api, client.ApiClient):
        return Rest(api, getattr(host, "context", "host"), timeout=30)
    path = resolve_kubeconfig(kubeconfig)
    key = (str(host), str(path))
    with _CACHE_LOCK:
        rest = _HOSTS.get(key)
        if rest is None:
            # One client per context and kubeconfig in a process: an exec credential plugin (an EKS token)
            # runs once, and the client refreshes the token when it expires.
            rest = _HOSTS[key] = Rest(kubeclient.new_client(path, str(host)), str(host), timeout=30)
        return rest


_HOSTS: dict[tuple[str, str], Rest] = {}
_CACHE_LOCK = threading.Lock()


def _zones(rest: Rest) -> tuple[str, str, list[tuple[str, int]]]:
    """(region, zone, [(zone, nodes)]) from the member's node labels."""
    nodes = rest.list("v1", "Node")
    regions = sorted({(n["metadata"].get("labels") or {}).get(REGION_LABEL, "") for n in nodes} - {""})
    counts: dict[str, int] = {}
    for n in nodes:
        z = (n["metadata"].get("labels") or {}).get(ZONE_LABEL, "")
        counts[z] = counts.get(z, 0) + 1
    zones = sorted((z or "<none>", k) for z, k in counts.items())
    region = regions[0] if len(regions) == 1 else ""
    zone = zones[0][0] if len(zones) == 1 and zones[0][0] != "<none>" else ""
    return region, zone, zones


def register_member(host: "str | Any", name: str, *, context: str | None = None,
                    kubeconfig: str | os.PathLike[str] | None = None, region: str | None = None,
                    zone: str | None = None, labels: dict[str, str] | None = None,
                    health_check: HealthCheck | dict[str, Any] | None = None,
                    taints: list[dict[str, str]] | None = None, namespace: str = NAMESPACE,
                    host_kubeconfig: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Join a cluster: store its kubeconfig in a Secret and create (or update) its MemberCluster.

    ``context`` defaults to ``name``. Region and zone default to what the member's nodes say
    (the zone only when all its nodes are in one; the member must answer then); given both, the
    member is not contacted (its first probe checks it). Idempotent: registering again updates.
    """
    rest = host_rest(host, host_kubeconfig or kubeconfig)
    ctx = context or name
    kc = standalone_kubeconfig(ctx, kubeconfig)
    found_region, found_zone = region or "", zone or ""
    if region is None or zone is None:  # ask the member's nodes (this also proves the context works)
        try:
            found_region, found_zone, _ = _zones(Rest(api_client(kc), name))
        except KitError as exc:
            raise MemberUnreachable(name, f"cannot list its nodes through context {ctx!r}: {exc}") from exc
    rest.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    secret = f"{SECRET_PREFIX}{name}"
    rest.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": secret, "namespace": namespace,
                             "labels": {"kubekit.io/member-cluster": name}},
                "data": {"kubeconfig": base64.b64encode(yaml.safe_dump(kc).encode()).decode()}})
    if isinstance(health_check, HealthCheck):
        hc: dict[str, Any] = {"periodSeconds": health_check.period_s, "timeoutSeconds": health_check.timeout_s,
                              "failureThreshold": health_check.failure_threshold,
                              "successThreshold": health_check.success_threshold}
        hc = {k: int(v) if float(v).is_integer() else v for k, v in hc.items()}
    else:
        hc = dict(health_check or {})
    region = found_region if region is None else region
    zone = found_zone if zone is None else zone
    meta_labels = dict(labels or {})
    if region:
        meta_labels.setdefault(REGION_LABEL, region)
    if zone:
        meta_labels.setdefault(ZONE_LABEL, zone)
    spec: dict[str, Any] = {"secretRef": {"namespace": namespace, "name": secret, "key": "kubeconfig"},
                            "context": ctx, "region": region, "zone": zone, "healthCheck": hc}
    if taints is not None:
        spec["taints"] = taints
    return rest.apply({"apiVersion": API_VERSION, "kind": "MemberCluster",
                       "metadata": {"name": name, "labels": meta_labels}, "spec": spec})


def unregister_member(host: "str | Any", name: str, *, kubeconfig: str | os.PathLike[str] | None = None,
                      namespace: str = NAMESPACE) -> bool:
    rest = host_rest(host, kubeconfig)
    gone = rest.delete(API_VERSION, "MemberCluster", None, name)
    rest.delete("v1", "Secret", namespace, f"{SECRET_PREFIX}{name}")
    return gone


def member_kubeconfig(rest: Rest, member: Member) -> dict[str, Any]:
    secret = rest.get("v1", "Secret", member.secret_namespace, member.secret_name)
    if secret is None:
        raise InvalidParameter("MemberCluster secretRef", f"{member.secret_namespace}/{member.secret_name}",
                               "does not exist", f"Register {member.name} again")
    raw = (secret.get("data") or {}).get(member.secret_key)
    if not raw:
        raise InvalidParameter("MemberCluster secretRef.key", member.secret_key,
                               f"is not in Secret {member.secret_namespace}/{member.secret_name}")
    return yaml.safe_load(base64.b64decode(raw)) or {}


def probe(rest: Rest, timeout: float, *, details: bool = True) -> Probe:
    """Fed v1's probe on /readyz: 'ok' → OK, another answer → UNHEALTHY, none in time → NO_ANSWER."""
    now = time.time()
    try:
        body = rest.request("GET", "/readyz", timeout=timeout)
    except MemberUnreachable as exc:
        return Probe(NO_ANSWER, str(exc), now)
    except KubeError as exc:
        return Probe(UNHEALTHY, str(exc), now)
    if str(body).strip() != "ok":
        return Probe(UNHEALTHY, f"/readyz answered {str(body)[:80]!r}", now)
    if not details:
        return Probe(OK, "", now)
    try:
        version = str((rest.request("GET", "/version", timeout=timeout) or {}).get("gitVersion", ""))
        _, _, zones = _zones(rest)
    except (MemberUnreachable, KubeError) as exc:
        return Probe(NO_ANSWER if isinstance(exc, MemberUnreachable) else UNHEALTHY, str(exc), now)
    return Probe(OK, "", now, version, tuple(zones))


@dataclass(frozen=True)
class MemberRow:
    name: str
    state: str
    region: str
    zone: str
    version: str
    nodes: int
    last_probe: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
