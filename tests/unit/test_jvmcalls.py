"""Which Py4J commands may change a temporary view, read from the commands PySpark really
sends: views are listed again after those only (see `jvmcalls`)."""

from __future__ import annotations

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
