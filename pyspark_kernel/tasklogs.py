"""Executor task-failure logs, folded: a job whose tasks all fail makes Spark log each
failure with its whole stack trace (hundreds of lines for one cell). The cell gets one line
per distinct error with a count; the full log is kept for ``%spark tasklog``."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import pyspark_kernel.errors as errors

_LOG_START = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")
_FAILURE = re.compile(
    r" (ERROR Executor: Exception in task |WARN TaskSetManager: Lost task "
    r"|ERROR TaskSetManager: Task \S+ in stage \S+ failed \d+ times?; aborting job)"
)
_TID = re.compile(r"\(TID (\d+)\)")
_LOST = re.compile(r"Lost task .*?\): (.*)$")
KEEP_CHARS = 2_000_000


class TaskFailureLog:
    """Collects the task-failure records of the running cell (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holding = False  # inside a failure record: its continuation lines are ours
        self._records: list[list[str]] = []
        self.last: str | None = None  # the full log of the last cell that had failures

    def take(self, line: str) -> bool:
        """Keep `line` if it belongs to a task-failure record (then it is not shown)."""
        with self._lock:
            if _LOG_START.match(line):
                self._holding = bool(_FAILURE.search(line))
                if self._holding:
                    self._records.append([line])
                return self._holding
            if self._holding:
                self._records[-1].append(line)
            return self._holding

    def summary(self) -> list[str]:
        """One line per distinct error of the cell's failed tasks, with its count; the
        records are kept as `last` and forgotten for the next cell."""
        with self._lock:
            records, self._records, self._holding = self._records, [], False
        if not records:
            return []
        self.last = "".join("".join(r) for r in records)[-KEEP_CHARS:]
        causes: OrderedDict[str, set[str]] = OrderedDict()  # error -> the tasks it failed
        aborted = 0
        for number, record in enumerate(records):
            if "aborting job" in record[0]:
                aborted += 1
                continue
            task = _TID.search(record[0])  # a task's failure is logged twice in local mode
            causes.setdefault(_cause(record), set()).add(task.group(1) if task else f"#{number}")
        lines = []
        for cause, tasks in causes.items():
            count = len(tasks)
            noun = "task failure" if count == 1 else "task failures"
            lines.append(f"Spark: {count} {noun}: {cause} (full executor log: %spark tasklog)\n")
        if aborted and not causes:
            lines.append("Spark: a job was aborted after task failures (%spark tasklog)\n")
        return lines


def _cause(record: list[str]) -> str:
    """The error a failure record reports: a Python worker's own exception line, else the
    Java exception's first line."""
    text = "".join(record)
    worker = errors.worker_cause(text)
    if worker is not None:
        return worker
    lost = _LOST.search(record[0].rstrip("\n"))
    if lost is not None:
        return lost.group(1).strip()
    for line in record[1:]:
        if line.strip() and not line.startswith(("\t", " ")):
            return line.strip()
    return record[0].strip()
