"""Notebook runs and kernel status over HTTP (issue 25), against a real Jupyter server.

One ``jupyter server`` under ``/user/alice/`` with a token. The runs that take time are
submitted together (each one runs in its own process on its own ``pyspark`` kernel) and
checked by the tests that follow: a parameterised notebook, a notebook whose third cell
raises, a long one with a timeout, a long one cancelled with ``DELETE``, a long one still
running when the server shuts down. The long cell is a Spark job whose tasks sleep in the
JVM, so the machine's cores stay free while it runs.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from live_server import BASE_URL, Server, start_server, stop_server

pytestmark = pytest.mark.timeout(600)  # kernels start slowly on a busy machine

SERVER_ARGS = ("--NotebookRuns.max_active=5",)
API = "pyspark-kernel/api"
TIMEOUT = 100  # seconds, for the run that must time out (counted once its kernel is up)
FINAL = {"succeeded", "failed", "timeout", "cancelled"}
# A Spark job whose two tasks sleep in the JVM for an hour: long, yet no core is busy.
LONG_JOB = "spark.range(0, 2, 1, 2).selectExpr(\"reflect('java.lang.Thread', 'sleep', bigint(3600000))\").collect()"


def notebook(*cells: str, parameters: str | None = None) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "pyspark", "display_name": "PySpark", "language": "python"}
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


NOTEBOOKS = {
    "reports/params.ipynb": notebook(
        'print(f"hello {name} x{count}")',
        'print("rows:", spark.range(count).count())',
        parameters='name = "nobody"\ncount = 1',
    ),
    "fails.ipynb": notebook(
        "x = 1", "y = x + 1", 'raise ValueError("third cell fails")', 'print("never")'
    ),
    # The marker file (in the notebook's folder) says the long Spark job is submitted.
    "long.ipynb": notebook(
        "spark.range(1).count()",
        f"open(marker, 'w').close()\n{LONG_JOB}",
        parameters='marker = "started"',
    ),
}


def post_run(server: Server, body: Any, token: str | None = "") -> Any:
    return server.request("POST", f"{API}/runs", body, token=token)


def get_run(server: Server, run_id: str) -> dict[str, Any]:
    response = server.request("GET", f"{API}/runs/{run_id}")
    assert response.status == 200, response.text
    return dict(response.json())


def wait_for(server: Server, run_id: str, until: Any, timeout: float = 420.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(server, run_id)
        if until(run):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not get there in {timeout} s: {run}")
        time.sleep(0.5)


def wait_final(server: Server, run_id: str) -> dict[str, Any]:
    return wait_for(server, run_id, lambda r: r["status"] in FINAL)


def executed(server: Server, run: dict[str, Any]) -> Any:
    """The executed copy, read through the server's contents API (as JupyterLab opens it)."""
    response = server.request("GET", f"api/contents/{run['output_path']}?content=1")
    assert response.status == 200, response.text
    return nbformat.from_dict(response.json()["content"])


def wait_marker(server: Server, name: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not (server.root / name).exists():
        assert time.monotonic() < deadline, f"{name} did not appear in {timeout} s"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def notebooks(server: Server) -> dict[str, Any]:
    for path, nb in NOTEBOOKS.items():
        (server.root / path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(server.root / path))
    return NOTEBOOKS


def test_bad_requests_get_one_line_and_no_run(server: Server, notebooks: dict[str, Any]) -> None:
    cases = [
        (b"{not json", 400, "not JSON"),
        (b"[1]", 400, "JSON object"),
        ({}, 400, "path is required"),
        ({"path": "../outside.ipynb"}, 400, "outside the server's root"),
        ({"path": "/etc/passwd.ipynb"}, 400, "relative to the server's root"),
        ({"path": "fails.py"}, 400, "not a notebook"),
        ({"path": "missing.ipynb"}, 404, "missing.ipynb"),
        ({"path": "fails.ipynb", "parameters": [1]}, 400, "JSON object"),
        ({"path": "fails.ipynb", "parameters": {"not a name": 1}}, 400, "not a Python name"),
        ({"path": "fails.ipynb", "timeout": -1}, 400, "timeout"),
        ({"path": "fails.ipynb", "timeout": "10"}, 400, "timeout"),
        ({"path": "fails.ipynb", "kernel": "nope"}, 400, "no kernel named 'nope'"),
        ({"path": "fails.ipynb", "when": "now"}, 400, "unknown field(s) when"),
    ]
    for body, status, reason in cases:
        response = post_run(server, body)
        assert response.status == status, (body, response.status, response.text)
        message = response.json()["message"]
        assert reason in message and "\n" not in message, (body, message)
    assert server.request("GET", f"{API}/runs").json() == {"runs": []}
    assert not (server.root / "pyspark-kernel-runs").exists()


def test_without_credentials_no_run(server: Server, notebooks: dict[str, Any]) -> None:
    for token in (None, "not-the-token"):
        response = post_run(server, {"path": "fails.ipynb"}, token=token)
        assert response.status in (401, 403), response.status
        for path in ("runs", "status"):
            assert server.request("GET", f"{API}/{path}", token=token).status in (401, 403)
    assert server.request("GET", f"{API}/runs").json() == {"runs": []}
    assert not (server.root / "pyspark-kernel-runs").exists()


DENY_EXECUTE = """
from jupyter_server.auth.authorizer import Authorizer


class NoKernelExecution(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return not (action == "execute" and resource == "kernels")


c.ServerApp.authorizer_class = NoKernelExecution
"""


def test_an_authorizer_denying_kernel_execution_gets_403_and_no_run(tmp_path: Path) -> None:
    """With the token, but the server's authorizer refuses ``execute`` on ``kernels``."""
    config = tmp_path / "deny_execute_config.py"
    config.write_text(DENY_EXECUTE)
    (tmp_path / "server").mkdir()
    denied = start_server(tmp_path / "server", f"--ServerApp.config_file={config}")
    try:
        nbformat.write(NOTEBOOKS["fails.ipynb"], str(denied.root / "fails.ipynb"))
        response = post_run(denied, {"path": "fails.ipynb"})
        assert response.status == 403, response.text
        assert denied.request("DELETE", f"{API}/runs/0123456789abcdef").status == 403
        # reading is still allowed: no run was made
        assert denied.request("GET", f"{API}/runs").json() == {"runs": []}
        assert denied.request("GET", f"{API}/status").json()["runs"] == []
        assert not (denied.root / "pyspark-kernel-runs").exists()
    finally:
        stop_server(denied)


@pytest.fixture(scope="module")
def runs(server: Server, notebooks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The runs that take time, submitted together; the answers to their POSTs."""
    bodies: dict[str, dict[str, Any]] = {
        "params": {"path": "reports/params.ipynb", "parameters": {"name": "alice", "count": 3}},
        "fails": {"path": "fails.ipynb"},
        "timeout": {
            "path": "long.ipynb",
            "parameters": {"marker": "timeout-started"},
            "timeout": TIMEOUT,
        },
    }
    # The same notebook at other paths (a path may have one active run at a time).
    for key in ("cancel", "shutdown"):
        (server.root / key).mkdir()
        nbformat.write(NOTEBOOKS["long.ipynb"], str(server.root / key / "long.ipynb"))
        bodies[key] = {"path": f"{key}/long.ipynb", "parameters": {"marker": f"../{key}-started"}}
    answers = {}
    for key, body in bodies.items():
        response = post_run(server, body)
        assert response.status == 202, (key, response.text)
        assert response.headers["Location"] == f"{BASE_URL}{API}/runs/{response.json()['id']}"
        answers[key] = response.json()
    return answers


def test_accepted_at_once(runs: dict[str, dict[str, Any]]) -> None:
    for run in runs.values():
        assert run["status"] in {"queued", "running"}
        assert len(run["id"]) == 16 and run["started"] and run["ended"] is None


def test_second_post_while_active_conflicts(
    server: Server, runs: dict[str, dict[str, Any]]
) -> None:
    response = post_run(server, {"path": "long.ipynb"})
    assert response.status == 409, response.text
    assert response.json()["id"] == runs["timeout"]["id"]
    assert "long.ipynb" in response.json()["message"]


def test_runs_listed_newest_first(server: Server, runs: dict[str, dict[str, Any]]) -> None:
    listed = server.request("GET", f"{API}/runs").json()["runs"]
    assert [r["id"] for r in listed] == [r["id"] for r in reversed(list(runs.values()))]
    assert [r["id"] for r in server.request("GET", f"{API}/runs?limit=2").json()["runs"]] == [
        runs["shutdown"]["id"],
        runs["cancel"]["id"],
    ]
    assert server.request("GET", f"{API}/runs/0123456789abcdef").status == 404


def test_parameterised_notebook_succeeds(server: Server, runs: dict[str, dict[str, Any]]) -> None:
    run = wait_final(server, runs["params"]["id"])
    assert run["status"] == "succeeded", run
    assert run["error"] is None
    assert run["progress"] == {"cells_done": 4, "cells_total": 4}  # with the injected cell
    assert run["output_path"] == f"pyspark-kernel-runs/{run['id']}/params.ipynb"
    assert run["duration_s"] > 0 and run["ended"] >= run["started"]
    nb = executed(server, run)
    injected = nb.cells[1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert injected.source == "# Parameters\nname = 'alice'\ncount = 3\n"
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "hello alice x3" in text and "rows: 3" in text
    assert nb.metadata["pyspark_kernel"]["run"]["parameters"] == {"name": "alice", "count": 3}
    # The submitted notebook is untouched.
    assert "injected-parameters" not in (server.root / "reports/params.ipynb").read_text()


def test_failing_cell_is_reported(server: Server, runs: dict[str, dict[str, Any]]) -> None:
    run = wait_final(server, runs["fails"]["id"])
    assert run["status"] == "failed", run
    error = run["error"]
    assert (error["cell"], error["ename"], error["evalue"]) == (2, "ValueError", "third cell fails")
    assert run["progress"] == {"cells_done": 3, "cells_total": 4}
    nb = executed(server, run)
    assert [o["ename"] for o in nb.cells[2].outputs if o.output_type == "error"] == ["ValueError"]
    assert nb.cells[3].outputs == []


def _cancelled_cell(nb: Any) -> Any:
    """The long job's cell (after the parameters and the injected cell): ended by an
    interrupt that cancelled its Spark jobs."""
    cell = nb.cells[3]
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [
        ("KeyboardInterrupt", "cell interrupted; its Spark jobs were cancelled")
    ]
    progress = [
        o.data
        for o in cell.outputs
        if "application/vnd.pyspark-kernel.progress.v1+json" in o.get("data", {})
    ]
    if progress:  # the progress display, when it got saved, ended as cancelled
        assert (
            progress[-1]["application/vnd.pyspark-kernel.progress.v1+json"]["state"] == "cancelled"
        )
    return cell


def _kernel_pid(server: Server, run_id: str) -> int:
    progress = json.loads(
        (server.root / "pyspark-kernel-runs" / run_id / ".progress.json").read_text()
    )
    return int(progress["kernel_pid"])


def test_delete_cancels_a_long_run_within_5_s(
    server: Server, runs: dict[str, dict[str, Any]]
) -> None:
    run_id = runs["cancel"]["id"]
    wait_marker(server, "cancel-started")
    kernel = _kernel_pid(server, run_id)
    assert psutil.pid_exists(kernel)
    started = time.monotonic()
    response = server.request("DELETE", f"{API}/runs/{run_id}")
    took = time.monotonic() - started
    assert response.status == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert took < 5.0, took
    assert get_run(server, run_id)["status"] == "cancelled"
    _cancelled_cell(executed(server, response.json()))
    gone = time.monotonic() + 5
    while psutil.pid_exists(kernel) and psutil.Process(kernel).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < gone, "the run's kernel is still running"
        time.sleep(0.1)


def test_timeout_cancels_the_spark_job(server: Server, runs: dict[str, dict[str, Any]]) -> None:
    run = wait_final(server, runs["timeout"]["id"])
    assert run["status"] == "timeout", run
    assert (server.root / "timeout-started").exists()  # the job ran when the time was up
    assert run["duration_s"] >= TIMEOUT, run  # and the kernel's start on top
    # From the first cell's start to the end of the interrupted one: the timeout, give or
    # take the interrupt (the executed copy keeps each cell's timing).
    nb = executed(server, run)
    first = datetime.fromisoformat(nb.cells[0].metadata.execution["iopub.status.busy"])
    last = datetime.fromisoformat(nb.cells[3].metadata.execution["shell.execute_reply"])
    assert TIMEOUT - 1 <= (last - first).total_seconds() < TIMEOUT + 10
    assert run["error"] == {
        "cell": 2,  # in the notebook as submitted
        "cell_id": NOTEBOOKS["long.ipynb"].cells[2].id,
        "ename": "KeyboardInterrupt",
        "evalue": "cell interrupted; its Spark jobs were cancelled",
    }
    _cancelled_cell(executed(server, run))


def test_status_lists_a_streaming_query_of_another_kernel(server: Server) -> None:
    kernel_id = server.start_kernel("pyspark")
    kernel = server.attach(kernel_id)
    try:
        started = kernel.run(
            "import threading, time\n"
            "q = (spark.readStream.format('rate').option('rowsPerSecond', 5).load()\n"
            "     .writeStream.format('memory').queryName('status_check').start())\n"
            "t0 = time.monotonic()\n"
            "while (q.lastProgress or {}).get('batchId', -1) < 1 and time.monotonic() - t0 < 120:\n"
            "    time.sleep(0.2)\n"
            "def busy():\n"  # one sleeping task: a core stays free for the query
            "    sc.addJobTag('status-check-busy')\n"
            f"    {LONG_JOB.replace('range(0, 2, 1, 2)', 'range(0, 1, 1, 1)')}\n"
            "threading.Thread(target=busy, daemon=True).start()\n"
            "print(sc.applicationId, q.id)",
            timeout=300,
        )
        assert started.status == "ok", started.error
        app_id, query_id = started.stream("stdout").split()
        deadline = time.monotonic() + 60
        while True:
            status = server.request("GET", f"{API}/status").json()
            entry = next((k for k in status["kernels"] if k["id"] == kernel_id), None)
            # The file is rewritten at most once a second for streaming progress.
            if (
                entry
                and entry["streams"]
                and (entry["streams"][0]["last_progress"] or {}).get("batchId", -1) >= 1
                and any("status-check-busy" in j["jobTags"] for j in entry["active_jobs"] or [])
            ):
                break
            assert time.monotonic() < deadline, json.dumps(status)[:3000]
            time.sleep(0.5)
        assert (entry["name"], entry["run"]) == ("pyspark", None)
        assert entry["spark"]["state"] == "ready" and entry["spark"]["app_id"] == app_id
        assert entry["spark"]["ui_url"] == f"{BASE_URL}pyspark-kernel/sparkui/{kernel_id}/"
        (stream,) = entry["streams"]
        assert (stream["id"], stream["name"], stream["state"]) == (
            query_id,
            "status_check",
            "active",
        )
        assert stream["last_progress"]["batchId"] >= 1 and stream["last_progress"]["id"] == query_id
        # The UI link in the status works.
        assert server.request("GET", entry["spark"]["ui_url"] + "StreamingQuery/").status == 200
        stopped = kernel.run("sc.cancelJobsWithTag('status-check-busy'); q.stop()", timeout=120)
        assert stopped.status == "ok", stopped.error
        deadline = time.monotonic() + 30
        while True:
            entry = next(
                k
                for k in server.request("GET", f"{API}/status").json()["kernels"]
                if k["id"] == kernel_id
            )
            if not entry["streams"] and not entry["active_jobs"]:
                break
            assert time.monotonic() < deadline, entry
            time.sleep(0.5)
    finally:
        kernel.shutdown()
        server.shutdown_kernel(kernel_id)
    kernels = server.request("GET", f"{API}/status").json()["kernels"]
    assert kernel_id not in [k["id"] for k in kernels]


def test_status_lists_a_running_run_s_kernel_with_its_spark_state(
    server: Server, runs: dict[str, dict[str, Any]]
) -> None:
    run_id = runs["shutdown"]["id"]
    wait_marker(server, "shutdown-started")  # its long Spark job is being submitted
    progress = json.loads(
        (server.root / "pyspark-kernel-runs" / run_id / ".progress.json").read_text()
    )
    kernel_id = progress["kernel_id"]
    deadline = time.monotonic() + 60
    while True:
        status = server.request("GET", f"{API}/status").json()
        entry = next((k for k in status["kernels"] if k["run"] == run_id), None)
        if entry and entry["active_jobs"]:
            break
        assert time.monotonic() < deadline, json.dumps(status)[:3000]
        time.sleep(0.5)
    assert (entry["id"], entry["name"]) == (kernel_id, "pyspark")
    assert entry["spark"]["state"] == "ready"
    assert entry["spark"]["app_id"].startswith("local-")
    assert entry["spark"]["ui_url"] == f"{BASE_URL}pyspark-kernel/sparkui/{kernel_id}/"
    assert [j["status"] for j in entry["active_jobs"]] == ["RUNNING"]  # the long job
    assert entry["streams"] == []
    assert run_id in [r["id"] for r in status["runs"]]
    # The run's Spark UI is proxied like the server's own kernels'.
    assert server.request("GET", entry["spark"]["ui_url"] + "jobs/").status == 200


def test_server_shutdown_stops_runs(server: Server, runs: dict[str, dict[str, Any]]) -> None:
    """Last: the server goes away with a run executing; the run ends, its kernel too."""
    run_id = runs["shutdown"]["id"]
    wait_marker(server, "shutdown-started")
    kernel = _kernel_pid(server, run_id)
    runner = [
        p for p in psutil.Process(server.process.pid).children() if run_id in " ".join(p.cmdline())
    ]
    assert len(runner) == 1
    assert server.request("POST", "api/shutdown").status == 200
    server.process.wait(timeout=60)
    for pid in (runner[0].pid, kernel):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, (
            pid
        )
    progress = json.loads(
        (server.root / "pyspark-kernel-runs" / run_id / ".progress.json").read_text()
    )
    assert progress["status"] == "cancelled"
