"""Faults in the streaming pipeline, run through a real ``pyspark`` kernel with the Kafka
connector: hostile Kafka records sent to a running query, and PostgreSQL stopped for 30 s
under a running ``foreachBatch`` upsert.

Kafka, PostgreSQL, Spark and the kernel are real; the tests drive the kernel over ZMQ, send
records with the project's producer and read PostgreSQL and the checkpoint themselves.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from streaming.stream_kernel import RecordingKernel, msg_id

from pyspark_kernel.pipeline import events as ev
from pyspark_kernel.pipeline import sinks
from pyspark_kernel.services._process import free_port
from pyspark_kernel.services.postgres import LocalPostgres

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(300)]

OUTAGE = 30.0  # seconds PostgreSQL stays down
STARTED = time.monotonic()
MB = 1024 * 1024
AGG = (
    "SELECT user_id, count(*), round(sum(amount)::numeric, 2)::float8 "
    "FROM sales GROUP BY user_id ORDER BY user_id"
)

# Helpers defined in the kernel once. No URL or password is ever in a cell's code: the
# database URL is read from a private file, so the test can check no output shows it.
SETUP = """
import json, os, pathlib
from pyspark.sql import functions as F
from pyspark_kernel.pipeline import parse as P, sinks, streams
spark.conf.set("spark.sql.shuffle.partitions", "2")

def start(boot, topic, root, url_file, available_now=False, **options):
    parsed = P.parse(streams.read_kafka(spark, boot, topic, **options))
    url = pathlib.Path(url_file).read_text()
    return streams.start_sinks(parsed, pathlib.Path(root), available_now=available_now,
                               interval="1 second", url=url)

def parquet(path, *columns):
    if not os.path.isdir(os.path.join(path, "_spark_metadata")):
        return []
    try:
        return [tuple(r) for r in spark.read.parquet(path).select(*columns).collect()]
    except Exception as error:  # no batch committed yet: no files, no schema
        if "UNABLE_TO_INFER_SCHEMA" in str(error):
            return []
        raise

def health(queries):
    return {n: [q.isActive, q.exception() is None] for n, q in queries.items()}

def batch_aggregation(boot, topic):
    b = P.valid(P.parse(streams.read_kafka(spark, boot, topic, streaming=False)))
    rows = (b.where("event_type = 'sale'").dropDuplicates(["event_id"]).groupBy("user_id")
            .agg(F.count("*"), F.round(F.sum("amount"), 2)).orderBy("user_id").collect())
    return [tuple(r) for r in rows]
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[RecordingKernel]:
    k = RecordingKernel(env={"PYSPARK_KERNEL_PACKAGES": "kafka"})
    try:
        for code in ("%spark detect off", SETUP):
            run = k.run(code, timeout=240)
            assert run.status == "ok", run.error
        yield k
    finally:
        k.shutdown()


def step(what: str) -> None:
    """Print how far into the module a step is (shown with ``pytest -s`` or on failure)."""
    print(f"[{time.monotonic() - STARTED:6.1f}s] {what}", flush=True)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {found!r})")
        time.sleep(every)


def url_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "database-url"
    path.touch(mode=0o600)
    path.write_text(url)
    return str(path)


def password_shown(kernel: RecordingKernel, url: str) -> list[str]:
    password = urlsplit(url).password
    assert password
    return [m["msg_type"] for m in kernel.log if password in json.dumps(m, default=str)]


def sale(event_id: str, moment: datetime, **fields: Any) -> dict[str, Any]:
    event = {"event_id": event_id, "event_type": "sale", "user_id": "user_900",
             "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "product_id": "product_01", "amount": 10.0}  # fmt: skip
    event.update(fields)
    return event


def hostile_records() -> list[tuple[bytes | None, str]]:
    """(value, expected reason): one of each kind of malformed or hostile record."""
    moment = ev.START + timedelta(seconds=30)

    def as_json(i: int, **fields: Any) -> bytes:
        return json.dumps(sale(f"hostile-{i}", moment, **fields)).encode()

    def without(i: int, name: str) -> bytes:
        event = sale(f"hostile-{i}", moment)
        del event[name]
        return json.dumps(event).encode()

    future = datetime.now(timezone.utc) + timedelta(days=365)
    not_utf8 = as_json(9).replace(b'"user_900"', b'"user_\xff\xfe"')
    assert not_utf8 != as_json(9)
    return [
        (b'{"event_id": "hostile-0", "amou', "invalid_json"),
        (b"\x00\x01 binary junk", "invalid_json"),
        (b"", "empty_value"),
        (None, "empty_value"),  # a null value (a Kafka tombstone)
        (as_json(4, amount="a lot"), "wrong_type:amount"),
        (as_json(5, user_id={"$ne": None}), "wrong_type:user_id"),
        (as_json(6, timestamp="not a date"), "wrong_type:timestamp"),
        (without(7, "event_id"), "missing_field:event_id"),
        (without(8, "amount"), "missing_field:amount"),
        (not_utf8, "invalid_utf8"),
        (as_json(10, product_id="x" * (5 * MB)), "too_large"),
        (as_json(11, timestamp=future.isoformat().replace("+00:00", "Z")), "future_event_time"),
        (as_json(12, amount=float("nan")), "invalid_value:amount"),
    ]


def sales_of(messages: list[ev.Message]) -> dict[str, tuple[Any, ...]]:
    """The sales a fault-free run keeps: valid ones, one per event id."""
    kept = {}
    for m in messages:
        e = m.event
        if m.kind != "bad" and e is not None and e["event_type"] == "sale":
            moment = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
            kept[e["event_id"]] = (e["user_id"], e["product_id"], e["amount"], moment)
    return kept


def table(url: str) -> dict[str, tuple[Any, ...]]:
    """The sales table by event id ({} before the first batch created it)."""
    import psycopg

    try:
        return {r[0]: tuple(r[1:]) for r in sinks.read_table(sinks.SALES, url)}
    except psycopg.errors.UndefinedTable:
        return {}


def test_hostile_records_are_quarantined_with_their_reason_and_the_query_keeps_running(
    kernel, broker, make_database, tmp_path
):
    topic = f"hostile-{uuid.uuid4().hex[:8]}"
    # the topic accepts the 5 MB record (the broker's default limit is about 1 MB)
    ev.recreate_topic(broker.bootstrap, topic, max_message_bytes=8 * MB)
    before = ev.generate(30, seed=31, bad_share=0, duplicate_share=0)
    after = ev.generate(30, seed=32, bad_share=0, duplicate_share=0,
                        start=ev.START + timedelta(minutes=1))  # fmt: skip
    hostile = hostile_records()
    url = make_database()
    root = tmp_path / "hostile"
    events, quarantine = sinks.output(root, "events"), sinks.output(root, "quarantine")

    step("hostile: start")
    start = kernel.run(
        f"hostile = start({broker.bootstrap!r}, {topic!r}, {str(root)!r}, "
        f"{url_file(tmp_path, url)!r})"
    )
    assert start.status == "ok", start.error
    try:
        bad = [ev.Message(b"hostile", v, "bad") for v, _ in hostile]
        report = ev.send(broker.bootstrap, topic, before + bad, max_request_size=8 * MB)
        assert report.acked == len(before) + len(hostile) and report.failed == 0, report.errors

        def quarantined() -> list[tuple[int, str]]:
            return sorted(kernel.value(f"parquet({quarantine!r}, 'offset', 'reason')"))

        # one partition: offsets follow the order of sending
        expected = [(len(before) + i, reason) for i, (_, reason) in enumerate(hostile)]
        step("hostile: records sent")
        wait_until(lambda: quarantined() == expected, 150, "hostile records quarantined")

        # valid records sent after the hostile ones arrive, in every sink
        step("hostile: quarantined; sending valid records")
        report = ev.send(broker.bootstrap, topic, after)
        assert report.acked == len(after)
        valid_ids = sorted(m.event["event_id"] for m in before + after if m.event)
        wait_until(
            lambda: (
                sorted(r[0] for r in kernel.value(f"parquet({events!r}, 'event_id')")) == valid_ids
            ),
            150,
            "valid records after the hostile ones in Parquet",
        )
        step("hostile: valid records in Parquet")
        sales = sales_of(before + after)
        wait_until(lambda: set(table(url)) == set(sales), 60, "valid sales in PostgreSQL")

        # exactly once, nothing of the hostile records, each counted with its reason
        rows = kernel.value(f"parquet({events!r}, 'event_id')")
        assert sorted(r[0] for r in rows) == valid_ids
        assert quarantined() == expected
        assert Counter(r for _, r in quarantined()) == Counter(r for _, r in hostile)
        assert table(url) == sales
        # the future event time did not move the watermark: nothing was dropped as late
        assert kernel.value("streams.dropped_by_watermark(hostile['events_parquet'])") == 0
        watermark = kernel.value(
            "(hostile['events_parquet'].lastProgress or {}).get('eventTime', {}).get('watermark')"
        )
        assert watermark is None or watermark < "2027", watermark
        # still running, no exception, and the starting cell's display says so
        assert kernel.value("health(hostile)") == {
            name: [True, True] for name in ("events_parquet", "quarantine_parquet", "sales_pg")
        }
        for name in ("events_parquet", "quarantine_parquet", "sales_pg"):
            latest = kernel.stream_payloads(msg_id(start), name)[-1]
            assert latest["state"] == "active" and latest["error"] is None, latest
        assert password_shown(kernel, url) == []
    finally:
        kernel.run("for q in hostile.values(): q.stop()")


@pytest.fixture
def stoppable_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL server of this test alone (the test stops it), on a fixed port so that
    the URL the query holds works again after the restart."""
    server = LocalPostgres(tmp_path / "pg", port=free_port())
    server.start()
    yield server
    server.stop()


def numbered(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.iterdir() if p.name.isdigit()} if folder.is_dir() else set()


def test_postgres_stopped_for_30s_fails_the_upsert_visibly_and_a_restart_loses_nothing(
    kernel, broker, stoppable_postgres, tmp_path
):
    server = stoppable_postgres
    with server.connect(autocommit=True) as conn:
        conn.execute("CREATE DATABASE outage")
    url = server.url("outage")
    topic = f"outage-{uuid.uuid4().hex[:8]}"
    ev.recreate_topic(broker.bootstrap, topic)
    messages = ev.generate(240, seed=41, bad_share=0.05, duplicate_share=0.05, types=("sale",))
    first, second = messages[:120], messages[120:]
    root = tmp_path / "outage"
    checkpoint = Path(sinks.checkpoint(root, "sales_pg"))
    args = f"{broker.bootstrap!r}, {topic!r}, {str(root)!r}, {url_file(tmp_path, url)!r}"

    assert ev.send(broker.bootstrap, topic, first).acked == len(first)
    step("outage: start")
    start = kernel.run(f"outage = start({args}, maxOffsetsPerTrigger='40')")
    assert start.status == "ok", start.error
    cell = msg_id(start)
    try:
        first_sales = sales_of(first)
        wait_until(lambda: set(table(url)) == set(first_sales), 120, "first half in PostgreSQL")

        step("outage: first half in PostgreSQL; stopping it")
        server.stop()  # PostgreSQL goes away mid-stream
        down_at = time.monotonic()
        assert ev.send(broker.bootstrap, topic, second).acked == len(second)

        # the failure shows in the cell that started the query: its display turns "failed"
        failed = kernel.wait_for(
            lambda: [p for p in kernel.stream_payloads(cell, "sales_pg") if p["state"] == "failed"],
            timeout=OUTAGE + 30,
        )[-1]
        assert "psycopg.OperationalError: connection failed" in failed["error"], failed
        assert time.monotonic() - down_at < OUTAGE, "the failure must show during the outage"
        step("outage: failure shown")
        health = kernel.value("health(outage)")
        assert health["sales_pg"] == [False, False]  # ended, with its exception
        assert health["events_parquet"] == [True, True]  # the other sinks keep running

        # no offsets committed past it: the failed batch is planned (offsets/) but not done
        planned, done = numbered(checkpoint / "offsets"), numbered(checkpoint / "commits")
        failed_batch = max(planned)
        assert failed_batch not in done and done == set(range(failed_batch))

        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
        step("outage: restarting PostgreSQL")
        server.start()
        ledger = sinks.query_rows(f"SELECT batch_id FROM {sinks.LEDGER_TABLE}", url)
        assert {r[0] for r in ledger} == done  # nothing of the failed batch reached PostgreSQL

        # restarted from the same checkpoint: the failed batch runs again, then the rest
        rerun = kernel.run(
            "for q in outage.values(): q.stop()\n"
            f"outage = start({args}, available_now=True)\n"
            "streams.await_all(outage, 180)\n"
            "print(health(outage))",
            timeout=240,
        )
        step("outage: query rerun done")
        assert rerun.status == "ok", rerun.error
        assert numbered(checkpoint / "commits") >= {*done, failed_batch}
        assert table(url) == sales_of(messages)  # the fault-free result, row for row
        expected = kernel.value(f"batch_aggregation({broker.bootstrap!r}, {topic!r})")
        assert [tuple(r) for r in sinks.query_rows(AGG, url)] == [tuple(r) for r in expected]
        assert password_shown(kernel, url) == []
    finally:
        kernel.run("for q in outage.values(): q.stop()")
