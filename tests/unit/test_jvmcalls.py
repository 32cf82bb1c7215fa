"""Which Py4J commands may change a temporary view, read from the commands PySpark really
sends: views are listed again after those only (see `jvmcalls`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from py4j_commands import commands

import pyspark_kernel.spark_internals as internals
from pyspark_kernel.jvmcalls import CallCounter, may_change_views

VIEW_CHANGES: dict[str, Callable[[Any], Any]] = {
    "createOrReplaceTempView": lambda s: s.range(2).createOrReplaceTempView("jc_a"),
    "createTempView": lambda s: s.range(2).createTempView("jc_b"),
    "createOrReplaceGlobalTempView": lambda s: s.range(2).createOrReplaceGlobalTempView("jc_c"),
    "sql CREATE VIEW": lambda s: s.sql("CREATE OR REPLACE TEMP VIEW jc_d AS SELECT 1"),
    "sql CACHE TABLE": lambda s: s.sql("CACHE LAZY TABLE jc_e AS SELECT 1"),
    "dropTempView": lambda s: s.catalog.dropTempView("jc_a"),
    "memory sink": lambda s: (
        s.readStream.format("rate")
        .load()
        .writeStream.format("memory")
        .queryName("jc_f")
        .start()
        .stop()
    ),
    # a user's jar may change views from any method: a class outside Spark, Java, Scala
    "a class of another package": lambda s: s._jvm.org.apache.hadoop.fs.Path("/tmp").getName(),
}

NO_VIEW_CHANGE: dict[str, Callable[[Any], Any]] = {
    "define an aggregation": lambda s: s.range(9).groupBy((s.range(1).id % 2).alias("k")),
    "a column expression": lambda s: s.range(3).selectExpr("id * 2 AS x").filter("x > 1"),
    "count": lambda s: s.range(5).count(),
    "collect": lambda s: s.range(5).collect(),
    "toPandas": lambda s: s.range(5).toPandas(),
    "createDataFrame": lambda s: s.createDataFrame([(1, "a")], "n int, s string").schema,
    "job tags": lambda s: s.sparkContext.getJobTags(),
}


@pytest.mark.parametrize("name", list(VIEW_CHANGES))
def test_calls_that_change_views_are_seen(spark, name):
    with commands(spark) as sent:
        VIEW_CHANGES[name](spark)
    assert any(map(may_change_views, sent)), sent


@pytest.mark.parametrize("name", list(NO_VIEW_CHANGE))
def test_calls_that_change_no_view_are_not_counted_as_such(spark, name):
    with commands(spark) as sent:
        NO_VIEW_CHANGE[name](spark)
    assert sent and not any(map(may_change_views, sent)), [c for c in sent if may_change_views(c)]


def test_the_counter_counts_calls_and_view_changes_apart(spark):
    client = internals.gateway_client(spark.sparkContext._gateway)
    counter = CallCounter(client)
    try:
        spark.range(3).count()
        calls, changes = counter.calls, counter.view_changes
        assert calls > 0 and changes == 0
        spark.range(3).createOrReplaceTempView("jc_counted")
        assert counter.calls > calls and counter.view_changes > 0
    finally:
        del client.send_command


def test_a_call_sent_ahead_is_answered_before_the_next_one(spark):
    sc = spark.sparkContext
    client = internals.gateway_client(sc._gateway)
    counter = CallCounter(client)
    jsc = sc._jsc.sc()
    try:
        jsc.setLocalProperty("jc.ahead", "before")  # this thread has its connection
        assert counter.send_ahead(jsc, "setLocalProperty", "jc.ahead", "sent ahead")
        assert counter._ahead is not None  # owed, not read yet
        # the next call reads the owed answer first, then gets its own
        assert sc.getLocalProperty("jc.ahead") == "sent ahead"
        assert counter._ahead is None
        assert [sc.getLocalProperty("jc.ahead") for _ in range(3)] == ["sent ahead"] * 3
        # a call sent ahead that fails is logged; the next call still gets its own answer
        assert counter.send_ahead(jsc, "noSuchMethod", "x")
        assert spark.range(4).count() == 4
        # two sent ahead in a row: the first answer is read before the second is sent
        assert counter.send_ahead(jsc, "setLocalProperty", "jc.ahead", "one")
        assert counter.send_ahead(jsc, "setLocalProperty", "jc.ahead", "two")
        assert sc.getLocalProperty("jc.ahead") == "two"
    finally:
        counter.read_ahead()
        del client.send_command
        sc.setLocalProperty("jc.ahead", None)


def test_a_call_is_sent_ahead_only_from_the_main_thread(spark):
    client = internals.gateway_client(spark.sparkContext._gateway)
    counter = CallCounter(client)
    jsc = spark.sparkContext._jsc.sc()
    sent: list[bool] = []
    try:
        thread = threading.Thread(
            target=lambda: sent.append(counter.send_ahead(jsc, "setLocalProperty", "a", "b"))
        )
        thread.start()
        thread.join()
        assert sent == [False] and counter._ahead is None
    finally:
        del client.send_command


def test_an_interrupted_read_closes_the_connection_that_owed_the_answer(spark):
    sc = spark.sparkContext
    jsc = sc._jsc.sc()
    jsc.setLocalProperty("jc.ahead", "x")
    connection = internals.send_ahead(jsc, "setLocalProperty", "jc.ahead", "y")
    assert connection is not None

    class Interrupting:
        def readline(self) -> bytes:
            raise KeyboardInterrupt

    connection.stream, stream = Interrupting(), connection.stream
    with pytest.raises(KeyboardInterrupt):
        internals.read_ahead(connection)
    stream.close()
    assert connection.socket is None  # never reused with an answer owed
    assert spark.range(2).count() == 2  # Py4J opens this thread a new connection
