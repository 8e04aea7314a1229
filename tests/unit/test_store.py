"""The store: one revision counter, optimistic concurrency, watch history, persistence."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from kubesim.store import Exists, Missing, StaleResourceVersion, Store, TooOld


def obj(name, **labels):
    return {"metadata": {"name": name, "namespace": "default", "labels": labels}}


def test_every_write_gets_the_next_global_revision():
    s = Store()
    a = s.create("pods", "default", "a", obj("a"))
    b = s.create("configmaps", "default", "b", obj("b"))
    c = s.update("pods", "default", "a", obj("a", x="1"))
    assert (a.rv, b.rv, c.rv) == (1, 2, 3)
    assert json.loads(c.raw)["metadata"]["resourceVersion"] == "3"
    assert s.resource_version == 3


def test_create_twice_and_stale_update_are_refused():
    s = Store()
    e = s.create("pods", "default", "a", obj("a"))
    with pytest.raises(Exists):
        s.create("pods", "default", "a", obj("a"))
    s.update("pods", "default", "a", obj("a", v="2"), expect_rv=e.rv)
    with pytest.raises(StaleResourceVersion):
        s.update("pods", "default", "a", obj("a", v="3"), expect_rv=e.rv)
    with pytest.raises(Missing):
        s.update("pods", "default", "zz", obj("zz"))


def test_list_is_sorted_bytewise_like_etcd_keys():
    s = Store()
    for n in ["web-2", "web-10", "web-1"]:
        s.create("pods", "default", n, obj(n))
    names = [e.name for e in s.list("pods")[0]]
    assert names == ["web-1", "web-10", "web-2"]


def test_list_order_kept_across_updates_matches_a_fresh_sort():
    """The cached LIST order (updated in place, dropped on create/delete) is what a fresh sort gives."""
    import random

    rng = random.Random(7)
    s = Store()
    names = set()
    for step in range(400):
        op = rng.choice(["create", "update", "update", "update", "delete", "list"])
        n = f"p-{rng.randrange(40)}"
        ns = rng.choice(["a", "b", "caf\u00e9"])
        if op == "create" and (ns, n) not in names:
            s.create("pods", ns, n, obj(n))
            names.add((ns, n))
        elif op == "update" and (ns, n) in names:
            s.update("pods", ns, n, obj(n, step=str(step)))
        elif op == "delete" and (ns, n) in names:
            s.delete("pods", ns, n)
            names.discard((ns, n))
        entries, rv = s.list("pods")
        assert rv == s.resource_version
        want = sorted(names, key=lambda k: (k[0].encode(), k[1].encode()))
        assert [(e.namespace, e.name) for e in entries] == want
        # every entry is the current revision of its object
        assert all(e is s.get("pods", e.namespace, e.name) for e in entries)
        assert [e.name for e in s.list("pods", "b")[0]] == [k[1] for k in want if k[0] == "b"]


def test_reads_are_private_copies():
    s = Store()
    s.create("pods", "default", "a", obj("a"))
    got = s.get("pods", "default", "a").obj()
    got["metadata"]["name"] = "mutated"
    assert s.get("pods", "default", "a").obj()["metadata"]["name"] == "a"


def test_watch_resumes_from_history_and_expires_when_compacted():
    s = Store(history=3)
    for i in range(5):
        s.create("pods", "default", f"p{i}", obj(f"p{i}"))
    seen = []
    s.subscribe("pods", None, 3, seen.append)
    assert [e.rv for e in seen] == [4, 5]
    with pytest.raises(TooOld):
        s.subscribe("pods", None, 1, seen.append)
    s.create("pods", "default", "late", obj("late"))
    assert seen[-1].rv == 6 and seen[-1].type == "ADDED"


def test_delete_event_carries_final_state_and_prev():
    s = Store()
    s.create("pods", "default", "a", obj("a", app="web"))
    events = []
    s.subscribe(None, None, None, events.append)
    s.delete("pods", "default", "a")
    assert events[0].type == "DELETED"
    assert events[0].prev.labels == {"app": "web"}
    assert s.get("pods", "default", "a") is None


def test_persisted_state_survives_sigkill(tmp_path):
    state = tmp_path / "state"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.abspath('lib')!r})
        from kubesim.store import Store
        s = Store({str(state)!r})
        for i in range(50):
            s.create("pods", "default", f"p{{i}}", {{"metadata": {{"name": f"p{{i}}", "uid": f"u{{i}}"}}}})
        s.update("pods", "default", "p0", {{"metadata": {{"name": "p0", "uid": "u0"}}, "spec": 1}})
        print("done", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.getcwd())
    assert proc.returncode == -9 and "done" in proc.stdout
    s = Store(str(state))
    assert s.count("pods") == 50
    assert s.resource_version == 51
    p0 = s.get("pods", "default", "p0").obj()
    assert p0["spec"] == 1 and p0["metadata"]["resourceVersion"] == "51" and p0["metadata"]["uid"] == "u0"
    # History does not survive a restart: resuming from before it must relist (410).
    with pytest.raises(TooOld):
        s.subscribe("pods", None, 10, lambda e: None)
