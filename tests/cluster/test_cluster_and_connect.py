"""The same kernel on a real Spark standalone cluster (a master and 2 workers on 127.0.0.1)
and on a real Spark Connect server: each core case runs once per backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest
from kernel_client import Kernel

from pyspark_kernel.services.cluster import ConnectServer, StandaloneCluster

pytestmark = pytest.mark.cluster

TABLE = "application/vnd.pyspark-kernel.table.v1+json"
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"
BACKENDS = ["cluster", "connect"]


def table(run: Any) -> dict[str, Any]:
    tables = run.data(TABLE)
    assert len(tables) == 1, f"expected one table, got {len(tables)}: {run.messages}"
    return tables[0]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read().decode())


def spark_pids(folder: Path) -> list[int]:
    """Running processes whose command line mentions `folder` (the services' JVMs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if str(folder) in cmd and state != "Z":
                found.append(int(entry.name))
    return found


def process_group(leaders: list[int]) -> list[int]:
    """The processes of the groups `leaders` lead (a worker and the executors it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in leaders and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def listening_addresses(pids: list[int]) -> set[str]:
    """``host:port`` of every TCP socket the processes `pids` listen on."""
    inodes = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir() if fds.exists() else []:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                address, port = cols[1].split(":")
                raw = bytes.fromhex(address[-8:])[::-1]  # the IPv4 (or v4-mapped) part
                host = (
                    ".".join(str(b) for b in raw)
                    if address[:-8].strip("0") in ("", "FFFF")
                    else address
                )
                found.add(f"{host}:{int(port, 16)}")
    return found


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``pyspark-kernel ARGS`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "pyspark_kernel", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_connect(data_dir: str) -> ConnectServer:
    started = cli("connect", "start", "--data-dir", data_dir)
    assert started.returncode == 0, started.stderr
    server = ConnectServer(data_dir)
    assert started.stdout.strip() == server.url
    assert server.url.startswith("sc://127.0.0.1:")
    return server


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StandaloneCluster, Future[ConnectServer]]]:
    """A standalone master with 2 workers (Python API, a context manager) and a Spark Connect
    server (``pyspark-kernel connect start`` in another process, starting while the cluster's
    tests run), each started once for the module; no JVM is left after them."""
    cluster_dir = tmp_path_factory.mktemp("cluster")
    connect_dir = str(tmp_path_factory.mktemp("connect"))
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(start_connect, connect_dir)
        try:
            with StandaloneCluster(cluster_dir, workers=2) as cluster:
                yield cluster, starting
        finally:
            wait([starting])
            stopped = cli("connect", "stop", "--data-dir", connect_dir)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped", stopped
    assert cli("connect", "status", "--data-dir", connect_dir).returncode == 3
    assert cluster.status() is None
    assert spark_pids(cluster_dir) == [], "a master, worker or executor JVM was left running"
    assert spark_pids(Path(connect_dir)) == [], "the Spark Connect server JVM was left running"


@pytest.fixture(scope="module")
def cluster(services: tuple[StandaloneCluster, Future[ConnectServer]]) -> StandaloneCluster:
    """The running 2-worker cluster."""
    state = services[0].status()
    assert state is not None and state.alive_workers == 2 and len(state.workers) == 2
    return services[0]


@pytest.fixture(scope="module")
def connect_server(services: tuple[StandaloneCluster, Future[ConnectServer]]) -> ConnectServer:
    """The running Spark Connect server."""
    return services[1].result()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Kernel, str]]:
    """(name, a kernel using it, its URL): one kernel per backend, unchanged but for its
    kernelspec argument."""
    if request.param == "cluster":
        url = request.getfixturevalue("cluster").master_url
        argument = f"--SparkSettings.master={url}"
    else:
        url = request.getfixturevalue("connect_server").url
        argument = f"--SparkSettings.remote={url}"
    kernel = Kernel(extra_arguments=[argument])
    try:
        yield request.param, kernel, url
    finally:
        kernel.shutdown()


def test_status_shows_the_master_or_remote_in_use(backend: tuple[str, Kernel, str]) -> None:
    name, kernel, url = backend
    out = kernel.run("%spark").stream("stdout")
    assert "state:      ready" in out, out
    assert f"master:     {url}" in out
    assert "version:    4.2.0" in out
    if name == "cluster":
        assert "app id:     app-" in out and "Spark UI:   http://127.0.0.1:" in out
        assert "progress:   Spark status tracker" in out
    else:
        assert "progress:   Spark Connect progress handler" in out


def test_everything_listens_on_loopback_only(
    backend: tuple[str, Kernel, str], request: pytest.FixtureRequest
) -> None:
    name, kernel, _ = backend
    if name == "cluster":
        state = request.getfixturevalue("cluster").status()
        leaders = [state.master.pid, *(w.pid for w in state.workers)]
        assert kernel.value("spark.range(4).count()") == 4  # executors are running
        pids = [*process_group(leaders), kernel.jvm_pid()]
        assert len(pids) >= 6, pids  # master, 2 workers, 2 executors, the driver
    else:
        pids = process_group([request.getfixturevalue("connect_server").status().pid])
    addresses = listening_addresses(pids)
    assert addresses, "no listening socket found"
    assert {a.rsplit(":", 1)[0] for a in addresses} == {"127.0.0.1"}, addresses


def test_execution_and_output_capture(backend: tuple[str, Kernel, str]) -> None:
    name, kernel, _ = backend
    run = kernel.run(
        "print('out line'); import sys; print('err line', file=sys.stderr)\n"
        "n = spark.range(10).count()\nprint(n)"
    )
    assert run.status == "ok", run.error
    assert run.stream("stdout") == "out line\n10\n"
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert rec["status"] == "success" and rec["stdout"] == "out line\n10\n"
    assert "err line\n" in rec["stderr"]
    assert rec["created_variables"]["n"] == "10"
    if name == "cluster":  # the job ran on the executors of both workers
        assert len(rec["spark_job_ids"]) >= 1
        deadline = time.monotonic() + 30
        while kernel.value("sc._jsc.sc().getExecutorMemoryStatus().size() - 1") < 2:
            assert time.monotonic() < deadline, "the application did not get 2 executors"
            time.sleep(0.5)
    else:  # code that builds its own session gets the kernel's
        getorcreate = "__import__('pyspark.sql').sql.SparkSession.builder.getOrCreate()"
        assert kernel.value(f"{getorcreate} is spark") is True


def test_parquet_rule(backend: tuple[str, Kernel, str]) -> None:
    _, kernel, _ = backend
    t = table(kernel.run("spark.range(6).write.parquet(OUTPUT_DIR + '/result.parquet')"))
    assert t["source"] == "parquet" and t["parquet_path"].endswith("/result.parquet")
    assert sorted(r[0] for r in t["rows"]) == [0, 1, 2, 3, 4, 5]


def test_view_rule(backend: tuple[str, Kernel, str]) -> None:
    _, kernel, _ = backend
    t = table(kernel.run("spark.range(4).createOrReplaceTempView('v_backend')"))
    assert (t["source"], t["view_name"], len(t["rows"])) == ("view", "v_backend", 4)


def test_variable_rule(backend: tuple[str, Kernel, str]) -> None:
    _, kernel, _ = backend
    t = table(kernel.run("a = spark.range(3)\nb = spark.range(5)\nunrelated = 1"))
    assert (t["source"], t["variable_name"], len(t["rows"])) == ("direct_dataframe", "b", 5)


def test_spark_error_reads_short(backend: tuple[str, Kernel, str]) -> None:
    _, kernel, _ = backend
    run = kernel.run("spark.sql('select * from no_such_table')")
    assert run.status == "error"
    assert run.error["ename"] == "AnalysisException"
    assert run.error["evalue"].startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    text = "\n".join(run.error["traceback"])
    assert "JVM stacktrace" not in text and len(text) < 4000


def test_python_udf_runs_where_the_jobs_run(backend: tuple[str, Kernel, str]) -> None:
    _, kernel, _ = backend
    code = (
        "from pyspark.sql import functions as F\n"
        "print(sorted(r[0] for r in spark.range(4).select(F.udf(lambda x: x * 2, 'long')('id')).collect()))"
    )
    run = kernel.run(code)
    assert run.status == "ok", run.error
    assert run.stream("stdout").strip() == "[0, 2, 4, 6]"


def test_interrupt_ends_the_cell_and_its_job(
    backend: tuple[str, Kernel, str], request: pytest.FixtureRequest
) -> None:
    name, kernel, _ = backend
    if name == "connect":  # the server's Spark UI answers its first REST call slowly
        ui = request.getfixturevalue("connect_server").ui_url
        assert ui is not None
        (app,) = get_json(f"{ui}/api/v1/applications")
    state: dict[str, float] = {}

    def during(elapsed: float, messages: list[dict[str, Any]]) -> None:
        if "at" not in state and any(PROGRESS in m["content"].get("data", {}) for m in messages):
            state["at"] = elapsed
            kernel.km.interrupt_kernel()

    run = kernel.run(LONG_JOB, during=during, timeout=120)
    assert "at" in state, "the long job never showed progress"
    assert run.status == "error" and run.error["ename"] == "KeyboardInterrupt"
    assert run.seconds - state["at"] < 5, f"the cell ended {run.seconds - state['at']:.1f} s after"
    if name == "cluster":
        assert kernel.value("sc.statusTracker().getActiveJobsIds()") == []
    else:  # the server's own status: no job left running once the cell ended
        assert get_json(f"{ui}/api/v1/applications/{app['id']}/jobs?status=running") == []
    assert kernel.value("spark.range(10).count()") == 10


def test_cli_status_from_another_process(
    cluster: StandaloneCluster, connect_server: ConnectServer
) -> None:
    done = cli("cluster", "status", "--data-dir", str(cluster.data_dir))
    assert done.returncode == 0, done.stderr
    assert f"address={cluster.master_url} " in done.stdout and "workers=2/2" in done.stdout
    done = cli("connect", "status", "--data-dir", str(connect_server.data_dir))
    assert done.returncode == 0, done.stderr
    assert f"address={connect_server.url} " in done.stdout
    assert "spark-ui=http://127.0.0.1:" in done.stdout


@pytest.mark.parametrize("command", ["start", "status", "stop"])
def test_cli_commands_are_registered(command: str) -> None:
    import argparse

    from pyspark_kernel.services import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["cluster", command, "--workers", "3", "--data-dir", os.devnull])
    assert (args.command, args.action, args.workers) == ("cluster", command, 3)
    assert parser.parse_args(["connect", command]).action == command
