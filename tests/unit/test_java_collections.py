"""Short Python lists and dicts become the same Java collections in one Py4J call once
the driver helper is compiled (`java_collections`), longer ones one element at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from py4j_commands import commands

import pyspark_kernel.java_collections as java_collections
import pyspark_kernel.spark_internals as internals
from pyspark_kernel.driver_calls import DriverCalls

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


@pytest.fixture(scope="module")
def helper(spark: Any) -> Iterator[Any]:
    calls = DriverCalls(spark.sparkContext)
    assert calls.compile()
    yield calls.helper


@contextmanager
def py4j_alone(spark: Any, helper: Any) -> Iterator[None]:
    """Py4J's own conversions in the block (as in a JVM the helper did not compile in)."""
    client = internals.gateway_client(spark.sparkContext._gateway)
    java_collections._HELPERS.pop(client, None)
    try:
        yield
    finally:
        java_collections.use(client, helper)


def made(spark: Any, value: Any) -> tuple[str, str, int]:
    """The Java class and text of `value` as a Java method receives it, and the calls
    made to send it (`String.valueOf(Object)` reads it back)."""
    jvm = spark.sparkContext._jvm
    string_class = jvm.java.lang.String  # looked up before the calls are counted
    with commands(spark, calls_only=True) as sent:
        text = string_class.valueOf(value)
    return type_of(spark, value), str(text), len(sent) - 1  # less `valueOf` itself


def type_of(spark: Any, value: Any) -> str:
    objects = spark.sparkContext._jvm.java.util.Objects
    return str(objects.requireNonNull(value).getClass().getName())


VALUES = [
    [],
    ["k"],
    [1, 2.5, None, True, "x", 2**40],
    ("a", "b", "c", "d", "e", "f", "g", "h"),  # the most in one call
    [["nested", 1], {"m": [2, 3]}],
    {"v": "sum", "x": "avg"},
    {1: None, "b": [1, 2], "c": {"d": 4}, "e": 5.0},  # the most in one call
]


@pytest.mark.parametrize("value", VALUES, ids=[str(v)[:24] for v in VALUES])
def test_a_short_collection_is_the_same_java_one_in_one_call(spark, helper, value):
    kind, text, calls = made(spark, value)
    with py4j_alone(spark, helper):
        expected_kind, expected, plain_calls = made(spark, value)
    assert (kind, text) == (expected_kind, expected)
    assert kind in ("java.util.ArrayList", "java.util.HashMap")
    assert calls == collections_in(value)  # one call per list or dict, nested ones too
    assert calls < plain_calls or calls == plain_calls == 1  # an empty one: 1 either way


def collections_in(value: Any) -> int:
    if not isinstance(value, (list, tuple, dict)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + sum(collections_in(item) for item in items)


def test_a_long_collection_goes_one_element_at_a_time(spark, helper):
    long_list = list(range(java_collections.MAX_ARGS + 1))
    kind, text, calls = made(spark, long_list)
    assert kind == "java.util.ArrayList" and text == str(long_list)
    assert calls == 1 + len(long_list)
    entries = {str(i): i for i in range(java_collections.MAX_ARGS // 2 + 1)}
    kind, text, calls = made(spark, entries)
    assert kind == "java.util.HashMap" and calls == 1 + len(entries)
    assert type_of(spark, (i for i in range(3))) == "java.util.ArrayList"  # a generator too


def test_dataframes_built_with_lists_and_dicts_are_the_same(spark, helper):
    def build() -> list[Any]:
        events = spark.range(100).selectExpr("id % 5 AS k", "id AS v", "id % 7 AS w")
        by_k = events.groupBy("k").agg({"v": "sum", "w": "max"})
        picked = events.select(["k", "v"]).orderBy(["k", "v"], ascending=[True, False])
        filled = events.na.fill({"v": 0}).dropDuplicates(["k"]).select("k")
        return [by_k.orderBy("k").collect(), picked.limit(7).collect(), filled.count()]

    with py4j_alone(spark, helper):
        expected = build()
    with commands(spark, calls_only=True) as sent:
        events = spark.range(100).selectExpr("id % 5 AS k", "id AS v")
        events.groupBy("k").agg({"v": "sum", "k": "count"})
    assert not any(c.startswith("i\njava.util.") for c in sent), sent  # no constructor
    assert build() == expected
