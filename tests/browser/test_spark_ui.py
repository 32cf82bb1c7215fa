"""The Spark UI through JupyterLab under a base URL, in Debian's chromium (issue 18).

JupyterLab runs under ``/user/alice/`` with a token, as JupyterHub and Binder run it. A
notebook runs a Spark job of several seconds; the test clicks the "Spark UI" link of its
live progress display, and the Jobs page opens through the Jupyter server with that job;
then the Executors tab (its table is filled by the page's own REST calls) and the SQL tab
(its list, then a query's plan graph), and the driver's thread dump. Screenshots go to
``.ci/artifacts/browser/``. Needs ``playwright`` and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server.live_server import BASE_URL, Server, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".ci" / "artifacts" / "browser"
CHROMIUM = os.environ.get("PYSPARK_KERNEL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NOTEBOOK = "spark_ui_check.ipynb"
DESCRIPTION = "browser check: sleepy job"
# Eight tasks of 1.5 s each (sleeping in the JVM: long enough to click, no core busy).
CELL_JOB = (
    f"sc.setJobDescription({DESCRIPTION!r})\n"
    "rows = spark.range(0, 8, 1, 8).selectExpr(\"reflect('java.lang.Thread', 'sleep', "
    'bigint(1500)) AS slept").collect()\n'
    "sc.setJobDescription(None)\n"
    "len(rows)"
)
KERNEL_START_MS = 90_000
JOB_MS = 240_000
RENDER_MS = 60_000


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("lab-base-url")
    settings = base / "settings"
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    server = start_server(
        base,
        app="lab",
        env={
            "PYSPARK_KERNEL_PROGRESS_AFTER": "0",
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        },
    )
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "pyspark", "display_name": "PySpark", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": CELL_JOB,
                "id": "job",
            }
        ],
    }
    (server.root / NOTEBOOK).write_text(json.dumps(nb))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            ctx.set_default_timeout(RENDER_MS)
            yield ctx
        finally:
            browser.close()


def test_spark_ui_from_the_progress_display(lab: Server, context: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=RENDER_MS)  # pages on a busy machine
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []  # requests made by the Spark UI's pages that failed

    def check(response: Any) -> None:
        if response.status < 400 or response.request.is_navigation_request():
            return
        if "/sparkui/" in response.frame.url:
            failed.append(f"{response.status} {response.url}")

    context.on("response", check)
    context.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page = context.new_page()
    try:
        page.goto(f"{lab.host}{BASE_URL}lab/tree/{NOTEBOOK}?token={lab.token}")
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        expect(panel.locator(".jp-Cell")).to_have_count(1)
        kernel_status = page.locator(".jp-StatusBar-Widget .jp-StatusBar-TextItem").filter(
            has_text=re.compile(r"^PySpark \| ")
        )
        expect(kernel_status).to_have_text("PySpark | Idle", timeout=KERNEL_START_MS)
        (session,) = lab.request("GET", "api/sessions").json()
        kernel_id = session["kernel"]["id"]
        prefix = f"{BASE_URL}pyspark-kernel/sparkui/{kernel_id}"

        cell = panel.locator(".jp-Cell").first
        cell.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")
        running = cell.locator('.jp-OutputArea .pysk-Progress[data-state="running"]')
        link = running.locator("a.pysk-link", has_text="Spark UI")
        expect(link).to_have_attribute("href", prefix, timeout=JOB_MS)
        with context.expect_page() as opened:
            link.click()
        ui = opened.value
        ui.wait_for_load_state()
        assert ui.url == f"{lab.host}{prefix}/jobs/", ui.url
        # The Jobs page, through the server, lists the job of the cell.
        expect(ui.locator("tbody tr", has_text=DESCRIPTION).first).to_be_visible()
        ui.screenshot(path=str(ARTIFACTS / "sparkui-jobs.png"), full_page=True)

        # Executors: the page's script reads the REST API under the prefix.
        ui.locator("a.nav-link", has_text="Executors").click()
        expect(ui).to_have_url(f"{lab.host}{prefix}/executors/")
        driver_row = ui.locator("#active-executors-table tbody tr").filter(has_text="driver")
        expect(driver_row).to_have_count(1)
        ui.screenshot(path=str(ARTIFACTS / "sparkui-executors.png"), full_page=True)
        # The driver's thread dump, in the page's side panel (loaded by its script)...
        driver_row.locator("a.offcanvas-link", has_text="Thread Dump").click()
        panel_body = ui.locator("#executor-detail-offcanvas-body")
        expect(panel_body.locator("tbody tr", has_text="dag-scheduler-event-loop")).to_have_count(1)
        # Its flame graph: d3 and d3-flamegraph loaded by the panel's script.
        flame = panel_body.locator("#executor-flamegraph-chart")
        expect(flame.locator("svg rect").first).to_be_attached()
        flame.scroll_into_view_if_needed()
        ui.screenshot(path=str(ARTIFACTS / "sparkui-threaddump-panel.png"))
        # ...and on its own page.
        ui.goto(f"{lab.host}{prefix}/executors/threadDump/?executorId=driver")
        expect(ui.get_by_role("heading", name="Thread dump for executor driver")).to_be_visible()
        expect(ui.locator("tbody tr", has_text="dag-scheduler-event-loop")).to_have_count(1)
        expect(ui.locator("#executor-flamegraph-chart svg").first).to_be_attached()
        ui.screenshot(path=str(ARTIFACTS / "sparkui-threaddump.png"))

        # SQL / DataFrame: the list (filled by script), then the query's plan graph.
        ui.goto(f"{lab.host}{prefix}/jobs/")
        ui.locator("a.nav-link", has_text="SQL / DataFrame").click()
        expect(ui).to_have_url(f"{lab.host}{prefix}/SQL/")
        query = ui.locator("table tbody tr").filter(has_text=DESCRIPTION).first
        expect(query).to_be_visible()
        ui.screenshot(path=str(ARTIFACTS / "sparkui-sql.png"), full_page=True)
        query.locator("a", has_text=DESCRIPTION).first.click()
        expect(
            ui.get_by_role("heading", name=re.compile(r"^Details for Query \d+"))
        ).to_be_visible()
        expect(ui.locator("#plan-viz-graph svg g.node").first).to_be_visible()
        ui.screenshot(path=str(ARTIFACTS / "sparkui-sql-plan.png"), full_page=True)

        # Back in the notebook: the cell ended, its summary keeps the link.
        done = cell.locator('.jp-OutputArea .pysk-Progress[data-state="done"]')
        expect(done.locator("a.pysk-link")).to_have_attribute("href", prefix, timeout=JOB_MS)
        page.screenshot(path=str(ARTIFACTS / "sparkui-notebook.png"))
    finally:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / "sparkui-last-page.png"))
    assert failed == [], failed
