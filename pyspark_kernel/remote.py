"""What the kernel does differently on Spark Connect (``SparkSettings.remote``).

- `ConnectProgress`: a cell's progress from the client's progress handler
  (``spark.registerProgressHandler``, pyspark 4.0+), published as the same ``progress.v1``
  payload as classic sessions. Spark Connect reports stages and tasks per operation, not
  Spark job ids, stage names, failed tasks or a Spark UI: each operation is shown as one
  "job" numbered within the cell, with no links.
- `waiting_on_server`: whether an interrupt landed while the cell waits for the server
  (then the server, not a ``KeyboardInterrupt``, ends the call: the cell ends once the
  operation is gone).
- `interrupt_until_gone`: interrupt a tag again until nothing carrying it runs.
- `lost_reason` / `answers`: a server that went away (or dropped the session), read short.

There is no driver JVM on the kernel's side: JVM-death detection, log capture and the status
tracker do not apply.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import types
from typing import Any
from urllib.parse import urlsplit

import pyspark_kernel.spark_internals as internals

from .iopub import Publisher
from .progress import MIN_INTERVAL, ProgressDisplay, changed

log = logging.getLogger(__name__)

DEFAULT_PORT = 15002
# Conditions that mean the server no longer knows this client's session.
# (NO_ACTIVE_SESSION: the client closed itself on seeing the server's session change.)
_SESSION_GONE = (
    "INVALID_HANDLE.SESSION_CHANGED",
    "INVALID_HANDLE.SESSION_CLOSED",
    "NO_ACTIVE_SESSION",
)


class SparkConnectServerLost(RuntimeError):
    """The Spark Connect server went away or dropped the session while the cell ran."""


def endpoint(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``sc://HOST[:PORT][/;params]`` URL."""
    parts = urlsplit("http" + url[2:] if url.startswith("sc:") else url)
    return parts.hostname or "localhost", parts.port or DEFAULT_PORT


def answers(url: str, timeout: float = 2.0) -> str | None:
    """None if something accepts connections at the server's address, else why not."""
    host, port = endpoint(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def lost_reason(exc: BaseException) -> str | None:
    """Why `exc` means the server is gone for this client (None: an ordinary error)."""
    code = getattr(exc, "getGrpcStatusCode", None)
    try:
        status = code() if callable(code) else None
    except Exception:
        status = None
    if status is not None and getattr(status, "name", "") == "UNAVAILABLE":
        text = str(exc)
        detail = text.split('details = "', 1)[1].split('"', 1)[0] if 'details = "' in text else ""
        detail = detail.rsplit(": ", 1)[-1] if detail else "UNAVAILABLE"
        return f"does not answer ({detail})"
    name = internals.error_condition(exc)
    if name in _SESSION_GONE:
        return f"no longer knows this kernel's session ({name}; was the server restarted?)"
    return None


def waiting_on_server(frame: types.FrameType | None) -> bool:
    """True when `frame` (where a signal landed) is a Spark Connect call waiting on gRPC."""
    in_grpc = in_connect = False
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        in_grpc = in_grpc or "/grpc/" in name
        in_connect = in_connect or "/pyspark/sql/connect/" in name
        frame = frame.f_back
    return in_grpc and in_connect


def interrupt_until_gone(spark: Any, tag: str, limit: float = 5.0) -> bool:
    """Interrupt the operations carrying `tag` until none is left to interrupt (bounded).

    The interrupt that ended the cell normally got them all; this catches an operation
    that started just after it. True once nothing with the tag runs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if not spark.interruptTag(tag):
                return True
        except Exception as exc:  # the server may be gone
            log.debug("interruptTag(%s) failed: %s", tag, exc)
            return False
        time.sleep(0.1)
    log.warning("Spark Connect operations of %s still running %.0f s after interrupt", tag, limit)
    return False


class ConnectProgress(ProgressDisplay):
    """Progress of one cell's Spark Connect operations, published like `CellProgress`.

    The client calls the handler on the thread that runs the operation (the cell's), each
    time the server reports progress (about every 2 s) and once when the operation ends."""

    def __init__(
        self,
        spark: Any,
        publisher: Publisher,
        parent: dict[str, Any],
        show_after: float = 1.0,
        keep_after: float = 0.0,
    ) -> None:
        super().__init__(publisher, parent, show_after, keep_after)
        self._spark = spark
        self._last_sent = 0.0
        self._thread = threading.get_ident()
        self._ops: dict[str, dict[str, Any]] = {}  # operation id -> {stages, inflight, done}
        # job_ids stays empty: Spark Connect does not report Spark job ids
        self._registered = internals.register_progress_handler(spark, self)

    def __call__(
        self, stages: Any, inflight_tasks: int, operation_id: str | None, done: bool
    ) -> None:
        if threading.get_ident() != self._thread:
            return  # an operation of another thread (a listener, a background job)
        try:
            self._update(list(stages or []), inflight_tasks, operation_id or "?", done)
        except Exception:  # a display problem must never break the user's query
            log.debug("Spark Connect progress update failed", exc_info=True)

    def _update(self, stages: list[Any], inflight: int, op: str, done: bool) -> None:
        entry = self._ops.get(op)
        if entry is None:
            if not stages:
                return  # an operation without Spark stages (analysis, a command)
            entry = self._ops[op] = {"stages": [], "inflight": 0, "done": False}
        if stages:
            entry["stages"] = stages
        entry["inflight"] = 0 if done else inflight
        entry["done"] = done
        if self._first is None:
            self._first = time.monotonic()
        now = time.monotonic()
        if not self._due() or (now - self._last_sent < MIN_INTERVAL and not done):
            return
        payload = self._connect_payload("running")
        if changed(self._last, payload):
            self._publish(payload)
            self._last_sent = now

    def finish(self, state: str, used_spark: bool = True, describe: Any = None) -> list[int]:
        """Stop listening, publish the summary (if shown or due); no job ids to return."""
        self.abandon()
        if self._ops and (self._shown or self._due()):
            self._end(self._connect_payload(state))
        return self.job_ids

    def abandon(self) -> list[int]:
        """Stop listening (the handler would keep this display alive with its session)."""
        try:
            if self._registered:
                self._spark.removeProgressHandler(self)
                self._registered = False
        except Exception:
            log.debug("could not remove the progress handler", exc_info=True)
        return self.job_ids

    def _connect_payload(self, state: str) -> dict[str, Any]:
        jobs: list[dict[str, Any]] = []
        ops = list(self._ops.items())
        for number, (op, entry) in enumerate(ops):
            # The client's last report of a finished operation can be older than its end:
            # the stages of an operation that succeeded are shown complete.
            complete = state == "done" and entry["done"]
            running = [s for s in entry["stages"] if not s.done]
            stages: list[dict[str, Any]] = [
                {
                    "stage_id": int(s.stage_id),
                    "attempt": 0,
                    "name": f"stage {s.stage_id}",
                    "num_tasks": int(s.num_tasks),
                    "num_active_tasks": (
                        min(int(entry["inflight"]), int(s.num_tasks - s.num_completed_tasks))
                        if len(running) == 1 and s is running[0]
                        else 0
                    ),
                    "num_completed_tasks": int(s.num_tasks if complete else s.num_completed_tasks),
                    "num_failed_tasks": 0,
                }
                for s in entry["stages"]
            ]
            if state == "running":
                status = "SUCCEEDED" if entry["done"] else "RUNNING"
            elif state == "done" or number < len(ops) - 1:
                status = "SUCCEEDED"
            else:
                status = "FAILED"  # the operation the error or interrupt ended
            jobs.append(
                {
                    "job_id": number,
                    "status": status,
                    "name": f"Spark Connect operation {op[:8]}",
                    "url": None,
                    "num_tasks": sum(s["num_tasks"] for s in stages),
                    "num_completed_tasks": sum(s["num_completed_tasks"] for s in stages),
                    "num_failed_tasks": 0,
                    "stages": stages,
                }
            )
        return self._payload(state, jobs, None)

    def _text(self, payload: dict[str, Any]) -> str:
        return progress_text(payload)


def progress_text(payload: dict[str, Any]) -> str:
    """One line for frontends without the extension: operations, not Spark job ids."""
    t = payload["totals"]
    seconds = payload["elapsed_ms"] / 1000
    ops = f"{t['jobs']} operation{'s' if t['jobs'] != 1 else ''}"
    if payload["state"] == "running":
        return (
            f"Spark Connect: {t['completed_tasks']}/{t['tasks']} tasks, {t['stages']} stages, "
            f"{ops} ({seconds:.1f} s)"
        )
    return (
        f"Spark Connect {payload['state']}: {ops}, {t['stages']} stages, "
        f"{t['completed_tasks']}/{t['tasks']} tasks in {seconds:.1f} s"
    )
