"""The federation drills end to end (D9, D10, D12) on one sandbox with three member clusters.

One sandbox for the module (``kubekit.sandbox.up(clusters=3)``, profile ``instant``): the host
``sandbox`` and members ``member-us-east-1a..c``. Each drill brings its own federation
controller, workloads and namespace, and removes them. Faults are injected the real way:
a member's API server is made unreachable through the sandbox's control API, a controller dies
without releasing its Lease, pets are moved by the fenced migration. A drill whose fault has no
effect must fail; the identity auditor must flag two pods holding one pet identity.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config

from kubekit import sandbox
from kubekit.aws import Target
from kubekit.drills import base
from kubekit.drills.controllerloss import FederationControllerLoss
from kubekit.drills.grading import ABSENT_OK, ON_TIME
from kubekit.drills.identity import IdentityAuditor
from kubekit.drills.memberloss import MemberClusterLoss
from kubekit.drills.migration import PetMigration
from kubekit.timeline import Timeline
from kubesim.testing import eventually

MEMBERS = ["member-us-east-1a", "member-us-east-1b", "member-us-east-1c"]
WALL: dict[str, float] = {}


class World:
    def __init__(self, home: Path, info: sandbox.SandboxInfo) -> None:
        self.home, self.info = home, info
        self.clusters = {c: config.new_client_from_config(config_file=info.kubeconfig, context=c)
                         for c in ["sandbox", *MEMBERS]}

    def context(self, **params: Any) -> base.DrillContext:
        """A drill context over the shared clients (connecting runs the EKS token plugin: once per module)."""
        return base.DrillContext(clusters=dict(self.clusters), target=Target("sandbox", home=str(self.home)),
                                 ledger_rate=10.0, params=params)

    def core(self, name: str) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.clusters[name])


@pytest.fixture(scope="module")
def fedsandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("fed-drills-home")
    info = sandbox.up(home=home, profile="instant", clusters=3, timeout=180)
    w = World(home, info)
    try:
        yield w
    finally:
        for api in w.clusters.values():
            api.close()
        sandbox.down(home=home)
        if WALL:
            print("drill wall times: " + ", ".join(f"{k} {v:.1f} s" for k, v in WALL.items()))


def run(drill: base.Drill, ctx: base.DrillContext, **params: Any) -> base.DrillResult:
    t = time.monotonic()
    res = base.run(drill, ctx, params, grade_slack=1.0)
    WALL[drill.name] = time.monotonic() - t
    return res


def entry(res: base.DrillResult, what: str, object: str | None = None, **fields: Any) -> Any:
    """The first entry of a kind since T0 for exactly this object (``Timeline.first`` matches prefixes)."""
    assert res.timeline is not None
    for e in res.timeline.entries(what=what, since=res.t0):
        if (object is None or e.object == object) and all(e.fields.get(k) == v for k, v in fields.items()):
            return e
    raise AssertionError(f"no {what} {object or ''} {fields} in the timeline")


def test_member_cluster_loss(fedsandbox: World) -> None:
    res = run(MemberClusterLoss(), fedsandbox.context())
    assert res.passed, res.table()
    lost, ns = "member-us-east-1b", res.state["world"].ns
    assert res.state["lost"] == lost
    v = res.verdicts("fault")
    assert v[f"member-offline:{lost}"] == ON_TIME
    assert v[f"failover:{ns}/web"] == ON_TIME and v[f"redivided:{ns}/web"] == ON_TIME
    assert v[f"no-failover:{ns}/statefulset-kv"] == ABSENT_OK
    assert v["pet-stays:kv-2"] == ABSENT_OK and v["pet-stays:kv-3"] == ABSENT_OK
    fix = res.verdicts("remediation")
    assert fix[f"member-ready:{lost}"] == ON_TIME and fix[f"purged:{ns}/web"] == ON_TIME
    # Offline within failureThreshold x period + timeout (3 x 1 s + 1 s), each decision on the timeline
    offline = entry(res, "MemberOffline", object=f"membercluster/{lost}")
    assert offline.source == "federation" and offline.time - res.t0 <= 3 * 1 + 1 + 1.5
    started = entry(res, "FailoverStarted", object=f"federatedworkload/{ns}/web")
    assert offline.time <= started.time and "member-us-east-1b is Offline" in started.detail
    assert entry(res, "api-unreachable", object=f"cluster/{lost}").cluster == lost
    assert res.timeline.first("identity-duplicated") is None
    names = {c.name: c for c in res.checks}
    assert names["kv-2, kv-3 not recreated in another member"].passed
    assert names["no duplicated web replicas after recovery"].passed
    assert names["the same StatefulSet in every member (nothing recreated)"].passed
    av = res.state["ledger_availability"]
    assert av.acknowledged > 0 and not av.overall          # the survivors' pets never failed a write
    assert {s.shard for s in av.shards} == {"kv-0", "kv-1", "kv-4", "kv-5"}
    assert res.journal()["status"] == "completed"


def test_federation_controller_loss(fedsandbox: World) -> None:
    res = run(FederationControllerLoss(), fedsandbox.context())
    assert res.passed, res.table()
    ns = res.state["world"].ns
    v = res.verdicts("fault")
    assert v["lease-expired"] == ON_TIME and v["leader-elected"] == ON_TIME
    assert v[f"propagated:{ns}/web"] == ON_TIME and v[f"drift-repaired:{ns}/web"] == ON_TIME
    assert v["nothing-deleted"] == ABSENT_OK
    expired = entry(res, "lease-expired")
    elected = entry(res, "LeaderElected")
    repaired = entry(res, "DriftRepaired", object=f"federatedworkload/{ns}/web")
    assert expired.time <= elected.time + 0.05 <= repaired.time + 0.05
    assert res.state["new_identity"] in elected.detail and res.state["old_identity"] in elected.detail
    # Lease expiry ~ its duration (2 s in instant) after the crash, not at once
    assert 2 * 2 / 3 - 0.5 <= expired.time - res.t0 <= 2 + 1.0
    names = {c.name: c for c in res.checks}
    assert names["nothing propagated while no controller ran"].passed
    assert names["data plane unaffected: no failed write"].passed
    assert names["the same member objects (nothing recreated)"].passed


def test_pet_migration(fedsandbox: World) -> None:
    res = run(PetMigration(), fedsandbox.context())
    assert res.passed, res.table()
    mig = res.state["migration"]
    assert [r.step.action for r in mig.records] == ["pin", "shrink-source", "wait-gone", "export", "import",
                                                    "move-boundary", "wait-ready", "verify", "release-claim"]
    assert mig.ok and mig.plan.pets() == ["kv-1"] and [mig.plan.source, mig.plan.dest] == MEMBERS[:2]
    assert len(mig.exported[1]) >= 5, "the ledger wrote to kv-1 before it moved (warmup_keys)"
    # the pet was gone from the source before the destination's was created, with the data handed over
    gone = entry(res, "pod-deleted", object=f"pod/{res.state['world'].ns}/kv-1")
    created = entry(res, "pod-created", object=f"pod/{res.state['world'].ns}/kv-1")
    assert gone.cluster == MEMBERS[0] and created.cluster == MEMBERS[1] and gone.time < created.time
    assert entry(res, "migration-move-boundary-done").time < created.time + 0.5
    av = res.state["ledger_availability"]
    assert [s.shard for s in av.shards if s.outages] == ["kv-1"]
    assert res.state["ledger_verification"].rpo == 0 and av.recovered
    assert 0 < res.state["unavailable_s"][1] < 60


class MigrationWithoutEffect(PetMigration):
    """The same drill, but its "migration" moves nothing: a drill that cannot fail is a defect."""

    name = "pet-migration-no-effect"

    def inject(self, ctx: base.DrillContext) -> str:
        ctx.t0 = time.time()
        return "nothing moved"


def test_a_migration_without_effect_fails_verification(fedsandbox: World) -> None:
    res = base.run(MigrationWithoutEffect(), fedsandbox.context())
    assert not res.passed and res.status == "failed"
    failed = {c.name for c in res.failed_checks}
    assert "the fault took effect: kv-1 now in member-us-east-1b" in failed
    assert "every migration step succeeded" in failed and "the slices are what the plan said" in failed
    assert "identity: at most one pod per pet, across clusters" not in failed


def test_a_failed_migration_step_rolls_back(fedsandbox: World) -> None:
    """A claim appears in the destination while kv-1 is being exported: import refuses, kv-1 goes back home."""
    ns = f"drill-rollback-{uuid.uuid4().hex[:5]}"
    stale = {"metadata": {"name": "data-kv-1"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}

    def progress(text: str) -> None:
        if text.startswith("[4/9] export"):
            fedsandbox.core(MEMBERS[1]).create_namespaced_persistent_volume_claim(ns, stale)

    ctx = fedsandbox.context(namespace=ns)
    ctx.progress = progress
    res = base.run(PetMigration(), ctx)
    assert not res.passed
    mig = res.state["migration"]
    assert [(r.step.action, r.status) for r in mig.records][-2:] == [("export", "succeeded"), ("import", "failed")]
    assert "AlreadyExists" in mig.records[-1].detail or "409" in mig.records[-1].detail
    assert mig.rollback == [f"slices restored: kv-1 back in {MEMBERS[0]}"]   # the claim it did not make is kept
    failed = {c.name for c in res.failed_checks}
    assert failed == {"every migration step succeeded", "the fault took effect: kv-1 now in member-us-east-1b",
                      "the slices are what the plan said", "the old claims released in member-us-east-1a",
                      "the moved pets' data handed over (exported = imported checksums, all keys held)"}
    took = next(c for c in res.checks if c.name.startswith("the fault took effect"))
    assert f"{MEMBERS[0]}: kv-0, kv-1" in took.detail                      # back in the source, on its own claim
    assert res.state["ledger_verification"].rpo == 0 and res.state["ledger_availability"].recovered


def test_auditor_flags_two_pods_holding_one_identity(fedsandbox: World) -> None:
    ns = f"dup-{uuid.uuid4().hex[:5]}"
    a, b = MEMBERS[0], MEMBERS[2]
    pod = {"metadata": {"name": "", "labels": {"app": "dup"}},
           "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
                    "terminationGracePeriodSeconds": 0}}
    for m in (a, b):
        fedsandbox.core(m).create_namespace({"metadata": {"name": ns}})
    tl = Timeline()
    aud = IdentityAuditor({m: fedsandbox.clusters[m] for m in (a, b)}, namespace=ns, sets=["dup"], interval=0.05,
                          timeline=tl).start()
    try:
        # dup-1 moves the right way: gone from a before it exists in b (no violation)
        fedsandbox.core(a).create_namespaced_pod(ns, {**pod, "metadata": {**pod["metadata"], "name": "dup-1"}})
        eventually("dup-1 seen in a", lambda: aud.holders().get("dup-1") == [a], timeout=10)
        fedsandbox.core(a).delete_namespaced_pod("dup-1", ns, grace_period_seconds=0)
        eventually("dup-1 gone from a", lambda: "dup-1" not in aud.holders(), timeout=10)
        fedsandbox.core(b).create_namespaced_pod(ns, {**pod, "metadata": {**pod["metadata"], "name": "dup-1"}})
        eventually("dup-1 seen in b", lambda: aud.holders().get("dup-1") == [b], timeout=10)
        assert not aud.violations and aud.check().passed
        # dup-0 in both at once: the deliberate duplicate
        for m in (a, b):
            fedsandbox.core(m).create_namespaced_pod(ns, {**pod, "metadata": {**pod["metadata"], "name": "dup-0"}})
        eventually("the duplicate flagged", lambda: aud.violations, timeout=10)
    finally:
        aud.stop()
        for m in (a, b):
            fedsandbox.core(m).delete_namespace(ns)
    vs = aud.violations
    assert [v.identity for v in vs] == [(ns, "dup", 0)]
    assert {vs[0].a.cluster, vs[0].b.cluster} == {a, b}
    check = aud.check()
    assert not check.passed and f"{ns}/dup-0" in check.detail
    e = tl.first("identity-duplicated")
    assert e is not None and e.source == "identity-auditor" and e.object == f"pod/{ns}/dup-0"


def test_catalogue_names() -> None:
    cat = base.catalogue()
    for name, cid in (("member-cluster-loss", "D9"), ("federation-controller-loss", "D10"), ("pet-migration", "D12")):
        assert cat[name].catalogue_id == cid and base.get(cid) is cat[name]
        assert all(p.name != "member" or p.default == "" for p in cat[name].params)  # runnable with defaults
