"""Start, stop and inspect the embedded sandbox: one background ``kubesim``.

The sandbox is a detached daemon process (its own session, output in a log
file) so it outlives the ``kubekit`` command that started it. Everything it
owns lives under ``$KUBEKIT_HOME`` (default ``~/.kubekit``)::

    $KUBEKIT_HOME/
      kubeconfig            written by kubesim (cluster, user, context), mode 0600
      clusters/sandbox/     kubesim's persisted state
      sandbox.json          pid, url and settings of the running daemon
      sandbox.log           the daemon's stdout and stderr
      sandbox.lock          serialises concurrent up/down calls

This module is the only part of kubekit that knows kubesim exists, and even
here only as a command line (``python -m kubesim serve ...``); it never imports
kubesim. A later version adds moto and EKS clusters.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CONTEXT = "sandbox"
READY_LINE = re.compile(r"^ready (\S+)\s*$", re.MULTILINE)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class SandboxError(RuntimeError):
    """The sandbox could not be started, reached or stopped."""


@dataclass
class SandboxInfo:
    """What ``sandbox.json`` records about a running sandbox."""

    pid: int
    url: str
    kubeconfig: str
    context: str
    zones: list[str]
    nodes_per_zone: int
    state_dir: str
    log: str
    started: str
    # Process start time (Linux clock ticks since boot) guards against pid reuse.
    proc_start: str | None = None
    command: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kubekit_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The sandbox home: ``home`` if given, else ``$KUBEKIT_HOME``, else ``~/.kubekit``."""
    if home is None:
        home = os.environ.get("KUBEKIT_HOME") or "~/.kubekit"
    return Path(home).expanduser().absolute()


def _record_path(home: Path) -> Path:
    return home / "sandbox.json"


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on the home so two ``up`` calls cannot race."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(home / "sandbox.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- process identity -------------------------------------------------------

# Popen objects of daemons started by this process, kept so they are reaped
# (no zombies, no ResourceWarning) when ``down`` runs in the same process.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _proc_start(pid: int) -> str | None:
    """The process start time from /proc (None where /proc is unavailable)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the parenthesised command name (which may hold spaces).
    return stat.rsplit(")", 1)[1].split()[19]


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    except FileNotFoundError:
        return None
    except OSError:
        pass
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return None
    return shlex.split(out) if out else None


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _is_ours(info: SandboxInfo) -> bool:
    """True when ``info.pid`` is still the kubesim daemon we started."""
    if not _alive(info.pid):
        return False
    if info.proc_start is not None and _proc_start(info.pid) != info.proc_start:
        return False
    cmdline = _proc_cmdline(info.pid)
    if cmdline is None:
        return False
    return "kubesim" in cmdline and "serve" in cmdline and info.state_dir in cmdline


# --- reading the record and probing the server ------------------------------


def _read_record(home: Path) -> SandboxInfo | None:
    try:
        data = json.loads(_record_path(home).read_text())
        return SandboxInfo(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise SandboxError(f"{_record_path(home)} is unreadable ({exc}); remove it and retry") from exc


def _write_record(home: Path, info: SandboxInfo) -> None:
    path = _record_path(home)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)


def _kubeconfig_auth(kubeconfig: str, context: str) -> tuple[ssl.SSLContext | None, dict[str, str]]:
    """TLS context and auth headers for ``context`` in ``kubeconfig``."""
    import base64

    try:
        cfg = yaml.safe_load(Path(kubeconfig).read_text()) or {}
    except OSError:
        return None, {}
    ctx = next((c["context"] for c in cfg.get("contexts") or [] if c.get("name") == context), {})
    cluster = next((c["cluster"] for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
    user = next((u["user"] for u in cfg.get("users") or [] if u.get("name") == ctx.get("user")), {}) or {}
    tls = None
    if cluster.get("certificate-authority-data"):
        tls = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
    return tls, headers


def _healthy(info: SandboxInfo, timeout: float = 2.0) -> bool:
    """True when the server answers ``GET /healthz`` with 200."""
    tls, headers = _kubeconfig_auth(info.kubeconfig, info.context)
    request = urllib.request.Request(info.url.rstrip("/") + "/healthz", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=tls) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- public API -------------------------------------------------------------


def up(
    home: str | os.PathLike[str] | None = None,
    zones: Sequence[str] = DEFAULT_ZONES,
    nodes_per_zone: int = 2,
    timeout: float = START_TIMEOUT_S,
) -> SandboxInfo:
    """Start the sandbox daemon, or reuse the one already running and healthy.

    Waits until kubesim prints ``ready <url>`` (at most ``timeout`` seconds).
    Raises SandboxError with the end of the daemon's log if it does not.
    """
    home_path = kubekit_home(home)
    zones = list(zones)
    with _locked(home_path):
        running = _read_record(home_path)
        if running is not None and _is_ours(running):
            if (running.zones, running.nodes_per_zone) != (zones, nodes_per_zone):
                raise SandboxError(
                    f"a sandbox with zones {','.join(running.zones)} and {running.nodes_per_zone} "
                    f"nodes per zone is already running (pid {running.pid}); "
                    "stop it first with `kubekit sandbox down`"
                )
            if _wait_healthy(running, timeout=min(timeout, 5.0)):
                return running
            _stop(running)  # ours but not answering: replace it
        _record_path(home_path).unlink(missing_ok=True)
        return _start(home_path, zones, nodes_per_zone, timeout)


def _wait_healthy(info: SandboxInfo, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if _healthy(info):
            return True
        if time.monotonic() >= deadline or not _alive(info.pid):
            return False
        time.sleep(0.1)


def _start(home: Path, zones: list[str], nodes_per_zone: int, timeout: float) -> SandboxInfo:
    kubeconfig = home / "kubeconfig"
    state = home / "clusters" / CONTEXT
    state.mkdir(parents=True, exist_ok=True)
    log_path = home / "sandbox.log"
    command = [
        sys.executable, "-m", "kubesim", "serve",
        "--port", "0",
        "--zones", ",".join(zones),
        "--nodes-per-zone", str(nodes_per_zone),
        "--kubeconfig", str(kubeconfig),
        "--state", str(state),
        "--context", CONTEXT,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: no terminal signals, outlives the caller
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _children[process.pid] = process
    url = _wait_ready(process, log_path, timeout)
    info = SandboxInfo(
        pid=process.pid,
        url=url,
        kubeconfig=str(kubeconfig),
        context=CONTEXT,
        zones=zones,
        nodes_per_zone=nodes_per_zone,
        state_dir=str(state),
        log=str(log_path),
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        proc_start=_proc_start(process.pid),
        command=command,
    )
    _write_record(home, info)
    return info


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            match = READY_LINE.search(log_path.read_text(errors="replace"))
        except OSError:
            match = None
        if match:
            return match.group(1)
        if process.poll() is not None:
            _children.pop(process.pid, None)
            raise SandboxError(
                f"kubesim exited with code {process.returncode} before it was ready; "
                f"end of {log_path}:\n{_log_tail(log_path)}"
            )
        if time.monotonic() >= deadline:
            _terminate(process.pid)
            raise SandboxError(
                f"kubesim did not print 'ready <url>' within {timeout:g} s; "
                f"end of {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(0.05)


def _terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; reap it if it is our child."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            break
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)


def _stop(info: SandboxInfo, timeout: float = STOP_TIMEOUT_S) -> None:
    if _is_ours(info):
        _terminate(info.pid, timeout)


def down(home: str | os.PathLike[str] | None = None, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the sandbox recorded in the home. Returns True if one was running.

    Signals the recorded pid only if that process still is our kubesim daemon
    (same start time and command line), so a stale record never kills a
    stranger. State under ``clusters/`` is kept for the next ``up``.
    """
    home_path = kubekit_home(home)
    if not _record_path(home_path).exists():
        return False
    with _locked(home_path):
        info = _read_record(home_path)
        if info is None:
            return False
        was_running = _is_ours(info)
        if was_running:
            _terminate(info.pid, timeout)
            if _alive(info.pid):
                raise SandboxError(f"kubesim (pid {info.pid}) did not stop")
        _record_path(home_path).unlink(missing_ok=True)
        return was_running


def status(home: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The sandbox's state: ``running``, ``unhealthy`` (process up, API silent), ``stale`` or ``stopped``."""
    home_path = kubekit_home(home)
    info = _read_record(home_path)
    if info is None:
        return {"state": "stopped", "home": str(home_path)}
    if not _is_ours(info):
        return {"state": "stale", "home": str(home_path), "pid": info.pid}
    return {
        "state": "running" if _healthy(info) else "unhealthy",
        "home": str(home_path),
        **{k: v for k, v in info.to_dict().items() if k not in ("command", "proc_start")},
    }


def env(home: str | os.PathLike[str] | None = None) -> str:
    """Shell lines that point kubectl and the Python client at the sandbox.

    Use as ``eval "$(kubekit sandbox env)"``.
    """
    home_path = kubekit_home(home)
    info = _read_record(home_path)
    kubeconfig = info.kubeconfig if info else str(home_path / "kubeconfig")
    return (
        f"export KUBEKIT_HOME={shlex.quote(str(home_path))}\n"
        f"export KUBECONFIG={shlex.quote(kubeconfig)}\n"
    )
