"""The HTTPS front of kubesim: authentication, content negotiation and REST dispatch.

Everything here is protocol: parse the request, call ``kubesim.api``, encode
the answer (JSON, server-side Table, PartialObjectMetadata), and turn every
failure into a ``Status`` (never a 500 for bad input, never a dropped
connection). The server runs its own asyncio loop on a background thread so a
cluster can be embedded in a test, a notebook or the sandbox daemon alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import logging
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from .. import scale as scale_sub
from ..api import MAX_BODY, Api, DeleteOptions, Request
from ..errors import ApiError, BadRequest, InternalError, MethodNotAllowed, PathNotFound, TooLarge, Unauthorized
from ..errors import UnsupportedMedia
from . import discovery, protobuf, routing
from .certs import Credentials
from .negotiation import Negotiated, negotiate
from .watch import serve_watch

log = logging.getLogger("kubesim.server")

TokenCheck = Callable[[str], bool]
SubresourceHandler = Callable[[web.Request, routing.Target, "ApiServer"], Awaitable[web.StreamResponse]]

_JSON = "application/json"
_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
_PUBLIC = ("/healthz", "/livez", "/readyz", "/version")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class ServerInfo:
    version: tuple[int, int] = (1, 33)
    extra_tokens: list[TokenCheck] = field(default_factory=list)


class ApiServer:
    """One cluster's API server on 127.0.0.1."""

    def __init__(self, api: Api, creds: Credentials, *, k8s_version: tuple[int, int] = (1, 33),
                 host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("kubesim binds to loopback only")
        self.api = api
        self.creds = creds
        self.k8s_version = k8s_version
        self.host = host
        self.port = port
        self.token_checks: list[TokenCheck] = []
        self.subresource_handlers: dict[str, SubresourceHandler] = {}
        # Collections with their own semantics (create-only ``bindings``), keyed by storage key.
        self.collection_handlers: dict[str, SubresourceHandler] = {}
        self.control_handler: Callable[[web.Request, "ApiServer"], Awaitable[web.StreamResponse]] | None = None
        self.healthy: Callable[[], bool] = lambda: True
        self.bookmark_interval = 10.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopping: asyncio.Event | None = None
        self._openapi_cache: dict[tuple[int, str], tuple[bytes, str]] = {}
        # Reachability (see set_available): the live site, or the placeholder socket of a lost server.
        self._available = True
        self._site: web.SockSite | None = None
        self._tls: ssl.SSLContext | None = None
        self._hole: socket.socket | None = None
        self._hole_mode = ""
        # Requests waiting for their revision to be committed (see durable()): (rv, seq, future).
        self._durable_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._durable_seq = 0
        self._durable_hooked = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def available(self) -> bool:
        """False while the server is unreachable (see :meth:`set_available`).

        Assigning it is ``set_available(value, mode="reset")``: connections are dropped at
        once, as this flag always did; use ``set_available`` for the black-hole mode.
        """
        return self._available

    @available.setter
    def available(self, value: bool) -> None:
        self.set_available(bool(value), mode="reset")

    def set_available(self, available: bool, mode: str = "timeout") -> None:
        """Make the server unreachable, as a lost cluster's API server is, or reachable again.

        Unreachable: the listening socket is replaced by a placeholder on the same port and
        every open connection (watches and exec streams included) is reset. ``mode`` says
        what a new connection meets: ``timeout`` (a black hole: the kernel completes the TCP
        handshake but nothing ever answers, so a client waits until its own timeout; once the
        backlog is full even connecting times out) or ``reset`` (accepted and reset at once).
        Reachable again: the server listens on the same port, so kubeconfigs stay valid.
        The cluster itself keeps running either way (its controllers and kubelets talk to it
        in process): only clients outside lose it.
        """
        if mode not in ("timeout", "reset"):
            raise ValueError(f"mode must be 'timeout' or 'reset', not {mode!r}")
        loop = self._loop
        if loop is None or self._stopping is None or loop.is_closed():
            self._available = available  # not serving yet: applied when it starts
            return
        fut = asyncio.run_coroutine_threadsafe(self._set_available(available, mode), loop)
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if not on_loop:
            fut.result(15)

    async def _set_available(self, available: bool, mode: str) -> None:
        if available == self._available and (available or (self._hole is not None and mode == self._hole_mode)):
            return
        loop = asyncio.get_running_loop()
        self._available = available
        if not available:
            if self._site is not None:
                await self._site.stop()
                self._site = None
            server = self._runner.server if self._runner is not None else None
            for handler in list(server.connections if server is not None else []):
                transport = handler.transport
                handler.force_close()
                if transport is not None:
                    transport.abort()
            self._close_hole()
            hole = self._listen_socket(backlog=16)
            if mode == "reset":
                hole.setblocking(False)
                loop.add_reader(hole.fileno(), self._reset_pending, hole)
            self._hole, self._hole_mode = hole, mode
            log.info("API server %s unreachable (%s)", self.url, mode)
        else:
            self._close_hole()
            await self._start_site()
            log.info("API server %s reachable again", self.url)

    def _reset_pending(self, hole: socket.socket) -> None:
        """Accept what the placeholder queued and reset it at once (RST, no TLS)."""
        import struct

        while True:
            try:
                conn, _ = hole.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                conn.close()

    def _close_hole(self) -> None:
        hole, self._hole = self._hole, None
        if hole is None:
            return
        try:
            asyncio.get_running_loop().remove_reader(hole.fileno())
        except (RuntimeError, ValueError, OSError):
            pass
        hole.close()

    def _listen_socket(self, backlog: int = 512) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(backlog)
        self.port = sock.getsockname()[1]
        return sock

    async def _start_site(self) -> None:
        assert self._runner is not None
        if self._tls is None:
            self._tls = self._ssl_context()
        site = web.SockSite(self._runner, self._listen_socket(), ssl_context=self._tls, backlog=512)
        await site.start()
        self._site = site

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubesim-apiserver", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._start_error is not None:
            raise self._start_error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._start_error = exc
            self._started.set()
        finally:
            # Open watch streams are tasks still waiting on their queues: end them first.
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.NamedTemporaryFile("wb", delete=True) as cert, \
                tempfile.NamedTemporaryFile("wb", delete=True) as key:
            cert.write(self.creds.cert_pem)
            cert.flush()
            key.write(self.creds.key_pem)
            key.flush()
            ctx.load_cert_chain(cert.name, key.name)
        # HTTP/1.1 only: kubectl speaks it fine and aiohttp serves nothing else.
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_BODY * 4, middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        if self._available:
            await self._start_site()
        else:  # made unreachable before it started
            self._available = True
            await self._set_available(False, "timeout")
        self._stopping = asyncio.Event()
        self._started.set()
        await self._stopping.wait()
        self._close_hole()
        await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(10)

    # -- middleware ------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._available:
            # A request that raced set_available(False): hang up without answering.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        try:
            if not request.path.startswith(_PUBLIC) and not self._authenticated(request):
                raise Unauthorized()
            return await handler(request)
        except ApiError as err:
            return self.error_response(err)
        except web.HTTPException:
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # a bug in kubesim: still a Status, and logged
            log.exception("internal error on %s %s", request.method, request.path)
            return self.error_response(InternalError(f"{type(exc).__name__}: {exc}"))

    def _authenticated(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        token = auth[7:].strip()
        if token == self.creds.token:
            return True
        return any(check(token) for check in self.token_checks)

    @staticmethod
    def error_response(err: ApiError) -> web.Response:
        resp = web.Response(body=dumps(err.status()), status=err.code, content_type=_JSON)
        for k, v in err.headers.items():
            resp.headers[k] = v
        return resp

    # -- dispatch --------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            ok = self.healthy()
            return web.Response(text="ok" if ok else "not ready", status=200 if ok else 500,
                                content_type="text/plain")
        if path == "/version" or path == "/version/":
            return self._json(self.version_info())
        if path in ("/api", "/api/"):
            if discovery.wants_aggregated(request.headers.get("Accept", "")):
                return self._raw(dumps(discovery.aggregated(self.api.registry, legacy=True)),
                                 discovery.AGGREGATED_CT)
            return self._json(discovery.api_versions(f"{self.host}:{self.port}"))
        if path in ("/apis", "/apis/"):
            if discovery.wants_aggregated(request.headers.get("Accept", "")):
                return self._raw(dumps(discovery.aggregated(self.api.registry, legacy=False)),
                                 discovery.AGGREGATED_CT)
            return self._json(discovery.api_group_list(self.api.registry))
        if path.startswith("/openapi/"):
            return self._openapi(request)
        if path.startswith("/kubesim/") and self.control_handler is not None:
            return await self.control_handler(request, self)
        parts = [p for p in path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list(self.api.registry, "", parts[1])
            if doc is None:
                raise PathNotFound(path)
            return self._json(doc)
        if parts[0] == "apis" and len(parts) == 2:
            versions = self.api.registry.groups().get(parts[1])
            if not versions or not parts[1]:
                raise PathNotFound(path)
            return self._json(discovery.api_group(parts[1], versions))
        if parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(self.api.registry, parts[1], parts[2])
            if doc is None:
                raise PathNotFound(path)
            return self._json(doc)
        target = routing.parse(self.api.registry, path)
        if target is None:
            raise PathNotFound(path)
        if target.is_collection and target.rt.key in self.collection_handlers:
            return await self.collection_handlers[target.rt.key](request, target, self)
        if target.subresource and target.subresource not in ("status", "scale", "finalize"):
            handler = self.subresource_handlers.get(f"{target.rt.key}/{target.subresource}")
            if handler is None:
                raise MethodNotAllowed(request.method, target.subresource)
            return await handler(request, target, self)
        return await self._resource(request, target)

    def version_info(self) -> dict[str, Any]:
        major, minor = self.k8s_version
        return {"major": str(major), "minor": str(minor), "emulationMajor": str(major),
                "emulationMinor": str(minor), "minCompatibilityMajor": str(major),
                "minCompatibilityMinor": str(minor - 1), "gitVersion": f"v{major}.{minor}.0+kubesim",
                "gitCommit": "kubesim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "python", "compiler": "kubesim", "platform": "linux/amd64"}

    @staticmethod
    def _json(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
        resp = web.Response(body=dumps(obj), status=status, content_type=_JSON)
        if warnings:
            _add_warnings(resp, warnings)
        return resp

    @staticmethod
    def _raw(body: bytes, content_type: str, status: int = 200) -> web.Response:
        resp = web.Response(body=body, status=status)
        resp.headers["Content-Type"] = content_type
        return resp

    # -- openapi ---------------------------------------------------------------------------
    def _openapi(self, request: web.Request) -> web.Response:
        from .. import openapi

        path = request.path.rstrip("/")
        reg = self.api.registry
        if path == "/openapi/v3":
            gvs = [(rt.group, rt.version) for rt in reg.all()]
            gvs = sorted(set(gvs))
            root = openapi.v3_root(gvs, lambda g, v: self._openapi_doc(g, v)[1])
            return self._json(root)
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/"):].split("/")
            if rest[0] == "api" and len(rest) == 2:
                group, version = "", rest[1]
            elif rest[0] == "apis" and len(rest) == 3:
                group, version = rest[1], rest[2]
            else:
                raise PathNotFound(path)
            if not reg.in_group_version(group, version):
                raise PathNotFound(path)
            body, etag = self._openapi_doc(group, version)
            resp = self._raw(body, _JSON)
            resp.headers["Etag"] = f'"{etag}"'
            return resp
        raise PathNotFound(path)

    def _openapi_doc(self, group: str, version: str) -> tuple[bytes, str]:
        from .. import openapi

        key = (self.api.registry.generation, f"{group}/{version}")
        cached = self._openapi_cache.get(key)
        if cached is None:
            doc = openapi.v3_document(self.api.schemas, self.api.registry.in_group_version(group, version),
                                      group, version)
            body = dumps(doc)
            cached = (body, hashlib.sha512(body).hexdigest()[:64].upper())
            self._openapi_cache = {k: v for k, v in self._openapi_cache.items() if k[0] == key[0]}
            self._openapi_cache[key] = cached
        return cached

    # -- resources -------------------------------------------------------------------------
    def _request_options(self, request: web.Request) -> Request:
        q = request.query
        req = Request(user_agent=request.headers.get("User-Agent", ""))
        req.field_manager = q.get("fieldManager") or None
        fv = q.get("fieldValidation")
        if fv:
            if fv not in ("Ignore", "Warn", "Strict"):
                raise BadRequest(f"fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"{fv}\"")
            req.field_validation = fv
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise BadRequest(f"dryRun: Unsupported value: \"{d}\": supported values: \"All\"")
        req.dry_run = bool(dry)
        req.force = _bool(q.get("force"))
        return req

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise TooLarge(MAX_BODY)
        # StreamReader.read(n) returns what has arrived so far (up to n bytes), not the
        # whole body: a large body sent in several TCP segments must be read to EOF.
        chunks: list[bytes] = []
        total = 0
        try:
            while total <= MAX_BODY:
                chunk = await request.content.read(MAX_BODY + 1 - total)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except (ValueError, asyncio.LimitOverrunError):
            raise TooLarge(MAX_BODY)
        if total > MAX_BODY:
            raise TooLarge(MAX_BODY)
        return b"".join(chunks)

    def _decode_body(self, request: web.Request, data: bytes, default: tuple[str, str] | None = None) -> Any:
        """JSON, YAML or Kubernetes protobuf (what client-go's typed clients send) into a dict."""
        ctype = (request.headers.get("Content-Type") or _JSON).split(";")[0].strip().lower()
        if ctype == protobuf.CONTENT_TYPE:
            return protobuf.decode_request(data, default=default)
        if ctype in ("application/json", "*/*", ""):
            try:
                return json.loads(data or b"null")
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"couldn't get version/kind; json parse error: {_json_error(exc)}")
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            import yaml

            try:
                return yaml.safe_load(data.decode("utf-8"))
            except Exception as exc:
                raise BadRequest(f"couldn't get version/kind; yaml parse error: {exc}")
        raise UnsupportedMedia(ctype, ["application/json", "application/yaml",
                                       "application/vnd.kubernetes.protobuf"])

    async def _resource(self, request: web.Request, t: routing.Target) -> web.StreamResponse:
        method = request.method
        neg = negotiate(request.headers.get("Accept", ""))
        q = request.query
        api = self.api
        rt = t.rt
        if t.watch_prefix or (t.is_collection and method == "GET" and _bool(q.get("watch"))) or \
                (not t.is_collection and method == "GET" and _bool(q.get("watch"))):
            return await serve_watch(self, request, t, neg)
        if t.subresource == "scale":
            return await self._scale(request, t)
        if t.is_collection:
            if method == "GET":
                resp = self._list(request, t, neg)
                await self.durable(api.store.resource_version)
                return resp
            if method == "POST":
                if "create" not in rt.verbs:
                    raise MethodNotAllowed(method, rt.plural)
                if rt.namespaced and t.namespace is None:
                    raise MethodNotAllowed(method, rt.plural)
                req = self._request_options(request)
                body = self._decode_body(request, await self._body(request), (rt.api_version, rt.kind))
                obj = await self._call(api.create, rt, t.namespace, body, req)
                return self._object_response(rt, obj, neg, 201, req.warnings)
            if method == "DELETE":
                if "deletecollection" not in rt.verbs:
                    raise MethodNotAllowed(method, rt.plural)
                opts = await self._delete_options(request)
                out = await self._call(api.delete_collection, rt, t.namespace, opts,
                                       label_selector=q.get("labelSelector"), field_selector=q.get("fieldSelector"))
                return self._json(out)
            raise MethodNotAllowed(method, rt.plural)
        name = t.name or ""
        sub = t.subresource
        if method == "GET":
            obj = api.get(rt, t.namespace, name)
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or "0")
            await self.durable(int(rv) if rv.isdigit() else api.store.resource_version)
            return self._object_response(rt, obj, neg, 200)
        if method == "PUT":
            req = self._request_options(request)
            body = self._decode_body(request, await self._body(request), (rt.api_version, rt.kind))
            obj = await self._call(api.update, rt, t.namespace, name, body, req, subresource=sub)
            return self._object_response(rt, obj, neg, 200, req.warnings)
        if method == "PATCH":
            req = self._request_options(request)
            ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype not in _PATCH_TYPES and ctype != "application/apply-patch+cbor":
                raise UnsupportedMedia(ctype, _PATCH_TYPES)
            data = await self._body(request)
            obj, created = await self._call(api.patch, rt, t.namespace, name, ctype, data, req, subresource=sub)
            return self._object_response(rt, obj, neg, 201 if created else 200, req.warnings)
        if method == "DELETE":
            if sub:
                raise MethodNotAllowed(method, sub)
            opts = await self._delete_options(request)
            out, code = await self._call(api.delete, rt, t.namespace, name, opts)
            if out.get("kind") == "Status":
                return self._json(out, code)
            return self._object_response(rt, out, neg, code)
        raise MethodNotAllowed(method, rt.plural)

    async def durable(self, rv: int) -> None:
        """Wait until revision ``rv`` is committed (group commit, see ``kubesim.store``) before a client
        is shown what was written or read: nothing a SIGKILL could take back is ever visible outside."""
        store = self.api.store
        if store.durable_rv >= rv:
            return
        # Commit inline (a fraction of a millisecond, batched with whatever else is queued) rather
        # than wait for the writer thread: two thread handoffs less per request under load.
        store.commit_now()
        if store.durable_rv >= rv:
            return
        loop = asyncio.get_running_loop()
        if not self._durable_hooked:
            self._durable_hooked = True

            def committed(top: int) -> None:  # the store's writer thread
                if self._durable_waiters and not loop.is_closed():
                    loop.call_soon_threadsafe(self._durable_reached, top)
            store.on_commit(committed)
        fut: asyncio.Future[None] = loop.create_future()
        self._durable_seq += 1
        heapq.heappush(self._durable_waiters, (rv, self._durable_seq, fut))
        if store.durable_rv >= rv:  # committed between the check and the registration
            self._durable_reached(store.durable_rv)
        try:
            await asyncio.wait_for(fut, 30.0)
        except asyncio.TimeoutError:
            log.warning("revision %d not committed after 30 s", rv)

    def _durable_reached(self, top: int) -> None:
        waiters = self._durable_waiters
        while waiters and waiters[0][0] <= top:
            fut = heapq.heappop(waiters)[2]
            if not fut.done():
                fut.set_result(None)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an API operation; writes are quick, so they run inline on the loop.

        The answer leaves only once the write is committed (group commit): the loop waits for
        that without blocking, so other requests are served meanwhile.
        """
        store = self.api.store
        before = store.resource_version
        try:
            with store.deferred():
                out = fn(*args, **kwargs)
        finally:
            after = store.resource_version
            await self.durable(after)
        failed = store.commit_failed(before, after) if after > before else None
        if failed is not None:
            raise InternalError(f"storage error: the write was not committed: {failed}")
        return out

    def _object_response(self, rt: Any, obj: dict[str, Any], neg: Negotiated, status: int,
                         warnings: list[str] | None = None) -> web.Response:
        if neg.table:
            from .. import clock, tables

            body = tables.table(rt, [obj], resource_version=obj.get("metadata", {}).get("resourceVersion", ""),
                                now=clock.now(), include_object=neg.include_object)
            return self._json(body, status, warnings)
        if neg.partial:
            return self._json(_partial(obj), status, warnings)
        return self._json(obj, status, warnings)

    def _list(self, request: web.Request, t: routing.Target, neg: Negotiated) -> web.Response:
        q = request.query
        api = self.api
        rt = t.rt
        limit = _int(q.get("limit"), "limit")
        entries, rv, cont, remaining = api.list(rt, t.namespace, label_selector=q.get("labelSelector"),
                                                field_selector=q.get("fieldSelector"), limit=limit,
                                                continue_token=q.get("continue"))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
        if remaining:
            meta["remainingItemCount"] = remaining
        if neg.table:
            from .. import clock, tables

            objs = [api._entry_obj(rt, e) for e in entries]
            include = q.get("includeObject") or neg.include_object
            body = tables.table(rt, objs, resource_version=str(rv), now=clock.now(), include_object=include,
                                continue_token=cont, remaining=remaining)
            return self._json(body)
        if neg.partial:
            items = [_partial(api._entry_obj(rt, e)) for e in entries]
            return self._json({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                               "metadata": meta, "items": items})
        head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})[:-1]
        if api.registry.by_key(rt.key) is rt and rt.crd is None:
            items = b",".join(e.raw for e in entries)
        else:
            items = b",".join(dumps(api._entry_obj(rt, e)) for e in entries)
        return self._raw(head + b',"items":[' + items + b"]}", _JSON)

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        q = request.query
        opts = DeleteOptions()
        data = await self._body(request)
        if data.strip():
            body = self._decode_body(request, data, ("meta.k8s.io/v1", "DeleteOptions"))
            if not isinstance(body, dict):
                raise BadRequest("the body of a delete request must be a DeleteOptions object")
            opts.grace_period = _int(body.get("gracePeriodSeconds"), "gracePeriodSeconds")
            opts.propagation = body.get("propagationPolicy")
            opts.orphan_dependents = body.get("orphanDependents")
            pre = body.get("preconditions") or {}
            opts.precondition_uid = pre.get("uid")
            opts.precondition_rv = pre.get("resourceVersion")
            opts.dry_run = bool(body.get("dryRun"))
        if "gracePeriodSeconds" in q:
            opts.grace_period = _int(q.get("gracePeriodSeconds"), "gracePeriodSeconds")
        if "propagationPolicy" in q:
            opts.propagation = q.get("propagationPolicy")
        if "orphanDependents" in q:
            opts.orphan_dependents = _bool(q.get("orphanDependents"))
        if q.getall("dryRun", []):
            opts.dry_run = True
        if opts.propagation not in (None, "Orphan", "Background", "Foreground"):
            raise BadRequest(f"propagationPolicy: Unsupported value: \"{opts.propagation}\": supported values: "
                             "\"Foreground\", \"Background\", \"Orphan\", \"nil\"")
        if opts.propagation and opts.orphan_dependents is not None:
            raise BadRequest("orphanDependents: Invalid value: false: orphanDependents and deletionPropagation "
                             "cannot be both set")
        return opts

    async def _scale(self, request: web.Request, t: routing.Target) -> web.Response:
        api = self.api
        name = t.name or ""
        method = request.method
        if method == "GET":
            return self._json(scale_sub.get_scale(api, t.rt, t.namespace, name))
        req = self._request_options(request)
        if method == "PUT":
            body = self._decode_body(request, await self._body(request), ("autoscaling/v1", "Scale"))
            return self._json(scale_sub.update_scale(api, t.rt, t.namespace, name, body, req))
        if method == "PATCH":
            ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype not in _PATCH_TYPES:
                raise UnsupportedMedia(ctype, _PATCH_TYPES)
            data = await self._body(request)
            return self._json(scale_sub.patch_scale(api, t.rt, t.namespace, name, ctype, data, req))
        raise MethodNotAllowed(method, "scale")


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def _add_warnings(resp: web.StreamResponse, warnings: list[str]) -> None:
    for w in warnings:
        resp.headers.add("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')


def _bool(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes")


def _int(v: Any, name: str) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise BadRequest(f"{name}: must be an integer")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise BadRequest(f"invalid value for {name}: \"{v}\": must be an integer")


def _json_error(exc: Exception) -> str:
    msg = str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid character looking for beginning of value ({exc.msg} at offset {exc.pos})"
    return msg
