"""An in-memory ``RuntimeAPI`` for tests of the kubelet (and of anything that needs running pods).

It implements ``kubesim.runtime.RuntimeAPI`` with no processes and no filesystem:

- a container runs until stopped; one whose command is ``sh -c '... exit N'`` (or ``exit N``)
  ends at once with exit code N, ``sleep S; exit N`` after S seconds;
- ``exec`` understands ``cat FILE``, ``echo WORDS > FILE``, ``test -f FILE``/``test -e FILE``, ``touch FILE``,
  ``rm FILE``, ``true``, ``false`` and ``sh -c '<one of those>'`` over a per-pod dict of files
  (``set_file`` / ``remove_file`` let a test flip a readiness probe);
- ``volume_errors[pod_uid]`` makes ``prepare_pod`` raise that ``VolumeError``;
- ``endpoints[(pod_uid, port)]`` makes httpGet/tcpSocket probes really connect.

Everything is recorded in ``calls`` for assertions.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
import uuid
from typing import Any

from ..runtime import ContainerState, Endpoint, ExecResult, LogLine, VolumeError


class FakeRuntime:
    def __init__(self, ctx: Any = None, node_name: str = "") -> None:
        self.node = node_name
        self._lock = threading.Lock()
        self.containers: dict[tuple[str, str], ContainerState] = {}
        self.previous: dict[tuple[str, str], ContainerState] = {}
        self.ends_at: dict[tuple[str, str], tuple[float, int]] = {}
        self.files: dict[str, dict[str, str]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.volume_errors: dict[str, VolumeError] = {}
        self.endpoints: dict[tuple[str, int], Endpoint] = {}
        self.ignore_sigterm: set[str] = set()  # container names that only die at the end of their grace
        self.calls: list[tuple[Any, ...]] = []

    # -- RuntimeAPI ----------------------------------------------------------------------------
    def prepare_pod(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        self.calls.append(("prepare_pod", uid))
        err = self.volume_errors.get(uid)
        if err is not None:
            raise err
        self.pods[uid] = pod
        self.files.setdefault(uid, {})

    def start_container(self, pod: dict[str, Any], container: dict[str, Any]) -> ContainerState:
        uid = pod["metadata"]["uid"]
        name = container["name"]
        self.calls.append(("start_container", uid, name))
        now = time.time()
        st = ContainerState(state="running", started_at=now, container_id=uuid.uuid4().hex + uuid.uuid4().hex)
        with self._lock:
            if (uid, name) in self.containers:
                self.previous[(uid, name)] = self.containers[(uid, name)]
            self.containers[(uid, name)] = st
            script = " ".join(list(container.get("command") or []) + list(container.get("args") or []))
            m = re.search(r"\bexit\s+(\d+)", script)
            if m:
                s = re.search(r"\bsleep\s+([\d.]+)", script)
                delay = float(s.group(1)) if s else 0.0
                self.ends_at[(uid, name)] = (now + delay, int(m.group(1)))
        return self.container_state(uid, name) or st

    def container_state(self, pod_uid: str, name: str) -> ContainerState | None:
        with self._lock:
            st = self.containers.get((pod_uid, name))
            end = self.ends_at.get((pod_uid, name))
            if st is not None and st.state == "running" and end is not None and time.time() >= end[0]:
                code = end[1]
                st.state, st.exit_code = "terminated", code
                st.reason = "Completed" if code == 0 else "Error"
                st.finished_at = max(end[0], st.started_at or 0)
                del self.ends_at[(pod_uid, name)]
            return st

    def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        self.calls.append(("stop_container", pod_uid, name, grace_seconds))
        with self._lock:
            st = self.containers.get((pod_uid, name))
            if st is None or st.state != "running":
                return
            if name in self.ignore_sigterm and grace_seconds > 0:
                self.ends_at[(pod_uid, name)] = (time.time() + grace_seconds, 137)
                return
            st.state, st.exit_code, st.reason, st.finished_at = "terminated", 0, "Completed", time.time()
            self.ends_at.pop((pod_uid, name), None)

    def kill_all(self) -> None:
        self.calls.append(("kill_all",))
        with self._lock:
            for st in self.containers.values():
                if st.state == "running":
                    st.state, st.exit_code, st.reason, st.finished_at = "terminated", 255, "Unknown", time.time()
            self.ends_at.clear()

    def remove_pod(self, pod_uid: str) -> None:
        self.calls.append(("remove_pod", pod_uid))
        with self._lock:
            for key in [k for k in self.containers if k[0] == pod_uid]:
                del self.containers[key]
                self.ends_at.pop(key, None)
            self.files.pop(pod_uid, None)
            self.pods.pop(pod_uid, None)

    def exec(self, pod: dict[str, Any], container: str, argv: list[str], stdin: bytes = b"",
             timeout: float | None = None) -> ExecResult:
        uid = pod["metadata"]["uid"]
        self.calls.append(("exec", uid, container, tuple(argv)))
        files = self.files.setdefault(uid, {})
        if len(argv) >= 3 and argv[0] in ("sh", "/bin/sh", "bash") and argv[1] == "-c":
            argv = shlex.split(argv[2])
        if ">" in argv and argv.index(">") == len(argv) - 2 and argv[0] == "echo":
            files[argv[-1]] = " ".join(argv[1:-2]) + "\n"
            return ExecResult(0)
        if not argv:
            return ExecResult(0)
        cmd, args = argv[0], argv[1:]
        if cmd == "true":
            return ExecResult(0)
        if cmd == "false":
            return ExecResult(1)
        if cmd == "cat":
            out = b""
            for a in args:
                if a not in files:
                    return ExecResult(1, out, f"cat: {a}: No such file or directory\n".encode())
                out += files[a].encode()
            return ExecResult(0, out)
        if cmd in ("test", "[") and len(args) >= 2 and args[0] in ("-f", "-e"):
            return ExecResult(0 if args[1] in files else 1)
        if cmd == "touch":
            for a in args:
                files.setdefault(a, "")
            return ExecResult(0)
        if cmd == "rm":
            for a in args:
                if not a.startswith("-"):
                    files.pop(a, None)
            return ExecResult(0)
        return ExecResult(127, b"", f"sh: {cmd}: not found\n".encode())

    def logs(self, pod_uid: str, container: str, previous: bool = False) -> list[LogLine]:
        return []

    def endpoint(self, pod_uid: str, port: int) -> Endpoint | None:
        return self.endpoints.get((pod_uid, port))

    # -- test helpers --------------------------------------------------------------------------
    def set_file(self, pod_uid: str, path: str, content: str = "") -> None:
        self.files.setdefault(pod_uid, {})[path] = content

    def remove_file(self, pod_uid: str, path: str) -> None:
        self.files.setdefault(pod_uid, {}).pop(path, None)

    def exit(self, pod_uid: str, name: str, code: int) -> None:
        """Make a running container end now with ``code``."""
        with self._lock:
            st = self.containers.get((pod_uid, name))
            if st is not None and st.state == "running":
                self.ends_at[(pod_uid, name)] = (time.time(), code)

    def running(self) -> list[tuple[str, str]]:
        with self._lock:
            return [k for k, st in self.containers.items() if st.state == "running"]
