"""Contract tests of `spark_internals`: each private PySpark/Py4J access the kernel relies
on, checked against the installed PySpark. A failure here means a PySpark release changed
something the kernel needs; fix it in `spark_internals` (and only there)."""

import inspect
import threading
import time

import pytest
from pyspark import SparkContext
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryListener

from pyspark_kernel import spark_internals as internals


def test_launch_jvm_takes_popen_kwargs():
    from pyspark.java_gateway import launch_gateway

    assert "popen_kwargs" in inspect.signature(launch_gateway).parameters


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


def test_forget_connect_session_name_exists():
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    assert hasattr(ConnectSession, "_default_session")
    internals.forget_connect_session(object())  # not the default: nothing happens


def test_context_stopped_and_live_user_session(spark):
    assert internals.context_stopped(spark) is False
    assert internals.live_user_session() is spark
    assert internals.context_stopped(object()) is True


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


def test_streaming_listener_bridge_delivers_events(spark):
    events = []

    class Recorder(StreamingQueryListener):
        @property
        def _jlistener(self):
            return internals.streaming_listener_bridge(self)

        def onQueryStarted(self, event):
            events.append(("started", str(event.id), list(event.jobTags)))

        def onQueryProgress(self, event):
            events.append(("progress", str(event.progress.id)))

        def onQueryIdle(self, event):
            pass

        def onQueryTerminated(self, event):
            events.append(("terminated", str(event.id)))

    listener = Recorder()
    spark.streams.addListener(listener)
    try:
        query = spark.readStream.format("rate").load().writeStream.format("noop").start()
        query.processAllAvailable()
        query.stop()
        deadline = time.monotonic() + 30
        while not any(e[0] == "terminated" for e in events) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        spark.streams.removeListener(listener)
    kinds = {e[0] for e in events}
    assert {"started", "terminated"} <= kinds
    assert all(e[1] == str(query.id) for e in events)


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


def test_quiet_query_context_loggers():
    internals.quiet_query_context_loggers()
    from pyspark.logger import PySparkLogger

    assert PySparkLogger.getLogger("SQLQueryContextLogger").level > 40
