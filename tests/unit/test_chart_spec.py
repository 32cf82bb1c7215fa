"""The Vega-Lite specs of charts from code (results/chart.py) for every kind, checked by
compiling and laying them out with Vega-Lite itself (vl-convert). The Lab extension builds
the same marks and encodings from the same chart data (labextension src/__tests__/chart.spec.ts):
a time axis for dates, points on lines, bars and slices largest first with "other" last."""

import json
from pathlib import Path

import pytest
import vl_convert

from pyspark_kernel.results.chart import SCHEMA, largest_first, vega_lite

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
                "theta": {
                    "field": "value",
                    "type": "quantitative",
                    "title": "sum(qty)",
                    "stack": True,
                },
                "color": {
                    "field": "x",
                    "type": "nominal",
                    "title": "product",
                    "sort": ["p7", "other"],
                },
                "order": {"field": "value", "type": "quantitative", "sort": "descending"},
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
                "x": {"field": "x", "type": "nominal", "title": "product", "sort": ["p1", "p2"]},
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
                "x": {"field": "x", "type": "nominal", "title": "product", "sort": None},
                "y": {"field": "value", "type": "quantitative", "title": "sum(qty)"},
                "color": {"field": "color", "type": "nominal", "title": "region"},
            },
            {"line": 3, "symbol": 3},
            id="line-colour",
        ),
    ],
)
def test_every_kind_is_valid_vega_lite(data, mark, encoding, drawn):
    spec = vega_lite(data)
    assert spec["$schema"] == SCHEMA
    assert spec["mark"] == {
        "type": mark,
        "tooltip": True,
        **({"point": True} if mark == "line" else {}),
    }
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


def test_dates_make_a_time_axis_and_values_become_numbers():
    rows = [{"x": "2024-01-02", "value": "2.50"}, {"x": "2024-01-01", "value": None}]
    spec = vega_lite(chart_data(kind="line", other=False, x_type="date", rows=rows))
    assert spec["encoding"]["x"] == {"field": "x", "type": "temporal", "title": "product"}
    assert spec["data"]["values"] == [
        {"x": "2024-01-02", "value": 2.5},  # decimals come as text
        {"x": "2024-01-01", "value": None},
    ]
    scene = vl_convert.vegalite_to_scenegraph(spec, vl_version=V5)
    assert marks(scene) == {"line": 2, "symbol": 1}  # the null value is not drawn
    as_text = vega_lite(chart_data(kind="line", other=False, x_type="string", rows=rows))
    assert as_text["encoding"]["x"]["type"] == "nominal"


def test_bars_are_largest_first_with_other_last_and_names_by_their_numbers():
    values = [
        {"x": "other", "value": 900},
        {"x": "p10", "value": 5},
        {"x": "p2", "value": 5},
        {"x": "p3", "value": -40},
        {"x": "p1", "value": 7},
    ]
    assert largest_first(values, other=True) == ["p3", "p1", "p2", "p10", "other"]
    assert largest_first(values, other=False)[0] == "other"  # a group of that name
    bars = vega_lite(
        chart_data(kind="bar", rows=[{"x": 2024, "value": 1}, {"x": None, "value": 3}])
    )
    assert bars["data"]["values"] == [{"x": "2024", "value": 1}, {"x": "null", "value": 3}]
    assert bars["encoding"]["x"]["sort"] == ["null", "2024"]
