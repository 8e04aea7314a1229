"""Job controller: pods until enough succeed, backoff after failures, deadlines, conditions.

Follows k/k ``pkg/controller/job/job_controller.go`` (``syncJob``, ``manageJob``,
``trackJobStatusAndRemoveFinalizers``, ``enactJobFinished``, ``pastBackoffLimitOnFailure``,
``pastActiveDeadline``, ``newFailureCondition``/``newSuccessCondition``,
``recordJobFinished``), ``backoff_utils.go`` (``getRemainingTimeForFailuresCount``:
10 s doubling up to 10 min after the failures since the last success, first retry
after the first failure waits 10 s) and ``pkg/controller/job/util``.

What a real cluster shows, and this does:

- pods ``<job>-<5 random>`` (Indexed: ``<job>-<index>-<5 random>``) from the template
  with the ``job-name``/``controller-uid`` labels the API server added, the finalizer
  ``batch.kubernetes.io/job-tracking`` and a controller ownerReference; events
  ``SuccessfulCreate`` "Created pod: x", ``SuccessfulDelete`` "Deleted pod: x";
- finished pods are first listed in ``status.uncountedTerminatedPods``, then lose
  the finalizer, then are moved into ``succeeded``/``failed``;
- status ``startTime``, ``active``, ``ready``, ``terminating``, ``succeeded``,
  ``failed``, ``uncountedTerminatedPods: {}``, ``completionTime``;
- success: from 1.31 ``SuccessCriteriaMet`` then (when no pod is left running or
  terminating) ``Complete``, reason ``CompletionsReached``, message "Reached expected
  number of succeeded pods"; before 1.31 ``Complete`` at once. Event ``Completed``
  "Job completed";
- failure: ``failed > backoffLimit`` (or, for restartPolicy OnFailure, container
  restarts reaching it) -> ``BackoffLimitExceeded`` "Job has reached the specified
  backoff limit"; ``activeDeadlineSeconds`` -> ``DeadlineExceeded`` "Job was active
  longer than specified deadline". From 1.31 first ``FailureTarget``, then ``Failed``
  once the remaining pods are gone. Warning event with the same reason and message.

The kubelet and runtime make a pod Succeeded or Failed from its container's exit code;
this controller only reacts to pod phases. Durations (backoff, activeDeadlineSeconds)
are upstream seconds scaled by the timing profile.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError
from .podtemplate import (create_pod, delete_pod, finish_time, is_active, is_deleting, is_ready, is_terminal,
                          is_terminating, name_of, now_rfc3339, phase, pod_from_template, remove_finalizer,
                          restart_count, slow_start_batch)
from .workload import OwnerLoop

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
BACKOFF_INITIAL = 10.0  # DefaultJobPodFailureBackOff
BACKOFF_MAX = 600.0  # MaxJobPodFailureBackOff (10 min)
MAX_CREATE_DELETE_PER_SYNC = 500  # MaxPodCreateDeletePerSync

MSG_BACKOFF = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"
MSG_COMPLETE = "Reached expected number of succeeded pods"


@dataclass
class Backoff:
    """The controller's in-memory backoff record of one Job (``backoffRecord``)."""

    failures_after_last_success: int = 0
    last_failure_time: float | None = None


@dataclass
class JobDecision:
    create: int = 0
    create_indexes: list[int] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    remove_finalizers: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue: float | None = None
    backoff: Backoff = field(default_factory=Backoff)


def backoff_remaining(rec: Backoff, now: float, scale: float = 1.0) -> float:
    """``getRemainingTimeForFailuresCount``."""
    if rec.failures_after_last_success == 0 or rec.last_failure_time is None:
        return 0.0
    delay = min(BACKOFF_INITIAL * (2 ** (rec.failures_after_last_success - 1)), BACKOFF_MAX) * scale
    return max(0.0, delay - (now - rec.last_failure_time))


def update_backoff(rec: Backoff, new_succeeded: list[Obj], new_failed: list[Obj], now: float) -> Backoff:
    """``newBackoffRecord``: failures after the last success, and when the latest failure finished."""
    if not new_succeeded and not new_failed:
        return rec
    last_success = max((finish_time(p) or now for p in new_succeeded), default=None)
    fails = [finish_time(p) or now for p in new_failed]
    if last_success is not None:
        fails = [t for t in fails if t > last_success]
        if not fails:
            return Backoff(0, None)
        return Backoff(len(fails), max(fails))
    last = max(fails)
    if rec.last_failure_time is not None:
        last = max(last, rec.last_failure_time)
    return Backoff(rec.failures_after_last_success + len(fails), last)


def _cond(status: Obj, ctype: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype and c.get("status") == "True":
            return c
    return None


def is_finished(job: Obj) -> bool:
    st = job.get("status") or {}
    return _cond(st, "Complete") is not None or _cond(st, "Failed") is not None


def _new_cond(ctype: str, reason: str, message: str, now: str) -> Obj:
    return {"type": ctype, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason,
            "message": message}


def decide(job: Obj, pods: list[Obj], now: float, *, backoff: Backoff | None = None, scale: float = 1.0,
           k8s_version: tuple[int, int] = (1, 33)) -> JobDecision:
    """One ``syncJob`` for the pods the Job owns. Pure: the backoff record goes in and comes out."""
    spec = job.get("spec") or {}
    old = job.get("status") or {}
    now_text = now_rfc3339(now)
    delay_terminal = k8s_version >= (1, 31)
    out = JobDecision(backoff=copy.deepcopy(backoff) if backoff else Backoff())
    if is_finished(job):
        return out
    status: Obj = copy.deepcopy(old)
    uncounted = status.get("uncountedTerminatedPods") or {}
    unc_succ = list(uncounted.get("succeeded") or [])
    unc_fail = list(uncounted.get("failed") or [])
    active_pods = [p for p in pods if is_active(p)]
    terminating = sum(1 for p in pods if is_terminating(p))
    ready = sum(1 for p in active_pods if is_ready(p))
    # getNewFinishedPods: terminal (or deleted) pods that still hold the tracking finalizer.
    tracked = [p for p in pods if TRACKING_FINALIZER in ((p.get("metadata") or {}).get("finalizers") or [])]
    counted_uids = set(unc_succ) | set(unc_fail)
    new_succ = [p for p in tracked if phase(p) == "Succeeded" and p["metadata"].get("uid") not in counted_uids]
    new_fail = [p for p in tracked if phase(p) == "Failed" and p["metadata"].get("uid") not in counted_uids]
    succeeded = int(old.get("succeeded") or 0) + len(new_succ) + len(unc_succ)
    failed = int(old.get("failed") or 0) + len(new_fail) + len(unc_fail)
    out.backoff = update_backoff(out.backoff, new_succ, new_fail, now)
    suspended = bool(spec.get("suspend"))
    if not status.get("startTime") and not suspended:
        status["startTime"] = now_text
    from .. import clock

    start = clock.parse_time(status.get("startTime"))
    backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
    finished: Obj | None = None
    sc = _cond(old, "SuccessCriteriaMet")
    ft = _cond(old, "FailureTarget")
    if sc is not None:
        finished = _new_cond("Complete", sc.get("reason", ""), sc.get("message", ""), now_text)
    elif ft is not None:
        finished = _new_cond("Failed", ft.get("reason", ""), ft.get("message", ""), now_text)
    else:
        fail_type = "FailureTarget" if delay_terminal else "Failed"
        if failed > backoff_limit or _past_backoff_on_failure(spec, pods, backoff_limit):
            finished = _new_cond(fail_type, "BackoffLimitExceeded", MSG_BACKOFF, now_text)
        elif spec.get("activeDeadlineSeconds") is not None and start is not None and not suspended:
            allowed = float(spec["activeDeadlineSeconds"]) * scale
            elapsed = now - start.timestamp()
            if elapsed >= allowed:
                finished = _new_cond(fail_type, "DeadlineExceeded", MSG_DEADLINE, now_text)
            else:
                out.requeue = allowed - elapsed + 0.01
    active = len(active_pods)
    completions = spec.get("completions")
    parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
    if finished is not None:
        # Remove active pods when the Job finishes (deleteActivePods keeps their finalizers).
        out.delete = [name_of(p) for p in active_pods]
        terminating += len(out.delete)
        ready = 0
        active = 0
    else:
        want, deletions = _manage(job, active_pods, succeeded, parallelism, completions, suspended)
        if deletions:
            out.delete = deletions
            active -= len(deletions)
            terminating += len(deletions)
        elif want > active and not suspended and not is_deleting(job):
            diff = want - active
            if spec.get("podReplacementPolicy") == "Failed":
                diff = max(0, diff - terminating)
            wait = backoff_remaining(out.backoff, now, scale)
            if diff and wait > 0:
                out.requeue = wait if out.requeue is None else min(out.requeue, wait)
            elif diff:
                diff = min(diff, MAX_CREATE_DELETE_PER_SYNC)
                if spec.get("completionMode") == "Indexed":
                    out.create_indexes = _missing_indexes(job, pods, int(completions or 0), diff)
                    out.create = len(out.create_indexes)
                else:
                    out.create = diff
                active += out.create
        done = (succeeded > 0 and active == 0) if completions is None else \
            (succeeded >= int(completions) and active == 0)
        if done:
            finished = _new_cond("SuccessCriteriaMet" if delay_terminal else "Complete",
                                 "CompletionsReached" if delay_terminal else "",
                                 MSG_COMPLETE if delay_terminal else "", now_text)
        if suspended:
            if _set_cond(status, "Suspended", "True", "JobSuspended", "Job suspended", now_text):
                out.events.append(("Normal", "Suspended", "Job suspended"))
        elif _cond(status, "Suspended") is not None:
            _set_cond(status, "Suspended", "False", "JobResumed", "Job resumed", now_text)
            status["startTime"] = now_text
            out.events.append(("Normal", "Resumed", "Job resumed"))
    status["active"] = active
    status["ready"] = ready
    if k8s_version >= (1, 29):
        status["terminating"] = terminating
    # trackJobStatusAndRemoveFinalizers: uncounted -> finalizer removed -> counters.
    with_finalizer = {p["metadata"].get("uid") for p in pods
                      if TRACKING_FINALIZER in ((p.get("metadata") or {}).get("finalizers") or [])}
    # Uncounted pods whose finalizer is gone (or the pod is gone) move into the counters.
    for lst, key in ((unc_succ, "succeeded"), (unc_fail, "failed")):
        keep = [u for u in lst if u in with_finalizer]
        status[key] = int(status.get(key) or 0) + (len(lst) - len(keep))
        lst[:] = keep
    for p in new_succ:
        unc_succ.append(p["metadata"]["uid"])
    for p in new_fail:
        unc_fail.append(p["metadata"]["uid"])
    out.remove_finalizers = [name_of(p) for p in new_succ + new_fail]
    # Pods the Job deletes itself (too many, or the Job is finished) lose the finalizer uncounted.
    for p in pods:
        if TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) or is_terminal(p):
            continue
        if name_of(p) in out.delete or (is_deleting(p) and (finished is not None or is_deleting(job))):
            out.remove_finalizers.append(name_of(p))
    status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_succ), ("failed", unc_fail)) if v}
    # enactJobFinished: only once nothing is uncounted (and, from 1.31, nothing is terminating).
    if finished is not None:
        pending_uncounted = bool(unc_succ or unc_fail)
        if not pending_uncounted and not (finished["type"] in ("Complete", "Failed") and delay_terminal
                                          and (terminating > 0 or active > 0)):
            _set_cond(status, finished["type"], "True", finished["reason"], finished["message"], now_text)
            if finished["type"] == "Complete":
                status["completionTime"] = now_text
                out.events.append(("Normal", "Completed", "Job completed"))
            elif finished["type"] == "Failed":
                out.events.append(("Warning", finished["reason"], finished["message"]))
        else:
            out.requeue = 0.05 if out.requeue is None else min(out.requeue, 0.05)
    for k in ("succeeded", "failed", "active"):
        if not status.get(k):
            status.pop(k, None)
    out.status = status
    return out


def _past_backoff_on_failure(spec: Obj, pods: list[Obj], limit: int) -> bool:
    """``pastBackoffLimitOnFailure``: restarts of running/pending pods for restartPolicy OnFailure."""
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(restart_count(p) for p in pods if phase(p) in ("Running", "Pending"))
    return restarts > 0 if limit == 0 else restarts >= limit


def _manage(job: Obj, active: list[Obj], succeeded: int, parallelism: int, completions: Any,
            suspended: bool) -> tuple[int, list[str]]:
    """``manageJob``: the number of pods wanted and the pods to delete when there are too many."""
    if suspended:
        return 0, [name_of(p) for p in active]
    if completions is None:
        want = len(active) if succeeded > 0 else parallelism
    else:
        want = max(0, min(int(completions) - succeeded, parallelism))
    extra = len(active) - want
    if extra > 0:
        # activePodsForRemoval: not-ready and newest first.
        ordered = sorted(active, key=lambda p: (is_ready(p), -_created(p)))
        return want, [name_of(p) for p in ordered[:extra]]
    return want, []


def _created(p: Obj) -> float:
    from .podtemplate import created_at

    return created_at(p)


def _missing_indexes(job: Obj, pods: list[Obj], completions: int, n: int) -> list[int]:
    taken = set()
    for p in pods:
        if phase(p) == "Failed":
            continue
        idx = ((p.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
        if idx is not None and idx.isdigit():
            taken.add(int(idx))
    return [i for i in range(completions) if i not in taken][:n]


def _set_cond(status: Obj, ctype: str, cstatus: str, reason: str, message: str, now: str) -> bool:
    """``ensureJobConditionStatus``."""
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason"), c.get("message")) == (cstatus, reason, message):
                return False
            c.update({"status": cstatus, "reason": reason, "message": message, "lastProbeTime": now,
                      "lastTransitionTime": now})
            return True
    if cstatus == "False":
        return False
    conds.append(_new_cond(ctype, reason, message, now))
    return True


class JobController(OwnerLoop):
    """kube-controller-manager's ``job-controller``."""

    name = "job-controller"
    owner_key = "batch/jobs"
    owner_kind = "Job"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._backoff: dict[str, Backoff] = {}

    def reconcile(self, item: Any) -> float | None:
        _, ns, name = item
        job = self.get_owner(ns, name)
        if job is None:
            return None
        uid = job["metadata"].get("uid", "")
        if is_finished(job):
            self._backoff.pop(uid, None)
            # Pods of a finished Job may still carry the finalizer (a crash between steps).
            for p in self.owned(job, adopt=False):
                if TRACKING_FINALIZER in (p["metadata"].get("finalizers") or []):
                    remove_finalizer(self.api, ns, name_of(p), TRACKING_FINALIZER, self.manager)
            return None
        managed_by = (job.get("spec") or {}).get("managedBy")
        if managed_by and managed_by != "kubernetes.io/job-controller":
            return None
        pods = self.owned(job)
        d = decide(job, pods, self.now(), backoff=self._backoff.get(uid), scale=self.timings.scale,
                   k8s_version=self.ctx.k8s_version)
        self._backoff[uid] = d.backoff
        # 1. status with the newly finished pods as uncounted (before their finalizers go)
        newly = set(d.remove_finalizers)
        if newly:
            interim = copy.deepcopy(job.get("status") or {})
            interim["uncountedTerminatedPods"] = d.status.get("uncountedTerminatedPods", {})
            self.write_status(job, interim)
            job = self.get_owner(ns, name) or job
        for pod_name in d.delete:
            try:
                delete_pod(self.api, self.recorder, job, pod_name)
            except ApiError:
                pass
        for pod_name in d.remove_finalizers:
            remove_finalizer(self.api, ns, pod_name, TRACKING_FINALIZER, self.manager)
        if d.create:
            template = (job.get("spec") or {}).get("template") or {}
            indexes = list(d.create_indexes)

            def one() -> None:
                extra_ann, extra_labels, gen = {}, {}, None
                if indexes:
                    i = indexes.pop(0)
                    extra_ann[COMPLETION_INDEX] = str(i)
                    extra_labels[COMPLETION_INDEX] = str(i)
                    gen = f"{name}-{i}-"
                pod = pod_from_template(template, job, generate_name=gen, extra_labels=extra_labels,
                                        extra_annotations=extra_ann, finalizers=[TRACKING_FINALIZER])
                if indexes is not None and gen:
                    sub = pod["spec"]
                    if sub.get("subdomain"):
                        sub.setdefault("hostname", f"{name}-{extra_ann[COMPLETION_INDEX]}")
                create_pod(self.api, self.recorder, job, pod, self.manager)

            slow_start_batch(d.create, one)
        for type_, reason, message in d.events:
            self.recorder.event(job, type_, reason, message)
        self.write_status(job, d.status)
        again = d.requeue
        if newly or d.delete:
            again = 0.05 if again is None else min(again, 0.05)
        return again
