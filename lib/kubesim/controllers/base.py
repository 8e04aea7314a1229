"""The thin loop every kubesim controller shares.

A controller watches some storage keys, turns each event into work items,
deduplicates them in a queue (like client-go's workqueue: an item queued twice
before it is processed runs once) and calls ``reconcile(item)`` on one worker
thread. ``reconcile`` observes through the store, asks a pure decision
function what to do, and acts through :class:`kubesim.api.Api`, so its writes
are validated like any client's. A periodic resync re-queues everything, as
informers do, so a missed or failed action is retried.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Iterable

from ..events import EventRecorder
from ..faults import Faults
from ..store import Event, Subscription
from ..timings import Timings

if TYPE_CHECKING:
    from ..api import Api

log = logging.getLogger("kubesim.controllers")


@dataclass
class ControllerContext:
    """What every controller and node agent of one cluster shares."""

    api: "Api"
    timings: Timings = field(default_factory=Timings)
    faults: Faults = field(default_factory=Faults)
    state_root: str = ""  # directory for volume data and pod filesystems
    cluster_name: str = "kubesim"
    k8s_version: tuple[int, int] = (1, 33)
    ca_pem: str = ""
    workloads: dict[str, str] = field(default_factory=dict)  # known kit workloads: name -> script path
    extra: dict[str, Any] = field(default_factory=dict)  # shared registries (runtimes per node, resolvers ...)

    def recorder(self, component: str, host: str | None = None) -> EventRecorder:
        return EventRecorder(self.api, component, host)


class Controller:
    name = "controller"
    watches: tuple[str, ...] = ()
    resync_seconds: float = 30.0

    def __init__(self, ctx: "ControllerContext | Api") -> None:
        if not isinstance(ctx, ControllerContext):  # a bare Api (unit tests)
            ctx = ControllerContext(api=ctx)
        self.ctx = ctx
        self.api = ctx.api
        self.timings = ctx.timings
        self._cond = threading.Condition()
        self._pending: dict[Hashable, float] = {}  # item -> not before (monotonic)
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subs: list[Subscription] = []
        self._next_resync = 0.0

    # -- wiring --------------------------------------------------------------------------
    def start(self) -> None:
        for key in self.watches:
            self._subs.append(self.api.store.subscribe(key, None, None, self._on_event))
        self._thread = threading.Thread(target=self._run, name=f"kubesim-{self.name}", daemon=True)
        self._thread.start()
        self.enqueue_all()

    def stop(self) -> None:
        self._stop.set()
        for sub in self._subs:
            sub.close()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _on_event(self, ev: Event) -> None:
        try:
            items = list(self.items_for(ev))
        except Exception:  # never break the writer that delivered the event
            log.exception("%s: items_for failed", self.name)
            return
        for item in items:
            self.enqueue(item)

    def enqueue(self, item: Hashable, delay: float = 0.0) -> None:
        due = time.monotonic() + delay
        with self._cond:
            cur = self._pending.get(item)
            if cur is None or due < cur:
                self._pending[item] = due
                heapq.heappush(self._heap, (due, next(self._seq), item))
            self._cond.notify()

    def enqueue_all(self) -> None:
        for item in self.all_items():
            self.enqueue(item)

    # -- to override ---------------------------------------------------------------------
    def items_for(self, ev: Event) -> Iterable[Hashable]:
        """Work items an event makes due; default: the object itself."""
        e = ev.entry
        return [(e.key, e.namespace, e.name)]

    def all_items(self) -> Iterable[Hashable]:
        out = []
        for key in self.watches:
            entries, _ = self.api.store.list(key)
            out.extend((e.key, e.namespace, e.name) for e in entries)
        return out

    def reconcile(self, item: Hashable) -> float | None:
        """Bring one item in line; return seconds until it should be looked at again, if any."""
        raise NotImplementedError

    # -- loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        self._next_resync = time.monotonic() + self.resync_seconds
        while not self._stop.is_set():
            item = self._next_item()
            if item is None:
                continue
            try:
                again = self.reconcile(item)
            except Exception as exc:
                log.debug("%s: reconcile %s failed: %s", self.name, item, exc)
                again = 1.0
            if again is not None:
                self.enqueue(item, again)

    def _next_item(self) -> Hashable | None:
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= self._next_resync:
                    self._next_resync = now + self.resync_seconds
                    self._cond.release()
                    try:
                        items = list(self.all_items())
                    finally:
                        self._cond.acquire()
                    for it in items:
                        if it not in self._pending:
                            self._pending[it] = now
                            heapq.heappush(self._heap, (now, next(self._seq), it))
                while self._heap:
                    due, _, item = self._heap[0]
                    if self._pending.get(item) != due:  # superseded entry
                        heapq.heappop(self._heap)
                        continue
                    break
                if self._heap and self._heap[0][0] <= now:
                    _, _, item = heapq.heappop(self._heap)
                    del self._pending[item]
                    return item
                nearest = self._heap[0][0] if self._heap else now + self.resync_seconds
                self._cond.wait(max(0.005, min(nearest, self._next_resync) - now))
        return None
