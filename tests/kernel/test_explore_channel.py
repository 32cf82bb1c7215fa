"""The whole result over the comm channel (ops page, chart, profile) and charts from code
(``%%sql --chart``, ``pyspark_kernel.chart``), against a real session."""

import base64
import json
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channel"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


TABLE = "application/vnd.pyspark-kernel.table.v1+json"
VEGALITE = "application/vnd.vegalite.v5+json"


@pytest.fixture(scope="module")
def comm(kernel):
    assert kernel.value("spark.range(1).count()") == 1
    return kernel.open_comm("pyspark-kernel.v1")


@pytest.fixture(scope="module")
def big(kernel):
    run = kernel.run("big = spark.range(10**7)")
    (table,) = run.data(TABLE)
    assert table["truncated"] is True and table["result_id"]
    return table["result_id"]


def test_sorted_descending_page_starts_with_the_largest(kernel, comm, big):
    reply = comm.request(
        {
            "op": "page",
            "id": 1,
            "result_id": big,
            "offset": 0,
            "limit": 5,
            "sort": [{"column": "id", "descending": True}],
        }
    )
    assert reply["ok"] is True, reply
    assert (
        reply["rows"][0] == [9_999_999] == [kernel.value("big.orderBy(big.id.desc()).first()[0]")]
    )
    assert reply["has_more"] is True and reply["columns"][0]["type"] == "bigint"
    assert set(reply) == set(fixture("page_reply.json"))


def test_deep_pages_sorted_and_unsorted(comm, big):
    sorted_ = comm.request(
        {
            "op": "page",
            "id": 2,
            "result_id": big,
            "offset": 5_000_000,
            "limit": 3,
            "sort": [{"column": "id", "descending": True}],
        },
        timeout=300,
    )
    assert sorted_["rows"] == [[4_999_999], [4_999_998], [4_999_997]], sorted_
    plain = comm.request(
        {"op": "page", "id": 3, "result_id": big, "offset": 5_000_000, "limit": 3}, timeout=300
    )
    assert plain["rows"] == [[5_000_000], [5_000_001], [5_000_002]], plain


def test_filters_return_only_matching_rows(comm, big):
    reply = comm.request(
        {
            "op": "page",
            "id": 4,
            "result_id": big,
            "offset": 0,
            "limit": 100,
            "filter": [
                {"column": "id", "op": "ge", "value": 9_999_990},
                {"column": "id", "op": "ne", "value": 9_999_995},
            ],
        },
    )
    assert [r[0] for r in reply["rows"]] == [i for i in range(9_999_990, 10**7) if i != 9_999_995]
    assert reply["has_more"] is False


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"op": "page", "id": 5, "result_id": "nope"}, "has expired"),
        ({"op": "page", "id": 6}, "missing argument 'result_id'"),
        ({"op": "page", "id": 7, "result_id": "BIG", "limit": 10**6}, "limit must be"),
        ({"op": "page", "id": 8, "result_id": "BIG", "sort": [{"column": "x"}]}, "no column 'x'"),
    ],
)
def test_unknown_or_expired_results_and_bad_pages(comm, big, request_, error):
    reply = comm.request(
        {**request_, "result_id": big} if request_.get("result_id") == "BIG" else request_
    )
    assert reply["ok"] is False and error in reply["error"]


def test_chart_and_profile_ops(kernel, comm):
    run = kernel.run(
        "sales = spark.range(1000).selectExpr('concat(\"p\", id % 60) AS product', 'id % 13 AS qty')"
    )
    (table,) = run.data(TABLE)
    truth = kernel.value("{r[0]: r[1] for r in sales.groupBy('product').sum('qty').collect()}")
    chart = comm.request(
        {
            "op": "chart",
            "id": "chart-1",
            "result_id": table["result_id"],
            "kind": "bar",
            "x": "product",
            "y": "qty",
            "agg": "sum",
            "max_groups": 10,
        }
    )["chart"]
    assert set(chart) == set(fixture("chart_reply.json")["chart"])
    shown = {r["x"]: r["value"] for r in chart["rows"]}
    assert chart["groups"] == 60 and chart["other"] is True and len(shown) == 11
    assert sum(shown.values()) == sum(truth.values())
    assert all(shown[k] == truth[k] for k in shown if k != "other")
    profile = comm.request({"op": "profile", "id": "profile-1", "result_id": table["result_id"]})[
        "profile"
    ]
    assert profile["rows"] == 1000
    expected = fixture("profile_reply.json")["profile"]["columns"]
    assert [set(c) for c in profile["columns"]] == [set(c) for c in expected[::-1]]
    qty = next(c for c in profile["columns"] if c["name"] == "qty")
    assert (qty["min"], qty["max"]) == (0, 12) and qty["null_share"] == 0.0
    kernel.run("pass")  # the ops ran between cells: no cell counts their jobs
    assert kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']") == []


def test_sql_chart_emits_vega_lite_and_a_png(kernel):
    kernel.run(
        "spark.range(100).selectExpr('id % 5 AS k', 'id AS v').createOrReplaceTempView('chart_src')"
    )
    run = kernel.run("%%sql --chart bar -x k -y v\nSELECT * FROM chart_src")
    assert run.status == "ok", run.error
    (spec,) = run.data(VEGALITE)
    assert spec["mark"]["type"] == "bar" and len(spec["data"]["values"]) == 5
    (png,) = run.data("image/png")
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    helper = kernel.run(
        "import pyspark_kernel\n_ = pyspark_kernel.chart(spark.table('chart_src'), 'line', x='k', y='v', agg='avg')"
    )
    (line,) = helper.data(VEGALITE)
    assert [p["value"] for p in line["data"]["values"]] == [47.5, 48.5, 49.5, 50.5, 51.5]
    assert line["mark"] == {"type": "line", "tooltip": True, "point": True}
    by_day = kernel.run(
        "_ = pyspark_kernel.chart(spark.range(3).selectExpr("
        "\"date_add(DATE'2024-01-01', CAST(id AS INT)) AS day\", 'id AS v'), 'area', x='day', y='v')"
    )
    (area,) = by_day.data(VEGALITE)
    assert area["encoding"]["x"] == {"field": "x", "type": "temporal", "title": "day"}
    assert [p["x"] for p in area["data"]["values"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_a_page_is_answered_while_a_cell_runs_on_a_subshell(kernel, big):
    """JupyterLab sends comm messages to a kernel subshell: ops do not wait for cells."""
    comm = kernel.open_comm("pyspark-kernel.v1", subshell=True)
    msg_id = kernel.kc.execute("import time; time.sleep(8)")
    started = time.monotonic()
    reply = comm.request({"op": "page", "id": "sub-1", "result_id": big, "limit": 2})
    answered = time.monotonic() - started
    assert reply["rows"] == [[0], [1]]
    assert answered < 8, "the reply waited for the running cell"
    done = kernel.kc.get_shell_msg(timeout=60)
    assert done["parent_header"]["msg_id"] == msg_id


def test_a_spark_cell_leaves_a_page_the_frontend_asked_for_running(kernel, comm):
    """A Spark cell cancels the kernel's own background work (the warm-up of a new
    session), not a page the user asked for in the browser (a subshell's request)."""
    run = kernel.run(
        "import time\n"
        "from pyspark.sql.functions import udf\n"
        "slow = spark.range(0, 4, 1, 1).withColumn('v', udf(lambda i: time.sleep(2) or i, 'long')"
        "('id'))"
    )
    (table,) = run.data(TABLE)
    sub = kernel.open_comm("pyspark-kernel.v1", subshell=True)
    sort = [{"column": "v", "descending": True}]
    sub.send({"op": "page", "id": "slow", "result_id": table["result_id"], "sort": sort})
    deadline = time.monotonic() + 120
    while not kernel.value("spark.sparkContext.statusTracker().getActiveJobsIds()"):
        assert time.monotonic() < deadline, "the page's job did not start"
    assert kernel.value("spark.range(3).count()") == 3  # a Spark cell while the page runs
    reply = sub.wait(lambda d: d.get("id") == "slow" and "ok" in d, timeout=120)
    assert reply["ok"] is True, reply
    assert reply["rows"] == [[3, 3], [2, 2], [1, 1], [0, 0]]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_sends_the_whole_result_in_chunks(kernel, comm, fmt, tmp_path):
    run = kernel.run("export_me = spark.range(20000).selectExpr('id', 'array(id, id) AS pair')")
    (table,) = run.data(TABLE)
    since = comm.mark()
    reply = comm.request(
        {"op": "export", "id": f"x-{fmt}", "result_id": table["result_id"], "format": fmt},
        timeout=300,
    )
    assert reply["ok"] is True and reply["file_name"] == f"export_me.{fmt}", reply
    assert set(reply) == set(fixture("export_reply.json"))
    chunks = [d for d in comm.received[since:] if d.get("id") == f"x-{fmt}" and "chunk" in d]
    assert {key for key in chunks[0] if key != "__buffers__"} == set(fixture("export_chunk.json"))
    assert [c["chunk"] for c in chunks] == list(range(reply["chunks"]))
    data = b"".join(c["__buffers__"][0] for c in chunks)
    assert len(data) == reply["size"]
    path = tmp_path / reply["file_name"]
    path.write_bytes(data)
    if fmt == "csv":
        lines = path.read_text().splitlines()
        assert lines[0] == "id,pair" and len(lines) == 20001 and lines[1] == '0,"[0,0]"'
    else:
        import pyarrow.parquet as pq

        assert pq.read_table(path).num_rows == 20000


def test_export_over_the_limit_is_refused(kernel, comm):
    run = kernel.run("too_big = spark.range(100000)")
    (table,) = run.data(TABLE)
    kernel.run("__import__('pyspark_kernel').current().settings.export_limit = 1000")
    try:
        reply = comm.request({"op": "export", "id": "x-big", "result_id": table["result_id"]})
    finally:
        kernel.run("__import__('pyspark_kernel').current().settings.export_limit = 200_000_000")
    assert reply["ok"] is False and "over the export limit of 1,000 bytes" in reply["error"]


def test_an_evicted_result_has_expired(kernel, comm):
    """Last in the module: shrinking the store drops the results the tests above use."""
    store = "__import__('pyspark_kernel').current().presenter.store"
    kernel.run(f"{store}.capacity = 2")
    try:
        ids = []
        for name in ("kept_a", "kept_b"):
            (table,) = kernel.run(f"{name} = spark.range(3)").data(TABLE)
            ids.append(table["result_id"])
        first, second = ids
        assert comm.request({"op": "page", "id": "lru-a", "result_id": first})["ok"] is True
        kernel.run("kept_c = spark.range(3)")  # drops the least recently used: kept_b
        gone = comm.request({"op": "page", "id": "lru-b", "result_id": second})
        assert gone["ok"] is False
        assert gone["error"] == (
            f"result {second!r} has expired: this kernel keeps its last 2 results "
            "(run the cell again to get it back)"
        )
        again = comm.request({"op": "page", "id": "lru-a2", "result_id": first})
        assert again["rows"] == [[0], [1], [2]]
    finally:
        kernel.run(f"{store}.capacity = 32")
