"""Faults in the streaming pipeline, run through a real ``pyspark`` kernel with the Kafka
connector: hostile Kafka records sent to running queries, and PostgreSQL and the OpenSearch
node stopped for 30 s under their running ``foreachBatch`` upserts.

Kafka, PostgreSQL, OpenSearch, Spark and the kernel are real; the tests drive the kernel
over ZMQ, send records with the project's producer, stop and start OpenSearch with the
``pyspark-kernel opensearch`` command, and read PostgreSQL, the index and the checkpoints
themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pipeline.expected import documents, quarantined_ids
from streaming.stream_kernel import RecordingKernel, msg_id

from pyspark_kernel.pipeline import events as ev
from pyspark_kernel.pipeline import search, sinks
from pyspark_kernel.services import opensearch
from pyspark_kernel.services._process import free_port
from pyspark_kernel.services.postgres import LocalPostgres

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.opensearch,
    pytest.mark.timeout(300),
]
QUERIES = ("events_parquet", "quarantine_parquet", "sales_pg", "events_search")

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

def start(boot, topic, root, url_file, search_url, index, available_now=False, **options):
    parsed = P.parse(streams.read_kafka(spark, boot, topic, **options))
    url = pathlib.Path(url_file).read_text()
    return streams.start_sinks(parsed, pathlib.Path(root), available_now=available_now,
                               interval="1 second", url=url, search_url=search_url,
                               search_index=index)

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
        (as_json(13) + as_json(14), "invalid_json"),  # two events glued into one record
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
    kernel, broker, make_database, opensearch_node, tmp_path
):
    topic = f"hostile-{uuid.uuid4().hex[:8]}"
    # the topic accepts the 5 MB record (the broker's default limit is about 1 MB)
    ev.recreate_topic(broker.bootstrap, topic, max_message_bytes=8 * MB)
    before = ev.generate(30, seed=31, bad_share=0, duplicate_share=0)
    after = ev.generate(30, seed=32, bad_share=0, duplicate_share=0,
                        start=ev.START + timedelta(minutes=1))  # fmt: skip
    hostile = hostile_records()
    url = make_database()
    search_url, index = opensearch_node.url, f"events-{topic}"
    root = tmp_path / "hostile"
    events, quarantine = sinks.output(root, "events"), sinks.output(root, "quarantine")

    step("hostile: start")
    start = kernel.run(
        f"hostile = start({broker.bootstrap!r}, {topic!r}, {str(root)!r}, "
        f"{url_file(tmp_path, url)!r}, {search_url!r}, {index!r})"
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
        docs = documents(before + after)
        wait_until(
            lambda: set(search.read_index(index, search_url)) == set(docs),
            60,
            "valid events in OpenSearch",
        )

        # exactly once, nothing of the hostile records, each counted with its reason
        rows = kernel.value(f"parquet({events!r}, 'event_id')")
        assert sorted(r[0] for r in rows) == valid_ids
        assert quarantined() == expected
        assert Counter(r for _, r in quarantined()) == Counter(r for _, r in hostile)
        assert table(url) == sales
        assert search.read_index(index, search_url) == docs
        bad_ids = quarantined_ids(bad)
        assert len(bad_ids) >= 6 and not bad_ids & set(search.read_index(index, search_url))
        # the future event time did not move the watermark: nothing was dropped as late
        assert kernel.value("streams.dropped_by_watermark(hostile['events_parquet'])") == 0
        watermark = kernel.value(
            "(hostile['events_parquet'].lastProgress or {}).get('eventTime', {}).get('watermark')"
        )
        assert watermark is None or watermark < "2027", watermark
        # still running, no exception, and the starting cell's display says so
        assert kernel.value("health(hostile)") == {name: [True, True] for name in QUERIES}
        for name in QUERIES:
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


def pyspark_kernel(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``pyspark-kernel`` command (no service URL inherited from the environment)."""
    env = {k: v for k, v in os.environ.items() if k not in opensearch.ENV_URLS}
    return subprocess.run(
        [sys.executable, "-m", "pyspark_kernel", *args],
        capture_output=True, text=True, timeout=240, check=False, env=env,
    )  # fmt: skip


@pytest.mark.timeout(480)
def test_postgres_and_opensearch_stopped_for_30s_fail_their_upserts_visibly_and_a_restart_loses_nothing(
    kernel, broker, stoppable_postgres, opensearch_node, tmp_path
):
    server, node = stoppable_postgres, opensearch_node
    with server.connect(autocommit=True) as conn:
        conn.execute("CREATE DATABASE outage")
    url = server.url("outage")
    topic = f"outage-{uuid.uuid4().hex[:8]}"
    search_url, index = node.url, f"events-{topic}"
    ev.recreate_topic(broker.bootstrap, topic)
    messages = ev.generate(240, seed=41, bad_share=0.05, duplicate_share=0.05, types=("sale",))
    first, second = messages[:120], messages[120:]
    root = tmp_path / "outage"
    upserts = ("sales_pg", "events_search")
    checkpoints = {name: Path(sinks.checkpoint(root, name)) for name in upserts}
    args = (
        f"{broker.bootstrap!r}, {topic!r}, {str(root)!r}, {url_file(tmp_path, url)!r}, "
        f"{search_url!r}, {index!r}"
    )

    assert ev.send(broker.bootstrap, topic, first).acked == len(first)
    step("outage: start")
    start = kernel.run(f"outage = start({args}, maxOffsetsPerTrigger='40')")
    assert start.status == "ok", start.error
    cell = msg_id(start)
    try:
        first_sales = sales_of(first)
        wait_until(lambda: set(table(url)) == set(first_sales), 120, "first half in PostgreSQL")
        wait_until(
            lambda: search.read_index(index, search_url) == documents(first),
            60,
            "first half in OpenSearch",
        )

        step("outage: first half in PostgreSQL and OpenSearch; stopping both")
        server.stop()  # PostgreSQL goes away mid-stream, and so does the OpenSearch node
        stopped = pyspark_kernel("opensearch", "stop", "--data-dir", str(node.data_dir))
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped"), stopped.stderr
        down_at = time.monotonic()
        assert ev.send(broker.bootstrap, topic, second).acked == len(second)

        # each failure shows in the cell that started the query: its display turns "failed"
        failed = {
            name: kernel.wait_for(
                lambda name=name: [
                    p for p in kernel.stream_payloads(cell, name) if p["state"] == "failed"
                ],
                timeout=OUTAGE + 30,
            )[-1]
            for name in upserts
        }
        assert time.monotonic() - down_at < OUTAGE, "the failures must show during the outage"
        step("outage: failures shown")
        health = kernel.value("health(outage)")
        assert health["sales_pg"] == health["events_search"] == [False, False]  # ended
        assert health["events_parquet"] == [True, True]  # the other sinks keep running

        # no offsets committed past it: the failed batch is planned (offsets/) but not done
        committed, failed_batch = {}, {}
        for name, folder in checkpoints.items():
            planned, committed[name] = numbered(folder / "offsets"), numbered(folder / "commits")
            failed_batch[name] = max(planned)
            assert failed_batch[name] not in committed[name]
            assert committed[name] == set(range(failed_batch[name]))
        assert "psycopg.OperationalError: connection failed" in failed["sales_pg"]["error"]
        assert (
            f"pyspark_kernel.pipeline.search.SearchSinkError: batch "
            f"{failed_batch['events_search']} of events_search not written: OpenSearch at "
            f"{search_url} is unreachable ([Errno 111] Connection refused)"
        ) in failed["events_search"]["error"], failed["events_search"]

        time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
        step("outage: restarting PostgreSQL and OpenSearch")
        server.start()
        port = search_url.rsplit(":", 1)[1]
        started = pyspark_kernel("opensearch", "start", "--data-dir", str(node.data_dir),
                                 "--port", port)  # fmt: skip
        assert (started.returncode, started.stdout.strip()) == (0, search_url), started.stderr
        status = pyspark_kernel("opensearch", "status", "--data-dir", str(node.data_dir))
        assert status.stdout.startswith("running pid=") and "health=green" in status.stdout
        ledger = sinks.query_rows(f"SELECT batch_id FROM {sinks.LEDGER_TABLE}", url)
        assert {r[0] for r in ledger} == committed["sales_pg"]  # nothing of the failed batch
        # the node kept its index across the restart, and nothing of the failed batch
        assert search.read_index(index, search_url) == documents(first)

        # restarted from the same checkpoints: the failed batches run again, then the rest
        rerun = kernel.run(
            "for q in outage.values(): q.stop()\n"
            f"outage = start({args}, available_now=True)\n"
            "streams.await_all(outage, 180)\n"
            "print(health(outage))",
            timeout=240,
        )
        step("outage: query rerun done")
        assert rerun.status == "ok", rerun.error
        for name, folder in checkpoints.items():
            assert numbered(folder / "commits") >= {*committed[name], failed_batch[name]}
        assert table(url) == sales_of(messages)  # the fault-free result, row for row
        expected = kernel.value(f"batch_aggregation({broker.bootstrap!r}, {topic!r})")
        assert [tuple(r) for r in sinks.query_rows(AGG, url)] == [tuple(r) for r in expected]
        fault_free = documents(messages)  # the fault-free index, document for document
        assert search.count(index, search_url) == len(fault_free)
        assert search.read_index(index, search_url) == fault_free
        assert password_shown(kernel, url) == []
    finally:
        kernel.run("for q in outage.values(): q.stop()")
        node.start()  # the session's node runs for later tests (nothing to do if it does)
