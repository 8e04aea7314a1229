"""A write ledger: keep writing during a drill, remember every acknowledged and failed write, then audit.

::

    ledger = Ledger(write=kv.put, read=kv.get, shard_of=kv.shard_of)   # callables: no workload internals here
    ledger.start(rate=20)          # a background thread writes key k000001, k000002 ... at 20 writes/s
    ...                            # the drill injects its fault
    ledger.stop()
    ledger.verify()                # RPO: acknowledged writes that cannot be read back (per shard too)
    ledger.availability()          # RTO per shard and overall, error counts, throughput

``write(key, value)`` must return only once the write is acknowledged (and raise
otherwise); ``read(key)`` returns the value or None. Every key is written once, with a
value unique to this ledger (``<key>@<run id>``), so a read tells "lost" (None) from
"wrong" (another value). A failed write may still have been applied; it never counts
towards RPO (only acknowledged writes do).

Definitions (federation-drills.md §6(c) 4; issue 7 "Verify"):

- **RPO** = acknowledged writes that are not readable afterwards (lost or wrong);
- **outage window** (per shard) = from the *start* of the first failed write to the
  *acknowledgement* of the first successful write after it; a window still open at the
  end has ``recovered=False``; **RTO** = the longest window;
- **overall** windows: the union of every shard's windows ("some shard is unavailable");
  ``full`` windows: where every write, whatever its shard, failed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidParameter, KitError

ALL = "*"
VERIFY_READERS = 6  # concurrent read-backs in verify()


@dataclass(frozen=True)
class Write:
    """One write attempt: ``start`` (request sent) and ``end`` (answer or error), wall clock."""

    seq: int
    key: str
    value: str
    shard: str
    start: float
    end: float
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class Outage:
    start: float
    end: float
    recovered: bool
    failed_writes: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ShardAvailability:
    shard: str
    attempts: int
    acknowledged: int
    failed: int
    outages: tuple[Outage, ...]

    @property
    def rto(self) -> float | None:
        """The longest outage (s), None when there was none."""
        return max((o.duration for o in self.outages), default=None)

    @property
    def recovered(self) -> bool:
        return all(o.recovered for o in self.outages)


@dataclass(frozen=True)
class Availability:
    """RTO per shard and overall, error counts and throughput of one ledger run."""

    start: float
    end: float
    attempts: int
    acknowledged: int
    failed: int
    shards: tuple[ShardAvailability, ...]
    overall: tuple[Outage, ...]          # union of the shards' outages
    full: tuple[Outage, ...]             # every write failed
    errors: dict[str, int]
    latency_p50: float | None
    latency_p99: float | None

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def throughput(self) -> float:
        """Acknowledged writes per second."""
        return self.acknowledged / self.duration if self.duration > 0 else 0.0

    @property
    def rto(self) -> float | None:
        """Overall RTO: the longest time some shard was unavailable."""
        return max((o.duration for o in self.overall), default=None)

    @property
    def recovered(self) -> bool:
        return all(o.recovered for o in self.overall)

    def shard(self, name: str) -> ShardAvailability:
        return next(s for s in self.shards if s.shard == name)

    def to_dict(self, t0: float | None = None) -> dict[str, Any]:
        def outages(os_: Iterable[Outage]) -> list[dict[str, Any]]:
            base = t0 or 0.0
            return [{"start": round(o.start - base, 4), "end": round(o.end - base, 4),
                     "duration": round(o.duration, 4), "recovered": o.recovered, "failed_writes": o.failed_writes}
                    for o in os_]
        return {"attempts": self.attempts, "acknowledged": self.acknowledged, "failed": self.failed,
                "duration": round(self.duration, 4), "throughput": round(self.throughput, 3),
                "rto": None if self.rto is None else round(self.rto, 4), "recovered": self.recovered,
                "latency_p50": self.latency_p50, "latency_p99": self.latency_p99, "errors": dict(self.errors),
                "overall": outages(self.overall), "full": outages(self.full),
                "shards": [{"shard": s.shard, "attempts": s.attempts, "acknowledged": s.acknowledged,
                            "failed": s.failed, "rto": None if s.rto is None else round(s.rto, 4),
                            "recovered": s.recovered, "outages": outages(s.outages)} for s in self.shards],
                **({"times_relative_to": t0} if t0 is not None else {})}

    def table(self) -> str:
        rows = [{"shard": s.shard, "writes": s.attempts, "acked": s.acknowledged, "failed": s.failed,
                 "outages": len(s.outages), "rto_s": _fmt(s.rto), "recovered": "yes" if s.recovered else "NO"}
                for s in self.shards]
        rows.append({"shard": "overall", "writes": self.attempts, "acked": self.acknowledged, "failed": self.failed,
                     "outages": len(self.overall), "rto_s": _fmt(self.rto),
                     "recovered": "yes" if self.recovered else "NO"})
        text = _table(rows)
        text += f"\nthroughput {self.throughput:.1f} acked writes/s over {self.duration:.1f} s"
        if self.latency_p50 is not None:
            text += f"; latency p50 {self.latency_p50 * 1000:.0f} ms, p99 {(self.latency_p99 or 0) * 1000:.0f} ms"
        if self.errors:
            text += "\nerrors: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items(), key=lambda kv: -kv[1]))
        return text


@dataclass(frozen=True)
class ShardCheck:
    shard: str
    checked: int
    lost: tuple[str, ...]
    wrong: tuple[str, ...]
    unreadable: tuple[str, ...]

    @property
    def rpo(self) -> int:
        return len(self.lost) + len(self.wrong)


@dataclass(frozen=True)
class Verification:
    """The read-back of every acknowledged write. ``rpo`` = acknowledged writes lost (or wrong)."""

    checked: int
    lost: tuple[str, ...]
    wrong: tuple[str, ...]
    unreadable: tuple[str, ...]        # the read itself failed: unknown, not counted as lost
    shards: tuple[ShardCheck, ...]
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rpo(self) -> int:
        return len(self.lost) + len(self.wrong)

    @property
    def ok(self) -> bool:
        return self.rpo == 0 and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "rpo": self.rpo, "lost": list(self.lost), "wrong": list(self.wrong),
                "unreadable": list(self.unreadable), "errors": dict(self.errors),
                "shards": [{"shard": s.shard, "checked": s.checked, "rpo": s.rpo, "lost": list(s.lost),
                            "wrong": list(s.wrong), "unreadable": list(s.unreadable)} for s in self.shards]}

    def table(self) -> str:
        rows = [{"shard": s.shard, "acked": s.checked, "lost": len(s.lost), "wrong": len(s.wrong),
                 "unreadable": len(s.unreadable), "rpo": s.rpo} for s in self.shards]
        rows.append({"shard": "all", "acked": self.checked, "lost": len(self.lost), "wrong": len(self.wrong),
                     "unreadable": len(self.unreadable), "rpo": self.rpo})
        return _table(rows)


# -- pure computations ---------------------------------------------------------------------------

def outages(writes: Sequence[Write]) -> tuple[Outage, ...]:
    """Outage windows of one ordered sequence of writes: first failure -> first acknowledgement after."""
    out: list[Outage] = []
    opened: float | None = None
    failed = 0
    for w in sorted(writes, key=lambda w: (w.start, w.seq)):
        if not w.ok:
            if opened is None:
                opened = w.start
            failed += 1
        elif opened is not None:
            out.append(Outage(opened, w.end, True, failed))
            opened, failed = None, 0
    if opened is not None:
        last = max(w.end for w in writes)
        out.append(Outage(opened, last, False, failed))
    return tuple(out)


def union(windows: Iterable[Outage]) -> tuple[Outage, ...]:
    """Merge overlapping windows; a merged window is recovered only if all its parts are."""
    out: list[Outage] = []
    for o in sorted(windows, key=lambda o: o.start):
        if out and o.start <= out[-1].end:
            last = out[-1]
            out[-1] = Outage(last.start, max(last.end, o.end), last.recovered and o.recovered,
                             last.failed_writes + o.failed_writes)
        else:
            out.append(o)
    return tuple(out)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 4)


def availability(writes: Sequence[Write], start: float | None = None, end: float | None = None) -> Availability:
    """Availability metrics of a recorded run (pure)."""
    writes = sorted(writes, key=lambda w: (w.start, w.seq))
    start = start if start is not None else (writes[0].start if writes else 0.0)
    end = end if end is not None else (writes[-1].end if writes else start)
    by_shard: dict[str, list[Write]] = {}
    for w in writes:
        by_shard.setdefault(w.shard, []).append(w)
    shards = tuple(ShardAvailability(s, len(ws), sum(w.ok for w in ws), sum(not w.ok for w in ws), outages(ws))
                   for s, ws in sorted(by_shard.items()))
    acked = [w for w in writes if w.ok]
    return Availability(
        start=start, end=end, attempts=len(writes), acknowledged=len(acked), failed=len(writes) - len(acked),
        shards=shards, overall=union(o for s in shards for o in s.outages), full=outages(writes),
        errors=dict(Counter(w.error for w in writes if not w.ok)),
        latency_p50=_percentile([w.end - w.start for w in acked], 0.5),
        latency_p99=_percentile([w.end - w.start for w in acked], 0.99))


def error_kind(exc: BaseException) -> str:
    """A short, countable label for an error: the type and the first words of its message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:60]}" if text else type(exc).__name__


# -- the ledger ----------------------------------------------------------------------------------

class Ledger:
    """Writes continuously in a background thread and audits the result; see the module docstring."""

    def __init__(self, write: Callable[[str, str], None], read: Callable[[str], str | None],
                 keys: Callable[[int], str] | None = None, *, shard_of: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time, on_write: Callable[[Write], None] | None = None) -> None:
        self._write, self._read = write, read
        self._keys = keys or (lambda i: f"k{i:06d}")
        self._shard_of = shard_of
        self.clock = clock
        self.on_write = on_write
        self.run_id = uuid.uuid4().hex[:8]
        self._writes: list[Write] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.started: float | None = None
        self.stopped: float | None = None
        self.rate: float | None = None

    def shard(self, key: str) -> str:
        if self._shard_of is None:
            return ALL
        try:
            return str(self._shard_of(key))
        except Exception:  # noqa: BLE001 - a shard function that fails must not stop the ledger
            return "?"

    def value_for(self, key: str) -> str:
        return f"{key}@{self.run_id}"

    def write_once(self) -> Write:
        """One write, synchronously (the thread calls this; tests and drills may too)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        key = self._keys(seq)
        value = self.value_for(key)
        shard = self.shard(key)
        start = self.clock()
        try:
            self._write(key, value)
            w = Write(seq, key, value, shard, start, self.clock(), True)
        except Exception as exc:  # noqa: BLE001 - every failure is data
            w = Write(seq, key, value, shard, start, self.clock(), False, error_kind(exc))
        with self._lock:
            self._writes.append(w)
        if self.on_write is not None:
            try:
                self.on_write(w)
            except Exception:  # noqa: BLE001
                pass
        return w

    def start(self, rate: float = 20.0) -> "Ledger":
        """Start writing ``rate`` writes per second in a background thread (a slow write delays the next)."""
        if self._thread is not None:
            raise KitError("the ledger is already running: stop() it first")
        if rate <= 0:
            raise InvalidParameter("rate", rate, "must be a positive number of writes per second")
        self.rate = rate
        self._stop.clear()
        self.started = self.clock()
        period = 1.0 / rate

        def loop() -> None:
            nxt = time.monotonic()
            while not self._stop.is_set():
                self.write_once()
                nxt += period
                delay = nxt - time.monotonic()
                if delay < 0:
                    nxt = time.monotonic()
                    delay = 0.0
                if self._stop.wait(delay):
                    break

        self._thread = threading.Thread(target=loop, name="kubekit-ledger", daemon=True)
        self._thread.start()
        return self

    def wait_recovered(self, timeout: float, poll: float = 0.02) -> bool:
        """Wait (at most ``timeout`` s) until every outage so far has closed: each shard whose writes
        failed has had a successful write since. A drill stops its ledger after this, so a pet that
        came back just as the drill ended is seen serving again rather than reported unrecovered."""
        deadline = time.monotonic() + timeout
        while True:
            if self.availability().recovered:
                return True
            if time.monotonic() >= deadline or not self.running:
                return False
            time.sleep(poll)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop writing; waits for the write in flight (at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.stopped = self.clock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def writes(self) -> list[Write]:
        with self._lock:
            return list(self._writes)

    def acknowledged(self) -> list[Write]:
        return [w for w in self.writes if w.ok]

    def verify(self, read: Callable[[str], str | None] | None = None) -> Verification:
        """Read back every acknowledged key: RPO = lost + wrong; per shard when ``shard_of`` was given."""
        read = read or self._read
        lost: list[Write] = []
        wrong: list[Write] = []
        unreadable: list[Write] = []
        errors: Counter[str] = Counter()
        acked = self.acknowledged()

        def read_back(w: Write) -> tuple[Write, str | None, BaseException | None]:
            try:
                return w, read(w.key), None
            except Exception as exc:  # noqa: BLE001
                return w, None, exc

        # A few reads at a time (each is a round trip through the API server's proxy); results in order.
        with ThreadPoolExecutor(max_workers=VERIFY_READERS, thread_name_prefix="ledger-verify") as pool:
            results = list(pool.map(read_back, acked))
        for w, got, exc in results:
            if exc is not None:
                unreadable.append(w)
                errors[error_kind(exc)] += 1
                continue
            if got is None:
                lost.append(w)
            elif got != w.value:
                wrong.append(w)
        shards = []
        for s in sorted({w.shard for w in acked}):
            shards.append(ShardCheck(s, sum(w.shard == s for w in acked), tuple(w.key for w in lost if w.shard == s),
                                     tuple(w.key for w in wrong if w.shard == s),
                                     tuple(w.key for w in unreadable if w.shard == s)))
        return Verification(len(acked), tuple(w.key for w in lost), tuple(w.key for w in wrong),
                            tuple(w.key for w in unreadable), tuple(shards), dict(errors))

    def availability(self) -> Availability:
        return availability(self.writes, self.started, self.stopped or (self.clock() if self.started else None))

    def to_dict(self, t0: float | None = None) -> dict[str, Any]:
        base = t0 or 0.0
        return {"run_id": self.run_id, "rate": self.rate,
                "writes": [{**asdict(w), "start": round(w.start - base, 4), "end": round(w.end - base, 4)}
                           for w in self.writes],
                "availability": self.availability().to_dict(t0)}

    def to_json(self, t0: float | None = None) -> str:
        return json.dumps(self.to_dict(t0), indent=1)

    def __repr__(self) -> str:
        ws = self.writes
        return (f"Ledger({len(ws)} writes, {sum(w.ok for w in ws)} acknowledged, "
                f"{'running' if self.running else 'stopped'})")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols).rstrip() for r in rows]
    return "\n".join(lines)
