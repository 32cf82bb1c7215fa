"""What the display of a streaming query shows: `QueryView`, the ``stream.v1`` payload
(docs/mimetypes.md) and its text form, built from Spark's progress reports."""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import worker_cause

HISTORY_POINTS = 60


@dataclass
class QueryView:
    """What the display of one query run shows, and where it is shown."""

    id: str
    run_id: str
    name: str | None
    parent: dict[str, Any]
    display_id: str
    console: bool = False
    checkpoint: str | None = None
    ui_url: str | None = None  # the run's page in the Spark UI (`query_page`)
    state: str = "starting"
    message: str = "Initializing sources"
    progress: dict[str, Any] | None = None
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    error: str | None = None
    query: Any = None
    status_at: float = 0.0
    final_sent: threading.Event | None = None

    @property
    def label(self) -> str:
        return query_label(self.name, self.id)

    @property
    def finished(self) -> bool:
        return self.state in {"stopped", "failed"}

    def add_progress(self, progress: dict[str, Any], message: str | None) -> None:
        """Take a progress report (Spark's JSON) of this run."""
        self.progress = progress
        if not self.finished:
            self.state = "active"
        if message:
            self.message = message
        point = history_point(progress)
        if self.history and self.history[-1]["batch_id"] == point["batch_id"]:
            self.history[-1] = point
        else:
            self.history.append(point)

    def finish(self, exception: str | None, error_class: str | None = None) -> None:
        """The run ended: stopped, or failed with `exception`."""
        if exception:
            self.state, self.message = "failed", "Terminated with exception"
            self.error = short_error(exception, error_class)
        else:
            self.state, self.message = "stopped", "Stopped"


def query_label(name: str | None, query_id: Any) -> str:
    """How messages name a query: ``'name' (id)``, or the id of an unnamed one."""
    return f"{name!r} ({query_id})" if name else str(query_id)


def query_page(ui_url: str | None, run_id: str) -> str | None:
    """The Structured Streaming statistics page of query run `run_id` in the Spark UI at
    `ui_url` (as progress displays show it: through the Jupyter server, or direct)."""
    return f"{ui_url}/StreamingQuery/statistics/?id={run_id}" if ui_url else None


def stream_payload(view: QueryView) -> dict[str, Any]:
    """The ``stream.v1`` payload of `view` (docs/mimetypes.md)."""
    p = view.progress or {}
    sink = p.get("sink") or {}
    return {
        "version": 1,
        "id": view.id,
        "run_id": view.run_id,
        "name": view.name,
        "state": view.state,
        "message": view.message,
        "batch_id": p.get("batchId"),
        "num_input_rows": int(p.get("numInputRows") or 0),
        "input_rows_per_second": rate(p.get("inputRowsPerSecond")),
        "processed_rows_per_second": rate(p.get("processedRowsPerSecond")),
        "batch_duration_ms": p.get("batchDuration"),
        "watermark": (p.get("eventTime") or {}).get("watermark"),
        "state_rows": state_rows(p),
        "sources": [source_entry(s) for s in p.get("sources") or []],
        "sink": str(sink.get("description") or ""),
        "history": list(view.history),
        "error": view.error,
        "ui_url": view.ui_url,
    }


def status_entry(view: QueryView) -> dict[str, Any]:
    """What the kernel's status file (`runtime_status`) says about an active query: its
    ``stream.v1`` payload without the display-only fields (the sparkline, the Spark UI
    link), and Spark's last progress."""
    payload = stream_payload(view)
    for key in ("history", "version", "ui_url"):
        del payload[key]
    return {**payload, "last_progress": view.progress}


def stream_text(payload: dict[str, Any]) -> str:
    """A readable summary for frontends without the lab extension."""
    who = f"{payload['name']} ({payload['id'][:8]})" if payload["name"] else payload["id"][:8]
    head = f"Streaming query {who}: {payload['state']}"
    if payload["batch_id"] is not None:
        head += (
            f", batch {payload['batch_id']}, {payload['input_rows_per_second']:g} rows/s in, "
            f"{payload['processed_rows_per_second']:g} rows/s processed"
        )
    lines = [f"{head} - {payload['message']}"]
    lags = [s["lag"] for s in payload["sources"] if s["lag"] is not None]
    if lags:
        lines.append(f"lag: {sum(lags)} offsets behind latest")
    if payload["error"]:
        lines.append(f"error: {payload['error']}")
    if payload["ui_url"]:
        lines.append(f"Spark UI: {payload['ui_url']}")
    if payload["state"] in {"starting", "active"}:
        lines.append(f"stop: %streams stop {payload['id']}")
    return "\n".join(lines)


def history_point(progress: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": progress.get("batchId"),
        "input_rows_per_second": rate(progress.get("inputRowsPerSecond")),
        "processed_rows_per_second": rate(progress.get("processedRowsPerSecond")),
    }


def source_entry(source: dict[str, Any]) -> dict[str, Any]:
    """One source of a progress report, offsets as JSON text, Kafka lag where known."""
    end, latest = source.get("endOffset"), source.get("latestOffset")
    return {
        "description": str(source.get("description") or ""),
        "start_offset": offset_text(source.get("startOffset")),
        "end_offset": offset_text(end),
        "latest_offset": offset_text(latest),
        "lag": kafka_lag(end, latest),
    }


def offset_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def kafka_lag(end: Any, latest: Any) -> int | None:
    """Offsets behind latest, summed over Kafka partitions (``{topic: {partition: n}}``)."""
    end, latest = _json_value(end), _json_value(latest)
    if not isinstance(end, dict) or not isinstance(latest, dict):
        return None
    lag = 0
    for topic, partitions in latest.items():
        done = end.get(topic)
        if not isinstance(partitions, dict) or not isinstance(done, dict):
            return None
        for partition, offset in partitions.items():
            if not isinstance(offset, int) or not isinstance(done.get(partition), int):
                return None
            lag += max(0, offset - done[partition])
    return lag


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def state_rows(progress: dict[str, Any]) -> int | None:
    operators = progress.get("stateOperators") or []
    if not operators:
        return None
    return sum(int(op.get("numRowsTotal") or 0) for op in operators)


def rate(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return round(number, 3) if math.isfinite(number) else 0.0


def short_error(exception: str | None, error_class: str | None = None, limit: int = 300) -> str:
    """One line for a failed query: the Python error of a ``foreachBatch`` traceback, else
    the first line of Spark's message, led by its error class."""
    text = (exception or "").strip()
    line = worker_cause(text) or next(
        (ln.strip() for ln in text.splitlines() if ln.strip()), "the query failed"
    )
    if error_class and f"[{error_class}]" not in line:
        line = f"[{error_class}] {line}"
    return line if len(line) <= limit else line[: limit - 1] + "…"
