"""Kernel metrics since start: cells run and failed, cell times, Spark jobs, rows previewed."""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .results.record import ExecutionRecord

DURATIONS_KEPT = 10_000


@dataclass
class Metrics:
    """Running totals over every cell since the kernel started (records are not kept)."""

    cells_run: int = 0
    cells_failed: int = 0
    cells_interrupted: int = 0
    spark_jobs: int = 0
    spark_jobs_cancelled: int = 0
    rows_previewed: int = 0
    # the last DURATIONS_KEPT cell times (for the median and p95; totals count them all)
    durations_ms: deque[int] = field(default_factory=lambda: deque(maxlen=DURATIONS_KEPT))
    total_ms: int = 0

    def add(self, record: ExecutionRecord) -> None:
        self.cells_run += 1
        self.durations_ms.append(record.duration_ms)
        self.total_ms += record.duration_ms
        self.spark_jobs += len(record.spark_job_ids)
        self.rows_previewed += len(record.result_data or [])
        if record.status != "success":
            self.cells_failed += 1
        if record.status == "interrupted" or record.error_name == "CellTimeout":
            self.cells_interrupted += 1
            self.spark_jobs_cancelled += len(record.spark_job_ids)

    def summary(self) -> dict[str, Any]:
        """Counts, success rate and cell-time statistics."""
        times = sorted(self.durations_ms)
        return {
            "cells_run": self.cells_run,
            "cells_failed": self.cells_failed,
            "cells_interrupted": self.cells_interrupted,
            "success_rate": (
                round((self.cells_run - self.cells_failed) / self.cells_run, 4)
                if self.cells_run
                else None
            ),
            "total_ms": self.total_ms,
            "median_ms": statistics.median(times) if times else None,
            "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))] if times else None,
            "spark_jobs": self.spark_jobs,
            "spark_jobs_cancelled": self.spark_jobs_cancelled,
            "rows_previewed": self.rows_previewed,
        }
