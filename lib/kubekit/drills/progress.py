"""A drill's progress as one tqdm line per phase (pre-flight, prepare, inject, observe, ... cleanup).

``run()`` (:mod:`kubekit.drills.base`) records its current phase in ``ctx.state["_phase"]``
and reports steps through ``ctx.progress``; :class:`PhaseProgress` turns both into one
line per phase with its elapsed time and the latest step as the postfix. ``run()`` does
not announce phase changes, so ``ctx.state`` is wrapped in a dict that reports writes of
``_phase``; a small thread only refreshes the elapsed time on a terminal.

    with PhaseProgress(ctx) as bar:   # sets ctx.progress
        res = run(drill, ctx)
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

PHASE_TITLES = {
    "preflight": "pre-flight", "prepare": "prepare", "steady-state-before": "steady state before",
    "inject": "inject", "observe": "observe", "verify": "verify + grade", "remediate": "remediate",
    "steady-state-after": "steady state after", "ledger": "ledger read-back", "cleanup": "clean up",
}


class _PhaseWatch(dict):  # type: ignore[type-arg]
    """``ctx.state`` that calls back when ``run()`` sets ``_phase``."""

    def __init__(self, data: dict[str, Any], on_phase: Any) -> None:
        super().__init__(data)
        self._on_phase = on_phase

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        if key == "_phase":
            self._on_phase()


class PhaseProgress:
    """Context manager: one progress line per drill phase (tqdm; ``notebook=True`` for tqdm.auto)."""

    def __init__(self, ctx: Any, *, file: IO[str] | None = None, disable: bool = False, notebook: bool = False,
                 poll: float = 0.1) -> None:
        self.ctx = ctx
        self.file = file if file is not None else sys.stderr
        self.disable = disable
        self.notebook = notebook
        self.poll = poll
        self.phases: list[tuple[str, float]] = []     # (phase, seconds) of finished phases
        self._bar: Any = None
        self._last = ""
        # Not a terminal (a log, CI): no carriage returns, one plain line when each phase ends.
        self.plain = not notebook and not (hasattr(self.file, "isatty") and self.file.isatty())
        self._phase = ""
        self._started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # tqdm ------------------------------------------------------------------------------------------
    def _new_bar(self, phase: str) -> None:
        self._phase, self._started, self._last = phase, time.monotonic(), ""
        if self.plain:
            self._bar = True
            return
        if self.notebook:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm
        self._bar = tqdm(total=None, desc=f"{PHASE_TITLES.get(phase, phase):<22}", file=self.file, leave=True,
                         disable=self.disable, bar_format="{desc} {elapsed}{postfix}", dynamic_ncols=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            took = time.monotonic() - self._started
            self.phases.append((self._phase, took))
            if self.plain:
                if not self.disable:
                    last = f"  {self._last[:70]}" if self._last else ""
                    print(f"{PHASE_TITLES.get(self._phase, self._phase):<22} {took:6.1f} s{last}", file=self.file,
                          flush=True)
            else:
                self._bar.close()
            self._bar = None

    def _sync(self) -> None:
        phase = str(self.ctx.state.get("_phase") or "preflight")
        with self._lock:
            if phase != self._phase:
                self._close_bar()
                self._new_bar(phase)
            elif self._bar is not None and not self.plain:
                self._bar.refresh()

    # callbacks -------------------------------------------------------------------------------------
    def step(self, text: str) -> None:
        """``ctx.progress``: the latest step becomes the phase line's postfix."""
        self._sync()
        with self._lock:
            self._last = text
            if self._bar is not None and not self.plain:
                self._bar.set_postfix_str(text[:70], refresh=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self._sync()

    def __enter__(self) -> "PhaseProgress":
        self._previous = self.ctx.progress
        self._state = self.ctx.state
        self.ctx.progress = self.step
        self.ctx.state = _PhaseWatch(self.ctx.state, self._sync)
        self._sync()
        if not self.plain and not self.disable:
            self._thread = threading.Thread(target=self._loop, name="drill-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._close_bar()
        self.ctx.progress = self._previous
        self._state.update(self.ctx.state)
        self.ctx.state = self._state
