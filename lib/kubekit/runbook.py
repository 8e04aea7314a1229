"""Run notebooks headless as runbooks, and record what happened.

``run(notebook, parameters)`` executes a notebook with papermill (in this
process, through its Python API) into ``runs/<UTC time>-<name>/``::

    runs/20261126T150102Z-00-start-here/
      00-start-here.ipynb   the executed notebook (papermill's error banner if a cell failed)
      00-start-here.html    the same, exported with nbconvert (no network)
      result.json           parameters, start/end, duration, status, error, checks

Parameters are checked against the notebook's ``parameters`` cell
(``name: type = default  # help``) before anything runs or is written: an
unknown name or a value of the wrong type raises ParameterError.

Checks: a notebook calls ``record_check(name, ok, detail)``. Under the runner
each call is appended to the file named by ``$KUBEKIT_CHECKS_FILE`` (set for
the kernel by the runner) and ends up in ``result.json``; any failed check
makes the run ``failed``. Outside the runner (JupyterLab, nbval) the check is
only printed, ``PASS name: detail`` or ``FAIL name: detail``, so nbval sees a
failing check as an output mismatch.

This module imports papermill and nbconvert lazily: notebooks import it for
``record_check`` and should not pay for papermill in their kernel.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

CHECKS_ENV = "KUBEKIT_CHECKS_FILE"
RESULT_FILE = "result.json"
REDACTED = "<redacted>"
# Parameter names whose values never reach result.json.
SECRET_NAME = re.compile(r"token|secret|password|passwd|credential|private_key|access_key|api_key", re.I)


class ParameterError(ValueError):
    """A parameter the notebook does not declare, or a value of the wrong type."""


# --- checks -----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One verification a notebook made."""

    name: str
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}" + (f": {self.detail}" if self.detail else "")


def record_check(name: str, ok: bool, detail: str = "") -> None:
    """Record a check: printed always, and written for the runner when it runs the notebook.

    ``detail`` is shown next to the result; keep it deterministic (no times or
    ids) so that executed notebooks stay comparable.
    """
    check = Check(str(name), bool(ok), str(detail))
    path = os.environ.get(CHECKS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(check)) + "\n")
    print(check)


def _read_checks(path: Path) -> list[Check]:
    if not path.exists():
        return []
    return [Check(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- parameters -------------------------------------------------------------

_SIMPLE_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
_GENERIC = re.compile(r"^(?:typing\.)?(List|Dict|list|dict|Sequence|Mapping)\[.*\]$")
_OPTIONAL = re.compile(r"^(?:typing\.)?Optional\[(.*)\]$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Parameter:
    """One line of a notebook's ``parameters`` cell."""

    name: str
    type_name: str  # as written in the annotation; "" when absent and not inferable
    default: Any  # the literal default, or its source text when it is not a literal
    help: str

    @property
    def type(self) -> type | None:
        base = _OPTIONAL.sub(r"\1", self.type_name).strip()
        generic = _GENERIC.match(base)
        if generic:
            base = generic.group(1).lower().replace("sequence", "list").replace("mapping", "dict")
        return _SIMPLE_TYPES.get(base)

    @property
    def optional(self) -> bool:
        return bool(_OPTIONAL.match(self.type_name)) or self.type_name in ("None", "NoneType")


def notebook_parameters(notebook: str | os.PathLike[str]) -> dict[str, Parameter]:
    """The parameters a notebook declares, by name, in cell order (papermill's inspection)."""
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    # papermill's loader also fills in the cell metadata its inspection expects.
    nb = load_notebook_node(os.fspath(notebook))
    declared: dict[str, Parameter] = {}
    for p in _infer_parameters(nb):
        try:
            default = ast.literal_eval(p.default)
        except (ValueError, SyntaxError):
            default = p.default
        type_name = "" if p.inferred_type_name == "None" else p.inferred_type_name
        if not type_name and default is not None and type(default).__name__ in _SIMPLE_TYPES:
            type_name = type(default).__name__
        declared[p.name] = Parameter(p.name, type_name, default, p.help or "")
    return declared


def _from_text(param: Parameter, text: str) -> Any:
    """Convert a command-line string to the parameter's declared type."""
    kind = param.type
    if param.optional and text.lower() in ("none", "null"):
        return None
    if kind is str:
        return text
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    value = yaml.safe_load(text) if text.strip() else text
    return _typed(param, value)


def _typed(param: Parameter, value: Any) -> Any:
    """Check an already-typed value (from YAML or Python) against the declared type."""
    kind = param.type
    if kind is None or (value is None and param.optional):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise ValueError
    if not isinstance(value, kind):
        raise ValueError
    return value


def validate_parameters(
    notebook: str | os.PathLike[str],
    values: Mapping[str, Any] | None = None,
    text_values: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Check parameters against the notebook's ``parameters`` cell and convert them.

    ``values`` are typed (YAML, Python); ``text_values`` are ``(name, string)``
    pairs from the command line, converted to the declared type. Text values
    win over typed ones. Raises ParameterError naming the notebook and the
    parameter.
    """
    declared = notebook_parameters(notebook)
    name = Path(notebook).name
    known = ", ".join(declared) or "none; it has no cell tagged 'parameters'"
    result: dict[str, Any] = {}
    pairs: list[tuple[str, Any, bool]] = [(k, v, False) for k, v in (values or {}).items()]
    pairs += [(k, v, True) for k, v in text_values]
    for key, value, is_text in pairs:
        param = declared.get(key)
        if param is None:
            raise ParameterError(f"{name} has no parameter {key!r} (it has: {known})")
        try:
            result[key] = _from_text(param, value) if is_text else _typed(param, value)
        except (ValueError, TypeError, yaml.YAMLError):
            want = param.type_name or "a value"
            raise ParameterError(f"{name}: parameter {key!r} expects {want}, got {value!r}") from None
    return result


# --- secrets ----------------------------------------------------------------


def _kubeconfig_secrets() -> set[str]:
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    paths.append(str(Path(os.environ.get("KUBEKIT_HOME") or "~/.kubekit").expanduser() / "kubeconfig"))
    found: set[str] = set()
    for path in paths:
        try:
            cfg = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for user in cfg.get("users") or []:
            creds = (user or {}).get("user") or {}
            found.update(str(creds[k]) for k in ("token", "password", "client-key-data") if creds.get(k))
    return found


def _secrets(parameters: Mapping[str, Any]) -> set[str]:
    found = {str(v) for k, v in parameters.items() if SECRET_NAME.search(k) and v not in (None, "")}
    found |= {os.environ[k] for k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if os.environ.get(k)}
    found |= _kubeconfig_secrets()
    return {s for s in found if len(s) >= 4}


def _scrub(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


# --- running ----------------------------------------------------------------


@dataclass
class RunResult:
    """What ``result.json`` holds."""

    notebook: str
    name: str
    output_dir: str
    parameters: dict[str, Any]
    overridden: list[str]
    start: str
    end: str = ""
    duration_s: float = 0.0
    status: str = "failed"  # ok | failed
    error: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache
def _register_engine() -> str:
    """Register the papermill engine that writes the output notebook once.

    Why: papermill's NotebookExecutionManager calls ``save()``, which rewrites
    the whole output notebook, in ``notebook_start`` and in *every*
    ``cell_start`` and ``cell_complete`` (papermill 2.7.0 engines.py), i.e.
    twice per cell; ``autosave_cell_every`` only governs the extra saves
    during a long-running cell and does not turn those off. On long
    runbooks those rewrites cost seconds. ``execute_notebook(...,
    request_save_on_cell_execute=False)`` hands the engine
    ``output_path=None`` so every ``save()`` is a no-op, and papermill writes
    the notebook once when execution ends (with its error banner if a cell
    failed). That final write is skipped when the engine itself raises
    (cell timeout, dead kernel), so this engine writes the partial notebook
    in exactly that case. Result: one write per run, whatever the length.
    """
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.iorw import write_ipynb

    class _WriteOnceEngine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, **kwargs):  # type: ignore[no-untyped-def]
            final_path = kwargs.pop("kubekit_output_path", None)
            try:
                return super().execute_notebook(nb, kernel_name, output_path=None, **kwargs)
            except BaseException:
                if final_path:
                    write_ipynb(nb, final_path)  # papermill does not write after an engine exception
                raise

    papermill_engines.register("kubekit", _WriteOnceEngine)
    return "kubekit"


def kernel_config(socket_dir: str) -> Any:
    """Kernel manager settings: channels over Unix sockets in ``socket_dir``.

    Local-only by construction, no "running over TCP without encryption"
    warning on stderr from every kernel, and a private absolute socket path so
    that parallel runs in one directory cannot collide (jupyter_client's
    default IPC path is a relative ``kernel-ipc``).
    """
    from traitlets.config import Config

    if os.name != "posix":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(socket_dir, "kernel")}})


def _new_run_dir(output_root: Path, name: str, when: datetime) -> Path:
    output_root.mkdir(parents=True, exist_ok=True)
    stem = f"{when.strftime('%Y%m%dT%H%M%SZ')}-{name}"
    for n in range(1, 1000):
        candidate = output_root / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run directory for {stem} under {output_root}")


def _export_html(nb: Any, path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


def _last_started_cell(nb: Any) -> int | None:
    started = [i for i, c in enumerate(nb.cells) if (c.metadata.get("papermill") or {}).get("start_time")]
    return started[-1] if started else None


def run(
    notebook: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    text_parameters: Iterable[tuple[str, str]] = (),
    output_root: str | os.PathLike[str] = "runs",
    timeout: float | None = None,
    kernel_name: str | None = None,
) -> RunResult:
    """Execute ``notebook`` into a new run directory and return its record.

    ``timeout`` is per cell, in seconds (papermill's execution timeout). The
    kernel runs in the notebook's own directory, as in JupyterLab and nbval.
    Raises ParameterError (and writes nothing) for bad parameters; every other
    failure is recorded in the result with status ``failed``.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb_path = Path(notebook)
    if not nb_path.is_file():
        raise FileNotFoundError(f"no such notebook: {nb_path}")
    given = validate_parameters(nb_path, parameters, list(text_parameters))
    declared = notebook_parameters(nb_path)
    effective = {name: p.default for name, p in declared.items()} | given

    started = datetime.now(timezone.utc)
    run_dir = _new_run_dir(Path(output_root), nb_path.stem, started)
    out_nb = run_dir / nb_path.name
    checks_file = run_dir / ".checks.jsonl"
    result = RunResult(
        notebook=str(nb_path),
        name=nb_path.stem,
        output_dir=str(run_dir),
        parameters=effective,
        overridden=sorted(given),
        start=started.isoformat(timespec="milliseconds"),
    )

    engine = _register_engine()
    sockets = tempfile.TemporaryDirectory(prefix="kubekit-kernel-")
    previous = os.environ.get(CHECKS_ENV)
    os.environ[CHECKS_ENV] = str(checks_file.absolute())  # the kernel inherits this
    t0 = time.monotonic()
    try:
        papermill.execute_notebook(
            str(nb_path),
            str(out_nb),
            parameters=given,
            engine_name=engine,
            kubekit_output_path=str(out_nb),
            request_save_on_cell_execute=False,  # see _register_engine
            autosave_cell_every=0,
            progress_bar=False,
            log_output=False,
            kernel_name=kernel_name,
            execution_timeout=timeout,
            cwd=str(nb_path.parent),
            config=kernel_config(sockets.name),
        )
    except PapermillExecutionError as exc:
        result.error = {
            "ename": exc.ename,
            "evalue": exc.evalue,
            "cell_index": exc.cell_index,
            "execution_count": exc.exec_count,
        }
    except Exception as exc:  # timeouts, dead kernels, missing kernels: recorded, not raised
        result.error = {"ename": type(exc).__name__, "evalue": str(exc), "cell_index": None}
    finally:
        sockets.cleanup()
        if previous is None:
            os.environ.pop(CHECKS_ENV, None)
        else:
            os.environ[CHECKS_ENV] = previous
    ended = datetime.now(timezone.utc)
    result.end = ended.isoformat(timespec="milliseconds")
    result.duration_s = round(time.monotonic() - t0, 3)

    checks = _read_checks(checks_file)
    checks_file.unlink(missing_ok=True)
    result.checks = [asdict(c) for c in checks]
    result.status = "ok" if result.error is None and all(c.ok for c in checks) else "failed"

    result.files = {"notebook": None, "html": None}
    if out_nb.exists():
        result.files["notebook"] = out_nb.name
        from .secrets_scan import redact_file

        redact_file(out_nb)  # credentials, tokens, account ids never reach a run record (nor its HTML)
        executed = nbformat.read(str(out_nb), as_version=4)
        if result.error is not None and result.error.get("cell_index") is None:
            result.error["cell_index"] = _last_started_cell(executed)
        try:
            _export_html(executed, run_dir / f"{nb_path.stem}.html")
            result.files["html"] = f"{nb_path.stem}.html"
        except Exception as exc:  # the run itself stands; say why there is no HTML
            result.files["html_error"] = f"{type(exc).__name__}: {exc}"

    record = _scrub(result.to_dict(), _secrets(effective))
    record["parameters"] = {
        k: (REDACTED if SECRET_NAME.search(k) and v not in (None, "") else v) for k, v in record["parameters"].items()
    }
    from .secrets_scan import redact_data

    record, _ = redact_data(record)
    (run_dir / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return result


def find_notebooks(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand directories to the notebooks under them (sorted); keep files as given."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file()
            )
        else:
            found.append(path)
    return found
