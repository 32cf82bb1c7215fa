"""Py4J's reflection answers kept for the life of the JVM (see `reflection_cache`), read
from what a real driver JVM answers PySpark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from py4j.java_gateway import JavaPackage, java_import
from py4j_commands import commands
from pyspark.sql import functions as F

import pyspark_kernel.spark_internals as internals
from pyspark_kernel.reflection_cache import ReflectionCache

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


@contextmanager
def cache_before_jvm(spark: Any) -> Iterator[tuple[ReflectionCache, list[str]]]:
    """A cache on the session's Py4J client, and the commands that still reach the JVM
    (recorded under it; leaving `commands` takes both off the client)."""
    with commands(spark) as reached:
        yield ReflectionCache(internals.gateway_client(spark.sparkContext._gateway)), reached


def asked(commands: list[str]) -> list[str]:
    return [c for c in commands if c.startswith("r\n")]


def test_functions_called_again_ask_the_jvm_only_for_the_calls(spark):
    F.sum(F.col("v") * 2)  # PySpark reads some settings the first time only
    with commands(spark) as plain:
        expected = str(F.sum(F.col("v") * 2))
    with cache_before_jvm(spark) as (cache, reached):
        F.sum(F.col("v") * 2)
        reached.clear()
        hits = cache.hits
        column = F.sum(F.col("v") * 2)
        assert asked(reached) == [], asked(reached)
        called = [c.split("\n")[2] for c in reached if c.startswith("c\n")]
        assert {"col", "multiply", "sum"} <= set(called), called
        assert cache.hits - hits == len(asked(plain)) > 0
        assert str(column) == expected


def test_a_dataframe_built_with_kept_answers_gives_the_same_rows(spark):
    def rows() -> list[Any]:
        df = spark.range(30).groupBy((F.col("id") % 3).alias("k"))
        return df.agg(F.sum("id").alias("s"), F.avg("id").alias("a")).orderBy("k").collect()

    plain = rows()
    with cache_before_jvm(spark) as (cache, _):
        assert rows() == plain and rows() == plain
        assert cache.hits > 0


def test_packages_and_fields_are_asked_each_time(spark):
    jvm = spark.sparkContext._jvm
    with cache_before_jvm(spark) as (_, reached):
        assert jvm.java.lang.Integer.MAX_VALUE == 2**31 - 1
        reached.clear()
        assert jvm.java.lang.Integer.MAX_VALUE == 2**31 - 1
        names = [c.split("\n")[2:4] for c in asked(reached)]
        # the two packages and the field again; the class Integer from what was kept
        assert names == [["java", "rj"], ["java.lang", "rj"], ["java.lang.Integer", "MAX_VALUE"]]


def test_an_unknown_name_is_asked_again_and_an_import_changes_what_a_name_is(spark):
    view = spark.sparkContext._gateway.new_jvm_view()
    with cache_before_jvm(spark):
        # a name the view does not know is a package to Py4J, until an import
        assert isinstance(view.ArrayDeque, JavaPackage)
        java_import(view, "java.util.ArrayDeque")
        assert view.ArrayDeque().isEmpty()

        java_import(view, "java.sql.*")
        assert view.Date._fqn == "java.sql.Date"
        java_import(view, "java.util.Date")  # a single import comes before a wildcard one
        assert view.Date._fqn == "java.util.Date"
