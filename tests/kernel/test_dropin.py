"""What real PySpark notebooks do, on one running ``pyspark`` kernel: pandas-on-Spark
frames and Series, Python worker errors, ``spark.stop()``, ``show()``, the kernel's own
work kept out of the cell, values as ``show()`` prints them, records in the metadata."""

import re
import time
import uuid

import psutil
import pytest
from kernel_client import Kernel

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark

TABLE = "application/vnd.pyspark-kernel.table.v1+json"
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
RECORD = "pyspark_kernel"


def tables(run):
    return run.data(TABLE)


def test_pandas_options_are_those_of_a_plain_kernel(kernel):
    # The session's first JVM calls import pandas in the background; a plain kernel
    # (Jupyter) gives 20 columns, a terminal 0.
    assert kernel.run("spark.range(1).count()").status == "ok"
    assert kernel.value("__import__('pandas').get_option('display.max_columns')") == 20


def test_pandas_on_spark_frames_and_series_are_previewed_typed_with_their_index(kernel):
    run = kernel.run(
        "import pyspark.pandas as ps\n"
        "psdf = ps.DataFrame({'a': [1, 2, 3], 'b': [4.0, 5.0, 6.0]}, index=['x', 'y', 'z'])"
    )
    assert run.status == "ok", run.error
    (t,) = tables(run)
    assert [(c["name"], c["type"]) for c in t["columns"]] == [
        ("index", "string"),
        ("a", "bigint"),
        ("b", "double"),
    ]
    assert t["rows"] == [["x", 1, 4.0], ["y", 2, 5.0], ["z", 3, 6.0]]
    for code, rows in (
        ("psdf.head(2)", [["x", 1, 4.0], ["y", 2, 5.0]]),
        ("psdf['a']", [["x", 1], ["y", 2], ["z", 3]]),
        ("psdf.groupby('a').sum()", None),
        ("psdf.describe()", None),
    ):
        run = kernel.run(code)
        assert run.status == "ok", (code, run.error)
        (t,) = tables(run)
        if rows is not None:
            assert t["rows"] == rows, code


def test_the_kernels_own_preview_of_pandas_on_spark_is_silent(kernel):
    # A "sequence" default index makes Spark warn "WindowExec: No Partition Defined" on
    # every job over the frame; with progress shown at once, the kernel's preview jobs
    # would show progress and their WARN lines: they are the kernel's jobs, not the cell's.
    settings = "__import__('pyspark_kernel').current().settings"
    kernel.run(f"{settings}.progress_after = 0; {settings}.progress_keep_after = 0")
    runs, job_ids = [], []
    try:
        for code in (
            "import pyspark.pandas as ps\n"
            "ps.set_option('compute.default_index_type', 'sequence')\n"
            "psdf2 = ps.range(5)\nmore = psdf2 + 1",
            "more",  # previewed as the cell's value (the assigned one waits: a window)
        ):
            runs.append(kernel.run(code))
            job_ids.append(
                kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']")
            )
    finally:
        kernel.run(
            "ps.reset_option('compute.default_index_type')\n"
            f"{settings}.progress_after = 1.0; {settings}.progress_keep_after = 2.0"
        )
    assert [len(tables(run)) for run in runs] == [1, 1]
    assert tables(runs[1])[0]["rows"] == [[i, i + 1] for i in range(5)]  # its jobs ran
    for run in runs:
        assert run.status == "ok", run.error
        assert not re.search(r"WARN|WindowExec", run.stream("stderr")), run.stream("stderr")
        assert run.data(PROGRESS) == []
    assert job_ids == [[], []]


def test_a_python_worker_error_ends_with_its_own_exception_line(kernel):
    run = kernel.run(
        "from pyspark.sql.functions import udf\n"
        "@udf('int')\n"
        "def bad(x):\n"
        "    raise ValueError('the real cause')\n"
        "spark.range(2).select(bad('id')).collect()"
    )
    assert run.status == "error"
    assert run.error["ename"] == "PythonException"
    assert run.error["evalue"].endswith("ValueError: the real cause")
    # An applyInPandas whose output does not fit its schema: the worker's own check fails
    run = kernel.run(
        "grouped = spark.createDataFrame([(1, 1.0), (2, 2.0)], ('id', 'v')).groupBy('id')\n"
        "grouped.applyInPandas(lambda pdf: pdf[['v']], schema='id long, v double').collect()"
    )
    assert run.status == "error"
    assert run.error["ename"] == "PythonException"
    last = run.error["evalue"].splitlines()[-1]
    assert re.search(
        r"PySparkRuntimeError: \[RESULT_COLUMN\w+\] Column names of the returned .+ "
        r"do not match specified schema\. Missing: id\.$",
        last,
    ), run.error["evalue"]


def test_show_and_display_are_not_followed_by_a_second_table(kernel):
    run = kernel.run(
        "df_shown = spark.createDataFrame([(1, 'x')], 'id int, s string')\ndf_shown.show()"
    )
    assert run.status == "ok"
    assert "|  1|  x|" in run.stream("stdout")
    assert tables(run) == []
    assert kernel.value("__import__('pyspark_kernel').last_record()['result_source']") == "show"
    run = kernel.run("df_displayed = spark.range(3)\ndisplay(df_displayed)")
    assert len(tables(run)) == 1
    run = kernel.run("df_expr = spark.range(2)\ndf_expr")
    assert len(tables(run)) == 1


def test_table_values_read_as_show_prints_them(kernel):
    run = kernel.run(
        "spark.conf.set('spark.sql.session.timeZone', 'America/Sao_Paulo')\n"
        "spark.sql(\"SELECT timestamp'2000-01-01 12:00:00.5' AS t, 1e20D AS d, NULL AS n\")"
    )
    (t,) = tables(run)
    assert t["rows"] == [["2000-01-01T12:00:00.500000-02:00", 1e20, None]]  # JSON stays ISO
    bundle = run.of_type("execute_result")[0]["content"]["data"]
    assert "<td>2000-01-01 12:00:00.5</td><td>1.0E20</td>" in bundle["text/html"]
    assert "| 2000-01-01 12:00:00.5 | 1.0E20    | NULL    |" in bundle["text/plain"]
    kernel.run("spark.conf.set('spark.sql.session.timeZone', 'UTC')")


def test_ml_vectors_render_as_show_prints_them(kernel):
    run = kernel.run(
        "from pyspark.ml.linalg import Vectors\n"
        "vectors = spark.createDataFrame([(Vectors.dense([1.0, 2.0]), Vectors.sparse(3, [0], [1.0]))], ['d', 's'])"
    )
    (t,) = tables(run)
    assert [c["type"] for c in t["columns"]] == ["vector", "vector"]
    assert t["rows"] == [["[1.0,2.0]", "(3,[0],[1.0])"]]


def test_the_record_in_the_metadata_carries_the_cells_duration(kernel):
    run = kernel.run("import time; time.sleep(0.3); timed = spark.range(3)")
    (message,) = [m for m in run.of_type("display_data") if TABLE in m["content"]["data"]]
    assert message["content"]["metadata"][RECORD]["duration_ms"] >= 300


def test_a_session_the_user_stops_is_replaced_without_noise(kernel):
    run = kernel.run("spark.stop()")
    assert run.status == "ok", run.error
    run = kernel.run("spark.range(3).count()")
    assert run.status == "ok", run.error
    assert run.stream("stderr") == ""
    assert "3" in run.of_type("execute_result")[0]["content"]["data"]["text/plain"]
    # `sc` is re-bound with `spark`: the new session's context, and it runs jobs.
    run = kernel.run("print(sc is spark.sparkContext, sc.parallelize([1]).count())")
    assert run.status == "ok", run.error
    assert run.stream("stdout").strip() == "True 1"
    # The session a cell builds itself after a stop is the one bound to `spark`.
    run = kernel.run(
        "from pyspark.sql import SparkSession\n"
        "SparkSession.builder.getOrCreate().stop()\n"
        "mine = SparkSession.builder.getOrCreate()"
    )
    assert run.status == "ok", run.error
    run = kernel.run("print(spark is mine, spark.range(4).count())")
    assert run.status == "ok", run.error
    assert run.stream("stdout").strip() == "True 4"
    assert kernel.value("sc is mine.sparkContext and sc.parallelize([1]).count() == 1") is True
    assert not re.search(r"could not prepare|NoneType", run.stream("stderr"))


def test_a_users_stop_leaves_no_thread_or_connection_behind(kernel):
    # Each stop ended a cell whose session was gone: its progress poller, never told to
    # stop, kept polling the stopped context's tracker over a Py4J connection of its own.
    assert kernel.run("spark.range(1).count()").status == "ok"
    pollers = "sum(t.name == 'spark-progress' for t in __import__('threading').enumerate())"
    gateway = "sc._gateway.gateway_parameters.port"

    # the kernel's own background JVM work holds a connection of its own while it runs
    # (the catalog listing that follows a Spark cell): count once it has ended
    names = ("spark-catalog-snapshot", "spark-warm-up", "driver-calls-compile")
    own_work = f"any(t.name in {names!r} for t in __import__('threading').enumerate())"

    def connections() -> int:
        deadline = time.monotonic() + 30
        while kernel.value(own_work) and time.monotonic() < deadline:
            time.sleep(0.5)
        port = kernel.value(gateway)
        process = psutil.Process(kernel.kernel_pid())
        count = -1
        for _ in range(10):  # a connection of a thread just ended closes soon after
            now = sum(bool(c.raddr) and c.raddr.port == port for c in process.net_connections())
            if now == count:
                break
            count = now
            time.sleep(0.5)
        return count

    before = connections()
    for _ in range(3):
        assert kernel.run("spark.stop()").status == "ok"
        assert kernel.run("spark.range(2).count()").status == "ok"
    assert kernel.value(pollers) == 0  # the asking cell makes no Spark call: it has none
    assert connections() == before


def test_jobs_carry_the_cells_description_in_the_spark_ui_and_progress(kernel):
    settings = "__import__('pyspark_kernel').current().settings"
    kernel.run(f"{settings}.progress_after = 0; {settings}.progress_keep_after = 0")
    try:
        run = kernel.run("# count the rows\ndescribed = spark.range(7).count()\nprint(described)")
    finally:
        kernel.run(f"{settings}.progress_after = 1.0; {settings}.progress_keep_after = 2.0")
    count = run.reply["content"]["execution_count"]
    expected = f"In [{count}]: described = spark.range(7).count()..."
    names = {job["name"] for p in run.data(PROGRESS) for job in p["jobs"]}
    assert names == {expected}
    job_ids = {job["job_id"] for p in run.data(PROGRESS) for job in p["jobs"]}
    jobs = kernel.value(
        "__import__('json').loads(__import__('urllib.request').request.urlopen("
        "f'{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/jobs').read())"
    )
    described = {job["jobId"]: job.get("description") for job in jobs}
    assert job_ids and all(described[i] == expected for i in job_ids)
    # The next cell's jobs are described as that cell.
    run = kernel.run("print(sc.getLocalProperty('spark.job.description'))")
    count = run.reply["content"]["execution_count"]
    assert run.stream("stdout").strip() == (
        f"In [{count}]: print(sc.getLocalProperty('spark.job.description'))"
    )


def test_managed_tables_go_to_the_data_folder_not_the_notebooks(kernel):
    name = f"managed_{uuid.uuid4().hex[:8]}"
    run = kernel.run(f"spark.range(3).write.saveAsTable('{name}')")
    assert run.status == "ok", run.error
    try:
        location = kernel.value(
            f"spark.sql('DESCRIBE TABLE EXTENDED {name}')"
            ".where(\"col_name = 'Location'\").first().data_type"
        )
        data = kernel.value("str(__import__('pyspark_kernel.paths', fromlist=['x']).data_root())")
        assert location == f"file:{data}/spark-warehouse/{name}"
        assert kernel.value(f"__import__('os').path.exists('spark-warehouse/{name}')") is False
        derby = kernel.value("sc.getConf().get('spark.driver.extraJavaOptions')")
        assert f"-Dderby.system.home={data}/derby" in derby
    finally:
        kernel.run(f"spark.sql('DROP TABLE {name}')")


def test_managed_tables_with_hive_support_stay_out_of_the_notebooks_folder(tmp_path):
    # PySpark's jars carry Hive's classes: Hive support needs no download. A table saved
    # in one session is read by the next (a new driver JVM) with the same data folder.
    data, folder = tmp_path / "data", tmp_path / "notebooks"
    folder.mkdir()
    k = Kernel(
        env={"PYSPARK_KERNEL_DATA": str(data)},
        extra_arguments=["--SparkSettings.conf", "spark.sql.catalogImplementation=hive"],
        cwd=str(folder),
    )
    try:
        assert k.value("spark.conf.get('spark.sql.catalogImplementation')") == "hive"
        first_jvm = k.jvm_pid()
        run = k.run("spark.range(3).write.saveAsTable('kept')")
        assert run.status == "ok", run.error
        assert k.run("%spark restart").status == "ok"
        assert k.jvm_pid() != first_jvm
        assert k.value("spark.table('kept').count()") == 3
    finally:
        k.shutdown()
    assert list(folder.iterdir()) == []  # no spark-warehouse/, metastore_db/, derby.log
    assert (data / "spark-warehouse" / "kept").is_dir()
    assert (data / "derby" / "metastore_db").is_dir() and (data / "derby" / "derby.log").is_file()


def test_a_streaming_querys_memory_sink_is_not_a_result(kernel):
    run = kernel.run(
        "q = spark.readStream.format('rate').load().writeStream.format('memory')"
        ".queryName('rate_sink').start()\nq.processAllAvailable()"
    )
    try:
        assert run.status == "ok", run.error
        assert tables(run) == []
    finally:
        kernel.run("q.stop()")


def test_builder_settings_the_running_session_ignores_are_named(kernel):
    run = kernel.run(
        "from pyspark.sql import SparkSession\n"
        "built = SparkSession.builder.appName('mine')"
        ".config('spark.jars.packages', 'org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0')"
        ".config('spark.sql.shuffle.partitions', '7').getOrCreate()"
    )
    assert run.status == "ok", run.error
    notes = "".join(m["content"]["data"].get("text/plain", "") for m in run.of_type("display_data"))
    assert (
        "app name=mine was not applied" in notes
        and "to apply it: %spark config spark.app.name=mine then %spark restart" in notes
    )
    assert (
        "spark.jars.packages=org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 was not applied"
        in notes
    )
    assert "%spark packages kafka --restart" in notes
    assert "shuffle.partitions" not in notes  # a runtime setting: applied
    assert kernel.value("spark.conf.get('spark.sql.shuffle.partitions')") == "7"
    kernel.run("spark.conf.unset('spark.sql.shuffle.partitions')")
    run = kernel.run(
        "from pyspark import SparkConf, SparkContext\n"
        "ctx = SparkContext.getOrCreate(SparkConf().setMaster('local').setAppName('mine'))"
    )
    notes = "".join(m["content"]["data"].get("text/plain", "") for m in run.of_type("display_data"))
    assert "master=local was not applied (it runs with local[*])" in notes
    assert run.stream("stderr") == ""


def test_a_foreign_connection_to_a_spark_port_is_not_the_cells_output(kernel):
    # What a ZeroMQ client of another process sends when it reconnects to a port that
    # Spark's driver now listens on: Spark logs a 20-line WARN with a stack trace
    run = kernel.run(
        "import socket, time\n"
        "port = int(spark.sparkContext.getConf().get('spark.driver.port'))\n"
        "with socket.create_connection(('127.0.0.1', port)) as s:\n"
        "    s.sendall(b'\\xff' + b'\\x00' * 7 + b'\\x01\\x7f' + b'\\x00' * 54)\n"
        "    time.sleep(1.0)\n"
        "print(spark.range(3).count())"
    )
    assert run.status == "ok", run.error
    assert run.stream("stdout").strip() == "3"
    assert run.stream("stderr") == ""
    after = kernel.run("time.sleep(0.5)")
    assert after.stream("stderr") == ""


def test_failed_tasks_are_folded_to_one_line_per_error(kernel):
    run = kernel.run(
        "from pyspark.sql.functions import udf\n"
        "@udf('int')\n"
        "def always_fails(x):\n"
        "    raise ValueError('the real cause')\n"
        "spark.range(0, 8, 1, 4).select(always_fails('id')).collect()"
    )
    assert run.status == "error"
    assert run.error["evalue"].endswith("ValueError: the real cause")
    stderr = run.stream("stderr").splitlines()
    assert len(stderr) < 30, stderr
    assert any(
        re.match(
            r"Spark: \d+ task failures?: ValueError: the real cause \(full executor log: %spark tasklog\)",
            line,
        )
        for line in stderr
    ), stderr
    log = kernel.run("%spark tasklog").stream("stdout")
    assert "ERROR Executor: Exception in task" in log or "Lost task" in log
    assert "ValueError: the real cause" in log


def test_short_spark_work_leaves_no_saved_progress_summary(kernel):
    settings = "__import__('pyspark_kernel').current().settings"
    kernel.run(f"{settings}.progress_after = 0; {settings}.progress_keep_after = 60")
    try:
        run = kernel.run(
            "spark.range(2, numPartitions=2).foreach(lambda _: __import__('time').sleep(0.6))"
        )
    finally:
        kernel.run(f"{settings}.progress_after = 1.0; {settings}.progress_keep_after = 2.0")
    assert run.status == "ok", run.error
    updates = [m for m in run.of_type("display_data", "update_display_data")]
    progress = [m for m in updates if PROGRESS in m["content"]["data"]]
    assert progress, "the live display did not show"
    assert updates[-1]["msg_type"] == "update_display_data"
    assert updates[-1]["content"]["data"] == {}  # cleared: nothing to save


def test_interrupt_and_timeout_errors_do_not_point_to_a_trace(kernel):
    kernel.run("%spark timeout 2")
    try:
        run = kernel.run(
            "spark.range(2, numPartitions=2).foreach(lambda _: __import__('time').sleep(30))"
        )
    finally:
        kernel.run("%spark timeout 0")
    assert run.status == "error" and run.error["ename"] == "CellTimeout"
    assert "%spark trace" not in "\n".join(run.error["traceback"])
    interrupted = {}

    def interrupt_once_the_job_runs(elapsed, messages):
        if elapsed > 2 and not interrupted:
            interrupted["at"] = elapsed
            kernel.km.interrupt_kernel()

    run = kernel.run(
        "spark.range(2, numPartitions=2).foreach(lambda _: __import__('time').sleep(30))",
        during=interrupt_once_the_job_runs,
    )
    assert run.status == "error" and run.error["ename"] == "KeyboardInterrupt"
    assert run.seconds < 20
    assert "%spark trace" not in "\n".join(run.error["traceback"])


def test_spark_help_lists_every_magic(kernel):
    out = kernel.run("%spark help").stream("stdout")
    for magic in (
        "%%sql",
        "%%transform",
        "%record",
        "%streams",
        "%spark preview",
        "%spark tasklog",
    ):
        assert magic in out


def test_kafka_packages_and_the_missing_connector_error(kernel, kafka_connector_on_registry):
    kernel.run("spark.range(1).createOrReplaceTempView('kept_view')")
    run = kernel.run("spark.read.format('kafka').load()")
    assert run.status == "error"
    assert (
        "(Spark's Kafka connector is not loaded: %spark packages kafka --restart)"
        in run.error["traceback"]
    )
    run = kernel.run("%spark packages kafka")
    if not kafka_connector_on_registry:  # one line instead: tests/kernel/test_packages.py
        assert run.status == "error" and "no Kafka connector" in run.stream("stderr")
        return
    out = run.stream("stdout")
    assert re.search(
        r"will add kafka at %spark restart \(the session holds \d+ temporary views?\)", out
    )
    assert "%spark packages kafka --restart adds it now" in out
    run = kernel.run("%spark packages kafka --restart", timeout=600)
    assert run.status == "ok", run.error
    run = kernel.run("spark.read.format('kafka').load()")
    assert run.status == "error"
    assert "Failed to find data source" not in run.error["evalue"]  # the connector is there
    assert "%spark packages kafka" not in "\n".join(run.error["traceback"])
