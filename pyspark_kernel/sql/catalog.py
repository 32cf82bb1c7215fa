"""A snapshot of the session's catalog (databases, tables, temporary views, functions), kept
fresh after each cell that used Spark, and the columns of the tables a statement names.

Completion reads the snapshot and never waits: listing runs in a background thread after a
cell, and before the first snapshot (a session still starting) completion offers keywords,
builtin names and Python variables only. Nothing here runs a Spark job: names come from the
JVM session catalog (one call per database) and columns from the analysed schema.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.spark_internals as internals

from ..session import SessionManager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    """A column or struct field: its name, Spark type and (structs) its fields."""

    name: str
    type: str
    fields: tuple[Column, ...] = ()


@dataclass(frozen=True)
class CatalogSnapshot:
    """The names the session knows, as listed after a cell."""

    current_database: str = "default"
    databases: tuple[str, ...] = ()
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)  # database -> tables
    temp_views: tuple[str, ...] = ()
    global_views: tuple[str, ...] = ()
    global_database: str = "global_temp"
    functions: tuple[str, ...] = ()

    def table_names(self) -> list[str]:
        """Names usable without a database: temp views, then the current database's tables."""
        return [*self.temp_views, *self.tables.get(self.current_database, ())]


def columns_of(schema: Any) -> tuple[Column, ...]:
    """`Column`s of a Spark ``StructType`` (nested structs included)."""
    from pyspark.sql.types import StructType

    def convert(f: Any) -> Column:
        nested = (
            tuple(convert(n) for n in f.dataType.fields)
            if isinstance(f.dataType, StructType)
            else ()
        )
        return Column(f.name, f.dataType.simpleString(), nested)

    return tuple(convert(f) for f in schema.fields)


QUIET = 0.3  # seconds in which no cell ran or started before the catalog is listed again


class CatalogWatcher:
    """Keeps a `CatalogSnapshot` of the kernel's session; `on_refresh` is called after each
    new snapshot (the comm channel pushes it). A listing waits until no cell has run for
    `quiet` seconds (`busy` tells whether one runs, `cells` how many have started: cells
    run back to back, as by "Run All" or nbconvert, are never all seen running), so that it
    never competes with the user's next cell for the JVM and the CPU."""

    def __init__(
        self,
        session: SessionManager,
        on_refresh: Callable[[], None] | None = None,
        busy: Callable[[], bool] = lambda: False,
        quiet: float = QUIET,
        cells: Callable[[], int] = lambda: 0,
    ) -> None:
        self.session = session
        self.on_refresh = on_refresh
        self.busy = busy
        self.cells = cells
        self.quiet = quiet
        self.snapshot: CatalogSnapshot | None = None
        self._columns: dict[str, tuple[Column, ...] | None] = {}
        self._lock = threading.Lock()
        self._pending = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh_soon(self) -> None:
        """List the catalog again in the background (requests made meanwhile coalesce)."""
        self._pending.set()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name="spark-catalog-snapshot", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while self._pending.is_set():
            self._wait_for_quiet()
            self._pending.clear()
            try:
                self.refresh()
            except Exception as exc:  # the JVM may die meanwhile: keep the last snapshot
                log.debug("could not list the catalog: %s", exc)
                return

    def _wait_for_quiet(self) -> None:
        # wakes once per `quiet` seconds while cells run (not several times a second: a
        # wake takes the interpreter lock from the cell that runs)
        quiet_since, seen = time.monotonic(), self.cells()
        while (left := quiet_since + self.quiet - time.monotonic()) > 0:
            time.sleep(left)
            count = self.cells()
            if self.busy() or count != seen:
                quiet_since, seen = time.monotonic(), count

    def refresh(self) -> CatalogSnapshot | None:
        """List the catalog now (classic sessions; Spark Connect lists through SQL)."""
        spark = self.session.spark
        if spark is None or not self.session.ready:
            return None
        with jvmcalls.internal():
            snapshot = _list(spark)
        with self._lock:
            self.snapshot = snapshot
            self._columns.clear()
        if self.on_refresh is not None:
            self.on_refresh()
        return snapshot

    def columns(self, table: str) -> tuple[Column, ...]:
        """Columns of `table` (a view or table name, maybe qualified); () when unknown.

        Resolved from the analysed schema (no job) once per snapshot; only for names the
        snapshot knows, and only while the session is ready."""
        with self._lock:
            if table.lower() in self._columns:
                return self._columns[table.lower()] or ()
        if not self._known(table) or not self.session.ready:
            return ()
        try:
            with jvmcalls.internal():
                found: tuple[Column, ...] | None = columns_of(
                    self.session.spark.table(table).schema
                )
        except Exception:
            found = None
        with self._lock:
            self._columns[table.lower()] = found
        return found or ()

    def _known(self, table: str) -> bool:
        snap = self.snapshot
        if snap is None:
            return False
        name = table.lower()
        parts = name.split(".")
        if len(parts) == 1:
            return name in {n.lower() for n in snap.table_names()}
        db, bare = parts[-2], parts[-1]
        if db == snap.global_database.lower():
            return bare in {n.lower() for n in snap.global_views}
        return bare in {n.lower() for n in snap.tables.get(db, ())} or any(
            d.lower() == db and bare in {t.lower() for t in ts} for d, ts in snap.tables.items()
        )


def _list(spark: Any) -> CatalogSnapshot:
    if internals.is_classic(spark):
        current, databases, tables, functions = internals.catalog_listing(spark)
        catalog = internals.SessionCatalog(spark)
        global_db = spark.conf.get("spark.sql.globalTempDatabase", "global_temp")
        temp = catalog.local_views()
        return CatalogSnapshot(
            current_database=current,
            databases=tuple(databases),
            tables={db: tuple(t for t in names if t not in temp) for db, names in tables.items()},
            temp_views=tuple(temp),
            global_views=tuple(catalog.global_views()),
            global_database=global_db,
            functions=tuple(functions),
        )
    # Spark Connect: the public catalog API (a few server round trips, no job)
    names = tuple(d.name for d in spark.catalog.listDatabases())
    views = [t for t in spark.catalog.listTables() if t.isTemporary]
    return CatalogSnapshot(
        current_database=spark.catalog.currentDatabase(),
        databases=names,
        tables={
            db: tuple(t.name for t in spark.catalog.listTables(db) if not t.isTemporary)
            for db in names
        },
        temp_views=tuple(t.name for t in views if not t.namespace),
        global_views=tuple(t.name for t in views if t.namespace),
        functions=tuple(sorted({f.name for f in spark.catalog.listFunctions()})),
    )
