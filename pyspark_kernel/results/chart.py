"""Charts of results as Vega-Lite (``application/vnd.vegalite.v5+json``, which JupyterLab and
other front ends render natively) with a static PNG for nbconvert, GitHub and VS Code
(rendered by vl-convert when it is installed)."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any

log = logging.getLogger(__name__)

VEGALITE = "application/vnd.vegalite.v5+json"
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


CONTINUOUS = frozenset({"line", "area", "scatter"})
OTHER = "other"  # the group `explore.chart_data` sums the rest up as


def vega_lite(data: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """A Vega-Lite spec for the points of `explore.chart_data`, drawn as the Lab extension
    draws them: numbers and dates (by ``x_type``) on a continuous x axis for line, area and
    scatter charts, points on lines, bars and slices largest first with "other" last."""
    kind, x, agg, y, color = data["kind"], data["x"], data["agg"], data["y"], data["color"]
    y_title = "count" if agg == "count" else f"{agg}({y})"
    continuous = kind in CONTINUOUS
    numeric_x = continuous and all(_is_number(r["x"]) for r in data["rows"] if r["x"] is not None)
    temporal_x = continuous and str(data.get("x_type") or "").startswith(("date", "timestamp"))
    x_type = "quantitative" if numeric_x else "temporal" if temporal_x else "nominal"
    values = [_point(r, x_type == "nominal", bool(color)) for r in data["rows"]]
    order = largest_first(values, data["other"])
    encoding: dict[str, Any] = {}
    if kind == "pie":
        mark: dict[str, Any] = {"type": "arc", "tooltip": True}
        encoding["theta"] = {
            "field": "value",
            "type": "quantitative",
            "title": y_title,
            "stack": True,
        }
        encoding["color"] = {"field": "x", "type": "nominal", "title": x, "sort": order}
        encoding["order"] = {"field": "value", "type": "quantitative", "sort": "descending"}
    else:
        mark = {"type": {"scatter": "point"}.get(kind, kind), "tooltip": True}
        if kind == "line":
            mark["point"] = True
        encoding["x"] = {"field": "x", "type": x_type, "title": x}
        if x_type == "nominal":
            encoding["x"]["sort"] = order if kind == "bar" else None
        encoding["y"] = {"field": "value", "type": "quantitative", "title": y_title}
        if color:
            encoding["color"] = {"field": "color", "type": "nominal", "title": color}
    note = caption(data)
    return {
        "$schema": SCHEMA,
        "title": {"text": title or f"{y_title} by {x}", "subtitle": note},
        "data": {"values": values},
        "mark": mark,
        "encoding": encoding,
        "width": "container" if kind != "pie" else 300,
        "height": 300,
    }


def largest_first(values: list[dict[str, Any]], other: bool) -> list[Any]:
    """The x values by the sum of their values' sizes, largest first (ties by name, numbers
    in them compared as numbers), "other" last when it stands for the rest."""
    totals: dict[Any, float] = {}
    for v in values:
        size = abs(v["value"]) if isinstance(v["value"], (int, float)) else 0.0
        totals[v["x"]] = totals.get(v["x"], 0.0) + size
    return sorted(
        totals,
        key=lambda k: (other and k == OTHER, -totals[k], _natural(str(k))),
    )


def _point(row: dict[str, Any], nominal_x: bool, with_color: bool) -> dict[str, Any]:
    """A chart point: numbers as numbers (decimals come as text), a category's x as text."""
    point = {"x": label(row["x"]) if nominal_x else row["x"], "value": _number(row["value"])}
    if with_color:
        point["color"] = label(row.get("color"))
    return point


def label(value: Any) -> str:
    """A category as the table shows it."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _natural(text: str) -> list[tuple[int, Any]]:
    """A sort key comparing the digits in `text` as numbers: ``p2`` before ``p10``."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]


def caption(data: dict[str, Any]) -> str:
    """What the chart was computed over, in words."""
    text = f"computed by Spark over the {data['computed_over']}"
    if data["groups"] > data["shown_groups"]:
        rest = "the rest as 'other'" if data["other"] else "the rest left out"
        text += f"; {data['shown_groups']} of {data['groups']} groups, {rest}"
    return text


def chart_bundle(spec: dict[str, Any]) -> dict[str, Any]:
    """The mime bundle of a chart: Vega-Lite, a PNG when vl-convert is there, and text."""
    data: dict[str, Any] = {VEGALITE: spec, "text/plain": f"<chart: {spec['title']['text']}>"}
    try:
        import vl_convert

        png = vl_convert.vegalite_to_png({**spec, "width": 600}, scale=1)
        data["image/png"] = base64.b64encode(png).decode("ascii")
    except ImportError:
        log.debug("vl-convert is not installed: the chart has no static image")
    return data
