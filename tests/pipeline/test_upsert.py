"""The foreachBatch upsert is idempotent: real PostgreSQL, no Spark needed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pyspark_kernel.pipeline import sinks

pytestmark = pytest.mark.postgres

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rows(*specs: tuple[str, float]) -> list[tuple[object, ...]]:
    return [(eid, "user_001", "product_01", amount, T) for eid, amount in specs]


def table(conn) -> list[tuple[object, ...]]:
    return conn.execute("SELECT event_id, amount FROM sales ORDER BY event_id").fetchall()


def test_the_same_batch_twice_leaves_the_same_table(connection):
    sinks.ensure_tables(connection, sinks.SALES)
    batch = rows(("a", 1.0), ("b", 2.0))
    assert sinks.write_batch(connection, sinks.SALES, "q", 0, batch) == 2
    first = table(connection)
    assert sinks.write_batch(connection, sinks.SALES, "q", 0, rows(("a", 99.0))) is None
    assert table(connection) == first == [("a", 1.0), ("b", 2.0)]
    ledger = connection.execute(f"SELECT query, batch_id, rows FROM {sinks.LEDGER_TABLE}")
    assert ledger.fetchall() == [("q", 0, 2)]


def test_duplicate_keys_inside_a_batch_are_written_once_last_wins(connection):
    sinks.ensure_tables(connection, sinks.SALES)
    assert sinks.write_batch(connection, sinks.SALES, "q", 0, rows(("a", 1.0), ("a", 3.0))) == 1
    assert table(connection) == [("a", 3.0)]


def test_a_later_batch_updates_an_existing_key(connection):
    sinks.ensure_tables(connection, sinks.SALES)
    sinks.write_batch(connection, sinks.SALES, "q", 0, rows(("a", 1.0)))
    sinks.write_batch(connection, sinks.SALES, "q", 1, rows(("a", 5.0), ("c", 2.0)))
    assert table(connection) == [("a", 5.0), ("c", 2.0)]


def test_ledgers_of_two_queries_are_separate(connection):
    sinks.ensure_tables(connection, sinks.SALES)
    sinks.write_batch(connection, sinks.SALES, "q1", 0, rows(("a", 1.0)))
    assert sinks.write_batch(connection, sinks.SALES, "q2", 0, rows(("b", 1.0))) == 1


def test_a_failing_batch_leaves_neither_rows_nor_ledger_entry(connection):
    sinks.ensure_tables(connection, sinks.SALES)
    bad = [("a", "user_001", "product_01", 1.0, None)]  # event_time NOT NULL
    with pytest.raises(Exception, match="null value"):
        sinks.write_batch(connection, sinks.SALES, "q", 0, bad)
    assert table(connection) == []
    assert sinks.write_batch(connection, sinks.SALES, "q", 0, rows(("a", 1.0))) == 1


def test_the_url_comes_from_the_environment(monkeypatch, database):
    monkeypatch.setenv("POSTGRES_URL", database)
    assert sinks.database_url() == database
    assert sinks.database_url("postgresql://elsewhere/db") == "postgresql://elsewhere/db"
