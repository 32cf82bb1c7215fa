"""Mime bundles for results: the table payload for the lab extension, escaped HTML for
nbconvert and GitHub, and a plain-text table for everything else."""

from __future__ import annotations

import base64
import decimal
import functools
import html
import json
import math
import re
from typing import Any

from ..mimetypes import TABLE
from .preview import Preview

SOURCES = ("expression", "parquet", "view", "direct_dataframe", "sql", "transform", "preview")
_TEXT_CELL = 40


def table_payload(
    preview: Preview,
    max_rows: int,
    source: str,
    *,
    view_name: str | None = None,
    parquet_path: str | None = None,
    variable_name: str | None = None,
    result_id: str | None = None,
) -> dict[str, Any]:
    """The ``table.v1`` payload (docs/mimetypes.md)."""
    if source not in SOURCES:
        raise ValueError(f"unknown result source {source!r}")
    return {
        "version": 1,
        "columns": preview.columns,
        "rows": preview.rows,
        "truncated": preview.truncated,
        "max_rows": max_rows,
        "row_count": preview.row_count,
        "cut": preview.cut,
        "source": source,
        "view_name": view_name,
        "parquet_path": parquet_path,
        "variable_name": variable_name,
        "streaming": preview.streaming,
        "result_id": result_id,
        "deferred": preview.deferred,
    }


def caption(payload: dict[str, Any]) -> str:
    """One line naming where the table came from and how much of it is shown."""
    source = payload["source"]
    where = {
        "expression": "Result",
        "parquet": f"Parquet {payload.get('parquet_path')}",
        "view": f"View {payload.get('view_name')}",
        "direct_dataframe": f"DataFrame {payload.get('variable_name')}",
        "sql": "SQL result",
        "transform": "transform() result",
        "preview": f"Preview of {payload.get('variable_name')}",
    }[source]
    if source == "sql" and payload.get("variable_name"):
        where += f" (kept as {payload['variable_name']})"
    if payload["streaming"]:
        return f"{where}: streaming DataFrame (schema only; start a query to see rows)"
    deferred = payload.get("deferred")
    if deferred is not None:
        why = {
            "plan": "its plan needs a pass over all its input",
            "budget": "the preview ran past its time budget and was cancelled",
        }.get(deferred, deferred)
        name = (
            payload.get("variable_name") or payload.get("view_name") or payload.get("parquet_path")
        )
        ask = f"%spark preview {name}" if name else "the preview action"
        return f"{where}: schema only ({why}); {ask} shows its rows"
    shown = len(payload["rows"])
    noun = "row" if shown == 1 else "rows"
    if payload["row_count"] is not None:
        return f"{where}: showing {shown} of {payload['row_count']} {noun}"
    if payload["truncated"]:
        return f"{where}: showing {shown} {noun}, more available"
    return f"{where}: {shown} {noun}"


def table_bundle(
    payload: dict[str, Any], metadata: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, metadata)`` for display: our table type, HTML and plain text."""
    data = {TABLE: payload, "text/html": table_html(payload), "text/plain": table_text(payload)}
    return data, dict(metadata or {})


def display_value(value: Any, spark_type: str | None = None) -> str:
    """How one JSON-safe value reads in HTML and text tables: as ``DataFrame.show()``
    prints it when its Spark type (`spark_type`, a simple string) is known (timestamps
    without the ISO ``T`` or offset, ``1.0E20``, ``[1, 2]``, ``{a -> 1}``, ``NULL``)."""
    if spark_type is not None:
        try:
            return spark_text(value, parse_type(spark_type))
        except (ValueError, TypeError, KeyError, IndexError):
            pass  # a type or value this renderer does not know: the generic form
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


SparkType = Any  # a type name (str), or ("array", T), ("map", K, V), ("struct", [(name, T)])


@functools.lru_cache(maxsize=256)  # once per column type, not once per value
def parse_type(text: str) -> SparkType:
    """The tree of a Spark simple type string (``struct<a:int,b:array<string>>``)."""
    parsed, rest = _parse_type(text.strip())
    if rest:
        raise ValueError(f"unexpected {rest!r} in type {text!r}")
    return parsed


def _parse_type(text: str) -> tuple[SparkType, str]:
    name = re.match(r"[a-z_0-9]+(\(\d+(,\s*\d+)?\))?", text)
    if name is None:
        raise ValueError(f"not a type: {text!r}")
    word, rest = name.group(0), text[name.end() :]
    if not rest.startswith("<"):
        return word, rest
    rest = rest[1:]
    if word == "array":
        element, rest = _parse_type(rest)
        return ("array", element), _expect(rest, ">")
    if word == "map":
        key, rest = _parse_type(rest)
        value, rest = _parse_type(_expect(rest, ","))
        return ("map", key, value), _expect(rest, ">")
    if word == "struct":
        fields: list[tuple[str, SparkType]] = []
        while not rest.startswith(">"):
            field_name, sep, rest = rest.partition(":")
            if not sep:
                raise ValueError("a struct field without a type")
            field_type, rest = _parse_type(rest)
            fields.append((field_name, field_type))
            rest = rest[1:] if rest.startswith(",") else rest
        return ("struct", fields), rest[1:]
    raise ValueError(f"unknown type {word}<...>")


def _expect(text: str, token: str) -> str:
    if not text.startswith(token):
        raise ValueError(f"expected {token!r} at {text!r}")
    return text[len(token) :]


def spark_text(value: Any, spark_type: SparkType) -> str:
    """`value` (JSON-safe, see docs/mimetypes.md) as ``DataFrame.show()`` prints it."""
    if value is None:
        return "NULL"
    if isinstance(spark_type, tuple):
        kind = spark_type[0]
        if kind == "array":
            return "[" + ", ".join(spark_text(v, spark_type[1]) for v in value) + "]"
        if kind == "map":
            _, key_type, value_type = spark_type
            pairs = (f"{spark_text(k, key_type)} -> {spark_text(v, value_type)}" for k, v in value)
            return "{" + ", ".join(pairs) + "}"
        fields = spark_type[1]
        return "{" + ", ".join(spark_text(value[name], t) for name, t in fields) + "}"
    if spark_type in {"timestamp", "timestamp_ntz"}:
        return _show_timestamp(str(value))
    if spark_type == "double":
        return java_double(value)
    if spark_type == "float":
        return java_float(value)
    if spark_type == "binary":
        data = base64.b64decode(value)
        return "[" + " ".join(f"{b:02X}" for b in data) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


_ISO_TIME = re.compile(r"^(\d{4,}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def _show_timestamp(text: str) -> str:
    """``2000-01-01T12:00:00.120000+01:00`` -> ``2000-01-01 12:00:00.12``: the value is
    already in the session time zone; ``show()`` prints neither ``T`` nor offset and no
    trailing zeros of the fraction."""
    match = _ISO_TIME.match(text)
    if match is None:
        return text
    day, time, fraction = match.group(1), match.group(2), (match.group(3) or "").rstrip("0")
    return f"{day} {time}{fraction if fraction != '.' else ''}"


def java_double(value: Any) -> str:
    """A double as Java's ``Double.toString`` writes it (``1.0``, ``1.0E20``, ``NaN``)."""
    if isinstance(value, str):  # NaN and the infinities travel as strings
        return value
    number = float(value)
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    if 1e-3 <= abs(number) < 1e7:
        text = repr(number)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(number)).as_tuple()
    assert isinstance(exponent, int)
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def java_float(value: Any) -> str:
    """A float (32 bits) as Java's ``Float.toString`` writes it: its shortest digits."""
    if isinstance(value, str):
        return value
    import numpy

    shortest = float(repr(numpy.float32(value)).removeprefix("np.float32(").rstrip(")"))
    return java_double(shortest)


def table_html(payload: dict[str, Any]) -> str:
    """A clean HTML table; every name, type and value is escaped."""
    esc = html.escape
    cut = {(r, c) for r, c in payload["cut"]}
    head = "".join(
        f'<th title="{esc(col["type"])}">{esc(col["name"])}<br>'
        f'<small style="font-weight:normal;opacity:0.7">{esc(col["type"])}</small></th>'
        for col in payload["columns"]
    )
    types = [col["type"] for col in payload["columns"]]
    body = []
    for r, row in enumerate(payload["rows"]):
        cells = []
        for c, value in enumerate(row):
            text = esc(display_value(value, types[c])) + ("…" if (r, c) in cut else "")
            if value is None:
                text = "<i style='opacity:0.6'>NULL</i>"
            cells.append(f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<table class="pyspark-kernel-table" border="1">'
        f"<caption style='text-align:left'>{esc(caption(payload))}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def table_text(payload: dict[str, Any]) -> str:
    """A fixed-width text table like ``DataFrame.show()``, with the caption below."""
    headers = [f"{col['name']}: {col['type']}" for col in payload["columns"]]
    types = [col["type"] for col in payload["columns"]]
    rows = [
        [_clip(display_value(v, t)) for v, t in zip(row, types, strict=True)]
        for row in payload["rows"]
    ]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [rule, line(headers), rule, *(line(row) for row in rows)]
    if rows:
        lines.append(rule)
    lines.append(caption(payload))
    return "\n".join(lines)


def _clip(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _TEXT_CELL else text[: _TEXT_CELL - 1] + "…"
