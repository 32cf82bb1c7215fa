"""What the kernel's previews may cost a cell (a budget, and no job for plans that need all
their input), and the rows on request: ``%spark preview NAME`` and the channel's
``preview`` op."""

import json
from pathlib import Path

import pytest
from kernel_client import Kernel

TABLE = "application/vnd.pyspark-kernel.table.v1+json"
CHANNEL = Path(__file__).resolve().parents[1] / "fixtures" / "channel"
SLOW = (
    "import time\n"
    "from pyspark.sql.functions import udf\n"
    "@udf('long')\n"
    "def slowly(x):\n"
    "    time.sleep(5)\n"
    "    return x\n"
)


def fixture(name):
    return json.loads((CHANNEL / name).read_text())


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    assert k.run("spark.range(1).count()").status == "ok"  # a warm session
    yield k
    k.shutdown()


def test_a_plan_that_needs_all_its_input_is_not_run_for_a_preview(kernel):
    run = kernel.run(
        "import pandas as pd\n"
        "groups = spark.range(100).selectExpr('id % 3 AS g', 'id AS v')\n"
        "per_group = groups.groupBy('g').applyInPandas(lambda p: p.head(1), 'g long, v long')"
    )
    assert run.status == "ok", run.error
    (t,) = run.data(TABLE)
    assert t["deferred"] == "plan" and t["rows"] == []
    assert [c["name"] for c in t["columns"]] == ["g", "v"]
    assert (
        "%spark preview per_group"
        in run.of_type("display_data")[-1]["content"]["data"]["text/plain"]
    )
    assert kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']") == []


def test_a_slow_preview_is_cancelled_at_the_budget_and_shown_on_request(kernel):
    assert kernel.run(SLOW).status == "ok"
    run = kernel.run("slow = spark.range(2).repartition(1).select(slowly('id').alias('id'))")
    (t,) = run.data(TABLE)
    # repartition is a shuffle: no job at all
    assert t["deferred"] == "plan"
    run = kernel.run("slow = spark.range(0, 2, 1, 2).select(slowly('id').alias('id'))")
    assert run.status == "ok", run.error
    (t,) = run.data(TABLE)
    assert t["deferred"] == "budget"  # Python code per row, bounded by the limit but slow
    assert run.seconds < 1.0 + 1.0 + 1.5  # the budget, a second, and the round trips
    run = kernel.run("%spark preview slow", timeout=120)
    assert run.status == "ok", run.error
    (t,) = run.data(TABLE)
    assert t["deferred"] is None and sorted(t["rows"]) == [[0], [1]]
    assert t["source"] == "preview"


def test_a_cheap_looking_plan_running_past_the_budget_is_cancelled(kernel):
    # A filter no row passes: the plan has no shuffle, but the first row never comes.
    run = kernel.run("needle = spark.range(10**12).filter('id < 0')")
    assert run.status == "ok", run.error
    (t,) = run.data(TABLE)
    assert t["deferred"] == "budget" and t["rows"] == []
    assert run.seconds < 1.0 + 1.0 + 2.0  # the budget, a second, round trips on a busy machine
    assert (
        "the preview ran past its time budget"
        in run.of_type("display_data")[-1]["content"]["data"]["text/plain"]
    )
    assert kernel.value("sc.statusTracker().getActiveJobsIds()") == []
    assert kernel.value("__import__('pyspark_kernel').last_record()['spark_job_ids']") == []


def test_the_channel_preview_op_fetches_the_rows_of_a_deferred_result(kernel):
    run = kernel.run("agg = spark.range(10).selectExpr('id % 2 AS k').groupBy('k').count()")
    (t,) = run.data(TABLE)
    assert t["deferred"] == "plan"
    comm = kernel.open_comm("pyspark-kernel.v1")
    comm.wait(lambda d: d.get("op") == "status")
    request = {**fixture("preview_request.json"), "result_id": t["result_id"]}
    reply = comm.request(request, timeout=120)
    assert reply["ok"] is True, reply
    assert set(reply) == set(fixture("preview_reply.json"))
    assert set(reply["table"]) == set(fixture("preview_reply.json")["table"])
    assert sorted(reply["table"]["rows"]) == [[0, 5], [1, 5]]
    error = comm.request({"op": "preview", "id": 8, "result_id": "nope"})
    assert set(error) == set(fixture("preview_error.json"))
    assert error["ok"] is False and "expired" in error["error"]
    bad = comm.request({"op": "preview", "id": 9, "result_id": t["result_id"], "max_rows": 0})
    assert bad["ok"] is False
    comm.close()
