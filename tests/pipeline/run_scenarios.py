"""Run the streaming pipeline end to end in a SparkSession with the Kafka connector.

Started by ``test_pipeline_e2e.py`` as a subprocess (the suite's own ``spark`` fixture has no
connector jars). Input: a JSON file naming the broker and one scenario per topic (with its
database URL, OpenSearch URL and index); output: the facts each scenario produced, as JSON
on the last line of stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pyspark_kernel.pipeline import parse as P
from pyspark_kernel.pipeline import search, sinks, streams
from pyspark_kernel.services.jars import spark_kafka_connector_jars

AGG = (
    "SELECT user_id, count(*), round(sum(amount)::numeric, 2)::float8 "
    "FROM sales GROUP BY user_id ORDER BY user_id"
)


def session() -> SparkSession:
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.jars", ",".join(str(j) for j in spark_kafka_connector_jars()))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run(spark: SparkSession, bootstrap: str, s: dict[str, Any], **kw: Any) -> dict[str, Any]:
    parsed = P.parse(streams.read_kafka(spark, bootstrap, s["topic"], **kw.pop("options", {})))
    return streams.start_sinks(
        parsed, Path(s["root"]), url=s["url"], search_url=s["search_url"],
        search_index=s["index"], **kw,
    )  # fmt: skip


def stop_after_first_batch(spark: SparkSession, bootstrap: str, s: dict[str, Any]) -> list[int]:
    """Start with small batches, stop every query once it finished one batch."""
    queries = run(spark, bootstrap, s, options={"maxOffsetsPerTrigger": "100"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(q.recentProgress or not q.isActive for q in queries.values()):
            break
        time.sleep(0.2)
    for q in queries.values():
        q.stop()
    return [len(q.recentProgress) for q in queries.values()]


def run_until_killed(plan_file: str, name: str) -> None:
    """The driver that gets killed: small batches every 0.5 s, forever. Writes ``started``
    in the scenario's root once every query has committed a batch."""
    plan = json.loads(Path(plan_file).read_text())
    s = next(s for s in plan["scenarios"] if s["name"] == name)
    queries = run(
        session(), plan["bootstrap"], s, available_now=False, interval="500 milliseconds",
        options={"maxOffsetsPerTrigger": "50"},
    )  # fmt: skip
    while not all(q.lastProgress for q in queries.values()):
        time.sleep(0.1)
    (Path(s["root"]) / "started").write_text("1")
    while True:
        time.sleep(1)


def kill_driver_mid_stream(plan_file: str, s: dict[str, Any]) -> bool:
    """Run the queries in a driver of their own, SIGKILL it (Python and JVM) mid-stream;
    True if it was killed while its queries were running."""
    driver = subprocess.Popen(
        [sys.executable, __file__, "--until-killed", plan_file, s["name"]],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started = Path(s["root"]) / "started"
    deadline = time.monotonic() + 240
    while not started.exists() and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    running = started.exists() and driver.poll() is None
    time.sleep(1.0)  # let it be in the middle of later batches
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    return running


def fail_once(folder: Path, batch: int) -> Any:
    """Fail each upsert query once, right after it wrote ``batch``."""

    def after_commit(query: str, batch_id: int) -> None:
        marker = folder / f"failed-{query}"
        if batch_id == batch and not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError(f"injected failure after the commit of batch {batch_id}")

    return after_commit


def facts(spark: SparkSession, bootstrap: str, s: dict[str, Any]) -> dict[str, Any]:
    root = Path(s["root"])
    events = spark.read.parquet(sinks.output(root, "events"))
    quarantined = spark.read.parquet(sinks.output(root, "quarantine"))
    batch = P.valid(P.parse(streams.read_kafka(spark, bootstrap, s["topic"], streaming=False)))
    expected = (
        batch.where("event_type = 'sale'")
        .dropDuplicates(["event_id"])
        .groupBy("user_id")
        .agg(F.count("*"), F.round(F.sum("amount"), 2))
        .orderBy("user_id")
    )
    return {
        "parquet_count": events.count(),
        "parquet_distinct": events.select("event_id").distinct().count(),
        "quarantine_count": quarantined.count(),
        "quarantine_reasons": sorted({r.reason.split(":")[0] for r in quarantined.collect()}),
        "postgres": [list(r) for r in sinks.query_rows(AGG, s["url"])],
        "batch": [list(r) for r in expected.collect()],
        "sales_rows": [list(map(str, r)) for r in sinks.read_table(sinks.SALES, s["url"])],
        "ledger": sinks.query_rows(
            f"SELECT batch_id, rows FROM {sinks.LEDGER_TABLE} ORDER BY batch_id", s["url"]
        ),
        "search_count": search.count(s["index"], s["search_url"]),
        "search_docs": search.read_index(s["index"], s["search_url"]),
        "search_mapping": search_mapping(s["index"], s["search_url"]),
    }


def search_mapping(index: str, url: str) -> dict[str, Any]:
    """The mapping the index has (the one the pipeline created before its first batch)."""
    with search.connect(url) as client:
        return dict(client.indices.get_mapping(index=index)[index]["mappings"])


def main() -> None:
    if sys.argv[1] == "--until-killed":
        run_until_killed(sys.argv[2], sys.argv[3])
        return
    plan = json.loads(Path(sys.argv[1]).read_text())
    spark = session()
    bootstrap = plan["bootstrap"]
    out: dict[str, Any] = {}
    for s in plan["scenarios"]:
        started = time.monotonic()
        info: dict[str, Any] = {}
        if s["kind"] == "restart":
            info["batches_before_stop"] = stop_after_first_batch(spark, bootstrap, s)
        if s["kind"] == "killed":
            info["killed_mid_stream"] = kill_driver_mid_stream(sys.argv[1], s)
        if s["kind"] == "fault":
            queries = run(spark, bootstrap, s, after_commit=fail_once(Path(s["root"]), 0))
            info["failed"] = []  # the upsert queries the injected failure ended
            for name, query in queries.items():
                try:
                    query.awaitTermination()
                except Exception as error:
                    if "injected failure" in str(error):
                        info["failed"].append(name)
        streams.await_all(run(spark, bootstrap, s))
        info.update(facts(spark, bootstrap, s))
        info["seconds"] = round(time.monotonic() - started, 1)
        out[s["name"]] = info
    spark.stop()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
