"""JupyterLab in Debian's chromium: the lab extension renders what a real kernel sends.

Starts a real JupyterLab server with the installed ``pyspark`` kernelspec and the
``pyspark-kernel-lab`` extension, opens notebooks in headless chromium (driven by
Playwright, using the system browser; Playwright's own browsers are never downloaded).
The first test runs a DataFrame cell and a multi-stage Spark job and checks the rendered
table, the live progress display and the Spark status bar item; the second checks the
``pyspark-kernel.v1`` channel: the status bar turns ready with the session, a streaming
display is live again after a page reload, Stop stops the query, and an idle kernel gets
no execute request from the page. Screenshots go to ``.ci/artifacts/browser/``.

Needs: ``playwright`` (PyPI) and ``/usr/bin/chromium`` (Debian's ``chromium``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".ci" / "artifacts" / "browser"
CHROMIUM = os.environ.get("PYSPARK_KERNEL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
NOTEBOOK = "browser_check.ipynb"
CELL_TABLE = (
    "df = spark.createDataFrame([(1, 'apple', 1.5), (2, None, 0.25)], "
    "'id int, name string, price double')"
)
CELL_JOB = (
    "spark.range(0, 20_000_000, 1, 8).selectExpr('id % 100 as k')"
    ".groupBy('k').count().orderBy('k').collect()[:1]"
)

# Waits, in milliseconds. The kernel is idle once it runs; its SparkSession (a JVM) is
# built in the background after that, which takes from 20 s to minutes on a busy machine.
KERNEL_START_MS = 60_000
SESSION_START_MS = 180_000
RENDER_MS = 60_000
JOB_MS = 120_000


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            data=None if body is None else json.dumps(body).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def notebook(self, name: str) -> dict[str, Any]:
        """The notebook as saved, read from its file. Not through the contents API: a read
        there while JupyterLab's save is under way takes the save's temporary file for a
        failed save's leftover and moves it into place, and both requests fail (500 for
        the read, 404 for the save: seen in CI). The server replaces the file whole, so
        the file is the last complete save; a read that still fails is tried again for
        up to 5 s."""
        deadline = time.monotonic() + 5
        while True:
            try:
                notebook: dict[str, Any] = json.loads((self.root / name).read_text())
                return notebook
            except (OSError, ValueError) as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"cannot read {name}: {exc}") from exc
                time.sleep(0.25)

    def tree_url(self, name: str, workspace: str | None = None) -> str:
        """The notebook in JupyterLab; in its own workspace when named, so that the
        notebooks other tests left open are not restored (nor their kernels started)."""
        lab = f"lab/workspaces/{workspace}" if workspace else "lab"
        return f"{self.url}/{lab}/tree/{name}?token={self.token}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_lab(lab: Lab) -> None:
    """Shut down the kernels, then the server; kill whatever it started that is left."""
    import psutil

    try:
        started = psutil.Process(lab.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    if lab.process.poll() is None:
        try:
            for kernel in lab.api("/api/kernels"):
                lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError):
            pass
        try:
            lab.api("/api/shutdown", method="POST")
        except (urllib.error.URLError, OSError):
            lab.process.send_signal(signal.SIGTERM)
        try:
            lab.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.process.kill()
            lab.process.wait(timeout=10)
    _gone, alive = psutil.wait_procs(started, timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A real JupyterLab server on a free port, with a random token, in a temporary root."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    settings = base / "settings"
    # No news toast over the notebook and no requests to the internet.
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    port = _free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "PYSPARK_KERNEL_PROGRESS_AFTER": "0",
        # The done summary is checked: it must stay however fast the job ran.
        "PYSPARK_KERNEL_PROGRESS_KEEP_AFTER": "0",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    log = base / "jupyter-lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.open_browser=False",
                "--ServerApp.port_retries=0",
                # CI containers run as root; the server refuses that unless told.
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        # While the server starts: the extension must be installed and enabled (in CI
        # by the wheel, under share/jupyter/labextensions/pyspark-kernel-lab).
        listed = subprocess.run(
            [sys.executable, "-m", "jupyter", "labextension", "list"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
        # Colours, if any, would split `enabled` from the line.
        extensions = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
        line = next((ln for ln in extensions.splitlines() if "pyspark-kernel-lab" in ln), "")
        assert "enabled" in line, (
            f"pyspark-kernel-lab is not an enabled lab extension:\n{extensions}"
        )

        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{_log_tail(log)}")
            try:
                with urllib.request.urlopen(
                    f"{lab.url}/api/status?token={token}", timeout=2
                ) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 60 s:\n{_log_tail(log)}")
            time.sleep(0.25)
        yield lab
    finally:
        _stop_lab(lab)


def _write_notebook(root: Path, name: str, cells: dict[str, str], kernel: str = "pyspark") -> str:
    """A notebook on the ``pyspark`` (or `kernel`) kernel with one code cell per (id, source)."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": cell_id,
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for cell_id, source in cells.items()
        ],
    }
    (root / name).write_text(json.dumps(nb, indent=1))
    return name


@pytest.fixture(scope="module")
def notebook(lab: Lab) -> str:
    return _write_notebook(lab.root, NOTEBOOK, {"table": CELL_TABLE, "job": CELL_JOB})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # launch() gives the browser a fresh temporary profile (user data dir) and removes it.
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from playwright.sync_api import Error as PlaywrightError

    # A fresh context is a fresh, empty profile (no cookies, storage or cache).
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(RENDER_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    try:
        yield pg
    finally:
        # The page as it was when the test ended, and what the console said.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PlaywrightError):
            pg.screenshot(path=str(ARTIFACTS / "last-page.png"), full_page=True)
        (ARTIFACTS / "console.txt").write_text("".join(f"{e}\n" for e in errors))
        context.close()
    ours = [e for e in errors if re.search(r"pysk|pyspark", e, re.IGNORECASE)]
    assert not ours, f"errors from the extension in the page: {ours}"


class Steps:
    """Seconds since the test began at each step, kept in `timings.txt` (also on failure)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.monotonic()
        path.write_text("")

    def __call__(self, step: str) -> None:
        with self.path.open("a") as f:
            f.write(f"{time.monotonic() - self.start:7.1f} s  {step}\n")


def _run_cell(page: Any, index: int) -> Any:
    """Select code cell `index` (command mode) and run it with Shift+Enter."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")
    return cell


def test_table_progress_and_status(lab: Lab, notebook: str, page: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    step = Steps(ARTIFACTS / "timings.txt")
    page.goto(lab.tree_url(notebook))

    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell")).to_have_count(2, timeout=RENDER_MS)
    step("notebook shown")
    # The kernel named in the notebook's metadata, started and idle.
    kernel_status = page.locator(".jp-StatusBar-Widget .jp-StatusBar-TextItem").filter(
        has_text=re.compile(r"^PySpark \| ")
    )
    expect(kernel_status).to_have_text("PySpark | Idle", timeout=KERNEL_START_MS)
    sessions = lab.api("/api/sessions")
    assert [s["kernel"]["name"] for s in sessions] == ["pyspark"], sessions
    step("kernel idle")
    # Status bar: the extension's item follows the SparkSession of this notebook's kernel
    # (pushed over the kernel channel) until it is ready.
    status = page.locator(".jp-StatusBar-Widget .pysk-Status")
    expect(status).to_have_attribute("data-state", "ready", timeout=SESSION_START_MS)
    expect(status.locator(".pysk-status-text")).to_have_text(re.compile(r"^Spark: ready\b"))
    step("status bar: Spark ready")

    # (1) a DataFrame bound to a variable: rendered as a typed table.
    cell = _run_cell(page, 0)
    table = cell.locator(".jp-OutputArea .pysk-Table")
    # The session's first jobs (and its first Python worker): slow on a busy machine.
    expect(table).to_be_visible(timeout=JOB_MS)
    step("table shown")
    expect(table.locator("th.pysk-th .pysk-col-name")).to_have_text(["id", "name", "price"])
    expect(table.locator("th.pysk-th .pysk-col-type")).to_have_text(["int", "string", "double"])
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(["1", "apple", "1.5"])
    expect(rows.nth(1).locator("td")).to_have_text(["2", "null", "0.25"])
    # The null is marked as such (not the string "null") and looks different from values.
    null = rows.nth(1).locator("td").nth(1).locator(".pysk-null")
    expect(null).to_have_text("null")
    style = "e => { const s = getComputedStyle(e); return [s.fontStyle, s.color]; }"
    null_style = null.evaluate(style)
    value_style = rows.nth(0).locator("td").nth(1).evaluate(style)
    assert null_style[0] == "italic" and value_style[0] != "italic", (null_style, value_style)
    assert null_style[1] != value_style[1], (null_style, value_style)
    badge = table.locator(".pysk-badge.pysk-source-direct_dataframe")
    expect(badge.locator(".pysk-badge-kind")).to_have_text("DataFrame")
    expect(badge.locator(".pysk-badge-detail")).to_have_text("df")
    expect(table.locator(".pysk-notice")).to_have_text("2 rows")
    # The lab renders our mime type, not the text/html fallback.
    expect(cell.locator(".jp-OutputArea table.dataframe")).to_have_count(0)
    expect(kernel_status).to_have_text("PySpark | Idle", timeout=RENDER_MS)
    cell.screenshot(path=str(ARTIFACTS / "table.png"))
    step("table checked")

    # (2) a multi-stage job: live progress while it runs, then the done summary.
    cell = _run_cell(page, 1)
    progress = cell.locator(".jp-OutputArea .pysk-Progress")
    # Read state, percent and jobs in one go in the page: the display changes 4 times a second.
    live = page.wait_for_function(
        """() => {
          const cells = document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
          const p = cells[1] && cells[1].querySelector('.pysk-Progress[data-state="running"]');
          if (!p || !p.querySelector('.pysk-job .pysk-bar')) { return null; }
          return {
            percent: Number(p.dataset.percent),
            jobs: p.querySelectorAll('.pysk-job').length,
            label: p.querySelector('.pysk-progress-label').textContent
          };
        }""",
        timeout=JOB_MS,
        polling="raf",
    ).json_value()
    assert 0 <= live["percent"] < 100, live
    assert live["jobs"] >= 1, live
    assert re.match(r"^Spark: \d+% of [\d,]+ tasks? · ", live["label"]), live
    cell.screenshot(path=str(ARTIFACTS / "progress-running.png"))
    step("progress running checked")

    expect(progress).to_have_attribute("data-percent", "100", timeout=JOB_MS)
    step("progress at 100%")
    expect(progress).to_have_attribute("data-state", "done")
    summary = progress.locator(".pysk-summary.pysk-summary-done .pysk-summary-text")
    expect(summary).to_have_text(re.compile(r"^\d+ jobs?, \d+ stages?, [\d,]+ tasks? in "))
    # The job's result is shown as well.
    expect(
        cell.locator(".jp-OutputArea-output").filter(has_text="Row(k=0, count=200000)")
    ).to_have_count(1)
    expect(kernel_status).to_have_text("PySpark | Idle", timeout=RENDER_MS)
    cell.screenshot(path=str(ARTIFACTS / "progress.png"))
    expect(status).to_have_attribute("data-state", "ready", timeout=RENDER_MS)
    page.screenshot(path=str(ARTIFACTS / "lab.png"))
    step("done")


# -- the pyspark-kernel.v1 channel ---------------------------------------------------------

CHANNEL_NOTEBOOK = "channel_check.ipynb"
STREAM_MIME = "application/vnd.pyspark-kernel.stream.v1+json"
TABLE_MIME = "application/vnd.pyspark-kernel.table.v1+json"
# Polls the session state in the kernel (no Spark name in the cell, so it runs while the
# session starts) and prints the wall time at which the session was ready.
CELL_READY = (
    "import json, time\n"
    "import pyspark_kernel as pk\n"
    "while json.loads(pk.status_json())['state'] != 'ready':\n"
    "    time.sleep(0.05)\n"
    "print(f'session ready at {time.time():.3f}')"
)
CELL_STREAM = (
    "ticks = (spark.readStream.format('rate').option('rowsPerSecond', 10).load()\n"
    "         .writeStream.format('noop').queryName('ticks')\n"
    "         .trigger(processingTime='1 second').start())"
)
CELL_CHECK = "print('active queries:', len(spark.streams.active))"
# The bound: an idle kernel receives no execute request from the page for 60 s.
IDLE_S = 60
# "Ready as soon as the session is": the status push goes out within 0.25 s of the
# change; the rest is margin for a loaded 2-core machine.
STATUS_LAG_S = 3.0

# Records, in the page, the first state the status bar item shows and when it first
# shows `ready` (installed before JupyterLab loads; runs again after a reload).
STATUS_WATCH = """
window.__pyskStatus = { first: null, readyAt: null };
new MutationObserver(() => {
  const item = document.querySelector('.pysk-Status[data-state]');
  const seen = window.__pyskStatus;
  if (!item) { return; }
  if (seen.first === null) { seen.first = item.dataset.state; }
  if (seen.readyAt === null && item.dataset.state === 'ready') { seen.readyAt = Date.now(); }
}).observe(document, {
  subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']
});
"""

# The batch shown by the stream display of code cell `index` (null before the first one).
STREAM_BATCH = """
(index) => {
  const cells = document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const dd = cells[index] && cells[index].querySelector('.pysk-Stream .pysk-metrics dd');
  const n = dd ? Number(dd.textContent) : NaN;
  return Number.isInteger(n) ? n : null;
}
"""


@dataclass
class Frame:
    at: float
    msg_type: str
    detail: str  # a comm request's op, or a status message's execution_state


class KernelTraffic:
    """The Jupyter messages on the page's kernel websockets, both ways, as the browser
    sent and received them (both wire protocols carry the header as JSON text)."""

    def __init__(self, page: Any) -> None:
        self.sent: list[Frame] = []
        self.received: list[Frame] = []
        page.on("websocket", self._on_socket)

    def _on_socket(self, ws: Any) -> None:
        if "/api/kernels/" not in ws.url:
            return
        ws.on("framesent", lambda payload: self._record(self.sent, payload))
        ws.on("framereceived", lambda payload: self._record(self.received, payload))

    @staticmethod
    def _record(into: list[Frame], payload: str | bytes) -> None:
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        # The header comes first: its msg_type is the message's.
        kind = re.search(r'"msg_type":\s*"(\w+)"', text)
        if kind is None:
            return
        detail = re.search(r'"(?:op|execution_state)":\s*"(\w+)"', text)
        into.append(Frame(time.monotonic(), kind.group(1), detail.group(1) if detail else ""))

    @staticmethod
    def between(frames: list[Frame], start: float, end: float) -> list[Frame]:
        return [f for f in frames if start <= f.at <= end]


def test_channel_status_reload_stop_and_idle(lab: Lab, page: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    step = Steps(ARTIFACTS / "timings-channel.txt")
    # One JVM at a time on this machine: the test before is done with its notebook.
    for session in lab.api("/api/sessions"):
        lab.api(f"/api/sessions/{session['id']}", method="DELETE")
    name = _write_notebook(
        lab.root,
        CHANNEL_NOTEBOOK,
        {"ready": CELL_READY, "stream": CELL_STREAM, "check": CELL_CHECK},
    )
    traffic = KernelTraffic(page)
    page.add_init_script(STATUS_WATCH)
    page.goto(lab.tree_url(name, workspace="channel"))

    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell")).to_have_count(3, timeout=RENDER_MS)
    kernel_status = page.locator(".jp-StatusBar-Widget .jp-StatusBar-TextItem").filter(
        has_text=re.compile(r"^PySpark \| ")
    )
    expect(kernel_status).to_have_text("PySpark | Idle", timeout=KERNEL_START_MS)
    status = page.locator(".jp-StatusBar-Widget .pysk-Status")
    step("kernel idle")

    # (1) The status bar reads ready as soon as the session is.
    cell = _run_cell(page, 0)
    printed = cell.locator(".jp-OutputArea-output").filter(has_text="session ready at")
    expect(printed).to_have_count(1, timeout=SESSION_START_MS)
    kernel_ready = float(re.findall(r"session ready at ([\d.]+)", printed.inner_text())[0])
    page.wait_for_function("() => window.__pyskStatus.readyAt !== null", timeout=RENDER_MS)
    seen = page.evaluate("() => window.__pyskStatus")
    # The page saw the session start, so the moment it turned ready is a measurement.
    assert seen["first"] == "starting", seen
    assert [k["name"] for k in lab.api("/api/kernels")] == ["pyspark"]
    lag = seen["readyAt"] / 1000 - kernel_ready
    assert lag < STATUS_LAG_S, f"status bar ready {lag:.2f} s after the session"
    expect(status.locator(".pysk-status-text")).to_have_text(re.compile(r"^Spark: ready\b"))
    step(f"status bar ready {lag:+.2f} s after the session")

    # (2) A streaming query: its display is live, then saved with the notebook.
    cell = _run_cell(page, 1)
    display = cell.locator(".jp-OutputArea .pysk-Stream")
    expect(display).to_have_attribute("data-state", "active", timeout=JOB_MS)
    page.wait_for_function(f"() => ({STREAM_BATCH})(1) >= 2", timeout=JOB_MS)
    expect(display.locator("button.pysk-stop")).to_be_enabled()
    step("stream display live")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    saved_batch = None
    while saved_batch is None:
        stored = lab.notebook(name)["cells"][1]["outputs"]
        payloads = [o["data"][STREAM_MIME] for o in stored if STREAM_MIME in o.get("data", {})]
        if payloads and payloads[-1].get("batch_id") is not None:
            saved_batch = int(payloads[-1]["batch_id"])
        elif time.monotonic() > deadline:
            pytest.fail(f"the notebook was not saved with its stream display: {stored}")
        else:
            time.sleep(0.25)
    step(f"saved at batch {saved_batch}")

    # (3) After a reload the display shows live batches again, from the kernel's pushes.
    page.reload()
    expect(panel.locator(".jp-Cell")).to_have_count(3, timeout=RENDER_MS)
    display = panel.locator(".jp-Cell").nth(1).locator(".jp-OutputArea .pysk-Stream")
    expect(display).to_have_attribute("data-source", "kernel", timeout=RENDER_MS)
    expect(status).to_have_attribute("data-state", "ready", timeout=RENDER_MS)
    page.wait_for_function(
        f"(saved) => ({STREAM_BATCH})(1) > saved + 1", arg=saved_batch, timeout=JOB_MS
    )
    expect(display).to_have_attribute("data-state", "active")
    display.screenshot(path=str(ARTIFACTS / "stream-after-reload.png"))
    step("live again after the reload")

    # (4) Idle kernel, live display, status bar: the page sends no execute request.
    start, first_batch = time.monotonic(), page.evaluate(f"({STREAM_BATCH})(1)")
    page.wait_for_timeout(IDLE_S * 1000)
    end, last_batch = time.monotonic(), page.evaluate(f"({STREAM_BATCH})(1)")
    sent = KernelTraffic.between(traffic.sent, start, end)
    received = KernelTraffic.between(traffic.received, start, end)
    assert [f for f in sent if f.msg_type == "execute_request"] == [], sent
    busy = [f for f in received if f.msg_type == "status" and f.detail == "busy"]
    assert busy == [], f"the kernel was busy while idle: {busy}"
    pushes = [f for f in received if f.msg_type == "comm_msg"]
    assert last_batch - first_batch >= 5 and pushes, (first_batch, last_batch, len(pushes))
    expect(kernel_status).to_have_text("PySpark | Idle")
    step(
        f"{IDLE_S} s idle: {len(sent)} messages sent, {len(pushes)} pushes received, "
        f"batches {first_batch} -> {last_batch}"
    )

    # (5) Stop: one stop_stream request, no code; the display says stopped.
    stop = display.locator("button.pysk-stop")
    expect(stop).to_be_enabled()
    start = time.monotonic()
    stop.click()
    expect(display).to_have_attribute("data-state", "stopped", timeout=RENDER_MS)
    expect(display.locator(".pysk-state")).to_have_text("stopped")
    expect(stop).to_be_disabled()
    expect(display.locator(".pysk-stop-error")).to_have_count(0)
    sent = KernelTraffic.between(traffic.sent, start, time.monotonic())
    assert [(f.msg_type, f.detail) for f in sent] == [("comm_msg", "stop_stream")], sent
    display.screenshot(path=str(ARTIFACTS / "stream-stopped.png"))
    step("stopped")

    # The kernel agrees: no active query.
    cell = _run_cell(page, 2)
    expect(
        cell.locator(".jp-OutputArea-output").filter(has_text="active queries: 0")
    ).to_have_count(1, timeout=JOB_MS)
    step("kernel: no active query")

    # (6) Reloaded again, the display shows the final state the kernel reports (the saved
    # output still says active: the stop's display update went to the page before).
    page.reload()
    display = panel.locator(".jp-Cell").nth(1).locator(".jp-OutputArea .pysk-Stream")
    expect(display).to_have_attribute("data-source", "kernel", timeout=RENDER_MS)
    expect(display).to_have_attribute("data-state", "stopped")
    expect(display.locator("button.pysk-stop")).to_be_disabled()
    page.screenshot(path=str(ARTIFACTS / "lab-channel.png"))
    assert [k["name"] for k in lab.api("/api/kernels")] == ["pyspark"]
    # The capture sees execute requests: exactly the three cells this test ran.
    executed = [f for f in traffic.sent if f.msg_type == "execute_request"]
    assert len(executed) == 3, [f.msg_type for f in traffic.sent]
    step("done")


# -- the whole result, charts, Spark SQL cells and the data browser ---------------------------

FEATURES_NOTEBOOK = "features_check.ipynb"
CELL_VIEW = (
    "spark.range(3).selectExpr(\"id AS quantity\", \"named_struct('city', 'x') AS addr\")"
    '.createOrReplaceTempView("sales_2024")'
)
# Seven groups, a preview of five rows: the chart's points must come from Spark.
CELL_GROUPS = "%%sql -n 5\nSELECT id % 7 AS k, count(*) AS n FROM range(1000) GROUP BY k ORDER BY k"
CELL_BIG = "big = spark.range(10**6)"
# Only defined, and its plan needs a shuffle: the kernel shows the schema, not a job's rows.
CELL_DEFERRED = "by_one = spark.range(1000).selectExpr('1 AS one').groupBy('one').count()"
GROUPS = 7
# The bound: the data browser shows a new view within 2 s of its cell ending.
BROWSER_LAG_MS = 2000

# Records, in the page, when code cell 0 gets its execution count and when the data
# browser first lists the view `sales_2024` (installed before JupyterLab loads).
BROWSER_WATCH = """
window.__pyskBrowser = { executedAt: null, listedAt: null };
new MutationObserver(() => {
  const seen = window.__pyskBrowser;
  const cells = document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const prompt = cells[0] && cells[0].querySelector('.jp-InputPrompt');
  if (seen.executedAt === null && prompt && /\\[\\d+\\]/.test(prompt.textContent)) {
    seen.executedAt = Date.now();
  }
  if (seen.listedAt === null && document.querySelector(
      '.pysk-DataBrowser [data-kind="view"][data-name="sales_2024"]')) {
    seen.listedAt = Date.now();
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""

# The editor language of code cell `index` and, for the given words, each span's class
# and colour, with the colour JupyterLab gives keywords.
EDITOR_TOKENS = """
([index, words]) => {
  const cells = document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const content = cells[index].querySelector('.cm-content');
  const probe = document.createElement('span');
  probe.style.color = 'var(--jp-mirror-editor-keyword-color)';
  content.appendChild(probe);
  const keyword = getComputedStyle(probe).color;
  probe.remove();
  const spans = Array.from(content.querySelectorAll('.cm-line span'))
    .filter(s => words.includes(s.textContent));
  return {
    language: content.dataset.language || null,
    keyword,
    tokens: spans.map(s => [s.textContent, s.className, getComputedStyle(s).color])
  };
}
"""


def _adopt_session(lab: Lab, path: str) -> None:
    """Give the notebook at `path` the kernel (and JVM) a test before left running, so
    that this test starts none; with none running, JupyterLab starts one as usual."""
    sessions = lab.api("/api/sessions")
    for extra in sessions[1:]:
        lab.api(f"/api/sessions/{extra['id']}", method="DELETE")
    if sessions:
        moved = {"path": path, "name": path, "type": "notebook"}
        lab.api(f"/api/sessions/{sessions[0]['id']}", method="PATCH", body=moved)


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def _first_column(table: Any) -> list[str]:
    return table.locator("tbody tr td:first-child").all_inner_texts()


def test_whole_result_charts_sql_cells_and_data_browser(lab: Lab, page: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    step = Steps(ARTIFACTS / "timings-features.txt")
    name = _write_notebook(
        lab.root,
        FEATURES_NOTEBOOK,
        {
            "view": CELL_VIEW,
            "groups": CELL_GROUPS,
            "big": CELL_BIG,
            "deferred": CELL_DEFERRED,
            "typed": "",
        },
    )
    _adopt_session(lab, name)
    traffic = KernelTraffic(page)
    page.add_init_script(BROWSER_WATCH)
    page.goto(lab.tree_url(name, workspace="features"))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell")).to_have_count(5, timeout=RENDER_MS)
    kernel_status = page.locator(".jp-StatusBar-Widget .jp-StatusBar-TextItem").filter(
        has_text=re.compile(r"^PySpark \| ")
    )
    expect(kernel_status).to_have_text("PySpark | Idle", timeout=KERNEL_START_MS)
    step("kernel idle")

    # (1) The %%sql cell is Spark SQL in the editor, its keywords coloured as keywords;
    # the Python cell stays Python.
    words = ["SELECT", "FROM", "GROUP", "BY", "ORDER", "AS"]
    page.wait_for_function(
        f"(a) => ({EDITOR_TOKENS})(a).tokens.length >= {len(words)}", arg=[1, words]
    )
    sql = page.evaluate(EDITOR_TOKENS, [1, words])
    assert sql["language"] == "sql", sql
    assert {t[0] for t in sql["tokens"]} == set(words), sql
    assert all(t[1] and t[2] == sql["keyword"] for t in sql["tokens"]), sql
    python = page.evaluate(EDITOR_TOKENS, [0, []])
    assert python["language"] == "python", python
    _cell(page, 1).locator(".jp-InputArea").screenshot(path=str(ARTIFACTS / "sql-cell.png"))
    step("%%sql cell highlighted as Spark SQL")

    # (2) The data browser lists the view with its columns within 2 s of the cell ending.
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="pyspark-kernel-lab-data-browser"]').click()
    browser = page.locator(".pysk-DataBrowser")
    expect(browser).to_be_visible()
    _run_cell(page, 0)
    entry = browser.locator('[data-kind="view"][data-name="sales_2024"]')
    expect(entry).to_have_count(1, timeout=SESSION_START_MS)
    page.wait_for_function("() => window.__pyskBrowser.executedAt !== null", timeout=RENDER_MS)
    seen = page.evaluate("() => window.__pyskBrowser")
    lag = seen["listedAt"] - seen["executedAt"]
    assert lag < BROWSER_LAG_MS, f"the view was listed {lag} ms after its cell ended"
    entry.locator(".pysk-tree-toggle").click()
    columns = entry.locator(":scope > .pysk-tree-columns > .pysk-tree-column")
    expect(columns.locator(":scope > .pysk-column-name")).to_have_text(["quantity", "addr"])
    expect(columns.locator(":scope > .pysk-column-type")).to_have_text(
        ["bigint", "struct<city:string>"]
    )
    expect(entry.locator('[data-column="city"] .pysk-column-type')).to_have_text("string")
    browser.screenshot(path=str(ARTIFACTS / "data-browser.png"))
    step(f"data browser: view and columns {lag} ms after the cell")

    # Clicking the view inserts the query in a new cell below the active cell.
    _cell(page, 0).locator(".jp-InputPrompt").click()
    entry.locator("button.pysk-tree-name").click()
    expect(panel.locator(".jp-Cell")).to_have_count(6)
    inserted = _cell(page, 1)
    expect(inserted.locator(".cm-content")).to_have_text("%%sqlSELECT * FROM sales_2024 LIMIT 100")
    expect(inserted.locator(".cm-content")).to_have_attribute("data-language", "sql")
    step("query inserted")
    groups_cell, big_cell, deferred_cell, typed_cell = 2, 3, 4, 5

    # (3) A GROUP BY result as a bar chart: one bar per group, aggregated by Spark over
    # the whole result (the preview holds 5 of the 7 rows).
    cell = _run_cell(page, groups_cell)
    table = cell.locator(".jp-OutputArea .pysk-Table")
    expect(table.locator("tbody tr")).to_have_count(5, timeout=JOB_MS)
    expect(table.locator(".pysk-notice")).to_have_text("showing 5 rows, more available")
    since = len(traffic.sent)
    table.locator("button.pysk-view-chart").click()
    chart = table.locator(".pysk-chart")
    expect(chart).to_have_attribute("data-source", "spark", timeout=JOB_MS)
    bars = chart.locator("svg .mark-rect path")
    expect(bars).to_have_count(GROUPS, timeout=RENDER_MS)
    expect(chart.locator(".pysk-chart-caption")).to_have_text(
        "computed by Spark over the whole result"
    )
    ops = [f.detail for f in traffic.sent[since:] if f.msg_type == "comm_msg"]
    assert ops == ["chart"], ops
    table.screenshot(path=str(ARTIFACTS / "chart.png"))
    step("bar chart from Spark")

    # Profile and download of the same result.
    table.locator("button.pysk-view-table").click()
    table.locator("button.pysk-profile-button").click()
    expect(table.locator("th .pysk-profile")).to_have_count(2, timeout=JOB_MS)
    expect(table.locator("th").nth(0).locator(".pysk-histogram rect")).to_have_count(10)
    with page.expect_download(timeout=JOB_MS) as download:
        table.locator("select.pysk-download").select_option("csv")
    saved = Path(download.value.path()).read_text().splitlines()
    assert saved[0] == "k,n" and len(saved) == 1 + GROUPS, saved
    expect(table.locator(".pysk-download-status")).to_have_text(re.compile(r"^downloaded "))
    table.locator("button.pysk-view-chart").click()
    expect(bars).to_have_count(GROUPS)
    step("profile and download")

    # (4) A 10^6-row result: pages past row 100 and a sort come from Spark.
    cell = _run_cell(page, big_cell)
    big = cell.locator(".jp-OutputArea .pysk-Table")
    expect(big.locator("tbody tr")).to_have_count(50, timeout=JOB_MS)
    big.locator("button.pysk-next").click()
    expect(big.locator(".pysk-page-label")).to_have_text(re.compile(r"^rows 51\u2013100 "))
    big.locator("button.pysk-next").click()
    expect(big.locator(".pysk-page-label")).to_have_text(
        re.compile(r"^rows 101\u2013150 "), timeout=JOB_MS
    )
    expect(big).to_have_attribute("data-origin", "spark")
    assert _first_column(big)[:2] == ["100", "101"]
    step("page 3 from Spark")
    header = big.locator("th.pysk-th").first
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(big.locator(".pysk-origin")).to_have_text(
        "sorted by Spark over the whole result", timeout=JOB_MS
    )
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(big.locator("tbody tr").first.locator("td").first).to_have_text("999999", timeout=JOB_MS)
    big.screenshot(path=str(ARTIFACTS / "table-sorted.png"))
    header.click()
    expect(header).to_have_attribute("aria-sort", "none")
    expect(big.locator("tbody tr").first.locator("td").first).to_have_text("0")
    step("sorted by Spark, then back to the result's order")

    # A preview the kernel deferred: the schema, then the rows on request, kept in the output.
    cell = _run_cell(page, deferred_cell)
    deferred = cell.locator(".jp-OutputArea .pysk-Table")
    expect(deferred.locator(".pysk-notice")).to_have_text(
        "schema only: its plan needs a pass over all its input", timeout=JOB_MS
    )
    expect(deferred.locator("tbody tr")).to_have_count(0)
    deferred.locator("button.pysk-preview-button").click()
    expect(deferred.locator("tbody tr")).to_have_count(1, timeout=JOB_MS)
    assert _first_column(deferred) == ["1"]
    expect(deferred.locator("button.pysk-preview-button")).to_have_count(0)
    step("deferred preview fetched on request")

    # (5) Tab completion in a %%sql cell lists the view.
    typed = _cell(page, typed_cell)
    typed.locator(".cm-content").click()
    page.keyboard.type("%%sql")
    page.keyboard.press("Enter")
    page.keyboard.type("SELECT * FROM ")
    page.keyboard.press("Tab")
    completer = page.locator(".jp-Completer")
    expect(completer.locator(".jp-Completer-item").filter(has_text="sales_2024")).to_have_count(
        1, timeout=RENDER_MS
    )
    completer.screenshot(path=str(ARTIFACTS / "completion.png"))
    page.keyboard.press("Escape")
    step("completion lists sales_2024")

    # (6) Saved, reloaded: the chart shows again from the notebook, not from the kernel.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while True:
        stored = lab.notebook(name)["cells"][groups_cell]
        states = [o.get("metadata", {}).get(TABLE_MIME) for o in stored["outputs"]]
        state = next((s for s in states if s), None)
        if state and state["view"] == "chart":
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the chart was not saved with the notebook: {stored['outputs']}")
        time.sleep(0.25)
    assert state["chart"]["source"] == "spark"
    assert len(state["chart"]["data"]["rows"]) == GROUPS, state
    since = len(traffic.sent)
    page.reload()
    expect(panel.locator(".jp-Cell")).to_have_count(6, timeout=RENDER_MS)
    chart = _cell(page, groups_cell).locator(".jp-OutputArea .pysk-Table .pysk-chart")
    expect(chart.locator("svg .mark-rect path")).to_have_count(GROUPS, timeout=RENDER_MS)
    expect(chart.locator(".pysk-chart-caption")).to_have_text(
        "computed by Spark over the whole result"
    )
    ops = [f.detail for f in traffic.sent[since:] if f.msg_type == "comm_msg"]
    assert "chart" not in ops, ops
    page.screenshot(path=str(ARTIFACTS / "lab-features.png"))
    step("chart shown again after the reload")


RUNS_NOTEBOOK = "runs_check.ipynb"
SLEEP_NOTEBOOK = "runs_sleep.ipynb"


def _api_runs(lab: Lab) -> list[dict[str, Any]]:
    url = f"{lab.url}/pyspark-kernel/api/runs?token={lab.token}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["runs"]


def test_notebook_runs_panel_starts_follows_cancels_and_opens_runs(lab: Lab, page: Any) -> None:
    """The runs panel over the server's runs API: the current notebook run on a kernel of
    its own, its failure shown with the cell, a sleeping run cancelled, the executed copy
    opened. The notebooks are on ``python3``: Spark in runs is `tests/server/test_runs.py`'s."""
    from playwright.sync_api import expect

    name = _write_notebook(
        lab.root,
        RUNS_NOTEBOOK,
        {"ok": "x = 40 + 2\nprint(x)", "bad": "raise ValueError('bad row')"},
        kernel="python3",
    )
    sleeper = _write_notebook(
        lab.root, SLEEP_NOTEBOOK, {"sleep": "import time\ntime.sleep(300)"}, kernel="python3"
    )
    page.goto(lab.tree_url(name, workspace="runs"))
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(notebook.locator(".jp-Cell")).to_have_count(2, timeout=RENDER_MS)
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="pyspark-kernel-lab-runs"]').click()
    runs = page.locator(".pysk-RunsPanel")
    expect(runs).to_be_visible()
    runs.locator(".pysk-runs-start").click()
    expect(runs.locator(".pysk-browser-state")).to_have_text(f"started {name}")
    failed = runs.locator(".pysk-run").filter(has_text=name)
    expect(failed).to_have_class(re.compile(r"\bpysk-run-failed\b"), timeout=JOB_MS)
    expect(failed.locator(".pysk-run-detail")).to_have_text("failed at cell 1: ValueError: bad row")
    (run,) = [r for r in _api_runs(lab) if r["path"] == name]
    assert run["status"] == "failed" and run["error"]["cell"] == 1, run

    # A run of another notebook, cancelled from the panel while it sleeps.
    page.goto(lab.tree_url(sleeper, workspace="runs-sleep"))
    expect(notebook.locator(".jp-Cell")).to_have_count(1, timeout=RENDER_MS)
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="pyspark-kernel-lab-runs"]').click()
    runs.locator(".pysk-runs-start").click()
    sleeping = runs.locator(".pysk-run").filter(has_text=sleeper)
    expect(sleeping).to_have_class(re.compile(r"\bpysk-run-running\b"), timeout=JOB_MS)
    expect(sleeping.locator(".pysk-run-detail")).to_have_text(
        re.compile(r"^running · 0/1 cell$"), timeout=JOB_MS
    )
    sleeping.locator(".pysk-run-cancel").click()
    expect(sleeping).to_have_class(re.compile(r"\bpysk-run-cancelled\b"), timeout=JOB_MS)
    expect(sleeping.locator(".pysk-run-cancel")).to_have_count(0)
    (stopped,) = [r for r in _api_runs(lab) if r["path"] == sleeper]
    assert stopped["status"] == "cancelled", stopped

    # The failed run's executed copy opens with the outputs the run left.
    failed.locator(".pysk-run-path").click()
    copy = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(copy.locator(".jp-OutputArea-output").first).to_have_text(re.compile(r"^42\s*$"))
    expect(copy.locator(".jp-OutputArea-output").nth(1)).to_contain_text("ValueError: bad row")
    runs.screenshot(path=str(ARTIFACTS / "runs-panel.png"))
