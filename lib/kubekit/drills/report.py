"""A drill's report: the timeline plot, tables, and a journal shaped like Chaos Toolkit's.

- :func:`plot_timeline`: one lane per source (controller, kubelet, AWS, ledger, drill), the
  fault, remediation and recovery marked, each graded phase's expected window drawn in the
  lane of the controller that should act (green on time, orange early/late, red missing or
  unexpected), and the ledger's failed writes as a band;
- :func:`summary`: the text report (checks, phases with verdicts, ledger metrics);
- :func:`journal`: ``journal.json`` in Chaos Toolkit's shape (chaostoolkit-lib
  ``chaoslib/run.py`` ``initialize_run_journal``: experiment, status, deviated,
  steady_states before/after/during with ``steady_state_met`` and per-probe
  ``tolerance_met``, run[], rollbacks[], start, end, duration), with kubekit's own results
  under ``extensions`` (name ``kubekit``);
- :func:`write`: journal.json, timeline.json, report.txt and timeline.png in a directory.

Plots use ``matplotlib.figure.Figure`` directly (no pyplot state), so they work headless.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..timeline import SOURCES, Entry, Timeline
from .grading import EARLY, LATE, MISSING, ON_TIME, UNEXPECTED, Grade
from .ledger import Availability, _table

if TYPE_CHECKING:
    from .base import Check, DrillResult

VERDICT_COLOURS = {ON_TIME: "#2e7d32", "as expected": "#2e7d32", EARLY: "#ef6c00", LATE: "#ef6c00",
                   MISSING: "#c62828", UNEXPECTED: "#c62828"}
MARK_COLOURS = {"fault": "#c62828", "remediation": "#ef6c00", "recovery": "#2e7d32"}
NOISE = frozenset({"check-passed", "check-failed", "observed", "Pulling", "Pulled", "Created", "Started",
                   "NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID",
                   "NodeAllocatableEnforced"})


# -- plot ----------------------------------------------------------------------------------------

def _lanes(entries: Sequence[Entry], extra: Sequence[str] = ()) -> list[str]:
    present = {e.source for e in entries} | set(extra)
    ordered = [s for s in SOURCES if s in present]
    return ordered + sorted(present - set(ordered))


def plot_timeline(what: "DrillResult | Timeline", *, grades: dict[str, Grade] | None = None,
                  availability: Availability | None = None, title: str | None = None, since: float | None = None,
                  width: float = 11.0) -> Any:
    """The timeline as a matplotlib Figure: lanes per source, marks, expected windows, ledger band."""
    from matplotlib.figure import Figure

    if isinstance(what, Timeline):
        tl, scale, name = what, 1.0, title or "timeline"
        ledger = None
    else:
        res = what
        tl = res.timeline or Timeline()
        grades = res.grades if grades is None else grades
        scale = res.profile.scale if res.profile else 1.0
        name = title or f"{res.catalogue_id} {res.drill}: {res.status}"
        ledger = res.ledger
        if availability is None and ledger is not None:
            availability = ledger.availability()
    t0 = tl.t0 or 0.0
    entries = [e for e in tl.entries() if e.what not in NOISE]
    if since is None:
        marks_t = [e.time for e in entries if e.fields.get("mark")]
        end = max((e.time for e in entries), default=t0)
        since = t0 - 0.05 * max(1e-3, end - t0) if marks_t else (entries[0].time if entries else t0)
    entries = [e for e in entries if e.time >= since]
    expected_sources = [r.phase.source for g in (grades or {}).values() for r in g.results]
    lanes = _lanes([e for e in entries if not e.fields.get("mark")], expected_sources)
    y = {s: i for i, s in enumerate(reversed(lanes))}
    fig = Figure(figsize=(width, 1.4 + 0.36 * max(3, len(lanes))))
    ax = fig.add_subplot(1, 1, 1)
    cmap = _palette(len(lanes))
    # expected windows and observations per graded phase
    for label, g in (grades or {}).items():
        gt0 = g.t0 - t0
        for r in g.results:
            if r.phase.source not in y:
                continue
            lane = y[r.phase.source]
            colour = VERDICT_COLOURS.get(r.verdict, "#777777")
            lo, hi = r.window
            if r.phase.expect == "present" and hi != float("inf"):
                lo_t, hi_t = gt0 + lo - r.tolerance, gt0 + hi + r.tolerance
                ax.broken_barh([(lo_t, max(hi_t - lo_t, 1e-3))], (lane - 0.32, 0.64), facecolors=colour, alpha=0.13,
                               edgecolor=colour, linewidth=0.6)
            if r.observed is not None:
                ax.plot([gt0 + r.observed], [lane], marker="D", markersize=7, color=colour, zorder=4)
                ax.annotate(r.phase.key.split(":")[0], (gt0 + r.observed, lane), xytext=(3, 6),
                            textcoords="offset points", fontsize=7, color=colour)
            elif r.verdict == MISSING:
                ax.annotate(f"{r.phase.key.split(':')[0]} missing", (gt0 + lo, lane), xytext=(3, -10),
                            textcoords="offset points", fontsize=7, color=colour)
    # every entry
    for i, s in enumerate(lanes):
        xs = [e.time - t0 for e in entries if e.source == s and not e.fields.get("mark")]
        if xs:
            ax.scatter(xs, [y[s]] * len(xs), s=14, color=cmap[i], zorder=3, alpha=0.85)
    # marks
    for e in (e for e in entries if e.fields.get("mark")):
        colour = MARK_COLOURS.get(e.what, "#455a64")
        ax.axvline(e.time - t0, color=colour, linestyle="--", linewidth=1.1, zorder=2)
        ax.annotate(e.detail[:40], (e.time - t0, len(lanes) - 0.5), rotation=90, fontsize=7, color=colour,
                    xytext=(2, -2), textcoords="offset points", va="top")
    # the ledger's failed writes
    if availability is not None:
        for j, o in enumerate(availability.overall):
            ax.axvspan(o.start - t0, o.end - t0, color="#c62828", alpha=0.08, zorder=1,
                       label="writes failing" if j == 0 else None)
        if availability.overall:
            ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels(list(reversed(lanes)), fontsize=8)
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlabel("seconds after T0" + (f" (profile x{scale:g})" if scale != 1 else ""))
    ax.grid(axis="x", alpha=0.3)
    if scale != 1:
        sec = ax.secondary_xaxis("top", functions=(lambda x: x / scale, lambda x: x * scale))
        sec.set_xlabel("upstream-equivalent seconds", fontsize=8)
        sec.tick_params(labelsize=7)
    ax.set_title(name, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    cm = colormaps["tab20"]
    return [cm(i % 20) for i in range(n)]


# -- tables --------------------------------------------------------------------------------------

def checks_table(checks: Sequence["Check"]) -> str:
    return _table([{"check": c.name, "ok": "yes" if c.passed else "NO", "phase": c.phase, "detail": c.detail[:80]}
                   for c in checks])


def summary(res: "DrillResult") -> str:
    lines = [f"{res.catalogue_id} {res.drill}: {res.title}",
             f"status {res.status}{' (passed)' if res.passed else ''}; {res.duration:.1f} s wall"]
    if res.profile is not None:
        lines.append(res.profile.describe())
    if res.refused:
        lines.append("refused:")
        lines += [f"  - {r}" for r in res.refused]
    if res.error:
        lines.append(f"error: {res.error}")
    checks = res.steady_before + res.checks + res.steady_after
    if checks:
        lines += ["", "checks:", checks_table(checks)]
    for label, g in res.grades.items():
        lines += ["", f"phases ({label}): {', '.join(f'{v} {k}' for k, v in g.counts().items())}", g.table()]
        if g.expected.notes:
            lines += [f"  - {n}" for n in g.expected.notes]
    if res.ledger is not None:
        lines += ["", "ledger availability:", res.ledger.availability().table()]
        ver = res.state.get("ledger_verification")
        if ver is not None:
            lines += ["", "ledger read-back (RPO):", ver.table()]
    return "\n".join(lines)


# -- journal -------------------------------------------------------------------------------------

def _steady(checks: Sequence["Check"]) -> dict[str, Any] | None:
    if not checks:
        return None
    return {"steady_state_met": all(c.passed for c in checks),
            "probes": [{"activity": {"type": "probe", "name": c.name, "tolerance": True,
                                     "provider": {"type": "python", "module": "kubekit.drills"}},
                        "output": c.passed, "status": "succeeded", "tolerance_met": c.passed, "detail": c.detail}
                       for c in checks]}


def journal(res: "DrillResult") -> dict[str, Any]:
    """The run as a Chaos Toolkit journal (same top-level shape; kubekit's results in ``extensions``)."""
    from .. import __version__
    from .base import _iso

    status = {"completed": "completed", "failed": "failed", "refused": "aborted",
              "interrupted": "interrupted"}.get(res.status, res.status)
    t0 = res.t0
    ext: dict[str, Any] = {
        "name": "kubekit", "drill": res.drill, "catalogue_id": res.catalogue_id, "passed": res.passed,
        "refused": list(res.refused), "error": res.error, "params": {k: str(v) if not isinstance(
            v, (int, float, bool, str, type(None))) else v for k, v in res.params.items()},
        "t0": None if t0 is None else _iso(t0),
        "profile": res.profile.to_dict() if res.profile else None,
        "checks": [c.to_dict() for c in res.checks],
        "grades": {k: g.to_dict() for k, g in res.grades.items()},
        "expected": {k: e.to_dict() for k, e in res.expected.items()},
    }
    if res.ledger is not None:
        ext["ledger"] = {"availability": res.ledger.availability().to_dict(t0)}
        ver = res.state.get("ledger_verification")
        if ver is not None:
            ext["ledger"]["verification"] = ver.to_dict()
    if res.timeline is not None:
        ext["timeline"] = res.timeline.to_dict()
    return {
        "kubekit-version": __version__,
        "platform": platform.platform(),
        "node": platform.node(),
        "experiment": res.experiment,
        "start": _iso(res.start),
        "end": _iso(res.end),
        "duration": round(res.duration, 4),
        "status": status,
        "deviated": res.deviated,
        "steady_states": {"before": _steady(res.steady_before), "after": _steady(res.steady_after), "during": []},
        "run": [r.to_journal() for r in res.runs],
        "rollbacks": [r.to_journal() for r in res.rollbacks],
        "extensions": [ext],
    }


def write(res: "DrillResult", directory: str | os.PathLike[str], *, plot: bool = True) -> Path:
    """journal.json, timeline.json, report.txt (and timeline.png) in ``directory``; returns it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "journal.json").write_text(json.dumps(journal(res), indent=1, default=str) + "\n")
    if res.timeline is not None:
        res.timeline.save(out / "timeline.json")
    (out / "report.txt").write_text(summary(res) + "\n")
    if plot and res.timeline is not None:
        fig = plot_timeline(res)
        fig.savefig(out / "timeline.png", dpi=110)
    return out
