"""``pods/exec`` over WebSocket, ``pods/log``, and clear refusals for ``pods/attach`` and ``pods/portforward``.

Exec (API-15). A client upgrades ``GET .../pods/<p>/exec?command=..&stdout=true``
to a WebSocket, offering subprotocols. Upstream, ``v5.channel.k8s.io`` is
served by the API server's stream translator (apiserver
``pkg/util/proxy/streamtranslator.go``, ``websocket.go``) and older
protocols by the kubelet's WebSocket server (``v4.channel.k8s.io`` ...
``channel.k8s.io``, ``base64.channel.k8s.io``); kubesim serves both here,
picking the first protocol the client offers that it knows (as
``wsstream.handshake`` does). kubectl >= 1.30 offers v5 first; the Python
client (kubernetes/base/stream/ws_client.py) offers ``v5,v4``.

Frames: the first byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 error,
4 resize; v5 adds 255 = close: ``[255, 0]`` closes stdin); base64 protocols
send text frames with the channel as an ASCII digit and a base64 payload
(apimachinery ``wsstream/conn.go``). At open the server writes an empty frame
on the lowest writable channel. At the end it writes a ``metav1.Status`` on
channel 3 (v4/v5: JSON; older: the error text, nothing on success), sends the
close frame and waits for the client to close (``conns.finish``).

Exit codes: v5 goes through the translator, which re-wraps the kubelet's
status (``codeExitToStatusError``): ``command terminated with non-zero exit
code: command terminated with exit code 3``; v4 talks to the kubelet directly,
which passes on containerd's text (``error executing command [sh -c exit 3],
exit code 3``). Both carry ``details.causes[0] = {reason: ExitCode, message:
"3"}``, which ``kubectl`` and the Python client's ``returncode`` read.

Errors before the upgrade are Status objects with upstream texts
(``pod/strategy.go streamLocation``, ``validateContainer``): 404 for a missing
pod, 400 ``pod <p> does not have a host assigned``, 400 ``a container name must
be specified for pod <p>, choose one of: [a b]``, 400 ``container <c> is not
valid for pod <p>``. A container that is not running is the kubelet's
``container not found ("<c>")``: after the upgrade as an InternalError status
on v5 (``Internal error occurred: unable to upgrade connection: container not
found ("c")``, what kubectl prints), before it as the kubelet's plain 500 on
older protocols. kubectl falls back to SPDY (POST) only when the WebSocket
upgrade fails; kubesim has no SPDY, so such a POST gets the same pre-upgrade
checks and then a 400 that says so.

Logs (PL-09): ``GET .../pods/<p>/log`` is text/plain with ``container``,
``follow``, ``previous``, ``timestamps``, ``sinceSeconds``, ``sinceTime``,
``tailLines``, ``limitBytes``; options are validated as
``ValidatePodLogOptions`` (422, kind PodLogOptions), the container as
``LogLocation``, and its state as the kubelet's
``validateContainerLogStatus`` (400 ``container "c" in pod "p" is waiting to
start: ContainerCreating`` ...). ``follow`` streams until the container exits
or restarts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from aiohttp import WSMsgType, web

from .. import clock
from ..errors import BadRequest, FieldError, Invalid, MethodNotAllowed, invalid
from ..runtime import shell as sh

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
PROTOCOLS = [V5, V4, "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", V4_BASE64, BASE64]
STATUS_JSON = (V5, V4, V4_BASE64)  # protocols whose error channel carries a metav1.Status

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
KUBELET_PORT = 10250
FRAME = 64 * 1024
FOLLOW_POLL = 0.1

SPDY_UNSUPPORTED = ("kubesim serves pods/exec over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io); SPDY is "
                    "not supported: use kubectl 1.30 or newer without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false")
ATTACH_UNSUPPORTED = ("kubesim does not support attach: its containers have no terminal or standard input to attach "
                      "to; use 'kubectl logs -f' to follow a container's output or 'kubectl exec' to run a command")
PORTFORWARD_UNSUPPORTED = ("kubesim does not support port-forward: reach a container port through the API server "
                           "proxy instead, e.g. kubectl get --raw /api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/")


def _bool(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes")


def status_success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def status_exit(code: int, argv: list[str], protocol: str) -> dict[str, Any]:
    """The NonZeroExitCode status (streamtranslator.go ``codeExitToStatusError`` / kubelet ``ServeExec``)."""
    if protocol == V5:
        inner = f"command terminated with exit code {code}"
    else:
        inner = f"error executing command [{' '.join(argv)}], exit code {code}"
    return {"metadata": {}, "status": "Failure", "message": f"command terminated with non-zero exit code: {inner}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def status_internal(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}


# -- shared checks ---------------------------------------------------------------------------
def container_names(pod: dict[str, Any]) -> list[str]:
    """Init, regular and ephemeral containers, as ``podutil.VisitContainers`` visits them."""
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []]


def validate_container(container: str, pod: dict[str, Any]) -> str:
    """``validateContainer`` in pkg/registry/core/pod/strategy.go."""
    name = (pod.get("metadata") or {}).get("name", "")
    if not container:
        containers = (pod.get("spec") or {}).get("containers") or []
        if len(containers) == 1:
            return containers[0].get("name", "")
        if not containers:
            raise BadRequest(f"a container name must be specified for pod {name}")
        raise BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                         f"[{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise BadRequest(f"container {container} is not valid for pod {name}")
    return container


def host_ip(server: "ApiServer", pod: dict[str, Any]) -> str:
    ip = (pod.get("status") or {}).get("hostIP")
    if ip:
        return ip
    node = server.api.store.get("nodes", "", (pod.get("spec") or {}).get("nodeName", ""))
    for a in ((node.obj().get("status") or {}).get("addresses") or []) if node else []:
        if a.get("type") == "InternalIP":
            return a.get("address", "")
    return "127.0.0.1"


def _status_of(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == container:
                return cs
    return None


def log_status_error(pod: dict[str, Any], container: str, previous: bool) -> str | None:
    """The kubelet's ``validateContainerLogStatus`` (kubelet_pods.go): None when logs can be read."""
    pod_name = (pod.get("metadata") or {}).get("name", "")
    cs = _status_of(pod, container)
    if cs is None:
        return f'container "{container}" in pod "{pod_name}" is not available'
    last = (cs.get("lastState") or {}).get("terminated")
    state = cs.get("state") or {}
    waiting, running, terminated = state.get("waiting"), state.get("running"), state.get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            return f'previous terminated container "{container}" in pod "{pod_name}" not found'
        return None
    if running is not None:
        return None
    if terminated is not None:
        if not terminated.get("containerID") and not (last and last.get("containerID")):
            return f'container "{container}" in pod "{pod_name}" is terminated'
        return None
    if last is not None:
        if not last.get("containerID"):
            return f'container "{container}" in pod "{pod_name}" is terminated'
        return None
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ErrImagePull":
            return f'container "{container}" in pod "{pod_name}" is waiting to start: image can\'t be pulled'
        if reason == "ImagePullBackOff":
            return (f'container "{container}" in pod "{pod_name}" is waiting to start: trying and failing to pull '
                    "image")
        return f'container "{container}" in pod "{pod_name}" is waiting to start: {reason}'
    return f'container "{container}" in pod "{pod_name}" is waiting to start - no logs yet'


def _unreachable(server: "ApiServer", pod: dict[str, Any], path: str) -> web.Response:
    """What the API server answers when it cannot reach the node's kubelet (ErrorToAPIStatus: reason unknown)."""
    ip = host_ip(server, pod)
    msg = f'Get "https://{ip}:{KUBELET_PORT}/{path}": dial tcp {ip}:{KUBELET_PORT}: i/o timeout'
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg, "code": 500}
    return server._json(body, 500)


class Streaming:
    """The handlers of one cluster (``cluster.ctx`` is read lazily: it is created after registration)."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    @property
    def ctx(self) -> Any:
        return self.cluster.ctx

    def runtime(self, node: str) -> Any:
        return (self.ctx.extra.get("runtimes") or {}).get(node)

    def reachable(self, node: str) -> bool:
        faults = getattr(self.ctx, "faults", None)
        return faults is None or faults.reachable(node)

    def _pod(self, server: "ApiServer", t: "Target") -> dict[str, Any]:
        return server.api.get(server.api.rt("pods"), t.namespace, t.name or "")

    # -- exec ----------------------------------------------------------------------------
    async def exec(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise MethodNotAllowed(request.method, "exec")
        pod = self._pod(server, t)
        q = request.query
        container = validate_container(q.get("container", ""), pod)
        name = (pod.get("metadata") or {}).get("name", "")
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            raise BadRequest(f"pod {name} does not have a host assigned")
        argv = q.getall("command", [])
        stdin, stdout, stderr, tty = (_bool(q.get(k)) for k in ("stdin", "stdout", "stderr", "tty"))
        if tty:
            stderr = False  # remotecommand NewOptions: tty and stderr together -> stderr dropped
        upgrade = request.headers.get("Upgrade", "").strip().lower()
        if upgrade.startswith("spdy"):
            raise BadRequest(SPDY_UNSUPPORTED)
        if upgrade != "websocket":
            raise BadRequest("Upgrade request required")
        if not argv:
            raise BadRequest("you must specify at least 1 command")
        if not (stdin or stdout or stderr):
            raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        protocol = next((p for p in offered if p in PROTOCOLS), None)
        if offered and protocol is None:
            raise BadRequest(f"requested protocol(s) are not supported: [{' '.join(offered)}]; "
                             f"supports [{' '.join(PROTOCOLS)}]")
        protocol = protocol or ""
        problem = self._exec_problem(server, pod, node, container)
        if problem is not None and protocol != V5:
            # The kubelet refuses before upgrading; the API server proxies its answer as is.
            if problem.startswith("error dialing backend"):
                body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": problem, "code": 500}
                return server._json(body, 500)
            return web.Response(status=500, text=problem.removeprefix("unable to upgrade connection: "),
                                content_type="text/plain")
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), autoping=True, compress=False,
                                   max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        session = _ExecSession(ws, protocol)
        try:
            await session.send(STDOUT if stdout else STDERR if stderr else ERROR, b"")
            if problem is not None:
                await session.finish(status_internal(problem))
                return ws
            code = await session.run(self.runtime(node), pod, container, argv, stdin, stdout, stderr, tty)
            if code is None:
                return ws
            if protocol in STATUS_JSON:
                await session.finish(status_success() if code == 0 else status_exit(code, argv, protocol))
            else:
                text = "" if code == 0 else status_exit(code, argv, protocol)["message"]
                await session.finish(text)
        except (ConnectionResetError, asyncio.CancelledError):
            session.stop.set()
            raise
        finally:
            session.stop.set()
        return ws

    def _exec_problem(self, server: "ApiServer", pod: dict[str, Any], node: str, container: str) -> str | None:
        if not self.reachable(node):
            return f"error dialing backend: dial tcp {host_ip(server, pod)}:{KUBELET_PORT}: i/o timeout"
        runtime = self.runtime(node)
        uid = (pod.get("metadata") or {}).get("uid", "")
        state = runtime.container_state(uid, container) if runtime is not None else None
        if state is None or state.state != "running":
            return f'unable to upgrade connection: container not found ("{container}")'
        return None

    # -- attach / portforward -------------------------------------------------------------
    async def attach(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        pod = self._pod(server, t)
        validate_container(request.query.get("container", ""), pod)
        if not (pod.get("spec") or {}).get("nodeName"):
            raise BadRequest(f"pod {(pod.get('metadata') or {}).get('name', '')} does not have a host assigned")
        raise BadRequest(ATTACH_UNSUPPORTED)

    async def portforward(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        pod = self._pod(server, t)
        if not (pod.get("spec") or {}).get("nodeName"):
            raise BadRequest(f"pod {(pod.get('metadata') or {}).get('name', '')} does not have a host assigned")
        raise BadRequest(PORTFORWARD_UNSUPPORTED)

    # -- logs ----------------------------------------------------------------------------
    async def log(self, request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        if request.method != "GET":
            raise MethodNotAllowed(request.method, "log")
        q = request.query
        name = t.name or ""
        opts = _log_options(q, name)
        pod = self._pod(server, t)
        container = validate_container(q.get("container", ""), pod)
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if not node:
            return web.Response(body=b"", content_type="text/plain")
        if not self.reachable(node):
            return _unreachable(server, pod, f"containerLogs/{t.namespace}/{name}/{container}")
        problem = log_status_error(pod, container, opts["previous"])
        if problem is not None:
            raise BadRequest(problem)
        uid = (pod.get("metadata") or {}).get("uid", "")
        runtime = self.runtime(node)
        follow = opts["follow"] and not opts["previous"] and runtime is not None
        position = 0
        if follow and hasattr(runtime, "logs_since"):
            lines, position = runtime.logs_since(uid, container, 0)  # lines and position read together
        elif runtime is not None:
            lines = runtime.logs(uid, container, opts["previous"])
            position = len(lines)
        else:
            lines = []
        since = opts["since"]
        if since is not None:
            lines = [x for x in lines if x.time >= since]
        if opts["tail"] is not None:
            lines = lines[-opts["tail"]:] if opts["tail"] else []
        limit = opts["limit"]
        fmt = _formatter(opts["timestamps"])
        if not follow:
            body = b"".join(fmt(x) for x in lines)
            if limit is not None:
                body = body[:limit]
            return web.Response(body=body, content_type="text/plain")
        resp = web.StreamResponse(status=200)
        resp.content_type = "text/plain"
        resp.headers["Cache-Control"] = "no-cache"
        await resp.prepare(request)
        sent_bytes = 0
        first = runtime.container_state(uid, container)
        cid = first.container_id if first else ""
        if hasattr(runtime, "logs_since"):
            def more(pos: int) -> tuple[list[Any], int]:
                return runtime.logs_since(uid, container, pos)
        else:  # any RuntimeAPI: re-read the whole log

            def more(pos: int) -> tuple[list[Any], int]:
                current = runtime.logs(uid, container)
                return current[pos:], len(current)
        pending = lines
        while True:
            for x in pending:
                chunk = fmt(x)
                if limit is not None:
                    chunk = chunk[: max(0, limit - sent_bytes)]
                if chunk:
                    await resp.write(chunk)
                    sent_bytes += len(chunk)
            if limit is not None and sent_bytes >= limit:
                break
            state = runtime.container_state(uid, container)
            if state is None or state.container_id != cid:
                break
            if state.state != "running":
                pending, position = more(position)
                if pending:
                    continue  # write the last lines, then stop on the next round
                break
            await asyncio.sleep(FOLLOW_POLL)
            if request.transport is None or request.transport.is_closing():
                break
            pending, position = more(position)
        await resp.write_eof()
        return resp


def _log_options(q: Any, name: str) -> dict[str, Any]:
    """Parse and validate PodLogOptions (``ValidatePodLogOptions``, 422 Invalid kind PodLogOptions)."""
    errs: list[FieldError] = []

    def integer(key: str) -> int | None:
        v = q.get(key)
        if v is None or v == "":
            return None
        try:
            return int(v)
        except ValueError:
            raise BadRequest(f'invalid value for {key}: "{v}": must be an integer') from None

    tail, limit, since_s = integer("tailLines"), integer("limitBytes"), integer("sinceSeconds")
    since_time = q.get("sinceTime")
    if tail is not None and tail < 0:
        errs.append(invalid("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        errs.append(invalid("limitBytes", limit, "must be greater than 0"))
    if since_s is not None and since_time:
        errs.append(FieldError("FieldValueForbidden", "", "at most one of `sinceTime` or `sinceSeconds` may be "
                                                          "specified"))
    elif since_s is not None and since_s < 1:
        errs.append(invalid("sinceSeconds", since_s, "must be greater than 0"))
    if errs:
        raise Invalid("PodLogOptions", "", name, errs)
    since = None
    if since_s is not None:
        since = time.time() - since_s
    elif since_time:
        parsed = clock.parse_time(since_time)
        if parsed is None:
            raise BadRequest(f'invalid value for sinceTime: "{since_time}"')
        since = parsed.timestamp()
    return {"follow": _bool(q.get("follow")), "previous": _bool(q.get("previous")),
            "timestamps": _bool(q.get("timestamps")), "tail": tail, "limit": limit, "since": since}


def rfc3339_nano(t: float) -> str:
    """The kubelet's log timestamp (``2006-01-02T15:04:05.000000000Z07:00``)."""
    dt = datetime.fromtimestamp(t, timezone.utc)
    ns = int(round((t - int(t)) * 1e9))
    if ns >= 1_000_000_000:
        ns = 999_999_999
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns:09d}Z"


def _formatter(timestamps: bool) -> Callable[[Any], bytes]:
    if timestamps:
        return lambda x: f"{rfc3339_nano(x.time)} {x.text}\n".encode("utf-8", "replace")
    return lambda x: (x.text + "\n").encode("utf-8", "replace")


# -- one exec session --------------------------------------------------------------------------
class _ExecSession:
    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.base64 = protocol in (BASE64, V4_BASE64)
        self.stop = threading.Event()

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        if self.base64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    async def run(self, runtime: Any, pod: dict[str, Any], container: str, argv: list[str], stdin: bool,
                  stdout: bool, stderr: bool, tty: bool) -> int | None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

        def emitter(channel: int) -> sh.Output:
            def emit(data: bytes) -> None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, (channel, data))
                except RuntimeError:  # the server stopped: the session is gone
                    self.stop.set()

            return sh.CallbackOutput(emit)

        pipe = sh.PipeInput(self.stop) if stdin else sh.BytesInput()
        out = emitter(STDOUT) if stdout else sh.NullOutput()
        err = emitter(STDERR) if stderr else sh.NullOutput()
        done = loop.create_future()

        def target() -> None:
            try:
                result: Any = runtime.exec_stream(pod, container, argv, pipe, out, err, self.stop, tty)
            except BaseException as exc:  # a kubesim bug: reported as an internal error status
                result = exc
            try:
                loop.call_soon_threadsafe(_resolve, done, result)
            except RuntimeError:  # the server stopped while the command ran
                pass

        threading.Thread(target=target, daemon=True, name="kubesim-exec").start()
        reader = asyncio.ensure_future(self._read(pipe))
        sender = asyncio.ensure_future(self._send_all(queue))
        try:
            result = await done
        finally:
            queue.put_nowait(None)
            await sender
            reader_done = reader.done()
            if not reader_done:
                reader.cancel()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass
        if isinstance(result, BaseException):
            await self.finish(status_internal(f"{type(result).__name__}: {result}"))
            return None
        if reader_done and self.ws.closed:
            return None  # the client went away
        return int(result)

    async def _send_all(self, queue: "asyncio.Queue[tuple[int, bytes] | None]") -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            channel, data = item
            try:
                for i in range(0, len(data), FRAME):
                    await self.send(channel, data[i:i + FRAME])
            except (ConnectionResetError, RuntimeError):
                self.stop.set()

    async def _read(self, pipe: sh.Input) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    data = bytes(msg.data)
                elif msg.type == WSMsgType.TEXT and self.base64 and msg.data:
                    try:
                        data = bytes([ord(msg.data[0]) - ord("0")]) + base64.b64decode(msg.data[1:])
                    except (ValueError, TypeError):
                        continue
                elif msg.type == WSMsgType.TEXT:
                    data = msg.data.encode()
                else:
                    continue
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == CLOSE and self.protocol == V5:
                    if payload[:1] == bytes([STDIN]) and isinstance(pipe, sh.PipeInput):
                        pipe.close()
                    continue
                if channel == STDIN and isinstance(pipe, sh.PipeInput):
                    pipe.feed(payload)
        finally:
            # The client closed the connection: end of input, and the command is abandoned.
            if isinstance(pipe, sh.PipeInput):
                pipe.close()
            self.stop.set()

    async def finish(self, status: dict[str, Any] | str) -> None:
        """Write the status on the error channel, then close (and wait for the client's close)."""
        try:
            if isinstance(status, dict):
                await self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
            elif status:
                await self.send(ERROR, status.encode())
            await self.ws.close()
        except (ConnectionResetError, RuntimeError):
            pass


def _resolve(fut: "asyncio.Future[Any]", value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def register(cluster: Any) -> None:
    h = Streaming(cluster)
    handlers = cluster.server.subresource_handlers
    handlers["pods/exec"] = h.exec
    handlers["pods/log"] = h.log
    handlers["pods/attach"] = h.attach
    handlers["pods/portforward"] = h.portforward
