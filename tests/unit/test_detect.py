import pytest

from pyspark_kernel.results.detect import (
    NOTHING,
    assigned_names,
    changed_views,
    choose,
    pick_variable,
    short_reprs,
)

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


def test_rule_order_parquet_then_view_then_variable():
    assert choose("/out/result.parquet", ["v"], "df").source == "parquet"
    assert choose(None, ["v"], "df").source == "view"
    assert choose(None, [], "df").source == "direct_dataframe"
    assert choose(None, [], None) == NOTHING


def test_changed_views_sees_new_and_replaced_not_untouched():
    before = {"a": "1", "b": "2", "keep": ""}
    after = {"a": "1", "b": "3", "keep": "", "new": ""}
    assert set(changed_views(before, after, "")) == {"b", "new"}


def test_changed_views_puts_the_view_named_last_in_the_code_last():
    after = {"first": "", "second": ""}
    code = "x.createOrReplaceTempView('second')\ny.createOrReplaceTempView('first')"
    assert changed_views({}, after, code)[-1] == "first"


def test_assigned_names_in_source_order_last_binding_last():
    code = "a = 1\nb, c = 2, 3\nfor d in []: pass\na = 4\nimport os.path as p\nwith open('x') as f: pass"
    assert assigned_names(code) == ["b", "c", "d", "a", "p", "f"]


def test_assigned_names_of_unparsable_code_is_empty():
    assert assigned_names("%%sql\nselect 1") == []


def test_pick_variable_takes_last_bound_dataframe_that_changed():
    before = {"old": 1, "same": 2}
    after = {"old": 1, "same": 2, "df1": 3, "df2": 4}
    assert pick_variable("df2 = x\ndf1 = y", before, after) == "df1"
    assert pick_variable("", before, {"old": 1, "same": 9}) == "same"
    assert pick_variable("z = 1", before, before) is None


def test_short_reprs_bounded_and_safe():
    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    ns = {"long": "x" * 1000, "bad": Broken(), "_private": 1}
    out = short_reprs(ns, ["long", "bad", "_private", "missing"])
    assert len(out["long"]) < 200
    assert out["bad"].startswith("<Broken")  # never raises
    assert set(out) == {"long", "bad"}
