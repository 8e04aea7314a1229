"""petkv: a tiny sharded key-value server, one shard per pet (stdlib only).

The pet with ordinal N (read from its hostname, ``web-2`` -> 2) owns the keys
whose hash falls on its shard, keeps them in its data volume as an append-only
log, and fsyncs the log before it acknowledges a write. It runs unchanged

- on a real cluster, in a stock ``python:3.12-slim`` image with this file
  mounted from a ConfigMap (``python /opt/petkv/petkv.py --data /data``),
  listening on 0.0.0.0:8080;
- in kubesim, as a local process (pod annotation ``kubesim.io/workload:
  petkv``): ``KUBESIM_MOUNTS`` maps ``/data`` to the volume's host directory and
  ``KUBESIM_PORT_8080`` is the 127.0.0.1 port to listen on (the contract in
  ``kubesim.runtime.node``).

Clients reach it through the API server's pod proxy
(``/api/v1/namespaces/<ns>/pods/<pet>:8080/proxy/<path>``), the same on both.

Ownership
---------
``--shards N --first-ordinal S``: the key space has N shards; key ``k`` belongs
to shard ``h(k) mod N`` (``h`` = the first 8 bytes of SHA-256, big-endian) and
to the pet with ordinal ``S + shard``. A pet with ordinal ``o`` therefore owns
shard ``o - S``, and owns nothing when that is outside ``[0, N)`` (a spare
pet, e.g. after scaling beyond the shard count: petkv never reshards).

The defaults come from the StatefulSet: ``N`` = its replicas at deploy time and
``S`` = its ``spec.ordinals.start``. A federated set split into ordinal slices
(cluster A runs ``web-0..2`` with start 0, cluster B ``web-3..5`` with start 3)
can either give each slice its own key space (``--first-ordinal`` = the slice's
start, ``--shards`` = the slice's replicas: ``web-3`` owns shard 0 of 3) or
share one key space over all slices (``--first-ordinal 0 --shards 6``: ``web-3``
owns shard 3 of 6). ``owner_ordinal()`` below is what clients use to route.

HTTP API
--------
=====================  ==============================================================
``PUT /kv/<key>``      body = the value (UTF-8); 200 ``{"key", "seq", "pet"}`` once durable
``GET /kv/<key>``      200 the value (text/plain); 404 if absent
``DELETE /kv/<key>``   200 ``{"key", "deleted": true|false}`` once durable
``GET /kv``            200 ``{"pet", "keys": {key: value}}``: every key this pet holds
``POST /batch``        body ``{"put": {key: value, ...}}``: all keys written with one fsync
``GET /identity``      pod, ordinal, hostname, data dir, key count, checksum, start time,
                       starts on this volume, shard, version
``GET /healthz``       200 while the process serves (liveness)
``GET /readyz``        200 once the log is replayed (readiness)
=====================  ==============================================================

A key another pet owns (read or write) is refused with **421 Misdirected
Request** and ``{"error", "key", "owner", "owner_ordinal"}`` (also in the header
``X-Petkv-Owner``). Keys are 1-250 characters of ``[A-Za-z0-9._:-]``.

Storage
-------
``<data>/petkv.log``: one record per line, ``<crc32 hex> <json>\\n`` with json
``{"op": "put"|"del", "k": key, "v": value}``. On start the log is replayed; a
torn or corrupt tail (a crash mid-write) is cut off at the last good record.
Concurrent writers share fsyncs (group commit), but each write is acknowledged
only after an fsync that covers it, and becomes visible to readers only then.
``<data>/petkv.starts`` counts the starts on this volume.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import socket
import sys
import threading
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

LOG_FILE = "petkv.log"
STARTS_FILE = "petkv.starts"
DEFAULT_PORT = 8080
DEFAULT_DATA = "/data"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,250}$")
MAX_BODY = 1 << 20
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# -- ownership and checksums (shared with kubekit's client) --------------------------------
def shard_of(key: str, shards: int) -> int:
    """The shard of ``key`` in a key space of ``shards`` shards."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % max(1, shards)


def owner_ordinal(key: str, shards: int, first_ordinal: int = 0) -> int:
    """The ordinal of the pet that owns ``key``."""
    return first_ordinal + shard_of(key, shards)


def checksum(items: dict[str, str]) -> str:
    """A checksum of a key->value mapping, independent of write order (16 hex digits)."""
    h = hashlib.sha256()
    for key in sorted(items):
        h.update(json.dumps([key, items[key]], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]


def parse_ordinal(hostname: str) -> tuple[str, int | None]:
    """``web-2`` -> (``web``, 2); a name without an ordinal -> (name, None)."""
    m = _ORDINAL.match(hostname.split(".")[0])
    return (m.group(1), int(m.group(2))) if m else (hostname, None)


# -- the log --------------------------------------------------------------------------------
def encode_record(op: str, key: str, value: str | None = None) -> bytes:
    rec: dict[str, Any] = {"op": op, "k": key}
    if value is not None:
        rec["v"] = value
    body = json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_record(line: bytes) -> dict[str, Any] | None:
    """A record, or None when the line is torn or corrupt."""
    if not line.endswith(b"\n") or len(line) < 11 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        rec = json.loads(body)
    except ValueError:
        return None
    if not isinstance(rec, dict) or rec.get("op") not in ("put", "del") or not isinstance(rec.get("k"), str):
        return None
    return rec


class Store:
    """The pet's data: an append-only log replayed into a dict, with group-committed fsyncs."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, LOG_FILE)
        self.items: dict[str, str] = {}
        self.truncated_bytes = 0  # torn tail cut off at start
        self._key_seq: dict[str, int] = {}
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._seq = 0
        self._replay()
        self._file = open(self.path, "ab")
        self._end = self._file.tell()
        self._synced = self._end
        self.starts = self._count_start()

    def _replay(self) -> None:
        good = 0
        try:
            with open(self.path, "rb") as f:
                for line in f:
                    rec = decode_record(line)
                    if rec is None:
                        break
                    self._apply(rec)
                    good += len(line)
                size = f.seek(0, os.SEEK_END)
        except FileNotFoundError:
            return
        if size > good:  # a torn or corrupt tail: keep what was whole
            self.truncated_bytes = size - good
            with open(self.path, "r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())

    def _apply(self, rec: dict[str, Any]) -> None:
        if rec["op"] == "put":
            self.items[rec["k"]] = str(rec.get("v", ""))
        else:
            self.items.pop(rec["k"], None)

    def _count_start(self) -> int:
        path = os.path.join(self.directory, STARTS_FILE)
        try:
            with open(path) as f:
                n = int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            n = 0
        n += 1
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{n}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return n

    def write(self, records: list[tuple[str, str, str | None]]) -> int:
        """Append ``(op, key, value)`` records, make them durable, then visible; returns the last sequence number."""
        data = b"".join(encode_record(op, k, v) for op, k, v in records)
        with self._write_lock:
            self._file.write(data)
            self._file.flush()
            self._end += len(data)
            end = self._end
            self._seq += 1
            seq = self._seq
        self._sync(end)
        with self._read_lock:
            for op, key, value in records:
                if self._key_seq.get(key, 0) < seq:  # a later write may have landed first
                    self._key_seq[key] = seq
                    if op == "put":
                        self.items[key] = value or ""
                    else:
                        self.items.pop(key, None)
        return seq

    def _sync(self, end: int) -> None:
        with self._sync_lock:
            if self._synced >= end:
                return  # another writer's fsync already covered this record
            with self._write_lock:
                target = self._end
            os.fsync(self._file.fileno())
            self._synced = target

    def get(self, key: str) -> str | None:
        with self._read_lock:
            return self.items.get(key)

    def snapshot(self) -> dict[str, str]:
        with self._read_lock:
            return dict(self.items)

    def log_bytes(self) -> int:
        with self._write_lock:
            return self._end

    def close(self) -> None:
        with self._write_lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the server -----------------------------------------------------------------------------
class Pet:
    """What this process is: its identity, its shard and its store."""

    def __init__(self, store: Store, *, hostname: str, pod: str, data_dir: str, shards: int, first_ordinal: int,
                 version: str = "", ordinal: int | None = None) -> None:
        self.store = store
        self.hostname = hostname
        self.pod = pod
        self.data_dir = data_dir
        self.set_name, parsed = parse_ordinal(pod or hostname)
        self.ordinal = parsed if ordinal is None else ordinal
        self.shards = max(1, shards)
        self.first_ordinal = first_ordinal
        self.version = version
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def shard(self) -> int | None:
        if self.ordinal is None:
            return None
        s = self.ordinal - self.first_ordinal
        return s if 0 <= s < self.shards else None

    def owner_of(self, key: str) -> int:
        return owner_ordinal(key, self.shards, self.first_ordinal)

    def owns(self, key: str) -> bool:
        return self.ordinal is not None and self.owner_of(key) == self.ordinal

    def owner_name(self, key: str) -> str:
        return f"{self.set_name}-{self.owner_of(key)}"

    def identity(self) -> dict[str, Any]:
        items = self.store.snapshot()
        return {"pod": self.pod, "hostname": self.hostname, "set": self.set_name, "ordinal": self.ordinal,
                "shard": self.shard, "shards": self.shards, "first_ordinal": self.first_ordinal,
                "data_dir": self.data_dir, "keys": len(items), "checksum": checksum(items),
                "log_bytes": self.store.log_bytes(), "started": self.started, "starts": self.store.starts,
                "version": self.version}


class Handler(BaseHTTPRequestHandler):
    server_version = "petkv/1"
    protocol_version = "HTTP/1.1"
    pet: Pet  # set on the subclass made by make_server

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would drown the pet's log; errors are logged below

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, (json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"),
                   headers=headers)

    def _error(self, status: int, message: str, **extra: Any) -> None:
        self._json(status, {"error": message, **extra})

    def _body(self) -> bytes | None:
        """The request body, always read whole first (an unread body would be parsed as the next request)."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._error(413 if length > 0 else 400, f"a body must have a Content-Length of at most {MAX_BODY} bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _key(self) -> str | None:
        path = urlsplit(self.path).path
        key = unquote(path[len("/kv/"):])
        if not KEY_PATTERN.match(key):
            self._error(400, "a key is 1-250 characters of A-Z a-z 0-9 . _ : -", key=key)
            return None
        if not self.pet.owns(key):
            owner = self.pet.owner_name(key)
            self._json(421, {"error": f"{self.pet.pod} does not own key {key!r}; its owner is {owner}", "key": key,
                             "owner": owner, "owner_ordinal": self.pet.owner_of(key)},
                       headers={"X-Petkv-Owner": owner})
            return None
        return key

    # -- verbs ------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/identity":
            self._json(200, self.pet.identity())
        elif path in ("/kv", "/kv/"):
            self._json(200, {"pet": self.pet.pod, "keys": self.pet.store.snapshot()})
        elif path.startswith("/kv/"):
            key = self._key()
            if key is None:
                return
            value = self.pet.store.get(key)
            if value is None:
                self._error(404, f"no key {key!r}", key=key)
            else:
                self._send(200, value.encode("utf-8"), "text/plain; charset=utf-8")
        else:
            self._error(404, f"no such path {path}; see GET /identity, /kv/<key>")

    do_HEAD = do_GET

    def do_PUT(self) -> None:  # noqa: N802
        body = self._body()
        if body is None:
            return
        if not urlsplit(self.path).path.startswith("/kv/"):
            self._error(404, "PUT /kv/<key>")
            return
        key = self._key()
        if key is None:
            return
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            self._error(400, "the value must be UTF-8 text", key=key)
            return
        seq = self.pet.store.write([("put", key, value)])
        self._json(200, {"key": key, "seq": seq, "pet": self.pet.pod})

    def do_DELETE(self) -> None:  # noqa: N802
        if self._body() is None:
            return
        if not urlsplit(self.path).path.startswith("/kv/"):
            self._error(404, "DELETE /kv/<key>")
            return
        key = self._key()
        if key is None:
            return
        existed = self.pet.store.get(key) is not None
        self.pet.store.write([("del", key, None)])
        self._json(200, {"key": key, "deleted": existed, "pet": self.pet.pod})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if body is None:
            return
        if urlsplit(self.path).path != "/batch":
            self._error(404, "POST /batch")
            return
        try:
            puts = json.loads(body or b"{}").get("put") or {}
            assert isinstance(puts, dict) and all(isinstance(v, str) for v in puts.values())
        except (ValueError, AttributeError, AssertionError):
            self._error(400, 'the body must be {"put": {"<key>": "<value>", ...}} with string values')
            return
        bad = sorted(k for k in puts if not isinstance(k, str) or not KEY_PATTERN.match(k))
        if bad:
            self._error(400, "a key is 1-250 characters of A-Z a-z 0-9 . _ : -", keys=bad[:20])
            return
        foreign = {k: self.pet.owner_name(k) for k in sorted(puts) if not self.pet.owns(k)}
        if foreign:
            self._json(421, {"error": f"{self.pet.pod} does not own {len(foreign)} of the keys; nothing written",
                             "owners": foreign})
            return
        seq = self.pet.store.write([("put", k, v) for k, v in puts.items()]) if puts else 0
        self._json(200, {"written": len(puts), "seq": seq, "pet": self.pet.pod})


def resolve_data_dir(path: str, mounts_json: str | None) -> str:
    """The host directory behind ``path``: through ``KUBESIM_MOUNTS`` in kubesim, else ``path`` itself."""
    if not mounts_json:
        return path
    mounts = json.loads(mounts_json)
    best = ""
    for mount in mounts:
        m = mount.rstrip("/") or "/"
        if (path == m or path.startswith(m.rstrip("/") + "/")) and len(m) > len(best):
            best = m
    if not best:
        raise SystemExit(f"petkv: {path} is not on a mounted volume (mounts: {', '.join(sorted(mounts)) or 'none'}); "
                         f"mount the data volume at {path}")
    rest = path[len(best.rstrip("/")):].lstrip("/")
    return os.path.join(mounts[best], rest) if rest else mounts[best]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections under concurrent writers


def make_server(pet: Pet, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("PetHandler", (Handler,), {"pet": pet})
    return Server((host, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="petkv", description="A sharded key-value pet (see the module docstring).")
    parser.add_argument("--data", default=os.environ.get("PETKV_DATA", DEFAULT_DATA), help="data directory (the volume)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PETKV_PORT", DEFAULT_PORT)))
    parser.add_argument("--shards", type=int, default=int(os.environ.get("PETKV_SHARDS", 1)),
                        help="shards in the key space (the set's replicas)")
    parser.add_argument("--first-ordinal", type=int, default=int(os.environ.get("PETKV_FIRST_ORDINAL", 0)),
                        help="ordinal of the pet owning shard 0 (the set's spec.ordinals.start)")
    parser.add_argument("--name", default="", help="pod name (default $POD_NAME, then the hostname)")
    args = parser.parse_args(argv)

    hostname = os.environ.get("HOSTNAME") or socket.gethostname()
    pod = args.name or os.environ.get("POD_NAME") or hostname
    sim_port = os.environ.get(f"KUBESIM_PORT_{args.port}")
    host, port = ("127.0.0.1", int(sim_port)) if sim_port else ("0.0.0.0", args.port)
    data_dir = resolve_data_dir(args.data, os.environ.get("KUBESIM_MOUNTS"))

    store = Store(data_dir)
    pet = Pet(store, hostname=hostname, pod=pod, data_dir=args.data, shards=args.shards,
              first_ordinal=args.first_ordinal, version=os.environ.get("PETKV_VERSION", ""))
    server = make_server(pet, host, port)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shard = "no shard (spare)" if pet.shard is None else f"shard {pet.shard} of {pet.shards}"
    torn = f", cut a torn tail of {store.truncated_bytes} bytes" if store.truncated_bytes else ""
    print(f"petkv {pod}: {shard}, {len(store.items)} keys, start #{store.starts} on {args.data}{torn}; "
          f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        store.close()
        print(f"petkv {pod}: stopped cleanly with {len(store.items)} keys", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
