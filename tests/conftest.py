"""Suite-wide fixtures: an isolated KUBEKIT_HOME, and the sandbox for notebook tests.

``sandbox`` starts one kubesim daemon per test session (per xdist worker)
through ``kubekit.sandbox.up`` with a temporary KUBEKIT_HOME, exactly as
``kubekit sandbox up`` does, and stops it by pid in teardown even when tests
fail. ``sandbox_env`` additionally points KUBECONFIG and KUBEKIT_HOME at it for
one test, so kernels started by the runbook runner inherit them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubekit import sandbox as kk_sandbox

REPO = Path(__file__).resolve().parent.parent

# Fixture notebooks are inputs for the runner tests, not nbval tests.
collect_ignore_glob = ["notebooks/fixtures/*"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_kubekit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test reads or writes the user's ~/.kubekit or talks to their cluster by accident."""
    home = tmp_path_factory.mktemp("kubekit-default-home")
    saved = {k: os.environ.get(k) for k in ("KUBEKIT_HOME", "KUBECONFIG")}
    os.environ["KUBEKIT_HOME"] = str(home)
    os.environ["KUBECONFIG"] = str(home / "kubeconfig")
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kk_sandbox.SandboxInfo]:
    """A running sandbox (kubesim daemon) in its own temporary KUBEKIT_HOME."""
    home = tmp_path_factory.mktemp("kubekit-sandbox")
    info = kk_sandbox.up(home=home)
    try:
        yield info
    finally:
        kk_sandbox.down(home=home)


@pytest.fixture
def sandbox_env(sandbox: kk_sandbox.SandboxInfo, monkeypatch: pytest.MonkeyPatch) -> kk_sandbox.SandboxInfo:
    """The sandbox, with KUBEKIT_HOME and KUBECONFIG pointing at it for this test."""
    monkeypatch.setenv("KUBEKIT_HOME", str(Path(sandbox.kubeconfig).parent))
    monkeypatch.setenv("KUBECONFIG", sandbox.kubeconfig)
    return sandbox
