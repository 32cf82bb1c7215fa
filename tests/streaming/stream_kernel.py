"""A real ``pyspark`` kernel whose client keeps every IOPub message.

Streaming displays, ``foreachBatch`` prints and console-sink output reach a cell after it has
finished (while later cells run); `Kernel.run` only returns the messages of the cell it ran,
so the recorder keeps them all and `wait_for` reads on until a condition holds."""

from __future__ import annotations

import contextlib
import json
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel_client import Kernel

STREAM = "application/vnd.pyspark-kernel.stream.v1+json"
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "mime"


class RecordingKernel(Kernel):
    """A `Kernel` that records every IOPub message its client reads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[dict[str, Any]] = []
        read = self.client.get_iopub_msg

        def recording(*args: Any, **kw: Any) -> dict[str, Any]:
            msg = read(*args, **kw)
            self.log.append(msg)
            return msg

        self.client.get_iopub_msg = recording  # type: ignore[method-assign]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Read IOPub messages until `condition()` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            found = condition()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met in {timeout} s")
            with contextlib.suppress(queue.Empty):
                self.client.get_iopub_msg(timeout=0.2)

    def of_cell(self, msg_id: str, *types: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.log
            if m["parent_header"].get("msg_id") == msg_id and (not types or m["msg_type"] in types)
        ]

    def stream_payloads(self, msg_id: str, name: str | None = None) -> list[dict[str, Any]]:
        """The stream.v1 payloads sent to the cell `msg_id` (of query `name`), in order."""
        found = []
        for m in self.of_cell(msg_id, "display_data", "update_display_data"):
            payload = m["content"]["data"].get(STREAM)
            if payload is not None and (name is None or payload["name"] == name):
                found.append(payload)
        return found

    def while_running(self, msg_id: str) -> list[dict[str, Any]]:
        """Messages (for any cell) logged between the busy and idle status of `msg_id`."""
        marks = [
            i
            for i, m in enumerate(self.log)
            if m["msg_type"] == "status" and m["parent_header"].get("msg_id") == msg_id
        ]
        return self.log[marks[0] : marks[-1] + 1] if len(marks) >= 2 else []

    def stream_text(self, msg_id: str, name: str = "stdout") -> str:
        return "".join(
            m["content"]["text"]
            for m in self.of_cell(msg_id, "stream")
            if m["content"]["name"] == name
        )


def msg_id(run: Any) -> str:
    """The msg_id of the execute_request of a `CellRun`."""
    return str(run.reply["parent_header"]["msg_id"])


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def when_job_runs(action: Callable[[], None]) -> tuple[Callable[..., None], dict[str, float]]:
    """A `during` callback that calls `action` once the cell's job progress is showing."""
    state: dict[str, float] = {}

    def during(elapsed: float, messages: list[dict[str, Any]]) -> None:
        if "at" not in state and any(PROGRESS in m["content"].get("data", {}) for m in messages):
            state["at"] = elapsed
            action()

    return during, state
