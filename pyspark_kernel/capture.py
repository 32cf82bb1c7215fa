"""Per-cell capture: a copy of the cell's stdout/stderr for its record, and routing of the
driver JVM's output lines to the cell that is running."""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any, TextIO

from .tasklogs import TaskFailureLog

log = logging.getLogger(__name__)

# Each stream of a cell's record keeps its first 100,000 characters (the notebook has all
# of the output): with the last 200 records kept, at most 40 million characters in all.
MAX_RECORDED_CHARS = 100_000

# Lines every JVM prints while starting; they say nothing about the user's cell.
_STARTUP_NOISE = (
    "WARNING: Using incubator modules",
    "Using Spark's default log4j profile",
    'Setting default log level to "WARN"',
    "To adjust logging level use sc.setLogLevel",
)
# Log records that only repeat what the cell already shows: the error of a failed query
# (shown as the cell's error) and the tasks killed by an interrupt the user asked for; and
# those that only describe this machine, which would otherwise be saved in notebooks: a
# port taken by another kernel's Spark UI (the address in use is in ``%spark``), and a
# connection to one of Spark's ports that broke or spoke another protocol (a port
# scanner, or a client of another process that keeps reconnecting to a port Spark now
# uses: a ZeroMQ greeting reads as "Frame length should be positive").
_REDUNDANT = re.compile(
    r" (NativeCodeLoader|SQLQueryContextLogger): |TaskKilled \(Stage cancelled"
    r"|Utils: Service '[^']+' could not bind on port "
    r"|TransportChannelHandler: Exception in connection from "
)
_LOG_START = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")


class BoundedText:
    """Text that keeps at most `limit` characters and remembers whether it dropped any."""

    def __init__(self, limit: int = MAX_RECORDED_CHARS) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = False
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        with self._lock:
            room = self.limit - self.size
            if room <= 0:
                self.dropped = self.dropped or bool(text)
                return
            if len(text) > room:
                text, self.dropped = text[:room], True
            self.parts.append(text)
            self.size += len(text)

    def text(self) -> str:
        with self._lock:
            return "".join(self.parts)


class Tee:
    """Stands in for ``sys.stdout``/``sys.stderr`` during a cell: writes go to the real
    stream unchanged and are also kept for the cell's record."""

    def __init__(self, stream: TextIO, copy: BoundedText) -> None:
        self._stream = stream
        self._copy = copy

    def write(self, text: str) -> int:
        self._copy.add(text)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class CellCapture:
    """Captures one cell: installs the tees, and receives the JVM lines routed to it."""

    def __init__(self) -> None:
        self.stdout = BoundedText()
        self.stderr = BoundedText()
        self._saved: tuple[Any, Any] | None = None

    def __enter__(self) -> CellCapture:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = Tee(sys.stdout, self.stdout)
        sys.stderr = Tee(sys.stderr, self.stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None

    @property
    def dropped(self) -> bool:
        return self.stdout.dropped or self.stderr.dropped


class JvmOutputRouter:
    """Sends each line the driver JVM prints to the cell running at that moment.

    Lines printed while no cell runs go to the most recent cell (as Jupyter does with late
    output), and to the kernel's log before any cell has run. Start-up noise is dropped.
    """

    def __init__(self, streams: dict[str, Any]) -> None:
        self._streams = streams  # "stdout"/"stderr" -> ipykernel OutStream
        self._lock = threading.Lock()
        self._parent: dict[str, Any] | None = None
        self._capture: CellCapture | None = None
        self._skipping = False
        self.task_failures = TaskFailureLog()

    def begin_cell(self, parent: dict[str, Any], capture: CellCapture) -> None:
        with self._lock:
            self._parent, self._capture = parent, capture

    def end_cell(self) -> None:
        for line in self.task_failures.summary():  # the cell's folded task failures
            self._write("stderr", line)
        with self._lock:
            self._capture = None

    def _redundant(self, name: str, line: str) -> bool:
        """True for noise; a redundant record's continuation lines are skipped with it."""
        if line.startswith(_STARTUP_NOISE):
            return True
        if name == "stderr" and _LOG_START.match(line):
            self._skipping = bool(_REDUNDANT.search(line))
        return self._skipping and name == "stderr"

    def __call__(self, name: str, line: str) -> None:
        if self._redundant(name, line):
            log.debug("jvm %s: %s", name, line.rstrip())
            return
        if name == "stderr" and self.task_failures.take(line):
            return
        self._write(name, line)

    def _write(self, name: str, line: str) -> None:
        with self._lock:
            parent, capture = self._parent, self._capture
        if capture is not None:
            (capture.stdout if name == "stdout" else capture.stderr).add(line)
        stream = self._streams.get(name)
        if parent is None or stream is None or not hasattr(stream, "set_thread_parent"):
            log.info("jvm %s: %s", name, line.rstrip())
            return
        token = stream.set_thread_parent(parent)
        try:
            stream.write(line)
        finally:
            stream.reset_thread_parent(token)
