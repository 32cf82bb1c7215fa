"""Pages, chart aggregations and profiles of whole results (results/explore.py), on real
DataFrames, checked against what Spark itself computes."""

import pytest
from pyspark.sql import functions as F

from pyspark_kernel.results import explore
from pyspark_kernel.results.explore import ExploreError, Filter, SortKey


@pytest.fixture(scope="module")
def sales(spark):
    rows = [
        (f"p{i % 60:02d}", i % 7, float(i % 13) * 1.5, None if i % 10 == 0 else f"c{i % 3}")
        for i in range(1_000)
    ]
    return spark.createDataFrame(rows, "product string, store int, amount double, city string")


def test_unsorted_page_and_has_more(spark):
    found = explore.page(spark.range(100), offset=10, limit=5)
    assert found["rows"] == [[10], [11], [12], [13], [14]] and found["has_more"] is True
    last = explore.page(spark.range(100), offset=95, limit=10)
    assert last["rows"] == [[95], [96], [97], [98], [99]] and last["has_more"] is False


def test_sorted_pages_match_spark_order(spark):
    df = spark.range(10**6)
    first = explore.page(df, 0, 3, [SortKey("id", True)])
    assert first["rows"] == [[999_999], [999_998], [999_997]]
    assert first["rows"][0][0] == df.orderBy(F.desc("id")).first()["id"]
    deep = explore.page(df, 500_000, 3, [SortKey("id", True)])  # past the top-K depth
    assert deep["rows"] == [[499_999], [499_998], [499_997]] and deep["has_more"] is True


def test_filters_are_anded(sales):
    found = explore.page(
        sales, 0, 1_000, filters=[Filter("city", "eq", "c1"), Filter("store", "ge", 3)]
    )
    expected = sales.where((F.col("city") == "c1") & (F.col("store") >= 3)).count()
    assert len(found["rows"]) == expected > 0
    nulls = explore.page(sales, 0, 1_000, filters=[Filter("city", "is_null")])
    assert len(nulls["rows"]) == sales.where(F.col("city").isNull()).count() == 100
    text = explore.page(sales, 0, 1_000, filters=[Filter("product", "contains", "P0")])
    assert {row[0] for row in text["rows"]} == {f"p0{i}" for i in range(10)}


def test_bad_requests_are_named(sales):
    with pytest.raises(ExploreError, match="no column 'nope'"):
        explore.page(sales, 0, 5, [SortKey("nope")])
    with pytest.raises(ExploreError, match="unknown filter op"):
        explore.page(sales, 0, 5, filters=[Filter("city", "like", "x")])
    with pytest.raises(ExploreError, match="unknown chart"):
        explore.chart_data(sales, "radar", "product", "amount")


def test_chart_over_a_truncated_result_equals_spark_groupby(sales):
    data = explore.chart_data(sales, "bar", "product", "amount", "sum", max_groups=10)
    truth = {
        r["product"]: r["s"]
        for r in sales.groupBy("product").agg(F.sum("amount").alias("s")).collect()
    }
    shown = {r["x"]: r["value"] for r in data["rows"]}
    assert data["groups"] == 60 and data["shown_groups"] == 10 and data["other"] is True
    top = sorted(truth, key=lambda k: (-abs(truth[k]), k))[:10]
    assert {k: shown[k] for k in top} == {k: truth[k] for k in top}
    assert shown["other"] == pytest.approx(sum(v for k, v in truth.items() if k not in top))
    assert len(shown) == 11


def test_chart_average_with_colour_over_the_whole_result(sales):
    data = explore.chart_data(sales, "line", "store", "amount", "avg", color="city")
    truth = {
        (r["store"], r["city"]): r["a"]
        for r in sales.groupBy("store", "city").agg(F.avg("amount").alias("a")).collect()
    }
    assert {(r["x"], r["color"]): r["value"] for r in data["rows"]} == pytest.approx(truth)
    assert [r["x"] for r in data["rows"]] == sorted(r["x"] for r in data["rows"])


def test_profile_matches_summary_and_approx_distinct(sales):
    found = explore.profile(sales)
    assert found["rows"] == 1_000
    by_name = {c["name"]: c for c in found["columns"]}
    summary = {r["summary"]: r for r in sales.summary("count", "mean", "min", "max").collect()}
    amount = by_name["amount"]
    assert amount["count"] == int(summary["count"]["amount"])
    assert amount["mean"] == pytest.approx(float(summary["mean"]["amount"]))
    assert amount["min"] == float(summary["min"]["amount"])
    assert amount["max"] == float(summary["max"]["amount"])
    assert sum(b["count"] for b in amount["histogram"]) == amount["count"]
    distinct = sales.agg(*(F.approx_count_distinct(c).alias(c) for c in sales.columns)).first()
    assert {c: by_name[c]["distinct"] for c in sales.columns} == distinct.asDict()
    city = by_name["city"]
    assert city["null_share"] == pytest.approx(0.1)
    truth = sales.where("city is not null").groupBy("city").count().orderBy(F.desc("count"), "city")
    assert city["top"] == [{"value": r["city"], "count": r["count"]} for r in truth.collect()]


def test_a_top_group_of_nulls_stays_itself(spark):
    rows = [(None, 100.0)] + [(f"k{i}", float(i)) for i in range(20)]
    df = spark.createDataFrame(rows, "k string, v double")
    data = explore.chart_data(df, "bar", "k", "v", "sum", max_groups=3)
    shown = {r["x"]: r["value"] for r in data["rows"]}
    assert shown[None] == 100.0 and shown["other"] == sum(range(18))
