"""Grade an observed timeline against the expected one: each phase on time, early, late or missing.

::

    g = grade(expected(fault, profile, topo), timeline.entries(), t0=timeline.t0, end=time.time())
    print(g.table())        # phase, verdict, observed t, expected window, upstream equivalents, the flag that sets it
    g.ok                    # every phase on time (or absent as expected)

Pure: entries in (anything with ``time``, ``what``, ``object``, ``source``, ``cluster``,
``fields``, such as :class:`kubekit.timeline.Entry`), results out.

How a phase is matched: its absolute window is its anchor's time (T0, or the *observed*
time of the anchor phase; if that was not observed, the anchor's own expected window)
plus the phase's window. The first matching entry at or after the anchor is the
observation. With a tolerance ``tol = slack + rel_slack x window end`` (wall seconds:
watch and controller-loop latency do not scale with the profile):

- ``on time``: inside [lo - tol, hi + tol];
- ``early`` / ``late``: before / after that;
- ``missing``: nothing matched by the end of the observation (``note`` says whether the
  window had even closed);
- phases that must *not* happen (``expect="absent"``): ``as expected`` or ``unexpected``.

Each result also gives the upstream-equivalent time: observed seconds / the profile's scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .expect import Expected, Phase

ON_TIME = "on time"
EARLY = "early"
LATE = "late"
MISSING = "missing"
ABSENT_OK = "as expected"
UNEXPECTED = "unexpected"
GOOD = frozenset({ON_TIME, ABSENT_OK})
WATCH_SKEW = 0.1    # seconds a watch may deliver a change caused by the fault before the fault's mark
TIMING = frozenset({EARLY, LATE})


@dataclass(frozen=True)
class PhaseResult:
    phase: Phase
    verdict: str
    observed: float | None        # seconds after T0 (effective)
    window: tuple[float, float]   # the absolute expected window, seconds after T0
    tolerance: float
    after_anchor: float | None    # observed - anchor time (effective seconds)
    scale: float
    entry: Any = None
    note: str = ""

    @property
    def key(self) -> str:
        return self.phase.key

    @property
    def observed_upstream(self) -> float | None:
        """The observed time after T0 in upstream-equivalent seconds."""
        return None if self.observed is None else self.observed / self.scale

    @property
    def after_anchor_upstream(self) -> float | None:
        return None if self.after_anchor is None else self.after_anchor / self.scale

    @property
    def source_ok(self) -> bool | None:
        """Did the expected controller act? (None when nothing was observed.)"""
        if self.entry is None:
            return None
        return getattr(self.entry, "source", None) == self.phase.source

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {"phase": self.phase.key, "title": self.phase.title, "verdict": self.verdict,
                "expect": self.phase.expect, "source": self.phase.source,
                "observed_source": getattr(e, "source", None), "observed": _r(self.observed),
                "observed_upstream": _r(self.observed_upstream), "after_anchor": _r(self.after_anchor),
                "after_anchor_upstream": _r(self.after_anchor_upstream), "anchor": self.phase.anchor,
                "window": [_r(self.window[0]), _r(self.window[1])], "tolerance": _r(self.tolerance),
                "expected_after_anchor": [_r(self.phase.window[0]), _r(self.phase.window[1])],
                "expected_after_anchor_upstream": [_r(self.phase.upstream[0]), _r(self.phase.upstream[1])],
                "cites": self.phase.cites, "why": self.phase.why, "note": self.note,
                "entry": {"object": getattr(e, "object", ""), "what": getattr(e, "what", ""),
                          "detail": getattr(e, "detail", "")} if e is not None else None}


@dataclass(frozen=True)
class Grade:
    results: tuple[PhaseResult, ...]
    expected: Expected
    t0: float
    end: float | None

    @property
    def ok(self) -> bool:
        """Every phase on time, or absent as expected."""
        return all(r.verdict in GOOD for r in self.results)

    @property
    def failed(self) -> list[PhaseResult]:
        """Phases that did not happen, or happened when they must not: the behaviour was wrong."""
        return [r for r in self.results if r.verdict in (MISSING, UNEXPECTED)]

    @property
    def deviations(self) -> list[PhaseResult]:
        """Phases that happened, but early or late: the timing was not what the settings say."""
        return [r for r in self.results if r.verdict in TIMING]

    def verdict(self, key: str) -> str:
        return self[key].verdict

    def __getitem__(self, key: str) -> PhaseResult:
        for r in self.results:
            if r.phase.key == key:
                return r
        raise KeyError(key)

    def verdicts(self) -> dict[str, str]:
        return {r.phase.key: r.verdict for r in self.results}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def table(self) -> str:
        from .ledger import _table

        rows = []
        for r in self.results:
            lo, hi = r.window
            rows.append({
                "phase": r.phase.key, "verdict": r.verdict,
                "t": "-" if r.observed is None else f"{r.observed:.2f}",
                "expected_t": _span(lo, hi),
                "upstream_t": "-" if r.observed_upstream is None else f"{r.observed_upstream:.0f}",
                "expected_upstream": "after " + r.phase.anchor + " " + _span(*r.phase.upstream),
                "source": r.phase.source + ("" if r.source_ok in (None, True) else
                                            f" (seen: {getattr(r.entry, 'source', '?')})"),
            })
        return _table(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "profile": self.expected.profile.to_dict(),
                "notes": list(self.expected.notes), "results": [r.to_dict() for r in self.results]}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())


def _r(v: float | None) -> float | None:
    if v is None:
        return None
    if math.isinf(v):
        return None
    return round(v, 4)


def _span(lo: float, hi: float) -> str:
    f = (lambda v: "inf" if math.isinf(v) else f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}")
    return f(lo) if lo == hi else f"{f(lo)}..{f(hi)}"


def _cancelled(entry: Any, ph: Phase, items: Sequence[Any]) -> bool:
    """A match that a later entry voids (a lease 'stopped' that resumed: a pause, not the fault)."""
    if not ph.match.cancelled_by:
        return False
    return any(e.time > entry.time and e.what in ph.match.cancelled_by and e.object == entry.object for e in items)


def grade(expected: Expected, entries: Iterable[Any], t0: float, *, end: float | None = None, slack: float = 0.5,
          rel_slack: float = 0.05) -> Grade:
    """Match observed entries to the expected phases (in order: anchors come first)."""
    items: Sequence[Any] = sorted((e for e in entries if end is None or e.time <= end), key=lambda e: e.time)
    scale = expected.profile.scale or 1.0
    end_t = (end - t0) if end is not None else ((items[-1].time - t0) if items else 0.0)
    # For each phase key: (observed t, or None) and its absolute window.
    seen: dict[str, float | None] = {}
    windows: dict[str, tuple[float, float]] = {"T0": (0.0, 0.0)}
    results: list[PhaseResult] = []
    for ph in expected.phases:
        if ph.anchor == "T0":
            a_lo = a_hi = 0.0
            a_ref = 0.0
            anchored = True
        elif ph.anchor in seen and seen[ph.anchor] is not None:
            a_lo = a_hi = a_ref = float(seen[ph.anchor])  # type: ignore[arg-type]
            anchored = True
        else:
            a_lo, a_hi = windows.get(ph.anchor, (0.0, math.inf))
            a_ref = a_lo
            anchored = False
        lo, hi = a_lo + ph.window[0], a_hi + ph.window[1]
        windows[ph.key] = (lo, hi)
        tol = slack + rel_slack * (ph.window[1] if math.isfinite(ph.window[1]) else max(0.0, ph.window[0]))
        search_from = min(a_ref, lo - tol)
        if lo >= 0:
            # What the fault causes does not come before it: an earlier match is an older incarnation
            # (the pet's previous pod Ready just before the fault) or an earlier step (allowing watch skew).
            search_from = max(search_from, -WATCH_SKEW)
        cand = next((e for e in items if e.time - t0 >= search_from and ph.match(e)
                     and not _cancelled(e, ph, items)), None)
        obs = None if cand is None else cand.time - t0
        after = None if obs is None or not anchored else obs - a_ref
        note = "" if anchored else f"anchor {ph.anchor} not observed: window from its expected times"
        if ph.expect == "absent":
            verdict = ABSENT_OK if cand is None else UNEXPECTED
            seen[ph.key] = obs
        else:
            if cand is None:
                verdict = MISSING
                if end_t < hi + tol:
                    ended = f"observation ended at t={end_t:.2f} s before the window closed"
                    note = f"{note}; {ended}" if note else ended
            elif obs < lo - tol:  # type: ignore[operator]
                verdict = EARLY
            elif obs > hi + tol:  # type: ignore[operator]
                verdict = LATE
            else:
                verdict = ON_TIME
            seen[ph.key] = obs
        results.append(PhaseResult(ph, verdict, obs, (lo, hi), tol, after, scale, cand, note))
    return Grade(tuple(results), expected, t0, end)
