"""Deterministic test events and a Kafka producer that confirms what it delivered.

Valid events are JSON objects with ``event_id``, ``event_type``, ``user_id`` and an ISO-8601
``timestamp``; ``sale`` adds ``product_id`` and ``amount`` (seed 004), ``lead`` adds ``email``
and ``source``, ``chat_session`` adds ``session_id`` and ``messages`` (seed 001). A share of
records is bad (not JSON, a required field missing, a field of the wrong type) and a share
are duplicates: a valid event sent again, byte for byte, with the same ``event_id``.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

Kind = Literal["valid", "bad", "duplicate"]

EVENT_TYPES = ("sale", "lead", "chat_session")
REQUIRED: dict[str, tuple[str, ...]] = {
    "sale": ("product_id", "amount"),
    "lead": ("email", "source"),
    "chat_session": ("session_id", "messages"),
}
COMMON = ("event_id", "event_type", "user_id", "timestamp")
TYPED: dict[str, tuple[str, ...]] = {"sale": ("amount",), "chat_session": ("messages",)}
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
BAD_KINDS = ("invalid_json", "missing_field", "wrong_type")


@dataclass(frozen=True)
class Message:
    """One Kafka record to send: key, value bytes, and what it is."""

    key: bytes | None
    value: bytes
    kind: Kind
    event: dict[str, Any] | None = None


@dataclass
class SendReport:
    """What a producer run sent and the broker acknowledged."""

    topic: str
    sent: int = 0
    acked: int = 0
    failed: int = 0
    valid: int = 0
    bad: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(
    rng: random.Random, event_type: str, moment: datetime, users: int = 50
) -> dict[str, Any]:
    """One valid event of ``event_type`` at ``moment`` drawn from ``rng``."""
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "user_id": f"user_{rng.randrange(users):03d}",
        "timestamp": _iso(moment),
    }
    if event_type == "sale":
        event["product_id"] = f"product_{rng.randrange(20):02d}"
        event["amount"] = round(rng.uniform(1, 500), 2)
    elif event_type == "lead":
        event["email"] = f"lead{rng.randrange(10_000)}@example.com"
        event["source"] = rng.choice(["web", "ads", "referral", "whatsapp"])
    else:
        event["session_id"] = f"chat_{rng.randrange(10**6):06d}"
        event["messages"] = rng.randrange(1, 40)
    return event


def make_bad(rng: random.Random, event: dict[str, Any]) -> bytes:
    """A bad record derived from a valid ``event``: not JSON, a field missing, or mistyped."""
    kind = rng.choice(BAD_KINDS)
    if kind == "invalid_json":
        return json.dumps(event).encode()[: rng.randrange(5, 30)]  # truncated: not JSON
    broken = dict(event)
    if kind == "missing_field":
        del broken[rng.choice(["event_id", "user_id", "timestamp", *REQUIRED[event["event_type"]]])]
    else:  # a typed field with a value of the wrong JSON type: from_json makes it null
        target = rng.choice(["timestamp", *TYPED.get(event["event_type"], ())])
        broken[target] = {"timestamp": "not a date", "amount": "a lot", "messages": "many"}[target]
    return json.dumps(broken).encode()


def generate(
    count: int,
    *,
    seed: int = 42,
    bad_share: float = 0.05,
    duplicate_share: float = 0.05,
    types: Sequence[str] = EVENT_TYPES,
    start: datetime = START,
    step_seconds: float = 1.0,
) -> list[Message]:
    """``count`` records, the same for the same arguments.

    Each record is bad with probability ``bad_share``, else a duplicate of a recent valid
    event (sent again, byte for byte) with probability ``duplicate_share``, else a new valid
    event. Event time advances ``step_seconds`` per record from ``start``, with a little
    jitter, so windows fill up deterministically.
    """
    rng = random.Random(seed)
    messages: list[Message] = []
    recent: list[Message] = []
    for i in range(count):
        moment = start + timedelta(seconds=i * step_seconds + rng.uniform(0, step_seconds))
        draw = rng.random()
        if draw < duplicate_share and recent:
            original = rng.choice(recent[-20:])
            messages.append(Message(original.key, original.value, "duplicate", original.event))
            continue
        event = make_event(rng, rng.choice(list(types)), moment)
        if draw > 1 - bad_share:
            messages.append(Message(event["user_id"].encode(), make_bad(rng, event), "bad"))
            continue
        message = Message(event["user_id"].encode(), json.dumps(event).encode(), "valid", event)
        messages.append(message)
        recent.append(message)
    return messages


def counts(messages: Iterable[Message]) -> dict[str, int]:
    """How many valid, bad and duplicate records ``messages`` holds."""
    result = {"valid": 0, "bad": 0, "duplicate": 0}
    for message in messages:
        result[message.kind] += 1
    return result


def _kafka() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import kafka
        import kafka.errors
    return kafka


def recreate_topic(
    bootstrap: str,
    topic: str,
    partitions: int = 1,
    timeout: float = 60.0,
    *,
    max_message_bytes: int | None = None,
) -> None:
    """Delete ``topic`` if it exists and create it empty (waits for both).

    ``max_message_bytes`` sets the topic's ``max.message.bytes`` (the broker's default,
    ``message.max.bytes``, is about 1 MB); producers must also raise ``max_request_size``.
    """
    kafka = _kafka()
    configs = {"max.message.bytes": str(max_message_bytes)} if max_message_bytes else None
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout
        if topic in admin.list_topics():
            admin.delete_topics([topic])
            while topic in admin.list_topics() and time.monotonic() < deadline:
                time.sleep(0.2)
        while True:
            try:
                admin.create_topics(
                    [
                        kafka.admin.NewTopic(
                            topic,
                            num_partitions=partitions,
                            replication_factor=1,
                            topic_configs=configs,
                        )
                    ]
                )
                break
            except kafka.errors.TopicAlreadyExistsError:  # deletion still in progress
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        with contextlib.suppress(AttributeError):
            admin.wait_for_topics([topic], timeout_ms=int(timeout * 1000))
    finally:
        admin.close()


def send(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    *,
    rate: float = 0.0,
    linger_ms: int = 20,
    batch_size: int = 64 * 1024,
    timeout: float = 60.0,
    max_request_size: int = 1024 * 1024,
) -> SendReport:
    """Send ``messages`` to ``topic`` and wait until the broker acknowledged each one.

    Keys are the user ids (one user's events stay in order on one partition); ``acks=all``
    with idempotence, batching with ``linger_ms``; ``rate`` > 0 caps records per second.
    Every send's future is kept, the producer is flushed, and each future is counted as
    acknowledged or failed: the report says what the broker really has.
    ``max_request_size`` caps one request (and so one record): raise it, and the topic's
    ``max.message.bytes`` (:func:`recreate_topic`), to send records over 1 MB.
    """
    kafka = _kafka()
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        batch_size=batch_size,
        retries=5,
        max_in_flight_requests_per_connection=5,
        max_request_size=max_request_size,
    )
    report = SendReport(topic)
    started = time.monotonic()
    futures = []
    try:
        for i, message in enumerate(messages):
            if rate > 0:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            futures.append((message, producer.send(topic, key=message.key, value=message.value)))
            report.sent += 1
        producer.flush(timeout=timeout)
        for message, future in futures:
            try:
                future.get(timeout=timeout)
            except kafka.errors.KafkaError as error:
                report.failed += 1
                report.errors.append(repr(error))
                continue
            report.acked += 1
            if message.kind == "valid":
                report.valid += 1
            elif message.kind == "bad":
                report.bad += 1
            else:
                report.duplicates += 1
    finally:
        producer.close(timeout=timeout)
    report.seconds = round(time.monotonic() - started, 3)
    return report
