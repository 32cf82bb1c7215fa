"""Temporary views of a session, as ``name -> fingerprint`` for the view detection rule.

Listing costs one JVM call per kind of view. A fingerprint (the identity of the view's
plan object) is taken only for views the cell's code names, so "replaced" is seen for
``createOrReplaceTempView('x')`` / ``CREATE OR REPLACE TEMP VIEW x`` in the cell itself;
views a cell creates by other means are seen as new by name.
"""

from __future__ import annotations

import re
from typing import Any


def temp_views(spark: Any, code: str) -> dict[str, str]:
    """Session and global temporary views, qualified (``global_temp.name`` for global ones)."""
    if hasattr(spark, "_jsparkSession"):
        return _classic_views(spark, code)
    rows = spark.sql("SHOW VIEWS IN global_temp").collect()
    return {(f"{r.namespace}.{r.viewName}" if r.namespace else r.viewName): "" for r in rows}


def _classic_views(spark: Any, code: str) -> dict[str, str]:
    jvm = spark._jvm
    catalog = spark._jsparkSession.sessionState().catalog()
    manager = catalog.globalTempViewManager()
    prefix = spark.conf.get("spark.sql.globalTempDatabase", "global_temp")
    local = [_unquote(n) for n in _split(catalog.listLocalTempViews("*").mkString("\x01"))]
    global_ = _split(manager.listViewNames("*").mkString("\x01"))
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code.lower()))
    views: dict[str, str] = {}
    for name in local:
        views[name] = _identity(jvm, catalog.getRawTempView(name)) if name.lower() in words else ""
    for name in global_:
        mark = _identity(jvm, manager.get(name)) if name.lower() in words else ""
        views[f"{prefix}.{name}"] = mark
    return views


def _identity(jvm: Any, option: Any) -> str:
    return str(jvm.System.identityHashCode(option.get())) if option.isDefined() else ""


def _split(joined: str) -> list[str]:
    return [part for part in joined.split("\x01") if part]


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name
