"""Process faults the kernel survives: SIGKILL of the kernel, repeated JVM deaths, result
size limits; and every socket the kernel and its JVM listen on is on loopback."""

import ipaddress
import os
import signal
import time
from collections.abc import Iterator

import psutil
import pytest
from kernel_client import Kernel

PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return (mapped or address).is_loopback


def listening(pid):
    proc = psutil.Process(pid)
    return [c.laddr for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """The module's kernel, started without the SPARK_LOCAL_IP that tests/conftest.py sets:
    what it binds is the kernel's own default."""
    k = Kernel(env={"SPARK_LOCAL_IP": None})
    yield k
    k.shutdown()


def test_every_listening_socket_is_on_loopback(kernel):
    # Nothing set by the environment (the kernel's environment as it started): the kernel's
    # defaults alone keep Spark on loopback.
    assert "SPARK_LOCAL_IP" not in psutil.Process(kernel.kernel_pid()).environ()
    assert kernel.value("spark.range(3).count()") == 3
    pids = [kernel.kernel_pid(), kernel.jvm_pid()]
    addresses = [addr for pid in pids for addr in listening(pid)]
    assert len(addresses) >= 4  # ZMQ channels, py4j, driver RPC, block manager, UI
    outside = [a for a in addresses if not is_loopback(a.ip)]
    assert outside == []
    ui_port = int(kernel.value("sc.uiWebUrl").rsplit(":", 1)[1])
    assert ui_port in [a.port for a in addresses]


@pytest.mark.timeout(600)
def test_jvm_killed_ten_times_between_and_during_cells(kernel):
    kernel.run("survivor = 'still here'")
    for round_ in range(10):
        jvm = kernel.jvm_pid() or (kernel.value("spark.range(1).count()") and kernel.jvm_pid())
        if round_ % 2:
            state = {}

            def kill_when_running(elapsed, messages, jvm=jvm, state=state):
                running = any(PROGRESS in m["content"].get("data", {}) for m in messages)
                if "done" not in state and running:
                    os.kill(jvm, signal.SIGKILL)
                    state["done"] = True

            run = kernel.run(LONG_JOB, during=kill_when_running, timeout=120)
            assert run.error["ename"] == "SparkDriverDied", (round_, run.error)
        else:
            os.kill(jvm, signal.SIGKILL)
            time.sleep(0.5)
        assert kernel.value("spark.range(10).count()") == 10, f"round {round_}"
    assert kernel.value("survivor") == "still here"


def test_collect_past_max_result_size_is_a_clear_error(kernel):
    kernel.run("%spark config spark.driver.maxResultSize=1m\n%spark restart")
    try:
        run = kernel.run(
            "rows = spark.range(200_000).selectExpr('sha2(cast(id as string), 512) as s').collect()"
        )
        assert run.status == "error"
        assert "maxResultSize" in run.error["evalue"]
        assert kernel.value("'rows' in dir()") is False  # nothing partial was bound
        assert kernel.value("spark.range(5).count()") == 5
        run = kernel.run(
            "pdf = spark.range(200_000).selectExpr('sha2(cast(id as string), 512) as s').toPandas()"
        )
        assert run.status == "error" and "maxResultSize" in run.error["evalue"]
    finally:
        kernel.run("%spark config spark.driver.maxResultSize=1g\n%spark restart")


def descendants(pid):
    return {p.pid for p in psutil.Process(pid).children(recursive=True)}


def gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [
            p
            for p in pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


@pytest.mark.timeout(420)
def test_sigkill_of_the_kernel_leaves_no_child_and_a_restarted_query_loses_nothing(tmp_path):
    out, checkpoint = tmp_path / "events", tmp_path / "checkpoint"
    start = (
        "q = (spark.readStream.format('rate').option('rowsPerSecond', 50).load()"
        f".writeStream.format('parquet').option('path', {str(out)!r})"
        f".option('checkpointLocation', {str(checkpoint)!r}).trigger(processingTime='1 second').start())\n"
        "import time\n"
        "while q.lastProgress is None or q.lastProgress['batchId'] < 2: time.sleep(0.2)"
    )
    k = Kernel()
    try:
        assert k.run(start, timeout=180).status == "ok"
        kernel_pid = k.kernel_pid()
        children = descendants(kernel_pid)
        assert k.jvm_pid() in children
        os.kill(kernel_pid, signal.SIGKILL)
        assert gone(children, timeout=30) == [], "children of the killed kernel survived"
        k.km.restart_kernel(now=True)
        k.kc.wait_for_ready(timeout=120)
        assert k.value("1 + 1") == 2
        assert k.run(start, timeout=180).status == "ok"
        k.run("q.stop()")
        counts = k.value(
            f"(lambda d: (d.count(), d.select('value').distinct().count(), d.agg({{'value': 'max'}}).first()[0]))"
            f"(spark.read.parquet({str(out)!r}))"
        )
        total, distinct, highest = counts
        assert total == distinct, "a restarted query duplicated rows"
        assert highest == total - 1, "a restarted query lost rows (values are 0..n-1)"
    finally:
        k.shutdown()
