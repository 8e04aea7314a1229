"""The simulated kubelet's per-pod decisions: what to do next with a pod and each container.

Pure functions over plain data (``CState`` per container, the pod object, ``now``), so the
lifecycle is table-tested without threads, API or runtime. The loop in ``kubelet.py``
executes the returned action, updates the state and asks again.

Container lifecycle (kuberuntime_manager.go ``computePodActions`` / ``SyncPod``, simplified):

    new --pull--> pulling --(container_start later)--> pulled --start--> running --exit--> exited
      ^  (image missing: ErrImagePull, then ImagePullBackOff until the back-off ends)        |
      +---------------- restart (policy allows; CrashLoopBackOff first if in back-off) <-----+

Back-offs as ``flowcontrol.Backoff`` (initial 10 s, doubling, max 300 s, scaled): the first
exit restarts at once, the next ones wait ``backoff`` after the exit (kuberuntime ``doBackOff``).
Image pulls: the n-th failure sets the back-off to 10 s * 2^(n-1) (max 300 s); the container
shows ``ErrImagePull`` for the first half of that window (at most one pod-worker retry period,
10 s) and ``ImagePullBackOff`` for the rest, then the pull is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .kubelet_probes import ProbeState
from .kubelet_status import crash_restart_at

Obj = dict[str, Any]


@dataclass
class CState:
    """The kubelet's bookkeeping for one container (by spec name) of one pod."""

    stage: str = "new"  # new | pulling | pulled | running | exited | cancelled
    pull_since: float = 0.0
    pull_failures: int = 0
    pull_backoff: float | None = None
    pull_failed_at: float | None = None
    pull_error: str = ""
    crash_backoff: float | None = None
    crash_updated: float | None = None
    probes: dict[str, ProbeState] = field(default_factory=dict)
    kill_message: str = ""  # why the kubelet killed the running instance (liveness, startup)
    kill_deadline: float | None = None
    backoff_event_at: float | None = None  # when the BackOff event was last recorded
    start_retry_at: float | None = None  # the runtime could not create it (CreateContainerConfigError)


@dataclass(frozen=True)
class Action:
    # pull | pull_done | start | poll | poll_killing | restart | crash_backoff | image_error |
    # image_backoff | wait | done
    kind: str
    at: float | None = None  # for wait-like actions: when to look again


@dataclass(frozen=True)
class Timing:
    """The effective (scaled) durations the decisions need."""

    container_start: float = 1.0
    restart_initial: float = 10.0
    restart_max: float = 300.0
    pull_initial: float = 10.0
    pull_max: float = 300.0
    worker_period: float = 10.0  # pod worker's retry after a failed sync (kubelet.go backOffPeriod)


def restartable(container: Obj, *, init: bool, policy: str, exit_code: int | None) -> bool:
    """Does an exited container start again? (kuberuntime ``shouldRestartOnFailure`` and friends)."""
    if init and (container.get("restartPolicy") or "") == "Always":
        return True  # sidecar
    failed = (exit_code or 0) != 0
    if init:
        return failed and policy != "Never"
    if policy == "Always":
        return True
    if policy == "OnFailure":
        return failed
    return False


def image_error_until(cs: CState, t: Timing) -> float:
    assert cs.pull_failed_at is not None and cs.pull_backoff is not None
    return cs.pull_failed_at + min(t.worker_period, cs.pull_backoff / 2)


def next_action(container: Obj, cs: CState, *, init: bool, policy: str, exit_code: int | None,
                finished_at: float | None, now: float, t: Timing) -> Action:
    """What to do next with one container (pure)."""
    if cs.stage == "new":
        if cs.pull_failed_at is not None and cs.pull_backoff is not None:
            retry_at = cs.pull_failed_at + cs.pull_backoff
            if now < retry_at:
                err_until = image_error_until(cs, t)
                if now < err_until:
                    return Action("image_error", at=err_until)
                return Action("image_backoff", at=retry_at)
        return Action("pull")
    if cs.stage == "pulling":
        done = cs.pull_since + t.container_start
        return Action("pull_done") if now >= done else Action("wait", at=done)
    if cs.stage == "pulled":
        if cs.start_retry_at is not None and now < cs.start_retry_at:
            return Action("wait", at=cs.start_retry_at)
        return Action("start")
    if cs.stage == "running":
        if cs.kill_deadline is not None and now < cs.kill_deadline:
            return Action("poll_killing", at=cs.kill_deadline)
        return Action("poll")
    if cs.stage != "exited":  # cancelled (the pod is being deleted)
        return Action("done")
    if not restartable(container, init=init, policy=policy, exit_code=exit_code):
        return Action("done")
    restart_at = crash_restart_at(finished_at if finished_at is not None else now, cs.crash_backoff,
                                  cs.crash_updated, now, t.restart_max)
    if now < restart_at:
        return Action("crash_backoff", at=restart_at)
    return Action("restart")


def pull_failed(cs: CState, now: float, error: str, t: Timing) -> CState:
    """Fold an image pull failure into the state (image_manager ``backOff.Next``)."""
    if cs.pull_backoff is None:
        backoff = t.pull_initial
    else:
        backoff = min(cs.pull_backoff * 2, t.pull_max)
    cs.pull_failures += 1
    cs.pull_backoff = backoff
    cs.pull_failed_at = now
    cs.pull_error = error
    cs.stage = "new"
    return cs


def restarted(cs: CState, finished_at: float, now: float, t: Timing) -> CState:
    """Bookkeeping when a container starts again (``backOff.Next(key, finishedAt)``)."""
    if cs.crash_backoff is None or cs.crash_updated is None or finished_at - cs.crash_updated > 2 * t.restart_max:
        cs.crash_backoff = t.restart_initial
    else:
        cs.crash_backoff = min(cs.crash_backoff * 2, t.restart_max)
    cs.crash_updated = now
    cs.stage = "new"
    cs.kill_message = ""
    cs.kill_deadline = None
    cs.probes = {}
    cs.backoff_event_at = None
    return cs


def pod_action(pod: Obj | None, *, has_running: bool, now: float, grace_deadline: float | None) -> str:
    """The pod-level decision.

    ``teardown``: the object is gone (force delete): stop and remove everything.
    ``terminate``: deletionTimestamp set and containers still running within the grace period.
    ``finalize``: deletionTimestamp set and nothing runs (or the grace period is over): post the
    terminal status and issue the final DELETE.
    ``terminal``: the pod finished (Succeeded/Failed): never restart anything.
    ``run``: bring containers up and keep them so.
    """
    if pod is None:
        return "teardown"
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        if not has_running:
            return "finalize"
        if grace_deadline is not None and now >= grace_deadline:
            return "finalize"
        return "terminate"
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "terminal"
    return "run"


def init_cursor(init_containers: list[Obj], stages: dict[str, str], exit_codes: dict[str, int | None],
                started: dict[str, bool]) -> tuple[int | None, bool]:
    """Which init container to drive now, and whether initialisation is complete.

    Regular init containers run one at a time to exit 0; a sidecar (restartPolicy Always) only
    needs to be started (startup probe passed) before the next one begins.
    """
    for i, c in enumerate(init_containers):
        name = c.get("name", "")
        stage = stages.get(name, "new")
        if (c.get("restartPolicy") or "") == "Always":
            if stage == "running" and started.get(name):
                continue
            return i, False
        if stage == "exited" and (exit_codes.get(name) or 0) == 0:
            continue
        return i, False
    return None, True
