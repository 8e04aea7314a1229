"""A container's view of the filesystem: its private root plus its mounts.

A container sees one tree. Each ``volumeMount`` maps a container path
(``/data``) to a host directory (a PV directory, an emptyDir in the pod
directory, a materialized ConfigMap ...); everything else lives in the
container's private root directory. :class:`ContainerFS` turns a container
path into a host path through that table (longest mount prefix wins), so a
write to ``/data/x`` in a PVC mount lands in the PV's directory on disk.

Paths are normalized lexically against ``/`` before lookup, so ``..`` never
climbs above the container's ``/``; a symlink on disk that points outside the
mount it lives in is refused (``Permission denied``), so nothing written by a
workload can open a way onto the real host.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import threading
from dataclasses import dataclass
from typing import IO, Callable, Iterator


class FsError(OSError):
    """A failed file operation, worded as coreutils/busybox print it (``No such file or directory``)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = path
        self.why = why


NOENT = "No such file or directory"
ISDIR = "Is a directory"
NOTDIR = "Not a directory"
ROFS = "Read-only file system"
EXIST = "File exists"
NOTEMPTY = "Directory not empty"
DENIED = "Permission denied"


@dataclass(frozen=True)
class Mount:
    """One entry of a container's mount table."""

    path: str  # absolute container path, normalized ("/data")
    host: str  # host directory (or file, for a subPath onto a file)
    read_only: bool = False
    volume: str = ""  # the pod volume's name, for messages


@dataclass(frozen=True)
class Resolved:
    path: str  # normalized container path
    host: str
    base: str  # the host directory the path must stay inside
    read_only: bool
    mount: Mount | None


def normalize(path: str, cwd: str = "/") -> str:
    """Absolute, lexically normalized container path; ``..`` stops at ``/``."""
    if not path.startswith("/"):
        path = posixpath.join(cwd or "/", path)
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


class ContainerFS:
    """The filesystem one container sees (root directory + mount table).

    ``prepare`` builds the root directory on disk the first time anything looks at it: a container
    that is never exec'd into and runs no process never needs its writable layer, and creating
    one per container start was most of what a pod start cost at scale (inode creation is kernel
    time, and it contends when many kubelets start pods at once).
    """

    def __init__(self, root: str, mounts: list[Mount] | None = None,
                 prepare: Callable[[], None] | None = None) -> None:
        self._root = root
        self._prepare = prepare
        self._prepare_lock = threading.Lock()
        # Longest container path first, so /data/sub wins over /data.
        self.mounts = sorted(mounts or [], key=lambda m: len(m.path), reverse=True)

    @property
    def root(self) -> str:
        """The host directory of the container's ``/``, built on first use."""
        if self._prepare is not None:
            with self._prepare_lock:
                if self._prepare is not None:
                    self._prepare()
                    self._prepare = None
        return self._root

    @property
    def materialized(self) -> bool:
        """Whether the root has been built (or never needed building)."""
        return self._prepare is None

    # -- lookup ----------------------------------------------------------------------
    def resolve(self, path: str, cwd: str = "/") -> Resolved:
        cpath = normalize(path, cwd)
        for m in self.mounts:
            if cpath == m.path or cpath.startswith(m.path.rstrip("/") + "/"):
                rest = cpath[len(m.path):].lstrip("/")
                host = os.path.join(m.host, *rest.split("/")) if rest else m.host
                base = m.host if os.path.isdir(m.host) or not os.path.exists(m.host) else os.path.dirname(m.host)
                return Resolved(cpath, host, base, m.read_only, m)
        rest = cpath.lstrip("/")
        host = os.path.join(self.root, *rest.split("/")) if rest else self.root
        return Resolved(cpath, host, self.root, False, None)

    def host_path(self, path: str, cwd: str = "/") -> str:
        r = self.resolve(path, cwd)
        self._check_inside(r)
        return r.host

    def _check_inside(self, r: Resolved) -> None:
        """Refuse a path whose real location (after symlinks) leaves its mount."""
        base = os.path.realpath(r.base)
        probe = r.host
        while not os.path.lexists(probe) and probe != os.path.dirname(probe):
            probe = os.path.dirname(probe)
        real = os.path.realpath(probe)
        if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
            # Mount points themselves may be files bind-mounted from elsewhere (subPath onto a file).
            if r.mount is None or os.path.realpath(r.mount.host) != real:
                raise FsError(r.path, DENIED)

    def _writable(self, path: str, cwd: str) -> Resolved:
        r = self.resolve(path, cwd)
        self._check_inside(r)
        if r.read_only:
            raise FsError(r.path, ROFS)
        return r

    def mount_points_under(self, cpath: str) -> list[str]:
        """Names of mount points that are direct children of a container directory."""
        cpath = normalize(cpath)
        prefix = cpath.rstrip("/") + "/"
        out = []
        for m in self.mounts:
            if m.path.startswith(prefix):
                name = m.path[len(prefix):].split("/")[0]
                if name and name not in out:
                    out.append(name)
        return out

    # -- queries ---------------------------------------------------------------------
    def exists(self, path: str, cwd: str = "/") -> bool:
        try:
            return os.path.exists(self.host_path(path, cwd)) or self._is_mount_parent(path, cwd)
        except FsError:
            return False

    def _is_mount_parent(self, path: str, cwd: str) -> bool:
        return bool(self.mount_points_under(normalize(path, cwd)))

    def isdir(self, path: str, cwd: str = "/") -> bool:
        try:
            return os.path.isdir(self.host_path(path, cwd)) or self._is_mount_parent(path, cwd)
        except FsError:
            return False

    def isfile(self, path: str, cwd: str = "/") -> bool:
        try:
            return os.path.isfile(self.host_path(path, cwd))
        except FsError:
            return False

    def stat(self, path: str, cwd: str = "/") -> os.stat_result:
        host = self.host_path(path, cwd)
        try:
            return os.stat(host)
        except FileNotFoundError:
            raise FsError(normalize(path, cwd), NOENT)

    def listdir(self, path: str, cwd: str = "/") -> list[str]:
        cpath = normalize(path, cwd)
        host = self.host_path(cpath)
        names: list[str] = []
        if os.path.isdir(host):
            names = os.listdir(host)
        elif os.path.exists(host):
            raise FsError(cpath, NOTDIR)
        extra = [n for n in self.mount_points_under(cpath) if n not in names]
        if not os.path.exists(host) and not extra:
            raise FsError(cpath, NOENT)
        return sorted(names + extra)

    def walk(self, path: str, cwd: str = "/") -> Iterator[str]:
        """Container paths below a directory (depth first, the directory itself first)."""
        cpath = normalize(path, cwd)
        yield cpath
        if self.isdir(cpath):
            for name in self.listdir(cpath):
                yield from self.walk(posixpath.join(cpath, name))

    # -- reading and writing ---------------------------------------------------------
    def read_bytes(self, path: str, cwd: str = "/") -> bytes:
        cpath = normalize(path, cwd)
        host = self.host_path(cpath)
        if os.path.isdir(host) or (not os.path.exists(host) and self._is_mount_parent(cpath, "/")):
            raise FsError(cpath, ISDIR)
        try:
            with open(host, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise FsError(cpath, NOENT)
        except NotADirectoryError:
            raise FsError(cpath, NOTDIR)
        except PermissionError:
            raise FsError(cpath, DENIED)

    def open_write(self, path: str, cwd: str = "/", append: bool = False) -> IO[bytes]:
        r = self._writable(path, cwd)
        if os.path.isdir(r.host):
            raise FsError(r.path, ISDIR)
        parent = os.path.dirname(r.host)
        if not os.path.isdir(parent):
            raise FsError(r.path, NOENT if not os.path.exists(parent) else NOTDIR)
        try:
            return open(r.host, "ab" if append else "wb")
        except PermissionError:
            raise FsError(r.path, DENIED)

    def write_bytes(self, path: str, data: bytes, cwd: str = "/", append: bool = False) -> None:
        with self.open_write(path, cwd, append) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def mkdir(self, path: str, cwd: str = "/", parents: bool = False) -> None:
        r = self._writable(path, cwd)
        if parents:
            if os.path.exists(r.host) and not os.path.isdir(r.host):
                raise FsError(r.path, EXIST)
            try:
                os.makedirs(r.host, exist_ok=True)
            except NotADirectoryError:
                raise FsError(r.path, NOTDIR)
            return
        if os.path.exists(r.host) or self._is_mount_parent(r.path, "/"):
            raise FsError(r.path, EXIST)
        parent = os.path.dirname(r.host)
        if not os.path.isdir(parent):
            raise FsError(r.path, NOENT)
        os.mkdir(r.host)

    def touch(self, path: str, cwd: str = "/") -> None:
        r = self._writable(path, cwd)
        if os.path.exists(r.host):
            os.utime(r.host)
            return
        with self.open_write(path, cwd, append=True):
            pass

    def remove(self, path: str, cwd: str = "/", recursive: bool = False) -> None:
        r = self._writable(path, cwd)
        if any(m.path == r.path for m in self.mounts) or r.path == "/":
            raise FsError(r.path, "Device or resource busy")
        if not os.path.lexists(r.host):
            raise FsError(r.path, NOENT)
        if os.path.isdir(r.host) and not os.path.islink(r.host):
            if not recursive:
                raise FsError(r.path, ISDIR)
            if self.mount_points_under(r.path):
                raise FsError(r.path, "Device or resource busy")
            shutil.rmtree(r.host)
        else:
            os.remove(r.host)

    def rmdir(self, path: str, cwd: str = "/") -> None:
        r = self._writable(path, cwd)
        if not os.path.isdir(r.host):
            raise FsError(r.path, NOENT if not os.path.exists(r.host) else NOTDIR)
        if os.listdir(r.host):
            raise FsError(r.path, NOTEMPTY)
        os.rmdir(r.host)

    def copy(self, src: str, dst: str, cwd: str = "/", recursive: bool = False) -> None:
        s = self.resolve(src, cwd)
        self._check_inside(s)
        if not os.path.exists(s.host):
            raise FsError(s.path, NOENT)
        d = self._writable(dst, cwd)
        target = d.host
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(s.host))
        if os.path.isdir(s.host):
            if not recursive:
                raise FsError(s.path, "omitting directory")
            shutil.copytree(s.host, target, symlinks=True, dirs_exist_ok=True)  # links stay links: never followed out
        else:
            shutil.copyfile(s.host, target)

    def move(self, src: str, dst: str, cwd: str = "/") -> None:
        s = self._writable(src, cwd)
        if not os.path.lexists(s.host):
            raise FsError(s.path, NOENT)
        d = self._writable(dst, cwd)
        target = d.host
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(s.host))
        shutil.move(s.host, target)


def mode_string(st: os.stat_result) -> str:
    """``drwxr-xr-x`` as ls -l prints it."""
    return stat.filemode(st.st_mode)
