"""One cell's life, from IPython's ``pre_run_cell`` to ``post_run_cell``.

`CellLife` opens a `CellState` before the cell (capture, the session bound when the cell
needs it, a fresh output folder, the cell's Spark job tag and progress, SIGINT and the time
limit armed) and closes it after (record, cancelled jobs settled, tag removed, result
detected and shown, JVM output drained). Everything opened is closed in reverse order, also
when a step fails.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pyspark_kernel.errors as errors
import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.remote as remote
import pyspark_kernel.spark_internals as internals

from .binding import SessionBinding, needs_spark
from .capture import CellCapture, JvmOutputRouter
from .cellstate import CellState
from .config import SparkSettings
from .driver_calls import DriverCalls
from .failures import connect_lost
from .interrupts import Interrupts
from .iopub import Publisher
from .metrics import Metrics
from .progress import CellProgress, JobTracker, ProgressDisplay
from .results.output_dir import OutputDir, OutputDirError
from .results.present import ResultPresenter
from .results.record import ExecutionRecord, RecordLog
from .session import SessionManager

log = logging.getLogger(__name__)

TAG_PREFIX = "pyspark-kernel-"


class CellLife:
    """Opens and closes the state of each cell; `current` is the cell that runs."""

    def __init__(
        self,
        shell: Any,
        settings: SparkSettings,
        session: SessionManager,
        publisher: Publisher,
        router: JvmOutputRouter,
        binding: SessionBinding,
        presenter: ResultPresenter,
        output_dir: OutputDir,
        records: RecordLog,
        metrics: Metrics,
    ) -> None:
        self.shell = shell
        self.settings = settings
        self.session = session
        self.publisher = publisher
        self.router = router
        self.binding = binding
        self.presenter = presenter
        self.output_dir = output_dir
        self.records = records
        self.metrics = metrics
        self.interrupts = Interrupts(session, settings)
        self.current: CellState | None = None
        self.cells_started = 0  # cells begun since the kernel started
        self._open: _OpenCell | None = None
        self._jobs: tuple[int, JobTracker] | None = None  # per session generation
        self._thread_ready = False  # setInterruptOnCancel done on the main thread's JVM thread
        # called after each cell with its state and whether it used Spark
        self.after_cell: list[Callable[[CellState, bool], None]] = []

    # -- before ------------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        with jvmcalls.internal():
            self._begin(info.raw_cell or "")
        if self.current is not None:
            self.current.jvm_calls = self.session.jvm_calls

    def _begin(self, code: str) -> None:
        if self._open is not None:  # a cell whose post_run_cell never came
            self._open.stack.close()
        self.cells_started += 1
        parent = self.publisher.current_parent()
        cell = CellState(
            record=ExecutionRecord(execution_count=running_count(self.shell)),
            code=code,
            parent=parent,
            needs_spark=needs_spark(code, self.shell.user_ns, self.shell),
        )
        stack = contextlib.ExitStack()
        capture = CellCapture().__enter__()
        self.router.begin_cell(parent, capture)
        opened = _OpenCell(cell, stack, capture)
        # closed in reverse: the time limit disarmed, the tag released, the result
        # detected, the cell closed; also when a step of `_end` fails
        stack.callback(self._close_cell, opened)
        stack.callback(self._detect, opened)
        stack.callback(self._release_tag, opened)
        self.current, self._open = cell, opened
        if cell.needs_spark:
            self.session.cancel_own_work()  # the warm-up gives way to the user's Spark work
            self.binding.bind(wait=True)
        elif self.session.check_alive():
            self.binding.bind(wait=False)
        try:
            self.output_dir.clear()
        except (OutputDirError, OSError) as exc:
            print(f"pyspark-kernel: output folder not emptied: {exc}", file=sys.stderr)
        calls = self.session.calls if self.session.ready else None
        if calls is not None and not cell.needs_spark and not self.session.is_remote:
            # A cell that names nothing of Spark gets its job tag and progress on its first
            # call to the JVM (a function of an earlier cell may use Spark): `pass` sends
            # none at all.
            calls.before_main_call = partial(self._prepare_on_first_call, opened)
            stack.callback(setattr, calls, "before_main_call", None)
        elif self.session.ready:
            self._prepare(opened)
        self.presenter.before(cell, spark_ready=self.session.ready)
        opened.disarm = self.interrupts.arm(cell)
        stack.callback(opened.disarm)

    def _prepare(self, opened: _OpenCell) -> None:
        opened.progress = self._prepare_spark(opened.cell)
        if opened.progress is not None:  # stopped when the cell closes, also when
            opened.stack.callback(opened.progress.abandon)  # its session was gone: no finish()

    def _prepare_on_first_call(self, opened: _OpenCell) -> None:
        """Tag the cell's jobs and start its progress display, on its first JVM call."""
        if self._open is not opened or not self.session.ready:
            return
        try:
            with jvmcalls.internal():
                self._prepare(opened)
        except Exception as exc:  # never fails the user's own call
            log.warning("could not prepare Spark for the cell: %s", exc)

    def _prepare_spark(self, cell: CellState) -> ProgressDisplay | None:
        """Tag the cell's Spark jobs and start its progress display."""
        spark = self.session.spark
        parent, after = cell.parent, self.settings.progress_after
        keep = self.settings.progress_keep_after
        try:
            tag = f"{TAG_PREFIX}{uuid.uuid4().hex[:12]}"
            if self.session.is_remote:
                spark.addTag(tag)
                cell.tag = tag
                return remote.ConnectProgress(
                    spark, self.publisher, parent, show_after=after, keep_after=keep
                )
            jobs = self._job_tracker(spark)
            sc = spark.sparkContext
            description = job_description(cell.record.execution_count, cell.code)
            # the last cell's tag goes; sent ahead, answered while the cell starts
            DriverCalls.of(sc).begin_cell(tag, description, ahead=True)
            cell.tag = tag
            if not self._thread_ready:
                sc.setInterruptOnCancel(True)
                internals.activate_on_this_thread(spark)
                self._thread_ready = True
            return CellProgress(
                jobs,
                tag,
                self.publisher,
                parent,
                show_after=after,
                description=description,
                keep_after=keep,
            )
        except Exception as exc:  # the JVM may have died just now
            if self.session.is_remote and connect_lost(self.session, exc):
                self.binding.mark_unavailable(self.session.describe_error())
                return None
            log.warning("could not prepare Spark for the cell: %s", exc)
            self.session.check_alive()
            return None

    def _job_tracker(self, spark: Any) -> JobTracker:
        generation = self.session.generation
        if self._jobs is None or self._jobs[0] != generation:
            self._jobs = (generation, JobTracker(spark.sparkContext))
            self._thread_ready = False
        return self._jobs[1]

    # -- after -------------------------------------------------------------------------------
    def post_run_cell(self, result: Any) -> None:
        opened = self._open
        if opened is None:
            return
        calls = self.session.jvm_calls
        used_spark = calls is None or calls != opened.cell.jvm_calls
        with jvmcalls.internal():
            self._end(opened, result, used_spark)

    def _end(self, opened: _OpenCell, result: Any, used_spark: bool) -> None:
        cell, record = opened.cell, opened.cell.record
        self._open = None
        try:
            opened.disarm()
            record.execution_count = result.execution_count
            error = result.error_before_exec or result.error_in_exec
            record.status = "success" if result.success else "error"
            if isinstance(error, KeyboardInterrupt) or (cell.interrupted and error is not None):
                record.status = "interrupted"
            if error is not None:
                record.error_name = type(error).__name__
                record.error_message = errors.headline(error)
            alive = opened.alive = self.session.check_alive()
            opened.detect = result.success and self.settings.detect
            if opened.progress is not None:
                state = {"success": "done", "interrupted": "cancelled"}.get(record.status, "failed")
                progress = opened.progress
                # the DataFrame the result detection describes first, asked in the same call
                last = self.presenter.last_frame(cell) if opened.detect and used_spark else None
                record.spark_job_ids = (
                    progress.finish(state, used_spark, last) if alive else progress.job_ids
                )
            if cell.interrupted:
                self._thread_ready = False  # py4j replaced the main thread's connection
        finally:
            opened.stack.close()
        for hook in list(self.after_cell):
            try:
                hook(cell, used_spark)
            except Exception:
                log.exception("an after-cell hook failed")

    def _release_tag(self, opened: _OpenCell) -> None:
        """Settle the cell's cancelled jobs, then remove its job tag (if the session lives)."""
        cell = opened.cell
        if cell.tag is None:
            return
        alive = opened.alive if opened.alive is not None else self.session.check_alive()
        if not alive:
            return
        try:
            if cell.record.status == "interrupted" or cell.timed_out:
                self.interrupts.settle(cell.tag)
        finally:
            self._untag(cell.tag)

    def _detect(self, opened: _OpenCell) -> None:
        """Detect and show the cell's result, if `_end` got that far with a success."""
        if opened.detect:
            self.presenter.after(opened.cell)

    def _close_cell(self, opened: _OpenCell) -> None:
        """The last step of every cell: its JVM output, its captured text, its record."""
        cell, record = opened.cell, opened.cell.record
        if self.session.ready and not self.session.is_remote:
            self.session.drain_output()  # the JVM's lines of this cell, before it ends
        opened.capture.__exit__()
        self.router.end_cell()
        record.stdout = opened.capture.stdout.text()
        record.stderr = opened.capture.stderr.text()
        record.truncated_output = opened.capture.dropped
        record.duration_ms = cell.elapsed_ms()
        self.records.add(record)
        self.metrics.add(record)
        if self.current is cell:
            self.current = None

    def _untag(self, tag: str) -> None:
        """Take the cell's tag off (Spark Connect). On a classic session the tag and the
        description stay until the next cell's replace them (in the same JVM call); the
        kernel's own work between cells swaps in its own."""
        if not self.session.is_remote:
            return
        try:
            self.session.spark.removeTag(tag)
        except Exception as exc:
            log.debug("could not remove job tag %s: %s", tag, exc)


def running_count(shell: Any) -> int:
    """The running cell's number (``In [N]``). IPython 9 counts a cell before
    ``pre_run_cell``, earlier releases after the cell."""
    import IPython

    ahead = IPython.version_info[0] >= 9
    return int(shell.execution_count) - (1 if ahead else 0)


def job_description(execution_count: int, code: str, width: int = 100) -> str:
    """How the cell's Spark jobs are named in the Spark UI and the progress display:
    ``In [7]: sales.groupBy("product")...``, from its first line of code."""
    lines = [line.strip() for line in code.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    first = lines[0] if lines else ""
    more = len(lines) > 1 or len(first) > width
    return f"In [{execution_count}]: {first[:width]}{'...' if more else ''}"


class _OpenCell:
    """What a running cell holds until it ends."""

    def __init__(self, cell: CellState, stack: contextlib.ExitStack, capture: CellCapture) -> None:
        self.cell = cell
        self.stack = stack
        self.capture = capture
        self.progress: ProgressDisplay | None = None
        self.disarm: Callable[[], None] = _nothing
        self.alive: bool | None = None  # the session's state as `_end` found it
        self.detect = False  # whether `_end` asks for the result to be detected


def _nothing() -> None:
    pass
