"""Contract tests of `spark_internals`: each private PySpark/Py4J access the kernel relies
on, checked against the installed PySpark. A failure here means a PySpark release changed
something the kernel needs; fix it in `spark_internals` (and only there).

They run on every supported pyspark (`.ci/pyspark-range`: the oldest and the newest too);
where releases differ, each test states what holds on which."""

import inspect
import os
import threading
import time

import pytest
from pyspark import SparkContext
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryListener

from pyspark_kernel import spark_internals as internals

BEFORE_4_0 = internals.pyspark_version() < (4, 0)

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


def test_launch_jvm_takes_popen_kwargs():
    from pyspark.java_gateway import launch_gateway

    assert "popen_kwargs" in inspect.signature(launch_gateway).parameters


def test_launch_jvm_starts_a_driver_and_joins_it_as_pyspark_would(tmp_path):
    # launched by the kernel, joined by PySpark's launch_gateway (PYSPARK_GATEWAY_PORT)
    import os
    import signal

    log = open(tmp_path / "jvm.log", "wb")  # noqa: SIM115
    conf = {"spark.master": "local[1]", "spark.pyspark-kernel.test": "a b=c"}
    gateway = internals.launch_jvm(conf, stdout=log.fileno(), stderr=log.fileno())
    proc = internals.jvm_process(gateway)
    try:
        assert "PYSPARK_GATEWAY_PORT" not in os.environ  # set only while PySpark read it
        jvm = gateway.jvm
        assert jvm.System.getProperty("spark.pyspark-kernel.test") == "a b=c"
        assert jvm.SparkConf().get("spark.master") == "local[1]"  # a java_import PySpark did
        os.kill(proc.pid, signal.SIGINT)  # an interrupt of the kernel's process group
        time.sleep(0.5)
        assert proc.poll() is None
    finally:
        gateway.shutdown()
        proc.stdin.close()  # the driver exits when its stdin closes
        assert proc.wait(30) == 0
        log.close()


def test_launch_jvm_names_a_driver_that_exits_at_once(tmp_path):
    with open(tmp_path / "jvm.log", "wb") as log:
        bad = {"spark.master": "local[1]", "spark.driver.memory": "banana"}
        with pytest.raises(internals.DriverExited, match=r"exited \(1\) before sending its port"):
            internals.launch_jvm(bad, stdout=log.fileno(), stderr=log.fileno())
    assert "Invalid maximum heap size: -Xmxbanana" in (tmp_path / "jvm.log").read_text()


def test_spark_home_and_release_found_without_importing_pyspark_are_pysparks(monkeypatch):
    from pyspark.find_spark_home import _find_spark_home
    from pyspark.version import __version__

    monkeypatch.delenv("SPARK_HOME", raising=False)
    assert os.path.realpath(internals.spark_home()) == os.path.realpath(_find_spark_home())
    assert internals.pyspark_release() == __version__


def test_gateway_process_and_client(spark):
    gateway = internals.active_gateway()
    assert gateway is SparkContext._gateway is not None
    assert internals.jvm_process(gateway).poll() is None  # the running JVM
    assert callable(internals.gateway_client(gateway).send_command)


def test_spark_home_holds_the_jars_the_driver_is_launched_with():
    import os

    home = internals.spark_home()
    assert os.path.isfile(os.path.join(home, "bin", "spark-submit"))
    assert any(name.startswith("spark-core") for name in os.listdir(os.path.join(home, "jars")))


def test_jvm_property(spark):
    sc = spark.sparkContext
    assert "spark-core" in internals.jvm_property(sc, "java.class.path")
    assert internals.jvm_property(sc, "pyspark-kernel.no.such.property") is None


def test_forget_classic_session_names_exist():
    for owner, name in (
        (SparkContext, "_active_spark_context"),
        (SparkContext, "_gateway"),
        (SparkContext, "_jvm"),
        (SparkSession, "_instantiatedSession"),
        (SparkSession, "_activeSession"),
    ):
        assert hasattr(owner, name), f"{owner.__name__}.{name} is gone"


def test_a_running_context_serves_accumulators_from_a_server_that_shuts_down(spark):
    # forget_classic_session shuts this server down when the JVM died under a context
    server = spark.sparkContext._accumulatorServer
    assert callable(server.shutdown) and server.server_address


def test_forget_connect_session_name_exists():
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    assert hasattr(ConnectSession, "_default_session")
    internals.forget_connect_session(object())  # not the default: nothing happens


def test_context_stopped_and_live_user_session(spark):
    assert internals.context_stopped(spark) is False
    assert internals.live_user_session() is spark
    assert internals.context_stopped(object()) is True


def test_activate_on_this_thread_makes_the_session_the_threads_active_one(spark):
    found = {}

    def on_a_new_thread():
        internals.activate_on_this_thread(spark)
        found["after"] = SparkSession.getActiveSession()

    thread = threading.Thread(target=on_a_new_thread)
    thread.start()
    thread.join()
    assert found["after"] is not None
    assert found["after"]._jsparkSession.equals(spark._jsparkSession)


def test_the_accumulator_servers_failures_go_to_a_handler_and_its_reads_wait_a_limit(spark):
    # A socketserver server: a request that fails goes through its handle_error. (It
    # serves one connection at a time: once the JVM has sent an update, its connection is
    # the one served and a stray one waits; the kernel test sends one to a fresh session.)
    import socketserver

    sc = spark.sparkContext
    server = sc._accumulatorServer
    assert isinstance(server, socketserver.BaseServer)
    failures = []
    internals.guard_accumulator_server(sc, lambda request, address: failures.append(address), 3)
    assert server.RequestHandlerClass.timeout == 3
    try:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    except UnicodeDecodeError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert failures == [("127.0.0.1", 1)]


def test_thread_job_tags_read_and_replaced_in_one_string(spark):
    sc = spark.sparkContext
    sc.addJobTag("contract-a")
    sc.addJobTag("contract-b")
    try:
        before = internals.thread_job_tags(sc)
        assert before is not None and set(before.split(",")) == {"contract-a", "contract-b"}
        internals.set_thread_job_tags(sc, "contract-own")
        assert set(sc.getJobTags()) == {"contract-own"}
        internals.set_thread_job_tags(sc, before)
        assert set(sc.getJobTags()) == {"contract-a", "contract-b"}
        internals.set_thread_job_tags(sc, None)
        assert set(sc.getJobTags()) == set() and internals.thread_job_tags(sc) is None
    finally:
        sc.clearJobTags()


def test_job_ids_for_tag_and_cancel(spark):
    sc = spark.sparkContext
    tracker = internals.status_tracker(sc)
    sc.addJobTag("contract-tag")
    try:
        spark.range(10).count()
    finally:
        sc.removeJobTag("contract-tag")
    ids = internals.job_ids_for_tag(tracker, "contract-tag")
    assert ids and all(isinstance(i, int) for i in ids)
    # Spark's status store hears of a job's end after count() returns (its listener bus)
    deadline = time.monotonic() + 10
    while set(ids) & set(sc.statusTracker().getActiveJobsIds()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert internals.cancel_active_jobs(sc, "contract-tag") is False  # none running

    done = threading.Event()

    def long_job():
        sc.addJobTag("contract-long")
        try:
            spark.range(10**12).selectExpr("sum(id % 7)").collect()
        except Exception:
            pass
        finally:
            done.set()

    threading.Thread(target=long_job, daemon=True).start()
    deadline = time.monotonic() + 60
    while not internals.cancel_active_jobs(sc, "contract-long"):
        assert time.monotonic() < deadline, "the long job never showed up as active"
        time.sleep(0.1)
    assert done.wait(60)


def test_session_catalog_lists_views_and_sees_replacement(spark):
    catalog = internals.SessionCatalog(spark)
    spark.range(1).createOrReplaceTempView("contract_view")
    spark.range(1).createOrReplaceGlobalTempView("contract_global")
    assert "contract_view" in catalog.local_views()
    assert "contract_global" in catalog.global_views()
    first = catalog.local_identity("contract_view")
    spark.range(2).createOrReplaceTempView("contract_view")
    assert first and catalog.local_identity("contract_view") != first
    assert catalog.global_identity("contract_global")
    assert catalog.local_identity("no_such_view") == ""
    assert internals.is_classic(spark)


def test_catalog_listing_names_databases_tables_and_functions(spark, tmp_path):
    spark.sql(f"CREATE DATABASE contract_db LOCATION '{tmp_path}'")
    try:
        spark.sql("CREATE TABLE contract_db.t1 (id INT) USING parquet")
        spark.sql("CREATE TABLE contract_db.t2 (id INT) USING parquet")
        spark.range(1).createOrReplaceTempView("contract_listing_view")  # not a table
        current, databases, tables, functions = internals.catalog_listing(spark)
    finally:
        spark.sql("DROP DATABASE contract_db CASCADE")
    assert current == "default"
    assert {"default", "contract_db"} <= set(databases)
    assert sorted(tables["contract_db"]) == ["t1", "t2"]
    assert "contract_listing_view" not in tables["default"]
    assert {"abs", "count", "date_add"} <= set(functions)


def test_has_cached_data_sees_cached_dataframes_and_persisted_rdds(spark):
    spark.catalog.clearCache()
    assert internals.has_cached_data(spark) is False
    df = spark.range(5).cache()
    df.count()
    assert internals.has_cached_data(spark) is True
    df.unpersist(blocking=True)
    assert internals.has_cached_data(spark) is False
    rdd = spark.sparkContext.parallelize([1, 2]).cache()
    rdd.count()
    try:
        assert internals.has_cached_data(spark) is True
    finally:
        rdd.unpersist(blocking=True)
    assert internals.has_cached_data(spark) is False


def test_builder_options_are_what_the_builder_was_given():
    builder = SparkSession.Builder().master("local[1]").appName("contract")
    builder.config("spark.sql.shuffle.partitions", 3)
    # builder_options falls back to {} without it: the private attribute itself must exist
    options = builder._options
    assert isinstance(options, dict) and options["spark.master"] == "local[1]"
    assert internals.builder_options(builder) == {
        "spark.master": "local[1]",
        "spark.app.name": "contract",
        "spark.sql.shuffle.partitions": "3",
    }
    remote = SparkSession.Builder().remote("sc://127.0.0.1:1")
    assert internals.builder_options(remote)["spark.remote"] == "sc://127.0.0.1:1"
    assert internals.builder_options(SparkSession.Builder()) == {}  # not shared between builders


def test_connect_dataframes_explain_to_a_string():
    from pyspark.sql.connect.dataframe import DataFrame as ConnectDataFrame

    # physical_plan calls it without arguments on a Spark Connect DataFrame
    explain = ConnectDataFrame._explain_string
    inspect.signature(explain).bind(object())


def test_streaming_listener_bridge_delivers_events(spark):
    events = []

    class Recorder(StreamingQueryListener):
        @property
        def _jlistener(self):
            return internals.streaming_listener_bridge(self)

        def onQueryStarted(self, event):
            events.append(("started", str(event.id), internals.started_event_tags(event)))

        def onQueryProgress(self, event):
            events.append(("progress", str(event.progress.id)))

        def onQueryIdle(self, event):
            pass

        def onQueryTerminated(self, event):
            events.append(("terminated", str(event.id)))

    listener = Recorder()
    spark.streams.addListener(listener)
    sc = spark.sparkContext
    try:
        sc.addJobTag("contract-stream-start")
        try:
            query = spark.readStream.format("rate").load().writeStream.format("noop").start()
        finally:
            sc.removeJobTag("contract-stream-start")
        # onQueryStarted ran synchronously inside start()
        assert [e[0] for e in events][:1] == ["started"]
        query.processAllAvailable()
        progress = internals.last_progress(query)  # a dict on 3.5, an object from 4.0 on
        assert type(progress) is dict and progress["id"] == str(query.id)
        assert progress["batchId"] >= 0
        query.stop()
        deadline = time.monotonic() + 30
        while not any(e[0] == "terminated" for e in events) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        spark.streams.removeListener(listener)
    kinds = {e[0] for e in events}
    assert {"started", "terminated"} <= kinds
    assert all(e[1] == str(query.id) for e in events)
    tags = events[0][2]
    if BEFORE_4_0:
        assert tags is None  # 3.5's events carry no job tags
    else:
        assert tags is not None and "contract-stream-start" in tags


def test_writer_session_and_options(spark):
    writer = (
        spark.readStream.format("rate")
        .load()
        .writeStream.format("memory")
        .queryName("contract_q")
        .option("checkpointLocation", "/tmp/contract-ckpt")
    )
    assert internals.writer_session(writer) is spark
    assert internals.writer_options(writer) == ("contract_q", "/tmp/contract-ckpt", "memory")


def test_jvm_stack_trace_of_a_captured_error(spark):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException) as caught:
        spark.sql("select * from no_such_table_anywhere")
    trace = internals.jvm_stack_trace(caught.value)
    assert trace and "org.apache.spark" in trace
    assert internals.jvm_stack_trace(ValueError("plain")) is None


def test_error_condition_of_a_captured_error(spark):
    from pyspark.errors import AnalysisException

    with pytest.raises(AnalysisException) as caught:
        spark.sql("select * from no_such_table_anywhere")
    # getCondition() from 4.0 on, getErrorClass() on 3.5
    assert internals.error_condition(caught.value) == "TABLE_OR_VIEW_NOT_FOUND"
    assert internals.error_condition(ValueError("plain")) is None


def test_quiet_query_context_loggers():
    internals.quiet_query_context_loggers()  # before 4.0: nothing to quiet, no error
    if BEFORE_4_0:
        assert internals.query_context_loggers() == []
        with pytest.raises(ImportError):
            import pyspark.logger  # noqa: F401
        return
    from pyspark.logger import PySparkLogger

    assert PySparkLogger.getLogger("SQLQueryContextLogger").level > 40
    assert [lg.name for lg in internals.query_context_loggers()] == [
        "SQLQueryContextLogger",
        "DataFrameQueryContextLogger",
    ]


def test_show_classes_are_the_dataframes_that_print_rows(spark):
    import importlib

    (classic_module, classic_name), (connect_module, connect_name) = internals.show_classes()
    classic = getattr(importlib.import_module(classic_module), classic_name)
    assert type(spark.range(1)) is classic  # pyspark.sql.dataframe on 3.5, .classic from 4.0
    assert "show" in classic.__dict__
    connect = getattr(importlib.import_module(connect_module), connect_name)
    assert "show" in connect.__dict__


def test_show_string_is_what_show_prints(spark, capsys):
    df = spark.range(3).selectExpr("id", "repeat('x', 30) AS s")
    df.show(2, 20)
    printed = capsys.readouterr().out
    assert internals.show_string(df, 2, 20).rstrip("\n") == printed.rstrip("\n")
    assert "only showing top 2 rows" in printed and "x" * 17 + "..." in printed


def test_plans_name_the_operators_without_running_a_job(spark):
    from pyspark.sql import functions as F

    from pyspark_kernel.results.budget import needs_full_pass, preview_cost

    sc = spark.sparkContext
    before = len(sc.statusTracker().getJobIdsForGroup(None))
    grouped = spark.range(10).selectExpr("id % 2 AS k").groupBy("k").count()
    assert "Exchange hashpartitioning" in internals.physical_plan(grouped)
    analyzed, _optimized = internals.logical_plans(grouped)
    assert analyzed.startswith("Aggregate [k")
    assert analyzed == grouped._jdf.queryExecution().analyzed().toString()
    slow = spark.range(3).select(F.udf(lambda x: x, "long")("id"))
    assert "EvalPython" in internals.logical_plans(slow)[1]()
    assert len(sc.statusTracker().getJobIdsForGroup(None)) == before
    assert needs_full_pass(grouped)
    assert needs_full_pass(spark.range(3).orderBy("id", ascending=False))
    assert preview_cost(spark.range(3).filter("id > 1")) == "unknown"  # budgeted
    assert preview_cost(slow) == "unknown"  # Python code per row: budgeted
    assert preview_cost(spark.range(10**10).selectExpr("id * 2 AS x")) == "streaming"
    assert internals.physical_plan(object()) is None
    assert internals.logical_plans(object()) is None


def test_arrow_table_keeps_spark_types(spark):
    import datetime as dt
    import decimal

    import pyarrow as pa

    df = spark.sql(
        "select cast(1.50 as decimal(5,2)) d, timestamp'2024-03-01 12:00:00' ts, "
        "array(named_struct('k', 1)) nested"
    )
    table = internals.arrow_table(df)  # toArrow() from 4.0 on, _collect_as_arrow() on 3.5
    assert isinstance(table, pa.Table)
    assert pa.types.is_decimal(table.schema.field("d").type)
    assert pa.types.is_timestamp(table.schema.field("ts").type)
    assert table.schema.field("ts").type.tz is not None
    row = table.to_pylist()[0]
    assert row["d"] == decimal.Decimal("1.50")
    assert row["ts"] == dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)  # session zone UTC
    assert row["nested"] == [{"k": 1}]
    empty = internals.arrow_table(df.limit(0))
    assert empty.num_rows == 0 and empty.schema.names == ["d", "ts", "nested"]
    assert internals.arrow_table(object()) is None  # neither: the caller collects Rows


def test_connect_client_retries_are_bounded():
    from pyspark.sql.connect.client import SparkConnectClient

    client = SparkConnectClient("sc://127.0.0.1:1")  # connects only when asked something
    try:
        internals.bound_connect_retries(client, max_retries=3, max_backoff_ms=2000)
        if hasattr(client, "get_retry_policies"):  # 4.0+
            (policy,) = client.get_retry_policies()
            assert (policy.max_retries, policy.max_backoff) == (3, 2000)
        else:  # 3.5
            assert client._retry_policy["max_retries"] == 3
            assert client._retry_policy["max_backoff"] == 2000
    finally:
        client.close()  # else its exit hook asks the (absent) server to clean up


def test_connect_progress_handler_exists_from_4_0():
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    assert hasattr(ConnectSession, "registerProgressHandler") is not BEFORE_4_0
    assert hasattr(ConnectSession, "removeProgressHandler") is not BEFORE_4_0
    assert internals.register_progress_handler(object(), print) is False


def test_version_notes():
    assert internals.version_notes((4, 0)) == []
    notes = internals.version_notes((3, 5))
    assert notes and all("\n" not in n and len(n) < 120 for n in notes)
    assert internals.version_notes() == (notes if BEFORE_4_0 else [])


def test_compile_java_object_builds_an_instance_in_the_driver(spark):
    source = (
        "public class ContractEcho {\n"
        "    private final String prefix;\n"
        "    public ContractEcho(String prefix) { this.prefix = prefix; }\n"
        "    public String echo(String text) { return prefix + text; }\n"
        "}\n"
    )
    echo = internals.compile_java_object(spark.sparkContext, source, "ContractEcho", "a-")
    assert echo.echo("b") == "a-b"
    with pytest.raises(Exception, match="CompileException"):
        internals.compile_java_object(
            spark.sparkContext, "public class ContractBroken { no java }", "ContractBroken"
        )


def test_a_remembered_schema_is_the_dataframes_own(spark):
    df = spark.range(3).selectExpr("id", "cast(id AS string) AS s")
    assert not internals.has_schema(df)
    assert "Project" in internals.analyzed_plan(df)
    internals.remember_schema(df, df._jdf.schema().json())
    assert internals.has_schema(df)
    client = internals.gateway_client(internals.active_gateway())
    send, sent = client.send_command, []
    client.send_command = lambda command, *a, **k: (sent.append(command), send(command, *a, **k))[1]
    try:
        assert [f.name for f in df.schema.fields] == ["id", "s"]
        assert df.schema.simpleString() == "struct<id:bigint,s:string>"
    finally:
        del client.send_command
    assert sent == []  # read from what was remembered
    fresh = spark.range(3).selectExpr("id", "cast(id AS string) AS s")
    assert fresh.schema == df.schema and internals.has_schema(fresh)
