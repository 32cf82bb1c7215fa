"""What the sinks of a fault-free run hold for the records sent (shared by ``tests/pipeline``
and ``tests/reliability``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pyspark_kernel.pipeline import events as ev


def documents(sent: Iterable[ev.Message]) -> dict[str, dict[str, Any]]:
    """The search index of a fault-free run: each valid event's last version sent, by event
    id, with its fields (``timestamp`` named ``event_time``) as the document."""
    docs = {}
    for message in sent:
        if message.kind != "bad" and message.event is not None:
            event = message.event
            docs[event["event_id"]] = {
                ("event_time" if k == "timestamp" else k): v for k, v in event.items()
            }
    return docs


def quarantined_ids(sent: Iterable[ev.Message]) -> set[str]:
    """The event ids that bad records still carry (those that are JSON objects with one)."""
    ids = set()
    for message in sent:
        if message.kind == "bad":
            try:
                value = json.loads(message.value)
            except (TypeError, ValueError):  # a null value, not UTF-8, not JSON
                continue
            if isinstance(value, dict) and isinstance(value.get("event_id"), str):
                ids.add(value["event_id"])
    return ids
