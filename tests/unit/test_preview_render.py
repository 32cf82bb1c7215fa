"""Previews of real DataFrames: every Spark SQL type into the JSON payload and the HTML."""

import contextlib
import datetime as dt
import decimal
import io
import json
from pathlib import Path

import pytest
from pyspark.sql import types as T

import pyspark_kernel.spark_internals as internals
from pyspark_kernel.results.preview import Preview, preview
from pyspark_kernel.results.render import (
    caption,
    table_bundle,
    table_html,
    table_payload,
    table_text,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mime"

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark
UTC = dt.timezone.utc


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def nested_df(spark):
    schema = T.StructType(
        [
            T.StructField("id", T.IntegerType(), False),
            T.StructField("tags", T.ArrayType(T.StringType()), True),
            T.StructField("attrs", T.MapType(T.StringType(), T.IntegerType()), True),
            T.StructField(
                "point",
                T.StructType(
                    [T.StructField("x", T.DoubleType()), T.StructField("y", T.DoubleType())]
                ),
                True,
            ),
            T.StructField("ts", T.TimestampType(), True),
            T.StructField("day", T.DateType(), True),
            T.StructField("raw", T.BinaryType(), True),
            T.StructField("score", T.DoubleType(), True),
            T.StructField("note", T.StringType(), True),
        ]
    )
    rows = [
        (
            1,
            ["a", "b"],
            {"k1": 1, "k2": 2},
            (1.5, -2.0),
            dt.datetime(2024, 3, 1, 12, tzinfo=UTC),
            dt.date(2024, 3, 1),
            bytearray(b"\x00\x01\x02"),
            float("nan"),
            "<script>alert(1)</script>",
        ),
        (2, [], {}, None, None, None, None, float("inf"), "x" * 40),
        (
            3,
            None,
            None,
            (None, 0.0),
            dt.datetime(1970, 1, 1, tzinfo=UTC),
            dt.date(1970, 1, 1),
            bytearray(b""),
            -0.5,
            None,
        ),
        (4, ["more"], None, None, None, None, None, 1.0, "hidden"),
    ]
    return spark.createDataFrame(rows, schema).orderBy("id")


def test_payload_of_every_nested_type_matches_the_shared_fixture(nested_df):
    shown = preview(nested_df, max_rows=3, max_chars=25)
    payload = table_payload(shown, 3, "view", view_name="events")
    assert payload == fixture("table_nested.json")


def test_scalar_types_are_json_safe(spark):
    schema = T.StructType(
        [
            T.StructField("price", T.DecimalType(10, 2)),
            T.StructField("big", T.LongType()),
            T.StructField("flag", T.BooleanType()),
            T.StructField("small", T.ByteType()),
            T.StructField("f", T.FloatType()),
            T.StructField("neg_inf", T.DoubleType()),
            T.StructField("ntz", T.TimestampNTZType()),
        ]
    )
    df = spark.createDataFrame(
        [
            (
                decimal.Decimal("12.50"),
                2**62,
                True,
                -3,
                0.5,
                float("-inf"),
                dt.datetime(2024, 1, 2, 3, 4, 5),
            )
        ],
        schema,
    )
    shown = preview(df, max_rows=10, max_chars=100)
    assert shown.rows == [["12.50", 2**62, True, -3, 0.5, "-Infinity", "2024-01-02T03:04:05"]]
    assert json.loads(json.dumps(shown.rows, allow_nan=False)) == shown.rows
    assert [c["type"] for c in shown.columns] == [
        "decimal(10,2)",
        "bigint",
        "boolean",
        "tinyint",
        "float",
        "double",
        "timestamp_ntz",
    ]


def test_timestamps_carry_the_session_time_zone_offset(spark):
    spark.conf.set("spark.sql.session.timeZone", "America/Sao_Paulo")
    try:
        df = spark.sql("select timestamp'2024-03-01 12:00:00' as ts")
        assert preview(df, 5, 100).rows == [["2024-03-01T12:00:00-03:00"]]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_preview_of_ten_billion_rows_is_bounded(spark):
    shown = preview(spark.range(10**10), max_rows=100, max_chars=100)
    assert len(shown.rows) == 100
    assert shown.truncated is True
    assert shown.row_count is None


def test_preview_reads_the_first_partitions_not_all_of_them(spark):
    # as show() does; through Arrow a limit runs a task on every partition, then a shuffle
    sc = spark.sparkContext
    sc.addJobTag("preview-partitions")
    try:
        shown = preview(spark.range(0, 10**6, 1, 200), max_rows=100, max_chars=100)
    finally:
        sc.removeJobTag("preview-partitions")
    assert len(shown.rows) == 100
    tracker = sc.statusTracker()
    jobs = internals.job_ids_for_tag(internals.status_tracker(sc), "preview-partitions")
    tasks = sum(
        tracker.getStageInfo(stage).numTasks
        for job in jobs
        for stage in tracker.getJobInfo(job).stageIds
    )
    assert jobs and tasks < 10, tasks


def test_preview_of_ten_million_string_rows_is_bounded(spark):
    df = spark.range(10**7).selectExpr("id", "cast(id as string) as s", "repeat('x', 40) as pad")
    shown = preview(df, max_rows=100, max_chars=100)
    assert len(shown.rows) == 100 and shown.truncated is True
    assert shown.rows[0][1:] == ["0", "x" * 40]


def test_preview_stays_under_the_byte_cap(spark):
    df = spark.range(100).selectExpr("id", "repeat('y', 400) as wide")
    shown = preview(df, max_rows=100, max_chars=1000, max_bytes=5_000)
    assert 0 < len(shown.rows) < 100 and shown.truncated is True
    assert len(json.dumps(shown.rows)) <= 5_000


def test_exact_count_when_asked(spark):
    shown = preview(spark.range(250), max_rows=100, max_chars=100, exact_count=True)
    assert (len(shown.rows), shown.truncated, shown.row_count) == (100, True, 250)
    assert "showing 100 of 250 rows" in caption(table_payload(shown, 100, "expression"))


def test_small_frame_is_not_truncated(spark):
    shown = preview(spark.range(3), max_rows=100, max_chars=100)
    assert shown.rows == [[0], [1], [2]] and shown.truncated is False


def test_streaming_frame_shows_schema_without_running_anything(spark):
    stream = spark.readStream.format("rate").load()
    before = spark.sparkContext.statusTracker().getJobIdsForGroup()
    shown = preview(stream, 100, 100)
    assert shown.streaming is True and shown.rows == []
    assert [c["name"] for c in shown.columns] == ["timestamp", "value"]
    assert spark.sparkContext.statusTracker().getJobIdsForGroup() == before
    assert "streaming DataFrame" in caption(table_payload(shown, 100, "expression"))


def test_pandas_on_spark_frames_are_previewed(spark):
    ps = pytest.importorskip("pyspark.pandas")
    psdf = ps.DataFrame({"a": [1, 2, 3]})
    shown = preview(psdf, max_rows=2, max_chars=100)
    assert [c["name"] for c in shown.columns] == ["index", "a"]
    assert shown.rows == [[0, 1], [1, 2]] and shown.truncated is True


def test_html_escapes_every_value_and_name():
    payload = fixture("table_nested.json")
    payload["columns"][0]["name"] = "<img src=x onerror=alert(1)>"
    html = table_html(payload)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "View events: showing 3 rows, more available" in html
    assert "struct&lt;x:double,y:double&gt;" in html


def test_html_and_text_tell_null_from_empty_string():
    payload = fixture("table_basic.json")
    html = table_html(payload)
    assert "<td></td>" in html and "<i style='opacity:0.6'>NULL</i>" in html
    text = table_text(payload)
    assert "| id: bigint | name: string | price: decimal(10,2) |" in text
    assert text.splitlines()[-1] == "DataFrame df: 3 rows"


def test_bundle_has_all_three_representations():
    data, metadata = table_bundle(fixture("table_basic.json"), {"k": 1})
    assert set(data) == {"application/vnd.pyspark-kernel.table.v1+json", "text/html", "text/plain"}
    assert metadata == {"k": 1}


def test_unknown_source_is_rejected():
    with pytest.raises(ValueError, match="unknown result source"):
        table_payload(Preview(columns=[]), 1, "somewhere")


def test_html_and_text_show_values_as_spark_show_prints_them(spark):
    df = spark.sql(
        "SELECT timestamp'2000-01-01 12:00:00' AS ts, timestamp'2000-01-01 12:00:00.120' AS ts2,"
        " timestamp_ntz'2000-01-01 12:00:00' AS ntz, date'2000-01-02' AS d, NULL AS n,"
        " true AS b, 1.5D AS dbl, 1e20D AS big, 1.0E-5D AS small, CAST(0.1 AS FLOAT) AS f,"
        " CAST(2.50 AS DECIMAL(10,2)) AS dec, CAST('ab' AS BINARY) AS bin, array(1, NULL) AS arr,"
        " named_struct('a', 1, 't', timestamp'2000-01-01 12:00:00') AS st, map('k', 1) AS m,"
        " CAST('NaN' AS DOUBLE) AS nan"
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        df.show(truncate=False)
    shown = [cell.strip() for cell in printed.getvalue().splitlines()[3].split("|")[1:-1]]
    payload = table_payload(preview(df, 10, 100), 10, "expression")
    text_row = table_text(payload).splitlines()[3]
    assert [cell.strip() for cell in text_row.strip("| ").split(" | ")] == shown
    assert payload["rows"][0][0] == "2000-01-01T12:00:00+00:00"  # the JSON payload stays ISO
    html = table_html(payload)
    assert "<td>2000-01-01 12:00:00</td>" in html and "<td>1.0E20</td>" in html
    assert "<td>{1, 2000-01-01 12:00:00}</td>" in html and "<td>{k -&gt; 1}</td>" in html


def test_ml_vectors_render_as_show_prints_them(spark):
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame(
        [(Vectors.dense([1.0, 2.0]), Vectors.sparse(3, [0], [1.0]))], ["dense", "sparse"]
    )
    payload = table_payload(preview(df, 10, 100), 10, "expression")
    assert [c["type"] for c in payload["columns"]] == ["vector", "vector"]
    assert payload["rows"] == [["[1.0,2.0]", "(3,[0],[1.0])"]]
    assert "| [1.0,2.0]     | (3,[0],[1.0])  |" in table_text(payload)


def test_pandas_on_spark_series_is_previewed_with_its_index(spark):
    import pyspark.pandas as ps

    series = ps.Series([10, 20], index=["x", "y"], name="n")
    payload = table_payload(preview(series, 10, 100), 10, "expression")
    assert [(c["name"], c["type"]) for c in payload["columns"]] == [
        ("index", "string"),
        ("n", "bigint"),
    ]
    assert payload["rows"] == [["x", 10], ["y", 20]]
