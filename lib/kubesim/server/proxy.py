"""``pods/proxy`` and ``services/proxy``: the API server as an HTTP proxy to a container port.

``/api/v1/namespaces/<ns>/pods/[<scheme>:]<pod>[:<port>]/proxy/<path>`` and
``.../services/[<scheme>:]<svc>[:<port>]/proxy/<path>`` forward the method,
query, headers (minus hop-by-hop ones and ``Authorization``, which the API
server's authentication filter removes) and body to the port, and stream the
answer back unchanged (a ``Location`` of a redirect is rewritten to stay under
the proxy path).

Where the port "is": a workload process's real loopback port
(``runtime.endpoint(pod uid, port)``). A simulated container serves nothing,
so the answer is what a dial to a closed port gives; a node that is
partitioned or powered off (``ctx.faults.reachable``) is a dial that times out.

Upstream texts:

- pod (``pkg/registry/core/pod/strategy.go ResourceLocation``): ``invalid pod
  request "<id>"`` (400), ``address not allowed`` (400, no pod IP), port
  defaults to the first declared container port;
- service (``pkg/registry/core/service/storage/storage.go ResourceLocation``):
  a numeric port selects the service port by number (``no service port <n>
  found for service "<svc>"``, 503), then an endpoint port of that name in a
  random subset and address (``no endpoints available for service "<svc>"``, 503);
- dial failures (apimachinery ``pkg/util/proxy/transport.go``): 503
  ServiceUnavailable ``error trying to reach service: dial tcp <ip>:<port>:
  connect: connection refused`` (or ``i/o timeout``).
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from ..errors import ApiError, BadRequest, NotFound
from ..selectors import selector_from_label_selector

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
              "transfer-encoding", "upgrade", "proxy-connection"}
_DROP_REQUEST = HOP_BY_HOP | {"authorization", "host", "content-length"}
_DROP_RESPONSE = HOP_BY_HOP | {"content-length"}
_PATH = re.compile(r"^(/api/v1/namespaces/[^/]+/(?:pods|services)/[^/]+/proxy)(/.*)?$")
CHUNK = 64 * 1024


class ServiceUnavailable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 503, "ServiceUnavailable")


def split_scheme_name_port(id_: str) -> tuple[str, str, str] | None:
    """``utilnet.SplitSchemeNamePort``: ``name``, ``name:port``, ``scheme:name:port``; None if invalid."""
    parts = id_.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
        if scheme not in ("http", "https"):
            return None
    else:
        return None
    if not name:
        return None
    return scheme, name, port


def refused(ip: str, port: int | str) -> ServiceUnavailable:
    return ServiceUnavailable(f"error trying to reach service: dial tcp {ip}:{port}: connect: connection refused")


def timed_out(ip: str, port: int | str) -> ServiceUnavailable:
    return ServiceUnavailable(f"error trying to reach service: dial tcp {ip}:{port}: i/o timeout")


class Proxy:
    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    @property
    def ctx(self) -> Any:
        return self.cluster.ctx

    # -- pods ----------------------------------------------------------------------------
    async def pod(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        ident = t.name or ""
        parsed = split_scheme_name_port(ident)
        if parsed is None:
            raise BadRequest(f'invalid pod request "{ident}"')
        _, name, port = parsed
        api = server.api
        pod = api.get(api.rt("pods"), t.namespace, name)
        if not port:
            for c in (pod.get("spec") or {}).get("containers") or []:
                if c.get("ports"):
                    port = str(c["ports"][0].get("containerPort"))
                    break
        ip = (pod.get("status") or {}).get("podIP") or ""
        if not ip or ip.startswith("127.") or ip == "0.0.0.0":
            raise BadRequest("address not allowed")
        number = _container_port(pod, port) if port else 80
        if number is None:
            raise ServiceUnavailable(f"error trying to reach service: dial tcp: address {ip}:{port}: invalid port")
        return await self._forward(request, pod, number)

    # -- services ------------------------------------------------------------------------
    async def service(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        ident = t.name or ""
        parsed = split_scheme_name_port(ident)
        if parsed is None:
            raise BadRequest(f'invalid service request "{ident}"')
        _, name, port = parsed
        api = server.api
        svc = api.get(api.rt("services"), t.namespace, name)
        port_name = port
        if port.isdigit():
            match = [p for p in (svc.get("spec") or {}).get("ports") or [] if str(p.get("port")) == port]
            if not match:
                raise ServiceUnavailable(f'no service port {port} found for service "{name}"')
            port_name = match[0].get("name") or ""
        subsets = self._subsets(api, svc)
        if not subsets:
            raise ServiceUnavailable(f'no endpoints available for service "{name}"')
        start = random.randrange(len(subsets))
        for i in range(len(subsets)):
            ss = subsets[(start + i) % len(subsets)]
            addrs = ss.get("addresses") or []
            if not addrs:
                continue
            for p in ss.get("ports") or []:
                if (p.get("name") or "") == port_name:
                    addr = random.choice(addrs)
                    pod = self._pod_for(api, t.namespace or "", addr)
                    if pod is None:
                        raise refused(addr.get("ip", ""), p.get("port"))
                    return await self._forward(request, pod, int(p.get("port")))
        raise ServiceUnavailable(f'no endpoints available for service "{name}"')

    def _subsets(self, api: Any, svc: dict[str, Any]) -> list[dict[str, Any]]:
        meta = svc.get("metadata") or {}
        entry = api.store.get("endpoints", meta.get("namespace", ""), meta.get("name", ""))
        if entry is not None:
            return entry.obj().get("subsets") or []
        spec = svc.get("spec") or {}
        if not spec.get("selector"):
            raise NotFound("endpoints", "", meta.get("name", ""))
        # No endpoints controller running: select the ready pods directly.
        sel = selector_from_label_selector({"matchLabels": spec["selector"]})
        entries, _ = api.store.list("pods", meta.get("namespace", ""))
        out = []
        for e in entries:
            pod = e.obj()
            status = pod.get("status") or {}
            if not sel.matches((pod.get("metadata") or {}).get("labels") or {}) or not status.get("podIP"):
                continue
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
                continue
            ports = []
            for sp in spec.get("ports") or []:
                target = sp.get("targetPort", sp.get("port"))
                number = _container_port(pod, str(target))
                if number is not None:
                    ports.append({"name": sp.get("name") or "", "port": number})
            out.append({"addresses": [{"ip": status["podIP"], "targetRef": {
                "kind": "Pod", "name": (pod.get("metadata") or {}).get("name", "")}}], "ports": ports})
        return out

    @staticmethod
    def _pod_for(api: Any, namespace: str, addr: dict[str, Any]) -> dict[str, Any] | None:
        ref = addr.get("targetRef") or {}
        if ref.get("kind") == "Pod" and ref.get("name"):
            entry = api.store.get("pods", ref.get("namespace") or namespace, ref["name"])
            if entry is not None:
                return entry.obj()
        entries, _ = api.store.list("pods", namespace)
        for e in entries:
            pod = e.obj()
            if (pod.get("status") or {}).get("podIP") == addr.get("ip"):
                return pod
        return None

    # -- forwarding ----------------------------------------------------------------------
    async def _forward(self, request: web.Request, pod: dict[str, Any], port: int) -> web.StreamResponse:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        ip = status.get("podIP") or ""
        node = spec.get("nodeName") or ""
        faults = getattr(self.ctx, "faults", None)
        if not node or not ip or (faults is not None and not faults.reachable(node)):
            raise timed_out(ip, port)
        runtime = (self.ctx.extra.get("runtimes") or {}).get(node)
        ep = runtime.endpoint(meta.get("uid", ""), port) if runtime is not None else None
        if ep is None:
            raise refused(ip, port)
        m = _PATH.match(request.rel_url.raw_path)
        base, rest = (m.group(1), m.group(2) or "/") if m else ("", "/")
        url = f"http://{ep.host}:{ep.port}{rest}"
        if request.rel_url.raw_query_string:
            url += "?" + request.rel_url.raw_query_string
        headers = _filter(request.headers, _DROP_REQUEST)
        headers["X-Forwarded-For"] = request.remote or "127.0.0.1"
        body = await request.read()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)
        resp: web.StreamResponse | None = None
        try:
            async with aiohttp.ClientSession(auto_decompress=False, timeout=timeout) as session:
                async with session.request(request.method, url, headers=headers, data=body or None,
                                           allow_redirects=False) as upstream:
                    resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                    for k, v in upstream.headers.items():
                        if k.lower() in _DROP_RESPONSE:
                            continue
                        if k.lower() == "location" and v.startswith("/") and base:
                            v = base + v
                        resp.headers.add(k, v)
                    if upstream.headers.get("Content-Length") is not None:
                        resp.content_length = int(upstream.headers["Content-Length"])
                    await resp.prepare(request)
                    async for chunk in upstream.content.iter_chunked(CHUNK):
                        await resp.write(chunk)
                    await resp.write_eof()
                    return resp
        except (aiohttp.ClientError, ConnectionError, OSError) as exc:
            if resp is not None and resp.prepared:
                return resp  # the workload went away mid-answer: the client sees a short body, as upstream
            raise _classify(exc, ip, port) from None


def _classify(exc: BaseException, ip: str, port: int) -> ApiError:
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return timed_out(ip, port)
    if isinstance(exc, (aiohttp.ClientConnectorError, ConnectionRefusedError)):
        return refused(ip, port)
    return ServiceUnavailable(f"error trying to reach service: {exc}")


def _container_port(pod: dict[str, Any], port: str) -> int | None:
    """A port number, or a named container port's number."""
    if port.isdigit():
        return int(port)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == port:
                return int(p.get("containerPort"))
    return None


def _filter(headers: Any, drop: set[str]) -> dict[str, str]:
    extra = {h.strip().lower() for h in headers.get("Connection", "").split(",") if h.strip()}
    out: dict[str, str] = {}
    for k, v in headers.items():
        if k.lower() in drop or k.lower() in extra:
            continue
        out[k] = v if k not in out else out[k] + ", " + v
    return out


def register(cluster: Any) -> None:
    p = Proxy(cluster)
    cluster.server.subresource_handlers["pods/proxy"] = p.pod
    cluster.server.subresource_handlers["services/proxy"] = p.service
