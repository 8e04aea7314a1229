"""The guard of the stuck-pet remedy: which proof allows which step (a table of node and instance states)."""

from __future__ import annotations

import pytest

from kubekit.drills import remedy


def diagnosis(terminating: bool = True, node_exists: bool = True, ready: str = "Unknown",
              instance: str = "stopped") -> remedy.Diagnosis:
    return remedy.Diagnosis("ns", "kv-0", "uid-1", terminating, "node-a", node_exists, ready if node_exists else "",
                            (), "i-0123456789abcdef0", instance, ("data-kv-0",))


@pytest.mark.parametrize("kwargs, verdict", [
    ({"terminating": False}, remedy.NOT_STUCK),
    ({"node_exists": False, "instance": "missing"}, remedy.NODE_GONE),        # Node deleted
    ({"instance": "terminated"}, remedy.NODE_GONE),                          # instance gone, Node not yet
    ({"instance": "stopped"}, remedy.NODE_SHUT_DOWN),                        # the out-of-service case
    ({"instance": "running"}, remedy.NODE_UNPROVEN),                         # a partition: the pet may still write
    ({"instance": "unknown"}, remedy.NODE_UNPROVEN),                         # no AWS access: nothing proven
    ({"ready": "True", "instance": "running"}, remedy.NODE_READY),
    ({"ready": "True", "instance": "stopped"}, remedy.NODE_READY),           # Ready wins: the kubelet answers
])
def test_each_state_allows_at_most_one_remedy(kwargs: dict, verdict: str) -> None:
    d = diagnosis(**kwargs)
    assert d.verdict == verdict
    assert d.node_gone == (verdict == remedy.NODE_GONE)
    assert d.shutdown_verified == (verdict == remedy.NODE_SHUT_DOWN)
    assert not (d.node_gone and d.shutdown_verified)
    assert d.verdict in d.table() and d.advice()
