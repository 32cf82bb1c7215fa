"""The console sink's output, printed by the JVM without a query id: blocks sent to the
cell that started the console-sink queries, JVM log noise about queries dropped."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CONSOLE_RULE = "-" * 43  # the console sink frames "Batch: N" with two of these

_JVM_LOG_START = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")
# JVM log records that repeat what a query's display says (it failed, batches take longer
# than the trigger) or that starting and stopping queries always produce (temporary
# checkpoints, AQE off, batches aborted by a stop).
_STREAM_NOISE = re.compile(
    r" (?:WARN|ERROR) (?:MicroBatchExecution: Query .* terminated with error"
    r"|ProcessingTimeExecutor: Current batch is falling behind"
    r"|WriteToDataSourceV2Exec: Data source write support .* abort"
    r"|DataWritingSparkTask: Abort"
    r"|Utils: Aborting task"
    r"|ResolveWriteToStream: "
    r"|DAGScheduler: Failed to cancel job group)"
)


class ConsoleSinkRouter:
    """In front of the JVM output router: sends console-sink blocks to the starting cell.

    A block is ``CONSOLE_RULE``, ``Batch: N``, ``CONSOLE_RULE``, the table and a blank line.
    `target` names the cell for it (None: not attributable, the block passes through).
    Also drops the JVM log records that only repeat a query failure or a query stop."""

    def __init__(
        self,
        inner: Callable[[str, str], None] | None,
        target: Callable[[], dict[str, Any] | None],
        write: Callable[[dict[str, Any], str, str], None],
    ) -> None:
        self.inner = inner
        self._target = target
        self._write = write
        self._lock = threading.Lock()
        self._held: str | None = None
        self._parent: dict[str, Any] | None = None
        self._block_lines = 0
        self._skipping = False

    def __call__(self, name: str, line: str) -> None:
        if name == "stderr":
            if not self._noise(line):
                self._pass(name, line)
            return
        with self._lock:
            routed = self._route(line)
        for parent, text in routed:
            if parent is None:
                self._pass(name, text)
            else:
                self._write(parent, "stdout", text)

    def _noise(self, line: str) -> bool:
        if _JVM_LOG_START.match(line):
            self._skipping = bool(_STREAM_NOISE.search(line))
        return self._skipping

    def _route(self, line: str) -> list[tuple[dict[str, Any] | None, str]]:
        bare = line.rstrip("\r\n")
        if self._parent is not None:
            self._block_lines += 1
            parent = self._parent
            if not bare and self._block_lines > 2:
                self._parent = None
            return [(parent, line)]
        if self._held is not None:
            held, self._held = self._held, None
            if bare.startswith("Batch: "):
                target = self._target()
                if target is not None:
                    self._parent, self._block_lines = target, 0
                    return [(target, held), (target, line)]
            return [(None, held), *self._route(line)]
        if bare == CONSOLE_RULE:
            self._held = line
            return []
        return [(None, line)]

    def _pass(self, name: str, line: str) -> None:
        if self.inner is not None:
            self.inner(name, line)
        else:
            log.info("jvm %s: %s", name, line.rstrip())
