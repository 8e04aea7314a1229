"""Cluster DNS for the exec shell (``getent hosts``, ``nslookup``): CoreDNS's kubernetes plugin, read from the API.

Names served (domain ``cluster.local``), as the DNS spec for Kubernetes
(kubernetes/dns docs/specification.md) and CoreDNS's ``kubernetes`` plugin
answer them:

- ``<svc>.<ns>.svc.cluster.local``: a ClusterIP service -> its ClusterIP; a
  headless service -> the IPs of its ready endpoints (``subsets[].addresses``
  of its Endpoints object, which holds not-ready ones too when the service
  has ``publishNotReadyAddresses``).
- ``<host>.<svc>.<ns>.svc.cluster.local``: the endpoint of headless service
  ``svc`` whose ``hostname`` is ``host``: a StatefulSet pet
  (``web-0.nginx.default.svc.cluster.local``; the endpoints controller sets
  ``hostname`` when ``spec.hostname`` is set and ``spec.subdomain`` = service, PL-10).
- ``<a-b-c-d>.<ns>.pod.cluster.local`` -> ``a.b.c.d``.

When a service has no Endpoints object yet (no endpoints controller running),
its pods are selected directly with the same rules.

Resolvers are pluggable: every node runtime shares the list
``ctx.extra["dns_resolvers"]``; each entry is ``fn(fqdn) -> list[str] | None``
and the shell asks them in order for each search-path candidate. The kubekit
sandbox adds one for ``*.svc.clusterset.local`` across its clusters
(``kubekit.sandbox.mcs``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from ..selectors import selector_from_label_selector

DOMAIN = "cluster.local"
_LOCK = threading.Lock()


class ClusterDNS:
    """A resolver over one cluster's API objects."""

    kubesim_cluster_dns = True

    def __init__(self, api: Any, domain: str = DOMAIN) -> None:
        self.api = api
        self.domain = domain

    def __call__(self, fqdn: str) -> list[str] | None:
        name = fqdn.rstrip(".").lower()
        suffix = "." + self.domain
        if not name.endswith(suffix):
            return None
        labels = name[: -len(suffix)].split(".")
        if len(labels) == 3 and labels[2] == "pod":
            ip = labels[0].replace("-", ".")
            return [ip] if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip) else None
        if len(labels) < 3 or labels[-1] != "svc":
            return None
        if len(labels) == 3:
            return self.service(labels[1], labels[0]) or None
        if len(labels) == 4:
            return self.hostname(labels[2], labels[1], labels[0]) or None
        return None

    # -- lookups ---------------------------------------------------------------------------
    def _get(self, key: str, ns: str, name: str) -> dict[str, Any] | None:
        entry = self.api.store.get(key, ns, name)
        return None if entry is None else entry.obj()

    def service(self, ns: str, name: str) -> list[str]:
        svc = self._get("services", ns, name)
        if svc is None:
            return []
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return []
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            return [ip]
        return sorted({a["ip"] for a in self._addresses(svc) if a.get("ip")}, key=_ip_key)

    def hostname(self, ns: str, svc_name: str, host: str) -> list[str]:
        svc = self._get("services", ns, svc_name)
        if svc is None:
            return []
        return sorted({a["ip"] for a in self._addresses(svc) if a.get("hostname") == host and a.get("ip")},
                      key=_ip_key)

    def _addresses(self, svc: dict[str, Any]) -> list[dict[str, Any]]:
        meta = svc.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        eps = self._get("endpoints", ns, name)
        if eps is not None:
            return [a for s in eps.get("subsets") or [] for a in s.get("addresses") or []]
        return _addresses_from_pods(self.api, svc)


def _addresses_from_pods(api: Any, svc: dict[str, Any]) -> list[dict[str, Any]]:
    """What the endpoints controller would publish, for a cluster running without it."""
    spec = svc.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        return []
    ns = (svc.get("metadata") or {}).get("namespace", "")
    sel = selector_from_label_selector({"matchLabels": selector})
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    out = []
    entries, _ = api.store.list("pods", ns)
    for e in entries:
        pod = e.obj()
        meta, pspec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        if not sel.matches(meta.get("labels") or {}):
            continue
        ip = status.get("podIP")
        if not ip or status.get("phase") in ("Succeeded", "Failed"):
            continue
        if meta.get("deletionTimestamp") and not publish_not_ready:
            continue
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if not ready and not publish_not_ready:
            continue
        addr = {"ip": ip}
        if pspec.get("hostname") and pspec.get("subdomain") == (svc.get("metadata") or {}).get("name"):
            addr["hostname"] = pspec["hostname"]
        out.append(addr)
    return out


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in ip.split("."))
    except ValueError:
        return (999,)


def ensure_cluster_dns(extra: dict[str, Any], api: Any) -> list[Any]:
    """The shared resolver list of a cluster, with its own cluster DNS in it (once)."""
    with _LOCK:
        resolvers = extra.setdefault("dns_resolvers", [])
        if not any(getattr(r, "kubesim_cluster_dns", False) for r in resolvers):
            resolvers.insert(0, ClusterDNS(api))
        return resolvers
