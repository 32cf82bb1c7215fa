"""The pure parts of pyspark_kernel.streaming: payloads against the fixtures, Kafka lag, error lines,
update coalescing, console-sink routing, cell origins of threads."""

import itertools
import threading
import time

from stream_kernel import fixture

from pyspark_kernel.streaming import (
    CONSOLE_RULE,
    CellOrigins,
    ConsoleSinkRouter,
    DisplayScheduler,
    QueryView,
    WriterInfo,
    _Update,
    kafka_lag,
    query_page,
    same_path,
    short_error,
    stream_payload,
    stream_text,
)

ACTIVE = fixture("stream_active.json")

KAFKA_PROGRESS = {
    "id": ACTIVE["id"],
    "runId": ACTIVE["run_id"],
    "name": "sales_by_window",
    "batchId": 12,
    "batchDuration": 806,
    "numInputRows": 250,
    "inputRowsPerSecond": 48.5,
    "processedRowsPerSecond": 310.2,
    "eventTime": {"watermark": "2024-03-01T12:00:10.000Z", "max": "2024-03-01T12:00:20.000Z"},
    "stateOperators": [{"numRowsTotal": 40}, {"numRowsTotal": 2}],
    "sources": [
        {
            "description": "KafkaV2[Subscribe[sales_events]]",
            "startOffset": {"sales_events": {"0": 1000}},
            "endOffset": {"sales_events": {"0": 1250}},
            "latestOffset": {"sales_events": {"0": 1300}},
        }
    ],
    "sink": {"description": "MemorySink"},
}


def view(**kwargs):
    fields = {
        "id": ACTIVE["id"],
        "run_id": ACTIVE["run_id"],
        "name": "sales_by_window",
        "parent": {"msg_id": "cell-1"},
        "display_id": "d1",
        "ui_url": ACTIVE["ui_url"],
    }
    return QueryView(**{**fields, **kwargs})


def test_payload_from_a_kafka_progress_matches_the_active_fixture():
    v = view()
    for batch in range(10, 13):
        v.add_progress({**KAFKA_PROGRESS, "batchId": batch}, "Waiting for data to arrive")
    payload = stream_payload(v)
    assert set(payload) == set(ACTIVE)
    expected = {k: ACTIVE[k] for k in ACTIVE if k != "history"}
    assert {k: payload[k] for k in expected} == expected
    assert [p["batch_id"] for p in payload["history"]] == [10, 11, 12]
    assert set(payload["history"][0]) == set(ACTIVE["history"][0])
    assert f"Spark UI: {ACTIVE['ui_url']}" in stream_text(payload)


def test_history_keeps_the_last_60_batches_once_each():
    v = view()
    for batch in range(100):
        v.add_progress({**KAFKA_PROGRESS, "batchId": batch}, None)
        v.add_progress({**KAFKA_PROGRESS, "batchId": batch}, None)
    ids = [p["batch_id"] for p in stream_payload(v)["history"]]
    assert ids == list(range(40, 100))


def test_failed_payload_matches_the_failed_fixture():
    failed = fixture("stream_failed.json")
    v = view(id=failed["id"], run_id=failed["run_id"], name=None, ui_url=failed["ui_url"])
    v.finish("java.lang.ArithmeticException: division by zero\n\tat x.y(Z.java:1)", "STREAM_FAILED")
    payload = stream_payload(v)
    assert set(payload) == set(failed)
    assert payload["state"] == "failed" and payload["message"] == "Terminated with exception"
    assert payload["error"] == "[STREAM_FAILED] java.lang.ArithmeticException: division by zero"
    assert "error: [STREAM_FAILED]" in stream_text(payload)


def test_query_page_is_the_runs_statistics_page_under_the_shown_ui():
    run = ACTIVE["run_id"]
    assert query_page("http://127.0.0.1:4040", run) == ACTIVE["ui_url"]
    prefix = "/user/alice/pyspark-kernel/sparkui/0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10"
    assert query_page(prefix, run) == f"{prefix}/StreamingQuery/statistics/?id={run}"
    assert query_page(None, run) is None  # Spark UI disabled
    assert "Spark UI" not in stream_text(stream_payload(view(ui_url=None)))


def test_kafka_lag_only_where_offsets_are_per_partition():
    assert kafka_lag({"t": {"0": 5, "1": 7}}, {"t": {"0": 9, "1": 7}}) == 4
    assert kafka_lag('{"t": {"0": 5}}', '{"t": {"0": 8}}') == 3
    assert kafka_lag(13, 13) is None
    assert kafka_lag({"t": {"0": 5}}, None) is None


def test_short_error_picks_the_python_error_of_a_foreachbatch_trace():
    trace = (
        "py4j.Py4JException: An exception was raised by the Python Proxy. Return Message: "
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "    raise ValueError('boom')\n"
        "ValueError: boom in batch 1\n\n\tat py4j.Protocol(Protocol.java:1)\n"
    )
    line = short_error(trace, "FOREACH_BATCH_USER_FUNCTION_ERROR")
    assert line == "[FOREACH_BATCH_USER_FUNCTION_ERROR] ValueError: boom in batch 1"
    assert short_error("[STREAM_FAILED] it broke\n\tat a.b") == "[STREAM_FAILED] it broke"
    assert len(short_error("x" * 1000)) == 300


def test_scheduler_coalesces_to_at_most_four_updates_a_second():
    sent = []
    scheduler = DisplayScheduler(
        lambda update, first: sent.append((time.monotonic(), update, first))
    )
    try:
        done = None
        for i in range(200):
            done = scheduler.submit(_Update("d", {}, {"i": i}))
            time.sleep(0.005)
        assert done is not None and done.wait(2)
    finally:
        scheduler.close()
    assert sent[0][2] is True and not any(first for _, _, first in sent[1:])
    assert sent[-1][1].data == {"i": 199}, "the newest update is the one sent last"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(sent)]
    assert len(sent) >= 3 and min(gaps) >= 0.24


def test_scheduler_sends_the_final_update_at_close():
    sent = []
    scheduler = DisplayScheduler(lambda update, first: sent.append(update.data), interval=60)
    scheduler.submit(_Update("d", {}, {"n": 1}))
    time.sleep(0.2)
    scheduler.submit(_Update("d", {}, {"n": 2}, final=True))
    scheduler.close()
    assert sent == [{"n": 1}, {"n": 2}]


def test_console_blocks_go_to_the_starting_cell_other_lines_pass():
    passed, written = [], []
    parent = {"msg_id": "cell-1"}
    target = {"parent": parent}
    router = ConsoleSinkRouter(
        lambda name, line: passed.append((name, line)),
        lambda: target["parent"],
        lambda p, name, text: written.append((p["msg_id"], text)),
    )
    block = [
        f"{CONSOLE_RULE}\n",
        "Batch: 3\n",
        f"{CONSOLE_RULE}\n",
        "+---+\n",
        "|  a|\n",
        "+---+\n",
        "\n",
    ]
    for line in ["udf print\n", *block, "after\n"]:
        router("stdout", line)
    assert [t for _, t in written] == block
    assert passed == [("stdout", "udf print\n"), ("stdout", "after\n")]
    target["parent"] = None  # two cells run console queries: not attributable
    for line in block:
        router("stdout", line)
    assert [line for _, line in passed[2:]] == block


def test_stream_noise_records_are_dropped_with_their_trace():
    passed = []
    router = ConsoleSinkRouter(lambda n, line: passed.append(line), lambda: None, print)
    lines = [
        "26/11/23 17:14:58 ERROR MicroBatchExecution: Query [id = x] terminated with error\n",
        "org.apache.spark.SparkException: boom\n",
        "\tat a.b(C.java:1)\n",
        "26/11/23 17:14:59 WARN Other: kept\n",
    ]
    for line in lines:
        router("stderr", line)
    assert passed == [lines[-1]]


def test_threads_belong_to_the_cell_they_were_started_in():
    class Pub:
        parent = {"msg_id": "global"}

        def current_parent(self):
            return self.parent

    pub = Pub()
    origins = CellOrigins(shell=None, publisher=pub)
    go, seen = threading.Event(), {}

    def work():
        go.wait(5)
        seen["parent"] = origins.parent()
        with origins.running({"msg_id": "batch"}):
            seen["inside"] = origins.parent()

    origins.begin_cell({"msg_id": "cell-a"})
    thread = threading.Thread(target=work)
    thread.start()
    origins.end_cell()
    pub.parent = {"msg_id": "cell-b"}  # a later cell runs now
    go.set()
    thread.join(5)
    assert seen == {"parent": {"msg_id": "cell-a"}, "inside": {"msg_id": "batch"}}
    assert origins.parent() == {"msg_id": "cell-b"}  # the main thread: the running cell


def test_writer_info_and_checkpoint_paths():
    assert WriterInfo(source="CONSOLE").is_console
    assert same_path("/tmp/cp/", "file:///tmp/cp")
    assert not same_path(None, None)
