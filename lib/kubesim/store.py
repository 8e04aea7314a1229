"""Object storage with one global resourceVersion, watch fan-out and SQLite persistence.

This plays etcd plus the watch cache: every write gets the next revision of a
single counter (API-06), every write is appended to a bounded history that
watchers resume from (API-07: older than the history -> 410 Expired), and
with a state directory every acknowledged write is committed to SQLite before
the call returns, so a SIGKILL loses nothing that a client saw succeed.

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
import os
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

Fields = dict[str, str]
Indexer = Callable[[str, dict[str, Any]], Fields]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


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

    def obj(self) -> dict[str, Any]:
        """A fresh, private copy of the object."""
        return json.loads(self.raw)


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


class Store:
    """All objects of one cluster."""

    def __init__(self, state_dir: str | None = None, indexer: Indexer | None = None,
                 history: int = 20_000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Entry]] = {}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # events with rv <= this are gone from history
        self._subs: list[Subscription] = []
        self._indexer: Indexer = indexer or (lambda key, obj: {})
        self._db: sqlite3.Connection | None = None
        if state_dir:
            os.makedirs(state_dir, exist_ok=True)
            self._open_db(os.path.join(state_dir, "objects.sqlite"))

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
        # Nothing before a restart can be replayed: watchers must relist (410) like after
        # an apiserver restart with an empty watch cache.
        self._compacted = self._rv

    def _persist(self, entry: Entry, deleted: bool) -> None:
        if self._db is None:
            return
        db = self._db
        db.execute("BEGIN")
        if deleted:
            db.execute("DELETE FROM objects WHERE key=? AND namespace=? AND name=?",
                       (entry.key, entry.namespace, entry.name))
        else:
            db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)",
                       (entry.key, entry.namespace, entry.name, entry.rv, entry.raw))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
        db.execute("COMMIT")

    def set_meta(self, k: str, v: str) -> None:
        """Small persisted settings (the cluster's CA, its token) kept with the objects."""
        with self._lock:
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", ("x:" + k, v))

    def get_meta(self, k: str) -> str | None:
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT v FROM meta WHERE k=?", ("x:" + k,)).fetchone()
            return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            for sub in list(self._subs):
                sub.closed = True
            self._subs.clear()
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
        with self._lock:
            return self._objects.get(key, {}).get((namespace, name))

    def list(self, key: str, namespace: str | None = None) -> tuple[list[Entry], int]:
        """Entries sorted by (namespace, name) byte-wise, and the revision they were read at."""
        with self._lock:
            bucket = self._objects.get(key, {})
            if namespace:
                items = [e for (ns, _), e in bucket.items() if ns == namespace]
            else:
                items = list(bucket.values())
            rv = self._rv
        items.sort(key=lambda e: (e.namespace.encode(), e.name.encode()))
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
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return Entry(key, ns, name, rv, raw, dict(labels), self._indexer(key, obj))

    def _commit(self, key: str, ns: str, name: str, obj: dict[str, Any], kind: str,
                prev: Entry | None) -> Entry:
        self._rv += 1
        rv = self._rv
        obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
        raw = _dumps(obj)
        entry = self._entry(key, ns, name, rv, raw, obj)
        bucket = self._objects.setdefault(key, {})
        if kind == "DELETED":
            bucket.pop((ns, name), None)
        else:
            bucket[(ns, name)] = entry
        self._persist(entry, kind == "DELETED")
        ev = Event(kind, entry, prev)
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(ev)
        for sub in list(self._subs):
            if sub.matches(ev):
                try:
                    sub.deliver(ev)
                except Exception:  # a broken watcher must never fail a write
                    sub.closed = True
                    self._subs.remove(sub)
        return entry

    def create(self, key: str, namespace: str, name: str, obj: dict[str, Any]) -> Entry:
        """Store a new object; raises :class:`Exists`. Sets ``metadata.resourceVersion``."""
        with self._lock:
            if (namespace, name) in self._objects.get(key, {}):
                raise Exists()
            return self._commit(key, namespace, name, obj, "ADDED", None)

    def update(self, key: str, namespace: str, name: str, obj: dict[str, Any],
               expect_rv: int | None = None) -> Entry:
        """Replace an object; with ``expect_rv`` only if it is still at that revision."""
        with self._lock:
            prev = self._objects.get(key, {}).get((namespace, name))
            if prev is None:
                raise Missing()
            if expect_rv is not None and prev.rv != expect_rv:
                raise StaleResourceVersion(prev.rv)
            return self._commit(key, namespace, name, obj, "MODIFIED", prev)

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
            return self._commit(key, namespace, name, obj, "DELETED", prev)

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
            return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def history_since(self, since_rv: int) -> Iterator[Event]:
        with self._lock:
            events = [ev for ev in self._history if ev.rv > since_rv]
        return iter(events)

    def bulk_load(self, items: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Create many objects at once (cluster bootstrap); each still gets its own revision."""
        for key, ns, name, obj in items:
            self.create(key, ns, name, obj)
