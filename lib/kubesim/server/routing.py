"""URL paths of the Kubernetes REST API, parsed into what they address.

Shapes (apiserver ``endpoints/installer.go``)::

    /api/v1[/namespaces/{ns}]/{plural}[/{name}[/{subresource}[/{rest...}]]]
    /apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{subresource}[/{rest...}]]]
    /api/v1/watch/...  (deprecated watch prefix)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..resources import Registry, ResourceType


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    rest: str = ""
    watch_prefix: bool = False

    @property
    def is_collection(self) -> bool:
        return self.name is None


def parse(registry: Registry, path: str) -> Target | None:
    """The resource a path addresses, or None when it addresses nothing served."""
    parts = [p for p in path.split("/")]
    if parts and parts[0] == "":
        parts = parts[1:]
    trailing = path.endswith("/") and len(parts) > 1
    if trailing:
        parts = parts[:-1]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3 or parts[1] != "v1":
            return None
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch = True
        rest = rest[1:]
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns_rt = registry.get(group, version, "namespaces")
        # /namespaces/{name}/{sub} for the namespace's own subresources (status, finalize).
        if ns_rt is not None and rest[2] in ns_rt.subresources and len(rest) == 3:
            return Target(ns_rt, None, rest[1], rest[2], "", watch)
        namespace = rest[1]
        rest = rest[2:]
    plural = rest[0]
    rt = registry.get(group, version, plural)
    if rt is None:
        return None
    if namespace is not None and not rt.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    if name == "":
        return None
    if name is not None and rt.namespaced and namespace is None:
        return None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        return None
    remainder = "/".join(rest[3:]) if len(rest) > 3 else ""
    if remainder and sub != "proxy":
        return None
    if sub == "proxy" and trailing and not remainder:
        remainder = ""
    return Target(rt, namespace, name, sub, remainder, watch)
