"""The runbook runner: parameters, checks, run records, and how often it writes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

from kubekit import cli, runbook

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parent.parent
START_HERE = REPO / "notebooks" / "00-start-here.ipynb"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # runs/ lands here
    return tmp_path


def run_cli(*args: str) -> int:
    return cli.main(["runbook", "run", *args])


def only_run_dir(root: Path = Path("runs")) -> Path:
    dirs = sorted(root.iterdir())
    assert len(dirs) == 1, dirs
    return dirs[0]


def result_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())


# --- parameters are validated before anything runs ---------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "nme", "x"], "params.ipynb has no parameter 'nme' (it has: name, n, ratio, flag, items, api_token)"),
        (["-p", "n", "seven"], "params.ipynb: parameter 'n' expects int, got 'seven'"),
        (["-p", "ratio", "half"], "parameter 'ratio' expects float, got 'half'"),
        (["-p", "flag", "maybe"], "parameter 'flag' expects bool, got 'maybe'"),
        (["-p", "items", "{a: 1}"], "parameter 'items' expects list, got '{a: 1}'"),
        (["-y", "{n: 1.5}"], "parameter 'n' expects int, got 1.5"),
        (["-y", "{n: true}"], "parameter 'n' expects int, got True"),
        (["-y", "{name: 3}"], "parameter 'name' expects str, got 3"),
    ],
)
def test_bad_parameters_are_refused_and_nothing_is_written(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(str(FIXTURES / "params.ipynb"), *args) == 2
    assert message in capsys.readouterr().err
    assert not Path("runs").exists()


def test_a_notebook_without_parameters_cell_accepts_none(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(FIXTURES / "no_params.ipynb"), "-p", "x", "1") == 2
    assert "no cell tagged 'parameters'" in capsys.readouterr().err
    assert not Path("runs").exists()


def test_one_bad_notebook_stops_the_whole_batch(capsys: pytest.CaptureFixture[str]) -> None:
    # many_cells.ipynb does not declare `n`: the batch is refused before params.ipynb runs.
    assert run_cli(str(FIXTURES / "params.ipynb"), str(FIXTURES / "many_cells.ipynb"), "-p", "n", "3") == 2
    assert "many_cells.ipynb has no parameter 'n'" in capsys.readouterr().err
    assert not Path("runs").exists()


def test_api_raises_parameter_error_and_writes_nothing() -> None:
    with pytest.raises(runbook.ParameterError, match="has no parameter 'bogus'"):
        runbook.run(FIXTURES / "params.ipynb", {"bogus": 1})
    assert not Path("runs").exists()


def test_parameters_are_converted_to_their_declared_types() -> None:
    code = run_cli(
        str(FIXTURES / "params.ipynb"),
        "-y", "{ratio: 2, name: from-yaml, n: 1}",
        "-p", "n", "7",
        "-p", "flag", "yes",
        "-p", "items", "[3, 4]",
    )  # fmt: skip
    assert code == 0
    result = result_of(only_run_dir())
    assert result["parameters"] == {
        "name": "from-yaml", "n": 7, "ratio": 2.0, "flag": True, "items": [3, 4], "api_token": "",
    }  # fmt: skip
    assert result["overridden"] == ["flag", "items", "n", "name", "ratio"]
    executed = nbformat.read(only_run_dir() / "params.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "'from-yaml' 7 2.0 True [3, 4]" in printed


def test_params_lists_declared_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["runbook", "params", str(FIXTURES / "params.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "n: int = 5  # an integer" in out
    assert "items: list = [1, 2]  # a list" in out


# --- run records ------------------------------------------------------------


def test_run_directory_layout_and_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(str(FIXTURES / "params.ipynb")) == 0
    run_dir = only_run_dir()
    assert re.fullmatch(r"\d{8}T\d{6}Z-params", run_dir.name)
    assert sorted(p.name for p in run_dir.iterdir()) == ["params.html", "params.ipynb", "result.json"]
    result = result_of(run_dir)
    assert result["status"] == "ok" and result["error"] is None
    assert result["notebook"] == str(FIXTURES / "params.ipynb")
    assert result["output_dir"] == str(Path("runs") / run_dir.name)
    assert result["files"] == {"notebook": "params.ipynb", "html": "params.html"}
    assert result["start"] < result["end"] and result["duration_s"] > 0
    assert result["checks"] == [
        {"name": "n-positive", "ok": True, "detail": "n=5"},
        {"name": "token-seen", "ok": True, "detail": "token="},
    ]
    html = (run_dir / "params.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "PASS n-positive: n=5" in html
    # The summary table names the notebook, status, checks, duration and output.
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NOTEBOOK", "STATUS", "CHECKS", "DURATION", "OUTPUT"]
    assert out[1].split()[1:3] == ["ok", "2/2"] and out[1].endswith(run_dir.name)


def test_a_failed_check_fails_the_run() -> None:
    assert run_cli(str(FIXTURES / "failing_check.ipynb")) == 1
    result = result_of(only_run_dir())
    assert result["status"] == "failed"
    assert result["error"] is None  # every cell ran ...
    assert result["checks"] == [
        {"name": "passes", "ok": True, "detail": "fine"},
        {"name": "above-threshold", "ok": False, "detail": "3 >= 10"},
    ]
    executed = nbformat.read(only_run_dir() / "failing_check.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "still ran\n"  # ... to the end


def test_the_same_check_passes_with_another_parameter() -> None:
    assert run_cli(str(FIXTURES / "failing_check.ipynb"), "-p", "threshold", "3") == 0
    assert result_of(only_run_dir())["status"] == "ok"


def test_a_cell_error_fails_the_run_and_says_where() -> None:
    assert run_cli(str(FIXTURES / "raises.ipynb")) == 1
    run_dir = only_run_dir()
    result = result_of(run_dir)
    assert result["status"] == "failed"
    assert result["error"] == {
        "ename": "ValueError", "evalue": "boom from the fixture", "cell_index": 3, "execution_count": 3,
    }  # fmt: skip
    assert result["checks"] == [{"name": "before", "ok": True, "detail": ""}]
    executed = nbformat.read(run_dir / "raises.ipynb", as_version=4)
    # papermill's error banner is on top, and the html export exists for failed runs too.
    assert "papermill-error-cell-tag" in executed.cells[0].metadata.get("tags", [])
    assert (run_dir / "raises.html").exists()


def test_a_cell_timeout_is_recorded_with_the_partial_notebook() -> None:
    assert run_cli(str(FIXTURES / "many_cells.ipynb"), "-p", "seconds", "30", "--timeout", "3") == 1
    run_dir = only_run_dir()
    result = result_of(run_dir)
    assert result["status"] == "failed"
    assert result["error"]["ename"] == "CellTimeoutError"
    executed = nbformat.read(run_dir / "many_cells.ipynb", as_version=4)
    assert result["error"]["cell_index"] == len(executed.cells) - 1
    assert executed.cells[-2].execution_count is not None  # the cells before it did run


def test_runs_of_the_same_notebook_in_one_second_get_distinct_directories() -> None:
    first = runbook.run(FIXTURES / "no_params.ipynb")
    second = runbook.run(FIXTURES / "no_params.ipynb")
    assert first.output_dir != second.output_dir
    assert len(list(Path("runs").iterdir())) == 2


def test_the_output_notebook_is_written_once_not_per_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    from papermill.iorw import papermill_io

    writes: list[str] = []
    real_write = papermill_io.write

    def counting_write(buf: str, path: str, *args: object, **kwargs: object) -> object:
        writes.append(path)
        return real_write(buf, path, *args, **kwargs)

    monkeypatch.setattr(papermill_io, "write", counting_write)
    result = runbook.run(FIXTURES / "many_cells.ipynb")
    assert result.ok
    nb = nbformat.read(FIXTURES / "many_cells.ipynb", as_version=4)
    assert len(nb.cells) > 10
    assert writes == [str(Path(result.output_dir) / "many_cells.ipynb")]


def test_secrets_never_reach_result_json() -> None:
    secret = "s3cr3t-t0ken-value"
    assert run_cli(str(FIXTURES / "params.ipynb"), "-p", "api_token", secret) == 0
    run_dir = only_run_dir()
    text = (run_dir / "result.json").read_text()
    assert secret not in text
    result = json.loads(text)
    assert result["parameters"]["api_token"] == runbook.REDACTED
    assert {"name": "token-seen", "ok": True, "detail": f"token={runbook.REDACTED}"} in result["checks"]


def test_record_check_outside_the_runner_only_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(runbook.CHECKS_ENV, raising=False)
    runbook.record_check("a", True, "fine")
    runbook.record_check("b", 0, "")
    assert capsys.readouterr().out == "PASS a: fine\nFAIL b\n"


def test_directories_expand_to_their_notebooks() -> None:
    found = runbook.find_notebooks([FIXTURES])
    assert [p.name for p in found] == sorted(p.name for p in FIXTURES.glob("*.ipynb"))


# --- the real notebook, end to end against the sandbox ----------------------


def test_start_here_passes_against_the_sandbox(sandbox_env: object) -> None:
    result = runbook.run(START_HERE)
    assert result.status == "ok", result.to_dict()
    assert [c["name"] for c in result.checks] == ["zones", "nodes-per-zone", "kubectl-agrees"]
    record = (Path(result.output_dir) / "result.json").read_text()
    token = re.search(r"token: (\S+)", Path(sandbox_env.kubeconfig).read_text())  # type: ignore[attr-defined]
    if token:
        assert token.group(1) not in record


def test_start_here_fails_when_its_expectations_are_not_met(sandbox_env: object) -> None:
    assert run_cli(str(START_HERE), "-p", "min_nodes_per_zone", "50") == 1
    result = result_of(only_run_dir())
    assert result["status"] == "failed" and result["error"] is None
    failed = [c for c in result["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["nodes-per-zone"]


def test_html_export_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the HTML export tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    nb = nbformat.read(FIXTURES / "params.ipynb", as_version=4)
    runbook._export_html(nb, Path("out.html"))
    assert "a secret that must never reach result.json" in Path("out.html").read_text()


# --- committed notebooks ----------------------------------------------------


def load_strip_tool():  # tools/ is not a package
    spec = importlib.util.spec_from_file_location("strip_notebook", REPO / "tools" / "strip_notebook.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strip_drops_run_metadata_and_keeps_outputs() -> None:
    result = runbook.run(FIXTURES / "params.ipynb", {"n": 3})
    executed = nbformat.read(Path(result.output_dir) / "params.ipynb", as_version=4)
    assert "papermill" in executed.metadata
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)

    stripped = load_strip_tool().strip(executed)
    assert set(stripped.metadata) == {"kernelspec", "language_info"}
    assert not any("papermill" in c.metadata or "execution" in c.metadata for c in stripped.cells)
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in stripped.cells)
    code = [c for c in stripped.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert "PASS n-positive: n=3" in code[-1].outputs[0]["text"]


def test_committed_notebooks_are_stripped() -> None:
    strip_notebook = load_strip_tool()
    notebooks = sorted(str(p) for p in (REPO / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert notebooks
    assert strip_notebook.main(["--check", *notebooks]) == 0
