"""``kubekit lab``: the sandbox, then JupyterLab on 127.0.0.1 with the notebooks, and its URL with the token.

The token is made here (or taken from ``--token`` / ``$JUPYTER_TOKEN``) and given to
JupyterLab in its environment, never on its command line (``ps`` would show it).
Kernels inherit ``KUBECONFIG``, ``KUBEKIT_HOME`` and the sandbox's AWS profile, so
every notebook finds the sandbox. JupyterLab's runtime files go to a private
directory under ``$KUBEKIT_HOME/lab``, where the port it really bound (``--port 0``
picks a free one) is read back. A sandbox started here is stopped when the lab
stops; one that was already running is left running.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidParameter, NotReady

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8888


@dataclass(frozen=True)
class LabOptions:
    notebooks: Path
    port: int = DEFAULT_PORT
    token: str = ""
    sandbox: bool = True  # start the sandbox when it is not running
    clusters: int = 0  # member clusters for a sandbox started here
    timeout: float = 60.0


def options(notebooks: str | os.PathLike[str] = "notebooks", port: int = DEFAULT_PORT, token: str | None = None,
            sandbox: bool = True, clusters: int = 0, timeout: float = 60.0) -> LabOptions:
    """Checked options: the notebooks directory exists, the port is 0..65535, the token (if given) is long enough."""
    root = Path(notebooks).expanduser()
    if not root.is_dir():
        raise InvalidParameter("notebooks", str(notebooks), "not a directory", "pass the notebooks/ directory")
    if isinstance(port, bool) or not 0 <= int(port) <= 65535:
        raise InvalidParameter("port", port, "not a TCP port", "use 1-65535, or 0 for any free port")
    if clusters < 0:
        raise InvalidParameter("clusters", clusters, "must be 0 or more")
    chosen = token if token is not None else os.environ.get("JUPYTER_TOKEN", "")
    if chosen and len(chosen) < 16:
        raise InvalidParameter("token", "<hidden>", "shorter than 16 characters", "leave it out to get a random one")
    return LabOptions(root.absolute(), int(port), chosen or secrets.token_hex(24), sandbox, clusters, timeout)


def command(opts: LabOptions) -> list[str]:
    """JupyterLab's argument list (no token in it)."""
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ip={LOOPBACK}", f"--port={opts.port}",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={opts.notebooks}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def environment(opts: LabOptions, base: dict[str, str] | None = None, runtime: Path | None = None) -> dict[str, str]:
    """The lab's environment: the sandbox's exports, the token, a private runtime dir, this venv first on PATH."""
    from . import sandbox

    env = dict(os.environ if base is None else base)
    for line in sandbox.env().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    env["JUPYTER_TOKEN"] = opts.token
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if runtime is not None:
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    return env


@dataclass
class Lab:
    """A running JupyterLab (and whether the sandbox was started for it)."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    started_sandbox: bool
    runtime: Path
    log: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/lab?token={self.token}"

    def status(self, timeout: float = 5.0) -> dict[str, Any]:
        """``/api/status`` with the token (loopback only, never through a proxy)."""
        req = urllib.request.Request(f"http://{LOOPBACK}:{self.port}/api/status",
                                     headers={"Authorization": f"token {self.token}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=timeout) as answer:
            return dict(json.loads(answer.read()))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop JupyterLab by its pid (SIGTERM, then SIGKILL), then the sandbox if it was started for the lab."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.started_sandbox:
            from . import sandbox

            sandbox.down()


def _server_info(runtime: Path, pid: int) -> dict[str, Any] | None:
    path = runtime / f"jpserver-{pid}.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def start(opts: LabOptions) -> Lab:
    """Start the sandbox (unless running or ``opts.sandbox`` is False) and JupyterLab; wait until it answers."""
    from . import sandbox

    started = False
    if opts.sandbox and sandbox.status().get("state") != "running":
        sandbox.up(clusters=opts.clusters)
        started = True
    home = sandbox.kubekit_home()
    runtime = home / "lab" / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = home / "lab" / "jupyterlab.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(command(opts), env=environment(opts, runtime=runtime), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    lab = Lab(proc, opts.port, opts.token, started, runtime, log)
    deadline = time.monotonic() + opts.timeout
    try:
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise NotReady(f"JupyterLab exited with code {proc.returncode}; end of {log}:\n" + "\n".join(tail))
            info = _server_info(runtime, proc.pid)
            if info:
                lab.port, lab.info = int(info["port"]), info
                try:
                    lab.status(timeout=2)
                    return lab
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise NotReady(f"JupyterLab did not answer within {opts.timeout:g} s; see {log}")
            time.sleep(0.2)
    except BaseException:
        lab.stop()
        raise


def run(opts: LabOptions) -> int:
    """``kubekit lab``: start, print the URL, wait until JupyterLab ends or Ctrl-C; stop what was started."""
    lab = start(opts)
    print(f"JupyterLab: {lab.url}", flush=True)
    print(f"  notebooks {opts.notebooks}; log {lab.log}; pid {lab.pid}"
          + ("; the sandbox stops with it" if lab.started_sandbox else "; the sandbox keeps running"), flush=True)
    print("  Ctrl-C stops it", flush=True)
    try:
        return int(lab.process.wait() or 0)
    except KeyboardInterrupt:
        return 0
    finally:
        lab.stop()
