"""Binder's build, played as far as this machine can without Docker.

repo2docker installs ``binder/apt.txt`` (here: Java and Maven are already on the machine),
runs ``pip install -r binder/requirements.txt`` from the repository root, then
``binder/postBuild``, and starts every session through ``binder/start``. The same steps
run here in one fresh virtual environment, on a copy of the repository as a clone has it
(tracked and new files, nothing ignored) plus the lab extension this checkout built, with
Jupyter's and this project's folders private to the test. The session command is first a
headless run of the quickstart, then JupyterLab under a base URL and token as BinderHub
starts it, through which a kernel's Spark UI link is fetched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from server.live_server import start_server, stop_server

pytestmark = [pytest.mark.binder, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
BUILT_EXTENSION = "pyspark_kernel/labextension"
# mybinder.org serves a session at /binder/jupyter/user/<owner>-<repo>-<random>/.
BINDER_BASE_URL = "/binder/jupyter/user/pyspark-kernel-pyspark-kernel-3f9k2x1q/"
BINDER_JOB_DESCRIPTION = "binder check: grouped count"
BINDER_JOB = f"""
sc = spark.sparkContext
sc.setJobDescription({BINDER_JOB_DESCRIPTION!r})
spark.range(0, 100000, 1, 2).selectExpr("id % 7 AS k").groupBy("k").count().collect()
sc.setJobDescription(None)
print(sc.applicationId)
"""


def checkout(target: Path) -> Path:
    """The files a clone of this work tree would have, plus the built lab extension (a
    Binder build runs ``jlpm`` for it; CI's install covers that step)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    built = ROOT / BUILT_EXTENSION
    if not (built / "package.json").is_file():
        pytest.skip("the lab extension is not built in this checkout")
    # install.json comes from pyspark_kernel/resources (see pyproject's shared-data).
    shutil.copytree(built, target / BUILT_EXTENSION, ignore=shutil.ignore_patterns("install.json"))
    return target


def step(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_binder_build_then_start_runs_the_quickstart(tmp_path: Path) -> None:
    repo = checkout(tmp_path / "repo")
    binder = repo / "binder"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "KAFKA_BOOTSTRAP_SERVERS", "POSTGRES_URL"}
        and not k.startswith(("PYSPARK_KERNEL_", "JUPYTER_"))
    }
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PYSPARK_KERNEL_CACHE": str(tmp_path / "cache"),
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    step(["pip", "install", "-q", "-r", str(binder / "requirements.txt")], repo, env, 2400)
    built = step([str(binder / "postBuild")], repo, env, 1200)
    assert "jars:" in built
    assert "class-data archive built" in built
    specs = json.loads(step(["jupyter", "kernelspec", "list", "--json"], repo, env, 60))
    spec = specs["kernelspecs"]["pyspark"]  # the Binder environment's, not this one's
    assert spec["resource_dir"].startswith(str(venv))
    assert spec["spec"]["argv"][0].startswith(str(venv))
    assert "spark.driver.memory=512m" in spec["spec"]["argv"]
    out = tmp_path / "executed"
    try:
        session = step(
            [str(binder / "start"), "jupyter", "nbconvert", "--to", "notebook", "--execute",
             "notebooks/01-quickstart.ipynb", "--output-dir", str(out)],
            repo, env, 1200,
        )  # fmt: skip
        assert "Kafka: 127.0.0.1:" in session and "PostgreSQL: started" in session
        assert "OpenSearch: off (PIPELINE_OPENSEARCH=off)" in session
        nb = nbformat.read(out / "01-quickstart.ipynb", as_version=4)
        errors = [
            (i, o.ename)
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "raises-exception" not in c.metadata.get("tags", [])
            for o in c.outputs
            if o.output_type == "error"
        ]
        assert errors == []
        assert any(
            "application/vnd.pyspark-kernel.table.v1+json" in o.get("data", {})
            for c in nb.cells
            for o in c.get("outputs", [])
        )
        # A session as Binder serves it (the services above still run: `start` finds them).
        spark_ui_through_the_session_server(binder, venv, env, tmp_path / "session")
    finally:
        for service in ("kafka", "postgres"):
            subprocess.run(
                ["pyspark-kernel", service, "stop"], cwd=repo, env=env, timeout=120, check=False
            )

    # The wheel ships the notebooks: the demo runs them from outside any checkout, on a
    # working copy in its output folder (never in the Python environment itself).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown = step(["pyspark-kernel", "demo", "--only", "01", "--out", "report"], elsewhere, env, 900)
    copy = elsewhere / "report" / "notebooks"
    assert f"working copy in {copy}" in shown
    assert sorted(p.name for p in copy.glob("*.ipynb")) == sorted(
        p.name for p in (repo / "notebooks").glob("*.ipynb")
    )
    assert (elsewhere / "report" / "01-quickstart.ipynb").is_file()
    installed = venv / "share" / "pyspark-kernel" / "notebooks"
    assert {p.suffix for p in installed.iterdir()} == {".ipynb"}  # nothing written there


def spark_ui_through_the_session_server(
    binder: Path, venv: Path, env: dict[str, str], base: Path
) -> None:
    """JupyterLab started from the Binder environment through ``binder/start``, under a
    base URL and token as BinderHub gives it; a ``pyspark`` kernel started through its REST
    API runs a Spark job, and the Spark UI link the kernel shows opens through the server
    (with the token only); then the kernel, its JVM and the server end."""
    base.mkdir()
    server = start_server(
        base,
        app="lab",
        base_url=BINDER_BASE_URL,
        jupyter=[str(binder / "start"), "jupyter"],
        inherit=env,
    )
    try:
        kernel_id = server.start_kernel("pyspark")
        kernel = server.attach(kernel_id)
        try:
            assert kernel.value("__import__('sys').executable").startswith(str(venv))
            run = kernel.run(BINDER_JOB, timeout=300)
            assert run.status == "ok", run.error
            app_id = run.stream("stdout").strip().splitlines()[-1]
            shown = kernel.run("%spark", timeout=60).stream("stdout")
            link = re.search(r"^Spark UI: +(\S+)$", shown, re.M)
            assert link, shown
            pids = [psutil.Process(kernel.kernel_pid()), psutil.Process(kernel.jvm_pid())]
        finally:
            kernel.shutdown()  # the client only: the server owns the kernel
        assert link[1] == f"{BINDER_BASE_URL}pyspark-kernel/sparkui/{kernel_id}"
        jobs = server.request("GET", f"{link[1]}/jobs/")
        assert jobs.status == 200, (jobs.status, jobs.text[:300])
        assert "Spark Jobs" in jobs.text and BINDER_JOB_DESCRIPTION in jobs.text
        assert f"setUIRoot('{link[1]}')" in jobs.text
        apps = server.request("GET", f"{link[1]}/api/v1/applications")
        assert apps.status == 200, (apps.status, apps.text[:300])
        assert [a["id"] for a in apps.json()] == [app_id]
        for path in ("jobs/", "api/v1/applications"):
            refused = server.request("GET", f"{link[1]}/{path}", token=None)
            assert refused.status in (302, 401, 403), (path, refused.status)
            assert app_id not in refused.text and "setUIRoot" not in refused.text

        assert server.request("DELETE", f"api/kernels/{kernel_id}").status == 204
        assert server.request("POST", "api/shutdown").status == 200
        assert server.process.wait(timeout=60) == 0
        _gone, alive = psutil.wait_procs(pids, timeout=30)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    finally:
        stop_server(server)  # whatever is left after a failure
