"""Checkpoints of the whole sandbox world: save, break things, restore, find it exactly as saved.

One two-cluster sandbox (``sandbox`` + a member) in a private KUBEKIT_HOME for the module
(bench/checkpoint.py measures a three-cluster world). Pets with data run in ``sandbox``,
a ConfigMap marks the member. After a save
the test deletes the pets' StatefulSet, terminates an EC2 instance, writes more keys
and deletes a member's ConfigMap; the restore must bring back the objects, the AWS
instances (same ids, same states) and the pets' data (same keys and checksums, the
later keys gone), both while the sandbox runs and while it is down.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from kubekit import aws, cluster, pets, sandbox
from kubekit.sandbox import checkpoint
from kubesim.testing import eventually

# The first test pays for the module's sandbox and two daemon restarts (save, restore).
pytestmark = pytest.mark.timeout(600)

NS = "ckpt"
MEMBERS = ("member-us-east-1a",)


@dataclass
class World:
    home: Path
    kubeconfig: str
    ps: pets.PetSet

    def kc(self, context: str = "sandbox") -> cluster.Cluster:
        return cluster.connect(context, self.kubeconfig)

    def ec2(self):  # type: ignore[no-untyped-def]
        return aws.Target("sandbox", home=str(self.home)).client("ec2", "us-east-1")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("ckpt-home")
    info = sandbox.up(home=home, profile="fast", clusters=len(MEMBERS), timeout=180)
    try:
        w = World(home, info.kubeconfig, pets.PetSet("kv", namespace=NS, replicas=2))
        pets.deploy(w.kc(), w.ps, progress=False)
        ledger = pets.kv(w.kc(), w.ps).write(60)
        assert len(ledger.acked) == 60
        for m in MEMBERS:
            core = client.CoreV1Api(w.kc(m).api)
            core.create_namespace({"metadata": {"name": NS}})
            core.create_namespaced_config_map(NS, {"metadata": {"name": "lesson"}, "data": {"cluster": m}})
        yield w
    finally:
        sandbox.down(home=home)


def _instances(w: World) -> dict[str, str]:
    out = {}
    for page in w.ec2().get_paginator("describe_instances").paginate():
        for res in page["Reservations"]:
            for inst in res["Instances"]:
                out[inst["InstanceId"]] = inst["State"]["Name"]
    return out


def _snapshot(w: World) -> dict[str, object]:
    """What must come back: objects in every cluster, AWS instances, the pets' data."""
    kc = w.kc()
    ids = pets.identity(kc, w.ps)
    apps = client.AppsV1Api(kc.api)
    core = client.CoreV1Api(kc.api)
    return {
        "statefulsets": sorted(s.metadata.name for s in apps.list_namespaced_stateful_set(NS).items),
        "claims": sorted(c.metadata.name for c in core.list_namespaced_persistent_volume_claim(NS).items),
        "volumes": sorted(v.metadata.name for v in core.list_persistent_volume().items),
        "data": [(r.pet, r.pvc, r.pv, r.keys, r.checksum) for r in ids],
        "members": {m: sorted((c.metadata.name, tuple(sorted((c.data or {}).items())))
                              for c in client.CoreV1Api(w.kc(m).api).list_namespaced_config_map(NS).items
                              if c.metadata.name == "lesson") for m in MEMBERS},
        "instances": _instances(w),
    }


def _settled(w: World, want: dict[str, object]) -> dict[str, object]:
    """The snapshot once the restored world's pets serve again (they restart with the daemon)."""
    seen: dict[str, object] = {}

    def same() -> bool:
        try:
            pets.wait_ready(w.kc(), w.ps, timeout=30, progress=False)
            seen["now"] = _snapshot(w)
        except Exception as exc:  # pets still starting: not yet
            seen["now"] = exc
            return False
        return seen["now"] == want

    try:
        eventually("the restored world as saved", same, timeout=90, interval=0.5)
    except AssertionError:
        assert seen.get("now") == want  # shows the difference
        raise
    return seen["now"]  # type: ignore[return-value]


def _break_things(w: World) -> str:
    """Everything a trainee might do after the save; returns the terminated instance."""
    kc = w.kc()
    pets.kv(kc, w.ps).write(15, prefix="later")
    victim = sorted(i for i, s in _instances(w).items() if s == "running")[0]
    w.ec2().terminate_instances(InstanceIds=[victim])
    pets.delete_set(kc, w.ps)
    client.CoreV1Api(w.kc(MEMBERS[0]).api).delete_namespaced_config_map("lesson", NS)
    return victim


def test_restore_while_running_brings_back_objects_instances_and_data(world: World) -> None:
    before = _snapshot(world)
    assert len(before["data"]) == 2 and sum(d[3] for d in before["data"]) == 60  # type: ignore[index,misc]
    ck = checkpoint.save("lesson", home=world.home)
    assert ck.clusters == ["us-east-1/member-us-east-1a", "us-east-1/sandbox"]
    assert ck.saved_while_running and ck.size_bytes > 0 and ck.aws_requests > 0
    assert sandbox.status(world.home)["state"] == "running"  # started again after the copy
    assert _settled(world, before)["data"] == before["data"]  # the pets restart with the daemon

    victim = _break_things(world)
    broken = _snapshot(world)
    assert broken["statefulsets"] == [] and broken["instances"][victim] in ("shutting-down", "terminated")  # type: ignore[index]
    assert broken["members"][MEMBERS[0]] == []  # type: ignore[index]

    pid = sandbox.status(world.home)["pid"]
    done = checkpoint.restore("lesson", home=world.home)
    assert done.was_running and sandbox.status(world.home)["state"] == "running"
    # In place: the same daemon unloaded its world and loaded the checkpoint's from moto's snapshot.
    status = json.loads((world.home / "sandbox.status.json").read_text())
    assert sandbox.status(world.home)["pid"] == pid and status["reloaded"] and status["from_snapshot"]
    after = _settled(world, before)
    assert after["instances"][victim] == "running"  # type: ignore[index]
    assert pets.kv(world.kc(), world.ps).get("later-0000") is None
    assert pets.kv(world.kc(), world.ps).get("key-0000") == "value-0"


def test_unknown_name_is_refused_with_the_names_that_exist(world: World) -> None:
    with pytest.raises(checkpoint.CheckpointError, match=r"no checkpoint named 'nope'.*lesson"):
        checkpoint.restore("nope", home=world.home)
    env = {"KUBEKIT_HOME": str(world.home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "kubekit", "sandbox", "restore", "nope"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "lesson" in done.stderr, done.stderr
    listed = subprocess.run([sys.executable, "-m", "kubekit", "sandbox", "checkpoints"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert "lesson" in listed and "us-east-1/sandbox" in listed and "MB" in listed


def test_a_damaged_checkpoint_leaves_the_world_as_it_was(world: World) -> None:
    before = _snapshot(world)
    bad = world.home / "checkpoints" / "damaged"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text((world.home / "checkpoints" / "lesson" / "manifest.json").read_text())
    with pytest.raises(checkpoint.CheckpointError, match="damaged"):
        checkpoint.restore("damaged", home=world.home)
    assert sandbox.status(world.home)["state"] == "running"
    assert _snapshot(world) == before
    assert not list(world.home.glob(".restore-*")) and not list(world.home.glob(".replaced-*"))


def test_a_checkpoint_without_moto_s_snapshot_restores_by_restarting_and_replaying(world: World) -> None:
    before = _snapshot(world)
    old = world.home / "checkpoints" / "old-style"
    shutil.copytree(world.home / "checkpoints" / "lesson", old)
    (old / "world" / "aws" / "moto-state.pickle").unlink()  # as saved by a kubekit before snapshots
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "name": "old-style", "path": str(old)}))
    victim = _break_things(world)
    pid = sandbox.status(world.home)["pid"]
    done = checkpoint.restore("old-style", home=world.home)
    status = json.loads((world.home / "sandbox.status.json").read_text())
    assert done.was_running and sandbox.status(world.home)["pid"] != pid
    assert not status["from_snapshot"] and status["replayed"] > 0 and "reloaded" not in status
    after = _settled(world, before)
    assert after["instances"][victim] == "running"  # type: ignore[index]


def test_restore_while_down_then_up(world: World) -> None:
    before = _snapshot(world)
    pets.kv(world.kc(), world.ps).write(5, prefix="again")
    sandbox.down(home=world.home)
    done = checkpoint.restore("lesson", home=world.home)
    assert not done.was_running and done.downtime_s == 0
    assert sandbox.status(world.home)["state"] == "stopped"  # a restore does not start a stopped sandbox
    sandbox.up(home=world.home, timeout=180)
    _settled(world, before)
    assert pets.kv(world.kc(), world.ps).get("again-0000") is None
