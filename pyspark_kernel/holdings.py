"""What a running session holds that a restart would lose: temporary views, cached data,
active streaming queries. A restart the user did not ask for is only made without them."""

from __future__ import annotations

from typing import Any

import pyspark_kernel.spark_internals as internals


def holdings(spark: Any) -> list[str]:
    """What `spark` holds, in words (``["2 temporary views", "cached data"]``); empty when
    a restart would lose nothing of Spark's (Python variables are always kept)."""
    found: list[str] = []
    queries = len(spark.streams.active)
    if queries:
        found.append(f"{queries} active streaming {'query' if queries == 1 else 'queries'}")
    if internals.is_classic(spark):
        catalog = internals.SessionCatalog(spark)
        views = len(catalog.local_views()) + len(catalog.global_views())
        if views:
            found.append(f"{views} temporary {'view' if views == 1 else 'views'}")
        if internals.has_cached_data(spark):
            found.append("cached data")
    else:
        temporary = [t for t in spark.catalog.listTables() if t.isTemporary]
        if temporary:
            n = len(temporary)
            found.append(f"{n} temporary {'view' if n == 1 else 'views'}")
    return found
