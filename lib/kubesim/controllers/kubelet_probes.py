"""Container probes of the simulated kubelet (PL-06): the threshold state machine and the probers.

The state machine is pure (``record``): upstream's ``prober/worker.go`` keeps the last
result until ``failureThreshold`` consecutive failures or ``successThreshold`` consecutive
successes say otherwise. Readiness starts as failure (a container with a readiness probe
is not ready until it passes once), liveness as success, startup as unknown; readiness and
liveness probes wait until the startup probe has passed. Periods and initial delays are
upstream seconds times the profile's scale.

Probers (side effects, but small): exec probes run through ``runtime.exec``; httpGet,
tcpSocket and grpc probes really connect when ``runtime.endpoint(uid, port)`` says a real
process serves the port, and succeed otherwise (a simulated container has nothing to
probe). Timeouts are the probe's ``timeoutSeconds`` scaled, but never under 1 s of wall
time: commands and processes run in real time, so a scaled 10 ms timeout would only
produce false failures.

Messages as upstream: ``prober/prober.go`` ("<Kind> probe failed: <output>"),
``probe/http/http.go`` ("HTTP probe failed with statuscode: 503"), Go's net errors
("dial tcp 10.244.0.5:8080: connect: connection refused").
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass, replace
from typing import Any

Obj = dict[str, Any]

DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
            "failureThreshold": 3}
KINDS = ("startup", "liveness", "readiness")
FIELD = {"startup": "startupProbe", "liveness": "livenessProbe", "readiness": "readinessProbe"}
LABEL = {"startup": "Startup", "liveness": "Liveness", "readiness": "Readiness"}
MIN_TIMEOUT = 1.0


def settings(probe: Obj) -> Obj:
    """A probe with upstream defaults filled in (API defaulting does the same; this guards raw input)."""
    out = dict(DEFAULTS)
    for k in DEFAULTS:
        v = probe.get(k)
        if isinstance(v, int) and v >= 0:
            out[k] = v
    if out["periodSeconds"] < 1:
        out["periodSeconds"] = 1
    if out["successThreshold"] < 1:
        out["successThreshold"] = 1
    if out["failureThreshold"] < 1:
        out["failureThreshold"] = 1
    return out


@dataclass(frozen=True)
class ProbeState:
    kind: str
    result: str  # success | failure | unknown
    last: str = ""  # the last raw result
    run: int = 0  # how many times in a row ``last`` came back
    next_at: float = 0.0  # wall time of the next probe


def initial(kind: str, probe: Obj, started_at: float, scale: float) -> ProbeState:
    s = settings(probe)
    result = {"readiness": "failure", "liveness": "success", "startup": "unknown"}[kind]
    return ProbeState(kind, result, next_at=started_at + s["initialDelaySeconds"] * scale)


def record(state: ProbeState, ok: bool, probe: Obj, now: float, scale: float) -> tuple[ProbeState, bool]:
    """Fold one probe outcome in; returns the new state and whether ``result`` changed."""
    s = settings(probe)
    raw = "success" if ok else "failure"
    run = state.run + 1 if raw == state.last else 1
    result = state.result
    if (raw == "failure" and run >= s["failureThreshold"]) or (raw == "success" and run >= s["successThreshold"]):
        result = raw
    nxt = now + s["periodSeconds"] * scale
    new = replace(state, result=result, last=raw, run=run, next_at=nxt)
    return new, result != state.result


def due(states: dict[str, ProbeState], started_ok: bool, now: float) -> list[str]:
    """Which probes run now: startup first; the others only once it has passed."""
    out = []
    st = states.get("startup")
    if st is not None and st.result != "success":
        return ["startup"] if now >= st.next_at else []
    for kind in ("liveness", "readiness"):
        ps = states.get(kind)
        if ps is not None and started_ok and now >= ps.next_at:
            out.append(kind)
    return out


def next_due(states: dict[str, ProbeState]) -> float | None:
    st = states.get("startup")
    if st is not None and st.result != "success":
        return st.next_at
    times = [ps.next_at for k, ps in states.items() if k != "startup"]
    return min(times) if times else None


def resolve_port(port: Any, container: Obj) -> int | None:
    """An int port, or a named container port (prober.go extractPort / findPortByName)."""
    if isinstance(port, int):
        return port if 0 < port < 65536 else None
    if isinstance(port, str):
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return p.get("containerPort")
        if port.isdigit():
            return int(port)
    return None


def timeout_of(probe: Obj, scale: float) -> float:
    return max(MIN_TIMEOUT, settings(probe)["timeoutSeconds"] * scale)


# -- probers -----------------------------------------------------------------------------
def run(runtime: Any, pod: Obj, container: Obj, probe: Obj, pod_ip: str, scale: float) -> tuple[bool, str]:
    """Run one probe; returns (success, output)."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    timeout = timeout_of(probe, scale)
    if probe.get("exec") is not None:
        argv = list((probe.get("exec") or {}).get("command") or [])
        return exec_probe(runtime, pod, container.get("name", ""), argv, timeout)
    for key in ("httpGet", "tcpSocket", "grpc"):
        action = probe.get(key)
        if action is None:
            continue
        port = resolve_port(action.get("port"), container)
        if port is None:
            return False, f"unable to resolve port {action.get('port')!r}"
        ep = None
        try:
            ep = runtime.endpoint(uid, port)
        except Exception:
            ep = None
        if ep is None:
            return True, ""  # a simulated container: nothing serves the port, nothing to fail
        shown = f"{action.get('host') or pod_ip or ep.host}:{port}"
        if key == "httpGet":
            return http_probe(ep.host, ep.port, action, timeout, shown)
        return tcp_probe(ep.host, ep.port, timeout, shown)
    return True, ""


def exec_probe(runtime: Any, pod: Obj, cname: str, argv: list[str], timeout: float) -> tuple[bool, str]:
    try:
        res = runtime.exec(pod, cname, argv, b"", timeout)
    except TimeoutError:
        return False, f'command "{" ".join(argv)}" timed out'
    except Exception as exc:  # the runtime could not run it at all
        return False, str(exc)
    out = (res.stdout or b"") + (res.stderr or b"")
    text = out.decode("utf-8", "replace")
    return res.exit_code == 0, text


def http_probe(host: str, port: int, action: Obj, timeout: float, shown: str) -> tuple[bool, str]:
    scheme = (action.get("scheme") or "HTTP").lower()
    path = action.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{shown}{path}"
    try:
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}
        for h in action.get("httpHeaders") or []:
            if h.get("name"):
                headers[h["name"]] = h.get("value", "")
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read(10 * 1024)
            code = resp.status
        finally:
            conn.close()
    except socket.timeout:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except ConnectionRefusedError:
        return False, f'Get "{url}": dial tcp {shown}: connect: connection refused'
    except OSError as exc:
        return False, f'Get "{url}": {exc}'
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


def tcp_probe(host: str, port: int, timeout: float, shown: str) -> tuple[bool, str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except socket.timeout:
        return False, f"dial tcp {shown}: i/o timeout"
    except ConnectionRefusedError:
        return False, f"dial tcp {shown}: connect: connection refused"
    except OSError as exc:
        return False, f"dial tcp {shown}: {exc}"
