"""Charts of results as Vega-Lite (``application/vnd.vegalite.v5+json``, which JupyterLab and
other front ends render natively) with a static PNG for nbconvert, GitHub and VS Code
(rendered by vl-convert when it is installed)."""

from __future__ import annotations

import base64
import logging
from typing import Any

log = logging.getLogger(__name__)

VEGALITE = "application/vnd.vegalite.v5+json"
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def vega_lite(data: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """A Vega-Lite spec for the points of `explore.chart_data`."""
    kind, x, agg, y, color = data["kind"], data["x"], data["agg"], data["y"], data["color"]
    y_title = "count" if agg == "count" else f"{agg}({y})"
    numeric_x = all(isinstance(r["x"], (int, float)) for r in data["rows"] if r["x"] is not None)
    x_type = "quantitative" if numeric_x and kind in {"line", "area", "scatter"} else "nominal"
    encoding: dict[str, Any] = {}
    if kind == "pie":
        mark: dict[str, Any] = {"type": "arc", "tooltip": True}
        encoding["theta"] = {"field": "value", "type": "quantitative", "title": y_title}
        encoding["color"] = {"field": "x", "type": "nominal", "title": x}
    else:
        mark = {"type": {"scatter": "point"}.get(kind, kind), "tooltip": True}
        encoding["x"] = {"field": "x", "type": x_type, "title": x}
        if x_type == "nominal" and kind == "bar":
            encoding["x"]["sort"] = "-y"
        encoding["y"] = {"field": "value", "type": "quantitative", "title": y_title}
        if color:
            encoding["color"] = {"field": "color", "type": "nominal", "title": color}
    note = caption(data)
    return {
        "$schema": SCHEMA,
        "title": {"text": title or f"{y_title} by {x}", "subtitle": note},
        "data": {"values": data["rows"]},
        "mark": mark,
        "encoding": encoding,
        "width": "container" if kind != "pie" else 300,
        "height": 300,
    }


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
