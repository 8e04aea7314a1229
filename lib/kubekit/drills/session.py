"""Run one drill by name into ``runs/<UTC time>-drill-<name>/``: what ``kubekit drill run``, the
``drill`` runbook and ``bench/drills.py`` share.

::

    from kubekit.drills import session
    out = session.run_drill("node-stop", params={"hold": 30}, output_root="runs")
    out.result.passed, out.directory        # journal.json timeline.json timeline.png report.txt result.json

Everything that can be wrong with the request (an unknown drill, a parameter the drill does
not declare or of the wrong type, a context missing from the kubeconfig, a bad target) is
checked *before* the run directory is made, so a bad request leaves nothing behind and
raises :class:`kubekit.errors.InvalidParameter` (or ``KitError``).

``result.json`` has the runbook runner's shape (status ``ok``/``failed``, checks with
``name``/``ok``/``detail``, parameters, start/end/duration) plus the drill's own fields
(catalogue id, contexts, drill status, refusals, phase verdict counts).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, KitError
from .base import Drill, DrillContext, DrillResult, catalogue, get, run

RESULT_FILE = "result.json"


# -- the catalogue, described ----------------------------------------------------------------------

def needs_federation(cls: type[Drill]) -> bool:
    """Whether a drill works on a federation (host + members) rather than on one cluster."""
    return bool(getattr(cls, "needs_federation", False) or "federation" in cls.tags)


def _type_name(default: Any) -> str:
    return "str" if default is None else type(default).__name__


def describe(cls: type[Drill]) -> dict[str, Any]:
    """A drill's declaration as plain data (``kubekit drill list --json``)."""
    return {"name": cls.name, "catalogue_id": cls.catalogue_id, "title": cls.title,
            "needs_aws": bool(cls.needs_aws), "needs_federation": needs_federation(cls),
            "params": [{"name": p.name, "type": _type_name(p.default), "default": p.default, "help": p.help}
                       for p in cls.params]}


def catalogue_table(drills: Iterable[type[Drill]] | None = None, *, params: bool = True) -> str:
    """The catalogue as a plain table: name, id, title, needs, then (``params``) one indented line per parameter."""
    classes = list(catalogue().values() if drills is None else drills)
    rows = [("NAME", "ID", "NEEDS", "TITLE")]
    for cls in classes:
        needs = "+".join(n for n, on in (("aws", cls.needs_aws), ("federation", needs_federation(cls))) if on) or "-"
        rows.append((cls.name, cls.catalogue_id, needs, cls.title))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
        if i == 0 or not params:
            continue
        cls = classes[i - 1]
        for p in cls.params:
            line = f"    -p {p.name} {p.default!r} ({_type_name(p.default)})"
            out.append(line + f"  {p.help}" if p.help else line)
    return "\n".join(out)


# -- the request -----------------------------------------------------------------------------------

def resolve(name: str) -> type[Drill]:
    """The drill class by name or catalogue id; InvalidParameter (with the known names) otherwise."""
    return get(name)


def parse_params(cls: type[Drill], given: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> dict[str, Any]:
    """Merge ``given`` (a mapping or ``(name, text)`` pairs from ``-p``) into the drill's defaults, typed.

    Raises InvalidParameter for a name the drill does not declare, a repeated name, or a
    value that does not convert to the default's type.
    """
    pairs = list(given.items()) if isinstance(given, Mapping) else list(given or [])
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidParameter("parameter", key, "given twice", "Pass each -p NAME VALUE once")
        seen.add(key)
    return cls.resolve_params(dict(pairs))


def default_contexts(cls: type[Drill], contexts: Sequence[str] | None, *, home: str | None = None) -> list[str]:
    """The kubeconfig contexts a drill runs on: as given, else ``sandbox`` (+ its members for federation drills)."""
    if contexts:
        out = [c for c in contexts if c]
        if len(set(out)) != len(out):
            raise InvalidParameter("context", ",".join(out), "a context is named twice")
        return out
    out = ["sandbox"]
    if needs_federation(cls):
        from .. import sandbox

        out += [m["context"] for m in sandbox.members(home)]
    return out


@dataclass
class DrillRun:
    """A finished drill run: the result and where its report is."""

    result: DrillResult
    directory: Path | None          # None: nothing was written (output_root=None)
    record: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.record["status"] == "ok"


def connect(cls: type[Drill], contexts: Sequence[str], *, kubeconfig: str | os.PathLike[str] | None = None,
            target: str | None = "sandbox", confirm_account: str | None = None, region: str = "us-east-1",
            **kwargs: Any) -> DrillContext:
    """A DrillContext for the contexts (each checked against the kubeconfig) and the AWS target."""
    from ..cluster import KubeconfigError

    try:
        return DrillContext.connect(contexts, kubeconfig=kubeconfig, target=target, region=region,
                                    confirm_account=confirm_account, **kwargs)
    except KubeconfigError as exc:
        raise InvalidParameter("context", ",".join(contexts), str(exc)) from exc


def new_run_dir(output_root: str | os.PathLike[str], name: str, when: datetime | None = None) -> Path:
    """``<root>/<UTC time>-drill-<name>`` (``-2``, ``-3`` ... when two runs start in the same second)."""
    root = Path(output_root)
    root.mkdir(parents=True, exist_ok=True)
    stem = f"{(when or datetime.now(timezone.utc)).strftime('%Y%m%dT%H%M%SZ')}-drill-{name}"
    for n in range(1, 1000):
        candidate = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise KitError(f"cannot create a run directory for {stem} under {root}")


def record(res: DrillResult, contexts: Sequence[str], directory: Path | None = None) -> dict[str, Any]:
    """``result.json``: the runbook runner's shape plus the drill's fields."""
    checks = [{"name": c.name, "ok": c.passed, "detail": c.detail, "phase": c.phase}
              for c in res.steady_before + res.checks + res.steady_after]
    for label, g in res.grades.items():
        for r in g.failed:
            checks.append({"name": f"{label} phase {r.phase.key}", "ok": False, "detail": r.verdict,
                           "phase": "grade"})
    files = sorted(p.name for p in directory.iterdir()) if directory is not None else []
    return {
        "drill": res.drill, "catalogue_id": res.catalogue_id, "title": res.title, "contexts": list(contexts),
        "output_dir": str(directory) if directory is not None else None,
        "parameters": {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                       for k, v in res.params.items()},
        "start": datetime.fromtimestamp(res.start, timezone.utc).isoformat(timespec="milliseconds"),
        "end": datetime.fromtimestamp(res.end, timezone.utc).isoformat(timespec="milliseconds"),
        "duration_s": round(res.duration, 3),
        "status": "ok" if res.passed else "failed",
        "drill_status": res.status, "passed": res.passed, "deviated": res.deviated,
        "refused": list(res.refused), "error": res.error or None,
        "profile": res.profile.to_dict()["name"] if res.profile else None,
        "grades": {k: g.counts() for k, g in res.grades.items()},
        "checks": checks,
        "files": files + [RESULT_FILE] if RESULT_FILE not in files else files,
    }


def runbook_output_root(default: str | os.PathLike[str] = "runs") -> Path:
    """Under ``kubekit runbook run``: the runbook's own run directory (so the drill's report sits next to
    the executed notebook); elsewhere ``default``."""
    from ..runbook import CHECKS_ENV

    checks = os.environ.get(CHECKS_ENV)
    return Path(checks).parent if checks else Path(default)


def run_drill(name: str | type[Drill], *, contexts: Sequence[str] | None = None,
              kubeconfig: str | os.PathLike[str] | None = None,
              params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
              output_root: str | os.PathLike[str] | None = "runs", target: str | None = "sandbox",
              confirm_account: str | None = None, region: str = "us-east-1", progress: bool | str = False,
              grade_slack: float = 0.5, plot: bool = True) -> DrillRun:
    """Validate, connect, run the drill with a progress display, and write its report.

    ``progress``: False, True (a tqdm line per phase on stderr) or ``"notebook"`` (tqdm.auto).
    ``output_root`` None writes nothing (the result is still returned).
    """
    cls = resolve(name) if isinstance(name, str) else name
    values = parse_params(cls, params)
    names = default_contexts(cls, contexts)
    ctx = connect(cls, names, kubeconfig=kubeconfig, target=target, confirm_account=confirm_account, region=region)
    directory = new_run_dir(output_root, cls.name) if output_root is not None else None
    if progress:
        from .progress import PhaseProgress

        with PhaseProgress(ctx, notebook=progress == "notebook"):
            res = run(cls(), ctx, values, grade_slack=grade_slack)
    else:
        res = run(cls(), ctx, values, grade_slack=grade_slack)
    rec = record(res, names, directory)
    if directory is not None:
        from .report import write

        write(res, directory, plot=plot)
        rec = record(res, names, directory)
        (directory / RESULT_FILE).write_text(json.dumps(rec, indent=2, default=str) + "\n", encoding="utf-8")
    return DrillRun(res, directory, rec)


__all__ = ["DrillRun", "catalogue_table", "connect", "default_contexts", "describe", "needs_federation",
           "new_run_dir", "parse_params", "record", "resolve", "run_drill", "runbook_output_root"]
