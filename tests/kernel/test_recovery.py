"""Interrupt, JVM death, bad configuration and shutdown, on real kernels and real JVMs."""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from kernel_client import Kernel

from pyspark_kernel.session import wait_for_exit

PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"


def when_job_runs(action):
    """A `during` callback that calls `action` once the cell's job progress is showing."""
    state = {}

    def during(elapsed, messages):
        if "at" not in state and any(PROGRESS in m["content"].get("data", {}) for m in messages):
            state["at"] = elapsed
            action()

    return during, state


@pytest.mark.core  # also run on the oldest and newest supported pyspark
def test_interrupt_stops_the_cells_jobs_and_keeps_streaming_queries(kernel):
    start = kernel.run(
        "q = (spark.readStream.format('rate').load().writeStream.format('memory')"
        ".queryName('keeps_running').trigger(processingTime='1 hour').start())\n"
        "import time\n"
        "while q.lastProgress is None: time.sleep(0.1)"
    )
    assert start.status == "ok", start.error
    during, state = when_job_runs(kernel.km.interrupt_kernel)
    run = kernel.run(LONG_JOB, during=during)
    assert "at" in state, "the long job never showed progress"
    assert run.status == "error" and run.error["ename"] == "KeyboardInterrupt"
    assert run.seconds - state["at"] < 5
    assert kernel.value("sc.statusTracker().getActiveJobsIds()") == []
    assert kernel.value("spark.range(10).count()") == 10
    assert kernel.value("q.isActive") is True
    rec = kernel.value("__import__('pyspark_kernel').last_record()['status']")
    assert rec == "success"  # the value() cell itself; the interrupted one is before it
    kernel.run("q.stop()")


@pytest.mark.core  # also run on the oldest and newest supported pyspark
def test_interrupt_of_a_python_only_cell(kernel):
    started = {}

    def interrupt_after_a_second(elapsed, messages):
        if elapsed > 1 and not started:
            started["at"] = elapsed
            kernel.km.interrupt_kernel()

    run = kernel.run("import time\nwhile True: time.sleep(0.05)", during=interrupt_after_a_second)
    assert run.error["ename"] == "KeyboardInterrupt"
    assert kernel.value("1 + 1") == 2


@pytest.mark.core  # also run on the oldest and newest supported pyspark
def test_cell_timeout_cancels_its_spark_jobs(kernel):
    kernel.run("%spark timeout 3")
    try:
        run = kernel.run(LONG_JOB)
        assert run.status == "error" and run.error["ename"] == "CellTimeout"
        assert run.reply["content"]["ename"] == "CellTimeout"  # the reply names it too
        assert "3 s limit" in run.error["evalue"]
        assert run.seconds < 20
        assert kernel.value("sc.statusTracker().getActiveJobsIds()") == []
    finally:
        kernel.run("%spark timeout 0")
    assert kernel.value("spark.range(4).count()") == 4


@pytest.mark.core  # also run on the oldest and newest supported pyspark
def test_jvm_killed_during_a_job_and_between_cells(kernel):
    kernel_pid = kernel.kernel_pid()
    kernel.run("keep = {'rows': [1, 2, 3]}")
    assert kernel.value("spark.range(1).count()") == 1
    first_jvm = kernel.jvm_pid()
    during, state = when_job_runs(lambda: os.kill(first_jvm, signal.SIGKILL))
    run = kernel.run(LONG_JOB, during=during)
    assert "at" in state
    assert run.status == "error"
    assert run.error["ename"] == "SparkDriverDied"
    assert run.reply["content"]["ename"] == "SparkDriverDied"  # as papermill and runs read it
    assert "killed by signal 9" in run.error["evalue"]
    assert len("\n".join(run.error["traceback"])) < 4000
    assert kernel.value("spark.range(10).count()") == 10
    second_jvm = kernel.jvm_pid()
    assert second_jvm != first_jvm
    # A stray client on its accumulator server, waiting for an answer, does not keep that
    # server up once its JVM is gone (PySpark reads with no time limit).
    with stray_connection(kernel):
        os.kill(second_jvm, signal.SIGKILL)
        time.sleep(1)
        assert kernel.value("spark.range(10).count()") == 10
        assert kernel.jvm_pid() not in (first_jvm, second_jvm)
        assert kernel.value("keep") == {"rows": [1, 2, 3]}
        assert kernel.kernel_pid() == kernel_pid
        # The dead contexts' accumulator servers were shut down: one serves the live one.
        servers = (
            "sum(t.name.endswith('(serve_forever)') for t in __import__('threading').enumerate())"
        )
        deadline = time.monotonic() + 10
        while kernel.value(servers) != 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert kernel.value(servers) == 1


# The start of a ZeroMQ greeting: a client that sends it waits for the server's before
# it sends more, as the channels of a kernel that died do when they reconnect to a port
# that kernel used and the accumulator server now has.
GREETING = bytes([0xFF] + [0] * 7 + [1, 0x7F, 3])


@contextlib.contextmanager
def stray_connection(kernel) -> Iterator[socket.socket]:
    """A connection to the session's accumulator server that sent a greeting and waits."""
    port = kernel.value("spark.sparkContext._accumulatorServer.server_address[1]")
    with socket.create_connection(("127.0.0.1", port)) as stray:
        stray.sendall(GREETING)
        yield stray


# What a ZeroMQ client sends first (its greeting), as the channels of a kernel that died do
# when they reconnect to a port that kernel used and the accumulator server now has.
STRAY = """
import socket
_port = spark.sparkContext._accumulatorServer.server_address[1]
for _ in range(2):
    with socket.create_connection(("127.0.0.1", _port)) as _s:
        _s.sendall(bytes([0xFF] + [0] * 7 + [1, 0x7F]) + bytes(64))
        __import__("time").sleep(0.5)
"""


ACCUMULATE = (
    "acc = sc.accumulator(0)\n"
    "sc.parallelize(range(10), 2).foreach(lambda x: acc.add(x))\n"
    "print(acc.value)"
)


def test_a_stray_connection_to_the_accumulator_server_shows_nothing_in_cells(kernel):
    # a new session: its server serves one connection at a time, the JVM's once it has one
    assert kernel.run("%spark restart").status == "ok"
    stray = kernel.run(STRAY)
    assert stray.status == "ok", stray.error
    after = kernel.run("__import__('time').sleep(1.5)")  # the server's thread polls each 1 s
    assert stray.stream("stderr") == "" and after.stream("stderr") == ""
    counted = kernel.run(ACCUMULATE)
    assert counted.status == "ok" and counted.stream("stdout") == "45\n", counted.messages
    # A stray client that waits for an answer does not stall the accumulator updates of a
    # fresh session (the JVM's connection waits behind it): PySpark would wait for it.
    assert kernel.run("%spark restart").status == "ok"
    with stray_connection(kernel):
        time.sleep(0.5)  # its connection is the one served
        counted = kernel.run(ACCUMULATE, timeout=30)
        assert counted.status == "ok" and counted.stream("stdout") == "45\n", counted.messages
        assert counted.stream("stderr") == ""


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--SparkSettings.conf", "spark.driver.memory=banana"], "spark.driver.memory='banana'"),
        (["--SparkSettings.master=nonsense://x"], "spark.master='nonsense://x'"),
        (
            ["--SparkSettings.conf", "spark.driver.memory=99999999g"],
            "spark.driver.memory=99999999g",
        ),
    ],
)
def test_bad_config_starts_the_kernel_and_names_the_setting(arguments, named, tmp_path):
    k = Kernel(extra_arguments=arguments, env={"PYSPARK_KERNEL_CACHE": str(tmp_path)})
    try:
        pid = k.kernel_pid()
        assert k.value("1 + 1") == 2
        for _ in range(2):  # asked again: same clear error, no crash loop
            run = k.run("spark.range(1).count()")
            assert run.status == "error"
            assert run.error["ename"] == "SparkSessionUnavailable"
            assert named in run.error["evalue"]
        assert named in k.run("%spark").stream("stdout")
        assert k.kernel_pid() == pid
        # no class-data archive is built for a driver JVM that never started
        cold_start = "__import__('pyspark_kernel').current().coldstart.status()"
        assert k.value(f"{cold_start}['builds_started']") == []
    finally:
        k.shutdown()


def test_shutdown_stops_queries_and_leaves_no_jvm():
    k = Kernel()
    k.run(
        "q = spark.readStream.format('rate').load().writeStream.format('memory').queryName('at_exit').start()"
    )
    jvm = k.jvm_pid()
    assert jvm is not None
    k.shutdown()
    assert wait_for_exit(jvm, timeout=20), f"JVM {jvm} still running after kernel shutdown"
