"""A container's environment, resolved as the kubelet does (``kubelet_pods.go makeEnvironmentVariables``).

Order: service links (``<SVC>_SERVICE_HOST`` ..., when ``enableServiceLinks``
is not false), ``envFrom`` sources, then ``env`` entries; ``$(VAR)`` in values,
command and args expands to earlier variables (``$$`` escapes), as
``k8s.io/kubernetes/third_party/forked/golang/expansion`` does. Failures are
:class:`ConfigError` with the kubelet's text; the container then waits with
reason ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import math
import re
from fractions import Fraction
from typing import Any

from ..defaults import quantity


class ConfigError(Exception):
    """The container cannot be configured yet (reason CreateContainerConfigError)."""


_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """``$(VAR)`` -> value when defined (else left as is); ``$$`` -> ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _REF.sub(sub, text)


def _get(api: Any, key: str, ns: str, name: str) -> dict[str, Any] | None:
    """The object's shared read-only view (everything here only reads; see ``Entry.view``)."""
    entry = api.store.get(key, ns, name)
    return None if entry is None else entry.view()


def field_value(pod: dict[str, Any], path: str, volume: bool = False) -> str:
    """A downward API ``fieldRef`` (env or volume file)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(items.items()))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []) or status.get("hostIP", ""),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []) or status.get("podIP", ""),
    }
    return str(simple.get(path, ""))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def resource_value(pod: dict[str, Any], ref: dict[str, Any], container: dict[str, Any] | None = None,
                   allocatable: dict[str, str] | None = None) -> str:
    """A ``resourceFieldRef`` (``limits.cpu`` ...), rounded up by its divisor as the kubelet does."""
    name = ref.get("containerName")
    if container is None or (name and container.get("name") != name):
        for c in (pod.get("spec") or {}).get("containers") or []:
            if not name or c.get("name") == name:
                container = c
                break
    res = (container or {}).get("resources") or {}
    kind, _, what = (ref.get("resource") or "").partition(".")
    raw = (res.get(kind) or {}).get(what)
    if raw is None and kind == "requests":
        raw = (res.get("limits") or {}).get(what)
    if raw is None:
        raw = (allocatable or {}).get(what, "0")
    try:
        v = quantity.value(raw)
        div = quantity.value(ref.get("divisor") or "1") or Fraction(1)
    except quantity.QuantityError:
        return "0"
    return str(math.ceil(v / div))


def resolve(ctx: Any, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment (ordered as the kubelet builds it)."""
    api = ctx.api
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns = meta.get("namespace", "default")
    env: dict[str, str] = {}
    if spec.get("enableServiceLinks", True) is not False:
        env.update(service_links(api, ns))
    else:
        env.update(service_links(api, ns, only_master=True))
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"] or {}
            obj = _get(api, "configmaps", ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'configmap "{ref.get("name", "")}" not found')
            for k, v in (obj.get("data") or {}).items():
                env[prefix + k] = str(v)
        elif "secretRef" in src:
            ref = src["secretRef"] or {}
            obj = _get(api, "secrets", ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'secret "{ref.get("name", "")}" not found')
            for k, v in (obj.get("data") or {}).items():
                env[prefix + k] = base64.b64decode(v).decode("utf-8", "replace")
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "valueFrom" not in item or item.get("valueFrom") is None:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        vf = item["valueFrom"] or {}
        if vf.get("fieldRef"):
            env[name] = field_value(pod, (vf["fieldRef"] or {}).get("fieldPath", ""))
        elif vf.get("resourceFieldRef"):
            env[name] = resource_value(pod, vf["resourceFieldRef"] or {}, container, _allocatable(api, spec))
        elif vf.get("configMapKeyRef"):
            ref = vf["configMapKeyRef"] or {}
            value = _key_ref(api, ns, "configmaps", "ConfigMap", "configmap", ref)
            if value is not None:
                env[name] = value
        elif vf.get("secretKeyRef"):
            ref = vf["secretKeyRef"] or {}
            value = _key_ref(api, ns, "secrets", "Secret", "secret", ref)
            if value is not None:
                env[name] = value
    return env


def _key_ref(api: Any, ns: str, key: str, kind: str, lower: str, ref: dict[str, Any]) -> str | None:
    obj = _get(api, key, ns, ref.get("name", ""))
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{lower} "{ref.get("name", "")}" not found')
    k = ref.get("key", "")
    data = obj.get("data") or {}
    if k in data:
        return str(data[k]) if key == "configmaps" else base64.b64decode(data[k]).decode("utf-8", "replace")
    if key == "configmaps" and k in (obj.get("binaryData") or {}):
        return base64.b64decode(obj["binaryData"][k]).decode("utf-8", "replace")
    if optional:
        return None
    raise ConfigError(f"couldn't find key {k} in {kind} {ns}/{ref.get('name', '')}")


def _allocatable(api: Any, spec: dict[str, Any]) -> dict[str, str]:
    node = _get(api, "nodes", "", spec.get("nodeName", "")) if spec.get("nodeName") else None
    return ((node or {}).get("status") or {}).get("allocatable") or {}


def service_links(api: Any, ns: str, only_master: bool = False) -> dict[str, str]:
    """Docker-link style variables for services (``kubelet_pods.go getServiceEnvVarMap``, envvars.go)."""
    out: dict[str, str] = {}
    services = []
    kube = _get(api, "services", "default", "kubernetes")
    if kube is not None:
        services.append(kube)
    if not only_master:
        entries, _ = api.store.list("services", ns)
        services.extend(e.view() for e in entries
                        if not (ns == "default" and e.name == "kubernetes"))
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        ports = spec.get("ports") or []
        if not ports:
            continue
        prefix = re.sub(r"-", "_", (svc.get("metadata") or {}).get("name", "")).upper()
        first = ports[0]
        out[f"{prefix}_SERVICE_HOST"] = ip
        out[f"{prefix}_SERVICE_PORT"] = str(first.get("port"))
        for p in ports:
            if p.get("name"):
                out[f"{prefix}_SERVICE_PORT_{p['name'].replace('-', '_').upper()}"] = str(p.get("port"))
        proto = (first.get("protocol") or "TCP").lower()
        out[f"{prefix}_PORT"] = f"{proto}://{ip}:{first.get('port')}"
        for p in ports:
            pr = (p.get("protocol") or "TCP")
            base = f"{prefix}_PORT_{p.get('port')}_{pr.upper()}"
            out[base] = f"{pr.lower()}://{ip}:{p.get('port')}"
            out[base + "_PROTO"] = pr.lower()
            out[base + "_PORT"] = str(p.get("port"))
            out[base + "_ADDR"] = ip
    return out
