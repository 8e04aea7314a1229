"""Discovery documents, generated from the resource registry (API-01, API-02).

Both shapes are served: the legacy ``APIVersions``/``APIGroupList``/
``APIResourceList`` documents, and aggregated discovery
(``apidiscovery.k8s.io/v2`` ``APIGroupDiscoveryList``) when the client's
Accept header asks for it, as kubectl ≥1.30 does; clients pick the format from
the response Content-Type (client-go ``discovery_client.go``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..resources import GROUP_ORDER, Registry, ResourceType

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# subresource -> (group, version, kind, verbs); None group/kind means "the parent's".
_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, tuple[str, ...]]] = {
    "status": (None, None, None, ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "log": ("", "v1", "Pod", ("get",)),
    "exec": ("", "v1", "PodExecOptions", ("create", "get")),
    "attach": ("", "v1", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "v1", "PodPortForwardOptions", ("create", "get")),
    "binding": ("", "v1", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "ephemeralcontainers": ("", "v1", "Pod", ("get", "patch", "update")),
    "resize": ("", "v1", "Pod", ("get", "patch", "update")),
    "finalize": ("", "v1", "Namespace", ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}
_PROXY_KINDS = {"pods": "PodProxyOptions", "services": "ServiceProxyOptions", "nodes": "NodeProxyOptions"}
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")


def _sub_info(rt: ResourceType, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    if sub == "proxy":
        return "", "v1", _PROXY_KINDS.get(rt.plural, "PodProxyOptions"), _PROXY_VERBS
    g, v, k, verbs = _SUBRESOURCES.get(sub, (None, None, None, ("get",)))
    return (rt.group if g is None else g, rt.version if v is None else v, rt.kind if k is None else k, verbs)


def storage_version_hash(rt: ResourceType) -> str:
    """An opaque hash of the storage version, as clients only compare it for equality."""
    return hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()[:8].hex()[:11]


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _sorted_groups(registry: Registry) -> list[tuple[str, list[str]]]:
    groups = [(g, vs) for g, vs in registry.groups().items() if g]

    def order(item: tuple[str, list[str]]) -> tuple[int, str]:
        g = item[0]
        return (GROUP_ORDER.index(g) if g in GROUP_ORDER else len(GROUP_ORDER), g)

    return sorted(groups, key=order)


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = []
    for g, versions in _sorted_groups(registry):
        doc = api_group(g, versions)
        doc.pop("kind")
        doc.pop("apiVersion")
        groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = sorted(registry.in_group_version(group, version), key=lambda rt: rt.plural)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": sorted(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = storage_version_hash(rt)
        resources.append(entry)
        for sub in sorted(rt.subresources):
            g, v, k, verbs = _sub_info(rt, sub)
            s: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                                 "kind": k, "verbs": list(verbs)}
            if g != rt.group or v != rt.version:
                s["group"] = g
                s["version"] = v
            resources.append(s)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": sorted(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in sorted(rt.subresources):
        g, v, k, verbs = _sub_info(rt, sub)
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                     "verbs": list(verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def _aggregated_group(registry: Registry, group: str, versions: list[str]) -> dict[str, Any]:
    vers = []
    for v in versions:
        types = sorted(registry.in_group_version(group, v), key=lambda rt: rt.plural)
        vers.append({"version": v, "resources": [_aggregated_resource(rt) for rt in types],
                     "freshness": "Current"})
    meta: dict[str, Any] = {"creationTimestamp": None}
    if group:
        meta["name"] = group
    return {"metadata": meta, "versions": vers}


def aggregated(registry: Registry, legacy: bool) -> dict[str, Any]:
    """``/api`` (legacy=True: the core group only) or ``/apis`` as an APIGroupDiscoveryList."""
    if legacy:
        items = [_aggregated_group(registry, "", ["v1"])]
    else:
        items = [_aggregated_group(registry, g, vs) for g, vs in _sorted_groups(registry)]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def wants_aggregated(accept: str) -> bool:
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and "v=v2" in p and "g=apidiscovery.k8s.io" in p:
            return True
    return False
