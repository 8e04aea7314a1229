"""CronJob controller: Jobs on a cron schedule, concurrency policy, history limits.

Follows k/k ``pkg/controller/cronjob/cronjob_controllerv2.go`` (``syncCronJob``,
``cleanupFinishedJobs``, ``removeOldestJobs``, ``getJobName``) and ``utils.go``
(``mostRecentScheduleTime``, ``nextScheduleTime``, ``nextScheduleTimeDuration``,
``getJobFromTemplate2``, ``formatSchedule``) with robfig/cron v3 ``ParseStandard``
semantics for the schedule (5 fields, names, ranges, steps, ``@hourly`` ...
descriptors, ``@every``; day-of-month and day-of-week OR-ed unless one is ``*``).

Jobs are named ``<cronjob>-<scheduled time in minutes since the epoch>``, carry the
CronJob's job template labels and annotations plus
``batch.kubernetes.io/cronjob-scheduled-timestamp`` (from 1.32), and a controller
ownerReference. Events: ``SuccessfulCreate`` "Created job x", ``SawCompletedJob``
"Saw completed job: x, status: Complete", ``SuccessfulDelete`` "Deleted job x",
``MissSchedule``, ``JobAlreadyActive``, ``UnexpectedJob`` (a Job the controller did not
create, e.g. ``kubectl create job --from=cronjob/x``), ``TooManyMissedTimes``,
``UnparseableSchedule``, ``UnknownTimeZone``.

Cron schedules are **wall-clock** and are not scaled by the timing profile (a
``*/1 * * * *`` CronJob runs once a minute under every profile), and neither is
``startingDeadlineSeconds``, which is measured against the schedule. The Jobs a
CronJob starts then run under the profile like any other Job.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Hashable, Iterable
from zoneinfo import ZoneInfo

from .. import clock
from ..api import Request
from ..errors import AlreadyExists, ApiError, NotFound
from ..store import Event
from .podtemplate import controller_ref, name_of, owner_ref
from .workload import OwnerLoop

Obj = dict[str, Any]

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # nextScheduleDelta (100 ms)

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DOW = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class ScheduleError(ValueError):
    pass


def _num(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ScheduleError(f"failed to parse int from {text}")
    return int(text)


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[set[int], bool]:
    """One field -> (allowed values, star): ``getRange`` with robfig's starBit rule."""
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        rng, _, step_text = expr.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ScheduleError(f"step of range should be a positive number: {expr}")
        if rng in ("*", "?"):
            start, end = lo, hi
            if step == 1:
                star = True
        else:
            a, _, b = rng.partition("-")
            start = _num(a, names)
            end = _num(b, names) if b else (hi if step_text else start)
        if start < lo or end > hi or start > end:
            raise ScheduleError(f"invalid range: {expr}")
        values.update(range(start, end + 1, step))
    return values, star


@dataclass
class Schedule:
    """A parsed schedule in its location; ``next(t)`` is robfig's ``Schedule.Next``."""

    tz: Any = timezone.utc
    minute: set[int] = field(default_factory=set)
    hour: set[int] = field(default_factory=set)
    dom: set[int] = field(default_factory=set)
    month: set[int] = field(default_factory=set)
    dow: set[int] = field(default_factory=set)
    dom_star: bool = False
    dow_star: bool = False
    every: float | None = None  # @every: ConstantDelaySchedule

    def _day_ok(self, d: datetime) -> bool:
        dom_ok = d.day in self.dom
        dow_ok = (d.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next(self, t: datetime) -> datetime | None:
        """The first activation strictly after ``t`` (None if there is none within 5 years)."""
        if self.every is not None:
            return (t.replace(microsecond=0) + timedelta(seconds=self.every)).astimezone(timezone.utc)
        local = t.astimezone(self.tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.replace(hour=0, minute=0)
        first = True
        for _ in range(366 * 5):
            if day.month in self.month and self._day_ok(day):
                for h in sorted(self.hour):
                    for m in sorted(self.minute):
                        cand = day.replace(hour=h, minute=m)
                        if first and cand < local:
                            continue
                        aware = datetime(cand.year, cand.month, cand.day, h, m, tzinfo=self.tz)
                        # Skip wall times a DST jump does not have.
                        back = aware.astimezone(timezone.utc).astimezone(self.tz)
                        if (back.hour, back.minute) != (h, m):
                            continue
                        return aware.astimezone(timezone.utc)
            first = False
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        return None


def parse_schedule(spec: str, time_zone: str | None = None) -> Schedule:
    """``cron.ParseStandard(formatSchedule(cj))``: TZ from ``spec.timeZone`` or a ``CRON_TZ=`` prefix."""
    text = spec.strip()
    tz_name = time_zone
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        head, _, text = text.partition(" ")
        tz_name = head.split("=", 1)[1]
    try:
        tz: Any = ZoneInfo(tz_name) if tz_name else timezone.utc
    except Exception:
        raise ScheduleError(f"provided bad location {tz_name}: unknown time zone {tz_name}")
    text = text.strip()
    if text.startswith("@every "):
        total = 0.0
        rest = text[len("@every "):].strip()
        for num, unit in _DURATION.findall(rest):
            total += float(num) * _UNIT[unit]
        if total <= 0:
            raise ScheduleError(f"failed to parse duration {text}")
        return Schedule(tz=tz, every=max(1.0, float(int(total))))
    text = _DESCRIPTORS.get(text, text)
    if text.startswith("@"):
        raise ScheduleError(f"unrecognized descriptor: {text}")
    parts = text.split()
    if len(parts) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(parts)}: [{' '.join(parts)}]")
    minute, _ = _field(parts[0], 0, 59, None)
    hour, _ = _field(parts[1], 0, 23, None)
    dom, dom_star = _field(parts[2], 1, 31, None)
    month, _ = _field(parts[3], 1, 12, _MONTHS)
    dow, dow_star = _field(parts[4], 0, 7, _DOW)
    if 7 in dow:
        dow = (dow - {7}) | {0}
    return Schedule(tz, minute, hour, dom, month, dow, dom_star, dow_star)


def most_recent_schedule_time(cj: Obj, now: datetime, sched: Schedule, include_deadline: bool
                              ) -> tuple[datetime, datetime | None, str]:
    """``mostRecentScheduleTime`` -> (earliest, most recent unmet time or None, none|few|many missed)."""
    created = clock.parse_time((cj.get("metadata") or {}).get("creationTimestamp")) or now
    status = cj.get("status") or {}
    earliest = clock.parse_time(status.get("lastScheduleTime")) or created
    deadline = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        limit = now - timedelta(seconds=int(deadline))
        if limit > earliest:
            earliest = limit
    t1 = sched.next(earliest)
    if t1 is None or now < t1:
        return earliest, None, "none"
    t2 = sched.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, "none"
    most_recent = t2
    count = 2
    while count <= 100:
        n = sched.next(most_recent)
        if n is None or n > now:
            break
        most_recent = n
        count += 1
    if count > 100:
        # Too many to walk: upstream's approximation from the first interval.
        step = (t2 - t1).total_seconds()
        if step < 1:
            raise ScheduleError("time difference between two schedules is less than 1 second")
        missed = int((now - t1).total_seconds() // step) + 1
        most_recent = t1 + timedelta(seconds=(missed - 1) * step)
        while most_recent > now:
            most_recent -= timedelta(seconds=step)
        return earliest, most_recent, "many"
    return earliest, most_recent, "few"


def next_schedule_delay(cj: Obj, now: datetime, sched: Schedule) -> float:
    """``nextScheduleTimeDuration``: seconds until the next activation (+100 ms)."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, sched, False)
    except ScheduleError:
        return NEXT_SCHEDULE_DELTA
    base = recent if recent is not None else (earliest if missed == "none" else now)
    nxt = sched.next(base)
    if nxt is None:
        return 3600.0
    return max(0.0, (nxt - now).total_seconds()) + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime) -> str:
    """``getJobName``: ``<cronjob>-<minutes since the epoch>``."""
    return f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime, k8s_version: tuple[int, int] = (1, 33)) -> Obj:
    """``getJobFromTemplate2``."""
    spec = cj.get("spec") or {}
    jt = spec.get("jobTemplate") or {}
    jmeta = jt.get("metadata") or {}
    annotations = dict(jmeta.get("annotations") or {})
    if k8s_version >= (1, 32):  # CronJobsScheduledAnnotation beta (on) from 1.32
        tz: Any = ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else timezone.utc
        local = scheduled.astimezone(tz)
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        off = local.strftime("%z")
        text += "Z" if off in ("+0000", "") else f"{off[:3]}:{off[3:]}"
        annotations[SCHEDULED_ANNOTATION] = text
    meta: Obj = {"name": job_name(cj, scheduled), "namespace": (cj.get("metadata") or {}).get("namespace"),
                 "ownerReferences": [owner_ref(cj)]}
    if jmeta.get("labels"):
        meta["labels"] = dict(jmeta["labels"])
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(jt.get("spec") or {})}


def finished_type(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return None


def _ref(job: Obj) -> Obj:
    m = job.get("metadata") or {}
    return {"apiVersion": "batch/v1", "kind": "Job", "name": m.get("name"), "namespace": m.get("namespace"),
            "resourceVersion": m.get("resourceVersion"), "uid": m.get("uid")}


@dataclass
class CronDecision:
    create: Obj | None = None
    delete_jobs: list[str] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    status: Obj = field(default_factory=dict)
    requeue: float | None = None


def decide(cj: Obj, jobs: list[Obj], now: datetime, *, k8s_version: tuple[int, int] = (1, 33)) -> CronDecision:
    """One ``syncCronJob`` + ``cleanupFinishedJobs``; ``jobs`` are those the CronJob controls.

    ``status.active`` in the result already contains the Job to create (its uid is
    filled in by the loop after the create succeeds).
    """
    out = CronDecision()
    spec = cj.get("spec") or {}
    status = copy.deepcopy(cj.get("status") or {})
    active = list(status.get("active") or [])
    uids = {(j.get("metadata") or {}).get("uid") for j in jobs}
    for j in jobs:
        juid = (j.get("metadata") or {}).get("uid")
        found = any(a.get("uid") == juid for a in active)
        fin = finished_type(j)
        if not found and fin is None:
            out.events.append(("Warning", "UnexpectedJob",
                               f"Saw a job that the controller did not create or forgot: {name_of(j)}"))
        elif found and fin is not None:
            active = [a for a in active if a.get("uid") != juid]
            out.events.append(("Normal", "SawCompletedJob", f"Saw completed job: {name_of(j)}, status: {fin}"))
        if fin == "Complete":
            ct = (j.get("status") or {}).get("completionTime")
            cur = status.get("lastSuccessfulTime")
            if ct and (not cur or (clock.parse_time(ct) or now) > (clock.parse_time(cur) or now)):
                status["lastSuccessfulTime"] = ct
    for a in list(active):
        if a.get("uid") not in uids:
            out.events.append(("Normal", "MissingJob", f"Active job went missing: {a.get('name')}"))
            active = [x for x in active if x.get("uid") != a.get("uid")]
    status["active"] = active

    def finish() -> CronDecision:
        if not (cj.get("metadata") or {}).get("deletionTimestamp"):
            _cleanup(cj, jobs, out)
        st = dict(status)
        if not st.get("active"):
            st.pop("active", None)
        out.status = st
        return out

    if (cj.get("metadata") or {}).get("deletionTimestamp"):
        return finish()
    tz = spec.get("timeZone")
    if tz:
        try:
            ZoneInfo(tz)
        except Exception:
            out.events.append(("Warning", "UnknownTimeZone", f'invalid timeZone: "{tz}": unknown time zone {tz}'))
            return finish()
    if spec.get("suspend"):
        return finish()
    try:
        sched = parse_schedule(spec.get("schedule") or "", tz)
    except ScheduleError as exc:
        out.events.append(("Warning", "UnparseableSchedule", f'unparseable schedule: "{spec.get("schedule")}" : {exc}'))
        return finish()
    try:
        _, scheduled, missed = most_recent_schedule_time(cj, now, sched, True)
    except ScheduleError as exc:
        out.events.append(("Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {exc}"))
        return finish()
    if scheduled is not None and missed == "many":
        out.events.append(("Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                                            ".spec.startingDeadlineSeconds or check clock skew"))
    out.requeue = next_schedule_delay(cj, now, sched)
    if scheduled is None:
        return finish()
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
        out.events.append(("Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                                      + scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000")))
        return finish()
    name = job_name(cj, scheduled)
    last = clock.parse_time(status.get("lastScheduleTime"))
    if any(a.get("name") == name for a in active) or (last is not None and last == scheduled):
        return finish()
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        out.events.append(("Normal", "JobAlreadyActive",
                           "Not starting job because prior execution is running and concurrency policy is Forbid"))
        return finish()
    if policy == "Replace":
        for a in active:
            out.delete_jobs.append(a.get("name", ""))
        active = []
        status["active"] = active
    out.create = job_from_template(cj, scheduled, k8s_version)
    status["active"] = active + [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                  "namespace": (cj.get("metadata") or {}).get("namespace")}]
    status["lastScheduleTime"] = clock.rfc3339(scheduled)
    return finish()


def _cleanup(cj: Obj, jobs: list[Obj], out: CronDecision) -> None:
    """``cleanupFinishedJobs``: keep successful/failedJobsHistoryLimit finished Jobs (oldest go first)."""
    spec = cj.get("spec") or {}
    for kind, key in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(key)
        if limit is None:
            continue
        done = [j for j in jobs if finished_type(j) == kind and name_of(j) not in out.delete_jobs]

        def started(j: Obj) -> float:
            t = clock.parse_time((j.get("status") or {}).get("startTime")) or \
                clock.parse_time((j.get("metadata") or {}).get("creationTimestamp"))
            return t.timestamp() if t else 0.0

        done.sort(key=lambda j: (started(j), name_of(j)))
        for j in done[:max(0, len(done) - int(limit))]:
            out.delete_jobs.append(name_of(j))


class CronJobController(OwnerLoop):
    """kube-controller-manager's ``cronjob-controller`` (v2)."""

    name = "cronjob-controller"
    owner_key = "batch/cronjobs"
    owner_kind = "CronJob"
    child_key = "batch/jobs"

    def items_for(self, ev: Event) -> Iterable[Hashable]:
        if ev.entry.key == self.child_key:
            ref = controller_ref(ev.entry.view())
            if ref is None or ref.get("kind") != self.owner_kind:
                return []
            return [(self.owner_key, ev.entry.namespace, ref.get("name", ""))]
        return super().items_for(ev)

    def reconcile(self, item: Any) -> float | None:
        _, ns, name = item
        cj = self.get_owner(ns, name)
        if cj is None:
            return None
        uid = cj["metadata"].get("uid")
        jobs = [e.obj() for e in self.api.store.list("batch/jobs", ns)[0]]
        jobs = [j for j in jobs if (controller_ref(j) or {}).get("uid") == uid]
        now = datetime.now(timezone.utc)
        d = decide(cj, jobs, now, k8s_version=self.ctx.k8s_version)
        jrt = self.api.rt("batch/jobs")
        from ..api import DeleteOptions

        for jn in d.delete_jobs:
            try:
                self.api.delete(jrt, ns, jn, DeleteOptions(propagation="Background"))
                self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {jn}")
            except NotFound:
                pass
            except ApiError as exc:
                self.recorder.event(cj, "Warning", "FailedDelete", f"Deleted job: {exc.message}")
        status = d.status
        if d.create is not None:
            try:
                created = self.api.create(jrt, ns, d.create, Request(field_manager=self.manager))
                self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name_of(created)}")
            except AlreadyExists:
                created = self.api.get(jrt, ns, name_of(d.create))
                if (controller_ref(created) or {}).get("uid") != uid:
                    created = None
            except ApiError as exc:
                self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {exc.message}")
                return 1.0
            active = [a for a in status.get("active") or [] if a.get("name") != name_of(d.create)]
            if created is not None:
                active.append(_ref(created))
            status["active"] = active
            if not active:
                status.pop("active", None)
        for type_, reason, msg in d.events:
            self.recorder.event(cj, type_, reason, msg)
        self.write_status(cj, status)
        return d.requeue
