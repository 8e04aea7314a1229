"""``kubekit docs build``: a static site of executed notebooks, one page each and an index.

One build, through the command, of a small lesson (a plot and a widget) and the
fixture whose check fails: pages in lesson order, the failing one marked failed in
the index and the exit code 1, plots and widget state embedded in the page, the
date and versions stated, and an earlier site replaced, not merged.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Built:
    site: Path
    done: subprocess.CompletedProcess[str]
    build: dict


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    d = tmp_path_factory.mktemp("docs")
    lesson = d / "01-small-lesson.ipynb"
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("# Pets in three zones\n\nA plot and a widget."),
        new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                      "plt.bar(['a', 'b', 'c'], [2, 2, 2]); plt.title('pets per zone'); plt.show()"),
        new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=3, description='replicas')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), lesson)
    site = d / "site"
    site.mkdir()
    (site / "stale.html").write_text("from an earlier build")
    done = subprocess.run([sys.executable, "-m", "kubekit", "docs", "build", "--no-sandbox", "--output", str(site),
                           "--notebooks", str(lesson), str(FIXTURES / "failing_check.ipynb")],
                          cwd=d, capture_output=True, text=True, timeout=300)
    return Built(site, done, json.loads((site / "build.json").read_text()))


def test_a_failing_notebook_fails_the_build_and_is_marked_in_the_index(built: Built) -> None:
    assert built.done.returncode == 1, built.done.stderr
    pages = built.build["pages"]
    assert [(p["order"], p["html"], p["status"]) for p in pages] == [
        (1, "01-small-lesson.html", "ok"), (2, "02-failing_check.html", "failed")]
    assert built.build["failed"] == 1
    assert pages[1]["error"] == "failed checks: above-threshold" and pages[1]["checks"] == 2
    index = (built.site / "index.html").read_text()
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td><a href=\"([^\"]+)\">([^<]+)</a>.*?"
                      r"<td class=\"num\">([\d.]+) s</td><td><span class=\"(\w+)\">", index)
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("1", "01-small-lesson.html", "Pets in three zones", "ok"), ("2", "02-failing_check.html", "failing_check",
                                                                    "failed")]
    assert all(float(r[3]) > 0 for r in rows)  # durations
    assert "1 of 2 notebooks failed" in index


def test_the_index_states_date_and_versions(built: Built) -> None:
    index = (built.site / "index.html").read_text()
    versions = built.build["versions"]
    assert set(versions) == {"kubekit", "kubernetes client", "kubectl", "moto", "python"}
    assert re.fullmatch(r"v\d+\.\d+\.\d+.*", versions["kubectl"]) and versions["python"].startswith("3.")
    for name, version in versions.items():
        assert f"<li>{name} {version}</li>" in index
    assert re.search(r"Made \d{4}-\d\d-\d\d \d\d:\d\d UTC", index)


def test_pages_embed_plots_and_widget_state(built: Built) -> None:
    page = (built.site / "01-small-lesson.html").read_text()
    assert "data:image/png;base64," in page  # the plot, inline
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    assert state, "no widget state in the page"
    models = json.loads(state.group(1))["state"]
    assert any(m["state"].get("description") == "replicas" and m["state"].get("value") == 3 for m in models.values())
    failed = (built.site / "02-failing_check.html").read_text()
    assert "FAIL above-threshold" in failed


def test_the_site_is_replaced_not_merged(built: Built) -> None:
    assert sorted(p.name for p in built.site.iterdir()) == [
        "01-small-lesson.html", "02-failing_check.html", "build.json", "index.html"]
