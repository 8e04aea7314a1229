"""Make notebooks commit-ready: keep outputs, drop what changes on every run.

    python tools/strip_notebook.py NOTEBOOK...            strip in place
    python tools/strip_notebook.py --check NOTEBOOK...    exit 1 if any would change
    python tools/strip_notebook.py --execute NOTEBOOK...  execute (against the cluster the
                                                          environment points at), then strip

Stripped: papermill's notebook and cell metadata (timings, parameters, paths),
execution timing metadata, widget state, papermill's error-banner and
injected-parameters cells, and the Python patch version in language_info.
Kept: sources, outputs, tags, cell ids, execution counts (renumbered 1..n).
A documentation snapshot is a notebook executed against a fresh sandbox and
then stripped; nbval re-executes it in ``make test`` and compares outputs.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import nbformat

VOLATILE_NB_METADATA = ("papermill", "widgets", "toc-autonumbering")
VOLATILE_CELL_METADATA = ("papermill", "execution", "ExecuteTime", "collapsed", "scrolled")
DROP_CELL_TAGS = ("papermill-error-cell-tag", "injected-parameters")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def strip(nb: Any) -> Any:
    """A stripped copy of ``nb`` (an nbformat v4 NotebookNode)."""
    nb = copy.deepcopy(nb)
    for key in VOLATILE_NB_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = nbformat.from_dict(KERNELSPEC)
    nb.metadata["language_info"] = nbformat.from_dict({"name": "python"})
    cells = []
    count = 0
    for cell in nb.cells:
        if set(cell.metadata.get("tags", [])) & set(DROP_CELL_TAGS):
            continue
        for key in VOLATILE_CELL_METADATA:
            if key == "collapsed" and cell.metadata.get("jupyter", {}).get("source_hidden"):
                continue  # an exercise's answer cell: collapsed on purpose
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            if cell.get("execution_count") is not None:
                count += 1
                cell.execution_count = count
                for output in cell.outputs:
                    if output.get("output_type") == "execute_result":
                        output["execution_count"] = count
        cells.append(cell)
    nb.cells = cells
    return nb


def execute(path: Path, timeout: float = 600) -> Any:
    """Execute a notebook in its own directory, as nbval and the runner do."""
    import tempfile

    from nbclient import NotebookClient

    from kubekit.runbook import kernel_config

    nb = nbformat.read(str(path), as_version=4)
    with tempfile.TemporaryDirectory(prefix="kubekit-kernel-") as sockets:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            config=kernel_config(sockets),
        ).execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="report notebooks that are not stripped")
    mode.add_argument("--execute", action="store_true", help="execute before stripping")
    args = parser.parse_args(argv)

    dirty = []
    for path in args.notebooks:
        original = path.read_text(encoding="utf-8")
        nb = execute(path) if args.execute else nbformat.reads(original, as_version=4)
        text = nbformat.writes(strip(nb)) + "\n"
        if text == original:
            continue
        if args.check:
            dirty.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    for path in dirty:
        print(f"{path}: not stripped; run python tools/strip_notebook.py {path}", file=sys.stderr)
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
