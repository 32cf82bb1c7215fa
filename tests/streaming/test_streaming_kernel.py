"""Streaming queries on one real ``pyspark`` kernel: live displays in the starting cell,
``foreachBatch`` and console output routed there, ``%streams``, restarts of a start cell,
queries started by threads, interrupts and session restarts."""

import itertools
import json
import urllib.request

from stream_kernel import STREAM, fixture, msg_id, when_job_runs

LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"
FOREACH = ".foreachBatch(shout)"
CONSOLE = ".format('console')"
ACTIVE = fixture("stream_active.json")
FAILED = fixture("stream_failed.json")


def rate_query(name, sink=".format('memory')", rows=5, trigger="0.5 seconds"):
    """Code that starts a rate-source query called `name` (`sink`: the writer call)."""
    return (
        f"spark.readStream.format('rate').option('rowsPerSecond', {rows}).load()"
        f".writeStream{sink}.queryName('{name}')"
        f".trigger(processingTime='{trigger}').start()"
    )


def once_printed(marker, action, delay=1.0):
    """A `during` callback: `action` once the cell printed `marker`, `delay` s later."""
    state = {}

    def during(elapsed, messages):
        if "seen" not in state and any(marker in m["content"].get("text", "") for m in messages):
            state["seen"] = elapsed
        if "seen" in state and "done" not in state and elapsed - state["seen"] > delay:
            state["done"] = True
            action()

    return during


def payloads_where(kernel, cell, name, test):
    return lambda: [p for p in kernel.stream_payloads(cell, name) if test(p)]


def stream_messages(kernel, cell):
    return [
        m
        for m in kernel.of_cell(cell, "display_data", "update_display_data")
        if STREAM in m["content"]["data"]
    ]


def test_live_display_in_the_starting_cell_until_stopped(kernel):
    run = kernel.run(f"live = {rate_query('live')}")
    assert run.status == "ok", run.error
    cell = msg_id(run)
    shown = run.data(STREAM)
    assert shown, "the display must reach the cell before it ends"
    assert shown[0]["name"] == "live" and shown[0]["state"] in {"starting", "active"}

    active = kernel.wait_for(
        payloads_where(
            kernel, cell, "live", lambda p: p["state"] == "active" and p["batch_id"] >= 1
        ),
        timeout=120,
    )[-1]
    assert set(active) == set(ACTIVE)
    assert set(active["sources"][0]) == set(ACTIVE["sources"][0])
    assert set(active["history"][-1]) == set(ACTIVE["history"][-1])
    assert active["history"][-1]["batch_id"] == active["batch_id"]
    assert "stop_code" not in active  # no code travels in a payload (docs/channel.md)
    assert active["sink"] == "MemorySink" and active["sources"][0]["lag"] is None
    # The run's page in the Spark UI (a kernel outside a Jupyter server: the direct address).
    page = f"{kernel.value('sc.uiWebUrl')}/StreamingQuery/statistics/?id={active['run_id']}"
    assert shown[0]["ui_url"] == active["ui_url"] == page
    with urllib.request.urlopen(page, timeout=30) as response:
        text = response.read().decode()
    assert "Streaming Query Statistics" in text and active["run_id"] in text
    assert f"Spark UI: {page}" in stream_messages(kernel, cell)[-1]["content"]["data"]["text/plain"]

    stop = kernel.run("%streams stop all")
    assert f"stopped 'live' ({active['id']})" in stop.stream("stdout")
    final = kernel.wait_for(
        payloads_where(kernel, cell, "live", lambda p: p["state"] == "stopped"), timeout=30
    )[-1]
    assert final["error"] is None and final["batch_id"] >= 1

    messages = stream_messages(kernel, cell)
    assert [m["msg_type"] for m in messages[:1]] == ["display_data"]
    assert {m["msg_type"] for m in messages[1:]} == {"update_display_data"}
    assert len({m["content"]["transient"]["display_id"] for m in messages}) == 1
    assert all("Streaming query live" in m["content"]["data"]["text/plain"] for m in messages)
    assert messages[-1]["content"]["data"][STREAM]["state"] == "stopped"
    dates = [m["header"]["date"] for m in messages]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dates)]
    assert min(gaps) >= 0.2, f"more than 4 updates a second: {gaps}"


def test_failing_foreachbatch_ends_in_a_failed_display_and_a_stderr_line(kernel):
    run = kernel.run(
        "def explode(df, batch_id):\n"
        "    if batch_id >= 1:\n"
        "        raise ValueError(f'boom in batch {batch_id}')\n"
        "failing = (spark.readStream.format('rate').load().writeStream.foreachBatch(explode)"
        ".queryName('failing').trigger(processingTime='0.5 seconds').start())"
    )
    assert run.status == "ok", run.error
    cell = msg_id(run)
    failed = kernel.wait_for(
        payloads_where(kernel, cell, "failing", lambda p: p["state"] == "failed"), timeout=120
    )[-1]
    assert set(failed) == set(FAILED)
    assert "ValueError: boom in batch 1" in failed["error"]
    assert failed["error"].startswith("[FOREACH_BATCH_USER_FUNCTION_ERROR]")
    assert len(failed["error"]) <= 300
    said = kernel.wait_for(
        lambda: [ln for ln in kernel.stream_text(cell, "stderr").splitlines() if "failed: " in ln],
        timeout=10,
    )
    assert said == [
        f"pyspark-kernel: streaming query 'failing' ({failed['id']}) failed: {failed['error']}"
    ]
    assert kernel.value("(failing.isActive, failing.exception() is not None)") == (False, True)


def test_foreachbatch_and_console_output_land_in_the_starting_cell(kernel):
    start = kernel.run(
        "def shout(df, batch_id):\n"
        "    print(f'fb-batch {batch_id}')\n"
        f"shouter = {rate_query('shouter', sink=FOREACH, trigger='1 second')}\n"
        f"printer = {rate_query('printer', sink=CONSOLE, rows=2, trigger='1 second')}"
    )
    assert start.status == "ok", start.error
    cell = msg_id(start)
    later = kernel.run(
        "import time\n"
        "def batch(q):\n"
        "    return -1 if q.lastProgress is None else q.lastProgress['batchId']\n"
        "while batch(shouter) < 2 or batch(printer) < 2: time.sleep(0.2)\n"
        "time.sleep(1)",
        timeout=180,
    )
    assert later.status == "ok", later.error
    assert "fb-batch" not in later.stream("stdout")
    assert "Batch: " not in later.stream("stdout")
    seen = [m for m in kernel.while_running(msg_id(later)) if m["msg_type"] == "stream"]
    ours = [m["content"]["text"] for m in seen if m["parent_header"].get("msg_id") == cell]
    assert any("fb-batch" in text for text in ours), seen
    assert any("Batch: " in text for text in ours), seen
    kernel.run("%streams stop all")


def test_streams_magic_lists_shows_progress_and_stops_by_name(kernel):
    run = kernel.run(
        f"listed = {rate_query('listed')}\n"
        "import time\n"
        "while listed.lastProgress is None: time.sleep(0.2)"
    )
    assert run.status == "ok", run.error
    cell = msg_id(run)
    query_id = kernel.value("str(listed.id)")
    listing = kernel.run("%streams").stream("stdout")
    header, row = listing.splitlines()[:2]
    assert header.split()[:5] == ["name", "id", "batch", "input/s", "processed/s"]
    assert row.split()[:2] == ["listed", query_id]
    progress = json.loads(kernel.run("%streams progress listed").stream("stdout"))
    assert progress["name"] == "listed" and progress["batchId"] >= 0
    stop = kernel.run("%streams stop listed")
    assert stop.stream("stdout").strip() == f"stopped 'listed' ({query_id})"
    assert "listed" not in kernel.run("%streams").stream("stdout")
    kernel.wait_for(payloads_where(kernel, cell, "listed", lambda p: p["state"] == "stopped"), 30)
    bad = kernel.run("%streams frobnicate")
    assert bad.status == "error" and "unknown %streams command 'frobnicate'" in bad.stream("stderr")


def test_rerunning_a_start_cell_leaves_one_query(kernel, tmp_path):
    code = f"again = {rate_query('again')}"
    first = kernel.run(code)
    second = kernel.run(code)
    assert first.status == second.status == "ok", second.error
    said = second.stream("stdout")
    assert "stopping streaming query 'again'" in said and "same name" in said
    assert kernel.value("[q.name for q in spark.streams.active].count('again')") == 1
    kernel.wait_for(
        payloads_where(kernel, msg_id(first), "again", lambda p: p["state"] == "stopped"), 30
    )

    out, checkpoint = tmp_path / "out", tmp_path / "checkpoint"
    code = (
        "sink = (spark.readStream.format('rate').load().writeStream.format('parquet')"
        f".option('path', {str(out)!r}).option('checkpointLocation', {str(checkpoint)!r})"
        ".trigger(processingTime='1 second').start())"
    )
    first = kernel.run(code)
    second = kernel.run(code)
    assert first.status == second.status == "ok", second.error
    assert "same checkpoint location" in second.stream("stdout")
    assert kernel.value("sum(1 for q in spark.streams.active if q.id == sink.id)") == 1
    kernel.run("%streams stop all")


def test_query_started_by_a_thread_of_a_cell_shows_in_that_cell(kernel):
    start = kernel.run(
        "import threading, time\n"
        "def later():\n"
        "    time.sleep(1.5)\n"
        f"    globals()['threaded'] = {rate_query('threaded')}\n"
        "threading.Thread(target=later, daemon=True).start()"
    )
    cell = msg_id(start)
    wait = kernel.run(
        "import time\n"
        "while 'threaded' not in [q.name for q in spark.streams.active]: time.sleep(0.2)\n"
        "time.sleep(1)"
    )
    assert wait.status == "ok", wait.error
    kernel.wait_for(payloads_where(kernel, cell, "threaded", lambda p: p["state"] == "active"), 90)
    assert kernel.stream_payloads(msg_id(wait)) == []
    started = [
        m
        for m in kernel.while_running(msg_id(wait))
        if m["msg_type"] == "display_data" and STREAM in m["content"]["data"]
    ]
    assert started and started[0]["parent_header"]["msg_id"] == cell, "started during the wait"
    kernel.run("%streams stop threaded")


def test_interrupts_leave_the_query_running(kernel):
    run = kernel.run(
        f"survivor = {rate_query('survivor')}\n"
        "print('started', flush=True)\n"
        "survivor.awaitTermination()",
        during=once_printed("started", kernel.km.interrupt_kernel),
    )
    assert run.error["ename"] == "KeyboardInterrupt"
    cell = msg_id(run)
    during, state = when_job_runs(kernel.km.interrupt_kernel)
    unrelated = kernel.run(LONG_JOB, during=during)
    assert "at" in state, "the long job never showed progress"
    assert unrelated.error["ename"] == "KeyboardInterrupt"
    assert kernel.value("survivor.isActive") is True
    batch = kernel.value(
        "-1 if survivor.lastProgress is None else survivor.lastProgress['batchId']"
    )
    kernel.wait_for(
        payloads_where(kernel, cell, "survivor", lambda p: (p["batch_id"] or -1) > batch), 60
    )
    assert kernel.value("survivor.isActive") is True
    kernel.run("%streams stop survivor")


def test_listener_comes_back_after_a_session_restart(kernel):
    restart = kernel.run("%spark restart", timeout=240)
    assert restart.status == "ok", restart.error
    run = kernel.run(f"reborn = {rate_query('reborn')}")
    assert run.status == "ok", run.error
    cell = msg_id(run)
    kernel.wait_for(
        payloads_where(kernel, cell, "reborn", lambda p: p["state"] == "active"), timeout=120
    )
    kernel.run("%streams stop all")
    kernel.wait_for(payloads_where(kernel, cell, "reborn", lambda p: p["state"] == "stopped"), 30)
