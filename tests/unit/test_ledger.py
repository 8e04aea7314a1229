"""The write ledger against an in-memory store that fails when told to (deterministic clock)."""

from __future__ import annotations

import threading
import time

import pytest

from kubekit.errors import KitError
from kubekit.drills.ledger import Ledger, Outage, Write, availability, outages, union


class Store:
    """A sharded KV: shard = key number % 3; ``down`` shards refuse writes; ``lose`` drops acked keys."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.down: set[int] = set()

    @staticmethod
    def shard_of(key: str) -> int:
        return int(key[1:]) % 3

    def write(self, key: str, value: str) -> None:
        if self.shard_of(key) in self.down:
            raise ConnectionError(f"shard {self.shard_of(key)} unavailable")
        self.data[key] = value

    def read(self, key: str) -> str | None:
        return self.data.get(key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.05  # every reading advances: start and end of a write differ
        return self.now


def test_rto_per_shard_and_overall_and_rpo_per_shard() -> None:
    store, clock = Store(), Clock()
    ledger = Ledger(store.write, store.read, shard_of=store.shard_of, clock=clock)
    for i in range(1, 61):
        if i == 10:
            store.down = {1}
        if i == 31:
            store.down = set()
        ledger.write_once()
    av = ledger.availability()
    assert av.attempts == 60
    assert av.failed == len([i for i in range(10, 31) if i % 3 == 1]) == 7
    s1 = av.shard("1")
    assert len(s1.outages) == 1 and s1.outages[0].recovered and s1.outages[0].failed_writes == 7
    # from the first failed write (k10) to the first acknowledged write after it (k31)
    w = {x.key: x for x in ledger.writes}
    assert s1.outages[0].start == w["k000010"].start and s1.outages[0].end == w["k000031"].end
    assert av.shard("0").rto is None and av.shard("2").outages == ()
    assert av.rto == pytest.approx(s1.rto)
    assert av.full == tuple(o for o in outages(ledger.writes))  # every failed write is its own full window here
    assert av.recovered
    assert av.errors == {"ConnectionError: shard 1 unavailable": 7}
    assert av.throughput > 0 and av.latency_p50 is not None
    # the store loses two acknowledged writes of shard 2 and garbles one of shard 0
    del store.data["k000005"], store.data["k000008"]
    store.data["k000003"] = "something else"
    ver = ledger.verify()
    assert ver.checked == 53 and ver.rpo == 3 and not ver.ok
    assert set(ver.lost) == {"k000005", "k000008"} and ver.wrong == ("k000003",)
    by = {s.shard: s for s in ver.shards}
    assert by["2"].rpo == 2 and by["0"].rpo == 1 and by["1"].rpo == 0
    assert "rpo" in ver.table().splitlines()[0].lower()
    assert "overall" in av.table()


def test_an_outage_still_open_at_the_end_is_not_recovered() -> None:
    store, clock = Store(), Clock()
    ledger = Ledger(store.write, store.read, clock=clock)
    for i in range(1, 11):
        if i == 6:
            store.down = {0, 1, 2}
        ledger.write_once()
    av = ledger.availability()
    assert not av.recovered and av.overall[0].recovered is False and av.overall[0].failed_writes == 5
    assert av.shards[0].shard == "*"  # no shard function: one shard
    assert ledger.verify().ok


def test_unreadable_keys_are_reported_not_counted_as_lost() -> None:
    store, clock = Store(), Clock()
    ledger = Ledger(store.write, store.read, clock=clock)
    for _ in range(3):
        ledger.write_once()

    def flaky(key: str) -> str | None:
        if key == "k000002":
            raise TimeoutError("read timed out")
        return store.read(key)

    ver = ledger.verify(flaky)
    assert ver.rpo == 0 and ver.unreadable == ("k000002",) and not ver.ok
    assert ver.errors == {"TimeoutError: read timed out": 1}


def test_union_merges_overlapping_windows() -> None:
    a, b, c = Outage(0, 5, True, 2), Outage(3, 8, False, 1), Outage(10, 11, True, 1)
    merged = union([c, a, b])
    assert merged == (Outage(0, 8, False, 3), Outage(10, 11, True, 1))


def test_availability_of_recorded_writes() -> None:
    ws = [Write(1, "a", "v", "s", 0.0, 0.1, True), Write(2, "b", "v", "s", 1.0, 1.5, False, "E"),
          Write(3, "c", "v", "s", 2.0, 2.2, True)]
    av = availability(ws)
    assert av.rto == pytest.approx(1.2) and av.overall == (Outage(1.0, 2.2, True, 1),)
    d = av.to_dict(t0=0.0)
    assert d["rto"] == 1.2 and d["shards"][0]["outages"][0]["start"] == 1.0


def test_background_writing_at_a_rate_and_stop() -> None:
    store = Store()
    lock = threading.Lock()

    def write(k: str, v: str) -> None:
        with lock:
            store.write(k, v)

    ledger = Ledger(write, store.read).start(rate=100)
    with pytest.raises(KitError, match="already running"):
        ledger.start()
    time.sleep(0.3)
    ledger.stop()
    n = len(ledger.writes)
    assert 10 <= n <= 40
    time.sleep(0.05)
    assert len(ledger.writes) == n and not ledger.running
    assert ledger.verify().ok and ledger.availability().acknowledged == n
    assert len(ledger.to_dict()["writes"]) == n


def test_wait_recovered_returns_once_a_failed_shard_writes_again() -> None:
    store = Store()
    store.down.add(1)
    ledger = Ledger(store.write, store.read, shard_of=Store.shard_of).start(rate=200)
    try:
        time.sleep(0.1)
        assert not ledger.wait_recovered(0.1)  # shard 1 is still refusing
        threading.Timer(0.1, store.down.clear).start()
        assert ledger.wait_recovered(10.0)
    finally:
        ledger.stop()
    assert ledger.availability().recovered and ledger.availability().shard("1").outages


def test_wait_recovered_gives_up_after_its_timeout() -> None:
    store = Store()
    store.down.add(2)
    ledger = Ledger(store.write, store.read, shard_of=Store.shard_of).start(rate=200)
    try:
        time.sleep(0.1)  # shard 2 has failed by now
        start = time.monotonic()
        assert not ledger.wait_recovered(0.3)
        assert time.monotonic() - start >= 0.3
    finally:
        ledger.stop()
    assert not ledger.availability().recovered
