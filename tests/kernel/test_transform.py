"""Seed 003's execution-server scenarios, on the real kernel: %%transform, limits, metrics,
and two clients sending cells at the same moment."""

import json
import threading
import time

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

TABLE = "application/vnd.pyspark-kernel.table.v1+json"


def table(run):
    (payload,) = run.data(TABLE)
    return payload


def test_health_kernel_info(kernel):
    msg_id = kernel.kc.kernel_info()
    reply = kernel.kc.get_shell_msg(timeout=30)
    while reply["parent_header"]["msg_id"] != msg_id:  # skip replies to earlier requests
        reply = kernel.kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["implementation"] == "pyspark_kernel"


def test_basic_transform_returns_a_pandas_frame(kernel):
    run = kernel.run(
        "%%transform\nimport pandas as pd\ndef transform():\n    return pd.DataFrame({'result': [1, 2, 3]})"
    )
    assert run.status == "ok", run.error
    t = table(run)
    assert t["source"] == "transform" and t["rows"] == [[1], [2], [3]]
    assert t["variable_name"] == "transform_result"
    assert kernel.value("transform_result.count()") == 3


def test_transform_with_two_tables_joined(kernel):
    kernel.run(
        "spark.createDataFrame([(1, 10.0), (2, 5.0), (1, 2.5)], 'customer_id int, amount double')"
        ".createOrReplaceTempView('orders')\n"
        "customers = spark.createDataFrame([(1, 'ana'), (2, 'bo')], 'customer_id int, name string')"
    )
    run = kernel.run(
        "%%transform --save-view totals --save-parquet\n"
        "from pyspark.sql import functions as F\n"
        "def transform(orders, customers):\n"
        "    return (orders.join(customers, 'customer_id').groupBy('name')\n"
        "            .agg(F.sum('amount').alias('total')).orderBy('name'))"
    )
    assert run.status == "ok", run.error
    assert table(run)["rows"] == [["ana", 12.5], ["bo", 5.0]]
    assert "saved:" in run.stream("stdout") and "transform.parquet" in run.stream("stdout")
    assert kernel.value("spark.table('totals').count()") == 2


def test_error_inside_transform_writes_nothing(kernel):
    run = kernel.run(
        "%%transform --save-parquet --save-view never\n"
        "def transform(orders):\n    return orders.limit(1 // 0)"
    )
    assert run.status == "error" and run.error["ename"] == "ZeroDivisionError"
    assert run.data(TABLE) == []
    assert kernel.value("spark.catalog.tableExists('never')") is False
    assert kernel.value("sorted(os.listdir(OUTPUT_DIR)) if (os := __import__('os')) else 0") == [
        ".pyspark-kernel-output"
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "def transform(missing_table):\n    return missing_table",
            "transform(missing_table): no table",
        ),
        ("def transform():\n    return 42", "must return a DataFrame, got int"),
        ("x = 1", "must define a function named transform()"),
    ],
)
def test_transform_mistakes_get_short_clear_errors(kernel, code, message):
    run = kernel.run("%%transform\n" + code)
    assert run.status == "error"
    assert run.error["ename"] == "TransformError"
    assert message in run.error["evalue"]
    assert len("\n".join(run.error["traceback"])) < 3000


def test_timeout_is_enforced_and_the_job_cancelled(kernel):
    kernel.run("%spark timeout 3")
    try:
        run = kernel.run(
            "%%transform\ndef transform():\n"
            "    n = spark.range(10**12).selectExpr('sum(id % 7) as s').collect()\n"
            "    return spark.range(1)"
        )
        assert run.status == "error" and run.error["ename"] == "CellTimeout"
        assert kernel.value("sc.statusTracker().getActiveJobsIds()") == []
    finally:
        kernel.run("%spark timeout 0")


def test_json_input_is_processed(kernel, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps({"kind": k, "n": i}) for i, k in enumerate("abcab")))
    kernel.run(f"events = spark.read.json({str(path)!r})")
    run = kernel.run(
        "%%transform\ndef transform(events):\n    return events.groupBy('kind').count().orderBy('kind')"
    )
    assert table(run)["rows"] == [["a", 2], ["b", 2], ["c", 1]]


def test_metrics_after_a_known_mix_of_cells(kernel):
    before = kernel.value("__import__('pyspark_kernel').kernel_metrics()")
    for code in (
        "x = 1",
        "spark.range(5).count()",
        "print('ok')",
        "1/0",
        "spark.sql('select * from nope')",
    ):
        kernel.run(code)
    after = kernel.value("__import__('pyspark_kernel').kernel_metrics()")
    # the cell that read `before` counts too
    assert after["cells_run"] - before["cells_run"] == 6
    assert after["cells_failed"] - before["cells_failed"] == 2
    assert after["spark_jobs"] > before["spark_jobs"]
    assert after["success_rate"] == round(
        (after["cells_run"] - after["cells_failed"]) / after["cells_run"], 4
    )
    text = kernel.run("%spark metrics --json").stream("stdout")
    assert json.loads(text)["cells_run"] == after["cells_run"] + 1


def test_two_clients_at_once_run_one_after_the_other_without_interleaving(kernel):
    clients = []
    for _ in range(2):
        client = BlockingKernelClient()
        client.load_connection_info(kernel.km.get_connection_info())
        client.start_channels()
        client.wait_for_ready(timeout=30)
        clients.append(client)
    code = "import time\nprint('start', time.time())\nfor i in range(5):\n    print('{who}', i); time.sleep(0.1)\nprint('end', time.time())"
    results: dict[str, dict] = {}
    barrier = threading.Barrier(2)

    def send(client, who):
        barrier.wait()
        msg_id = client.execute(code.format(who=who))
        reply = client.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=120)
        results[who] = {"msg_id": msg_id, "reply": reply}

    threads = [
        threading.Thread(target=send, args=(c, w)) for c, w in zip(clients, ("A", "B"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    outputs = {}
    for client, who in zip(clients, ("A", "B"), strict=True):
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                msg = client.get_iopub_msg(timeout=1)
            except Exception:
                if text.count("end") == 1:
                    break
                continue
            if (
                msg["parent_header"].get("msg_id") == results[who]["msg_id"]
                and msg["msg_type"] == "stream"
            ):
                text += msg["content"]["text"]
        outputs[who] = text
        client.stop_channels()
    spans = {}
    for who, text in outputs.items():
        lines = text.splitlines()
        assert [ln for ln in lines if not ln.startswith(("start", "end"))] == [
            f"{who} {i}" for i in range(5)
        ]
        spans[who] = (float(lines[0].split()[1]), float(lines[-1].split()[1]))
    first, second = sorted(spans.values())
    assert first[1] <= second[0], f"cells overlapped: {spans}"
    counts = sorted(r["reply"]["content"]["execution_count"] for r in results.values())
    assert counts[1] == counts[0] + 1
