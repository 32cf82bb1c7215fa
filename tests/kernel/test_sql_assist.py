"""Spark SQL completion and inspection over ``complete_request``/``inspect_request``, and the
catalog the data browser shows (op ``catalog``), against a real session."""

import json
import time
from pathlib import Path

import pytest
from kernel_client import Kernel

VIEW = (
    "spark.range(3).selectExpr(\"id AS quantity\", \"named_struct('city', 'x') AS addr\")"
    '.createOrReplaceTempView("sales_2024")'
)


def fixture_catalog():
    path = Path(__file__).resolve().parents[1] / "fixtures" / "channel" / "catalog_reply.json"
    return json.loads(path.read_text())


def shell_reply(kernel, msg_id):
    """The content of the reply to `msg_id` (a late reply to an earlier request, such as
    the start's kernel_info, is skipped)."""
    reply = kernel.kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=30)
    return reply["content"]


def complete(kernel, code, cursor=None):
    cursor = len(code) if cursor is None else cursor
    return shell_reply(kernel, kernel.kc.complete(code, cursor))


def inspect(kernel, code, cursor=None):
    cursor = len(code) if cursor is None else cursor
    return shell_reply(kernel, kernel.kc.inspect(code, cursor))


def complete_until(kernel, code, cursor, expected, timeout=20.0):
    """The catalog snapshot is taken in the background after a cell: poll until fresh."""
    end = time.monotonic() + timeout
    while True:
        content = complete(kernel, code, cursor)
        if expected in content["matches"] or time.monotonic() > end:
            return content
        time.sleep(0.2)


@pytest.fixture(scope="module")
def with_view(kernel):
    assert kernel.run(VIEW).status == "ok"
    return kernel


def test_table_names_in_a_sql_cell(with_view):
    code = "%%sql\nSELECT * FROM sales_2"
    content = complete_until(with_view, code, len(code), "sales_2024")
    assert content["matches"] == ["sales_2024"]
    assert code[content["cursor_start"] : content["cursor_end"]] == "sales_2"
    (kind,) = content["metadata"]["_jupyter_types_experimental"]
    assert kind["type"] == "view"


def test_columns_of_the_statement_tables_before_from(with_view):
    code = "%%sql\nSELECT qua FROM sales_2024"
    cursor = code.index(" FROM")
    content = complete_until(with_view, code, cursor, "quantity")
    assert content["matches"][0] == "quantity"


def test_nested_struct_fields(with_view):
    code = "%%sql\nSELECT addr.ci FROM sales_2024"
    cursor = code.index(" FROM")
    content = complete_until(with_view, code, cursor, "city")
    assert content["matches"] == ["city"]
    assert code[content["cursor_start"] : content["cursor_end"]] == "ci"


def test_columns_after_an_alias(with_view):
    code = "%%sql\nSELECT s.qua FROM sales_2024 s"
    cursor = code.index(" FROM")
    content = complete_until(with_view, code, cursor, "quantity")
    assert content["matches"] == ["quantity"]
    assert code[content["cursor_start"] : content["cursor_end"]] == "qua"


def test_global_temp_views_and_their_columns(with_view):
    with_view.run(
        'spark.range(2).selectExpr("id AS gid").createOrReplaceGlobalTempView("shared_24")'
    )
    code = "%%sql\nSELECT * FROM global_temp.sha"
    content = complete_until(with_view, code, len(code), "shared_24")
    assert content["matches"] == ["shared_24"]
    assert code[content["cursor_start"] : content["cursor_end"]] == "sha"
    code = "%%sql\nSELECT g.gi FROM global_temp.shared_24 g"
    content = complete(with_view, code, code.index(" FROM"))
    assert content["matches"] == ["gid"]


def test_catalog_tables_after_their_database(with_view, tmp_path):
    location = (tmp_path / "orders").as_uri()
    with_view.run(
        "spark.sql('DROP TABLE IF EXISTS default.orders_24')\n"
        f"spark.sql(\"CREATE TABLE default.orders_24 (qty INT) USING parquet LOCATION '{location}'\")"
    )
    try:
        code = "%%sql\nSELECT * FROM default.ord"
        content = complete_until(with_view, code, len(code), "orders_24")
        assert content["matches"] == ["orders_24"]
        (kind,) = content["metadata"]["_jupyter_types_experimental"]
        assert kind["type"] == "table"
        code = "%%sql\nSELECT o.q FROM default.orders_24 o"
        assert complete(with_view, code, code.index(" FROM"))["matches"] == ["qty"]
    finally:
        with_view.run("spark.sql('DROP TABLE IF EXISTS default.orders_24')")


def test_spark_sql_function_names(with_view):
    code = "%%sql\nSELECT upp"
    content = complete_until(with_view, code, len(code), "upper")
    assert content["matches"] == ["upper"]
    (kind,) = content["metadata"]["_jupyter_types_experimental"]
    assert kind["type"] == "function"


def spark_jobs_so_far(kernel):
    """The id of a job run now: ids are numbered in order, so the next one tells whether
    any job ran in between."""
    kernel.run("_ = spark.range(1).collect()")
    (job,) = kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']")
    return job


def test_completion_and_the_catalog_op_run_no_spark_job(with_view):
    code = "%%sql\nSELECT s.qua FROM sales_2024 s"
    complete_until(with_view, code, code.index(" FROM"), "quantity")
    before = spark_jobs_so_far(with_view)
    for code in (
        "%%sql\nSELECT * FROM sales_2",
        "%%sql\nSELECT addr.ci FROM sales_2024",
        "%%sql\nSELECT s.qua FROM sales_2024 s",
        "%%sql\nSELECT * FROM global_temp.",
        "%%sql\nSELECT upp",
    ):
        assert complete(with_view, code)["status"] == "ok"
    comm = with_view.open_comm("pyspark-kernel.v1")
    assert comm.request({"op": "catalog", "id": "jobs"})["catalog"]["ready"] is True
    reply = comm.request({"op": "catalog", "id": "jobs-2", "table": "sales_2024"})
    assert [c["name"] for c in reply["columns"]] == ["quantity", "addr"]
    assert spark_jobs_so_far(with_view) == before + 1


def test_inside_a_spark_sql_string(with_view):
    code = 'df = spark.sql("SELECT * FROM sales_2'
    content = complete_until(with_view, code, len(code), "sales_2024")
    assert content["matches"] == ["sales_2024"]


def test_python_completion_is_unchanged(with_view):
    assert "range" in complete(with_view, "spark.ran")["matches"]


def test_python_variables_in_braces(with_view):
    with_view.run("start_day = '2024-01-01'")
    content = complete(with_view, "%%sql\nSELECT * FROM sales_2024 WHERE d > '{start_d")
    assert content["matches"] == ["start_day"]


def test_inspect_a_table_shows_its_schema(with_view):
    code = "%%sql\nSELECT * FROM sales_2024"
    complete_until(with_view, code, len(code), "sales_2024")
    text = inspect(with_view, code, len(code) - 2)["data"]["text/plain"]
    assert "quantity: bigint" in text and "city: string" in text


def test_inspect_a_function_shows_its_spark_description(with_view):
    code = "%%sql\nSELECT upper(addr.city) FROM sales_2024"
    complete_until(with_view, code, code.index("("), "upper")
    msg_id = with_view.kc.inspect(code, code.index("("))
    reply = with_view.kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["found"] is True
    text = reply["content"]["data"]["text/plain"]
    assert "Function: upper" in text and "uppercase" in text


def test_catalog_op_lists_views_columns_and_dataframes(with_view):
    with_view.run("frame_a = spark.range(2).withColumnRenamed('id', 'n')")
    comm = with_view.open_comm("pyspark-kernel.v1")
    reply = comm.request({"op": "catalog", "id": "c1"})
    catalog = reply["catalog"]
    assert set(catalog) == set(fixture_catalog()["catalog"])
    assert catalog["ready"] is True and catalog["current_database"] == "default"
    (view,) = [v for v in catalog["temp_views"] if v["name"] == "sales_2024"]
    assert [c["name"] for c in view["columns"]] == ["quantity", "addr"]
    assert view["columns"][1]["fields"][0] == {"name": "city", "type": "string", "fields": []}
    (frame,) = [f for f in catalog["dataframes"] if f["name"] == "frame_a"]
    assert frame["columns"][0]["name"] == "n"
    since = comm.mark()
    with_view.run("spark.range(1).createOrReplaceTempView('fresh_view')")
    pushed = comm.wait(
        lambda d: (
            d.get("op") == "catalog"
            and any(v["name"] == "fresh_view" for v in d["catalog"].get("temp_views", []))
        ),
        since=since,
        timeout=30,
    )
    assert pushed["push"] is True


def test_completion_and_inspection_answer_at_once_while_the_session_starts():
    k = Kernel()
    try:
        content = complete(k, "%%sql\nSEL")
        assert content["matches"] == ["SELECT"]
        assert "print" in complete(k, "pri")["matches"]  # plain Python
        assert complete(k, "spark.ra")["status"] == "ok"  # spark is not bound yet
        found = inspect(k, "len")
        assert found["status"] == "ok" and found["found"] is True
        assert inspect(k, "spark.range")["status"] == "ok"
        # requests are served in order: the session was still starting when it answered
        status = k.open_comm("pyspark-kernel.v1").request({"op": "status", "id": 1})
        assert status["status"]["state"] == "starting"
        assert k.value("spark.range(1).count()") == 1
    finally:
        k.shutdown()
