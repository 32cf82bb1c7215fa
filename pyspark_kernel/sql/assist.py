"""What the kernel answers about Spark SQL: ``complete_request`` and ``inspect_request``
replies for SQL text (``%%sql`` cells, ``spark.sql("...")`` strings), and the catalog the
Lab extension's data browser shows (op ``catalog`` on the comm channel)."""

from __future__ import annotations

from typing import Any

import pyspark_kernel.jvmcalls as jvmcalls

from ..results.preview import is_dataframe
from ..session import SessionManager
from .catalog import CatalogWatcher, Column, columns_of
from .complete import complete, name_at, sql_region


class SqlAssist:
    """Completion, inspection and the catalog listing of one kernel's session."""

    def __init__(self, shell: Any, session: SessionManager, catalog: CatalogWatcher) -> None:
        self.shell = shell
        self.session = session
        self.catalog = catalog

    def complete_reply(self, code: str, cursor: int) -> dict[str, Any] | None:
        """A ``complete_reply`` content for SQL at `cursor`, or None (not SQL there)."""
        region = sql_region(code, cursor)
        if region is None:
            return None
        begin, end = region
        sql = code[begin:end]
        found = complete(
            sql,
            cursor - begin,
            self.catalog.snapshot,
            self.catalog.columns,
            self.shell.user_ns.copy().keys(),
        )
        start, stop = begin + found.start, begin + found.end
        return {
            "status": "ok",
            "matches": found.matches,
            "cursor_start": start,
            "cursor_end": stop,
            "metadata": {
                "_jupyter_types_experimental": [
                    {"start": start, "end": stop, "text": text, "type": kind}
                    for text, kind in zip(found.matches, found.kinds, strict=True)
                ]
            },
        }

    def inspect_reply(self, code: str, cursor: int) -> dict[str, Any] | None:
        """An ``inspect_reply`` content for the SQL name at `cursor`: a table's schema or a
        function's description. None when the cursor is not in SQL."""
        region = sql_region(code, cursor)
        if region is None:
            return None
        begin, end = region
        name = name_at(code[begin:end], cursor - begin)
        text = self._describe(name) if name else None
        return {
            "status": "ok",
            "found": text is not None,
            "data": {"text/plain": text} if text else {},
            "metadata": {},
        }

    def _describe(self, name: str) -> str | None:
        columns = self.catalog.columns(name)
        if columns:
            return f"{name}\n" + "\n".join(_schema_lines(columns, 1))
        snapshot = self.catalog.snapshot
        if snapshot is None or name.lower() not in {f.lower() for f in snapshot.functions}:
            return None
        if not self.session.ready:
            return None
        with jvmcalls.internal():
            rows = self.session.spark.sql(f"DESCRIBE FUNCTION `{name}`").collect()
        return "\n".join(str(row[0]) for row in rows)

    def catalog_listing(self, table: str | None = None) -> dict[str, Any]:
        """The ``catalog`` op's fields (docs/channel.md): the whole listing, or with
        `table` the columns of that one table."""
        if table is not None:
            return {"table": table, "columns": [_column(c) for c in self.catalog.columns(table)]}
        snap = self.catalog.snapshot
        frames = []
        for var, value in sorted(self.shell.user_ns.copy().items()):
            if var.startswith("_") or not is_dataframe(value):
                continue
            try:
                with jvmcalls.internal():
                    schema = columns_of(_spark_schema(value))
            except Exception:  # a frame of a session that is gone
                continue
            frames.append({"name": var, "columns": [_column(c) for c in schema]})
        if snap is None:
            return {"catalog": {"ready": False, "dataframes": frames}}
        return {
            "catalog": {
                "ready": True,
                "current_database": snap.current_database,
                "databases": [
                    {"name": db, "tables": list(snap.tables.get(db, ()))} for db in snap.databases
                ],
                "temp_views": [
                    {"name": v, "columns": [_column(c) for c in self.catalog.columns(v)]}
                    for v in snap.temp_views
                ],
                "global_database": snap.global_database,
                "global_views": list(snap.global_views),
                "dataframes": frames,
            }
        }


def _spark_schema(value: Any) -> Any:
    from ..results.preview import as_spark_frame

    return as_spark_frame(value).schema


def _column(column: Column) -> dict[str, Any]:
    return {
        "name": column.name,
        "type": column.type,
        "fields": [_column(f) for f in column.fields],
    }


def _schema_lines(columns: tuple[Column, ...], depth: int) -> list[str]:
    lines = []
    for column in columns:
        lines.append(f"{'  ' * depth}{column.name}: {column.type}")
        lines.extend(_schema_lines(column.fields, depth + 1))
    return lines
