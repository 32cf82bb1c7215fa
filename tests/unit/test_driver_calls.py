"""`DriverCalls`: the kernel's per-cell JVM calls, one round trip per step once the helper
class is compiled in the driver, the same results one call at a time before."""

import json
import threading
from typing import Any

import pytest
from py4j_commands import commands
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pyspark_kernel import spark_internals as internals
from pyspark_kernel.driver_calls import SOURCE, DriverCalls, for_frame
from pyspark_kernel.results.budget import _nodes

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


def fresh(spark: Any, compiled: bool) -> DriverCalls:
    calls = DriverCalls(spark.sparkContext)
    if compiled:
        assert calls.compile()
    else:
        calls._compile_started = True  # stays on plain calls
    return calls


@pytest.mark.parametrize("compiled", [True, False], ids=["helper", "one-by-one"])
def test_a_cell_tag_replaces_the_last_and_finds_its_jobs(spark, compiled):
    sc = spark.sparkContext
    calls = fresh(spark, compiled)
    sc.addJobTag("users-own")  # a tag of the user's stays
    try:
        with commands(spark, calls_only=True) as sent:
            calls.begin_cell("dc-cell-1", "In [1]: spark.range(5).count()")
        assert len(sent) == (1 if compiled else 2)  # no previous tag yet
        assert set(sc.getJobTags()) == {"users-own", "dc-cell-1"}
        assert sc.getLocalProperty("spark.job.description") == "In [1]: spark.range(5).count()"
        spark.range(5).count()
        spark.range(6).count()
        expected = internals.job_ids_for_tag(internals.status_tracker(sc), "dc-cell-1")
        with commands(spark, calls_only=True) as sent:
            ids = calls.job_ids("dc-cell-1")
        assert ids == expected and len(ids) >= 2  # two counts
        assert (len(sent) == 1) if compiled else (len(sent) >= 2)
        assert calls.job_ids("dc-no-such-tag") == []
        calls.begin_cell("dc-cell-2", "In [2]: x = 1")
        assert set(sc.getJobTags()) == {"users-own", "dc-cell-2"}
    finally:
        sc.clearJobTags()


@pytest.mark.parametrize("compiled", [True, False], ids=["helper", "one-by-one"])
def test_the_plan_and_schema_of_a_dataframe(spark, compiled):
    calls = fresh(spark, compiled)
    df = spark.range(10).selectExpr("id % 3 AS k").groupBy("k").count()
    with commands(spark, calls_only=True) as sent:
        plan = calls.plan_operators(df)
        assert [f.name for f in df.schema.fields] == ["k", "count"]
        assert calls.plan_operators(df) == plan  # kept
    tree = str(df._jdf.queryExecution().analyzed().toString())
    assert _nodes(plan) == _nodes(tree) == ["Aggregate", "Project", "Range"]
    # one call for both with the helper; two for the plan and two for the schema without
    assert len(sent) == (1 if compiled else 4)


def test_only_the_last_plans_are_kept(spark):
    calls = fresh(spark, compiled=True)
    frames = [spark.range(i + 1) for i in range(20)]
    plans = [calls.plan_operators(df) for df in frames]
    assert len(calls._plans) == 16
    assert calls.plan_operators(frames[0]) == plans[0]  # asked again, still right
    assert plans[0] == plans[-1] == "Range"  # a fresh, kept plan each time
    assert calls._plans[id(frames[-1])][0]() is frames[-1]


def test_a_helper_that_does_not_compile_leaves_the_plain_calls(spark):
    calls = DriverCalls(spark.sparkContext)
    broken = SOURCE.replace("sc.addJobTag(tag);", "sc.noSuchMethod(tag);")
    import pyspark_kernel.driver_calls as module

    module.SOURCE, saved = broken, module.SOURCE
    try:
        assert calls.compile() is False
    finally:
        module.SOURCE = saved
    assert calls.helper is None
    try:
        calls.begin_cell("dc-broken", "In [3]: ...")
        assert "dc-broken" in set(spark.sparkContext.getJobTags())
    finally:
        spark.sparkContext.clearJobTags()


def test_one_instance_per_context_and_none_for_other_frames(spark):
    sc = spark.sparkContext
    assert DriverCalls.of(sc) is DriverCalls.of(sc)
    assert for_frame(spark.range(1)) is DriverCalls.of(sc)
    assert for_frame(object()) is None


def test_helpers_of_two_contexts_in_one_jvm_keep_apart(spark):
    # a context stopped and made again compiles its own class; Py4J caches methods by class
    # name, so a second class of the same name would fail every call of the first
    first, second = fresh(spark, compiled=True), fresh(spark, compiled=True)
    assert first.plan_operators(spark.range(2)) == "Range"
    assert second.plan_operators(spark.range(3).selectExpr("id + 1 AS x")) == "Project\nRange"
    assert first.job_ids("dc-none") == second.job_ids("dc-none") == []
    assert first.helper.getClass().getName() != second.helper.getClass().getName()


def test_the_job_ids_and_the_dataframe_described_next_in_one_call(spark):
    sc = spark.sparkContext
    calls = fresh(spark, compiled=True)
    calls.begin_cell("dc-cell-3", "In [3]: ...")
    try:
        spark.range(3).count()
        df = spark.range(10).selectExpr("id % 3 AS k").groupBy("k").count()
        with commands(spark, calls_only=True) as sent:
            ids = calls.job_ids("dc-cell-3", describe=df)
            plan = calls.plan_operators(df)
            assert [f.name for f in df.schema.fields] == ["k", "count"]
        assert len(sent) == 1  # the ids, the plan and the schema
        assert ids and ids == internals.job_ids_for_tag(internals.status_tracker(sc), "dc-cell-3")
        assert _nodes(plan) == _nodes(str(df._jdf.queryExecution().analyzed().toString()))
        # a frame described before, or anything but a DataFrame, is not asked for again
        with commands(spark, calls_only=True) as sent:
            assert calls.job_ids("dc-cell-3", describe=df) == ids
            assert calls.job_ids("dc-cell-3", describe=object()) == ids
        assert len(sent) == 2
    finally:
        sc.clearJobTags()


def test_the_operators_of_subqueries_and_joins_in_tree_string_order(spark):
    calls = fresh(spark, compiled=True)
    spark.range(5).createOrReplaceTempView("dc_numbers")
    df = spark.sql(
        "SELECT a.id FROM dc_numbers a JOIN dc_numbers b ON a.id = b.id "
        "WHERE a.id > (SELECT avg(id) FROM dc_numbers) ORDER BY a.id"
    )
    tree = str(df._jdf.queryExecution().analyzed().toString())
    operators = calls.plan_operators(df).splitlines()
    assert operators == _nodes(tree)
    assert {"Sort", "Join", "Aggregate", "Filter"} <= set(operators)


def test_a_call_sent_ahead_is_answered_before_the_next_command(spark):
    sc = spark.sparkContext
    jsc = sc._jsc.sc()
    try:
        jsc.setLocalProperty("dc.ahead", "before")  # this thread has its connection
        assert internals.send_ahead(jsc, "setLocalProperty", "dc.ahead", "sent ahead")
        # the next command reads the owed answer first, then gets its own
        assert sc.getLocalProperty("dc.ahead") == "sent ahead"
        assert [sc.getLocalProperty("dc.ahead") for _ in range(3)] == ["sent ahead"] * 3
        # a call sent ahead that fails is logged; the next command still gets its own answer
        assert internals.send_ahead(jsc, "noSuchMethod", "x")
        assert spark.range(4).count() == 4
        # two in a row: the first answer is read before the second call is sent
        assert internals.send_ahead(jsc, "setLocalProperty", "dc.ahead", "one")
        assert internals.send_ahead(jsc, "setLocalProperty", "dc.ahead", "two")
        assert sc.getLocalProperty("dc.ahead") == "two"
    finally:
        sc.setLocalProperty("dc.ahead", None)


def test_a_cell_tag_sent_ahead_tags_the_next_job(spark):
    sc = spark.sparkContext
    calls = fresh(spark, compiled=True)
    try:
        calls.begin_cell("dc-ahead-1", "In [4]: spark.range(3).count()", ahead=True)
        spark.range(3).count()
        assert calls.job_ids("dc-ahead-1")
        assert sc.getLocalProperty("spark.job.description") == "In [4]: spark.range(3).count()"
    finally:
        sc.clearJobTags()


def test_a_thread_with_no_connection_yet_calls_as_usual(spark):
    jsc = spark.sparkContext._jsc.sc()
    sent: list[bool] = []

    def first_command_of_a_thread() -> None:
        sent.append(internals.send_ahead(jsc, "setLocalProperty", "dc.thread", "x"))

    thread = threading.Thread(target=first_command_of_a_thread)
    thread.start()
    thread.join()
    assert sent == [False]


def test_an_interrupted_read_closes_the_connection_that_owes_the_answer(spark):
    jsc = spark.sparkContext._jsc.sc()
    jsc.setLocalProperty("dc.ahead", "x")
    client = internals.gateway_client(spark.sparkContext._gateway)
    connection = client.get_thread_connection()
    assert internals.send_ahead(jsc, "setLocalProperty", "dc.ahead", "y")

    class Interrupting:
        def readline(self) -> bytes:
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    stream, connection.stream = connection.stream, Interrupting()
    with pytest.raises(KeyboardInterrupt):
        jsc.getLocalProperty("dc.ahead")
    stream.close()
    assert connection.socket is None  # never used again with an answer owed
    assert spark.range(2).count() == 2  # Py4J opens this thread a new connection
    jsc = spark.sparkContext._jsc.sc()
    jsc.setLocalProperty("dc.ahead", None)


def test_a_schema_is_described_as_spark_writes_it(spark):
    # plain fields are written by the helper itself, the others by Spark: both the same
    calls = fresh(spark, compiled=True)
    queries = [
        'SELECT 1L AS `a"b\\\\c`, 2 AS i, CAST(3 AS SMALLINT) AS s, CAST(4 AS TINYINT) AS t, '
        "1.5D AS d, CAST(2.5 AS FLOAT) AS f, true AS b, 'x' AS `naïve 名`, X'01' AS bin, "
        "DATE'2024-01-02' AS dt, TIMESTAMP'2024-01-02 03:04:05' AS ts, "
        "TIMESTAMP_NTZ'2024-01-02 03:04:05' AS ntz, CAST(1.25 AS DECIMAL(10, 2)) AS dec, "
        "CAST(NULL AS STRING) AS nothing",
        "SELECT named_struct('x', 1) AS st, array(1, 2) AS arr, map('k', 1.0D) AS m",
        "SELECT INTERVAL '1' DAY AS dti, NULL AS v",
    ]
    frames = [spark.sql(q) for q in queries]
    frames.append(spark.range(2).withColumnRenamed("id", "tab\tnew\nline"))
    frames.append(spark.range(1).select(F.col("id").alias("m", metadata={"k": "v"})))
    for df in frames:
        written = str(calls.helper.describe(df._jdf)).split("\n", 1)[0]
        assert json.loads(written) == json.loads(str(df._jdf.schema().json()))
        assert StructType.fromJson(json.loads(written)) == df.schema


def test_a_cell_with_no_job_since_it_began_has_none_and_then_its_own(spark):
    sc = spark.sparkContext
    calls = fresh(spark, compiled=True)
    try:
        calls.begin_cell("dc-quiet", "In [5]: x = 1")
        assert calls.job_ids("dc-quiet") == []
        done = threading.Event()

        def another_thread() -> None:  # a job of another thread: the cell's still none
            spark.range(2).count()
            done.set()

        threading.Thread(target=another_thread).start()
        assert done.wait(60)
        assert calls.job_ids("dc-quiet") == []
        spark.range(3).count()
        mine = calls.job_ids("dc-quiet")
        assert mine and mine == internals.job_ids_for_tag(internals.status_tracker(sc), "dc-quiet")
        calls.begin_cell("dc-quiet-2", "In [6]: x = 2")
        assert calls.job_ids("dc-quiet-2") == []
        assert calls.job_ids("dc-quiet") == mine  # another tag than the cell's: listed
    finally:
        sc.clearJobTags()
