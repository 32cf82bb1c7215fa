"""Mime bundles for results: the table payload for the lab extension, escaped HTML for
nbconvert and GitHub, and a plain-text table for everything else."""

from __future__ import annotations

import html
import json
from typing import Any

from ..mimetypes import TABLE
from .preview import Preview

SOURCES = ("expression", "parquet", "view", "direct_dataframe", "sql", "transform")
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
    }[source]
    if source == "sql" and payload.get("variable_name"):
        where += f" (kept as {payload['variable_name']})"
    if payload["streaming"]:
        return f"{where}: streaming DataFrame (schema only; start a query to see rows)"
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


def display_value(value: Any) -> str:
    """How one JSON-safe value reads in HTML and text tables."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def table_html(payload: dict[str, Any]) -> str:
    """A clean HTML table; every name, type and value is escaped."""
    esc = html.escape
    cut = {(r, c) for r, c in payload["cut"]}
    head = "".join(
        f'<th title="{esc(col["type"])}">{esc(col["name"])}<br>'
        f'<small style="font-weight:normal;opacity:0.7">{esc(col["type"])}</small></th>'
        for col in payload["columns"]
    )
    body = []
    for r, row in enumerate(payload["rows"]):
        cells = []
        for c, value in enumerate(row):
            text = esc(display_value(value)) + ("…" if (r, c) in cut else "")
            if value is None:
                text = "<i style='opacity:0.6'>null</i>"
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
    rows = [[_clip(display_value(v)) for v in row] for row in payload["rows"]]
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
