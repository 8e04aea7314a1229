"""The container runtime a simulated kubelet drives: the contract between them.

``kubesim.runtime.node.NodeRuntime(ctx, node_name)`` implements
:class:`RuntimeAPI` for one node. By default a container is *simulated*: it
"runs" with no process, its state is what the kubelet sets. A container whose
command the exec shell understands (``sh -c 'echo hi; exit 3'``, ``sleep 5``)
runs in that shell, so a Job's pod really finishes with its exit code. A
container whose pod carries the annotation ``kubesim.io/workload: <name>`` for a
known kit workload (``ctx.workloads[name]`` = a script path) runs that script as
a real local process on a loopback port. Nothing else from a pod spec is ever
executed on the host.

Filesystems: each pod has a private directory (``kubesim.storage.pod_dir``);
each container sees its mounts (emptyDir, configMap, secret, downwardAPI,
projected, persistentVolumeClaim -> ``kubesim.storage.volume_dir(pv)``) at their
``mountPath`` and a private root for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class VolumeError(Exception):
    """A volume cannot be set up yet (kubelet reports FailedMount and keeps the pod ContainerCreating)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ContainerState:
    """What the runtime knows about one container instance."""

    state: str = "waiting"  # waiting | running | terminated
    exit_code: int | None = None
    reason: str = ""  # Completed | Error | ContainerCreating ...
    message: str = ""
    started_at: float | None = None  # unix time
    finished_at: float | None = None
    container_id: str = ""
    process: bool = False  # a real local process (known workload)


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


@dataclass
class LogLine:
    time: float
    stream: str  # stdout | stderr
    text: str


@dataclass
class Endpoint:
    """Where a container port is really served (for the API server's pod/service proxy)."""

    host: str
    port: int
    extra: dict[str, Any] = field(default_factory=dict)


class RuntimeAPI(Protocol):
    def prepare_pod(self, pod: dict[str, Any]) -> None:
        """Create the pod's directories and volumes; raise VolumeError if one is not ready."""

    def start_container(self, pod: dict[str, Any], container: dict[str, Any]) -> ContainerState:
        """Start one container (a new instance; restarts call this again)."""

    def container_state(self, pod_uid: str, name: str) -> ContainerState | None:
        """The current state of the container's newest instance, None if never started."""

    def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        """SIGTERM now, SIGKILL after the grace period (non-blocking)."""

    def kill_all(self) -> None:
        """Power loss: every container on the node stops at once."""

    def remove_pod(self, pod_uid: str) -> None:
        """Stop everything of the pod and delete its private directory (not PV data)."""

    def exec(self, pod: dict[str, Any], container: str, argv: list[str], stdin: bytes = b"",
             timeout: float | None = None) -> ExecResult:
        """Run a command in the exec shell, in the container's filesystem view."""

    def logs(self, pod_uid: str, container: str, previous: bool = False) -> list[LogLine]:
        """The container's log lines (the previous instance's with previous=True)."""

    def endpoint(self, pod_uid: str, port: int) -> Endpoint | None:
        """Where the container port is served, if a real process serves it."""
