"""Looking at a whole result without collecting it: a page of rows (sorted and filtered by
Spark), a chart's aggregation bounded to a number of groups, and a profile of every column.
Only what is shown leaves Spark."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .preview import as_spark_frame, preview, to_json

# Sorted pages up to this depth use Spark's top-K (bounded memory per partition); deeper
# ones number the sorted rows with a window (an external sort, spills to disk).
TOP_K_DEPTH = 100_000
FILTER_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "starts_with", "is_null", "not_null")
AGGREGATIONS = ("sum", "avg", "count", "min", "max")
CHART_KINDS = ("bar", "line", "area", "scatter", "pie")
OTHER = "other"


class ExploreError(ValueError):
    """A request that does not fit the result (unknown column, bad operator...)."""


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any = None


# -- pages -------------------------------------------------------------------------------------
def page(
    df: Any,
    offset: int,
    limit: int,
    sort: Sequence[SortKey] = (),
    filters: Sequence[Filter] = (),
    max_chars: int = 500,
    max_bytes: int = 2_000_000,
) -> dict[str, Any]:
    """Rows ``offset .. offset + limit`` of `df` filtered and sorted by Spark, encoded as in
    the table payload; ``has_more`` tells whether rows follow."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if offset < 0 or limit < 1:
        raise ExploreError("offset must be 0 or more and limit 1 or more")
    frame = filtered(as_spark_frame(df), filters)
    order = [_order(frame, key) for key in sort]
    if order and offset + limit > TOP_K_DEPTH:
        numbered = frame.withColumn("__pysk_row", F.row_number().over(Window.orderBy(*order)))
        frame = (
            numbered.where(F.col("__pysk_row") > offset)
            .where(F.col("__pysk_row") <= offset + limit + 1)
            .orderBy("__pysk_row")
            .drop("__pysk_row")
        )
    else:
        if order:
            frame = frame.orderBy(*order)
        if offset:
            frame = frame.offset(offset)
    shown = preview(frame, limit, max_chars, False, max_bytes)
    return {
        "columns": shown.columns,
        "rows": shown.rows,
        "cut": shown.cut,
        "offset": offset,
        "limit": limit,
        "has_more": shown.truncated,
    }


def filtered(df: Any, filters: Sequence[Filter]) -> Any:
    """`df` with every filter applied (they are ANDed)."""
    from pyspark.sql import functions as F

    for f in filters:
        column = _column(df, f.column)
        if f.op not in FILTER_OPS:
            raise ExploreError(f"unknown filter op {f.op!r} (known: {', '.join(FILTER_OPS)})")
        if f.op == "is_null":
            df = df.where(column.isNull())
        elif f.op == "not_null":
            df = df.where(column.isNotNull())
        elif f.op in {"contains", "starts_with"}:
            text = F.lower(column.cast("string"))
            needle = str(f.value).lower()
            df = df.where(text.contains(needle) if f.op == "contains" else text.startswith(needle))
        else:
            if f.value is None:
                raise ExploreError(f"filter {f.op!r} needs a value")
            value = F.lit(f.value)
            df = df.where(
                {
                    "eq": column == value,
                    "ne": column != value,
                    "lt": column < value,
                    "le": column <= value,
                    "gt": column > value,
                    "ge": column >= value,
                }[f.op]
            )
    return df


# -- charts ------------------------------------------------------------------------------------
def chart_data(
    df: Any,
    kind: str,
    x: str,
    y: str | None,
    agg: str = "sum",
    color: str | None = None,
    max_groups: int = 50,
) -> dict[str, Any]:
    """The aggregated points of a chart over the whole of `df`: ``agg(y)`` per ``x`` (and
    `color`). At most `max_groups` x values: for bar and pie charts the largest, the rest
    summed up as one group named "other"; for line, area and scatter charts the first in x
    order."""
    from pyspark.sql import functions as F

    if kind not in CHART_KINDS:
        raise ExploreError(f"unknown chart {kind!r} (known: {', '.join(CHART_KINDS)})")
    if agg not in AGGREGATIONS:
        raise ExploreError(f"unknown aggregation {agg!r} (known: {', '.join(AGGREGATIONS)})")
    frame = as_spark_frame(df)
    x_col = _column(frame, x)
    color_col = _column(frame, color) if color else None
    if agg == "count":
        value = F.count(F.lit(1))
    else:
        if not y:
            raise ExploreError(f"{agg} needs a y column")
        value = getattr(F, agg)(_column(frame, y))
    totals = frame.groupBy(x_col.alias("x")).agg(value.alias("value"))
    ranked = (
        totals.orderBy(F.abs(F.col("value")).desc_nulls_last(), F.col("x"))
        if kind in {"bar", "pie"}
        else totals.orderBy(F.col("x").asc_nulls_first())
    )
    top = ranked.limit(max_groups + 1).collect()
    truncated = len(top) > max_groups
    groups = totals.count() if truncated else len(top)
    keep = [row["x"] for row in top[:max_groups]]
    kept = x_col.isin([v for v in keep if v is not None])
    if None in keep:  # isin() is null for a null x: a top group of nulls is kept by name
        kept = kept | x_col.isNull()
    with_other = truncated and kind in {"bar", "pie"}
    if with_other:
        label = F.when(kept, x_col.cast("string")).otherwise(F.lit(OTHER))
        frame = frame.withColumn("__pysk_x", label)
    elif truncated:
        frame = frame.where(kept).withColumn("__pysk_x", x_col)
    else:
        frame = frame.withColumn("__pysk_x", x_col)
    keys = [F.col("__pysk_x").alias("x")]
    if color_col is not None:
        keys.append(color_col.alias("color"))
    grouped = frame.groupBy(*keys).agg(value.alias("value"))
    types = {f.name: f.dataType for f in grouped.schema.fields}
    points = grouped.collect()
    rows = [
        {name: to_json(row[name], types[name], 200)[0] for name in row.asDict()} for row in points
    ]
    if kind in {"line", "area"}:
        rows.sort(key=lambda r: (r["x"] is not None, _sortable(r["x"])))
    return {
        "kind": kind,
        "x": x,
        "x_type": types["x"].simpleString(),
        "y": y,
        "agg": agg,
        "color": color,
        "rows": rows,
        "groups": groups,
        "shown_groups": min(groups, max_groups),
        "other": with_other,
        "computed_over": "whole result",
    }


# -- profile -----------------------------------------------------------------------------------
def profile(df: Any, top: int = 5, bins: int = 10) -> dict[str, Any]:
    """Every column's null share, approximate distinct count, min/max/mean (numbers), top
    values (strings, booleans) and a histogram (numbers), in two aggregations over the
    whole of `df`: the statistics, then (binned by their min and max) the histograms and
    top values. Spark runs them as several jobs (a shuffle stage is a job of its own under
    adaptive query execution)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    frame = as_spark_frame(df)
    fields = frame.schema.fields
    numeric = [f for f in fields if isinstance(f.dataType, T.NumericType)]
    times = (T.DateType, T.TimestampType, T.TimestampNTZType)
    ordered = numeric + [f for f in fields if isinstance(f.dataType, times)]
    toplike = [f for f in fields if isinstance(f.dataType, (T.StringType, T.BooleanType))]
    exprs = [F.count(F.lit(1)).alias("__rows")]
    for i, f in enumerate(fields):
        c = frame[f.name]
        exprs += [F.count(c).alias(f"n{i}")]
        if not isinstance(f.dataType, (T.ArrayType, T.MapType, T.StructType, T.BinaryType)):
            exprs += [F.approx_count_distinct(c).alias(f"d{i}")]
        if f in ordered:
            exprs += [F.min(c).alias(f"min{i}"), F.max(c).alias(f"max{i}")]
        if f in numeric:
            exprs += [F.avg(c).alias(f"avg{i}")]
    first = frame.agg(*exprs).collect()[0].asDict()
    total = int(first["__rows"])
    columns: list[dict[str, Any]] = []
    bounds: dict[str, tuple[float, float]] = {}
    for i, f in enumerate(fields):
        non_null = int(first[f"n{i}"])
        entry: dict[str, Any] = {
            "name": f.name,
            "type": f.dataType.simpleString(),
            "count": non_null,
            "null_share": (total - non_null) / total if total else 0.0,
            "distinct": first.get(f"d{i}"),
        }
        if f in ordered:
            entry["min"] = to_json(first[f"min{i}"], f.dataType, 200)[0]
            entry["max"] = to_json(first[f"max{i}"], f.dataType, 200)[0]
        if f in numeric:
            mean = first[f"avg{i}"]
            entry["mean"] = float(mean) if mean is not None else None
            low, high = first[f"min{i}"], first[f"max{i}"]
            if low is not None and high is not None:
                bounds[f.name] = (float(low), float(high))
        columns.append(entry)
    counted = _second_pass(frame, bounds, toplike, top, bins, F, Window)
    for entry in columns:
        found = counted.get(entry["name"], [])
        if entry["name"] in bounds:
            low, high = bounds[entry["name"]]
            width = (high - low) / bins or 1.0
            counts = [0] * bins
            for bucket, count in found:
                counts[min(int(bucket), bins - 1)] += count
            entry["histogram"] = [
                {"start": low + i * width, "end": low + (i + 1) * width, "count": n}
                for i, n in enumerate(counts)
            ]
        elif found:
            entry["top"] = [{"value": value, "count": count} for value, count in found]
    return {"rows": total, "columns": columns}


def _second_pass(
    frame: Any,
    bounds: dict[str, tuple[float, float]],
    toplike: list[Any],
    top: int,
    bins: int,
    F: Any,
    Window: Any,
) -> dict[str, list[tuple[Any, int]]]:
    """Histogram buckets of the numeric columns and top values of the others, in one
    aggregation over `frame`."""
    items = []
    for name, (low, high) in bounds.items():
        width = (high - low) / bins or 1.0
        bucket = F.floor((frame[name].cast("double") - F.lit(low)) / F.lit(width)).cast("string")
        items.append(F.struct(F.lit(name).alias("c"), bucket.alias("v")))
    for f in toplike:
        items.append(F.struct(F.lit(f.name).alias("c"), frame[f.name].cast("string").alias("v")))
    if not items:
        return {}
    counts = (
        frame.select(F.explode(F.array(*items)).alias("s"))
        .select("s.c", "s.v")
        .where(F.col("v").isNotNull())
        .groupBy("c", "v")
        .count()
    )
    rank = F.row_number().over(Window.partitionBy("c").orderBy(F.col("count").desc(), "v"))
    keep = counts.withColumn("r", rank).where(
        F.when(F.col("c").isin(list(bounds)), F.lit(True)).otherwise(F.col("r") <= top)
    )
    out: dict[str, list[tuple[Any, int]]] = {}
    for row in keep.orderBy("c", "r").collect():
        out.setdefault(row["c"], []).append((row["v"], int(row["count"])))
    for name in bounds:
        out[name] = [(int(v), n) for v, n in out.get(name, [])]
    return out


# -- helpers -----------------------------------------------------------------------------------
def _column(df: Any, name: str | None) -> Any:
    if not name or name not in df.columns:
        raise ExploreError(f"no column {name!r} in this result (columns: {', '.join(df.columns)})")
    return df[name]


def _order(df: Any, key: SortKey) -> Any:
    column = _column(df, key.column)
    return column.desc_nulls_last() if key.descending else column.asc_nulls_first()


def _sortable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return float("inf")
    return value if isinstance(value, (int, float)) else str(value)
