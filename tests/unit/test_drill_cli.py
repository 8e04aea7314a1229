"""``kubekit drill``: argument parsing, the catalogue listing, and requests refused before anything is made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubekit import cli
from kubekit.drills import session
from kubekit.drills.base import catalogue
from kubekit.errors import InvalidParameter

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: other, context: {cluster: c, user: u}}]
current-context: other
"""


def test_run_arguments_are_parsed() -> None:
    args = cli.build_parser().parse_args(
        ["drill", "run", "D5", "--context", "a", "--context", "b", "-p", "hold", "30", "-p", "volume", "no",
         "--kubeconfig", "k", "--output-root", "out", "--target", "aws:ops", "--confirm-account", "123"])
    assert (args.name, args.contexts, args.parameters) == ("D5", ["a", "b"], [["hold", "30"], ["volume", "no"]])
    assert (args.kubeconfig, args.output_root, args.target, args.confirm_account) == ("k", "out", "aws:ops", "123")
    defaults = cli.build_parser().parse_args(["drill", "run", "node-stop"])
    assert defaults.contexts is None and defaults.output_root == "runs" and defaults.target == "sandbox"


def test_list_shows_every_drill_with_its_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drill", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "ID", "NEEDS", "TITLE"]
    for cls in catalogue().values():
        row = next(line for line in out.splitlines() if line.startswith(cls.name + " "))
        assert cls.catalogue_id in row.split() and cls.title in row
        for p in cls.params:
            assert f"-p {p.name} {p.default!r}" in out
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:] if not line.startswith(" ")}
    assert rows["node-stop"] == ["D5", "aws"]
    for name, cls in catalogue().items():
        assert ("federation" in rows[name][1]) == ("federation" in cls.tags)
    assert cli.main(["drill", "list", "--json"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed["node-stop"]["needs_aws"] is True and listed["node-stop"]["needs_federation"] is False
    assert {"name": "hold", "type": "float", "default": 60.0} in [
        {k: p[k] for k in ("name", "type", "default")} for p in listed["node-stop"]["params"]]


@pytest.mark.parametrize("argv, message", [
    (["nope"], "invalid drill 'nope': not in the catalogue. Known: "),
    (["node-stop", "-p", "hold", "soon"], "invalid hold 'soon': expected float"),
    (["node-stop", "-p", "volume", "maybe"], "invalid volume 'maybe': expected bool"),
    (["node-stop", "-p", "holdd", "3"], "invalid parameter 'holdd': drill node-stop has no such parameter. Known: node"),
    (["node-stop", "-p", "hold", "3", "-p", "hold", "4"], "invalid parameter 'hold': given twice"),
    (["node-stop", "--context", "missing"], "invalid context 'missing': context 'missing' not in"),
    (["node-stop", "--context", "other", "--context", "other"], "a context is named twice"),
])
def test_bad_requests_exit_2_and_make_nothing(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    out = tmp_path / "runs"
    assert cli.main(["drill", "run", *argv, "--kubeconfig", str(kubeconfig), "--output-root", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_parameters_are_typed_from_text() -> None:
    cls = session.resolve("D5")
    assert cls.name == "node-stop"
    got = session.parse_params(cls, [("hold", "30"), ("volume", "off"), ("node", "n1")])
    assert got["hold"] == 30.0 and got["volume"] is False and got["node"] == "n1" and got["remediate"] is True
    with pytest.raises(InvalidParameter):
        session.parse_params(cls, {"remediate": "perhaps"})


def test_run_directories_are_named_by_time_and_drill(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    when = datetime(2026, 11, 26, 18, 30, 5, tzinfo=timezone.utc)
    first = session.new_run_dir(tmp_path, "pet-kill", when)
    second = session.new_run_dir(tmp_path, "pet-kill", when)
    assert first.name == "20261126T183005Z-drill-pet-kill" and first.is_dir()
    assert second.name == "20261126T183005Z-drill-pet-kill-2" and second.is_dir()
