"""JupyterLab in Debian's chromium: the lab extension renders what a real kernel sends.

Starts a real JupyterLab server with the installed ``pyspark`` kernelspec and the
``pyspark-kernel-lab`` extension, opens a notebook in headless chromium (driven by
Playwright, using the system browser; Playwright's own browsers are never downloaded),
runs a DataFrame cell and a multi-stage Spark job, and checks the rendered table, the
live progress display and the Spark status bar item. Screenshots go to
``.ci/artifacts/browser/``.

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

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def tree_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"


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


@pytest.fixture(scope="module")
def notebook(lab: Lab) -> str:
    def code(source: str) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": source,
        }

    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "pyspark", "display_name": "PySpark", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {**code(CELL_TABLE), "id": "table"},
            {**code(CELL_JOB), "id": "job"},
        ],
    }
    (lab.root / NOTEBOOK).write_text(json.dumps(nb, indent=1))
    return NOTEBOOK


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
    # (polled every 5 s while the kernel is idle) until it is ready.
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
