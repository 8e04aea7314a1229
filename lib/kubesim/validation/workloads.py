"""Workload validation: apps/v1, ReplicationController, batch/v1.

Follows ``pkg/apis/apps/validation/validation.go`` (ValidateStatefulSetSpec/Update,
ValidateDeploymentSpec, ValidateReplicaSetSpec, ValidateDaemonSetSpec),
``pkg/apis/core/validation/validation.go`` (ValidateReplicationControllerSpec),
``pkg/apis/batch/validation/validation.go`` (ValidateJob, ValidateCronJob) and the
strategies' selector immutability (``pkg/registry/apps/*/strategy.go``). Cron syntax is
robfig/cron v3 ``ParseStandard``, which the CronJob validation calls.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from .common import (Errs, Obj, go_map, go_selector, go_struct, immutable, int_or_percent,
                     int_or_percent_value, invalid, label_selector_errs, labels_errs, annotations_errs, nonnegative,
                     not_supported, required, forbidden, selector_is_empty, selector_matches)
from .pod import pod_template

_MISMATCH = "`selector` does not match template `labels`"


def _template_labels(spec: Obj) -> Any:
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels")


def _template_spec(spec: Obj) -> Obj:
    return (spec.get("template") or {}).get("spec") or {}


# -- StatefulSet -------------------------------------------------------------------------

def statefulset_spec(spec: Obj, v: tuple[int, int]) -> Errs:
    errs: Errs = []
    pmp = spec.get("podManagementPolicy") or ""
    if not pmp:
        errs.append(required("spec.podManagementPolicy", ""))
    elif pmp not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"))
    us = spec.get("updateStrategy") or {}
    ut = us.get("type") or ""
    if not ut:
        errs.append(required("spec.updateStrategy", ""))
    elif ut == "OnDelete":
        if us.get("rollingUpdate") is not None:
            errs.append(invalid("spec.updateStrategy.rollingUpdate", go_struct("apps.RollingUpdateStatefulSetStrategy"),
                                "only allowed for updateStrategy 'RollingUpdate'"))
    elif ut == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if isinstance(ru, dict):
            errs += nonnegative(ru.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
            mu = ru.get("maxUnavailable")
            if mu is not None:
                p = "spec.updateStrategy.rollingUpdate.maxUnavailable"
                errs += int_or_percent(mu, p)
                if int_or_percent_value(mu) == 0:
                    errs.append(invalid(p, mu, "cannot be 0"))
    else:
        errs.append(invalid("spec.updateStrategy", go_struct("apps.StatefulSetUpdateStrategy"),
                            "must be 'RollingUpdate' or 'OnDelete'"))
    pol = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(pol, dict):
        for k in ("whenDeleted", "whenScaled"):
            val = pol.get(k) or ""
            if val not in ("Retain", "Delete"):
                errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{k}", val, ("Retain", "Delete")))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    if isinstance(spec.get("ordinals"), dict):
        errs += nonnegative(spec["ordinals"].get("start"), "spec.ordinals.start")
    sel = spec.get("selector")
    if sel is None:
        errs.append(required("spec.selector", ""))
    else:
        errs += label_selector_errs(sel, "spec.selector")
        if selector_is_empty(sel):
            errs.append(invalid("spec.selector", go_selector(sel), "empty selector is invalid for statefulset"))
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        errs.append(required("spec.template", ""))
    else:
        # ValidatePodTemplateSpecForStatefulSet: the pod spec itself is not validated here.
        tl = _template_labels(spec)
        if not selector_is_empty(sel) and not selector_matches(sel, tl):
            errs.append(invalid("spec.template.metadata.labels", go_map(tl), _MISMATCH))
        meta = tmpl.get("metadata") or {}
        errs += labels_errs(meta.get("labels"), "spec.template.labels")
        errs += annotations_errs(meta.get("annotations"), "spec.template.annotations")
    ts = _template_spec(spec)
    rp = ts.get("restartPolicy") or ""
    if rp != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if ts.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


_STS_MUTABLE = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                "persistentVolumeClaimRetentionPolicy")


def statefulset_update(new: Obj, old: Obj, v: tuple[int, int]) -> Errs:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    mutable = _STS_MUTABLE + (("revisionHistoryLimit",) if v >= (1, 35) else ())
    a = {k: val for k, val in ns.items() if k not in mutable}
    b = {k: val for k, val in os_.items() if k not in mutable}
    if a != b:
        fields = "'replicas', 'ordinals', 'template', 'updateStrategy', "
        if v >= (1, 35):
            fields += "'revisionHistoryLimit', "
        return [forbidden("spec", f"updates to statefulset spec for fields other than {fields}"
                                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
    return []


# -- ReplicaSet-like ---------------------------------------------------------------------

def _template_for_rs(spec: Obj, sel_ok: bool, sel: Any, kind: str, v: tuple[int, int]) -> Errs:
    errs: Errs = []
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        return [required("spec.template", "")]
    tl = _template_labels(spec)
    if sel_ok and not selector_is_empty(sel) and not selector_matches(sel, tl):
        errs.append(invalid("spec.template.metadata.labels", go_map(tl), _MISMATCH))
    errs += pod_template(tmpl, "spec.template", v)
    ts = _template_spec(spec)
    if (ts.get("restartPolicy") or "") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", ts.get("restartPolicy") or "", ("Always",)))
    if ts.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def _selector_required(spec: Obj, kind_word: str) -> tuple[Errs, bool]:
    sel = spec.get("selector")
    if sel is None:
        return [required("spec.selector", "")], False
    errs = label_selector_errs(sel, "spec.selector")
    if selector_is_empty(sel):
        errs.append(invalid("spec.selector", go_selector(sel), f"empty selector is invalid for {kind_word}"))
    return errs, True


def replicaset_spec(spec: Obj, v: tuple[int, int]) -> Errs:
    errs = nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    serrs, ok = _selector_required(spec, "deployment")
    errs += serrs
    errs += _template_for_rs(spec, ok, spec.get("selector"), "ReplicaSet", v)
    return errs


def deployment_spec(spec: Obj, v: tuple[int, int]) -> Errs:
    errs = nonnegative(spec.get("replicas"), "spec.replicas")
    serrs, ok = _selector_required(spec, "deployment")
    errs += serrs
    errs += _template_for_rs(spec, ok, spec.get("selector"), "ReplicaSet", v)
    st = spec.get("strategy") or {}
    typ = st.get("type") or ""
    if typ == "Recreate":
        if st.get("rollingUpdate") is not None:
            errs.append(forbidden("spec.strategy.rollingUpdate",
                                  "may not be specified when strategy `type` is 'Recreate'"))
    elif typ == "RollingUpdate":
        ru = st.get("rollingUpdate")
        if not isinstance(ru, dict):
            errs.append(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"))
        else:
            mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
            errs += int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable")
            errs += int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge")
            if int_or_percent_value(mu) == 0 and int_or_percent_value(ms) == 0:
                errs.append(invalid("spec.strategy.rollingUpdate.maxUnavailable", mu,
                                    "may not be 0 when `maxSurge` is 0"))
    else:
        errs.append(not_supported("spec.strategy", go_struct("apps.DeploymentStrategy"), ("Recreate", "RollingUpdate")))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += nonnegative(pds, "spec.progressDeadlineSeconds")
        if isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
            errs.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def daemonset_spec(spec: Obj, v: tuple[int, int]) -> Errs:
    sel = spec.get("selector")
    errs = label_selector_errs(sel, "spec.selector")
    if not selector_matches(sel, _template_labels(spec)) and not selector_is_empty(sel):
        errs.append(invalid("spec.template.metadata.labels", go_map(_template_labels(spec)), _MISMATCH))
    if isinstance(sel, dict) and selector_is_empty(sel):
        errs.append(invalid("spec.selector", go_selector(sel), "empty selector is invalid for daemonset"))
    errs += pod_template(spec.get("template"), "spec.template", v)
    ts = _template_spec(spec)
    if (ts.get("restartPolicy") or "") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", ts.get("restartPolicy") or "", ("Always",)))
    if ts.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    us = spec.get("updateStrategy") or {}
    typ = us.get("type") or ""
    if typ == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if not isinstance(ru, dict):
            errs.append(required("spec.updateStrategy.rollingUpdate", ""))
        else:
            p = "spec.updateStrategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
            errs += int_or_percent(mu, p + ".maxUnavailable")
            errs += int_or_percent(ms, p + ".maxSurge")
            has_u, has_s = int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0
            if has_u and has_s:
                errs.append(invalid(p + ".maxSurge", ms, "may not be set when maxUnavailable is non-zero"))
            elif not has_u and not has_s:
                errs.append(required(p + ".maxUnavailable", "cannot be 0 when maxSurge is 0"))
    elif typ != "OnDelete":
        errs.append(not_supported("spec.updateStrategy", go_struct("apps.DaemonSetUpdateStrategy"),
                                  ("RollingUpdate", "OnDelete")))
    errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    return errs


def rc_spec(spec: Obj, v: tuple[int, int]) -> Errs:
    errs = nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    sel = spec.get("selector")
    if not sel:
        errs.append(required("spec.selector", ""))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        return errs + [required("spec.template", "")]
    tl = _template_labels(spec)
    if sel and any((tl or {}).get(k) != str(val) for k, val in sel.items()):
        errs.append(invalid("spec.template.metadata.labels", go_map(tl), _MISMATCH))
    errs += pod_template(tmpl, "spec.template", v)
    ts = _template_spec(spec)
    if (ts.get("restartPolicy") or "") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", ts.get("restartPolicy") or "", ("Always",)))
    if ts.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


def selector_update(new: Obj, old: Obj) -> Errs:
    """apps/v1 strategies: spec.selector is immutable."""
    ns, os_ = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    return immutable(ns, os_, "spec.selector", go_selector(ns))


# -- batch/v1 ----------------------------------------------------------------------------

def _job_spec_common(spec: Obj, path: str, v: tuple[int, int]) -> Errs:
    errs: Errs = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += nonnegative(spec.get(f), f"{path}.{f}")
    cm = spec.get("completionMode")
    if cm is not None:
        if cm not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(path + ".completionMode", cm, ("NonIndexed", "Indexed")))
        if cm == "Indexed":
            if spec.get("completions") is None:
                errs.append(required(path + ".completions", "when completion mode is Indexed"))
            par = spec.get("parallelism")
            if isinstance(par, int) and par > 100000:
                errs.append(invalid(path + ".parallelism", par,
                                    "must be less than or equal to 100000 when completion mode is Indexed"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None and prp not in ("TerminatingOrFailed", "Failed"):
        errs.append(not_supported(path + ".podReplacementPolicy", prp, ("Failed", "TerminatingOrFailed")))
    errs += pod_template(spec.get("template"), path + ".template", v)
    rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") or ""
    rp_path = path + ".template.spec.restartPolicy"
    if rp in ("Always", ""):
        errs.append(required(rp_path, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(not_supported(rp_path, rp, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(invalid(rp_path, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def job(obj: Obj, v: tuple[int, int]) -> Errs:
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    errs: Errs = []
    if spec.get("manualSelector") is not True and meta.get("uid"):
        tl = _template_labels(spec)
        if tl is None:
            errs.append(required("spec.template.metadata.labels", ""))
        else:
            uid, name = meta["uid"], meta.get("name") or ""
            for k, want in (("controller-uid", uid), ("job-name", name),
                            ("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name)):
                # apivalidation.ValidateHasLabel
                have = tl.get(k)
                if have is None:
                    errs.append(required(f"spec.template.metadata.labels[{k}]", want))
                elif have != want:
                    errs.append(invalid(f"spec.template.metadata.labels[{k}]", go_map(tl), f"must be '{want}'"))
            expected = {"controller-uid": uid, "job-name": name, "batch.kubernetes.io/controller-uid": uid,
                        "batch.kubernetes.io/job-name": name}
            if not selector_matches(spec.get("selector"), expected):
                errs.append(invalid("spec.selector", go_selector(spec.get("selector")), "`selector` not auto-generated"))
    errs += _job_spec_common(spec, "spec", v)
    sel = spec.get("selector")
    if sel is None:
        errs.append(required("spec.selector", ""))
    else:
        errs += label_selector_errs(sel, "spec.selector")
    tl = _template_labels(spec)
    if sel is not None and not selector_matches(sel, tl):
        errs.append(invalid("spec.template.metadata.labels", go_map(tl), _MISMATCH))
    return errs


def job_update(new: Obj, old: Obj, v: tuple[int, int]) -> Errs:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: Errs = []
    if not (ns.get("completionMode") == "Indexed" and ns.get("completions") == ns.get("parallelism")):
        errs += immutable(ns.get("completions"), os_.get("completions"), "spec.completions")
    errs += immutable(ns.get("selector"), os_.get("selector"), "spec.selector", go_selector(ns.get("selector")))
    if ns.get("template") != os_.get("template"):
        suspended_never_started = bool(os_.get("suspend")) and not (old.get("status") or {}).get("startTime")
        ts_new = dict((ns.get("template") or {}).get("spec") or {})
        ts_old = dict((os_.get("template") or {}).get("spec") or {})
        if suspended_never_started:
            for k in ("nodeSelector", "affinity", "tolerations", "schedulingGates"):
                ts_new.pop(k, None)
                ts_old.pop(k, None)
        mn = {**(ns.get("template") or {}), "spec": ts_new}
        mo = {**(os_.get("template") or {}), "spec": ts_old}
        if not suspended_never_started or mn != mo:
            errs.append(invalid("spec.template", go_struct("core.PodTemplateSpec"), "field is immutable"))
    for f in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "podReplacementPolicy"):
        if f == "podReplacementPolicy":
            continue  # mutable
        errs += immutable(ns.get(f), os_.get(f), f"spec.{f}")
    return errs


# robfig/cron v3 ParseStandard
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                           "nov", "dec"))}
_DOW = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_BOUNDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DOW))
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_DURATION_RE = re.compile(r"^[-+]?(([0-9]*(\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h))+$|^0$")


def _atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    n = int(text)
    if n < 0:
        raise ValueError(f"negative number ({n}) not allowed: {text}")
    return n


def _int_or_name(text: str, names: dict[str, int] | None) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _atoi(text)


def _cron_range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> None:
    range_step = expr.split("/")
    low_high = range_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise ValueError(f"too many hyphens: {expr}")
    if len(range_step) == 1:
        step = 1
    elif len(range_step) == 2:
        step = _atoi(range_step[1])
        if len(low_high) == 1:
            end = hi
    else:
        raise ValueError(f"too many slashes: {expr}")
    if start < lo:
        raise ValueError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ValueError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")


def cron_error(spec: str) -> str | None:
    """The robfig/cron ParseStandard error text, or None when the schedule parses."""
    if not spec:
        return "empty spec string"
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        i, eq = spec.find(" "), spec.find("=")
        zone = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        try:
            ZoneInfo(zone)
        except Exception:
            return f"provided bad location {zone}: unknown time zone {zone}"
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return None
        if spec.startswith("@every "):
            dur = spec[len("@every "):]
            if not _DURATION_RE.match(dur):
                return f'failed to parse duration {spec}: time: invalid duration "{dur}"'
            return None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        for text, (lo, hi, names) in zip(fields, _BOUNDS):
            for expr in [e for e in text.split(",") if e]:
                _cron_range(expr, lo, hi, names)
    except ValueError as e:
        return str(e)
    return None


def _timezone(tz: Any, path: str) -> Errs:
    if tz is None:
        return []
    if tz == "":
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not re.fullmatch(r"[A-Za-z\.\-_0-9+]{1,14}", part):
            return [invalid(path, tz, "unknown time zone " + tz)]
    if tz.lower() == "local":
        return [invalid(path, tz, "timeZone must be an explicit time zone as defined in "
                                  "https://www.iana.org/time-zones")]
    try:
        ZoneInfo(tz)
    except Exception:
        return [invalid(path, tz, "unknown time zone " + tz)]
    return []


def cronjob(obj: Obj, old: Obj | None, v: tuple[int, int]) -> Errs:
    spec = obj.get("spec") or {}
    ospec = (old or {}).get("spec") or {} if old is not None else None
    errs: Errs = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if old is None and len(name) > 52:
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    sched = spec.get("schedule") or ""
    if not sched:
        errs.append(required("spec.schedule", ""))
    else:
        msg = cron_error(sched)
        if msg:
            errs.append(invalid("spec.schedule", sched, msg))
        allow_tz = ospec is not None and "TZ" in (ospec.get("schedule") or "")
        if allow_tz and "TZ" in sched and spec.get("timeZone") is not None:
            errs.append(invalid("spec.schedule", sched, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in sched:
            errs.append(invalid("spec.schedule", sched,
                                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    errs += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    if ospec is None or ospec.get("timeZone") != spec.get("timeZone"):
        errs += _timezone(spec.get("timeZone"), "spec.timeZone")
    cp = spec.get("concurrencyPolicy") or ""
    if not cp:
        errs.append(required("spec.concurrencyPolicy", ""))
    elif cp not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", cp, ("Allow", "Forbid", "Replace")))
    jt = spec.get("jobTemplate") or {}
    jspec = jt.get("spec") or {}
    errs += _job_spec_common(jspec, "spec.jobTemplate.spec", v)
    if jspec.get("selector") is not None:
        errs.append(invalid("spec.jobTemplate.spec.selector", go_selector(jspec["selector"]),
                            "`selector` will be auto-generated"))
    if jspec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    errs += nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    errs += nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
    return errs


__all__ = ["statefulset_spec", "statefulset_update", "deployment_spec", "replicaset_spec", "daemonset_spec",
           "rc_spec", "selector_update", "job", "job_update", "cronjob", "cron_error"]
