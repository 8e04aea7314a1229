"""The drill framework end to end: the node-stop drill against a sandbox of its own, graded.

The sandbox runs the ``instant`` profile (every upstream duration x 0.01: node grace 0.5 s,
tolerations 3 s), so the whole D5 drill with its remediation takes seconds. The drill
reaches the cluster only through the official client and EC2 only through boto3, exactly
as on EKS. A drill whose fault has no effect must fail; a drill that would do harm is refused.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config

from kubekit import sandbox
from kubekit.aws import Target
from kubekit.drills import base
from kubekit.drills.grading import ABSENT_OK, MISSING, ON_TIME
from kubekit.drills.nodestop import NodeStop
from kubekit.errors import CheckFailed
from kubekit.timeline import Timeline
from kubesim.testing import running_cluster


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, sandbox.SandboxInfo]]:
    home = tmp_path_factory.mktemp("drills-home")
    info = sandbox.up(home=home, profile="instant")
    try:
        yield home, info
    finally:
        sandbox.down(home=home)


def context(world: tuple[Path, sandbox.SandboxInfo]) -> base.DrillContext:
    home, info = world
    return base.DrillContext.connect(["sandbox"], kubeconfig=info.kubeconfig, target=Target("sandbox", home=str(home)))


def first(res: base.DrillResult, what: str, *, source: str | None = None, object: str | None = None,
          since: float | None = None, **fields: Any) -> Any:
    assert res.timeline is not None
    for e in res.timeline.entries(what=what, object=object, since=since):
        if (source is None or e.source == source) and all(e.fields.get(k) == v for k, v in fields.items()):
            return e
    raise AssertionError(f"no {what} {object or ''} {fields} in the timeline")


def test_node_stop_drill_end_to_end_is_graded_on_time(world: tuple[Path, sandbox.SandboxInfo],
                                                       tmp_path: Path) -> None:
    ctx = context(world)
    # grade_slack: 1 s of wall-clock latency allowed around each window (CI machines are shared)
    res = base.run(NodeStop(), ctx, report_dir=tmp_path / "report", grade_slack=1.0)
    assert res.passed, res.table()
    assert res.status == "completed" and not res.refused and not res.error
    assert res.profile is not None and res.profile.name == "instant" and res.profile.version == (1, 33)
    victim, ns, web = res.state["victim"], res.state["namespace"], res.state["web_pod"]

    # grading: every phase of the fault and of the remediation on time (or absent as expected)
    fault, fix = res.grades["fault"], res.grades["remediation"]
    v = fault.verdicts()
    assert v[f"not-ready:{victim}"] == ON_TIME
    assert v[f"shutdown-taint:{victim}"] == ON_TIME
    assert v[f"noexecute-taint:{victim}"] == ON_TIME
    assert v["evicted:pet-0"] == ON_TIME and v[f"evicted:{web}"] == ON_TIME
    assert v[f"replaced:{web}"] == ON_TIME and v[f"replacement-ready:{web}"] == ON_TIME
    assert v["stuck:pet-0"] == ABSENT_OK and v[f"node-kept:{victim}"] == ABSENT_OK
    assert fault.ok and fix.ok, res.table()
    assert fix.verdict("force-deleted:pet-0") == ON_TIME and fix.verdict("detached:pet-0") == ON_TIME
    assert fix.verdict("recreated:pet-0") == ON_TIME and fix.verdict("pet-ready:pet-0") == ON_TIME
    # the eviction came ~300 upstream seconds after the taint
    assert fault["evicted:pet-0"].after_anchor_upstream == pytest.approx(300, abs=100)

    # the key entries, each from the controller that acts, in causal order
    node, pet = f"node/{victim}", f"pod/{ns}/pet-0"
    stopped = first(res, "instance-stopped", source="aws", node=victim)
    not_ready = first(res, "node-not-ready", source="node-lifecycle-controller", object=node)
    shutdown = first(res, "taint-added", source="cloud-node-lifecycle-controller", object=node,
                     key="node.cloudprovider.kubernetes.io/shutdown")
    noexec = first(res, "taint-added", source="node-lifecycle-controller", object=node,
                   key="node.kubernetes.io/unreachable", effect="NoExecute")
    evicted = first(res, "pod-terminating", source="taint-eviction-controller", object=pet)
    replacement = first(res, "pod-created", source="replicaset-controller", since=evicted.time - 1,
                        owner=res.state["web_owner"])
    oos = first(res, "taint-added", source="user", object=node, key="node.kubernetes.io/out-of-service")
    gc = first(res, "pod-deleted", source="pod-garbage-collector", object=pet)
    back = first(res, "pod-created", source="statefulset-controller", object=pet, since=gc.time)
    # EC2 states are polled (the AWS lane lags by up to a poll), the API lanes are watched: order the
    # instance stop by the fault's own moment (T0, when StopInstances returned), not by its poll.
    assert res.t0 is not None and res.t0 <= stopped.time and stopped.what == "instance-stopped"
    assert res.t0 < not_ready.time <= shutdown.time and not_ready.time <= noexec.time < evicted.time
    assert evicted.time - noexec.time >= 2.5  # tolerationSeconds 300 s x 0.01
    assert replacement.time >= evicted.time - 0.1 and oos.time < gc.time <= back.time
    assert first(res, "TaintManagerEviction", source="taint-eviction-controller", object=pet)
    assert first(res, "instance-running", source="aws", since=back.time)

    # the checks that make it a drill: identity kept, the right steps only after verification
    names = {c.name: c for c in res.checks}
    assert names["pet-0 stuck Terminating (same pod, not replaced)"].passed
    assert names["shutdown verified before the out-of-service taint"].passed
    assert names["pet-0 recreated with the same claim and volume"].passed
    assert names["out-of-service taint removed"].passed
    assert all(c.passed for c in res.steady_after)

    # report: Chaos Toolkit-shaped journal, timeline, text, plot
    out = tmp_path / "report"
    journal = json.loads((out / "journal.json").read_text())
    assert journal["status"] == "completed" and journal["steady_states"]["after"]["steady_state_met"]
    assert [r["activity"]["name"] for r in journal["run"]][:2] == ["prepare", "inject"]
    assert journal["extensions"][0]["grades"]["fault"]["ok"] is True
    assert (out / "timeline.png").stat().st_size > 10_000

    # cleaned up: the node is back and the namespace is going
    core = k8s.CoreV1Api(ctx.api())
    assert next(c.status for c in core.read_node(victim).status.conditions if c.type == "Ready") == "True"
    nsobj = core.list_namespace(field_selector=f"metadata.name={ns}").items
    assert not nsobj or nsobj[0].metadata.deletion_timestamp


class NoEffect(NodeStop):
    """The same drill, but its "fault" stops nothing: a drill that cannot fail is a defect."""

    name = "node-stop-no-effect"

    def inject(self, ctx: base.DrillContext) -> str:
        ctx.t0 = time.time()
        return "nothing stopped"


def test_a_fault_without_effect_fails_verification(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    res = base.run(NoEffect(), context(world), {"volume": False})
    assert not res.passed and res.status == "failed"
    failed = {c.name for c in res.failed_checks}
    victim = res.state["victim"]
    assert f"{victim} NotReady" in failed          # the first thing it waited for never came
    assert "the fault took effect: node NotReady" in failed
    assert "shutdown verified before the out-of-service taint" in failed  # so no taint was applied
    assert "remediation_t0" not in res.state
    g = res.grades["fault"]
    assert g.verdict(f"not-ready:{victim}") == MISSING and g.verdict("evicted:pet-0") == MISSING
    assert [r.status for r in res.runs if r.type == "probe"][1:] == ["skipped"] * 5
    assert res.journal()["status"] == "failed"
    with pytest.raises(CheckFailed, match="the fault took effect"):
        res.raise_for_status()


def test_preflight_refuses_with_reasons_and_changes_nothing(world: tuple[Path, sandbox.SandboxInfo]) -> None:
    ctx = context(world)
    res = base.run("node-stop", ctx, {"node": "ip-10-9-9-9.ec2.internal"})
    assert res.status == "refused" and not res.passed
    assert any("not found" in r for r in res.refused)
    assert res.runs == [] and res.timeline is None
    assert res.journal()["status"] == "aborted"
    no_aws = base.DrillContext(clusters=ctx.clusters, target=None)
    res2 = base.run(NodeStop, no_aws)
    assert res2.status == "refused" and "EC2" in res2.refused[0]


def test_timeline_relists_after_410_and_stops_promptly(tmp_path: Path) -> None:
    with running_cluster(str(tmp_path), zones=["us-east-1a"], nodes_per_zone=1, watch_history=30) as c:
        api = config.new_client_from_config(config_file=c.kubeconfig_path, context="test")
        core = k8s.CoreV1Api(api)
        tl = Timeline()
        tl.watch_cluster("test", api, namespaces=["default"])
        core.create_namespaced_config_map("default", {"metadata": {"name": "seen"}})
        core.create_namespaced_persistent_volume_claim("default", {
            "metadata": {"name": "claim"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        deadline = time.monotonic() + 10
        while not tl.first("pvc-created", object="pvc/default/claim") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tl.first("pvc-created", object="pvc/default/claim")
        # Forget the claim and resume from a version long gone: the watch gets 410 and relists.
        w = next(w for w in tl._clusters["test"].watches if w.kind.name == "persistentvolumeclaims")
        for i in range(40):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"filler-{i}"}})
        w.cache.pop("default/claim")
        w.rv = "1"
        w.interrupt()
        while not tl.first("pvc-created", object="pvc/default/claim", resync=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tl.first("pvc-created", object="pvc/default/claim", resync=True)
        t = time.monotonic()
        tl.stop()
        assert time.monotonic() - t < 2.0
        assert not [th for th in threading.enumerate() if th.name.startswith("timeline-test-")]
        api.close()
