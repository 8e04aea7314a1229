"""Documentation snapshots: execute every notebook against a fresh sandbox and publish a static site.

``build(["notebooks"], output="site")`` (``kubekit docs build``, ``make docs``):

1. starts a fresh sandbox in a private, temporary ``KUBEKIT_HOME`` (never the user's),
   so the site shows what a new trainee sees;
2. runs each notebook in lesson order (file name order: ``00-…``, ``01-…``) with the
   runbook runner (:func:`kubekit.runbook.run`): papermill, the checks, the HTML export
   with nbconvert's ``lab`` template, which embeds plots (PNG) and the widget state
   nbclient stored, so widgets render in the page;
3. writes ``site/``: one ``<notebook>.html`` per notebook, ``index.html`` (lesson order,
   title, duration, status, checks of each; the date and the versions of kubekit, the
   kubernetes client, kubectl, moto and Python it was made with) and ``build.json``
   (the same, for machines);
4. stops the sandbox and removes its home.

Nothing published carries a credential, a token or an account id: every page and the
index go through :mod:`kubekit.secrets_scan` before they are written. The site is
built next to ``output`` and swapped in at the end. A failed notebook is still
published (with papermill's error banner), is marked failed in the index, and makes
``Site.failed`` non-zero (the command then exits 1).
"""

from __future__ import annotations

import html
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import secrets_scan


@dataclass
class Page:
    """One notebook of the site."""

    order: int
    notebook: str  # path as given
    title: str
    html: str  # file name inside the site
    status: str  # ok | failed
    duration_s: float
    checks_passed: int = 0
    checks: int = 0
    error: str = ""


@dataclass
class Site:
    """What ``build`` made."""

    output: str
    index: str
    made: str  # UTC date and time
    versions: dict[str, str]
    pages: list[Page] = field(default_factory=list)
    duration_s: float = 0.0
    redactions: int = 0  # secrets replaced on the way to the site
    sandbox: bool = True  # executed against a fresh sandbox

    @property
    def failed(self) -> int:
        return sum(1 for p in self.pages if p.status != "ok")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def versions() -> dict[str, str]:
    """The versions a site states it was made with."""
    from importlib import metadata

    from .cluster import kubectl_version

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        kubectl = kubectl_version()
    except Exception as exc:  # the site still says what is missing
        kubectl = f"unavailable ({type(exc).__name__})"
    return {"kubekit": dist("kubekit"), "kubernetes client": dist("kubernetes"), "kubectl": kubectl,
            "moto": dist("moto"), "python": platform.python_version()}


def title_of(notebook: str | os.PathLike[str]) -> str:
    """The notebook's first Markdown heading, else its file name."""
    import nbformat

    nb = nbformat.read(os.fspath(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return Path(notebook).stem


@contextmanager
def fresh_sandbox(profile: str = "fast", timeout: float = 120.0) -> Iterator[Path]:
    """A new sandbox in a temporary KUBEKIT_HOME, pointed at by the environment (kernels inherit it)."""
    from . import sandbox

    home = Path(tempfile.mkdtemp(prefix="kubekit-docs-"))
    saved = {k: os.environ.get(k) for k in ("KUBEKIT_HOME", "KUBECONFIG")}
    os.environ["KUBEKIT_HOME"] = str(home)
    os.environ["KUBECONFIG"] = str(home / "kubeconfig")
    try:
        sandbox.up(home=home, profile=profile, timeout=timeout)
        yield home
    finally:
        try:
            sandbox.down(home=home)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            shutil.rmtree(home, ignore_errors=True)


def build(notebooks: Iterable[str | os.PathLike[str]] = ("notebooks",), output: str | os.PathLike[str] = "site", *,
          timeout: float | None = 600.0, with_sandbox: bool = True, profile: str = "fast") -> Site:
    """Execute ``notebooks`` (files or directories, lesson order) and write the site to ``output``.

    ``with_sandbox=False`` runs them without starting one (notebooks that need none).
    Raises InvalidParameter when there is no notebook; a failing notebook does not raise.
    """
    from . import runbook
    from .errors import InvalidParameter

    found = runbook.find_notebooks(notebooks)
    if not found:
        raise InvalidParameter("notebooks", [os.fspath(n) for n in notebooks], "no notebook found there")
    missing = [str(p) for p in found if not p.is_file()]
    if missing:
        raise InvalidParameter("notebooks", missing, "no such notebook")
    out = Path(output)
    t0 = time.monotonic()
    made = datetime.now(timezone.utc)
    site = Site(output=str(out), index=str(out / "index.html"), made=made.strftime("%Y-%m-%d %H:%M UTC"),
                versions=versions(), sandbox=with_sandbox)
    building = out.with_name(f".{out.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    runs = Path(tempfile.mkdtemp(prefix="kubekit-docs-runs-"))
    try:
        context = fresh_sandbox(profile) if with_sandbox else _nothing()
        with context:
            for order, nb in enumerate(found, start=1):
                site.pages.append(_page(order, nb, runs, building, timeout, site))
        site.duration_s = round(time.monotonic() - t0, 1)
        (building / "build.json").write_text(_redacted(json.dumps(site.to_dict(), indent=2) + "\n", site))
        (building / "index.html").write_text(_redacted(render_index(site), site), encoding="utf-8")
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        building.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(runs, ignore_errors=True)
    return site


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def _redacted(text: str, site: Site) -> str:
    text, n = secrets_scan.redact_text(text)
    site.redactions += n
    return text


def _page(order: int, nb: Path, runs: Path, site_dir: Path, timeout: float | None, site: Site) -> Page:
    from . import runbook

    name = f"{order:02d}-{nb.stem}.html" if not nb.stem[:2].isdigit() else f"{nb.stem}.html"
    result = runbook.run(nb, output_root=runs, timeout=timeout)
    page = Page(order=order, notebook=str(nb), title=title_of(nb), html=name, status=result.status,
                duration_s=round(result.duration_s, 1), checks_passed=sum(1 for c in result.checks if c["ok"]),
                checks=len(result.checks))
    if result.error:
        page.error = f"cell {result.error.get('cell_index')}: {result.error['ename']}: {result.error['evalue']}"[:300]
    elif page.checks_passed < page.checks:
        page.error = "failed checks: " + ", ".join(c["name"] for c in result.checks if not c["ok"])
    produced = Path(result.output_dir) / (result.files.get("html") or "")
    if result.files.get("html") and produced.is_file():
        text = produced.read_text(encoding="utf-8")
    else:
        text = f"<html><body><h1>{html.escape(page.title)}</h1><p>No HTML export: " \
               f"{html.escape(str(result.files.get('html_error') or page.error))}</p></body></html>"
    (site_dir / name).write_text(_redacted(text, site), encoding="utf-8")
    return page


_STYLE = """body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}
.ok{color:#14703a;font-weight:600}.failed{color:#b00020;font-weight:600}.num{text-align:right}
footer,.meta{color:#555;font-size:13px}code{font-size:13px}"""


def render_index(site: Site) -> str:
    """The index page: lessons in order with title, duration, status and checks; date and versions."""
    e = html.escape
    rows = []
    for p in site.pages:
        status = f'<span class="{e(p.status)}">{e(p.status)}</span>'
        detail = f'<div class="meta">{e(p.error)}</div>' if p.error else ""
        rows.append(f'<tr><td class="num">{p.order}</td><td><a href="{e(p.html)}">{e(p.title)}</a>'
                    f'<div class="meta"><code>{e(p.notebook)}</code></div>{detail}</td>'
                    f'<td class="num">{p.duration_s:.1f} s</td><td>{status}</td>'
                    f'<td class="num">{p.checks_passed}/{p.checks}</td></tr>')
    versions = "".join(f"<li>{e(k)} {e(v)}</li>" for k, v in site.versions.items())
    where = "against a fresh sandbox" if site.sandbox else "without a sandbox"
    summary = "all notebooks passed" if not site.failed else f"{site.failed} of {len(site.pages)} notebooks failed"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>kubekit: lessons</title><style>{_STYLE}</style></head>
<body>
<h1>kubekit lessons</h1>
<p>Every notebook executed {where}; {e(summary)}.</p>
<table>
<thead><tr><th>#</th><th>lesson</th><th>duration</th><th>status</th><th>checks</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<footer>
<p>Made {e(site.made)} in {site.duration_s:.0f} s with:</p>
<ul id="versions">{versions}</ul>
</footer>
</body></html>
"""
