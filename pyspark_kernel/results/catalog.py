"""Temporary views of a session, as ``name -> fingerprint`` for the view detection rule.

Listing costs two JVM calls per kind of view; a listing can be reused while no other call
was made to the JVM (see `jvmcalls`). A fingerprint (the identity of the view's
plan object) is taken only for views the cell's code names, so "replaced" is seen for
``createOrReplaceTempView('x')`` / ``CREATE OR REPLACE TEMP VIEW x`` in the cell itself;
views a cell creates by other means are seen as new by name.
"""

from __future__ import annotations

import re
from typing import Any

Listing = tuple[tuple[str, ...], tuple[str, ...]]  # session views, global views (unqualified)


class ViewCatalog:
    """Lists the temporary views of one session; JVM handles are fetched once."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark
        self._classic = hasattr(spark, "_jsparkSession")
        if self._classic:
            self._jvm = spark._jvm
            self._catalog = spark._jsparkSession.sessionState().catalog()
            self._manager = self._catalog.globalTempViewManager()
            self._prefix = spark.conf.get("spark.sql.globalTempDatabase", "global_temp")

    def names(self) -> Listing:
        """The names of the session's temporary views and of the global ones (classic)."""
        local = _split(self._catalog.listLocalTempViews("*").mkString("\x01"))
        global_ = _split(self._manager.listViewNames("*").mkString("\x01"))
        return tuple(_unquote(n) for n in local), tuple(global_)

    def temp_views(self, code: str, listing: Listing | None = None) -> dict[str, str]:
        """Session and global temporary views, qualified (``global_temp.name``); `listing`
        is a still-current result of `names()`."""
        if not self._classic:
            rows = self._spark.sql("SHOW VIEWS IN global_temp").collect()
            return {
                (f"{r.namespace}.{r.viewName}" if r.namespace else r.viewName): "" for r in rows
            }
        catalog, manager, jvm = self._catalog, self._manager, self._jvm
        local, global_ = listing if listing is not None else self.names()
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code.lower()))
        views: dict[str, str] = {}
        for name in local:
            named = name.lower() in words
            views[name] = _identity(jvm, catalog.getRawTempView(name)) if named else ""
        for name in global_:
            mark = _identity(jvm, manager.get(name)) if name.lower() in words else ""
            views[f"{self._prefix}.{name}"] = mark
        return views


def _identity(jvm: Any, option: Any) -> str:
    return str(jvm.System.identityHashCode(option.get())) if option.isDefined() else ""


def _split(joined: str) -> list[str]:
    return [part for part in joined.split("\x01") if part]


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name
