"""The state of the cell that is running, shared by the parts that act on it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .results.record import ExecutionRecord


@dataclass
class CellState:
    """One running cell: its record, its Spark job tag and what was seen before it ran."""

    record: ExecutionRecord
    code: str
    parent: dict[str, Any]
    needs_spark: bool = False
    started: float = field(default_factory=time.monotonic)
    tag: str | None = None
    names: dict[str, int] = field(default_factory=dict)  # namespace before: name -> id()
    frames: dict[str, int] = field(default_factory=dict)  # the DataFrames among them
    views: dict[str, str] = field(default_factory=dict)  # temp views before: name -> mark
    views_noted: bool = False  # whether `views` was listed (the session was ready)
    shown: str | None = None  # how the cell displayed a DataFrame itself (expression, show, sql)
    interrupted: bool = False
    timed_out: bool = False
    jvm_calls: int | None = None  # the session's count of JVM calls as the cell began

    def mark_shown(self, how: str) -> None:
        """The cell displayed a DataFrame itself: no detected result is shown after it."""
        if self.shown is None:
            self.shown = how
            self.record.result_source = how

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)
