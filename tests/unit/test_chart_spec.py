"""The Vega-Lite specs of charts from code (results/chart.py) for every kind, checked by
compiling and laying them out with Vega-Lite itself (vl-convert). The Lab extension builds
the same marks and encodings from the same chart data (labextension src/__tests__/chart.spec.ts)."""

import json
from pathlib import Path

import pytest
import vl_convert

from pyspark_kernel.results.chart import SCHEMA, vega_lite

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "channel" / "chart_reply.json"
# The newest Vega-Lite 5 (the spec's mime type and $schema are v5).
V5 = max(
    (v for v in vl_convert.get_vegalite_versions() if v.startswith("5.")),
    key=lambda v: tuple(map(int, v.split("."))),
)

NUMBERS = [{"x": 1, "value": 2.5}, {"x": 2, "value": None}, {"x": 3, "value": 4.0}]
COLOURED = [
    {"x": "p1", "value": 3, "color": "north"},
    {"x": "p1", "value": 1, "color": "south"},
    {"x": "p2", "value": 2, "color": "north"},
]


def chart_data(**changes):
    return {**json.loads(FIXTURE.read_text())["chart"], **changes}


def marks(node, found=None):
    """``{mark type: items}`` of the marks (not axes or legends) Vega laid out: a bar, a
    slice, a point each; the points of lines and areas."""
    found = {} if found is None else found
    if isinstance(node, dict):
        if node.get("role") == "mark" and "items" in node:
            found[node["marktype"]] = found.get(node["marktype"], 0) + len(node["items"])
        for value in node.values():
            marks(value, found)
    elif isinstance(node, list):
        for value in node:
            marks(value, found)
    return found


@pytest.mark.parametrize(
    ("data", "mark", "encoding", "drawn"),
    [
        pytest.param(
            chart_data(kind="pie"),
            "arc",
            {
                "theta": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
                "color": {"field": "x", "type": "nominal", "title": "product"},
            },
            {"arc": 2},
            id="pie",
        ),
        pytest.param(
            chart_data(kind="area", other=False, rows=NUMBERS),
            "area",
            {
                "x": {"field": "x", "type": "quantitative", "title": "product"},
                "y": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
            },
            {"area": 3},
            id="area",
        ),
        pytest.param(
            chart_data(kind="scatter", other=False, rows=NUMBERS),
            "point",
            {
                "x": {"field": "x", "type": "quantitative", "title": "product"},
                "y": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
            },
            {"symbol": 2},  # the null value is not drawn
            id="scatter",
        ),
        pytest.param(
            chart_data(color="region", other=False, rows=COLOURED),
            "bar",
            {
                "x": {"field": "x", "type": "nominal", "title": "product", "sort": "-y"},
                "y": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
                "color": {"field": "color", "type": "nominal", "title": "region"},
            },
            {"rect": 3},
            id="bar-colour",
        ),
        pytest.param(
            chart_data(kind="line", color="region", other=False, rows=COLOURED),
            "line",
            {
                "x": {"field": "x", "type": "nominal", "title": "product"},
                "y": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
                "color": {"field": "color", "type": "nominal", "title": "region"},
            },
            {"line": 3},
            id="line-colour",
        ),
    ],
)
def test_every_kind_is_valid_vega_lite(data, mark, encoding, drawn):
    spec = vega_lite(data)
    assert spec["$schema"] == SCHEMA
    assert spec["mark"] == {"type": mark, "tooltip": True}
    assert spec["encoding"] == encoding
    assert spec["data"]["values"] == data["rows"]
    assert marks(vl_convert.vegalite_to_scenegraph(spec, vl_version=V5)) == drawn


def test_a_pie_is_a_fixed_size_and_says_what_it_was_computed_over():
    spec = vega_lite(chart_data(kind="pie"), title="Sales")
    assert (spec["width"], spec["height"]) == (300, 300)
    assert spec["title"] == {
        "text": "Sales",
        "subtitle": "computed by Spark over the whole result; 1 of 60 groups, the rest as 'other'",
    }
