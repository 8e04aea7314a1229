"""The single-cluster drills end to end (D1 pet-kill, D2 bad-rollout, D3 node-drain, D4 node-terminate,
D7 zone-outage), each against one shared sandbox of this module, graded.

The sandbox runs the ``instant`` profile (upstream durations x 0.01: node grace 0.5 s,
tolerations 3 s, force detach 3.6 s), in a KUBEKIT_HOME of its own. Every drill deploys its
own petkv set in its own namespace and keeps the write ledger running, so each test asserts
the verdicts, the key timeline entries (each from the controller that acts) and RPO/RTO.
Drills whose fault has no effect must fail their verification; a drill that would do harm is
refused before anything is created. Tests run in file order (D4 and D7 change the nodes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from kubekit import sandbox
from kubekit.aws import Target
from kubekit.drills import base
from kubekit.drills.badrollout import BadRollout
from kubekit.drills.drain import NodeDrain
from kubekit.drills.grading import ABSENT_OK, GOOD, MISSING, ON_TIME
from kubekit.drills.nodeterminate import NodeTerminate
from kubekit.drills.petkill import PetKill
from kubekit.drills.zoneoutage import ZoneOutage

SLACK = 1.0  # wall seconds allowed around each window: watch latency and real process starts do not scale
WALL: dict[str, float] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, sandbox.SandboxInfo]]:
    home = tmp_path_factory.mktemp("drills-single-home")
    info = sandbox.up(home=home, profile="instant")
    try:
        yield home, info
    finally:
        sandbox.down(home=home)
        if WALL:
            print("\ndrill wall seconds (instant):", {k: round(v, 1) for k, v in WALL.items()})


def run(world: tuple[Path, sandbox.SandboxInfo], drill: base.Drill, params: dict[str, Any] | None = None,
        key: str = "") -> base.DrillResult:
    home, info = world
    ctx = base.DrillContext.connect(["sandbox"], kubeconfig=info.kubeconfig,
                                    target=Target("sandbox", home=str(home)))
    start = time.monotonic()
    res = base.run(drill, ctx, params, grade_slack=SLACK)
    WALL[key or drill.name] = time.monotonic() - start
    return res


def first(res: base.DrillResult, what: str, *, source: str | None = None, object: str | None = None,
          since: float | None = None, **fields: Any) -> Any:
    assert res.timeline is not None
    for e in res.timeline.entries(what=what, object=object, since=since):
        if (source is None or e.source == source) and all(e.fields.get(k) == v for k, v in fields.items()):
            return e
    raise AssertionError(f"no {what} {object or ''} {fields} in the timeline")


def passed(res: base.DrillResult) -> None:
    assert res.passed, res.table() + "\n" + str(res.state.get("traceback", ""))
    assert res.status == "completed" and not res.refused and not res.error
    assert all(c.passed for c in res.steady_after)
    ver = res.state["ledger_verification"]
    assert ver.checked > 0 and ver.rpo == 0 and not ver.unreadable   # every acknowledged write reads back


def test_the_catalogue_finds_the_single_cluster_drills() -> None:
    cat = base.catalogue()
    for name, cid in (("pet-kill", "D1"), ("bad-rollout", "D2"), ("node-drain", "D3"), ("node-terminate", "D4"),
                      ("zone-outage", "D7")):
        assert cat[name].catalogue_id == cid and base.get(cid) is cat[name]
        assert cat[name].defaults()["replicas"] == 3


# -- D1 ------------------------------------------------------------------------------------------

def test_pet_kill_same_name_same_volume_data_intact(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, PetKill())
    passed(res)
    ns, pet = res.state["namespace"], f"pod/{res.state['namespace']}/web-1"
    v = res.verdicts()
    assert v["deleted:web-1"] == ON_TIME and v["recreated:web-1"] == ON_TIME and v["pet-ready:web-1"] in GOOD | {
        "late"}
    names = {c.name: c for c in res.checks}
    for name in ("the fault took effect: a new pod for the pet", "web-1: same claim and volume",
                 "web-1: in its volume's zone", "the other pets untouched", "data written before the fault intact",
                 "the other shards kept serving"):
        assert names[name].passed, name
    # the key entries, in causal order: user delete -> kubelet finishes -> controller recreates -> Ready
    gone = first(res, "pod-deleted", source="kubelet", object=pet)
    back = first(res, "pod-created", source="statefulset-controller", object=pet, since=gone.time)
    ready = first(res, "pod-ready", object=pet, since=back.time)
    assert res.t0 is not None and res.t0 <= gone.time <= back.time <= ready.time
    assert back.fields["uid"] != gone.fields["uid"]
    # RTO from the ledger: only web-1's shard had an outage, and it closed
    av = res.state["ledger_availability"]
    assert [s.shard for s in av.shards if s.outages] == ["web-1"] and av.recovered
    assert 0 < res.state["rto"] < 10
    assert first(res, "writes-recovered", source="ledger")
    assert ns.startswith("drill-pet-kill-")


class NoKill(PetKill):
    """pet-kill whose "fault" deletes nothing: its verification must fail."""

    name = "pet-kill-no-effect"

    def inject(self, ctx: base.DrillContext) -> str:
        pod = self.pet(ctx, self.victim(ctx))
        ctx.state.update(victim=self.victim(ctx), victim_uid=pod.metadata.uid if pod else "")
        ctx.t0 = time.time()
        return "nothing deleted"


def test_pet_kill_without_effect_fails(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, NoKill(), {"ledger": False, "replicas": 2}, "pet-kill (no effect)")
    assert not res.passed and res.status == "failed"
    failed = {c.name for c in res.failed_checks}
    assert "web-1 terminated" in failed                                  # the first wait never came true
    assert "the fault took effect: a new pod for the pet" in failed
    assert res.verdicts()["deleted:web-1"] == MISSING
    assert {r.status for r in res.runs if r.type == "probe"} == {"failed", "skipped"}   # the rest skipped


# -- D2 ------------------------------------------------------------------------------------------

def test_bad_rollout_breaks_only_the_canary_stalls_and_rolls_back(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, BadRollout())
    passed(res)
    ns = res.state["namespace"]
    v = res.verdicts()
    for key in ("updated:web-2", "gone:web-2", "recreated:web-2", "pull-failed:web-2", "backoff:web-2"):
        assert v[key] == ON_TIME, (key, res.grade().table())
    assert v["never-ready:web-2"] == ABSENT_OK                 # the canary never became Ready
    assert v["stalled:web-1"] == ABSENT_OK                     # the rollout did not get past it
    assert v["kept:web-0"] == ABSENT_OK                        # below the partition: untouched
    names = {c.name: c for c in res.checks}
    for name in ("the fault took effect: web-2 broken at the new revision",
                 "only the canary broke: the other pets untouched and Ready", "the rollout stalled at the broken pet",
                 "only the broken pet's shard failed writes", "rolled back: every pet Ready at the reverted revision",
                 "web-2: same claim and volume"):
        assert names[name].passed, name
    # the kubelet's pull failure, as upstream words it, and the controller's single delete
    pod = f"pod/{ns}/web-2"
    failed = first(res, "Failed", source="kubelet", object=pod)
    assert "ErrImagePull" in failed.detail or "Failed to pull image" in failed.detail
    assert first(res, "BackOff", source="kubelet", object=pod).detail.startswith("Back-off pulling image")
    deletes = [e for e in res.timeline.entries(what="SuccessfulDelete", object=f"statefulset/{ns}/web")
               if e.time < res.state["remediation_t0"]]
    assert len(deletes) == 1 and "web-2" in deletes[0].detail
    # reverting alone left the canary broken (statefulset.md "Forced rollback"); deleting it repaired it
    assert res.state["still_broken_after_revert"] == ["web-2"] == res.state["deleted_broken"]
    assert res.grades["remediation"].verdict("recreated:web-2") == ON_TIME
    av = res.state["ledger_availability"]
    assert [s.shard for s in av.shards if s.outages] == ["web-2"] and av.recovered


# -- D3 ------------------------------------------------------------------------------------------

def test_node_drain_refuses_429_and_moves_pets_one_at_a_time(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, NodeDrain())
    passed(res)
    ns, victim = res.state["namespace"], res.state["victim"]
    order = [p for p in res.state["evicted"] if p.startswith("web-")]
    assert sorted(order) == ["web-0", "web-1", "web-2"]
    g = res.grade()
    assert g.verdict(f"cordoned:{victim}") == ON_TIME
    for i, pet in enumerate(order):
        assert g.verdict(f"evicted:{pet}") == ON_TIME and g.verdict(f"recreated:{pet}") == ON_TIME
        if i:
            assert g.verdict(f"refused:{pet}") == ON_TIME
            # evicted only after the previous pet was Ready again
            assert g[f"evicted:{pet}"].observed >= g[f"ready:{order[i - 1]}"].observed - 0.1
    names = {c.name: c for c in res.checks}
    assert names["the budget refused evictions (429) while it would be violated"].passed
    assert names["never more than 1 pet(s) disrupted at once (moved one at a time)"].passed
    assert names["every pet on another node of its zone"].passed
    refused = first(res, "eviction-refused", source="eviction-api", object=f"pod/{ns}/{order[1]}")
    assert refused.fields["status"] == 429 and "disruption budget" in refused.detail
    assert first(res, "pod-terminating", source="eviction-api", object=f"pod/{ns}/{order[0]}").time < refused.time + 1
    assert first(res, "cordoned", source="user", object=f"node/{victim}")
    assert first(res, "uncordoned", source="user", object=f"node/{victim}")
    node = k8s.CoreV1Api(base.DrillContext.connect(["sandbox"], kubeconfig=world[1].kubeconfig,
                                                   target=None).api()).read_node(victim)
    assert not node.spec.unschedulable


class NoDrain(NodeDrain):
    """node-drain that neither cordons nor evicts: its verification must fail."""

    name = "node-drain-no-effect"

    def inject(self, ctx: base.DrillContext) -> str:
        ctx.state.update(evicted=[], refusals={}, drain_error="", drain_done=True)
        ctx.t0 = time.time()
        return "nothing drained"


def test_node_drain_without_effect_fails(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, NoDrain(), {"ledger": False, "replicas": 2}, "node-drain (no effect)")
    assert not res.passed and res.status == "failed"
    failed = {c.name for c in res.failed_checks}
    assert "an eviction refused (429) by the budget" in failed
    assert "the fault took effect: node cordoned and drained of the pets" in failed
    assert "the budget refused evictions (429) while it would be violated" in failed
    assert res.verdicts()[f"cordoned:{res.state['victim']}"] == MISSING


def test_node_drain_preflight_refuses_without_a_budget(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, NodeDrain(), {"pdb": False}, "node-drain (refused)")
    assert res.status == "refused" and not res.passed and res.runs == []
    assert any("PodDisruptionBudget" in r for r in res.refused)
    core = k8s.CoreV1Api(base.DrillContext.connect(["sandbox"], kubeconfig=world[1].kubeconfig, target=None).api())
    assert not [n for n in core.list_namespace().items if n.metadata.name.startswith("drill-node-drain-")
                and not n.metadata.deletion_timestamp]


# -- D4 ------------------------------------------------------------------------------------------

def test_node_terminate_node_deleted_pet_recreated_in_zone_instance_replaced(
        world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, NodeTerminate())
    passed(res)
    victim, zone, ns = res.state["victim"], res.state["zone"], res.state["namespace"]
    [pet] = res.state["pets_on_victim"]
    v = res.verdicts()
    for key in (f"not-ready:{victim}", f"node-deleted:{victim}", f"replacement:{victim}", f"podgc:{pet}",
                f"recreated:{pet}"):
        assert v[key] == ON_TIME, (key, res.grade().table())
    assert v[f"pet-ready:{pet}"] in GOOD | {"late"} and v[f"detached:{pet}"] in GOOD | {"late"}
    deleted = first(res, "node-deleted", source="cloud-node-lifecycle-controller", object=f"node/{victim}")
    gc = first(res, "pod-deleted", source="pod-garbage-collector", object=f"pod/{ns}/{pet}")
    back = first(res, "pod-created", source="statefulset-controller", object=f"pod/{ns}/{pet}", since=gc.time)
    terminated = first(res, "instance-terminated", source="aws", node=victim)
    launched = first(res, "instance-running", source="aws", zone=zone, previous="")
    assert terminated.time < deleted.time < gc.time <= back.time and launched.time >= res.t0
    names = {c.name: c for c in res.checks}
    for name in (f"Node {victim} deleted (the cloud node controller)", f"the pet moved within zone {zone}",
                 f"the node group replaced the instance in {zone}", f"{pet}: same claim and volume",
                 f"{pet}: at most one pod for the identity", "the other pets untouched"):
        assert names[name].passed, name
    av = res.state["ledger_availability"]
    assert [s.shard for s in av.shards if s.outages] == [pet] and av.recovered


# -- D7 ------------------------------------------------------------------------------------------

def test_zone_outage_pet_pinned_to_its_zone_deployment_moves(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, ZoneOutage())
    passed(res)
    zone, lost, ns = res.state["zone"], res.state["lost"], res.state["namespace"]
    [pet] = res.state["pinned"]
    assert res.state["zone_states"][zone] == "FullDisruption" and len(lost) == 2
    g = res.grade()
    for n in lost:
        assert g.verdict(f"not-ready:{n}") == ON_TIME and g.verdict(f"shutdown-taint:{n}") == ON_TIME
        assert g.verdict(f"noexecute-taint:{n}") == ON_TIME and g.verdict(f"node-kept:{n}") == ABSENT_OK
    assert g.verdict(f"evicted:{pet}") == ON_TIME and g.verdict(f"stuck:{pet}") == ABSENT_OK
    web = res.state["web_pod"]
    assert g.verdict(f"evicted:{web}") == ON_TIME and g.verdict(f"replaced:{web}") == ON_TIME
    assert any("FullDisruption" in n for n in res.expected["fault"].notes)
    names = {c.name: c for c in res.checks}
    for name in (f"{pet} stuck with its zone (Terminating)", f"{pet} cannot move: its volume is in {zone}",
                 "the set rides through at N-1: the other pets serve", "the Deployment moved to another zone",
                 "only the lost zone's shards failed writes", "shutdown verified before the force delete",
                 f"{pet} stays Pending: its volume cannot leave {zone}", "zone back: nodes Ready, taints gone",
                 "every pet Ready again, in its zone", f"{pet}: same claim and volume"):
        assert names[name].passed, name
    assert "PersistentVolume's node affinity" in res.state["pending_message"]
    evicted = first(res, "pod-terminating", source="taint-eviction-controller", object=f"pod/{ns}/{pet}")
    noexec = first(res, "taint-added", source="node-lifecycle-controller", key="node.kubernetes.io/unreachable",
                   effect="NoExecute")
    assert evicted.time - noexec.time >= 2.5          # tolerationSeconds 300 s x 0.01
    av = res.state["ledger_availability"]
    assert [s.shard for s in av.shards if s.outages] == [pet] and av.recovered


def test_zone_outage_preflight_refuses_an_unknown_zone(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = run(world, ZoneOutage(), {"zone": "us-east-1z"}, "zone-outage (refused)")
    assert res.status == "refused" and any("has no nodes" in r for r in res.refused) and res.runs == []
