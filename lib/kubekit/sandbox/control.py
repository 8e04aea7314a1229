"""Start, stop and inspect the sandbox: one background daemon that is the "cloud".

The daemon (``python -m kubekit.sandbox.daemon``) runs moto's AWS on 127.0.0.1
and a kubesim API server for every EKS cluster made in it (see
``kubekit.sandbox.cloud``). ``up`` starts it detached (its own session, output in
a log file) and, unless ``empty``, bootstraps the cluster ``sandbox`` through the
same :mod:`kubekit.aws` calls a user makes, so the ``sandbox`` context exists when
it returns.

Several clusters (issue 6, the federation's sandbox)::

    up(clusters=3, regions=["eu-west-1"])   # CLI: kubekit sandbox up --clusters 3 --regions eu-west-1
    members()                                # [{"name", "context", "region", "zone", "kubeconfig"}, ...]
    set_reachable("member-us-east-1b", False)   # CLI: kubekit sandbox isolate member-us-east-1b
    set_reachable("member-us-east-1b", True)    # CLI: kubekit sandbox restore member-us-east-1b

- ``sandbox`` (us-east-1, 3 zones) stays the default context: the federation host.
- ``clusters=N`` adds one single-zone member per zone of us-east-1, named
  ``member-us-east-1a``, ``member-us-east-1b``, ... (N of them, ``MEMBER_NODES`` = 2
  nodes each); ``regions=[R, ...]`` adds one member in the first zone of each region
  (``member-eu-west-1a``). Each is its own stack, bootstrapped by the ordinary
  ``kubekit.aws`` plan/apply/kubeconfig in parallel threads, with its own VPC
  (us-east-1 members ``10.1.0.0/16`` ... ``10.6.0.0/16``, the host ``10.0.0.0/16``,
  other regions from ``10.64.0.0/16`` up), so node and pod IPs never collide. The
  context of each is its cluster name. Members are remembered (``members.json``): a
  later ``up`` keeps them (their kubeconfig entries are refreshed), never removes one;
  ``reset`` forgets them.
- ``set_reachable(name, False)`` makes that cluster's API server stop answering, as a
  lost cluster's does: open connections are reset, new ones time out
  (``mode="timeout"``, the default: connect succeeds, nothing answers, so every
  client needs a timeout, as with a real lost cluster) or are reset at once
  (``mode="reset"``). The cluster keeps running inside; ``True`` restores it on the
  same address. It goes through the daemon's control channel (127.0.0.1, a bearer
  token in ``$KUBEKIT_HOME/control.token``, mode 0600, new at each start) and is not
  persisted: after ``down`` + ``up`` every cluster answers again.
- In every cluster, exec resolves the Multi-Cluster Services names of all of them
  (``<pet>.<cluster>.<svc>.<ns>.svc.clusterset.local``, ``<svc>.<ns>.svc.clusterset.local``
  for exported services): see ``kubekit.sandbox.mcs``.

Everything lives under ``$KUBEKIT_HOME`` (default ``~/.kubekit``)::

    $KUBEKIT_HOME/
      kubeconfig            contexts for the sandbox's clusters, mode 0600
      aws/                  the sandbox AWS profile (config, credentials), moto's recording and seed
      clusters/<region>/<name>/   each kubesim cluster's objects and volume data
      inventory/sandbox/    what kubekit.aws created, per stack
      members.json          the member clusters bootstrapped by up(clusters=..., regions=...)
      control.token         the daemon's control-channel token, mode 0600
      sandbox.json          pid, endpoint, control port and settings of the running daemon
      sandbox.log           the daemon's output
      sandbox.lock          serialises concurrent up/down calls
      checkpoints/NAME/     saved worlds (``kubekit.sandbox.checkpoint``: save, restore, list);
                            ``reset`` keeps them
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
import threading
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
# Requests to the sandbox go to 127.0.0.1 directly, never through a proxy from the environment.
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
STACK = "sandbox"
REGION = "us-east-1"
READY_LINE = re.compile(r"^ready (\S+)(?: control=(\d+))?\s*$", re.MULTILINE)
MEMBER_PREFIX = "member-"
MEMBER_NODES = 2  # nodes of a member cluster (all in its one zone)
HOST_CIDR = "10.0.0.0/16"
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
    control_port: int | None = None  # the daemon's control channel on 127.0.0.1

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
        with _LOOPBACK.open(info.endpoint.rstrip("/") + "/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --- public API -------------------------------------------------------------


def up(home: str | os.PathLike[str] | None = None, zones: "int | Sequence[str]" = 3, nodes_per_zone: int = 2,
       *, empty: bool = False, profile: str | None = None, timeout: float = START_TIMEOUT_S,
       workloads: dict[str, str] | None = None, clusters: int = 0,
       regions: Sequence[str] | None = None) -> SandboxInfo:
    """Start the sandbox (or reuse the running one) and, unless ``empty``, bootstrap the ``sandbox`` cluster.

    ``profile`` is kubesim's timing profile for a new sandbox (default ``fast``); None
    also accepts a running sandbox whatever its profile. ``clusters`` (a number of
    zones of us-east-1) and ``regions`` add single-zone member clusters next to
    ``sandbox`` (see the module docstring and :func:`members`); with ``empty`` no
    cluster at all is bootstrapped.

    Idempotent: a running healthy sandbox is reused; the bootstrap creates only
    what is missing. Raises SandboxError with the end of the daemon's log when
    the daemon does not come up.
    """
    if isinstance(clusters, bool) or not isinstance(clusters, int) or clusters < 0:
        raise SandboxError(f"clusters must be a whole number of member clusters (0 or more), not {clusters!r}")
    if isinstance(regions, str):
        regions = [r for r in regions.split(",") if r]
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
        preload = None if info is not None or empty else _preload_clients()
        if info is None:
            _record_path(home_path).unlink(missing_ok=True)
            info = _start(home_path, profile or "fast", timeout, workloads or default_workloads())
    if preload is not None:
        preload.join()
    if not empty:
        bootstrap(home_path, zones, nodes_per_zone, timeout=timeout, clusters=clusters, regions=list(regions or []))
    return info


BOOTSTRAP_SERVICES = ("sts", "ec2", "iam", "eks", "ssm")


def _preload_clients() -> threading.Thread:
    """Import the bootstrap's clients on a thread while the daemon starts (on another core).

    ``kubernetes``, kubekit.aws and the boto3 service models take about a second of CPU; the
    daemon needs about as long to warm moto up.
    """
    def load() -> None:
        try:
            import botocore.session
            import kubernetes.client
            import kubernetes.config  # noqa: F401

            from ..aws import applier, kubeconfigs, plans  # noqa: F401
            from ..aws.target import _shared_loader

            # The bootstrap's boto3 clients parse their service models (EC2's alone ~0.3 s): into the
            # process-wide loader now, so the clients made later find them parsed.
            core = botocore.session.Session()
            core.register_component("data_loader", _shared_loader())
            for service in BOOTSTRAP_SERVICES:
                core.create_client(service, region_name=REGION, endpoint_url="http://127.0.0.1:9",
                                   aws_access_key_id="preload", aws_secret_access_key="preload")
        except Exception:  # the bootstrap's own import reports it
            pass

    thread = threading.Thread(target=load, name="kubekit-preload", daemon=True)
    thread.start()
    return thread


def default_workloads() -> dict[str, str]:
    """The kit workloads a sandbox pod may ask for (annotation kubesim.io/workload)."""
    here = Path(__file__).resolve().parent.parent / "workloads"
    return {p.stem: str(p) for p in sorted(here.glob("*.py")) if not p.name.startswith("_")}


@dataclass(frozen=True)
class _Wanted:
    """One cluster ``bootstrap`` brings up: a stack of its own, its context named like it."""

    name: str
    region: str
    zones: "int | tuple[str, ...]"
    nodes_per_zone: int
    vpc_cidr: str
    apply: bool = True  # False: a member made before; only its kubeconfig entry is refreshed


def _member_cidr(region: str, zone_index: int) -> str:
    """Non-overlapping VPCs: the host 10.0/16, us-east-1 members 10.1-10.6, other regions from 10.64."""
    if region == REGION:
        return f"10.{1 + zone_index % 63}.0.0/16"
    from ..aws.regions import known_regions

    index = known_regions().index(region) if region in known_regions() else 0
    return f"10.{64 + (index * 6 + zone_index) % 190}.0.0/16"


def _member_specs(target: Any, clusters: int, regions: Sequence[str]) -> list[_Wanted]:
    from ..aws.regions import check_region, zones as region_zones

    out: dict[str, _Wanted] = {}
    if clusters:
        available = region_zones(target, REGION)
        if clusters > len(available):
            raise SandboxError(f"--clusters {clusters}: {REGION} has only {len(available)} zones "
                               f"({', '.join(available)}), one member cluster per zone")
        for i, zone in enumerate(available[:clusters]):
            out[MEMBER_PREFIX + zone] = _Wanted(MEMBER_PREFIX + zone, REGION, (zone,), MEMBER_NODES,
                                                _member_cidr(REGION, i))
    for region in regions:
        check_region(region)
        zone = region_zones(target, region)[0]
        out.setdefault(MEMBER_PREFIX + zone, _Wanted(MEMBER_PREFIX + zone, region, (zone,), MEMBER_NODES,
                                                     _member_cidr(region, 0)))
    return list(out.values())


_kubeconfig_lock = threading.Lock()


@contextlib.contextmanager
def _kubeconfig_locked(home: Path) -> Iterator[None]:
    """One writer of ``$KUBEKIT_HOME/kubeconfig`` at a time (threads and processes)."""
    with _kubeconfig_lock, open(home / "kubeconfig.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def bootstrap(home: Path, zones: "int | Sequence[str]" = 3, nodes_per_zone: int = 2, *,
              timeout: float = START_TIMEOUT_S, clusters: int = 0, regions: Sequence[str] = ()) -> None:
    """Create the ``sandbox`` EKS cluster (and member clusters) through kubekit.aws, write contexts, wait for Ready.

    Every cluster is planned first (bad input fails before anything is created), then
    all are applied and waited for in parallel threads; kubeconfig entries are written
    one at a time, and ``sandbox`` is the current context at the end.
    """
    from .. import aws
    from ..errors import InvalidParameter

    home = kubekit_home(home)
    target = aws.Target("sandbox", home=str(home))
    host = _Wanted(STACK, REGION, zones if isinstance(zones, int) else tuple(zones), nodes_per_zone, HOST_CIDR)
    wanted = [host] + _member_specs(target, clusters, regions)
    known = {w.name for w in wanted}
    wanted += [_Wanted(m["name"], m["region"], (m["zone"],), MEMBER_NODES, "", apply=False)
               for m in _read_members(home) if m["name"] not in known]
    plans = {w.name: aws.plan(w.name, region=w.region, zones=w.zones if isinstance(w.zones, int) else list(w.zones),
                              nodes_per_zone=w.nodes_per_zone, nat="single", instance_type="m5.large",
                              vpc_cidr=w.vpc_cidr, target=target)
             for w in wanted if w.apply}
    deadline = time.monotonic() + timeout
    kubeconfig = str(home / "kubeconfig")

    def bring_up(w: _Wanted) -> dict[str, str] | None:
        plan = plans.get(w.name)
        if plan is not None:
            aws.apply(plan, progress=False)
        try:
            with _kubeconfig_locked(home):
                aws.kubeconfig(w.name, region=w.region, target=target, path=kubeconfig, context=w.name,
                               wait=False, progress=False)
        except InvalidParameter:
            if plan is None:
                return None  # a remembered member whose stack was destroyed since: forget it
            raise
        zones_ = plan.zones if plan is not None else list(w.zones)
        expect = plan.nodes if plan is not None else w.nodes_per_zone * len(zones_)
        # Instances someone stopped (a drill) are nodes that are meant to be NotReady: not waited for.
        off = _stopped_instances(target, w.region, w.name)
        expect -= sum(off.values())
        need = [z for z in zones_ if off.get(z, 0) < w.nodes_per_zone] if w.nodes_per_zone else None
        aws.wait_nodes_ready(kubeconfig, w.name, expect=max(0, expect), zones=need,
                             timeout=max(1.0, deadline - time.monotonic()), progress=False)
        return {"name": w.name, "context": w.name, "region": w.region, "zone": zones_[0]}

    if len(wanted) == 1:
        bring_up(host)
        return
    from concurrent.futures import ThreadPoolExecutor

    remembered = {m["name"]: m for m in _read_members(home)}
    members_now: list[dict[str, str]] = []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="bootstrap") as pool:
        futures = [pool.submit(bring_up, w) for w in wanted]
        for w, f in zip(wanted, futures):  # every thread finishes; then the first error is raised
            try:
                result = f.result()
            except Exception as exc:
                errors.append(exc)
                result = remembered.get(w.name)  # a member that failed now is still a member
            if w is not host and result is not None:
                members_now.append(result)
    _write_members(home, members_now)
    with _kubeconfig_locked(home):
        _set_current_context(Path(kubeconfig), CONTEXT)
    if errors:
        raise errors[0]


def _stopped_instances(target: Any, region: str, cluster: str) -> dict[str, int]:
    """zone -> how many of the cluster's node instances are stopped (or stopping)."""
    ec2 = target.client("ec2", region)
    out: dict[str, int] = {}
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": "tag:eks:cluster-name", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": ["stopping", "stopped"]}])
    for page in pages:
        for res in page["Reservations"]:
            for inst in res["Instances"]:
                zone = inst["Placement"]["AvailabilityZone"]
                out[zone] = out.get(zone, 0) + 1
    return out


def _set_current_context(path: Path, context: str) -> None:
    import yaml

    if not path.exists():
        return
    doc = yaml.safe_load(path.read_text()) or {}
    if doc.get("current-context") == context or context not in {c.get("name") for c in doc.get("contexts") or []}:
        return
    doc["current-context"] = context
    tmp = path.with_suffix(".ctx.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    os.replace(tmp, path)


def _read_members(home: Path) -> list[dict[str, str]]:
    try:
        data = json.loads((home / "members.json").read_text())
    except (OSError, ValueError):
        return []
    return [m for m in data if isinstance(m, dict) and {"name", "region", "zone"} <= set(m)]


def _write_members(home: Path, members: list[dict[str, str]]) -> None:
    ordered = sorted(members, key=lambda m: (m["region"] != REGION, m["region"], m["zone"]))
    path = home / "members.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ordered, indent=2) + "\n")
    os.replace(tmp, path)


def members(home: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The member clusters ``up(clusters=..., regions=...)`` made, in zone order (the host ``sandbox`` is not one).

    Each: ``name`` (= EKS cluster and stack name), ``context`` (in ``kubeconfig``),
    ``region``, ``zone``, ``kubeconfig`` (the file's path). Empty when there are none.
    """
    home_path = kubekit_home(home)
    try:  # what the daemon last reported running: a member whose stack was destroyed is gone
        live = {(c["region"], c["name"]) for c in json.loads((home_path / "clusters.json").read_text())}
    except (OSError, ValueError, TypeError, KeyError):
        live = None
    out = []
    for m in _read_members(home_path):
        if live is not None and (m["region"], m["name"]) not in live:
            continue
        out.append({"name": m["name"], "context": m.get("context", m["name"]), "region": m["region"],
                    "zone": m["zone"], "kubeconfig": str(home_path / "kubeconfig")})
    return out


def set_reachable(cluster_name: str, reachable: bool, home: str | os.PathLike[str] | None = None, *,
                  mode: str = "timeout", region: str | None = None) -> dict[str, Any]:
    """Make a sandbox cluster's API server unreachable (a lost cluster) or reachable again.

    ``mode`` (when making it unreachable): ``timeout`` -- new connections are accepted by
    the kernel but never answered, so clients wait for their own timeout, as with a
    cluster lost to a network failure; ``reset`` -- they are reset at once. Open
    connections (watches, exec) are reset in both. The cluster keeps running; ``True``
    brings its API server back on the same address. Returns ``{"region", "name",
    "reachable"}``. Raises SandboxError when the sandbox is not running or has no such
    cluster.
    """
    if not isinstance(reachable, bool):
        raise SandboxError(f"reachable must be True or False, not {reachable!r}")
    if mode not in ("timeout", "reset"):
        raise SandboxError(f"mode must be 'timeout' or 'reset', not {mode!r}")
    body: dict[str, Any] = {"cluster": cluster_name, "reachable": reachable, "mode": mode}
    if region:
        body["region"] = region
    return _control(kubekit_home(home), "POST", "/v1/reachability", body)


def _control(home: Path, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Any:
    """A request to the running daemon's control channel (127.0.0.1 only, with its token)."""
    info = _read_record(home)
    if info is None or not _is_ours(info):
        raise SandboxError(f"the sandbox in {home} is not running: start it with `kubekit sandbox up`")
    if not info.control_port:
        raise SandboxError("this sandbox daemon has no control channel (started by an older kubekit): "
                           "restart it with `kubekit sandbox down` and `kubekit sandbox up`")
    try:
        token = (home / "control.token").read_text().strip()
    except OSError as exc:
        raise SandboxError(f"cannot read the sandbox's control token: {exc}") from exc
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{info.control_port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(req, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", "")
        except (ValueError, AttributeError):
            detail = ""
        raise SandboxError(f"sandbox control: {detail or exc}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxError(f"the sandbox's control channel did not answer: {exc}") from exc


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
    try:
        endpoint, control_port = _wait_ready(process, log_path, timeout)
    except BaseException:  # interrupted (Ctrl-C, a test timeout): no record would find it again
        _terminate(process.pid)
        raise
    info = SandboxInfo(pid=process.pid, endpoint=endpoint, kubeconfig=str(home / "kubeconfig"), context=CONTEXT,
                       profile=profile, home=str(home), log=str(log_path),
                       started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       proc_start=_proc_start(process.pid), command=command, control_port=control_port)
    _write_record(home, info)
    return info


def _log_tail(log_path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> tuple[str, int | None]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            match = READY_LINE.search(log_path.read_text(errors="replace"))
        except OSError:
            match = None
        if match:
            return match.group(1), int(match.group(2)) if match.group(2) else None
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
        for f in ("kubeconfig", "sandbox.status.json", "clusters.json", "members.json", "control.token"):
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
            "clusters": clusters, "members": [m["name"] for m in members(home_path)],
            **{k: v for k, v in info.to_dict().items() if k not in ("command", "proc_start", "home")}}


def env(home: str | os.PathLike[str] | None = None) -> str:
    """Shell lines that point kubectl, boto3 and the aws CLI at the sandbox: ``eval "$(kubekit sandbox env)"``."""
    home_path = kubekit_home(home)
    lines = {"KUBEKIT_HOME": str(home_path), "KUBECONFIG": str(home_path / "kubeconfig"),
             **awsconfig.env_lines(home_path)}
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in lines.items())
