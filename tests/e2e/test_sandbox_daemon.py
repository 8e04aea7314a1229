"""kubekit.sandbox: the daemon's lifecycle (API and CLI), and the world it keeps across restarts."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from kubekit import sandbox
from kubekit.sandbox import control

KUBEKIT = [sys.executable, "-m", "kubekit"]


def _dead(pid: int) -> bool:
    return not control._alive(pid)


@pytest.fixture
def home(tmp_path: Path):
    yield tmp_path / "home"
    sandbox.down(home=tmp_path / "home")  # never leave a daemon behind


def _ec2(home: Path):
    info = control._read_record(home)
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=info.endpoint,
                        aws_access_key_id="kubekit-sandbox", aws_secret_access_key="kubekit-sandbox")


def test_up_is_idempotent_and_down_stops_it_by_pid(home: Path) -> None:
    info = sandbox.up(home=home, empty=True)
    assert info.endpoint.startswith("http://127.0.0.1:")
    assert os.getsid(info.pid) == info.pid  # detached: its own session
    assert json.loads((home / "sandbox.json").read_text())["pid"] == info.pid
    creds = home / "aws" / "credentials"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert "kubekit-sandbox" in (home / "aws" / "config").read_text()

    again = sandbox.up(home=home, empty=True)
    assert (again.pid, again.endpoint) == (info.pid, info.endpoint)
    assert sandbox.status(home=home)["state"] == "running"

    assert sandbox.down(home=home) is True
    assert _dead(info.pid)
    assert sandbox.status(home=home)["state"] == "stopped"
    assert sandbox.down(home=home) is False


def test_a_different_profile_is_refused_while_running(home: Path) -> None:
    sandbox.up(home=home, empty=True, profile="fast")
    with pytest.raises(sandbox.SandboxError, match="already running"):
        sandbox.up(home=home, empty=True, profile="upstream")


def test_aws_state_survives_down_and_up_with_the_same_ids(home: Path) -> None:
    sandbox.up(home=home, empty=True)
    ec2 = _ec2(home)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    _check_eks_tokens(home, times=3)  # not recorded: they must not shift the ids drawn after them
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    sandbox.down(home=home)
    sandbox.up(home=home, empty=True)
    ec2 = _ec2(home)
    got = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]
    assert (got["VpcId"], got["AvailabilityZone"]) == (vpc, "us-east-1b")
    # New resources keep working after a replay (ids continue from the same seeded sequence).
    assert ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"] != vpc
    sandbox.reset(home=home)
    assert not (home / "aws").exists() and sandbox.status(home=home)["state"] == "stopped"


def _start_kind(home: Path) -> tuple[bool, int]:
    status = json.loads((home / "sandbox.status.json").read_text())
    return status["from_snapshot"], status["replayed"]


def test_a_snapshot_start_draws_the_same_ids_as_a_replay_start(home: Path, tmp_path: Path) -> None:
    sandbox.up(home=home, empty=True)
    ec2 = _ec2(home)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    _check_eks_tokens(home, times=2)
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")
    sandbox.down(home=home)  # a clean stop writes the snapshot
    assert (home / "aws" / "moto-state.pickle").exists()
    twin = tmp_path / "twin"
    shutil.copytree(home, twin)
    (twin / "aws" / "moto-state.pickle").unlink()  # the twin has only the recording

    def next_ids(h: Path) -> tuple[bool, int, tuple[str, str], str]:
        sandbox.up(home=h, empty=True)
        try:
            ec2 = _ec2(h)
            new = ec2.create_vpc(CidrBlock="10.12.0.0/16")["Vpc"]["VpcId"]
            sub = ec2.create_subnet(VpcId=new, CidrBlock="10.12.1.0/24", AvailabilityZone="us-east-1c")
            old = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"]
            return (*_start_kind(h), (new, sub["Subnet"]["SubnetId"]), old)
        finally:
            sandbox.down(home=h)

    from_snapshot, replayed, ids, cidr = next_ids(home)
    twin_snapshot, twin_replayed, twin_ids, twin_cidr = next_ids(twin)
    assert (from_snapshot, replayed) == (True, 0) and (twin_snapshot, twin_replayed > 0) == (False, True)
    assert ids == twin_ids and cidr == twin_cidr == "10.9.0.0/16"
    # Each clean stop leaves a snapshot of its own: the next start loads it again.
    sandbox.up(home=home, empty=True)
    assert _start_kind(home)[0] is True


def test_ids_made_after_a_cached_warm_up_replay_without_the_cache(home: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def phases() -> dict[str, float]:
        return json.loads((home / "sandbox.status.json").read_text())["phases_s"]

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the daemon inherits it
    sandbox.up(home=home, empty=True)
    assert "warm_up" in phases() and list((tmp_path / "cache" / "kubekit").glob("moto-*-warm.pickle"))
    sandbox.reset(home=home)
    sandbox.up(home=home, empty=True)
    assert "warm_cache" in phases()
    ec2 = _ec2(home)
    vpc = ec2.create_vpc(CidrBlock="10.14.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.14.1.0/24")["Subnet"]["SubnetId"]
    sandbox.down(home=home)
    (home / "aws" / "moto-state.pickle").unlink()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    sandbox.up(home=home, empty=True)
    assert "warm_up" in phases() and _start_kind(home) == (False, 2)
    assert _ec2(home).describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"] == vpc


def test_a_snapshot_older_than_the_recording_is_not_loaded(home: Path) -> None:
    sandbox.up(home=home, empty=True)
    sandbox.down(home=home)
    snapshot = (home / "aws" / "moto-state.pickle").read_bytes()
    sandbox.up(home=home, empty=True)
    _ec2(home).create_vpc(CidrBlock="10.13.0.0/16")
    sandbox.down(home=home)
    (home / "aws" / "moto-state.pickle").write_bytes(snapshot)  # as if the daemon had been killed
    sandbox.up(home=home, empty=True)
    assert _start_kind(home)[0] is False
    assert [v["CidrBlock"] for v in _ec2(home).describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.13.0.0/16"]


def _check_eks_tokens(home: Path, times: int) -> None:
    """What kubesim does for every new EKS token: replay its presigned STS GetCallerIdentity URL."""
    from kubekit.aws.target import Target
    from kubekit.aws.token import get_token
    from kubekit.sandbox.ekstoken import EksTokenVerifier

    verifier = EksTokenVerifier(control._read_record(home).endpoint, "sandbox")
    for _ in range(times):
        token = get_token(Target("sandbox", home=str(home)), "sandbox", "us-east-1")["status"]["token"]
        assert verifier(token)


def test_a_stale_record_never_signals_a_stranger(home: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        home.mkdir(parents=True)
        record = {"pid": stranger.pid, "endpoint": "http://127.0.0.1:1", "kubeconfig": str(home / "kubeconfig"),
                  "context": "sandbox", "profile": "fast", "home": str(home), "log": str(home / "sandbox.log"),
                  "started": "2026-01-01T00:00:00+00:00"}
        (home / "sandbox.json").write_text(json.dumps(record))
        assert sandbox.status(home=home)["state"] == "stale"
        assert sandbox.down(home=home) is False
        assert stranger.poll() is None  # still alive
        assert not (home / "sandbox.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_daemon_that_is_not_ready_in_time_is_stopped(home: Path) -> None:
    before = set(control._children)
    with pytest.raises(sandbox.SandboxError, match="not ready within"):
        sandbox.up(home=home, timeout=0, empty=True)
    assert set(control._children) == before  # the daemon it started is gone (and reaped)
    assert sandbox.status(home=home)["state"] == "stopped"


def test_env_prints_shell_exports_for_kubectl_and_aws(home: Path) -> None:
    lines = dict(line.removeprefix("export ").split("=", 1) for line in sandbox.env(home=home).splitlines())
    assert lines["KUBECONFIG"] == str(home / "kubeconfig")
    assert lines["AWS_PROFILE"] == "kubekit-sandbox"
    assert lines["AWS_CONFIG_FILE"] == str(home / "aws" / "config")


def test_the_cli_daemon_outlives_the_cli(home: Path) -> None:
    env = dict(os.environ, KUBEKIT_HOME=str(home))
    up = subprocess.run([*KUBEKIT, "sandbox", "up", "--empty"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("sandbox up: AWS at http://127.0.0.1:")
    status = subprocess.run([*KUBEKIT, "sandbox", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "running"
    pid = json.loads(status.stdout)["pid"]
    down = subprocess.run([*KUBEKIT, "sandbox", "down"], env=env, capture_output=True, text=True)
    assert down.returncode == 0 and down.stdout.strip() == "sandbox stopped"
    assert _dead(pid)
    status = subprocess.run([*KUBEKIT, "sandbox", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "stopped"
