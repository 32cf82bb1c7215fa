"""Sinks: an idempotent PostgreSQL upsert for ``foreachBatch``, and the checkpoint layout.

``foreachBatch`` is at-least-once: after a failure Spark runs the last batch again with the
same ``batch_id``. :class:`PostgresUpsert` therefore writes each batch in ONE transaction
that (1) returns at once if ``(query, batch_id)`` is already in the ledger table,
(2) keeps one row per key inside the batch (``ON CONFLICT`` cannot touch a row twice),
(3) upserts with ``INSERT ... ON CONFLICT (key) DO UPDATE`` and (4) records the batch id in
the ledger. The connection URL comes from ``POSTGRES_URL`` or the local server
(:func:`pyspark_kernel.services.postgres.url`): no password is written in code.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LEDGER_TABLE = "pipeline_batches"
ENV_STATE_ROOT = "PIPELINE_STATE_ROOT"


def state_root(name: str = "pipeline") -> Path:
    """Where a pipeline keeps its checkpoints and Parquet output.

    ``$PIPELINE_STATE_ROOT/<name>`` if set, else ``~/.cache/pyspark-kernel/pipeline/<name>``.
    Layout: ``checkpoints/<query name>/`` (one folder per query) and ``output/<table>/``.
    Resetting = deleting this folder (:func:`reset_state`) and the PostgreSQL tables.
    """
    base = os.environ.get(ENV_STATE_ROOT, "").strip()
    root = Path(base) if base else Path.home() / ".cache" / "pyspark-kernel" / "pipeline"
    return (root / name).expanduser().resolve()


def checkpoint(root: Path, query: str) -> str:
    """The checkpoint folder of ``query`` under ``root``."""
    return str(root / "checkpoints" / query)


def output(root: Path, table: str) -> str:
    """The Parquet folder of ``table`` under ``root``."""
    return str(root / "output" / table)


def reset_state(root: Path) -> None:
    """Delete ``root`` (checkpoints and output): the next run starts from the beginning."""
    if root.name in ("", "/") or root == Path.home():
        raise ValueError(f"refusing to delete {root}")
    shutil.rmtree(root, ignore_errors=True)


def database_url(url: str | None = None) -> str:
    """``url``, else ``$POSTGRES_URL``, else the local PostgreSQL server's (started if needed)."""
    if url:
        return url
    from pyspark_kernel.services import postgres

    return postgres.url()


@dataclass(frozen=True)
class Table:
    """A target table: name, key column, and ``(column, SQL type)`` pairs (key first)."""

    name: str
    key: str
    columns: tuple[tuple[str, str], ...]

    def ddl(self) -> str:
        cols = ", ".join(f"{c} {t}" for c, t in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, PRIMARY KEY ({self.key}))"

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def upsert_sql(self) -> str:
        cols = ", ".join(self.names)
        marks = ", ".join(["%s"] * len(self.columns))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.names if c != self.key)
        return (
            f"INSERT INTO {self.name} ({cols}) VALUES ({marks}) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}"
        )


SALES = Table(
    "sales",
    "event_id",
    (("event_id", "text"), ("user_id", "text NOT NULL"), ("product_id", "text NOT NULL"),
     ("amount", "double precision NOT NULL"), ("event_time", "timestamptz NOT NULL")),
)  # fmt: skip


def ensure_tables(conn: Any, *tables: Table) -> None:
    """Create the ledger and ``tables`` if missing (commits)."""
    with conn.transaction():
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (query text NOT NULL, "
            "batch_id bigint NOT NULL, rows integer NOT NULL, "
            "committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (query, batch_id))"
        )
        for table in tables:
            conn.execute(table.ddl())


def drop_tables(conn: Any, *tables: Table) -> None:
    """Drop ``tables`` and the ledger (a reset; commits)."""
    with conn.transaction():
        for table in (*[t.name for t in tables], LEDGER_TABLE):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def dedupe(rows: Sequence[Sequence[Any]], key_index: int = 0) -> list[tuple[Any, ...]]:
    """One row per key, the last one seen winning (rows arrive in Kafka offset order)."""
    latest: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        latest[row[key_index]] = tuple(row)
    return list(latest.values())


def write_batch(
    conn: Any, table: Table, query: str, batch_id: int, rows: Sequence[Sequence[Any]]
) -> int | None:
    """Upsert ``rows`` as batch ``batch_id`` of ``query`` in one transaction.

    Returns the number of rows written, or None when the batch was already in the ledger.
    """
    unique = dedupe(rows, table.names.index(table.key))
    with conn.transaction():
        seen = conn.execute(
            f"SELECT 1 FROM {LEDGER_TABLE} WHERE query = %s AND batch_id = %s FOR UPDATE",
            (query, batch_id),
        ).fetchone()
        if seen:
            return None
        if unique:
            with conn.cursor() as cur:
                cur.executemany(table.upsert_sql(), unique)
        conn.execute(
            f"INSERT INTO {LEDGER_TABLE} (query, batch_id, rows) VALUES (%s, %s, %s)",
            (query, batch_id, len(unique)),
        )
    return len(unique)


@dataclass
class PostgresUpsert:
    """``foreachBatch`` function: ``query.foreachBatch(PostgresUpsert(SALES, "sales_pg"))``.

    ``after_commit(batch_id)``, if given, runs after a batch committed (tests use it to fail
    there, as a crash between the PostgreSQL commit and Spark's own commit would).
    ``order_by`` sorts the batch so the last row per key is the newest.
    """

    table: Table
    query: str
    url: str | None = None
    order_by: tuple[str, ...] = ("partition", "offset")
    after_commit: Callable[[int], None] | None = None
    written: list[tuple[int, int | None]] = field(default_factory=list)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        import psycopg

        order = [c for c in self.order_by if c in batch.columns]
        frame = batch.orderBy(*order) if order else batch
        rows = [tuple(r) for r in frame.select(*self.table.names).toLocalIterator()]
        with psycopg.connect(database_url(self.url)) as conn:
            ensure_tables(conn, self.table)
            count = write_batch(conn, self.table, self.query, batch_id, rows)
        self.written.append((batch_id, count))
        if self.after_commit is not None:
            self.after_commit(batch_id)


def read_table(
    table: Table, url: str | None = None, order: str | None = None
) -> list[tuple[Any, ...]]:
    """All rows of ``table`` (ordered by its key unless ``order`` is given)."""
    import psycopg

    with psycopg.connect(database_url(url)) as conn:
        sql = f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY {order or table.key}"
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def query_rows(sql: str, url: str | None = None) -> list[tuple[Any, ...]]:
    """Rows of a read-only SQL query."""
    import psycopg

    with psycopg.connect(database_url(url)) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def reset(root: Path, *tables: Table, url: str | None = None) -> None:
    """A full reset: delete ``root`` (checkpoints, output) and drop ``tables`` and the ledger."""
    import psycopg

    reset_state(root)
    with psycopg.connect(database_url(url)) as conn:
        drop_tables(conn, *tables)
