"""The widgets in a real browser: JupyterLab in headless Chromium, driven by Playwright.

A private sandbox (instant timing profile) and a private JupyterLab on 127.0.0.1 serve a
small notebook that deploys two pets and shows the live map and the drill panel. Chromium
(Debian's, /usr/bin/chromium; Playwright's own browsers are never downloaded) opens it,
runs all cells, and the test checks that the widgets rendered, presses "kill a pet" and
checks that the panel reacted: the fault and the pet's deletion appear on the live
timeline and the pet comes back Ready on the live map. A screenshot is kept under the
test's tmp dir and copied to runs/browser/ (gitignored).

Chromium is installed by ``make browser-deps`` (``make test`` runs it as root); without
it the test is skipped with that reason. Only loopback is reachable: the browser resolves
no other host and the page's requests to anything but 127.0.0.1 are aborted.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

from kubekit import sandbox as kk_sandbox
from kubekit.sandbox import awsconfig
from kubesim.testing import eventually

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KUBEKIT_CHROMIUM", "/usr/bin/chromium")
NAMESPACE, NAME = "browser", "web"
# A simulated container (no process, no probes): the test is about the widgets, and stays quick on a busy machine.
IMAGE = "registry.k8s.io/pause:3.10"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    # resolve nothing but loopback: no traffic leaves the machine, whatever a page or Chromium wants
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed: run `make browser-deps` (apt-get install chromium) as root",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: run `make venv`")

pytestmark = pytest.mark.timeout(300)

CELLS = [
    ("markdown", "# The drill panel in a browser"),
    ("code", "from kubekit import cluster, pets, widgets\n\n"
             "kc = cluster.connect(context='sandbox')\n"
             f"ps = pets.PetSet({NAME!r}, namespace={NAMESPACE!r}, replicas=2, workload={IMAGE!r})\n"
             "rollout = pets.deploy(kc, ps)\n"
             "print('ready:', ' '.join(rollout.ready))"),
    ("code", "widgets.show(kc, ps)"),
    ("code", "panel = widgets.drill_panel(kc, ps)\npanel"),
]


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in CELLS]
    nbformat.write(nb, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Future[Any]]]:
    """A private sandbox (instant profile), started in the background while JupyterLab starts."""
    home = tmp_path_factory.mktemp("browser-sandbox")
    start = time.monotonic()
    pool = ThreadPoolExecutor(1, thread_name_prefix="browser-sandbox")
    started = pool.submit(kk_sandbox.up, home=home, profile="instant")
    started.add_done_callback(lambda _f: print(f"\nbrowser test: sandbox up in {time.monotonic() - start:.1f} s"))
    try:
        yield home, started
    finally:
        with contextlib.suppress(Exception):  # CPU seconds: wall time on a shared machine says little
            daemon = psutil.Process(started.result().pid).cpu_times()
            own = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(f"\nbrowser test: CPU s: sandbox daemon {daemon.user + daemon.system:.1f}, pytest + JupyterLab + "
                  f"kernel + Chromium {own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime:.1f}")
        kk_sandbox.down(home=home)
        pool.shutdown()


@pytest.fixture(scope="module")
def lab(sandbox_home: tuple[Path, Future[Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab on 127.0.0.1 with a token, private config and settings, the sandbox in its environment."""
    home, sandbox_started = sandbox_home
    base = tmp_path_factory.mktemp("lab")
    root, conf = base / "root", base / "jupyter-config"
    root.mkdir()
    conf.mkdir()
    write_notebook(root / "panel.ipynb")
    news = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "get notified about Jupyter news?" prompt
    (conf / "jupyter_server_config.json").write_text(json.dumps({"LabApp": {
        "news_url": None, "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "extension_manager": "readonly", "expose_app_in_browser": True}}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "KUBEKIT_HOME": str(home), "KUBECONFIG": str(home / "kubeconfig"),
           **awsconfig.env_lines(home), "JUPYTER_CONFIG_DIR": str(conf),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "IPYTHONDIR": str(base / "ipython"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("KUBEKIT_LIVE", None)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (base / "jupyterlab.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    try:
        def up() -> bool:
            assert proc.poll() is None, "JupyterLab exited:\n" + (base / "jupyterlab.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        eventually("JupyterLab answers", up, timeout=60, interval=0.25)
        print(f"browser test: JupyterLab answers in {time.monotonic() - start:.1f} s")
        sandbox_started.result(timeout=180)
        yield {"url": url, "token": token, "log": base / "jupyterlab.log"}
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


@pytest.fixture
def page(lab: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1100})
        # Belt and braces with --host-resolver-rules: a request that is not for loopback never leaves.
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else route.abort())
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


TIMELINE_HAS = """([pod, what]) => [...document.querySelectorAll('.kubekit-timeline tr.kubekit-timeline-row')]
  .some(tr => tr.cells[2].textContent === pod && tr.cells[3].textContent.startsWith(what))"""


def keep_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page PNG under the test's tmp dir, copied to runs/browser/."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    runs = REPO / "runs" / "browser"
    runs.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, runs / shot.name)
    return shot


def test_drill_panel_renders_and_reacts_in_jupyterlab(lab: dict[str, Any], page: Any, tmp_path: Path) -> None:
    try:
        drive(lab, page, tmp_path)
    except BaseException:
        with contextlib.suppress(Exception):  # what the browser showed when it failed
            print("failure screenshot:", keep_screenshot(page, tmp_path, "jupyterlab-failure.png"))
        raise


def drive(lab: dict[str, Any], page: Any, tmp_path: Path) -> None:
    start = time.monotonic()

    def step(what: str) -> None:
        print(f"browser test: {what} at {time.monotonic() - start:.1f} s")

    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}/lab/tree/panel.ipynb?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    # The kernel of the notebook is up and idle, then run every cell through JupyterLab's own command.
    page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle'; }""", timeout=90_000)
    step("notebook open, kernel idle")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # do not await it

    # Until the panel is there or a cell failed (then say which error, not just "timeout").
    page.wait_for_function("""() => document.querySelector('.kubekit-drill-panel') ||
        document.querySelector('[data-mime-type="application/vnd.jupyter.error"]')""", timeout=90_000)
    errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, "a cell failed:\n" + "\n".join(errors.all_inner_texts())[-3000:]
    panel = page.locator(".kubekit-drill-panel")
    panel.wait_for(state="visible")
    step("cells run, panel shown")
    assert page.locator(".kubekit-live-map").count() == 2, "the map of widgets.show and the panel's own map"
    for label in ("kill a pet", "stop a node", "lose a zone", "restore"):
        assert panel.get_by_role("button", name=label).is_visible(), label
    live_map = panel.locator(".kubekit-live-map")
    for pet in (f"{NAME}-0", f"{NAME}-1"):
        sync_api.expect(live_map).to_contain_text(f"{pet} Ready")
    sync_api.expect(panel.locator(".kubekit-timeline")).to_contain_text("nothing yet")

    panel.get_by_role("button", name="kill a pet").click()
    step("clicked 'kill a pet'")
    victim = f"pod/{NAMESPACE}/{NAME}-0"
    timeline = panel.locator(".kubekit-timeline")
    sync_api.expect(timeline).to_contain_text(f"kill a pet: delete pod {NAME}-0", timeout=30_000)
    for what in ("pod-created", "pod-ready"):  # a new pod of the same name, Ready (the deletion may scroll off)
        page.wait_for_function(TIMELINE_HAS, arg=[victim, what], timeout=30_000)
    sync_api.expect(live_map).to_contain_text(f"{NAME}-0 Ready")
    step("the pet is back")
    took = time.monotonic() - start

    panel.scroll_into_view_if_needed()
    shot = keep_screenshot(page, tmp_path, "jupyterlab-drill-panel.png")
    assert shot.stat().st_size > 10_000
    print(f"browser part: {took:.1f} s; screenshot {shot}")
