"""Kernel metrics since start: cells run and failed, cell times, Spark jobs, rows previewed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .results.record import ExecutionRecord


def summarize(records: Sequence[ExecutionRecord]) -> dict[str, Any]:
    """Counts, success rate and cell-time statistics over `records`."""
    times = sorted(r.duration_ms for r in records)
    failed = sum(1 for r in records if r.status != "success")
    return {
        "cells_run": len(records),
        "cells_failed": failed,
        "success_rate": round((len(records) - failed) / len(records), 4) if records else None,
        "total_ms": sum(times),
        "median_ms": statistics.median(times) if times else None,
        "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))] if times else None,
        "spark_jobs": sum(len(r.spark_job_ids) for r in records),
        "cells_interrupted": sum(1 for r in records if r.status == "interrupted"),
        "rows_previewed": sum(len(r.result_data or []) for r in records),
    }
