"""A bounded preview of a DataFrame: ``limit(max_rows + 1)`` through Arrow, never a full
collect, with every value made JSON-safe according to its Spark type."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

import pyspark_kernel.driver_calls as driver_calls
import pyspark_kernel.spark_internals as internals


@dataclass
class Preview:
    """Rows ready for JSON, plus what was left out."""

    columns: list[dict[str, Any]]
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    cut: list[list[int]] = field(default_factory=list)
    row_count: int | None = None
    streaming: bool = False
    deferred: str | None = None  # why no rows were fetched: "plan" or "budget"


def as_spark_frame(obj: Any) -> Any:
    """The Spark DataFrame behind a classic, Spark Connect or pandas-on-Spark frame or
    Series (the index as leading columns, named as pandas names it)."""
    module = type(obj).__module__
    if not module.startswith("pyspark.pandas"):
        return obj
    if type(obj).__name__ == "Series":
        obj = obj.to_frame()
    index = [
        name or ("index" if i == 0 else f"index_{i}") for i, name in enumerate(obj.index.names)
    ]
    if set(index) & set(obj.columns):
        index = [f"__index_{i}__" for i in range(len(index))]
    return obj.to_spark(index_col=index)


PANDAS_ON_SPARK = (("pyspark.pandas.frame", "DataFrame"), ("pyspark.pandas.series", "Series"))


def is_dataframe(obj: Any) -> bool:
    """True for classic and Spark Connect DataFrames and pandas-on-Spark frames and Series."""
    if isinstance(obj, DataFrame):
        return True
    cls = type(obj)
    return (cls.__module__, cls.__name__) in PANDAS_ON_SPARK


def frame_summary(obj: Any) -> str | None:
    """A DataFrame's description as its ``repr()`` reads without eager evaluation, from its
    schema and never by a Spark job (the ``repr()`` of a pandas-on-Spark frame runs one, a
    DataFrame's too with ``spark.sql.repl.eagerEval.enabled``); None for other objects."""
    if not is_dataframe(obj):
        return None
    cls = type(obj)
    if cls.__module__.startswith("pyspark.pandas"):
        columns = [obj.name] if cls.__name__ == "Series" else list(obj.columns)
        return f"pyspark.pandas.{cls.__name__}[{', '.join(map(str, columns))}]"
    calls = driver_calls.for_frame(obj)
    if calls is not None and calls.helper is not None:
        calls.plan_operators(obj)  # its schema and plan in one JVM call (the plan is kept)
    fields = (f"{f.name}: {f.dataType.simpleString()}" for f in obj.schema.fields)
    return f"DataFrame[{', '.join(fields)}]"


def has_columns(obj: Any) -> bool:
    """Whether a DataFrame-like object has anything to show as columns (a Series does;
    a frame made by DDL such as ``CREATE VIEW`` has no column)."""
    columns = getattr(obj, "columns", None)
    return columns is None or len(columns) > 0


def schema_only(df: Any, deferred: str) -> Preview:
    """The columns of `df` and why its rows were not fetched (no job is run)."""
    return Preview(columns=columns_of(as_spark_frame(df).schema), deferred=deferred)


def columns_of(schema: T.StructType) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "type": f.dataType.simpleString(), "nullable": f.nullable}
        for f in schema.fields
    ]


def preview(
    df: Any,
    max_rows: int,
    max_chars: int,
    exact_count: bool = False,
    max_bytes: int = 2_000_000,
    cancelled: Callable[[], bool] = lambda: False,
) -> Preview:
    """Fetch at most ``max_rows + 1`` rows of `df` and make them JSON-safe.

    Rows past `max_bytes` of JSON are left out (the preview is then marked truncated).
    Once `cancelled()` is true a failed fetch is not tried again another way."""
    df = as_spark_frame(df)
    schema = df.schema
    result = Preview(columns=columns_of(schema))
    if df.isStreaming:
        result.streaming = True
        return result
    tz = _session_zone(df)
    raw_rows = _first_rows(df.limit(max_rows + 1), cancelled)
    result.truncated = len(raw_rows) > max_rows
    types = [f.dataType for f in schema.fields]
    size = 0
    for r, raw in enumerate(raw_rows[:max_rows]):
        row = []
        for c, (value, dtype) in enumerate(zip(raw, types, strict=True)):
            safe, was_cut = to_json(value, dtype, max_chars, tz)
            row.append(safe)
            if was_cut:
                result.cut.append([r, c])
        size += len(json.dumps(row, ensure_ascii=False))
        if size > max_bytes and result.rows:
            result.truncated = True
            result.cut = [pos for pos in result.cut if pos[0] < r]
            break
        result.rows.append(row)
    if exact_count:
        result.row_count = df.count()
    return result


def _first_rows(limited: Any, cancelled: Callable[[], bool]) -> list[list[Any]]:
    """The rows of a limited DataFrame. A classic session collects them as ``show()``
    does: Spark reads one partition, then more only if it still lacks rows (through Arrow
    it would run a task on every partition, and shuffle). Spark Connect answers in Arrow."""
    if internals.is_classic(limited.sparkSession):
        return [list(row) for row in limited.collect()]
    try:
        table = internals.arrow_table(limited)
    except Exception:
        if cancelled():
            raise
        table = None  # Arrow cannot carry every type (e.g. some intervals); rows still can
    if table is None:
        return [list(row) for row in limited.collect()]
    return [list(row.values()) for row in table.to_pylist()]


def to_json(
    value: Any, dtype: T.DataType, max_chars: int, tz: dt.tzinfo | None = None
) -> tuple[Any, bool]:
    """A JSON-safe form of `value` (see docs/mimetypes.md) and whether it was shortened.

    Zoned timestamps are shown in `tz` (the session time zone) when given."""
    if value is None:
        return None, False
    if isinstance(dtype, T.UserDefinedType):
        return _user_defined(value, dtype, max_chars, tz)
    if isinstance(dtype, T.StringType):
        text = str(value)
        return (text[:max_chars], True) if len(text) > max_chars else (text, False)
    if isinstance(dtype, T.BinaryType):
        data = bytes(value)
        limit = max(1, max_chars * 3 // 4)
        cut = len(data) > limit
        return base64.b64encode(data[:limit]).decode("ascii"), cut
    if isinstance(dtype, (T.FloatType, T.DoubleType)):
        number = float(value)
        if math.isnan(number):
            return "NaN", False
        if math.isinf(number):
            return ("Infinity" if number > 0 else "-Infinity"), False
        return number, False
    if isinstance(dtype, T.DecimalType):
        return str(value) if isinstance(value, decimal.Decimal) else str(
            decimal.Decimal(value)
        ), False
    if isinstance(dtype, (T.BooleanType, T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return value, False
    if isinstance(dtype, T.TimestampType) and isinstance(value, dt.datetime) and tz is not None:
        # Arrow gives zoned values; collected Rows give the kernel's local time (naive)
        return value.astimezone(tz).isoformat(), False
    if isinstance(dtype, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return _iso(value), False
    if isinstance(dtype, T.ArrayType):
        return _nested([(v, dtype.elementType) for v in value], max_chars, tz)
    if isinstance(dtype, T.StructType):
        items = value.items() if isinstance(value, dict) else zip(dtype.names, value, strict=False)
        pairs = dict(items)
        safe: dict[str, Any] = {}
        any_cut = False
        for f in dtype.fields:
            safe[f.name], cut = to_json(pairs.get(f.name), f.dataType, max_chars, tz)
            any_cut = any_cut or cut
        return safe, any_cut
    if isinstance(dtype, T.MapType):
        entries = value.items() if isinstance(value, dict) else value
        out: list[list[Any]] = []
        any_cut = False
        for key, item in entries:
            k, cut_k = to_json(key, dtype.keyType, max_chars, tz)
            v, cut_v = to_json(item, dtype.valueType, max_chars, tz)
            out.append([k, v])
            any_cut = any_cut or cut_k or cut_v
        return out, any_cut
    return str(value), False


def _user_defined(
    value: Any, dtype: T.UserDefinedType, max_chars: int, tz: dt.tzinfo | None
) -> tuple[Any, bool]:
    """A user-defined type (an ML vector) as its Python class prints it, which is how
    ``show()`` prints it (``[1.0,2.0]``, ``(3,[0],[1.0])``); Arrow gives the underlying
    struct, ``collect()`` the object itself."""
    try:
        if isinstance(value, dict):
            fields = dtype.sqlType().fieldNames()  # type: ignore[attr-defined]
            value = dtype.deserialize(tuple(value.get(name) for name in fields))
        elif isinstance(value, (tuple, list)):
            value = dtype.deserialize(tuple(value))
        text = str(value)
    except Exception:  # a type whose Python class cannot be rebuilt: its stored form
        return to_json(value, dtype.sqlType(), max_chars, tz)
    return (text[:max_chars], True) if len(text) > max_chars else (text, False)


def _nested(
    items: list[tuple[Any, T.DataType]], max_chars: int, tz: dt.tzinfo | None
) -> tuple[list[Any], bool]:
    out, any_cut = [], False
    for value, dtype in items:
        safe, cut = to_json(value, dtype, max_chars, tz)
        out.append(safe)
        any_cut = any_cut or cut
    return out, any_cut


def _session_zone(df: Any) -> dt.tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(df.sparkSession.conf.get("spark.sql.session.timeZone"))
    except Exception:  # an offset like "+02:00" or an unknown zone: keep Arrow's UTC
        return None


def _iso(value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)
