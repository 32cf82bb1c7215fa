"""Parse Kafka values as JSON events, validate them, quarantine the rest, route by type.

``from_json`` never fails: malformed JSON gives a struct of nulls and a value of the wrong
type gives a null field. So the raw string is kept, the value is also parsed as a
``map<string,string>`` (null only when it is not a JSON object) and every record gets a
``reason``: null for a valid event, else the first rule it breaks, in this order:

- ``empty_value``: a null (tombstone) or zero-length value;
- ``too_large``: a value over ``MAX_VALUE_BYTES``;
- ``invalid_utf8``: bytes that are not UTF-8 (Spark would otherwise keep them as they are);
- ``invalid_json``: not one JSON object: malformed, another kind of value, or anything
  after the object's closing brace (Spark's JSON readers stop at the end of the first
  value and ignore the rest, so ``{...}{...}`` would keep the first event and lose the
  second). Checked on the value's skeleton: its strings emptied, then its innermost
  ``{...}`` and ``[...]`` replaced by ``0``, `MAX_DEPTH` times: one object leaves one
  ``0`` (a value nested deeper is quarantined too);
- ``missing_field:<name>``, ``unknown_event_type``;
- ``wrong_type:<name>``: a typed field that does not parse as its type, a text field whose
  JSON value is not a string (``{"user_id": {...}}`` would otherwise be kept as text), or a
  ``timestamp`` that is not a string (Spark reads a number there as epoch seconds);
- ``invalid_value:amount``: ``NaN`` or an infinite amount;
- ``future_event_time``: an event time more than ``MAX_AHEAD`` after the processing time
  (``current_timestamp()``, the micro-batch's time in a stream). Such an event would advance
  the watermark past every real event and make the stateful operators drop all of them as
  late. ``MAX_AHEAD`` is below the pipelines' watermark delay (10 minutes), so no accepted
  event can push the watermark past the processing time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import COMMON, EVENT_TYPES, REQUIRED

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

EVENT_DDL = (
    "event_id STRING, event_type STRING, user_id STRING, timestamp TIMESTAMP, "
    "product_id STRING, amount DOUBLE, email STRING, source STRING, "
    "session_id STRING, messages INT"
)
"""The explicit schema of an event: every field of every type, all nullable."""

#: Fields whose JSON value must have a type other than string.
TYPED_FIELDS = {"timestamp": "timestamp", "amount": "amount", "messages": "messages"}
#: Fields whose JSON value must be a string.
TEXT_FIELDS = ("event_id", "event_type", "user_id", "product_id", "email", "source", "session_id")
#: Largest accepted Kafka value; larger ones are quarantined as ``too_large``.
MAX_VALUE_BYTES = 1024 * 1024
#: How far ahead of the processing time an event time may be (a Spark interval).
MAX_AHEAD = "5 minutes"
#: Deepest nesting of objects and arrays a valid value may have.
MAX_DEPTH = 10

EVENT_COLUMNS = ("event_id", "event_type", "user_id", "event_time", "product_id", "amount",
                 "email", "source", "session_id", "messages")  # fmt: skip
KAFKA_COLUMNS = ("key", "raw", "topic", "partition", "offset", "kafka_time")
QUARANTINE_COLUMNS = ("reason", "raw", "key", "topic", "partition", "offset", "kafka_time")


def event_schema() -> object:
    """The event schema as a ``StructType``."""
    from pyspark.sql.types import StructType

    return StructType.fromDDL(EVENT_DDL)


def reason_column(raw: Column, event: Column, max_ahead: str = MAX_AHEAD) -> Column:
    """Why a record is invalid (null when it is valid); ``event`` is ``from_json(raw)``."""
    from pyspark.sql import functions as F

    fields = F.from_json(raw, "map<string,string>")
    variant = F.try_parse_json(raw)

    def absent(name: str) -> Column:
        return F.element_at(fields, F.lit(name)).isNull()

    def not_text(name: str) -> Column:  # present, and its JSON value is not a string
        kind = F.schema_of_variant(F.variant_get(variant, f"$.{name}", "variant"))
        return ~absent(name) & (kind != F.lit("STRING"))

    rules: list[tuple[Column, str]] = [
        (raw.isNull() | (F.octet_length(raw) == 0), "empty_value"),
        (F.octet_length(raw) > MAX_VALUE_BYTES, "too_large"),
        (~F.is_valid_utf8(raw), "invalid_utf8"),
        (fields.isNull() | ~single_value(raw), "invalid_json"),
    ]
    rules += [(absent(name), f"missing_field:{name}") for name in COMMON]
    rules += [(not_text(name), f"wrong_type:{name}") for name in ("event_id", "event_type")]
    rules.append((not_text("timestamp"), "wrong_type:timestamp"))
    rules.append((~event["event_type"].isin(*EVENT_TYPES), "unknown_event_type"))
    for kind, names in REQUIRED.items():
        is_kind = event["event_type"] == kind
        rules += [(is_kind & absent(name), f"missing_field:{name}") for name in names]
    for kind in EVENT_TYPES:
        is_kind = event["event_type"] == kind
        for name in ("timestamp", *[n for n in REQUIRED[kind] if n in TYPED_FIELDS]):
            rules.append((is_kind & event[name].isNull(), f"wrong_type:{name}"))
        for name in ("user_id", *[n for n in REQUIRED[kind] if n in TEXT_FIELDS]):
            rules.append((is_kind & not_text(name), f"wrong_type:{name}"))
    amount = event["amount"]
    rules.append(
        (
            (event["event_type"] == "sale")
            & (F.isnan(amount) | (F.abs(amount) == F.lit(float("inf")))),
            "invalid_value:amount",
        )
    )
    ahead = F.current_timestamp() + F.expr(f"INTERVAL {max_ahead}")
    rules.append((event["timestamp"] > ahead, "future_event_time"))
    result = F.when(rules[0][0], F.lit(rules[0][1]))
    for condition, reason in rules[1:]:
        result = result.when(condition, F.lit(reason))
    return result


def single_value(raw: Column) -> Column:
    """Whether `raw` holds one JSON object or array (nested at most `MAX_DEPTH` deep) and
    nothing but whitespace around it (not whether that value is well formed)."""
    from pyspark.sql import functions as F

    skeleton = F.regexp_replace(raw, r'"(?:[^"\\]|\\.)*+"', '""')
    for _ in range(MAX_DEPTH):
        skeleton = F.regexp_replace(skeleton, r"\{[^{}\[\]]*+\}|\[[^{}\[\]]*+\]", "0")
    return skeleton.rlike(r"^\s*0\s*$")


def parse(kafka_df: DataFrame, max_ahead: str = MAX_AHEAD) -> DataFrame:
    """Kafka rows (``key``, ``value``, ...) → one row per record with ``reason`` and the fields.

    Columns: ``reason`` (null when valid), the Kafka coordinates and the raw value
    (``KAFKA_COLUMNS``), then the event fields (``EVENT_COLUMNS``, ``timestamp`` renamed
    ``event_time``).
    """
    from pyspark.sql import functions as F

    raw = F.col("value").cast("string")
    parsed = kafka_df.select(
        F.col("key").cast("string").alias("key"),
        raw.alias("raw"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_time"),
        F.from_json(raw, EVENT_DDL).alias("event"),
    )
    return parsed.select(
        reason_column(F.col("raw"), F.col("event"), max_ahead).alias("reason"),
        *KAFKA_COLUMNS,
        *[
            F.col(f"event.{'timestamp' if name == 'event_time' else name}").alias(name)
            for name in EVENT_COLUMNS
        ],
    )


def valid(parsed: DataFrame) -> DataFrame:
    """The valid events of ``parse()``'s output (no ``reason`` column)."""
    return parsed.where("reason IS NULL").select(*EVENT_COLUMNS, "partition", "offset")


def quarantine(parsed: DataFrame) -> DataFrame:
    """The invalid records of ``parse()``'s output, with their reason and raw value."""
    return parsed.where("reason IS NOT NULL").select(*QUARANTINE_COLUMNS)


def of_type(events: DataFrame, event_type: str) -> DataFrame:
    """Valid events of one type, with only the columns that type has."""
    if event_type not in REQUIRED:
        raise ValueError(f"unknown event type {event_type!r} (known: {', '.join(EVENT_TYPES)})")
    columns = ["event_id", "user_id", "event_time", *REQUIRED[event_type]]
    return events.where(events["event_type"] == event_type).select(*columns)


def route(events: DataFrame) -> dict[str, DataFrame]:
    """``{"sale": ..., "lead": ..., "chat_session": ...}``: valid events split by type."""
    return {kind: of_type(events, kind) for kind in EVENT_TYPES}


def deduplicate(events: DataFrame, delay: str = "10 minutes") -> DataFrame:
    """Event-time watermark on ``event_time`` and duplicates by ``event_id`` dropped.

    A resent event within ``delay`` of the watermark is dropped; state older than the
    watermark is purged (``dropDuplicatesWithinWatermark``).
    """
    return events.withWatermark("event_time", delay).dropDuplicatesWithinWatermark(["event_id"])
