"""The execution record: what one cell did, as seed 000's executor reported it, and more."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KEEP_RECORDS = 200


@dataclass
class ExecutionRecord:
    """One cell's outcome. Kept in the kernel (``last_record()``, ``%record``) and written to
    the metadata of the cell's result output (key ``pyspark_kernel``)."""

    execution_count: int
    status: str = "running"  # success | error | interrupted | running
    stdout: str = ""
    stderr: str = ""
    error_name: str | None = None
    error_message: str | None = None
    duration_ms: int = 0
    spark_job_ids: list[int] = field(default_factory=list)
    result_source: str = (
        "none"  # expression | parquet | view | direct_dataframe | none | read_error
    )
    result_data: list[dict[str, Any]] | None = None
    detected_parquet_path: str | None = None
    detected_view_name: str | None = None
    detected_variable_name: str | None = None
    created_variables: dict[str, str] = field(default_factory=dict)
    result_error: str | None = None
    truncated_output: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The record without the (possibly long) output and rows, for output metadata
        (built field by field: `asdict` would deep-copy the rows only to drop them)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _LONG}
        data["spark_job_ids"] = list(self.spark_job_ids)
        data["created_variables"] = dict(self.created_variables)
        return data


_LONG = ("stdout", "stderr", "result_data")


class RecordLog:
    """The records of the last `KEEP_RECORDS` cells (older ones are dropped)."""

    def __init__(self, keep: int = KEEP_RECORDS) -> None:
        self._records: deque[ExecutionRecord] = deque(maxlen=keep)

    def add(self, record: ExecutionRecord) -> None:
        self._records.append(record)

    def last(self) -> ExecutionRecord | None:
        return self._records[-1] if self._records else None

    def __len__(self) -> int:
        return len(self._records)
