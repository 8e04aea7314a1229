"""``kubekit lab`` for real: JupyterLab on 127.0.0.1 (a free port), answering /api/status only with its token."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kubekit import lab


def test_lab_starts_answers_with_its_token_and_stops(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    opts = lab.options(tmp_path / "nb", port=0, sandbox=False, timeout=120)
    running = lab.start(opts)
    try:
        assert running.port > 0 and running.url == f"http://127.0.0.1:{running.port}/lab?token={opts.token}"
        assert "started" in running.status()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(f"http://127.0.0.1:{running.port}/api/status", timeout=5)
        assert refused.value.code == 403
        with open(f"/proc/{running.pid}/cmdline", "rb") as cmdline:
            assert opts.token.encode() not in cmdline.read()
    finally:
        running.stop()
    assert running.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(running.pid, 0)
    assert not running.started_sandbox
