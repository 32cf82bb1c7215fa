"""Wiring: read Kafka, start the sink queries, window aggregations.

Every query has a name and its own checkpoint folder ``<root>/checkpoints/<name>``; in batch
runs (nbconvert, tests) they use ``trigger(availableNow=True)`` so they process what Kafka
holds and stop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyspark_kernel.pipeline.parse as P
import pyspark_kernel.pipeline.search as search

from .sinks import SALES, PostgresUpsert, checkpoint, output

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

WATERMARK = "10 minutes"


def read_kafka(
    spark: SparkSession, bootstrap: str, topic: str, *, streaming: bool = True, **options: str
) -> DataFrame:
    """The topic from its earliest offset, as a stream (or a batch DataFrame)."""
    reader: Any = spark.readStream if streaming else spark.read
    reader = (
        reader.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
    )
    if not streaming:
        reader = reader.option("endingOffsets", "latest")
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load()


def _trigger(writer: Any, available_now: bool, interval: str) -> Any:
    return (
        writer.trigger(availableNow=True)
        if available_now
        else writer.trigger(processingTime=interval)
    )


def start_sinks(
    parsed: DataFrame,
    root: Path,
    *,
    available_now: bool = True,
    interval: str = "5 seconds",
    url: str | None = None,
    search_url: str | None = None,
    search_index: str | None = search.INDEX,
    after_commit: Callable[[str, int], None] | None = None,
) -> dict[str, StreamingQuery]:
    """Start the sink queries on ``parse()``'s output; returns them by name.

    - ``events_parquet``: valid events, duplicates dropped within the watermark, to Parquet
      (exactly-once when read through Spark, which honours ``_spark_metadata``);
    - ``quarantine_parquet``: invalid records with their reason, to Parquet;
    - ``sales_pg``: valid sales upserted into PostgreSQL (``url``) by :class:`PostgresUpsert`;
    - ``events_search``: every valid event upserted by id into the search index
      ``search_index`` at ``search_url`` by :class:`search.SearchUpsert`, the index created
      first (no such query when ``search_index`` is None). The upsert is the deduplication:
      this query keeps no state.

    ``after_commit(query, batch_id)``, if given, runs after each upsert batch (tests fail
    there).
    """

    def hook(name: str) -> Callable[[int], None] | None:
        return functools.partial(after_commit, name) if after_commit else None

    upsert = None
    if search_index is not None:  # resolved (and the mapping created) before any query runs
        target = search.search_url(search_url)
        with search.connect(target) as client:
            search.ensure_index(client, search_index)
        upsert = search.SearchUpsert("events_search", search_index, target, hook("events_search"))
    events = P.deduplicate(P.valid(parsed), WATERMARK)
    queries: dict[str, Any] = {}

    def start(name: str, frame: DataFrame, **sink: Any) -> None:
        writer = frame.writeStream.queryName(name).option(
            "checkpointLocation", checkpoint(root, name)
        )
        writer = _trigger(writer, available_now, interval)
        if "batch" in sink:
            queries[name] = writer.foreachBatch(sink["batch"]).start()
        else:
            queries[name] = writer.format("parquet").outputMode("append").start(sink["path"])

    start("events_parquet", events, path=output(root, "events"))
    start("quarantine_parquet", P.quarantine(parsed), path=output(root, "quarantine"))
    sales = events.where("event_type = 'sale'").select(*SALES.names, "partition", "offset")
    start(
        "sales_pg",
        sales,
        batch=PostgresUpsert(SALES, "sales_pg", url, after_commit=hook("sales_pg")),
    )
    if upsert is not None:
        start("events_search", P.valid(parsed), batch=upsert)
    return queries


def await_all(queries: dict[str, StreamingQuery], timeout: int | None = None) -> None:
    """Wait for every query to end (availableNow queries end by themselves)."""
    for query in queries.values():
        query.awaitTermination(None if timeout is None else int(timeout))


def tumbling(events: DataFrame, size: str = "5 minutes") -> DataFrame:
    """Sales per tumbling window: count and revenue."""
    from pyspark.sql import functions as F

    return (
        events.where("event_type = 'sale'")
        .groupBy(F.window("event_time", size).alias("window"))
        .agg(F.count("*").alias("sales"), F.round(F.sum("amount"), 2).alias("revenue"))
    )


def sliding(events: DataFrame, size: str = "10 minutes", slide: str = "5 minutes") -> DataFrame:
    """Events per type in sliding windows (each event lands in size/slide windows)."""
    from pyspark.sql import functions as F

    return events.groupBy(F.window("event_time", size, slide).alias("window"), "event_type").agg(
        F.count("*").alias("events")
    )


def sessions(events: DataFrame, gap: str = "5 minutes") -> DataFrame:
    """Per-user activity sessions: a session ends after ``gap`` without events."""
    from pyspark.sql import functions as F

    return events.groupBy(F.session_window("event_time", gap).alias("session"), "user_id").agg(
        F.count("*").alias("events")
    )


def flat(windowed: DataFrame) -> DataFrame:
    """``window``/``session`` struct columns flattened to ``start``/``end`` (for tables)."""
    for name in ("window", "session"):
        if name in windowed.columns:
            rest = [c for c in windowed.columns if c != name]
            return windowed.selectExpr(f"{name}.start AS start", f"{name}.end AS end", *rest)
    return windowed


def to_memory(
    frame: DataFrame, name: str, root: Path, available_now: bool = True
) -> StreamingQuery:
    """Stream ``frame`` (windows flattened) into the in-memory table ``name``.

    A memory sink in append mode cannot restart from a checkpoint (its table lives only in
    this session), so its checkpoint folder is emptied first: the query starts over.
    """
    import shutil

    path = checkpoint(root, name)
    shutil.rmtree(path, ignore_errors=True)
    writer = flat(frame).writeStream.queryName(name).format("memory").outputMode("append")
    return _trigger(writer.option("checkpointLocation", path), available_now, "5 seconds").start()


def to_parquet(
    frame: DataFrame, name: str, root: Path, available_now: bool = True
) -> StreamingQuery:
    """Stream ``frame`` (windows flattened) into Parquet ``<root>/output/<name>``."""
    writer = flat(frame).writeStream.queryName(name).format("parquet").outputMode("append")
    writer = writer.option("checkpointLocation", checkpoint(root, name))
    return _trigger(writer, available_now, "5 seconds").start(output(root, name))


def dropped_by_watermark(query: StreamingQuery) -> int:
    """Rows the query's stateful operators dropped as late, over its recent progress."""
    return sum(
        op.get("numRowsDroppedByWatermark", 0)
        for progress in query.recentProgress
        for op in progress.get("stateOperators", [])
    )


def rows_read(queries: dict[str, StreamingQuery]) -> dict[str, int]:
    """Input rows each query processed, summed over its recent progress (all its batches)."""
    return {
        name: sum(int(p.get("numInputRows", 0)) for p in query.recentProgress)
        for name, query in queries.items()
    }
