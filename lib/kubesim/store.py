"""Object storage with one global resourceVersion, watch fan-out and SQLite persistence.

This plays etcd plus the watch cache: every write gets the next revision of a
single counter (API-06), every write is appended to a bounded history that
watchers resume from (API-07: older than the history -> 410 Expired), and
with a state directory every acknowledged write is committed to SQLite before
the call returns, so a SIGKILL loses nothing that a client saw succeed.

Group commit: a write is applied to memory (and fanned out to subscribers)
under the global lock, then queued for a single writer thread that commits
whatever has accumulated in one SQLite transaction (several writes to one
object in a batch become one row write). The writing call returns only once
the batch holding its revision is committed (:meth:`Store.wait_durable`), so
the lock is never held across SQLite and the guarantee above is unchanged.
Batches commit in revision order, so what survives a SIGKILL is always a
prefix of the history: a state the cluster really was in.

Two kinds of writers skip that wait (:meth:`Store.deferred`): the in-process
controllers and node agents (a SIGKILL takes them down with the store, exactly
like a controller that crashes before its write lands; they reconcile again
from the committed prefix), and the HTTP server, which waits asynchronously
instead so its event loop keeps serving. The HTTP layer acknowledges a write
and shows a client anything it read (GET, LIST, watch events) only once
``durable_rv`` covers it, so no client ever sees a write a SIGKILL could still
take back.

Objects are kept as their JSON bytes: reads hand out fresh copies
(``json.loads``), lists and watches can be served without re-encoding, and
10,000 objects stay well under the memory budget. Labels and selectable fields
are indexed next to the bytes so selectors never decode.

The store knows nothing of HTTP, validation or defaulting (that is
``kubesim.api``); it is thread-safe and usable from the server's event loop
and from controller threads alike.
"""

from __future__ import annotations

import json
import logging
import operator
import os
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

Fields = dict[str, str]
Indexer = Callable[[str, dict[str, Any]], Fields]

log = logging.getLogger("kubesim.store")
_NS_NAME = operator.attrgetter("namespace", "name")


# What ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)`` builds on every call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _dumps(obj: Any) -> bytes:
    return _encode(obj).encode()


def _owner_uids(meta: dict[str, Any]) -> tuple[str, ...]:
    refs = meta.get("ownerReferences")
    if not refs or not isinstance(refs, list):
        return ()
    return tuple(r.get("uid", "") for r in refs if isinstance(r, dict))


@dataclass(slots=True)
class Entry:
    """One stored object: its bytes plus what selectors need."""

    key: str
    namespace: str
    name: str
    rv: int
    raw: bytes
    labels: dict[str, str]
    fields: Fields
    decoded: Any = None  # the shared read-only decoding behind :meth:`view`, made on first use
    # For the garbage collector, without a decoding: the ``uid`` of each of the object's
    # ``ownerReferences`` (in order), and whether it has a ``deletionTimestamp``.
    owner_uids: tuple[str, ...] = ()
    deleting: bool = False

    def obj(self) -> dict[str, Any]:
        """A fresh, private copy of the object."""
        return json.loads(self.raw)

    def view(self) -> dict[str, Any]:
        """The object decoded once and shared by every reader of this revision: never mutate it.

        For hot read-only paths (controllers scanning every pod of a namespace on each change);
        anything that edits, stores or hands the object to a write takes :meth:`obj`.
        """
        v = self.decoded
        if v is None:
            v = self.decoded = json.loads(self.raw)
        return v


@dataclass(slots=True)
class Event:
    """A committed change, as watchers see it."""

    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry
    # The object as it was before the change (for watchers whose selector it left).
    prev: Entry | None = None

    @property
    def rv(self) -> int:
        return self.entry.rv


class StaleResourceVersion(Exception):
    """Optimistic concurrency failed: the stored revision is not the one expected."""

    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current


class Exists(Exception):
    pass


class Missing(Exception):
    pass


class TooOld(Exception):
    """A watch asked for history the store no longer keeps."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(requested, oldest)
        self.requested = requested
        self.oldest = oldest


class Subscription:
    """A live watch on one storage key; events are handed to ``deliver``."""

    def __init__(self, store: "Store", key: str | None, namespace: str | None,
                 deliver: Callable[[Event], None]) -> None:
        self.store = store
        self.key = key
        self.namespace = namespace
        self.deliver = deliver
        self.closed = False

    def matches(self, ev: Event) -> bool:
        if self.key is not None and ev.entry.key != self.key:
            return False
        if self.namespace and ev.entry.namespace != self.namespace:
            return False
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.store._unsubscribe(self)


class _Deferred:
    def __init__(self, tls: threading.local, on: bool) -> None:
        self._tls = tls
        self._prev = getattr(tls, "deferred", False)
        tls.deferred = on

    def __enter__(self) -> "_Deferred":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._tls.deferred = self._prev


class Store:
    """All objects of one cluster."""

    # How long the writer thread collects rows before committing them when nobody waits for the
    # commit synchronously (deferred writers only): fewer, larger transactions. A thread that
    # waits (:meth:`wait_durable`) or closing the store ends the wait at once; the HTTP server
    # commits inline (``commit_now``) and never waits for the writer thread.
    commit_linger = 0.002

    def __init__(self, state_dir: str | None = None, indexer: Indexer | None = None,
                 history: int = 20_000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {}
        # LIST order is kept per key until an object is added to it or removed from it: node
        # agents, controllers and clients list the same pods many times between two pod creations.
        # An update only replaces its entry in place (``_pos``: where each object sits).
        self._sorted: dict[str, list[Entry]] = {}
        self._pos: dict[str, dict[tuple[str, str], int]] = {}
        # Creations and deletions per key, so a sort done outside the lock is kept only if current.
        self._gen: dict[str, int] = {}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # events with rv <= this are gone from history
        self._subs: list[Subscription] = []
        # Per storage key: the subscriptions whose key matches it, in subscription order (rebuilt
        # after any subscribe or unsubscribe), so a write does not test every watch of every key.
        self._subs_by_key: dict[str, list[Subscription]] = {}
        self._indexer: Indexer = indexer or (lambda key, obj: {})
        self._db: sqlite3.Connection | None = None
        # Group commit (see the module doc): rows waiting for the writer thread, by object.
        self._db_lock = threading.Lock()  # the connection: the writer thread and set/get_meta
        self._commit_lock = threading.Lock()  # one committer at a time (batches in revision order)
        self._wlock = threading.Lock()
        self._work = threading.Condition(self._wlock)  # the writer waits for rows
        self._done = threading.Condition(self._wlock)  # writes wait for their batch
        self._pending: dict[tuple[str, str, str], tuple[int, bytes | None]] = {}
        self._pending_lo = 0  # the first revision in _pending
        self._pending_rv = 0  # the last revision queued
        self._durable_rv = 0  # every revision up to this one is committed
        self._failed: deque[tuple[int, int, BaseException]] = deque(maxlen=64)  # batches that did not commit
        self._writer: threading.Thread | None = None
        self._writer_idle = False  # the writer sleeps until _persist wakes it
        self._sync_waiters = 0  # threads blocked in wait_durable: the writer does not linger then
        self._closing = False
        self._tls = threading.local()  # .deferred: this thread's writes do not wait (see the module doc)
        self._commit_listeners: list[Callable[[int], None]] = []
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
            self._open_db(os.path.join(state_dir, "objects.sqlite"))
            self._writer = threading.Thread(target=self._write_loop, name="kubesim-store-writer", daemon=True)
            self._writer.start()

    # -- persistence -----------------------------------------------------------------
    def _open_db(self, path: str) -> None:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a committed transaction is in the WAL file (the OS has it) before
        # commit returns, which survives a killed process; FULL would add an fsync per
        # write for power loss, which a sandbox does not need.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (key TEXT, namespace TEXT, name TEXT, rv INTEGER, data BLOB,"
            " PRIMARY KEY (key, namespace, name))"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
        self._db = db
        row = db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        max_rv = 0
        for key, ns, name, rv, data in db.execute("SELECT key, namespace, name, rv, data FROM objects"):
            obj = json.loads(data)
            self._objects.setdefault(key, {})[(ns, name)] = self._entry(key, ns, name, rv, bytes(data), obj)
            max_rv = max(max_rv, rv)
        self._rv = max(int(row[0]) if row else 0, max_rv)
        self._durable_rv = self._pending_rv = self._rv
        # Nothing before a restart can be replayed: watchers must relist (410) like after
        # an apiserver restart with an empty watch cache.
        self._compacted = self._rv

    def _persist(self, entry: Entry, deleted: bool) -> None:
        """Queue the row for the writer thread (called under the global lock, in revision order)."""
        if self._db is None:
            return
        with self._wlock:
            if not self._pending:
                self._pending_lo = entry.rv
            self._pending[(entry.key, entry.namespace, entry.name)] = (entry.rv, None if deleted else entry.raw)
            self._pending_rv = entry.rv
            if self._writer_idle:
                self._writer_idle = False
                self._work.notify()

    def _write_loop(self) -> None:
        """The writer thread: commit whatever is queued, whenever something is."""
        while True:
            with self._wlock:
                while not self._pending and not self._closing:
                    self._writer_idle = True
                    self._work.wait()
                self._writer_idle = False
                if not self._pending and self._closing:
                    return
                # Linger to batch more rows, unless someone waits for a commit (they notify).
                deadline = 0.0
                while not self._closing and not self._sync_waiters:
                    now = time.monotonic()
                    if not deadline:
                        deadline = now + self.commit_linger
                    if now >= deadline:
                        break
                    self._work.wait(deadline - now)
            self.commit_now()

    def commit_now(self) -> None:
        """Commit everything queued so far in one transaction, in this thread, and wake its writers.

        The writer thread does this; the HTTP server does it inline for the write it is about to
        acknowledge (one thread handoff less per request). Batches are taken and committed under
        one lock, so they always reach the disk in revision order.
        """
        if self._db is None:
            return
        with self._commit_lock:
            with self._wlock:
                if not self._pending:
                    return
                batch, self._pending = self._pending, {}
                lo, top = self._pending_lo, self._pending_rv
            error: BaseException | None = None
            try:
                with self._db_lock:
                    db = self._db
                    if db is None:
                        raise sqlite3.ProgrammingError("the store is closed")
                    rows = [(k, ns, n, rv, raw) for (k, ns, n), (rv, raw) in batch.items() if raw is not None]
                    gone = [(k, ns, n) for (k, ns, n), (rv, raw) in batch.items() if raw is None]
                    db.execute("BEGIN")
                    try:
                        if gone:
                            db.executemany("DELETE FROM objects WHERE key=? AND namespace=? AND name=?", gone)
                        if rows:
                            db.executemany("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)", rows)
                        if not rows or max(r[3] for r in rows) < top:
                            # The revision is max(meta, objects) on load: the row is needed only when
                            # the batch's last revision is a deletion (one statement less per batch).
                            db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(top),))
                        db.execute("COMMIT")
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
            except Exception as exc:  # the writes of this batch fail; later batches may still commit
                log.error("store: committing revisions %d..%d failed: %s", lo, top, exc)
                error = exc
            with self._wlock:
                if error is not None:
                    self._failed.append((lo, top, error))
                self._durable_rv = top
                self._done.notify_all()
        for fn in list(self._commit_listeners):  # outside the commit lock
            try:
                fn(top)
            except Exception:  # pragma: no cover - a listener must not stop the writer
                log.exception("store: commit listener failed")

    def on_commit(self, fn: Callable[[int], None]) -> None:
        """``fn(durable_rv)`` from the writer thread after every batch (the HTTP server's wake-up)."""
        self._commit_listeners.append(fn)

    def commit_failed(self, lo: int, hi: int) -> BaseException | None:
        """The error of a batch that failed to commit any revision in ``(lo, hi]``, if one did."""
        with self._wlock:
            for a, b, exc in self._failed:
                if a <= hi and b > lo:
                    return exc
        return None

    @property
    def durable_rv(self) -> int:
        """Every revision up to this one is committed (all of them without a state directory)."""
        return self._durable_rv if self._db is not None else self._rv

    def wait_durable(self, rv: int, timeout: float | None = None) -> bool:
        """Block until revision ``rv`` is committed; raises the commit's error if its batch failed."""
        if self._db is None:
            return True
        with self._wlock:
            if self._durable_rv < rv:
                self._sync_waiters += 1
                self._work.notify()  # a lingering writer commits now
                try:
                    if not self._done.wait_for(lambda: self._durable_rv >= rv, timeout):
                        return False
                finally:
                    self._sync_waiters -= 1
            for lo, top, exc in self._failed:
                if lo <= rv <= top:
                    raise exc
        return True

    def set_meta(self, k: str, v: str) -> None:
        """Small persisted settings (the cluster's CA, its token) kept with the objects."""
        with self._lock, self._db_lock:
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("x:" + k, v))

    def get_meta(self, k: str) -> str | None:
        with self._lock, self._db_lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT v FROM meta WHERE k=?", ("x:" + k,)).fetchone()
            return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            for sub in list(self._subs):
                sub.closed = True
            self._subs.clear()
            self._subs_by_key = {}
            writer = self._writer
            if writer is not None:  # commit what is queued, then stop the writer
                with self._wlock:
                    self._closing = True
                    self._work.notify()
                writer.join()
                self._writer = None
            with self._db_lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None

    # -- reads -----------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_watchable(self) -> int:
        """The smallest resourceVersion a watch may start from."""
        return self._compacted

    def get(self, key: str, namespace: str, name: str) -> Entry | None:
        # No lock: entries are immutable and a dict lookup is atomic, so this sees the object as it
        # was before or after any concurrent write. (Waiting for the lock here, behind writers doing
        # their fan-out, was where busy controllers spent most of their time.)
        bucket = self._objects.get(key)
        return None if bucket is None else bucket.get((namespace, name))

    def list(self, key: str, namespace: str | None = None) -> tuple[list[Entry], int]:
        """Entries sorted by (namespace, name) byte-wise, and the revision they were read at."""
        with self._lock:
            rv = self._rv
            ordered = self._sorted.get(key)
            if ordered is not None:
                items = list(ordered)
            else:
                items = list(self._objects.get(key, {}).values())
                gen = self._gen.get(key, 0)
        if ordered is None:
            if all(e.namespace.isascii() and e.name.isascii() for e in items):
                items.sort(key=_NS_NAME)  # ASCII: str order is byte order, without encoding every key
            else:
                items.sort(key=lambda e: (e.namespace.encode(), e.name.encode()))
            with self._lock:
                if self._gen.get(key, 0) == gen and key not in self._sorted:
                    # Nothing added or removed since the copy: keep the order, with the revisions
                    # written meanwhile (``items`` itself stays the snapshot taken at ``rv``).
                    bucket = self._objects.get(key, {})
                    current = [bucket[(e.namespace, e.name)] for e in items]
                    self._sorted[key] = current
                    self._pos[key] = {(e.namespace, e.name): i for i, e in enumerate(current)}
        if namespace:
            return [e for e in items if e.namespace == namespace], rv
        return items, rv

    def count(self, key: str | None = None) -> int:
        with self._lock:
            if key is None:
                return sum(len(b) for b in self._objects.values())
            return len(self._objects.get(key, {}))

    def keys(self) -> list[str]:
        with self._lock:
            return [k for k, b in self._objects.items() if b]

    # -- writes ----------------------------------------------------------------------
    def _entry(self, key: str, ns: str, name: str, rv: int, raw: bytes, obj: dict[str, Any]) -> Entry:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        return Entry(key, ns, name, rv, raw, dict(labels), self._indexer(key, obj), None,
                     _owner_uids(meta), bool(meta.get("deletionTimestamp")))

    def _commit(self, key: str, ns: str, name: str, obj: dict[str, Any], kind: str,
                prev: Entry | None) -> Entry:
        self._rv += 1
        rv = self._rv
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        raw = _dumps(obj)
        entry = self._entry(key, ns, name, rv, raw, obj)
        bucket = self._objects.setdefault(key, {})
        ordered = self._sorted.get(key)
        at = self._pos[key].get((ns, name)) if ordered is not None and kind == "MODIFIED" else None
        if at is not None:
            ordered[at] = entry  # same object, same place in the order
        else:
            self._sorted.pop(key, None)
            self._pos.pop(key, None)
            self._gen[key] = self._gen.get(key, 0) + 1
        if kind == "DELETED":
            bucket.pop((ns, name), None)
        else:
            bucket[(ns, name)] = entry
        self._persist(entry, kind == "DELETED")
        ev = Event(kind, entry, prev)
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(ev)
        subs = self._subs_by_key.get(key)
        if subs is None:
            subs = self._subs_by_key[key] = [sub for sub in self._subs if sub.key is None or sub.key == key]
        for sub in subs:  # a snapshot: (un)subscribing builds new lists
            if sub.namespace and ns != sub.namespace:  # Subscription.matches, the key already checked
                continue
            try:
                sub.deliver(ev)
            except Exception:  # a broken watcher must never fail a write
                sub.closed = True
                self._subs.remove(sub)
                self._subs_by_key = {}
        # Subscribers share one decoding per event (Entry.view); it is not kept afterwards, and a
        # superseded revision drops its own, so the history never pins decoded objects.
        entry.decoded = None
        if prev is not None:
            prev.decoded = None
        return entry

    def _durable(self, entry: Entry) -> Entry:
        """Return ``entry`` once its revision is committed (called outside the global lock)."""
        if self._db is not None and (self._durable_rv < entry.rv or self._failed) \
                and not getattr(self._tls, "deferred", False):
            self.wait_durable(entry.rv)
        return entry

    def deferred(self, on: bool = True) -> "_Deferred":
        """This thread's writes return without waiting for their commit (see the module doc).

        ``store.deferred()`` as a context manager for a stretch of writes, or called once at the
        top of a controller thread's loop for good. Whoever defers must not tell anyone outside
        the process about a write before :meth:`wait_durable` covers its revision.
        """
        return _Deferred(self._tls, on)

    def create(self, key: str, namespace: str, name: str, obj: dict[str, Any]) -> Entry:
        """Store a new object; raises :class:`Exists`. Sets ``metadata.resourceVersion``."""
        with self._lock:
            if (namespace, name) in self._objects.get(key, {}):
                raise Exists()
            entry = self._commit(key, namespace, name, obj, "ADDED", None)
        return self._durable(entry)

    def update(self, key: str, namespace: str, name: str, obj: dict[str, Any],
               expect_rv: int | None = None) -> Entry:
        """Replace an object; with ``expect_rv`` only if it is still at that revision."""
        with self._lock:
            prev = self._objects.get(key, {}).get((namespace, name))
            if prev is None:
                raise Missing()
            if expect_rv is not None and prev.rv != expect_rv:
                raise StaleResourceVersion(prev.rv)
            entry = self._commit(key, namespace, name, obj, "MODIFIED", prev)
        return self._durable(entry)

    def delete(self, key: str, namespace: str, name: str, expect_rv: int | None = None,
               final: dict[str, Any] | None = None) -> Entry:
        """Remove an object; the DELETED event carries ``final`` (or the last state)."""
        with self._lock:
            prev = self._objects.get(key, {}).get((namespace, name))
            if prev is None:
                raise Missing()
            if expect_rv is not None and prev.rv != expect_rv:
                raise StaleResourceVersion(prev.rv)
            obj = final if final is not None else prev.obj()
            entry = self._commit(key, namespace, name, obj, "DELETED", prev)
        return self._durable(entry)

    # -- watch -----------------------------------------------------------------------
    def subscribe(self, key: str | None, namespace: str | None, since_rv: int | None,
                  deliver: Callable[[Event], None]) -> Subscription:
        """Deliver every event after ``since_rv`` (replayed from history), then live ones.

        ``since_rv=None`` means "from now". Raises :class:`TooOld` when the history
        no longer reaches back to ``since_rv``.
        """
        with self._lock:
            sub = Subscription(self, key, namespace, deliver)
            if since_rv is not None and since_rv < self._rv:
                if since_rv < self._compacted:
                    raise TooOld(since_rv, self._compacted + 1)
                for ev in self._history:
                    if ev.rv > since_rv and sub.matches(ev):
                        deliver(ev)
            self._subs.append(sub)
            self._subs_by_key = {}
            return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
                self._subs_by_key = {}

    def history_since(self, since_rv: int) -> Iterator[Event]:
        with self._lock:
            events = [ev for ev in self._history if ev.rv > since_rv]
        return iter(events)

    def bulk_load(self, items: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Create many objects at once (cluster bootstrap); each still gets its own revision."""
        for key, ns, name, obj in items:
            self.create(key, ns, name, obj)
