"""The shape of every drill, the context it runs in, and ``run()``: the eight steps of a failure drill.

A drill is a small declarative class plus code::

    @register
    class NodeStop(Drill):
        name = "node-stop"; catalogue_id = "D5"; title = "Lose a node (power off), then remediate"
        params = (Param("node", "", "the node to stop (default: chosen by pre-flight)"), ...)
        needs_aws = True
        def preflight(self, ctx) -> list[str]: ...       # reasons to refuse (nothing done yet)
        def prepare(self, ctx): ...                        # its own workload, steady state
        def steady_state(self, ctx) -> list[Check]: ...    # probes before and after (Chaos Toolkit's hypothesis)
        def inject(self, ctx) -> str: ...                  # the fault; returns its label (T0 is recorded)
        def observe_until(self, ctx) -> list[Wait]: ...    # what to wait for, in order
        def expected(self, ctx) -> Expected | None: ...    # the expected timeline (kubekit.drills.expect)
        def verify(self, ctx) -> list[Check]: ...          # identity, state, effect of the fault
        def remediate(self, ctx): ...                      # guarded human steps (ctx.check records outcomes)
        def cleanup(self, ctx): ...                        # restore what was broken, remove the workload

    result = run(NodeStop(), DrillContext.connect(["sandbox"], target="sandbox"))
    result.passed; print(result.table()); result.plot(); result.journal()

``run`` does: the real-AWS ``confirm_account`` gate (:func:`kubekit.aws.gate.check_account`),
pre-flight (refuse with reasons), prepare + steady state before, the ledger (if the context
has one), inject (T0), observe, verify, grade (against the expected timeline of *this*
cluster's profile and version), remediate, steady state after, ledger read-back (RPO),
cleanup, report. Whatever fails, cleanup runs. A drill never imports kubesim: clusters are
reached through the official client, AWS through boto3.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidParameter, KitError, NotReady, SafetyGateRefused
from ..timeline import Timeline
from .expect import Expected, Profile, read_profile
from .grading import GOOD, MISSING, Grade, grade
from .ledger import Ledger


# -- declarations --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """A drill parameter: name, default (its type is the parameter's type) and a one-line help."""

    name: str
    default: Any
    help: str = ""

    def coerce(self, value: Any) -> Any:
        kind = type(self.default)
        if value is None or self.default is None or isinstance(value, kind):
            return value
        try:
            if kind is bool and isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return kind(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParameter(self.name, value, f"expected {kind.__name__}") from exc


@dataclass(frozen=True)
class Check:
    """One verification (or steady-state probe): passed or not, and why."""

    name: str
    passed: bool
    detail: str = ""
    phase: str = "verify"     # steady-state-before | verify | remediate | after | ledger | observe

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "phase": self.phase}


@dataclass(frozen=True)
class Wait:
    """Something to observe after the fault: ``until(ctx)`` truthy within ``timeout`` (wall seconds)."""

    name: str
    until: Callable[["DrillContext"], Any]
    timeout: float
    interval: float = 0.05


@dataclass
class Run:
    """One executed activity, in Chaos Toolkit's journal ``run`` entry shape."""

    name: str
    type: str              # action | probe
    start: float
    end: float
    status: str            # succeeded | failed | skipped
    output: Any = None
    error: str = ""

    def to_journal(self) -> dict[str, Any]:
        out = {"activity": {"type": self.type, "name": self.name, "provider": {"type": "python",
                                                                               "module": "kubekit.drills"}},
               "status": self.status, "output": self.output, "start": _iso(self.start), "end": _iso(self.end),
               "duration": round(self.end - self.start, 4)}
        if self.error:
            out["exception"] = [self.error]
        return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


# -- the context ---------------------------------------------------------------------------------

@dataclass
class DrillContext:
    """Everything a drill touches: clusters (official client), AWS target (boto3), timeline, ledger, T0."""

    clusters: dict[str, Any]                         # cluster name -> kubernetes.client.ApiClient
    target: Any = None                               # kubekit.aws Target / "sandbox" / "aws:<profile>"; None: no AWS
    region: str = "us-east-1"
    params: dict[str, Any] = field(default_factory=dict)
    timeline: Timeline | None = None
    ledger: Ledger | None = None
    ledger_rate: float = 20.0
    profile: Profile | None = None
    confirm_account: str | None = None
    progress: Callable[[str], None] | None = None
    t0: float | None = None
    state: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    rollbacks: list[Run] = field(default_factory=list)
    _ec2: Any = field(default=None, repr=False)

    # construction ----------------------------------------------------------------------------
    @classmethod
    def connect(cls, contexts: Sequence[str] = ("sandbox",), *, kubeconfig: str | os.PathLike[str] | None = None,
                target: Any = "sandbox", **kwargs: Any) -> "DrillContext":
        """Clients for kubeconfig contexts (named after them) and an AWS target."""
        from ..cluster import connect

        clusters = {c: connect(c, kubeconfig).api for c in contexts}
        if isinstance(target, str):
            from ..aws.target import resolve

            target = resolve(target)
        return cls(clusters=clusters, target=target, **kwargs)

    # clients ---------------------------------------------------------------------------------
    @property
    def primary(self) -> str:
        return next(iter(self.clusters))

    def api(self, cluster: str | None = None) -> Any:
        name = cluster or self.primary
        if name not in self.clusters:
            raise InvalidParameter("cluster", name, f"not in this drill's clusters ({', '.join(self.clusters)})")
        return self.clusters[name]

    def core(self, cluster: str | None = None) -> Any:
        from kubernetes import client as k8s

        return k8s.CoreV1Api(self.api(cluster))

    def apps(self, cluster: str | None = None) -> Any:
        from kubernetes import client as k8s

        return k8s.AppsV1Api(self.api(cluster))

    def ec2(self) -> Any:
        if self.target is None:
            raise KitError("this drill needs AWS (EC2) access: pass target='sandbox' or target='aws:<profile>'")
        if self._ec2 is None:
            self._ec2 = self.target.client("ec2", self.region)
        return self._ec2

    # parameters and timing -------------------------------------------------------------------
    def p(self, name: str) -> Any:
        return self.params[name]

    def scaled(self, knob: str) -> float:
        """A timing knob's effective seconds on the primary cluster (see kubekit.drills.expect.KNOBS)."""
        return (self.profile or Profile()).s(knob)

    def budget(self, seconds: float, *, minimum: float = 3.0) -> float:
        """A wait timeout for something expected within ``seconds`` (effective): x1.5 + ``minimum`` wall seconds."""
        return seconds * 1.5 + minimum

    # recording -------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def note(self, what: str, detail: str = "", **fields: Any) -> None:
        """A drill step on the timeline (source ``drill``)."""
        if self.timeline is not None:
            self.timeline.add("drill", what, detail, cluster=fields.pop("cluster", ""),
                              object=fields.pop("object", ""), **fields)
        self.say(f"{what}: {detail}" if detail else what)

    def check(self, name: str, passed: bool, detail: str = "", phase: str = "") -> Check:
        c = Check(name, bool(passed), detail, phase or self.state.get("_phase", "verify"))
        self.checks.append(c)
        if self.timeline is not None:
            self.timeline.add("drill", "check-passed" if c.passed else "check-failed", f"{name}: {detail}"[:200])
        return c

    def action(self, name: str, fn: Callable[..., Any], *args: Any, rollback: bool = False, **kwargs: Any) -> Any:
        """Run one action and record it as a journal ``run`` (or ``rollbacks``) entry; errors propagate."""
        start = time.time()
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:
            (self.rollbacks if rollback else self.runs).append(Run(name, "action", start, time.time(), "failed",
                                                                   error=f"{type(exc).__name__}: {exc}"))
            raise
        (self.rollbacks if rollback else self.runs).append(Run(name, "action", start, time.time(), "succeeded",
                                                               _plain(out)))
        return out

    def wait(self, name: str, until: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
        """Poll ``until()`` until truthy; raises NotReady after ``timeout`` wall seconds."""
        end = time.monotonic() + timeout
        while True:
            value = until()
            if value:
                return value
            if time.monotonic() >= end:
                raise NotReady(f"{name}: not observed within {timeout:.1f} s")
            time.sleep(interval)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)[:200]


# -- drills --------------------------------------------------------------------------------------

class Drill:
    """Base class of every drill; subclasses set the class attributes and override the steps."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    catalogue_id: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    needs_aws: ClassVar[bool] = False
    tags: ClassVar[tuple[str, ...]] = ()

    def namespaces(self, ctx: DrillContext) -> Sequence[str] | None:
        """Namespaces whose pods, claims and events the timeline watches (None: all)."""
        return None

    def preflight(self, ctx: DrillContext) -> list[str]:
        return []

    def prepare(self, ctx: DrillContext) -> None:
        pass

    def steady_state(self, ctx: DrillContext) -> list[Check]:
        return []

    def inject(self, ctx: DrillContext) -> str:
        raise NotImplementedError

    def observe_until(self, ctx: DrillContext) -> list[Wait]:
        return []

    def expected(self, ctx: DrillContext) -> Expected | None:
        return None

    def expected_remediation(self, ctx: DrillContext) -> Expected | None:
        return None

    def verify(self, ctx: DrillContext) -> list[Check]:
        return []

    def remediate(self, ctx: DrillContext) -> None:
        pass

    def cleanup(self, ctx: DrillContext) -> None:
        pass

    # declarations ---------------------------------------------------------------------------
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {p.name: p.default for p in cls.params}

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any] | None) -> dict[str, Any]:
        known = {p.name: p for p in cls.params}
        out = cls.defaults()
        for k, v in (given or {}).items():
            if k not in known:
                raise InvalidParameter("parameter", k, f"drill {cls.name} has no such parameter",
                                       f"Known: {', '.join(known) or 'none'}")
            out[k] = known[k].coerce(v)
        return out

    @classmethod
    def experiment(cls, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The drill as a Chaos Toolkit experiment declaration (for the journal)."""
        return {"version": "1.0.0", "title": cls.title or cls.name, "description": cls.description,
                "tags": ["kubekit", cls.catalogue_id, *cls.tags],
                "configuration": {k: _plain(v) for k, v in (params or cls.defaults()).items()},
                "steady-state-hypothesis": {"title": f"{cls.name}: the workload serves",
                                            "probes": [{"type": "probe", "name": "steady-state",
                                                        "tolerance": True,
                                                        "provider": {"type": "python",
                                                                     "module": cls.__module__,
                                                                     "func": f"{cls.__name__}.steady_state"}}]},
                "method": [{"type": "action", "name": "inject",
                            "provider": {"type": "python", "module": cls.__module__,
                                         "func": f"{cls.__name__}.inject"}},
                           {"type": "probe", "name": "observe-and-verify",
                            "provider": {"type": "python", "module": cls.__module__,
                                         "func": f"{cls.__name__}.verify"}}],
                "rollbacks": [{"type": "action", "name": "remediate-and-cleanup",
                               "provider": {"type": "python", "module": cls.__module__,
                                            "func": f"{cls.__name__}.remediate"}}],
                "extensions": [{"name": "kubekit", "catalogue_id": cls.catalogue_id, "drill": cls.name}]}

    def __repr__(self) -> str:
        return f"<drill {self.catalogue_id} {self.name}: {self.title}>"


_CATALOGUE: dict[str, type[Drill]] = {}
_BUILTIN_MODULES = ("kubekit.drills.nodestop", "kubekit.drills.petkill", "kubekit.drills.badrollout",
                    "kubekit.drills.drain", "kubekit.drills.nodeterminate", "kubekit.drills.zoneoutage",
                    "kubekit.drills.memberloss", "kubekit.drills.controllerloss", "kubekit.drills.migration")


def register(cls: type[Drill]) -> type[Drill]:
    """Class decorator: add a drill to the catalogue (by name; ``get`` also finds it by catalogue id)."""
    if not cls.name:
        raise InvalidParameter("drill", cls.__name__, "has no name")
    _CATALOGUE[cls.name] = cls
    return cls


def catalogue() -> dict[str, type[Drill]]:
    """Every registered drill, by name (the built-in ones are imported on first use)."""
    from importlib import import_module

    for mod in _BUILTIN_MODULES:
        import_module(mod)
    return dict(sorted(_CATALOGUE.items(), key=lambda kv: (_id_order(kv[1].catalogue_id), kv[0])))


def _id_order(cid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in cid if ch.isdigit())
    return (int(digits) if digits else 999, cid)


def get(name: str) -> type[Drill]:
    """A drill class by name (``node-stop``) or catalogue id (``D5``)."""
    cat = catalogue()
    if name in cat:
        return cat[name]
    for cls in cat.values():
        if cls.catalogue_id.lower() == name.lower():
            return cls
    raise InvalidParameter("drill", name, "not in the catalogue", f"Known: {', '.join(cat)}")


# -- the result ----------------------------------------------------------------------------------

@dataclass
class DrillResult:
    drill: str
    catalogue_id: str
    title: str
    status: str                                  # completed | failed | refused | interrupted
    params: dict[str, Any]
    start: float
    end: float
    t0: float | None = None
    refused: list[str] = field(default_factory=list)
    profile: Profile | None = None
    checks: list[Check] = field(default_factory=list)
    steady_before: list[Check] = field(default_factory=list)
    steady_after: list[Check] = field(default_factory=list)
    expected: dict[str, Expected] = field(default_factory=dict)
    grades: dict[str, Grade] = field(default_factory=dict)
    timeline: Timeline | None = None
    ledger: Ledger | None = None
    runs: list[Run] = field(default_factory=list)
    rollbacks: list[Run] = field(default_factory=list)
    error: str = ""
    experiment: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks + self.steady_before + self.steady_after if not c.passed]

    @property
    def passed(self) -> bool:
        """Completed, every check passed, and no expected phase missing (or unexpected)."""
        return (self.status == "completed" and not self.failed_checks and not self.error
                and all(not g.failed for g in self.grades.values()))

    @property
    def deviated(self) -> bool:
        """Some phase happened early or late, or steady state was not met afterwards."""
        return any(g.deviations for g in self.grades.values()) or any(not c.passed for c in self.steady_after)

    def raise_for_status(self) -> "DrillResult":
        """Raise CheckFailed (refused, failed checks, missing phases) so a runbook exits non-zero."""
        from ..errors import CheckFailed

        if self.refused:
            raise CheckFailed(f"drill {self.drill} refused: " + "; ".join(self.refused))
        if not self.passed:
            why = [f"{c.name} ({c.detail})" if c.detail else c.name for c in self.failed_checks]
            why += [f"phase {r.phase.key} {r.verdict}" for g in self.grades.values() for r in g.failed]
            if self.error:
                why.append(self.error)
            raise CheckFailed(f"drill {self.drill} failed: " + "; ".join(why))
        return self

    def grade(self, label: str = "fault") -> Grade:
        return self.grades[label]

    def verdicts(self, label: str = "fault") -> dict[str, str]:
        return self.grades[label].verdicts() if label in self.grades else {}

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def table(self) -> str:
        from .report import summary

        return summary(self)

    def journal(self) -> dict[str, Any]:
        from .report import journal

        return journal(self)

    def plot(self, **kwargs: Any) -> Any:
        from .report import plot_timeline

        return plot_timeline(self, **kwargs)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        from .report import write

        return write(self, directory)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


# -- the driver ----------------------------------------------------------------------------------

def run(drill: Drill | type[Drill] | str, ctx: DrillContext, params: Mapping[str, Any] | None = None, *,
        report_dir: str | os.PathLike[str] | None = None, grade_slack: float = 0.5,
        keep_timeline: bool = False) -> DrillResult:
    """Run one drill through the eight steps; always cleans up. See the module docstring."""
    if isinstance(drill, str):
        drill = get(drill)
    if isinstance(drill, type):
        drill = drill()
    merged = {**ctx.params, **(params or {})}
    ctx.params = drill.resolve_params(merged)
    start = time.time()
    res = DrillResult(drill.name, drill.catalogue_id, drill.title, "completed", dict(ctx.params), start, start,
                      experiment=drill.experiment(ctx.params))
    own_timeline = ctx.timeline is None
    try:
        _run_steps(drill, ctx, res, grade_slack)
    except KeyboardInterrupt:
        res.status = "interrupted"
        _safe_cleanup(drill, ctx, res)
        raise
    finally:
        if own_timeline and ctx.timeline is not None and not keep_timeline:
            ctx.timeline.stop()
        res.end = time.time()
        res.timeline, res.ledger, res.profile, res.t0 = ctx.timeline, ctx.ledger, ctx.profile, ctx.t0
        res.checks = [c for c in ctx.checks if c.phase not in ("steady-state-before", "steady-state-after")]
        res.runs, res.rollbacks, res.state = list(ctx.runs), list(ctx.rollbacks), dict(ctx.state)
        if report_dir is not None:
            res.save(report_dir)
    return res


#: A drill ends a phase when a poll of the API sees the outcome; the timeline's watches deliver the
#: same change a little later and date it then. Grading waits up to this long past the end for what
#: is still missing and keeps what arrived meanwhile, so the last phase is not marked missing for
#: the watch's latency.
WATCH_LAG_S = 1.0
_CATCH_UP_POLL_S = 0.05


def grade_caught_up(expected: Expected, entries: Callable[[], Iterable[Any]], t0: float, end: float,
                    slack: float, *, lag: float = WATCH_LAG_S) -> Grade:
    """Grade as soon as no phase is missing, else ``lag`` past ``end`` with what arrived by then."""
    deadline = end + lag
    while True:
        now = time.time()
        result = grade(expected, entries(), t0, end=min(now, deadline), slack=slack)
        if now >= deadline or not result.counts().get(MISSING):
            return result
        time.sleep(_CATCH_UP_POLL_S)


def _phase(ctx: DrillContext, name: str) -> None:
    ctx.state["_phase"] = name


def _run_steps(drill: Drill, ctx: DrillContext, res: DrillResult, slack: float) -> None:
    # 1. pre-flight: the gate, then the drill's own reasons (nothing is changed before this passes)
    _phase(ctx, "preflight")
    if drill.needs_aws:
        if ctx.target is None:
            res.status, res.refused = "refused", ["this drill injects its fault through EC2: pass an AWS target"]
            return
        from ..aws.gate import check_account

        try:
            check_account(ctx.target, ctx.confirm_account, ctx.region)
        except SafetyGateRefused as exc:
            res.status, res.refused = "refused", [str(exc)]
            return
    if ctx.profile is None:
        ctx.profile = read_profile(ctx.api())
    reasons = drill.preflight(ctx)
    if reasons:
        res.status, res.refused = "refused", list(reasons)
        ctx.say("refused: " + "; ".join(reasons))
        return
    if ctx.timeline is None:
        ctx.timeline = Timeline()
        for name, api in ctx.clusters.items():
            ctx.timeline.watch_cluster(name, api, namespaces=drill.namespaces(ctx))
        if drill.needs_aws and ctx.target is not None:
            ctx.timeline.watch_aws(ctx.target, ctx.region, interval=_aws_interval(ctx.profile))
    try:
        # prepare + steady state before
        _phase(ctx, "prepare")
        ctx.action("prepare", drill.prepare, ctx)
        _phase(ctx, "steady-state-before")
        res.steady_before = [_as(c, "steady-state-before") for c in drill.steady_state(ctx)]
        if not all(c.passed for c in res.steady_before):
            res.status = "failed"
            res.error = "steady state not met before the fault: " + "; ".join(
                f"{c.name}: {c.detail}" for c in res.steady_before if not c.passed)
            _safe_cleanup(drill, ctx, res)  # prepare made things: never leave them behind
            return
        # 4. load (started before the fault so the ledger has a baseline)
        if ctx.ledger is not None:
            ctx.ledger.start(rate=ctx.ledger_rate)
            ctx.note("ledger-started", f"{ctx.ledger_rate:g} writes/s")
        # 2. inject, recording the moment
        _phase(ctx, "inject")
        assert ctx.timeline is not None
        label = ctx.action("inject", drill.inject, ctx)
        if ctx.t0 is None:
            ctx.t0 = ctx.timeline.mark(str(label or f"{drill.name}: fault injected"), t0=True).time
        else:
            ctx.timeline.mark(str(label or f"{drill.name}: fault injected"), time=ctx.t0, t0=True)
        # 3. observe
        _phase(ctx, "observe")
        _observe(drill, ctx)
        observed_end = time.time()
        # 5. verify
        _phase(ctx, "verify")
        for c in drill.verify(ctx):
            if c not in ctx.checks:
                ctx.checks.append(_as(c, "verify"))
        # 6. grade (the fault's phases up to the end of observation)
        exp = drill.expected(ctx)
        if exp is not None:
            res.expected["fault"] = exp
            res.grades["fault"] = grade_caught_up(exp, ctx.timeline.entries, ctx.t0, observed_end, slack)
    except Exception as exc:  # noqa: BLE001 - recorded; remediation and cleanup still run
        res.status = "failed"
        res.error = f"{type(exc).__name__}: {exc}"
        ctx.note("drill-error", res.error)
        ctx.state["traceback"] = traceback.format_exc()
    # 7. remediate (guarded) and clean up, whatever happened above
    _phase(ctx, "remediate")
    try:
        ctx.action("remediate", drill.remediate, ctx, rollback=True)
        rt0 = ctx.state.get("remediation_t0")
        exp = drill.expected_remediation(ctx)
        if exp is not None and rt0 is not None:
            res.expected["remediation"] = exp
            res.grades["remediation"] = grade_caught_up(exp, ctx.timeline.entries if ctx.timeline else list, rt0,
                                                        ctx.state.get("remediation_end", time.time()), slack)
    except Exception as exc:  # noqa: BLE001
        res.status = "failed"
        res.error = (res.error + "; " if res.error else "") + f"remediation: {type(exc).__name__}: {exc}"
        ctx.note("remediation-error", str(exc))
        ctx.state["remediation_traceback"] = traceback.format_exc()
    if ctx.ledger is not None and ctx.ledger.running:
        ctx.ledger.wait_recovered(WATCH_LAG_S)
        ctx.ledger.stop()
        ctx.note("ledger-stopped")
    _phase(ctx, "steady-state-after")
    try:
        res.steady_after = [_as(c, "steady-state-after") for c in drill.steady_state(ctx)]
    except Exception as exc:  # noqa: BLE001
        res.steady_after = [Check("steady-state", False, f"{type(exc).__name__}: {exc}", "steady-state-after")]
    if ctx.ledger is not None:
        _phase(ctx, "ledger")
        _ledger_checks(ctx)
    _safe_cleanup(drill, ctx, res)
    res.checks = [c for c in ctx.checks if c.phase not in ("steady-state-before", "steady-state-after")]
    if res.status == "completed" and not res.passed:
        res.status = "failed"


def _as(c: Check, phase: str) -> Check:
    return c if c.phase == phase else Check(c.name, c.passed, c.detail, phase)


def _aws_interval(profile: Profile | None) -> float:
    # Poll EC2 about 20 times per cloud-node monitor period, between 0.1 s and 2 s.
    period = (profile or Profile()).s("cloud_node_monitor_period")
    return min(2.0, max(0.1, period / 2))


def _observe(drill: Drill, ctx: DrillContext) -> None:
    waits = drill.observe_until(ctx)
    failed = False
    for w in waits:
        start = time.time()
        if failed:
            ctx.runs.append(Run(w.name, "probe", start, start, "skipped"))
            continue
        try:
            value = ctx.wait(w.name, lambda w=w: w.until(ctx), w.timeout, w.interval)
            ctx.runs.append(Run(w.name, "probe", start, time.time(), "succeeded", _plain(value)))
            ctx.note("observed", w.name)
        except NotReady as exc:
            failed = True
            ctx.runs.append(Run(w.name, "probe", start, time.time(), "failed", error=str(exc)))
            ctx.check(w.name, False, str(exc), phase="observe")


def _ledger_checks(ctx: DrillContext) -> None:
    assert ctx.ledger is not None
    av = ctx.ledger.availability()
    ver = ctx.ledger.verify()
    ctx.state["ledger_availability"] = av
    ctx.state["ledger_verification"] = ver
    max_rpo = int(ctx.params.get("max_rpo", 0) or 0)
    ctx.check("RPO: acknowledged writes readable", ver.rpo <= max_rpo and not ver.unreadable,
              f"{ver.checked} acknowledged, {ver.rpo} lost or wrong, {len(ver.unreadable)} unreadable", "ledger")
    ctx.check("writes recovered (every outage window closed)", av.recovered,
              f"RTO {av.rto if av.rto is not None else 0:.2f} s over {len(av.overall)} window(s)", "ledger")
    if ctx.timeline is not None:
        for o in av.overall:
            ctx.timeline.add("ledger", "writes-failing", f"{o.failed_writes} failed writes", time=o.start)
            if o.recovered:
                ctx.timeline.add("ledger", "writes-recovered", f"after {o.duration:.2f} s", time=o.end)


def _safe_cleanup(drill: Drill, ctx: DrillContext, res: DrillResult) -> None:
    _phase(ctx, "cleanup")
    try:
        ctx.action("cleanup", drill.cleanup, ctx, rollback=True)
    except Exception as exc:  # noqa: BLE001
        res.error = (res.error + "; " if res.error else "") + f"cleanup: {type(exc).__name__}: {exc}"
        res.status = "failed"
        ctx.state["cleanup_traceback"] = traceback.format_exc()


def until(what: str, fn: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll ``fn`` until it returns something truthy; :class:`NotReady` naming ``what`` after ``timeout``."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise NotReady(f"{what}: not within {timeout:.1f} s")
        time.sleep(interval)


def check_all(checks: Iterable[Check]) -> bool:
    return all(c.passed for c in checks)


__all__ = ["Check", "Drill", "DrillContext", "DrillResult", "GOOD", "Param", "Run", "Wait", "catalogue", "get",
           "register", "run"]
