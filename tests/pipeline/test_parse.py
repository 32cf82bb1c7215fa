"""Parsing and quarantine rules on real DataFrames (the suite's plain SparkSession)."""

from __future__ import annotations

import json

import pytest

from pyspark_kernel.pipeline import events as ev
from pyspark_kernel.pipeline import parse as P

SALE = {
    "event_id": "e1",
    "event_type": "sale",
    "user_id": "u1",
    "timestamp": "2026-01-01T00:00:01.500Z",
    "product_id": "p1",
    "amount": 12.5,
}


def kafka_rows(spark, *values):
    rows = [
        (b"k", None if v is None else (v if isinstance(v, bytes) else json.dumps(v).encode()),
         "t", 0, i, None)
        for i, v in enumerate(values)
    ]  # fmt: skip
    schema = (
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
    )
    return spark.createDataFrame(rows, schema)


def reasons(spark, *values):
    return [r.reason for r in P.parse(kafka_rows(spark, *values)).orderBy("offset").collect()]


def without(field):
    return {k: v for k, v in SALE.items() if k != field}


def test_a_valid_sale_has_no_reason_and_typed_fields(spark):
    row = P.valid(P.parse(kafka_rows(spark, SALE))).collect()[0]
    assert (row.event_id, row.amount, row.event_type) == ("e1", 12.5, "sale")
    assert row.event_time.isoformat().startswith("2026-01-01T00:00:01.5")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"event_id": "e1", "amou', "invalid_json"),
        (b"not json at all", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (None, "empty_value"),
        (without("event_id"), "missing_field:event_id"),
        (without("timestamp"), "missing_field:timestamp"),
        ({**SALE, "user_id": None}, "missing_field:user_id"),
        (without("amount"), "missing_field:amount"),
        ({**SALE, "amount": "a lot"}, "wrong_type:amount"),
        ({**SALE, "timestamp": "yesterday"}, "wrong_type:timestamp"),
        ({**SALE, "timestamp": 1767225601}, "wrong_type:timestamp"),  # epoch seconds
        (json.dumps(SALE).encode() + b" trailing text", "invalid_json"),
        (json.dumps(SALE).encode() + b"]", "invalid_json"),
        (json.dumps(SALE).encode() + json.dumps(SALE).encode(), "invalid_json"),  # {...}{...}
        (json.dumps(SALE).encode() + b"\n" + json.dumps(SALE).encode(), "invalid_json"),
        (json.dumps(SALE).encode() + b", " + json.dumps(SALE).encode(), "invalid_json"),
        (json.dumps(SALE).encode() + b"}", "invalid_json"),
        (json.dumps(SALE).encode() + b"],[{}", "invalid_json"),
        ({**SALE, "user_id": 'u"}{"x'}, None),  # braces and quotes inside a string
        ({**SALE, "extra": {"a": [1, {"b": [2]}], "c": "\\"}}, None),  # nesting, a backslash
        ({**SALE, "extra": json.loads("[" * 11 + "]" * 11)}, "invalid_json"),  # deeper than 10
        (b"  " + json.dumps(SALE).encode() + b"\n", None),  # surrounding whitespace is fine
        ({**SALE, "event_type": "refund"}, "unknown_event_type"),
        ({**without("amount"), "event_type": "lead", "email": "a@b", "source": "web"}, None),
        ({**SALE, "event_type": "lead"}, "missing_field:email"),
        ({**SALE, "event_type": "chat_session", "session_id": "s", "messages": "x"},
         "wrong_type:messages"),
    ],
)  # fmt: skip
def test_quarantine_reasons(spark, value, reason):
    assert reasons(spark, value) == [reason]


def test_malformed_json_is_a_struct_of_nulls_and_still_quarantined(spark):
    parsed = P.parse(kafka_rows(spark, b"{oops"))
    row = parsed.collect()[0]
    assert row.event_id is None and row.reason == "invalid_json"
    assert P.quarantine(parsed).collect()[0].raw == "{oops"


def test_generated_records_are_classified_as_generated(spark):
    messages = ev.generate(400, seed=7, bad_share=0.2, duplicate_share=0.1)
    expected = ev.counts(messages)
    parsed = P.parse(kafka_rows(spark, *[m.value for m in messages])).cache()
    assert P.quarantine(parsed).count() == expected["bad"]
    valid = P.valid(parsed)
    assert valid.count() == expected["valid"] + expected["duplicate"]
    assert valid.select("event_id").distinct().count() == expected["valid"]


def test_route_splits_by_type_with_each_types_columns(spark):
    lead = {**without("amount"), "event_id": "e2", "event_type": "lead", "email": "a@b",
            "source": "web"}  # fmt: skip
    routed = P.route(P.valid(P.parse(kafka_rows(spark, SALE, lead))))
    assert set(routed) == {"sale", "lead", "chat_session"}
    assert [r.event_id for r in routed["sale"].collect()] == ["e1"]
    assert routed["lead"].columns == ["event_id", "user_id", "event_time", "email", "source"]
    assert routed["chat_session"].count() == 0
    with pytest.raises(ValueError, match="unknown event type"):
        P.of_type(routed["sale"], "refund")


def test_generation_is_deterministic_and_shares_are_respected():
    a = ev.generate(1000, seed=3, bad_share=0.1, duplicate_share=0.1)
    assert a == ev.generate(1000, seed=3, bad_share=0.1, duplicate_share=0.1)
    c = ev.counts(a)
    assert 50 < c["bad"] < 150 and 50 < c["duplicate"] < 150
    assert all(
        m.kind != "duplicate" or m.value in {x.value for x in a if x.kind == "valid"} for m in a
    )
    assert ev.counts(ev.generate(100, bad_share=0, duplicate_share=0)) == {
        "valid": 100, "bad": 0, "duplicate": 0}  # fmt: skip
