"""The petkv server: ownership, fsync before acknowledgement, checksums, and restarts on the same volume.

In-process servers (the module's own ``Store``/``Pet``/``make_server`` on
127.0.0.1:0) for the HTTP behaviour, and the real script as a process with the
kubesim contract (``KUBESIM_MOUNTS``, ``KUBESIM_PORT_8080``, ``HOSTNAME``,
SIGTERM) for restarts.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubekit.workloads import petkv

SCRIPT = Path(petkv.__file__)


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(self, method: str, path: str, body: bytes | str | None = None) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body.encode() if isinstance(body, str) else body)
            r = conn.getresponse()
            data = r.read()
            ctype = r.getheader("Content-Type", "")
            out = json.loads(data) if ctype.startswith("application/json") else data.decode()
            return r.status, out, {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()


def start(directory: Path, pod: str, shards: int = 3, first_ordinal: int = 0) -> tuple[Any, Client, petkv.Pet]:
    store = petkv.Store(str(directory))
    pet = petkv.Pet(store, hostname=pod, pod=pod, data_dir="/data", shards=shards, first_ordinal=first_ordinal)
    server = petkv.make_server(pet, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, Client(server.server_address[1]), pet


@pytest.fixture
def web1(tmp_path: Path) -> Iterator[tuple[Client, petkv.Pet]]:
    server, client, pet = start(tmp_path / "web-1", "web-1")
    yield client, pet
    server.shutdown()
    server.server_close()
    pet.store.close()


def keys_of(ordinal: int, n: int, shards: int = 3, first: int = 0) -> list[str]:
    out = [k for k in (f"key-{i:04d}" for i in range(2000)) if petkv.owner_ordinal(k, shards, first) == ordinal]
    return out[:n]


# -- ownership ----------------------------------------------------------------------------------
def test_owner_is_the_hash_modulo_the_shards() -> None:
    assert petkv.shard_of("key-0000", 3) == int.from_bytes(
        __import__("hashlib").sha256(b"key-0000").digest()[:8], "big") % 3
    counts = [0, 0, 0]
    for i in range(3000):
        counts[petkv.owner_ordinal(f"key-{i}", 3)] += 1
    assert all(900 < c < 1100 for c in counts)  # an even spread
    assert petkv.parse_ordinal("web-12") == ("web", 12)
    assert petkv.parse_ordinal("web-0.web.pets.svc.cluster.local") == ("web", 0)
    assert petkv.parse_ordinal("laptop") == ("laptop", None)


def test_a_pet_serves_its_own_keys_and_refuses_the_others(web1: tuple[Client, petkv.Pet]) -> None:
    client, pet = web1
    mine, theirs = keys_of(1, 1)[0], keys_of(2, 1)[0]
    status, ack, _ = client("PUT", f"/kv/{mine}", "hello")
    assert status == 200 and ack["key"] == mine and ack["pet"] == "web-1"
    assert client("GET", f"/kv/{mine}")[:2] == (200, "hello")
    status, refusal, headers = client("PUT", f"/kv/{theirs}", "nope")
    assert status == 421
    assert refusal["owner"] == "web-2" and refusal["owner_ordinal"] == 2 and headers["x-petkv-owner"] == "web-2"
    assert "its owner is web-2" in refusal["error"]
    assert client("GET", f"/kv/{theirs}")[0] == 421
    assert theirs not in pet.store.snapshot()
    assert client("DELETE", f"/kv/{mine}")[1]["deleted"] is True
    assert client("GET", f"/kv/{mine}")[0] == 404
    assert client("PUT", "/kv/bad%20key!", "x")[0] == 400


def test_a_batch_is_all_or_nothing(web1: tuple[Client, petkv.Pet]) -> None:
    client, pet = web1
    mine, theirs = keys_of(1, 3), keys_of(0, 1)
    status, answer, _ = client("POST", "/batch", json.dumps({"put": {k: "v" for k in mine + theirs}}))
    assert status == 421 and answer["owners"] == {theirs[0]: "web-0"}
    assert pet.store.snapshot() == {}
    status, answer, _ = client("POST", "/batch", json.dumps({"put": {k: k.upper() for k in mine}}))
    assert status == 200 and answer["written"] == 3
    assert client("GET", "/kv")[1]["keys"] == {k: k.upper() for k in mine}


def test_ordinal_slices_use_the_ordinal_minus_the_start(tmp_path: Path) -> None:
    """web-4 in a slice starting at 3 with 2 shards owns shard 1; web-5 in that slice is a spare."""
    server, client, pet = start(tmp_path / "web-4", "web-4", shards=2, first_ordinal=3)
    spare_server, spare, spare_pet = start(tmp_path / "web-5", "web-5", shards=2, first_ordinal=3)
    try:
        ident = client("GET", "/identity")[1]
        assert (ident["ordinal"], ident["shard"], ident["shards"], ident["first_ordinal"]) == (4, 1, 2, 3)
        k4, k3 = keys_of(4, 1, shards=2, first=3)[0], keys_of(3, 1, shards=2, first=3)[0]
        assert client("PUT", f"/kv/{k4}", "x")[0] == 200
        assert client("PUT", f"/kv/{k3}", "x")[1]["owner"] == "web-3"
        assert spare("GET", "/identity")[1]["shard"] is None
        assert spare("PUT", f"/kv/{k4}", "x")[1]["owner"] == "web-4"
    finally:
        for s, p in ((server, pet), (spare_server, spare_pet)):
            s.shutdown()
            s.server_close()
            p.store.close()


# -- durability ---------------------------------------------------------------------------------
def test_a_write_is_acknowledged_only_after_its_fsync(web1: tuple[Client, petkv.Pet],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client, pet = web1
    key = keys_of(1, 1)[0]
    in_fsync, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        in_fsync.set()
        assert release.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(petkv.os, "fsync", slow_fsync)
    answer: dict[str, Any] = {}
    writer = threading.Thread(target=lambda: answer.update(put=client("PUT", f"/kv/{key}", "durable")))
    writer.start()
    assert in_fsync.wait(5), "the write never reached fsync"
    time.sleep(0.2)
    assert "put" not in answer, "acknowledged before the fsync returned"
    assert (Path(pet.store.path).read_bytes().count(b"durable"), client("GET", f"/kv/{key}")[0]) == (1, 404), \
        "the record is written (not yet synced) and must not be visible before it is durable"
    release.set()
    writer.join(10)
    assert answer["put"][0] == 200
    assert client("GET", f"/kv/{key}")[:2] == (200, "durable")


def test_concurrent_writers_share_fsyncs_but_all_are_durable(web1: tuple[Client, petkv.Pet],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    client, pet = web1
    calls = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        time.sleep(0.01)
        real_fsync(fd)

    monkeypatch.setattr(petkv.os, "fsync", counting_fsync)
    keys = keys_of(1, 40)
    threads = [threading.Thread(target=client, args=("PUT", f"/kv/{k}", k)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert pet.store.snapshot() == {k: k for k in keys}
    assert 1 <= len(calls) <= len(keys)
    reopened = petkv.Store(pet.store.directory)
    assert reopened.items == {k: k for k in keys}


def test_checksum_is_of_the_content_not_the_history(web1: tuple[Client, petkv.Pet]) -> None:
    client, _ = web1
    a, b = keys_of(1, 2)
    empty = client("GET", "/identity")[1]
    assert (empty["keys"], empty["checksum"]) == (0, petkv.checksum({}))
    client("PUT", f"/kv/{a}", "1")
    client("PUT", f"/kv/{b}", "2")
    client("PUT", f"/kv/{a}", "3")
    ident = client("GET", "/identity")[1]
    assert ident["keys"] == 2 and ident["checksum"] == petkv.checksum({b: "2", a: "3"})
    client("DELETE", f"/kv/{b}")
    assert client("GET", "/identity")[1]["checksum"] == petkv.checksum({a: "3"})
    assert petkv.checksum({"x": "1", "y": "2"}) == petkv.checksum({"y": "2", "x": "1"})
    assert petkv.checksum({"x": "1"}) != petkv.checksum({"x": "2"})


def test_a_torn_tail_is_cut_at_the_last_whole_record(tmp_path: Path) -> None:
    store = petkv.Store(str(tmp_path))
    store.write([("put", "a", "1"), ("put", "b", "2")])
    store.close()
    good = Path(store.path).read_bytes()
    Path(store.path).write_bytes(good + petkv.encode_record("put", "c", "3")[:-7])  # a crash mid-write
    again = petkv.Store(str(tmp_path))
    assert again.items == {"a": "1", "b": "2"}
    assert again.truncated_bytes > 0 and Path(again.path).read_bytes() == good
    flipped = bytearray(good)
    flipped[-3] ^= 0x01  # corrupt the last record: the CRC catches it
    Path(store.path).write_bytes(bytes(flipped))
    again.close()
    assert petkv.Store(str(tmp_path)).items == {"a": "1"}


# -- the real process, with kubesim's contract --------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_pet(volume: Path, root: Path, pod: str = "web-1") -> tuple[subprocess.Popen[str], Client]:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOSTNAME": pod, "POD_NAME": pod, "PETKV_VERSION": "v1",
           "KUBESIM_MOUNTS": json.dumps({"/data": str(volume), "/opt/petkv": str(SCRIPT.parent)}),
           "KUBESIM_ROOT": str(root), "KUBESIM_PORT_8080": str(port), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--data", "/data", "--port", "8080", "--shards", "3"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    client = Client(port)
    deadline = time.monotonic() + 10
    while True:
        try:
            if client("GET", "/readyz")[0] == 200:
                return proc, client
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"petkv did not come up: {proc.communicate()[0]}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    return proc.returncode, out


def test_restart_on_the_same_volume_keeps_data_and_counts_starts(tmp_path: Path) -> None:
    volume, root = tmp_path / "pv", tmp_path / "root"
    volume.mkdir()
    root.mkdir()
    proc, client = run_pet(volume, root)
    try:
        first = client("GET", "/identity")[1]
        keys = keys_of(1, 20)
        for k in keys:
            assert client("PUT", f"/kv/{k}", f"v-{k}")[0] == 200
        before = client("GET", "/identity")[1]
    finally:
        code, out = stop(proc)
    assert code == 0, out
    assert "shard 1 of 3, 0 keys, start #1" in out and "stopped cleanly with 20 keys" in out
    assert (first["pod"], first["ordinal"], first["data_dir"], first["starts"]) == ("web-1", 1, "/data", 1)
    assert sorted(p.name for p in volume.iterdir()) == ["petkv.log", "petkv.starts"]  # data under the mount's host dir

    proc, client = run_pet(volume, root)
    try:
        after = client("GET", "/identity")[1]
        assert after["starts"] == 2
        assert (after["keys"], after["checksum"]) == (before["keys"], before["checksum"]) == \
            (20, petkv.checksum({k: f"v-{k}" for k in keys}))
        assert client("GET", f"/kv/{keys[0]}")[:2] == (200, f"v-{keys[0]}")
    finally:
        assert stop(proc)[0] == 0


def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    volume, root = tmp_path / "pv", tmp_path / "root"
    volume.mkdir()
    root.mkdir()
    proc, client = run_pet(volume, root)
    keys = keys_of(1, 30)
    for k in keys:
        assert client("PUT", f"/kv/{k}", "x")[0] == 200
    proc.kill()
    proc.communicate(timeout=10)
    proc, client = run_pet(volume, root)
    try:
        assert client("GET", "/kv")[1]["keys"] == {k: "x" for k in keys}
    finally:
        stop(proc)


def test_outside_kubesim_it_uses_the_literal_paths(tmp_path: Path) -> None:
    assert petkv.resolve_data_dir("/data", None) == "/data"
    mounts = json.dumps({"/data": str(tmp_path / "pv"), "/": str(tmp_path / "root")})
    assert petkv.resolve_data_dir("/data", mounts) == str(tmp_path / "pv")
    assert petkv.resolve_data_dir("/data/sub", mounts) == str(tmp_path / "pv" / "sub")
    with pytest.raises(SystemExit, match="not on a mounted volume"):
        petkv.resolve_data_dir("/data", json.dumps({"/other": "/x"}))
