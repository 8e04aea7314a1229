"""Start, stop and inspect the sandbox: one background daemon that is the "cloud".

The daemon (``python -m kubekit.sandbox.daemon``) runs moto's AWS on 127.0.0.1
and a kubesim API server for every EKS cluster made in it (see
``kubekit.sandbox.cloud``). ``up`` starts it detached (its own session, output in
a log file) and, unless ``empty``, bootstraps the cluster ``sandbox`` through the
same :mod:`kubekit.aws` calls a user makes, so the ``sandbox`` context exists when
it returns. Everything lives under ``$KUBEKIT_HOME`` (default ``~/.kubekit``)::

    $KUBEKIT_HOME/
      kubeconfig            contexts for the sandbox's clusters, mode 0600
      aws/                  the sandbox AWS profile (config, credentials), moto's recording and seed
      clusters/<region>/<name>/   each kubesim cluster's objects and volume data
      inventory/sandbox/    what kubekit.aws created, per stack
      sandbox.json          pid, endpoint and settings of the running daemon
      sandbox.log           the daemon's output
      sandbox.lock          serialises concurrent up/down calls
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shlex
import signal
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


from . import awsconfig

CONTEXT = "sandbox"
STACK = "sandbox"
REGION = "us-east-1"
READY_LINE = re.compile(r"^ready (\S+)\s*$", re.MULTILINE)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
DAEMON_MODULE = "kubekit.sandbox.daemon"


class SandboxError(RuntimeError):
    """The sandbox could not be started, reached or stopped."""


@dataclass
class SandboxInfo:
    """What ``sandbox.json`` records about a running sandbox."""

    pid: int
    endpoint: str  # moto, the sandbox's AWS
    kubeconfig: str
    context: str
    profile: str
    home: str
    log: str
    started: str
    proc_start: str | None = None  # process start time: guards against pid reuse
    command: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.endpoint

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

# Popen objects of daemons started by this process, kept so they are reaped.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _proc_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
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
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,
                             check=False).stdout.strip()
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
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _is_ours(info: SandboxInfo) -> bool:
    """True when ``info.pid`` is still the sandbox daemon we started for this home."""
    if not _alive(info.pid):
        return False
    if info.proc_start is not None and _proc_start(info.pid) != info.proc_start:
        return False
    cmdline = _proc_cmdline(info.pid)
    return cmdline is not None and DAEMON_MODULE in cmdline and info.home in cmdline


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


def _healthy(info: SandboxInfo, timeout: float = 2.0) -> bool:
    """True when the sandbox's AWS endpoint answers."""
    try:
        with urllib.request.urlopen(info.endpoint.rstrip("/") + "/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- public API -------------------------------------------------------------


def up(home: str | os.PathLike[str] | None = None, zones: "int | Sequence[str]" = 3, nodes_per_zone: int = 2,
       *, empty: bool = False, profile: str | None = None, timeout: float = START_TIMEOUT_S,
       workloads: dict[str, str] | None = None) -> SandboxInfo:
    """Start the sandbox (or reuse the running one) and, unless ``empty``, bootstrap the ``sandbox`` cluster.

    ``profile`` is kubesim's timing profile for a new sandbox (default ``fast``); None
    also accepts a running sandbox whatever its profile.

    Idempotent: a running healthy sandbox is reused; the bootstrap creates only
    what is missing. Raises SandboxError with the end of the daemon's log when
    the daemon does not come up.
    """
    home_path = kubekit_home(home)
    with _locked(home_path):
        running = _read_record(home_path)
        info = None
        if running is not None and _is_ours(running):
            if profile is not None and running.profile != profile:
                raise SandboxError(f"a sandbox with timing profile {running.profile!r} is already running "
                                   f"(pid {running.pid}); stop it first with `kubekit sandbox down`")
            if _wait_healthy(running, timeout=min(timeout, 5.0)):
                info = running
            else:
                _stop(running)
        if info is None:
            _record_path(home_path).unlink(missing_ok=True)
            info = _start(home_path, profile or "fast", timeout, workloads or default_workloads())
    if not empty:
        bootstrap(home_path, zones, nodes_per_zone, timeout=timeout)
    return info


def default_workloads() -> dict[str, str]:
    """The kit workloads a sandbox pod may ask for (annotation kubesim.io/workload)."""
    here = Path(__file__).resolve().parent.parent / "workloads"
    return {p.stem: str(p) for p in sorted(here.glob("*.py")) if not p.name.startswith("_")}


def bootstrap(home: Path, zones: "int | Sequence[str]" = 3, nodes_per_zone: int = 2, *,
              timeout: float = START_TIMEOUT_S) -> None:
    """Create the ``sandbox`` EKS cluster through kubekit.aws, write its context and wait for Ready nodes."""
    from .. import aws

    target = aws.Target("sandbox", home=str(home))
    wanted = zones if isinstance(zones, int) else list(zones)
    plan = aws.plan(STACK, region=REGION, zones=wanted, nodes_per_zone=nodes_per_zone, nat="single",
                    instance_type="m5.large", target=target)
    aws.apply(plan, progress=False)
    aws.kubeconfig(STACK, region=REGION, target=target, context=CONTEXT, expect_nodes=plan.nodes,
                   zones=plan.zones if nodes_per_zone else None, timeout=timeout, progress=False)


def _wait_healthy(info: SandboxInfo, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if _healthy(info):
            return True
        if time.monotonic() >= deadline or not _alive(info.pid):
            return False
        time.sleep(0.1)


def _start(home: Path, profile: str, timeout: float, workloads: dict[str, str]) -> SandboxInfo:
    log_path = home / "sandbox.log"
    command = [sys.executable, "-m", DAEMON_MODULE, "--home", str(home), "--profile", profile]
    for name, script in sorted(workloads.items()):
        command += ["--workload", f"{name}={script}"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _children[process.pid] = process
    endpoint = _wait_ready(process, log_path, timeout)
    info = SandboxInfo(pid=process.pid, endpoint=endpoint, kubeconfig=str(home / "kubeconfig"), context=CONTEXT,
                       profile=profile, home=str(home), log=str(log_path),
                       started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       proc_start=_proc_start(process.pid), command=command)
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
            raise SandboxError(f"the sandbox daemon exited with code {process.returncode} before it was ready; "
                               f"end of {log_path}:\n{_log_tail(log_path)}")
        if time.monotonic() >= deadline:
            _terminate(process.pid)
            raise SandboxError(f"the sandbox daemon was not ready within {timeout:g} s; "
                               f"end of {log_path}:\n{_log_tail(log_path)}")
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
    """Stop the sandbox recorded in the home (state is kept for the next ``up``). True if one was running.

    Signals the recorded pid only if that process still is our daemon (same start
    time and command line), so a stale record never kills a stranger.
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
                raise SandboxError(f"the sandbox daemon (pid {info.pid}) did not stop")
        _record_path(home_path).unlink(missing_ok=True)
        return was_running


def reset(home: str | os.PathLike[str] | None = None) -> None:
    """Stop the sandbox and forget its whole world: AWS state, clusters, inventory, kubeconfig."""
    import shutil

    home_path = kubekit_home(home)
    down(home_path)
    with _locked(home_path):
        for sub in ("aws", "clusters", "kube-up", "inventory/sandbox"):
            shutil.rmtree(home_path / sub, ignore_errors=True)
        for f in ("kubeconfig", "sandbox.status.json", "clusters.json"):
            (home_path / f).unlink(missing_ok=True)


def status(home: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``running``, ``unhealthy`` (process up, AWS silent), ``stale`` or ``stopped``, with its clusters."""
    home_path = kubekit_home(home)
    info = _read_record(home_path)
    if info is None:
        return {"state": "stopped", "home": str(home_path)}
    if not _is_ours(info):
        return {"state": "stale", "home": str(home_path), "pid": info.pid}
    try:
        clusters = json.loads((home_path / "clusters.json").read_text())
    except (OSError, ValueError):
        clusters = []
    return {"state": "running" if _healthy(info) else "unhealthy", "home": str(home_path),
            "clusters": clusters,
            **{k: v for k, v in info.to_dict().items() if k not in ("command", "proc_start", "home")}}


def env(home: str | os.PathLike[str] | None = None) -> str:
    """Shell lines that point kubectl, boto3 and the aws CLI at the sandbox: ``eval "$(kubekit sandbox env)"``."""
    home_path = kubekit_home(home)
    lines = {"KUBEKIT_HOME": str(home_path), "KUBECONFIG": str(home_path / "kubeconfig"),
             **awsconfig.env_lines(home_path)}
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in lines.items())
