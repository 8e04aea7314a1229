"""Checkpoints: save the whole sandbox world under a name and bring it back later.

A class jumps to "after lesson 02" with ``kubekit sandbox restore after-02``. The
world is everything the daemon rebuilds on start, all of it under ``$KUBEKIT_HOME``
(see ``kubekit.sandbox.control``)::

    aws/recording.jsonl, aws/state.json   moto's state: the recorded requests and the seed
                                          they are replayed under (``kubekit.sandbox.daemon``)
    aws/moto-state.pickle                 the same state ready to load, when it matches the
                                          recording (``kubekit.sandbox.motostate``)
    clusters/<region>/<name>/             every kubesim cluster: objects (SQLite), CA, token,
                                          API server port, and volume data (the pets' data dirs)
    inventory/sandbox/                    what kubekit.aws created, per stack
    kube-up/, kubeconfig, members.json, clusters.json

A checkpoint is a copy of those under ``$KUBEKIT_HOME/checkpoints/NAME/world/``
plus ``manifest.json`` (written last: a directory without it is not a checkpoint).

Consistency: the daemon holds all of this open (SQLite, petkv logs, moto's recording),
so a running sandbox is stopped for the copy (save) and started again with the same
timing profile and workloads; the files are never copied live. For a restore the
daemon unloads its world in place (clusters stopped, files closed, AWS answering 503),
the files are swapped, and it loads the new world without a new process; when it
cannot (no moto snapshot matches the restored recording), it is restarted instead.
Restore is atomic: the checkpoint is staged next to the world first, the world is
swapped by renames (same filesystem), and if anything fails, including the restarted
daemon not coming up, the previous world is put back (and started again if it ran).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import control
from .control import SandboxError, kubekit_home

# What a checkpoint holds, relative to $KUBEKIT_HOME. Not in it: aws/config and
# aws/credentials (rewritten with the live endpoint at every start), sandbox.json,
# the log, the control token, and other targets' inventories (real AWS is never touched).
WORLD = ("aws/recording.jsonl", "aws/state.json", "aws/moto-state.pickle", "clusters", "inventory/sandbox", "kube-up",
         "kubeconfig", "members.json", "clusters.json")
CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class CheckpointError(SandboxError):
    """A checkpoint could not be saved, found or restored (the world is as it was)."""


@dataclass
class Checkpoint:
    """One saved world: what ``kubekit sandbox checkpoints`` lists."""

    name: str
    path: str
    created: str  # UTC, ISO 8601
    size_bytes: int
    clusters: list[str] = field(default_factory=list)  # "<region>/<name>"
    aws_requests: int = 0  # moto requests the world's AWS state is rebuilt from
    saved_while_running: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Restored:
    """What a restore did and how long the sandbox was away."""

    checkpoint: Checkpoint
    was_running: bool
    seconds: float  # the whole restore, staging included
    downtime_s: float  # from stopping the daemon to its ready line (0 when it was down)


# --- listing ------------------------------------------------------------------------------------


def checkpoints(home: str | os.PathLike[str] | None = None) -> list[Checkpoint]:
    """The checkpoints of this home, oldest first."""
    root = kubekit_home(home) / CHECKPOINTS
    out = []
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        ck = _load(d)
        if ck is not None:
            out.append(ck)
    return sorted(out, key=lambda c: (c.created, c.name))


def find(name: str, home: str | os.PathLike[str] | None = None) -> Checkpoint:
    """The checkpoint called ``name``; CheckpointError listing the ones that exist when there is none."""
    _check_name(name)
    ck = _load(kubekit_home(home) / CHECKPOINTS / name)
    if ck is None:
        names = [c.name for c in checkpoints(home)]
        have = f"checkpoints here: {', '.join(names)}" if names else "there are no checkpoints yet"
        raise CheckpointError(f"no checkpoint named {name!r} in {kubekit_home(home) / CHECKPOINTS} ({have}); "
                              f"make one with `kubekit sandbox save {name}`")
    return ck


def _load(d: Path) -> Checkpoint | None:
    try:
        data = json.loads((d / MANIFEST).read_text())
        known = {k: v for k, v in data.items() if k in Checkpoint.__dataclass_fields__}
        # Where it is, not where the manifest says it was made (a copied or moved checkpoint).
        return Checkpoint(**{**known, "name": d.name, "path": str(d)})
    except (OSError, ValueError, TypeError):
        return None


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise CheckpointError(f"invalid checkpoint name {name!r}: use letters, digits, '.', '_' and '-' "
                              "(up to 63, not starting with '.' or '-')")


# --- save ---------------------------------------------------------------------------------------


def save(name: str, home: str | os.PathLike[str] | None = None, *, overwrite: bool = False,
         timeout: float = 300.0) -> Checkpoint:
    """Save the whole world under ``name`` (a running sandbox is stopped for the copy and started again).

    Raises CheckpointError when the name is taken (unless ``overwrite``) or there is no world to save.
    """
    _check_name(name)
    home_path = kubekit_home(home)
    root = home_path / CHECKPOINTS
    final = root / name
    if (final / MANIFEST).exists() and not overwrite:
        raise CheckpointError(f"checkpoint {name!r} exists ({final}); pass overwrite=True (--force) to replace it")
    if not (home_path / "aws" / "recording.jsonl").exists() and not (home_path / "clusters").is_dir():
        raise CheckpointError(f"nothing to save in {home_path}: start a sandbox first (`kubekit sandbox up`)")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = root / f".{name}.saving-{secrets.token_hex(4)}"
    try:
        with control._locked(home_path):  # noqa: SLF001 - one package: the daemon's lifecycle
            info = _stop_locked(home_path)
            try:
                _copy_world(home_path, tmp / "world")
            finally:
                if info is not None:
                    _start_locked(home_path, info, timeout)
                    _repoint_kubeconfig(home_path)
        clusters = sorted(f"{p.parent.name}/{p.name}" for p in (tmp / "world" / "clusters").glob("*/*")
                          if p.is_dir())
        recording = tmp / "world" / "aws" / "recording.jsonl"
        ck = Checkpoint(name=name, path=str(final), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        size_bytes=_size(tmp), clusters=clusters,
                        aws_requests=sum(1 for _ in recording.open()) if recording.exists() else 0,
                        saved_while_running=info is not None)
        (tmp / MANIFEST).write_text(json.dumps(ck.to_dict(), indent=2) + "\n")
        if final.exists():
            trash = root / f".{name}.old-{secrets.token_hex(4)}"
            final.rename(trash)
            tmp.rename(final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(final)
        return ck
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def delete(name: str, home: str | os.PathLike[str] | None = None) -> None:
    """Remove a checkpoint (CheckpointError if there is none of that name)."""
    ck = find(name, home)
    shutil.rmtree(ck.path)


def _copy_world(home: Path, dest: Path) -> None:
    dest.mkdir(parents=True, mode=0o700)
    for rel in WORLD:
        src = home / rel
        if not src.exists():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if src.is_dir():
            shutil.copytree(src, target, symlinks=True, copy_function=_copy_file)
        else:
            _copy_file(src, target)


def _copy_file(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy one file as it is: the daemon is stopped, so a SQLite database and its WAL agree."""
    shutil.copy2(src, dst)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# --- restore ------------------------------------------------------------------------------------


def restore(name: str, home: str | os.PathLike[str] | None = None, *, timeout: float = 300.0) -> Restored:
    """Make the world what checkpoint ``name`` saved; a running sandbox switches to it (see the module docstring).

    Atomic: on any failure the previous world is back in place (and running again if it
    was) and CheckpointError says what failed. An unknown name changes nothing.
    """
    t0 = time.monotonic()
    home_path = kubekit_home(home)
    ck = find(name, home_path)
    token = secrets.token_hex(4)
    staging = home_path / f".restore-{token}"
    old = home_path / f".replaced-{token}"
    try:
        _copy_tree(Path(ck.path) / "world", staging)  # the slow part, while the sandbox still runs
        with control._locked(home_path):  # noqa: SLF001
            t_stop = time.monotonic()
            info = _running(home_path)
            in_place = info is not None and _world(home_path, "unload", timeout)
            if info is not None and not in_place:
                _stop_locked(home_path)
            port = _aws_port(home_path)
            _swap(home_path, staging, old)
            try:
                _keep_aws_port(home_path, port)
                if info is not None:
                    if not (in_place and _world(home_path, "load", timeout)):
                        if in_place:
                            _stop_locked(home_path)
                        _start_locked(home_path, info, timeout)
                    _repoint_kubeconfig(home_path)
            except BaseException as exc:
                if info is not None:
                    _stop_locked(home_path)
                _swap(home_path, old, staging)  # the previous world back
                if info is not None:
                    _start_locked(home_path, info, timeout)
                raise CheckpointError(f"restoring {name!r} failed, the previous world is back: {exc}") from exc
            downtime = time.monotonic() - t_stop if info is not None else 0.0
        return Restored(ck, info is not None, time.monotonic() - t0, downtime)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _copy_tree(src: Path, dest: Path) -> None:
    if not src.is_dir():
        raise CheckpointError(f"checkpoint at {src.parent} has no world/ directory: it is damaged")
    shutil.copytree(src, dest, symlinks=True)


def _swap(home: Path, new: Path, old: Path) -> None:
    """Move the world items of ``home`` into ``old`` and those of ``new`` into ``home`` (renames only)."""
    old.mkdir(parents=True, exist_ok=True, mode=0o700)
    moved: list[str] = []
    try:
        for rel in WORLD:
            cur = home / rel
            if cur.exists() or cur.is_symlink():
                (old / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                cur.rename(old / rel)
            moved.append(rel)
            if (new / rel).exists():
                cur.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                (new / rel).rename(cur)
    except OSError:
        for rel in reversed(moved):  # undo what moved, then re-raise
            cur = home / rel
            if cur.exists():
                (new / rel).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                cur.rename(new / rel)
            if (old / rel).exists():
                (old / rel).rename(cur)
        raise


def _aws_port(home: Path) -> int | None:
    try:
        return int(json.loads((home / "aws" / "state.json").read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _keep_aws_port(home: Path, port: int | None) -> None:
    """The restored seed with the current moto port, so AWS stays where clients look for it."""
    path = home / "aws" / "state.json"
    if port is None or not path.exists():
        return
    data = json.loads(path.read_text())
    data["port"] = port
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _repoint_kubeconfig(home: Path) -> None:
    """A cluster that came back on another port (its old one was taken): point its kubeconfig entry there."""
    import yaml

    path = home / "kubeconfig"
    try:
        now = {(c["region"], c["name"]): c["url"] for c in json.loads((home / "clusters.json").read_text())}
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, ValueError, KeyError, TypeError):
        return
    changed = False
    for entry in doc.get("clusters") or []:
        cluster = entry.get("cluster") or {}
        name = str(entry.get("name", ""))  # kubekit.aws names it by the EKS ARN: arn:aws:eks:<region>:<acct>:cluster/<name>
        for (region, cname), url in now.items():
            if name.endswith(f":cluster/{cname}") and f":{region}:" in name and cluster.get("server") != url:
                cluster["server"] = url
                changed = True
    if changed:
        tmp = path.with_suffix(".ckpt.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        os.replace(tmp, path)


# --- the daemon, under the home's lock ----------------------------------------------------------


def _running(home: Path) -> control.SandboxInfo | None:
    info = control._read_record(home)  # noqa: SLF001
    return info if info is not None and control._is_ours(info) else None  # noqa: SLF001


def _world(home: Path, action: str, timeout: float) -> bool:
    """Unload or load the daemon's world in place (no new process); False: it cannot, restart it instead.

    Loading in place needs moto's snapshot of the restored recording (``kubekit.sandbox.motostate``;
    checkpoints saved from a clean stop have it), and a daemon new enough to have the route.
    """
    try:
        control._control(home, "POST", f"/v1/world/{action}", {}, timeout=timeout)  # noqa: SLF001
    except control.SandboxError as exc:
        if action == "load" and "no snapshot" not in str(exc):
            raise
        return False
    return True


def _stop_locked(home: Path) -> control.SandboxInfo | None:
    """Stop the daemon if it runs (the caller holds the lock); its record, to start it again."""
    info = control._read_record(home)  # noqa: SLF001
    if info is None or not control._is_ours(info):  # noqa: SLF001
        return None
    control._terminate(info.pid)  # noqa: SLF001
    if control._alive(info.pid):  # noqa: SLF001
        raise CheckpointError(f"the sandbox daemon (pid {info.pid}) did not stop; nothing was changed")
    control._record_path(home).unlink(missing_ok=True)  # noqa: SLF001
    return info


def _start_locked(home: Path, info: control.SandboxInfo, timeout: float) -> control.SandboxInfo:
    """Start the daemon again with the profile and workloads it ran with."""
    workloads: dict[str, str] = {}
    args = list(info.command)
    for i, arg in enumerate(args[:-1]):
        if arg == "--workload" and "=" in args[i + 1]:
            k, v = args[i + 1].split("=", 1)
            workloads[k] = v
    return control._start(home, info.profile, timeout, workloads or control.default_workloads())  # noqa: SLF001
