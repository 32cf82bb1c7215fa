"""Temporary views of a session, as ``name -> fingerprint`` for the view detection rule.

Listing costs two JVM calls per kind of view; a listing is reused while no call that may
change a view was made to the JVM (see `jvmcalls`). A fingerprint (the identity of the
view's plan object) is taken only for views the cell's code names, so "replaced" is seen for
``createOrReplaceTempView('x')`` / ``CREATE OR REPLACE TEMP VIEW x`` in the cell itself;
views a cell creates by other means are seen as new by name.
"""

from __future__ import annotations

import re
from typing import Any

import pyspark_kernel.spark_internals as internals

from ..session import SessionManager

Listing = tuple[tuple[str, ...], tuple[str, ...]]  # session views, global views (unqualified)


class ViewCatalog:
    """Lists the temporary views of one session; JVM handles are fetched once."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark
        self._jvm_catalog = internals.SessionCatalog(spark) if internals.is_classic(spark) else None
        self._prefix = "global_temp"
        if self._jvm_catalog is not None:
            self._prefix = spark.conf.get("spark.sql.globalTempDatabase", "global_temp")

    def names(self) -> Listing | None:
        """The names of the session's temporary views and of the global ones (classic)."""
        if self._jvm_catalog is None:
            return None
        jcat = self._jvm_catalog
        return tuple(jcat.local_views()), tuple(jcat.global_views())

    def temp_views(self, code: str, listing: Listing | None = None) -> dict[str, str]:
        """Session and global temporary views, qualified (``global_temp.name``); `listing`
        is a still-current result of `names()`."""
        jcat = self._jvm_catalog
        if jcat is None:  # Spark Connect: by name only
            rows = self._spark.sql("SHOW VIEWS IN global_temp").collect()
            return {
                (f"{r.namespace}.{r.viewName}" if r.namespace else r.viewName): "" for r in rows
            }
        local, global_ = listing if listing is not None else (self.names() or ((), ()))
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code.lower()))
        views: dict[str, str] = {}
        for name in local:
            views[name] = jcat.local_identity(name) if name.lower() in words else ""
        for name in global_:
            mark = jcat.global_identity(name) if name.lower() in words else ""
            views[f"{self._prefix}.{name}"] = mark
        return views


class ViewWatcher:
    """The views of the kernel's current session, with handles rebuilt per session and a
    listing reused while the JVM saw no call that may change a view (by a cell or any
    thread)."""

    def __init__(self, session: SessionManager) -> None:
        self.session = session
        self._catalog: tuple[int, ViewCatalog] | None = None
        self._listed: tuple[tuple[int, int | None], Listing | None] | None = None

    def catalog(self) -> ViewCatalog:
        generation = self.session.generation
        if self._catalog is None or self._catalog[0] != generation:
            self._catalog = (generation, ViewCatalog(self.session.spark))
        return self._catalog[1]

    def temp_views(self, code: str) -> dict[str, str]:
        catalog = self.catalog()
        key = (self.session.generation, self.session.view_changes)
        listing = None
        if key[1] is not None:
            if self._listed is None or self._listed[0] != key:
                self._listed = (key, catalog.names())
            listing = self._listed[1]
        return catalog.temp_views(code, listing)
