"""kubekit.sandbox: the kubesim daemon's lifecycle, through the API and the CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kubekit import sandbox

KUBEKIT = [sys.executable, "-m", "kubekit.cli"]


def _dead(pid: int) -> bool:
    return not sandbox._alive(pid)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    yield tmp_path / "home"
    sandbox.down(home=tmp_path / "home")  # never leave a daemon behind


def test_up_is_idempotent_and_down_stops_it_by_pid(home: Path) -> None:
    info = sandbox.up(home=home, nodes_per_zone=1)
    assert info.url.startswith(("https://127.0.0.1:", "http://127.0.0.1:"))
    assert os.getsid(info.pid) == info.pid  # detached: its own session
    assert stat.S_IMODE(Path(info.kubeconfig).stat().st_mode) == 0o600
    assert json.loads((home / "sandbox.json").read_text())["pid"] == info.pid

    again = sandbox.up(home=home, nodes_per_zone=1)
    assert (again.pid, again.url) == (info.pid, info.url)

    state = sandbox.status(home=home)
    assert state["state"] == "running" and state["pid"] == info.pid

    assert sandbox.down(home=home) is True
    assert _dead(info.pid)
    assert sandbox.status(home=home)["state"] == "stopped"
    assert sandbox.down(home=home) is False


def test_a_different_shape_is_refused_while_running(home: Path) -> None:
    sandbox.up(home=home, nodes_per_zone=1)
    with pytest.raises(sandbox.SandboxError, match="already running"):
        sandbox.up(home=home, nodes_per_zone=3)


def test_a_stale_record_never_signals_a_stranger(home: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        home.mkdir(parents=True)
        record = {
            "pid": stranger.pid, "url": "https://127.0.0.1:1", "kubeconfig": str(home / "kubeconfig"),
            "context": "sandbox", "zones": ["us-east-1a"], "nodes_per_zone": 1,
            "state_dir": str(home / "clusters" / "sandbox"), "log": str(home / "sandbox.log"),
            "started": "2026-01-01T00:00:00+00:00",
        }  # fmt: skip
        (home / "sandbox.json").write_text(json.dumps(record))
        assert sandbox.status(home=home)["state"] == "stale"
        assert sandbox.down(home=home) is False
        assert stranger.poll() is None  # still alive
        assert not (home / "sandbox.json").exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_kubesim_that_fails_to_start_reports_its_log(home: Path) -> None:
    with pytest.raises(sandbox.SandboxError, match=r"exited with code \d+ before it was ready"):
        sandbox.up(home=home, zones=["not a zone!"])
    assert sandbox.status(home=home)["state"] == "stopped"


def test_a_kubesim_that_is_not_ready_in_time_is_stopped(home: Path) -> None:
    before = set(sandbox._children)
    with pytest.raises(sandbox.SandboxError, match="did not print 'ready <url>'"):
        sandbox.up(home=home, timeout=0)
    assert set(sandbox._children) == before  # the daemon it started is gone (and reaped)
    assert sandbox.status(home=home)["state"] == "stopped"


def test_env_prints_shell_exports(home: Path) -> None:
    assert sandbox.env(home=home) == f"export KUBEKIT_HOME={home}\nexport KUBECONFIG={home / 'kubeconfig'}\n"


def test_the_cli_daemon_outlives_the_cli(home: Path) -> None:
    env = dict(os.environ, KUBEKIT_HOME=str(home))
    up = subprocess.run([*KUBEKIT, "sandbox", "up", "--nodes-per-zone", "1"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("sandbox up: http")
    status = subprocess.run([*KUBEKIT, "sandbox", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "running"
    pid = json.loads(status.stdout)["pid"]

    exports = subprocess.run([*KUBEKIT, "sandbox", "env"], env=env, capture_output=True, text=True).stdout
    assert f"export KUBECONFIG={home / 'kubeconfig'}" in exports

    down = subprocess.run([*KUBEKIT, "sandbox", "down"], env=env, capture_output=True, text=True)
    assert down.returncode == 0 and down.stdout.strip() == "sandbox stopped"
    assert _dead(pid)
    status = subprocess.run([*KUBEKIT, "sandbox", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and json.loads(status.stdout)["state"] == "stopped"
