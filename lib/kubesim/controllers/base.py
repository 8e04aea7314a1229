"""The thin loop every kubesim controller shares.

A controller watches some storage keys, turns each event into work items,
deduplicates them in a queue (like client-go's workqueue: an item queued twice
before it is processed runs once) and calls ``reconcile(item)`` on one worker
thread. ``reconcile`` observes through the store, asks a pure decision
function what to do, and acts through :class:`kubesim.api.Api`, so its writes
are validated like any client's. A periodic resync re-queues everything, as
informers do, so a missed or failed action is retried.

Node agents share threads: :class:`WorkerPool` serves many controllers' queues and
:class:`Heartbeats` runs their periodic heartbeats (Lease, node status) apart from that work.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable

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

    def recorder(self, component: str, host: str | None = None, **kw: Any) -> EventRecorder:
        return EventRecorder(self.api, component, host, **kw)


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
        self._pool: WorkerPool | None = None  # set: served by a shared pool instead of its own thread

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
        if self._pool is not None:
            self._pool.detach(self)

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
            sooner = cur is None or due < cur
            if sooner:
                self._pending[item] = due
                heapq.heappush(self._heap, (due, next(self._seq), item))
            self._cond.notify()
        if sooner and self._pool is not None:
            self._pool.poke(self, due)

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
        # Controller writes do not wait for their SQLite commit (kubesim.store: group commit); a
        # SIGKILL takes the controller down with them, and clients only ever see committed state.
        store = getattr(self.api, "store", None)
        if store is not None and hasattr(store, "deferred"):
            store.deferred()
        self._next_resync = time.monotonic() + self.resync_seconds
        while not self._stop.is_set():
            item = self._next_item()
            if item is None:
                continue
            self._process(item)

    def _process(self, item: Hashable) -> None:
        try:
            again = self.reconcile(item)
        except Exception as exc:
            log.debug("%s: reconcile %s failed: %s", self.name, item, exc)
            again = 1.0
        if again is not None:
            self.enqueue(item, again)

    # -- pooled operation (WorkerPool) ---------------------------------------------------------
    def run_in(self, pool: "WorkerPool") -> None:
        """Serve this controller's queue from ``pool`` (call instead of starting its own thread)."""
        self._next_resync = time.monotonic() + self.resync_seconds
        self._pool = pool
        pool.attach(self)

    def _next_due(self) -> float | None:
        """When the next item (or the resync) is due; None once stopped."""
        if self._stop.is_set():
            return None
        with self._cond:
            while self._heap:
                due, _, item = self._heap[0]
                if self._pending.get(item) != due:  # superseded entry
                    heapq.heappop(self._heap)
                    continue
                return min(due, self._next_resync)
            return self._next_resync

    def _take_due(self) -> Hashable | None:
        """One due item without blocking (the resync re-queues everything first, as in _next_item)."""
        if self._stop.is_set():
            return None
        now = time.monotonic()
        if now >= self._next_resync:
            self._next_resync = now + self.resync_seconds
            items = list(self.all_items())
            with self._cond:
                for it in items:
                    if it not in self._pending:
                        self._pending[it] = now
                        heapq.heappush(self._heap, (now, next(self._seq), it))
        with self._cond:
            while self._heap:
                due, _, item = self._heap[0]
                if self._pending.get(item) != due:
                    heapq.heappop(self._heap)
                    continue
                if due > now:
                    return None
                heapq.heappop(self._heap)
                del self._pending[item]
                return item
        return None

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


class WorkerPool:
    """A few threads serving the queues of many controllers: kubesim's node agents.

    With one thread per kubelet, 100 nodes are 100 threads that each wake about thirty times a
    second (lease, node status, runtime relist at the ``instant`` profile): the GIL changes hands
    thousands of times a second and the control plane's workers (scheduler, StatefulSet,
    endpoints) queue behind them for every bit of work. The pool keeps each controller's own
    queue and semantics (items deduplicated, one item of a controller at a time, never two at
    once: exactly what its own thread did) and runs whichever controller's item is due first on
    a free pool thread, back to back while work is due. The kubelets' Lease and node status are not
    items here: they are :class:`Heartbeats`, which the pool's threads run first when overdue, so pod
    work never delays them.

    A reconcile that blocks (a container process taking its grace period to stop, a slow probe)
    must not hold every other node up: a watchdog starts an extra thread when work is overdue
    while every thread has been inside one reconcile for a while; extra threads leave once idle.
    """

    STUCK_AFTER = 0.1  # seconds inside one reconcile before it counts as blocked
    EXTRA_IDLE_EXIT = 2.0

    def __init__(self, name: str = "kubesim-pool", threads: int = 4, store: Any = None,
                 heartbeats: "Heartbeats | None" = None) -> None:
        self.name = name
        self._min = max(1, threads)
        self._store = store
        self._heartbeats = heartbeats  # overdue ones run before the next item (Heartbeats.run_due)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Controller]] = []
        self._seq = itertools.count()
        self._members: set[Controller] = set()
        self._busy: dict[Controller, float] = {}  # controller -> when its current item started
        self._threads = 0
        self._idle = 0
        self._closed = False
        self._watchdog: threading.Thread | None = None
        self._detaching = 0
        self._local = threading.local()  # .current: the controller this pool thread is running

    # -- membership ----------------------------------------------------------------------------
    def attach(self, c: Controller) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._members.add(c)
            heapq.heappush(self._heap, (time.monotonic(), next(self._seq), c))
            start = self._min - self._threads
            self._threads += max(0, start)
            self._cond.notify()
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-watchdog", daemon=True)
                self._watchdog.start()
        for _ in range(max(0, start)):
            self._spawn()

    def detach(self, c: Controller, timeout: float = 5.0) -> None:
        """Stop serving ``c``; waits (like a thread join) for its current item to finish."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._members.discard(c)
            if getattr(self._local, "current", None) is c:
                return  # stopped from inside its own reconcile: nothing to wait for
            self._detaching += 1
            try:
                while c in self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            finally:
                self._detaching -= 1

    def poke(self, c: Controller, due: float) -> None:
        """``c`` has an item due at ``due`` (monotonic)."""
        with self._cond:
            if c in self._members and c not in self._busy:
                heapq.heappush(self._heap, (due, next(self._seq), c))
                if self._idle:
                    self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._members.clear()
            self._cond.notify_all()

    # -- threads -------------------------------------------------------------------------------
    def _spawn(self, extra: bool = False) -> None:
        t = threading.Thread(target=self._work, args=(extra,), name=f"{self.name}-w", daemon=True)
        t.start()

    def _pick(self) -> Controller | None:
        """The member whose item is due first, if one is due now (called with the lock held)."""
        now = time.monotonic()
        heap = self._heap
        while heap:
            due, _, c = heap[0]
            if c not in self._members or c in self._busy:
                heapq.heappop(heap)  # gone, or re-queued when its current item ends
                continue
            if due > now:
                return None
            heapq.heappop(heap)
            real = c._next_due()
            if real is None:
                continue
            if real > now + 0.0005:  # a stale entry: the item was taken or postponed
                heapq.heappush(heap, (real, next(self._seq), c))
                continue
            return c
        return None

    def _work(self, extra: bool) -> None:
        store = self._store
        if store is not None and hasattr(store, "deferred"):
            store.deferred()  # controller writes do not wait for their commit (see Controller._run)
        hb = self._heartbeats
        while True:
            if hb is not None:
                hb.run_due()  # a Lease or node status due comes before any item
            with self._cond:
                c = None
                idle_since = time.monotonic()
                while c is None:
                    if self._closed:
                        self._threads -= 1
                        return
                    c = self._pick()
                    if c is not None:
                        break
                    if extra and time.monotonic() - idle_since > self.EXTRA_IDLE_EXIT:
                        self._threads -= 1
                        return
                    wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                    self._idle += 1
                    self._cond.wait(min(1.0, max(0.0005, wait)))
                    self._idle -= 1
                self._busy[c] = time.monotonic()
            self._local.current = c
            try:
                item = c._take_due()
                if item is not None:
                    c._process(item)
            except Exception:  # pragma: no cover - _process already guards reconcile
                log.exception("%s: %s failed", self.name, c.name)
            finally:
                self._local.current = None
                with self._cond:
                    self._busy.pop(c, None)
                    nd = c._next_due() if c in self._members else None
                    if nd is not None:
                        heapq.heappush(self._heap, (nd, next(self._seq), c))
                    if self._detaching:
                        self._cond.notify_all()

    def _watch(self) -> None:
        """Start an extra thread when due work waits while every thread is stuck in one reconcile."""
        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(self.STUCK_AFTER / 2)
                now = time.monotonic()
                stuck = self._busy and self._idle == 0 and len(self._busy) >= self._threads and \
                    min(self._busy.values()) < now - self.STUCK_AFTER
                due = bool(self._heap) and self._heap[0][0] <= now
                grow = stuck and due and self._threads < min(len(self._members), 32)
                if grow:
                    self._threads += 1
            if grow:
                self._spawn(extra=True)


class Heartbeats:
    """One thread running the periodic heartbeats of many node agents, apart from their work queues.

    Upstream the kubelet renews its node Lease and posts its node status from loops of their own,
    never behind pod work: ``kl.nodeLeaseController.Run`` (a goroutine of the node lease controller,
    k8s.io/component-helpers/apimachinery/lease/controller.go: ``wait.JitterUntil(c.sync,
    c.renewInterval, 0.04, true, stopCh)``) and ``go wait.JitterUntil(kl.syncNodeStatus,
    kl.nodeStatusUpdateFrequency, 0.04, true, wait.NeverStop)``, both started in pkg/kubelet/kubelet.go
    ``Run``. A ``WorkerPool`` serves each agent's queue earliest-due first, so a timer item there waits
    behind every pod item that was due before it: with the process CPU-bound, Lease renewals fell
    seconds apart and nodes went ``Unknown`` while their kubelets were up.

    A thread of its own is not enough in one Python process: its share of the GIL is one thread's
    among all runnable ones (the pool grows to dozens when reconciles look stuck), and renewals fell
    behind again. So the pool's threads run overdue heartbeats before their next item
    (:meth:`run_due`, ``WorkerPool(heartbeats=...)``): a heartbeat comes before any pod work, and
    this thread runs them while the pool sleeps.

    Each timer is a key and a function; the function returns the seconds until its next call
    (counted from when it returns: ``JitterUntil`` with sliding=true, without the jitter), or None
    to stop. ``schedule`` (re)arms a key, replacing its pending due time; ``cancel`` disarms it and
    waits for a call in progress, so nothing of a cancelled timer runs after it returns. A key never
    runs on two threads at once. The thread starts with the first timer; ``close`` stops and joins it.
    """

    RETRY_AFTER_ERROR = 1.0  # as Controller._process does after a failed reconcile

    def __init__(self, name: str = "kubesim-heartbeats", store: Any = None) -> None:
        self.name = name
        self._store = store
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable, int]] = []  # (due, seq, key, generation)
        self._timers: dict[Hashable, tuple[int, Callable[[], float | None]]] = {}  # key -> (generation, fn)
        self._gen = itertools.count(1)
        self._seq = itertools.count()
        self._running: set[Hashable] = set()  # keys whose function is being called
        self._parked: dict[Hashable, tuple[float, int, Hashable, int]] = {}  # due while running: after it
        self._local = threading.local()  # .key: the key this thread is running
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, key: Hashable, fn: Callable[[], float | None], delay: float = 0.0) -> None:
        """Call ``fn`` in ``delay`` seconds, then as often as it asks; replaces ``key``'s timer."""
        due = time.monotonic() + delay
        with self._cond:
            if self._closed:
                return
            gen = next(self._gen)
            self._timers[key] = (gen, fn)
            heapq.heappush(self._heap, (due, next(self._seq), key, gen))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel(self, key: Hashable, timeout: float = 5.0) -> None:
        """Disarm ``key``; waits (up to ``timeout``) for a call of it in progress to return."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._timers.pop(key, None)
            self._parked.pop(key, None)
            if getattr(self._local, "key", None) == key:
                return  # cancelled from inside its own function: nothing to wait for
            while key in self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)

    def pending(self) -> set[Hashable]:
        """The armed keys (tests: nothing is left behind)."""
        with self._cond:
            return set(self._timers)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._timers.clear()
            self._heap.clear()
            self._parked.clear()
            self._cond.notify_all()
            t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def run_due(self) -> int:
        """Run every heartbeat that is due now on the calling thread (a pool thread helping); how many ran."""
        n = 0
        while True:
            with self._cond:
                got = self._take(time.monotonic())
            if got is None:
                return n
            self._call(*got)
            n += 1

    def _take(self, now: float) -> tuple[Hashable, int, Callable[[], float | None]] | None:
        """The first due timer not running elsewhere (called with the lock held)."""
        heap = self._heap
        while heap:
            due, _, key, gen = heap[0]
            if self._closed or self._timers.get(key, (None,))[0] != gen:
                heapq.heappop(heap)  # cancelled or re-armed since
                continue
            if due > now:
                return None
            entry = heapq.heappop(heap)
            if key in self._running:  # a re-armed key still in its previous call: right after it
                self._parked[key] = entry
                continue
            self._running.add(key)
            return key, gen, self._timers[key][1]
        return None

    def _call(self, key: Hashable, gen: int, fn: Callable[[], float | None]) -> None:
        self._local.key = key
        try:
            again = fn()
        except Exception as exc:
            log.debug("%s: %s failed: %s", self.name, key, exc)
            again = self.RETRY_AFTER_ERROR
        finally:
            self._local.key = None
        with self._cond:
            self._running.discard(key)
            cur = self._timers.get(key)
            if cur is not None and cur[0] == gen:  # neither cancelled nor re-armed meanwhile
                if again is None:
                    del self._timers[key]
                else:
                    heapq.heappush(self._heap, (time.monotonic() + again, next(self._seq), key, gen))
            parked = self._parked.pop(key, None)
            if parked is not None:
                heapq.heappush(self._heap, parked)
            self._cond.notify_all()

    def _run(self) -> None:
        store = self._store
        if store is not None and hasattr(store, "deferred"):
            store.deferred()  # as the pool's threads: writes do not wait for their commit
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = time.monotonic()
                    got = self._take(now)
                    if got is not None:
                        break
                    self._cond.wait(min(1.0, max(0.0005, self._heap[0][0] - now)) if self._heap else 1.0)
            self._call(*got)
