"""Pure parts of the federation drills: the identity auditor's overlap rule and the expected federation timelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from kubekit.drills import expect as ex
from kubekit.drills.grading import ABSENT_OK, LATE, MISSING, ON_TIME, UNEXPECTED, grade
from kubekit.drills.identity import Sighting, identity_of, overlaps

ID = ("fed", "kv", 1)


def pod(name: str, owner: str | None = "kv", ns: str = "fed") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [{"kind": "StatefulSet", "name": owner}]
    return {"metadata": meta}


@pytest.mark.parametrize("obj,sets,want", [
    (pod("kv-1"), None, ("fed", "kv", 1)),
    (pod("kv-1", owner=None), ["kv"], ("fed", "kv", 1)),       # a bare pod named like a pet holds its identity
    (pod("kv-1", owner=None), None, None),
    (pod("kv-1-export", owner=None), ["kv"], None),             # migration helpers hold none
    (pod("web-7d9c-x2"), None, None),
    (pod("kv-1"), ["other"], None),
])
def test_identity_of(obj: dict[str, Any], sets: list[str] | None, want: Any) -> None:
    assert identity_of(obj, sets) == want


@pytest.mark.parametrize("a,b,violations", [
    (("x", "u1", 0.0, 1.0), ("y", "u2", 1.5, 2.0), 0),   # a handover: gone before the other appears
    (("x", "u1", 0.0, 1.0), ("y", "u2", 0.9, 2.0), 1),   # both at 0.9..1.0
    (("x", "u1", 0.0, 1.0), ("x", "u2", 1.2, 2.0), 0),   # a pet recreated in its own cluster
    (("x", "u1", 0.0, 1.0), ("x", "u1", 0.5, 2.0), 0),   # the same pod seen twice
])
def test_overlaps(a: tuple[str, str, float, float], b: tuple[str, str, float, float], violations: int) -> None:
    got = overlaps([Sighting(ID, a[0], "kv-1", a[1], a[2], a[3]), Sighting(ID, b[0], "kv-1", b[1], b[2], b[3])])
    assert len(got) == violations
    if got:
        assert (got[0].start, got[0].end) == (0.9, 1.0) and "fed/kv-1" in got[0].describe()


@dataclass
class E:
    time: float
    what: str
    object: str = ""
    source: str = "federation"
    cluster: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


P = ex.Profile("instant", 0.01)


def test_member_loss_windows_come_from_the_health_check() -> None:
    f = ex.FederationFault(ex.MEMBER_LOSS, "b", divided=("ns/web",), stateful=("ns/kv",), pets=("ns/kv-2",),
                           period_s=1, timeout_s=1, failure_threshold=3, resync_s=0.2)
    exp = ex.expected_federation(f, P)
    off = exp.phase("member-offline:b")
    assert off.window == (2.0, 4.0) and off.upstream == (20.0, 33.0)     # KubeFed 10 s x 3 + 3 s
    assert "failureThreshold 3" in off.cites and "kubefed" in off.cites and "karmada" in off.cites
    assert exp.phase("no-failover:ns/kv").expect == "absent" and exp.phase("pet-stays:kv-2").expect == "absent"
    t0 = 100.0
    ok = [E(t0 + 3.1, "MemberOffline", "membercluster/b"), E(t0 + 3.3, "FailoverStarted", "federatedworkload/ns/web"),
          E(t0 + 3.5, "Updated", "federatedworkload/ns/web")]
    g = grade(exp, ok, t0, end=t0 + 10, slack=0.2)
    assert g.verdicts() == {"member-offline:b": ON_TIME, "failover:ns/web": ON_TIME, "redivided:ns/web": ON_TIME,
                            "no-failover:ns/kv": ABSENT_OK, "pet-stays:kv-2": ABSENT_OK}
    bad = [E(t0 + 9.0, "MemberOffline", "membercluster/b"), E(t0 + 9.1, "pod-created", "pod/ns/kv-2", "sts")]
    v = grade(exp, bad, t0, end=t0 + 10, slack=0.2).verdicts()
    assert v["member-offline:b"] == LATE and v["failover:ns/web"] == MISSING and v["pet-stays:kv-2"] == UNEXPECTED


def test_restore_and_purge_modes() -> None:
    never = ex.expected_federation(ex.FederationFault(ex.MEMBER_RESTORE, "b", divided=("ns/web",),
                                                      purge_mode="Never"), P)
    assert never.phase("purged:ns/web").expect == "absent"
    grace = ex.expected_federation(ex.FederationFault(ex.MEMBER_RESTORE, "b", divided=("ns/web",)), P)
    assert grace.phase("purged:ns/web").anchor == "member-ready:b" and grace.phase("eviction-done:ns/web")


def test_controller_loss_is_anchored_on_the_lease() -> None:
    exp = ex.expected_federation(ex.FederationFault(ex.CONTROLLER_LOSS, lease_duration_s=15, resync_s=1,
                                                    changed=("ns/web",), drifted=("ns/web",)), ex.Profile())
    assert exp.phase("lease-expired").window == (9.0, 15.0)
    assert exp.phase("leader-elected").anchor == "lease-expired"
    assert exp.phase("drift-repaired:ns/web").anchor == "leader-elected"
    assert exp.phase("nothing-deleted").expect == "absent"
    with pytest.raises(ex.InvalidParameter):
        ex.expected_federation(ex.FederationFault(ex.NODE_STOP), P)
