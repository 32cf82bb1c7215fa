"""The kernel's behaviour on one running ``pyspark`` kernel: session, capture, records,
errors, magics and the three result-detection rules."""

import json
import time
from importlib import metadata

import pytest

from pyspark_kernel.spark_internals import version_notes

TABLE = "application/vnd.pyspark-kernel.table.v1+json"

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


def table(run):
    tables = run.data(TABLE)
    assert len(tables) == 1, f"expected one table, got {len(tables)}: {run.messages}"
    return tables[0]


def test_first_python_cell_answers_while_spark_is_still_starting(kernel):
    run = kernel.run(
        "import json, pyspark_kernel; print(json.loads(pyspark_kernel.status_json())['state'])"
    )
    assert run.status == "ok"
    assert run.stream("stdout").strip() == "starting"


def test_spark_and_sc_are_bound_and_getorcreate_returns_the_same_session(kernel):
    run = kernel.run(
        "from pyspark.sql import SparkSession\n"
        "print(SparkSession.builder.getOrCreate() is spark, sc is spark.sparkContext, spark.range(5).count())"
    )
    assert run.status == "ok", run.error
    assert run.stream("stdout").strip() == "True True 5"


def test_spark_status_magic_shows_loopback_ui_and_version(kernel):
    out = kernel.run("%spark").stream("stdout")
    assert "state:      ready" in out
    assert "master:     local[*]" in out
    assert "Spark UI:   http://127.0.0.1:" in out
    assert f"version:    {metadata.version('pyspark')}" in out
    # what this pyspark does differently, one line each (none from 4.0 on)
    notes = version_notes()
    assert [line for line in out.splitlines() if line.startswith("note:")] == [
        f"note:       {note}" for note in notes
    ]


def test_session_is_bound_to_loopback(kernel):
    conf = kernel.value(
        "{k: spark.conf.get(k) for k in ['spark.driver.host', 'spark.driver.bindAddress', 'spark.ui.killEnabled']}"
    )
    assert conf == {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.killEnabled": "false",
    }


def test_jvm_log_lines_reach_the_cell_at_the_chosen_level(kernel):
    emit = "spark._jvm.org.apache.logging.log4j.LogManager.getLogger('kernel.test').warn('hello from the jvm')"
    run = kernel.run(emit)
    assert "WARN test: hello from the jvm" in run.stream(
        "stderr"
    ) or "hello from the jvm" in run.stream("stderr")
    assert kernel.run("%spark log ERROR").status == "ok"
    assert "hello from the jvm" not in kernel.run(emit).stream("stderr")
    kernel.run("%spark log WARN")
    record = kernel.value("__import__('pyspark_kernel').last_record()['stderr']")
    assert record == ""  # the %spark log cell printed nothing to stderr


def test_execution_record_captures_the_cell(kernel):
    run = kernel.run(
        "print('out line'); import sys; print('err line', file=sys.stderr); n = spark.range(10).count()"
    )
    assert run.status == "ok"
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert rec["status"] == "success"
    assert rec["stdout"] == "out line\n"
    assert "err line\n" in rec["stderr"]
    assert rec["execution_count"] == run.reply["content"]["execution_count"]
    assert rec["duration_ms"] >= 0
    assert len(rec["spark_job_ids"]) >= 1
    assert rec["created_variables"]["n"] == "10"


def test_cells_sent_at_once_each_get_their_table_and_jobs_before_their_idle(kernel):
    # Each cell's table and record (its own job ids, its DataFrame described) come before
    # its idle, also with requests queued back to back as "Run All" and nbconvert send them.
    ids = [
        kernel.kc.execute(f"n{i} = spark.range({i + 1}).count(); q{i} = spark.range({i + 1})")
        for i in range(6)
    ]
    shown: dict[str, list[dict]] = {msg_id: [] for msg_id in ids}
    idle: list[str] = []
    deadline = time.monotonic() + 120
    while len(idle) < len(ids) and time.monotonic() < deadline:
        msg = kernel.kc.get_iopub_msg(timeout=60)
        kernel._keep_comm_message(msg)  # as `run` does: comm pushes stay readable
        parent = msg["parent_header"].get("msg_id")
        if parent not in shown:
            continue
        assert parent not in idle, f"output after idle: {msg['msg_type']}"
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.append(parent)
        elif msg["msg_type"] == "display_data" and TABLE in msg["content"]["data"]:
            shown[parent].append(msg["content"])
    assert idle == ids
    jobs: list[set[int]] = []
    for i, msg_id in enumerate(ids):
        (content,) = shown[msg_id]
        assert content["data"][TABLE]["rows"] == [[n] for n in range(i + 1)]
        record = content["metadata"]["pyspark_kernel"]
        assert record["detected_variable_name"] == f"q{i}"
        assert record["spark_job_ids"], f"cell {i} recorded no job of its count()"
        jobs.append(set(record["spark_job_ids"]))
    assert all(not (a & b) for k, a in enumerate(jobs) for b in jobs[k + 1 :])  # each its own
    replies = [kernel.kc.get_shell_msg(timeout=60) for _ in ids]
    assert [r["parent_header"]["msg_id"] for r in replies] == ids
    assert all(r["content"]["status"] == "ok" for r in replies)


def test_a_record_keeps_a_bounded_part_of_a_flood(kernel):
    # the cell shows all of it; the record (the last 200 are kept) only its first 100,000
    # characters per stream
    run = kernel.run("for i in range(15_000): print(f'line {i:05d}')")
    assert run.status == "ok" and "line 14999" in run.stream("stdout")
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert len(rec["stdout"]) == 100_000 and rec["truncated_output"] is True
    assert rec["stdout"].startswith("line 00000\n")


def test_the_record_describes_a_dataframe_without_running_it(kernel):
    # repr() of a DataFrame runs a job with eager evaluation on; the record never calls it
    kernel.run("spark.conf.set('spark.sql.repl.eagerEval.enabled', True)")
    try:
        run = kernel.run(
            "from pyspark.sql import functions as F\n"
            "wide = spark.range(3).groupBy((F.col('id') % 2).alias('k')).count()"
        )
        assert run.status == "ok", run.error
        rec = kernel.value("__import__('pyspark_kernel').last_record()")
        assert rec["created_variables"]["wide"] == "DataFrame[k: bigint, count: bigint]"
        assert rec["spark_job_ids"] == []  # its preview waits too: the plan needs a shuffle
    finally:
        kernel.run("spark.conf.unset('spark.sql.repl.eagerEval.enabled')")


def test_failing_cell_record_and_short_spark_error(kernel):
    run = kernel.run("spark.sql('select * from no_such_table')")
    assert run.status == "error"
    err = run.error
    assert err["ename"] == "AnalysisException"
    assert err["evalue"].startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    text = "\n".join(err["traceback"])
    assert "py4j" not in text and "JVM stacktrace" not in text
    assert len(text) < 4000
    assert "TABLE_OR_VIEW_NOT_FOUND" not in run.stream("stderr")  # the JVM's copy is not repeated
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert rec["status"] == "error" and rec["error_name"] == "AnalysisException"
    assert rec["result_source"] == "none"
    trace = kernel.run("%spark trace").stream("stdout")
    assert "org.apache.spark.sql" in trace


def test_parquet_rule(kernel):
    run = kernel.run("spark.range(6).write.parquet(OUTPUT_DIR + '/result.parquet')")
    t = table(run)
    assert t["source"] == "parquet" and t["parquet_path"].endswith("/result.parquet")
    assert sorted(r[0] for r in t["rows"]) == [0, 1, 2, 3, 4, 5]
    meta = next(
        m["content"]["metadata"]
        for m in run.of_type("display_data")
        if TABLE in m["content"]["data"]
    )
    assert meta["pyspark_kernel"]["result_source"] == "parquet"
    assert meta["pyspark_kernel"]["execution_count"] == run.reply["content"]["execution_count"]


def test_output_folder_is_emptied_before_the_next_cell(kernel):
    kernel.run("spark.range(1).write.parquet(OUTPUT_DIR + '/other.parquet')")
    run = kernel.run("import os; print(sorted(os.listdir(OUTPUT_DIR)))")
    assert run.stream("stdout").strip() == "['.pyspark-kernel-output']"
    assert (
        kernel.value("__import__('os').environ['PYSPARK_KERNEL_OUTPUT_DIR'] == OUTPUT_DIR") is True
    )


def test_view_rule_new_and_replaced_and_global(kernel):
    t = table(kernel.run("spark.range(4).createOrReplaceTempView('v_rule')"))
    assert (t["source"], t["view_name"], len(t["rows"])) == ("view", "v_rule", 4)
    t = table(kernel.run("spark.range(2).createOrReplaceTempView('v_rule')"))
    assert (t["source"], len(t["rows"])) == ("view", 2)
    t = table(
        kernel.run("spark.sql('CREATE OR REPLACE GLOBAL TEMP VIEW g_rule AS SELECT 1 AS one')")
    )
    assert (t["source"], t["view_name"], t["rows"]) == ("view", "global_temp.g_rule", [[1]])


def test_view_rule_sees_views_made_in_threads_and_not_those_made_between_cells(kernel):
    # A cell whose only Spark call runs in a thread it starts: its view is its result.
    code = (
        "import threading\n"
        "t = threading.Thread(target=lambda: spark.range(3).createOrReplaceTempView('v_thread'))\n"
        "t.start(); t.join()"
    )
    t = table(kernel.run(code))
    assert (t["source"], t["view_name"], len(t["rows"])) == ("view", "v_thread", 3)
    # A view a thread creates after its cell ended is not the next cell's result.
    kernel.run(
        "import time\n"
        "threading.Thread(target=lambda: (time.sleep(1), spark.range(2).createOrReplaceTempView('v_late'))).start()"
    )
    time.sleep(3)
    run = kernel.run("n_views = len(spark.catalog.listTables())")
    assert not run.data(TABLE)
    assert kernel.value("'v_late' in [t.name for t in spark.catalog.listTables()]") is True
    # A cell that makes no Spark call shows no result and no progress, and records no job.
    run = kernel.run("x_plain = 41 + 1")
    assert not run.data(TABLE)
    assert kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']") == []


def test_a_cell_naming_nothing_of_spark_is_tagged_on_its_first_jvm_call(kernel):
    # no JVM command at all from the cells' thread for cells that make no Spark call
    kernel.run(
        "import threading as _threading\n"
        "_client = spark.sparkContext._gateway._gateway_client\n"
        "_send, _sent = _client.send_command, []\n"
        "def _watch(command, *args, **kwargs):\n"
        "    if _threading.current_thread() is _threading.main_thread():\n"
        "        _sent.append(command.split('\\n')[:3])\n"
        "    return _send(command, *args, **kwargs)\n"
        "_client.send_command = _watch"
    )
    try:
        kernel.run("_sent.clear()")
        kernel.run("x_free = 41 + 1")
        assert kernel.value("list(_sent)") == []
    finally:
        kernel.run("_client.send_command = _send")
    # a function of an earlier cell uses Spark: its jobs are the cell's, under its tag
    kernel.run("def count_rows():\n    return spark.range(7).count()")
    run = kernel.run("n_rows = count_rows()")
    assert run.status == "ok", run.error
    assert len(kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']")) >= 1
    assert kernel.value("n_rows") == 7
    assert len(kernel.value("spark.sparkContext.getJobTags()")) == 1  # this cell's own


def test_variable_rule_takes_the_last_bound_dataframe(kernel):
    t = table(kernel.run("a = spark.range(3)\nb = spark.range(5)\nunrelated = 1"))
    assert (t["source"], t["variable_name"], len(t["rows"])) == ("direct_dataframe", "b", 5)


def test_rule_order_when_all_three_apply(kernel):
    code = (
        "d1 = spark.range(7)\n"
        "d1.createOrReplaceTempView('v_order')\n"
        "spark.range(9).write.parquet(OUTPUT_DIR + '/result.parquet')\n"
    )
    t = table(kernel.run(code))
    assert t["source"] == "parquet" and len(t["rows"]) == 9
    t = table(kernel.run("d2 = spark.range(3)\nd2.createOrReplaceTempView('v_order2')"))
    assert t["source"] == "view" and t["view_name"] == "v_order2"


def test_failing_cell_detects_nothing_and_deletes_nothing(kernel):
    code = "spark.range(2).write.parquet(OUTPUT_DIR + '/result.parquet')\nbad = spark.range(1)\n1/0"
    run = kernel.run(code)
    assert run.status == "error" and run.error["ename"] == "ZeroDivisionError"
    assert run.data(TABLE) == []
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert rec["result_source"] == "none"


def test_unreadable_parquet_is_a_read_error_not_a_failed_cell(kernel):
    run = kernel.run("open(OUTPUT_DIR + '/result.parquet', 'wb').write(b'not parquet at all')")
    assert run.status == "ok"
    assert run.data(TABLE) == []
    assert "could not show the parquet result" in run.stream("stderr")
    rec = kernel.value("__import__('pyspark_kernel').last_record()")
    assert rec["result_source"] == "read_error"
    assert rec["detected_parquet_path"].endswith("result.parquet")
    assert rec["result_error"]


def test_expression_shows_once_as_execute_result(kernel):
    run = kernel.run("e = spark.range(3)\ne")
    results = [
        m for m in run.of_type("execute_result", "display_data") if TABLE in m["content"]["data"]
    ]
    assert len(results) == 1 and results[0]["msg_type"] == "execute_result"
    payload = results[0]["content"]["data"][TABLE]
    assert payload["source"] == "expression"
    assert "text/html" in results[0]["content"]["data"]


def test_preview_is_bounded_and_says_more_rows_exist(kernel):
    t = table(kernel.run("big = spark.range(10**10)"))
    assert len(t["rows"]) == 100 and t["truncated"] is True and t["row_count"] is None
    kernel.run("%spark rows 5")
    t = table(kernel.run("big2 = spark.range(10)"))
    assert len(t["rows"]) == 5 and t["max_rows"] == 5
    kernel.run("%spark rows 100")


def test_streaming_dataframe_variable_is_shown_as_schema(kernel):
    t = table(kernel.run("s = spark.readStream.format('rate').load()"))
    assert t["streaming"] is True and t["rows"] == []


def test_detection_can_be_turned_off(kernel):
    kernel.run("%spark detect off")
    assert kernel.run("off_df = spark.range(3)").data(TABLE) == []
    kernel.run("%spark detect on")
    assert table(kernel.run("on_df = spark.range(3)"))["source"] == "direct_dataframe"


def test_sql_magic_substitutes_keeps_and_limits(kernel):
    kernel.run("limit_n = 4")
    run = kernel.run(
        "%%sql -o kept -n 2\nSELECT id, '<b>{not_a_name}</b>' AS tag FROM range({limit_n})"
    )
    t = table(run)
    assert t["source"] == "sql" and t["variable_name"] == "kept"
    assert len(t["rows"]) == 2 and t["truncated"] is True
    assert t["rows"][0] == [0, "<b>{not_a_name}</b>"]
    assert kernel.value("kept.count()") == 4


def test_record_magic_prints_json(kernel):
    kernel.run("x_for_record = spark.range(2)")
    out = kernel.run("%record --json").stream("stdout")
    rec = json.loads(out)
    assert rec["result_source"] == "direct_dataframe"
    assert rec["detected_variable_name"] == "x_for_record"
    assert rec["result_data"] == [{"id": 0}, {"id": 1}]


def test_bad_magic_input_gets_a_short_error(kernel):
    run = kernel.run("%spark rows lots")
    assert run.status == "error" and "UsageError: max_rows must be a number" in run.stream("stderr")
    run = kernel.run("%spark frobnicate")
    assert run.status == "error" and "unknown %spark command" in run.stream("stderr")


def test_config_and_restart_keep_python_variables(kernel):
    kernel.run("keep_me = {'a': 1}\nold_app = sc.applicationId")
    kernel.run("%spark config spark.sql.shuffle.partitions=3")
    run = kernel.run("%spark restart")
    assert run.status == "ok", run.error
    assert kernel.value("spark.conf.get('spark.sql.shuffle.partitions')") == "3"
    assert kernel.value("keep_me") == {"a": 1}
    assert kernel.value("sc.applicationId != old_app") is True
    assert kernel.value("spark.range(3).count()") == 3


@pytest.mark.parametrize(
    "bad", ["%spark config novalue", "%spark config spark.driver.memory=banana\n%spark restart"]
)
def test_bad_config_in_magic_is_refused_and_session_kept(kernel, bad):
    run = kernel.run(bad)
    assert run.status == "error"
    assert kernel.value("spark.range(2).count()") == 2
    kernel.run("__import__('pyspark_kernel').current().pending.values.clear()")


def test_progress_shows_for_long_spark_work_only_and_ends_done(kernel):
    progress = "application/vnd.pyspark-kernel.progress.v1+json"
    settings = "__import__('pyspark_kernel').current().settings"
    record = "__import__('pyspark_kernel').last_record()['spark_job_ids']"
    try:
        kernel.run(f"{settings}.progress_after = 60")
        quick = kernel.run("spark.range(10).count()")
        assert quick.status == "ok" and quick.data(progress) == []
        assert len(kernel.value(record)) >= 1  # its jobs are recorded though not shown

        kernel.run(f"{settings}.progress_after = 0.5")
        slow = kernel.run(
            "spark.range(2, numPartitions=2).foreach(lambda _: __import__('time').sleep(3))"
        )
        assert slow.status == "ok", slow.error
        updates = slow.data(progress)
        assert updates, "a 3 s job showed no progress"
        final = updates[-1]
        assert final["state"] == "done"
        assert final["totals"]["completed_tasks"] == final["totals"]["tasks"] == 2
        assert [job["job_id"] for job in final["jobs"]] == kernel.value(record)
    finally:
        kernel.run(f"{settings}.progress_after = 1.0")


def test_the_cell_job_tag_is_removed_when_ending_the_cell_fails(kernel):
    failing = kernel.run(
        "import pyspark_kernel\n"
        "_life = pyspark_kernel.current().life\n"
        "cell_tag = _life.current.tag\n"
        "def _fail(*args):\n"
        "    raise RuntimeError('injected: finishing the progress failed')\n"
        "_life._open.progress.finish = _fail  # the first step of the cell's end that asks Spark\n"
        "spark.range(3).count()"
    )
    assert failing.status == "ok"  # the cell itself ran; IPython shows the failed hook
    assert failing.error["evalue"] == "injected: finishing the progress failed"
    tag = kernel.value("cell_tag")
    assert tag.startswith("pyspark-kernel-")
    assert tag not in kernel.value("sorted(spark.sparkContext.getJobTags())")
    assert kernel.value("spark.range(2).count()") == 2


def test_ipythons_history_keeps_a_cells_stream_output_as_one_string_per_stream(kernel):
    # IPython 9 keeps one item per write(): 6,000 for this cell, a tenth of them text
    run = kernel.run(
        "import sys\n"
        "for _i in range(3000): print('line', _i)\n"
        "print('to stderr', file=sys.stderr)\n"
        "_flood_count = get_ipython().execution_count - 1"
    )
    assert run.status == "ok", run.error
    assert run.stream("stdout").count("\n") == 3000
    kept = kernel.value(
        "[(o.output_type, len(o.bundle['stream']), ''.join(o.bundle['stream'])) for o in "
        "get_ipython().history_manager.outputs[_flood_count]]"
    )
    assert [(kind, items) for kind, items, _ in kept] == [("out_stream", 1), ("err_stream", 1)]
    assert kept[0][2] == "".join(f"line {i}\n" for i in range(3000))
    assert kept[1][2] == "to stderr\n"
