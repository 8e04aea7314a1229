"""``kubekit lab`` argument handling: options are checked before anything starts, the token stays off argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubekit import cli, lab
from kubekit.errors import InvalidParameter


def test_options_defaults_make_a_random_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTER_TOKEN", raising=False)
    one, two = lab.options(tmp_path), lab.options(tmp_path)
    assert one.port == 8888 and one.sandbox and one.notebooks == tmp_path.absolute()
    assert len(one.token) == 48 and one.token != two.token


def test_options_take_the_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_TOKEN", "t" * 20)
    assert lab.options(tmp_path).token == "t" * 20
    assert lab.options(tmp_path, token="u" * 16).token == "u" * 16


@pytest.mark.parametrize("kwargs, field", [({"port": 70000}, "port"), ({"port": -1}, "port"),
                                           ({"token": "short"}, "token"), ({"clusters": -2}, "clusters")])
def test_bad_options_are_refused(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        lab.options(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert err.value.name == field


def test_missing_notebooks_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="not a directory"):
        lab.options(tmp_path / "nope")


def test_command_binds_loopback_and_keeps_the_token_off_argv(tmp_path: Path) -> None:
    opts = lab.options(tmp_path, port=0, token="s" * 32)
    argv = lab.command(opts)
    assert "--ip=127.0.0.1" in argv and "--port=0" in argv and "--no-browser" in argv
    assert f"--ServerApp.root_dir={tmp_path.absolute()}" in argv and "--ServerApp.port_retries=0" in argv
    assert not any("s" * 32 in a for a in argv)


def test_environment_points_kernels_at_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEKIT_HOME", str(tmp_path / "home"))
    opts = lab.options(tmp_path, token="k" * 32)
    env = lab.environment(opts, base={"PATH": "/usr/bin"}, runtime=tmp_path / "rt")
    assert env["JUPYTER_TOKEN"] == "k" * 32
    assert env["KUBECONFIG"] == str(tmp_path / "home" / "kubeconfig")
    assert env["KUBEKIT_HOME"] == str(tmp_path / "home")
    assert env["JUPYTER_RUNTIME_DIR"] == str(tmp_path / "rt")
    assert env["PATH"].endswith(":/usr/bin") and "AWS_PROFILE" in env


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lab", "--notebooks", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli.main(["lab", "--notebooks", str(tmp_path), "--port", "65536"]) == 2
    with pytest.raises(SystemExit) as usage:
        cli.main(["lab", "--port", "eighty"])
    assert usage.value.code == 2
