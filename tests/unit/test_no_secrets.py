"""No credential, token or account id in what kubekit publishes (issue 8).

Scanned: every committed notebook (notebooks/, runbooks/), the artefacts of a fresh
``kubekit runbook run`` (result.json, executed notebook, HTML) and a docs site built
by ``kubekit docs build``. The run is of a notebook that *prints* planted secrets of
every kind, so the redaction on write is what keeps them out: without it these tests
fail (``test_the_scanner_sees_what_was_planted`` shows the scanner would notice).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kubekit import secrets_scan

REPO = Path(__file__).resolve().parents[2]


def _b64(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# Built at run time, so this file itself holds no secret-shaped literal.
PLANTED = {
    "aws-access-key-id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws-secret-key": "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
    "eks-token": "k8s-aws-v1." + _b64({"url": "https://sts.amazonaws.com/?Action=GetCallerIdentity"}),
    "jwt": ".".join([_b64({"alg": "RS256"}), _b64({"sub": "system:serviceaccount:pets:default"}), "c2lnbmF0dXJl"]),
    "bearer-token": "Authorization: " + "Bearer " + "kubesim-" + "0f3a9c" * 4,
    "private-key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END " + "RSA PRIVATE KEY-----",
    "kubeconfig-secret": "    client-key-data: " + "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t",
    "aws-account-id": "arn:aws:iam::" + "1234567" + "89012" + ":role/kubekit-node",
}


def test_the_scanner_sees_what_was_planted() -> None:
    for kind, text in PLANTED.items():
        kinds = {f.kind for f in secrets_scan.scan_text(text)}
        assert kind in kinds, (kind, text)
        redacted, n = secrets_scan.redact_text(text)
        assert n >= 1 and f"<redacted:{kind}>" in redacted
        assert not secrets_scan.scan_text(redacted), redacted


@pytest.mark.parametrize("clean", [
    '"model_id": "410c178d714c476586868619febdca0d"',  # a widget model id (hex)
    "i-0123456789012abcd subnet-123456789012 20261126181901 0.123456789012",
    "token = secrets.token_hex(24)", '"token": "<redacted>"', "aws_secret_access_key = kubekit-sandbox",
])
def test_ids_and_code_are_not_secrets(clean: str) -> None:
    assert secrets_scan.scan_text(clean) == []


def test_committed_notebooks_hold_no_secrets() -> None:
    notebooks = _committed("notebooks", "runbooks")
    assert notebooks, "no committed notebooks found"
    found = [str(f) for nb in notebooks for f in secrets_scan.scan_notebook(nb)]
    assert not found, "secrets in committed notebooks:\n" + "\n".join(found)


def _committed(*dirs: str) -> list[Path]:
    """The notebooks git tracks under ``dirs`` (all of them there when this is not a git checkout)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", *(f"{d}/*.ipynb" for d in dirs)], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout
        return [REPO / p for p in sorted(listed.split("\0")) if p and (REPO / p).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for d in dirs for p in (REPO / d).glob("*.ipynb"))


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook whose source and outputs carry every kind of secret."""
    d = tmp_path_factory.mktemp("leaky")
    lines = json.dumps(list(PLANTED.values()))
    nb = new_notebook(cells=[
        new_markdown_cell("# Leaky lesson"),
        new_code_cell('note: str = "plain"  # a parameter', metadata={"tags": ["parameters"]}),
        new_code_cell(f"for line in {lines}:\n    print(line)"),
        new_code_cell("from kubekit.runbook import record_check\n"
                      f"record_check('carries-an-id', True, {PLANTED['aws-account-id']!r})"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = d / "leaky.ipynb"
    nbformat.write(nb, path)
    return path


def _kubekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubekit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_a_runbook_run_records_no_secrets(leaky: Path, tmp_path: Path) -> None:
    done = _kubekit("runbook", "run", str(leaky), "--output-root", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    produced = sorted(p.name for p in run_dir.iterdir())
    assert produced == ["leaky.html", "leaky.ipynb", "result.json"]
    assert secrets_scan.scan_path(run_dir) == []
    executed = (run_dir / "leaky.ipynb").read_text()
    for kind in PLANTED:  # redacted where they were printed, not dropped silently
        assert f"<redacted:{kind}>" in executed, kind
    assert "<redacted:aws-account-id>" in (run_dir / "result.json").read_text()
    nbformat.validate(nbformat.read(run_dir / "leaky.ipynb", as_version=4))


def test_a_docs_site_publishes_no_secrets(leaky: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = _kubekit("docs", "build", "--no-sandbox", "--output", str(site), "--notebooks", str(leaky), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (page,) = json.loads((site / "build.json").read_text())["pages"]
    assert (site / "index.html").is_file() and (site / page["html"]).is_file()
    assert secrets_scan.scan_path(site) == []
    assert "&lt;redacted:private-key&gt;" in (site / page["html"]).read_text()


def test_a_leak_in_a_notebook_is_reported_by_file_and_cell(leaky: Path) -> None:
    found = secrets_scan.scan_notebook(leaky)
    assert {f.kind for f in found} >= set(PLANTED)
    assert all(f.where == f"{leaky} cell 2" for f in found if f.kind == "jwt")
