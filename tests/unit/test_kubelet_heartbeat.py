"""Node status and Lease heartbeats run apart from the kubelet's pod work (base.Heartbeats).

Upstream the kubelet renews its Lease from the node lease controller's own goroutine
(k8s.io/component-helpers/apimachinery/lease/controller.go ``Run``: ``wait.JitterUntil(c.sync,
c.renewInterval, ...)``, started by pkg/kubelet/kubelet.go ``kl.nodeLeaseController.Run``) and
syncs its node status from another (``go wait.JitterUntil(kl.syncNodeStatus,
kl.nodeStatusUpdateFrequency, ...)``): no pod worker can delay a renewal. These tests start real
kubelets (in-memory store, ``FakeRuntime``, profile ``instant``: a renewal every 0.1 s) and watch
the Lease writes in the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from kubesim.api import Api, Request
from kubesim.controllers.base import ControllerContext, Heartbeats, WorkerPool
from kubesim.controllers.kubelet import LEASE_NAMESPACE, Kubelet
from kubesim.controllers.kubelet_testing import FakeRuntime
from kubesim.resources import Registry
from kubesim.schemas import SchemaSet
from kubesim.store import Store
from kubesim.testing import eventually
from kubesim.timings import for_profile

NODE = "n1"
RENEW = for_profile("instant").get("lease_renew")  # 0.1 s
GRACE = for_profile("instant").get("node_monitor_grace")  # 0.5 s: a longer gap makes the node Unknown


# -- Heartbeats on its own -------------------------------------------------------------------
def wait_until(pred: Callable[[], Any], timeout: float = 3.0) -> Any:
    return eventually("the heartbeat condition", pred, timeout=timeout, interval=0.005)


@pytest.mark.parametrize("returns,want_calls,want_pending", [
    ([0.01, 0.01, None], 3, set()),      # None stops the timer and forgets the key
    ([0.01] * 50, 5, {"k"}),             # still armed while it asks for more
])
def test_heartbeats_call_until_told_to_stop(returns, want_calls, want_pending):
    hb = Heartbeats("t-hb")
    calls: list[float] = []

    def fn():
        calls.append(time.monotonic())
        return returns[len(calls) - 1]

    try:
        hb.schedule("k", fn, 0.0)
        wait_until(lambda: len(calls) >= want_calls)
        time.sleep(0.05)
        if want_pending:
            hb.cancel("k")
        else:
            assert len(calls) == want_calls
            assert hb.pending() == set()
    finally:
        hb.close()
    assert not hb._thread.is_alive()  # close joined it


def test_heartbeats_rearm_replaces_the_due_time_and_an_error_is_retried(monkeypatch):
    monkeypatch.setattr(Heartbeats, "RETRY_AFTER_ERROR", 0.02)
    hb = Heartbeats("t-hb")
    seen: list[str] = []

    def failing():
        seen.append("fail")
        if seen.count("fail") == 1:
            raise RuntimeError("boom")
        return None

    try:
        hb.schedule("a", lambda: seen.append("a-late") or None, 5.0)
        hb.schedule("a", lambda: seen.append("a") or None, 0.0)  # re-armed: the 5 s call is gone
        hb.schedule("b", failing, 0.0)
        wait_until(lambda: "a" in seen and seen.count("fail") == 2)
        assert hb.pending() == set()
        assert "a-late" not in seen
    finally:
        hb.close()


def test_heartbeats_cancel_waits_for_a_call_in_progress_and_close_stops_everything():
    hb = Heartbeats("t-hb")
    inside = threading.Event()
    calls: list[float] = []

    def slow():
        inside.set()
        time.sleep(0.2)
        calls.append(time.monotonic())
        return 0.0

    hb.schedule("slow", slow, 0.0)
    assert inside.wait(2)
    hb.cancel("slow")
    assert len(calls) == 1  # returned only after the call in progress ended ...
    time.sleep(0.1)
    assert len(calls) == 1  # ... and nothing of it runs afterwards
    hb.close()
    assert not hb._thread.is_alive()
    hb.schedule("late", lambda: calls.append(0.0), 0.0)  # after close: ignored, no thread
    time.sleep(0.05)
    assert len(calls) == 1 and hb.pending() == set()


def test_a_pool_thread_runs_due_heartbeats_but_never_a_key_twice_at_once():
    """``run_due`` (what a pool thread does before its next item) runs what is due; a key re-armed while
    its previous call is still running waits for that call instead of running beside it."""
    hb = Heartbeats("t-hb")
    inside = threading.Event()
    release = threading.Event()
    log: list[tuple[str, str]] = []

    def slow():
        log.append(("slow", threading.current_thread().name))
        inside.set()
        release.wait(2)
        return None

    try:
        hb.schedule("k", slow, 0.0)
        assert inside.wait(2)
        hb.schedule("k", lambda: log.append(("again", threading.current_thread().name)) or None, 0.0)
        hb.schedule("other", lambda: log.append(("other", threading.current_thread().name)) or None, 0.0)
        assert hb.run_due() == 1  # "other" ran here; "k" waits for its running call
        assert log[-1] == ("other", threading.current_thread().name)
        release.set()
        wait_until(lambda: any(what == "again" for what, _ in log))
        assert [what for what, _ in log] == ["slow", "other", "again"]
        assert hb.pending() == set()
    finally:
        release.set()
        hb.close()


# -- kubelets ------------------------------------------------------------------------------
class Node:
    """One registered Node, its kubelet, and the times its Lease was written."""

    def __init__(self, mode: str) -> None:
        self.api = Api(Store(), Registry(), SchemaSet("1.33"))
        for ns in ("default", LEASE_NAMESPACE):
            self.api.create(self.api.rt("namespaces"), None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                            Request(field_manager="t"))
        self.api.create(self.api.rt("nodes"), None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}},
                        Request(field_manager="t"))
        self.ctx = ControllerContext(api=self.api, timings=for_profile("instant"))
        self.pool = self.heartbeats = None
        if mode == "pool+heartbeats":  # as kubesim.cluster wires it
            self.heartbeats = self.ctx.extra["kubelet_heartbeats"] = Heartbeats("t-hb", store=self.api.store)
        if mode in ("pool", "pool+heartbeats"):  # one pool thread: the pod items and the kubelet's timers share it
            kw = {} if self.heartbeats is None else {"heartbeats": self.heartbeats}
            self.pool = self.ctx.extra["kubelet_pool"] = WorkerPool("t-pool", threads=1, store=self.api.store, **kw)
        self.renewals: list[float] = []
        self._sub = self.api.store.subscribe("coordination.k8s.io/leases", LEASE_NAMESPACE, None, self._seen)
        self.kubelet = Kubelet(self.ctx, NODE, FakeRuntime(self.ctx, NODE))

    def _seen(self, ev: Any) -> None:
        if ev.entry.name == NODE and ev.type != "DELETED":
            self.renewals.append(time.monotonic())

    def start(self) -> "Node":
        self.kubelet.start()
        assert self.kubelet.booted.wait(5), "kubelet did not boot"
        return self

    def renewed_between(self, t0: float, t1: float) -> list[float]:
        return [t for t in self.renewals if t0 <= t <= t1]

    def close(self) -> None:
        self.kubelet.stop()
        if self.heartbeats is not None:
            self.heartbeats.close()
        if self.pool is not None:
            self.pool.close()
        self._sub.close()


@pytest.fixture
def node_of():
    made: list[Node] = []

    def make(mode: str = "pool+heartbeats") -> Node:
        n = Node(mode)
        made.append(n)
        return n.start()

    yield make
    for n in made:
        n.close()


MODES = ["own thread", "pool", "pool+heartbeats"]


@pytest.mark.parametrize("mode", MODES)
def test_renewals_keep_their_period_while_the_pod_queue_is_flooded(node_of, mode):
    """Sixty pod items of 50 ms each, due before the next renewal and re-queued at once: ~3 s of pod
    work. With the Lease a timer in the same queue (served earliest due first) it waited behind all of
    them and the node would have gone Unknown; on its own thread it keeps its 0.1 s period."""
    n = node_of(mode)
    k = n.kubelet

    def slow_pod(ns: str, name: str) -> float:
        time.sleep(0.05)
        return 0.0  # due again at once: the queue never drains

    k._sync_key = slow_pod  # type: ignore[method-assign]
    for i in range(60):
        k.enqueue(("pod", "default", f"p{i}"))
    t0 = time.monotonic()
    time.sleep(1.5)
    t1 = time.monotonic()
    seen = [t0, *n.renewed_between(t0, t1), t1]
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert max(gaps) < GRACE * 0.8, f"a {max(gaps):.2f}s gap between Lease renewals (period {RENEW}s)"
    assert len(seen) - 2 >= 0.5 * (t1 - t0) / RENEW  # on schedule, give or take a busy machine


FAULTS = {
    # fault: (apply, undo)
    "kubelet powered off": (lambda n: n.ctx.faults.set_kubelet(NODE, False),
                            lambda n: n.ctx.faults.set_kubelet(NODE, True)),
    "partitioned from the API server": (lambda n: n.ctx.faults.set_partitioned(NODE, True),
                                        lambda n: n.ctx.faults.set_partitioned(NODE, False)),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("mode", MODES)
def test_no_renewal_while_the_kubelet_cannot_post_and_renewals_resume_after(node_of, mode, fault):
    n = node_of(mode)
    apply, undo = FAULTS[fault]
    assert wait_until(lambda: len(n.renewals) >= 2)  # the boot's renewal, then the timer's
    apply(n)
    time.sleep(0.15)  # a renewal already under way may still land
    t0 = time.monotonic()
    time.sleep(0.5)
    assert n.renewed_between(t0, time.monotonic()) == []
    undo(n)
    t1 = time.monotonic()
    wait_until(lambda: n.renewed_between(t1, time.monotonic()))
    assert wait_until(lambda: len(n.renewed_between(t1, time.monotonic())) >= 3)  # and on schedule again


@pytest.mark.parametrize("mode", MODES)
def test_a_stopped_kubelet_renews_nothing_and_leaves_no_timer(node_of, mode):
    n = node_of(mode)
    assert wait_until(lambda: len(n.renewals) >= 2)
    n.kubelet.stop()
    t0 = time.monotonic()  # stop() waited for a renewal under way
    time.sleep(0.4)
    assert n.renewed_between(t0, time.monotonic()) == []
    hb = n.kubelet._heartbeats
    assert hb is not None and not {key for key in hb.pending() if key[0] is n.kubelet}
    if mode != "pool+heartbeats":  # the kubelet's own heartbeat thread ends with it
        assert not hb._thread.is_alive()


def test_a_reboot_renews_at_boot_and_rearms_once(node_of):
    """Power off then on: no timer runs while off; the boot renews at once and re-arms both timers."""
    n = node_of()
    k = n.kubelet
    assert wait_until(lambda: len(n.renewals) >= 2)
    n.ctx.faults.set_kubelet(NODE, False)
    wait_until(lambda: not k.up)
    assert not {key for key in n.heartbeats.pending() if key[0] is k}  # disarmed with the power
    k.booted.clear()
    t1 = time.monotonic()
    n.ctx.faults.set_kubelet(NODE, True)
    assert k.booted.wait(5)
    wait_until(lambda: n.renewed_between(t1, time.monotonic()))
    assert {key for key in n.heartbeats.pending() if key[0] is k} == {(k, "node"), (k, "lease")}
