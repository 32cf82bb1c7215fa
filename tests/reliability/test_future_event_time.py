"""Why an event time far in the future is quarantined: in a stream, it would advance the
watermark and every later real event would be dropped as late.

Real Spark (the suite's session), a file stream standing in for Kafka (same columns), the
pipeline's own ``parse`` and ``deduplicate``; three micro-batches on one checkpoint.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pyspark_kernel.pipeline import parse as P
from pyspark_kernel.pipeline import streams

pytestmark = pytest.mark.timeout(300)


def event(event_id: str, moment: datetime) -> str:
    return json.dumps({"event_id": event_id, "event_type": "sale", "user_id": "u1",
                       "timestamp": moment.isoformat().replace("+00:00", "Z"),
                       "product_id": "p1", "amount": 1.0})  # fmt: skip


def run_stream(spark, tmp_path, max_ahead: str) -> tuple[list[str], list[str], int]:
    """Feed real events, one event a year ahead, then more real events (a batch each).

    Returns the event ids that came through deduplication, the quarantine reasons, and the
    rows the deduplication dropped as late.
    """
    spark = spark.newSession()  # its own SQL settings: the shared session is left as it is
    spark.conf.set("spark.sql.shuffle.partitions", "2")  # not 200 state stores a batch
    now = datetime.now(timezone.utc)
    feeds = [
        [event("a1", now - timedelta(minutes=2)), event("a2", now - timedelta(minutes=1))],
        [event("future", now + timedelta(days=365))],
        [event("b1", now), event("b2", now + timedelta(seconds=1))],
    ]
    folder = tmp_path / f"in-{max_ahead.replace(' ', '-')}"
    folder.mkdir()
    as_kafka = kafka_like(spark.readStream.format("text").load(str(folder)))
    parsed = P.parse(as_kafka, max_ahead=max_ahead)
    name = f"future_{max_ahead.replace(' ', '_')}"
    checkpoint = tmp_path / f"cp-{name}"
    kept: list[str] = []
    dropped = 0
    for i, lines in enumerate(feeds):
        (folder / f"{i}.json").write_text("\n".join(lines) + "\n")
        query = (
            P.deduplicate(P.valid(parsed), streams.WATERMARK)
            .writeStream.queryName(name)
            .foreachBatch(lambda batch, _: kept.extend(r.event_id for r in batch.collect()))
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination(120)
        assert query.exception() is None
        dropped += streams.dropped_by_watermark(query)
    reasons = [
        r.reason
        for r in P.quarantine(
            P.parse(kafka_like(spark.read.text(str(folder))), max_ahead)
        ).collect()
    ]
    return sorted(kept), reasons, dropped


def kafka_like(lines):
    """Text lines as the Kafka source's columns (the line is the value)."""
    from pyspark.sql import functions as F

    return lines.select(
        F.lit(None).cast("binary").alias("key"),
        F.col("value").cast("binary").alias("value"),
        F.lit("t").alias("topic"),
        F.lit(0).alias("partition"),
        F.lit(0).cast("long").alias("offset"),
        F.current_timestamp().alias("timestamp"),
    )


def test_a_far_future_event_is_quarantined_and_later_events_still_pass(spark, tmp_path):
    kept, reasons, dropped = run_stream(spark, tmp_path, P.MAX_AHEAD)
    assert kept == ["a1", "a2", "b1", "b2"] and dropped == 0
    assert reasons == ["future_event_time"]


def test_without_the_rule_the_future_event_makes_later_events_late(spark, tmp_path):
    # the hazard the rule prevents: accepted, it moves the watermark a year ahead
    kept, reasons, dropped = run_stream(spark, tmp_path, "1000 days")
    assert kept == ["a1", "a2", "future"] and dropped == 2
    assert reasons == []
