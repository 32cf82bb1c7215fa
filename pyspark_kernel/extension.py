"""The Spark behaviour of the kernel, as an IPython extension.

`SparkExtension` hooks into IPython's ``pre_run_cell``/``post_run_cell`` events: before a
cell it tags the cell's Spark jobs, empties the output folder and takes snapshots; after
it, it detects the cell's result, previews it and publishes it with the cell's execution
record. It loads in the ``pyspark`` kernel and, with ``%load_ext pyspark_kernel``, in any
IPython kernel.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import errors, jvmcalls, remote
from .capture import CellCapture, JvmOutputRouter
from .config import SparkSettings
from .iopub import Publisher
from .metrics import Metrics
from .mimetypes import RECORD_METADATA_KEY
from .progress import CellProgress, JobTracker
from .results import catalog, detect
from .results.output_dir import OutputDir, OutputDirError
from .results.preview import is_dataframe, preview
from .results.record import ExecutionRecord
from .results.render import table_bundle, table_payload
from .session import SessionError, SessionManager

log = logging.getLogger(__name__)

# A cell that mentions one of these waits for the session before it runs.
_NEEDS_SPARK = re.compile(r"\b(spark|sc|pyspark|SparkSession|SparkContext|sql|streams)\b")
_KEEP_RECORDS = 200


class _Unavailable:
    """Bound as ``spark``/``sc`` while the session cannot be had; any use says why."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        raise errors.SparkSessionUnavailable(self._reason)

    def __repr__(self) -> str:
        return f"<Spark session unavailable: {self._reason}>"


@dataclass
class _Cell:
    """State of the cell that is running."""

    record: ExecutionRecord
    code: str
    capture: CellCapture
    started: float
    tag: str | None = None
    names: dict[str, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    progress: CellProgress | remote.ConnectProgress | None = None
    shown_expression: bool = False
    jvm_calls: int | None = None  # the session's count of JVM calls as the cell began
    interrupted: bool = False
    timed_out: bool = False
    timer: threading.Timer | None = None
    saved_sigint: Any = None


class SparkExtension:
    """Everything the kernel adds to IPython, wired to one shell."""

    def __init__(self, shell: Any, settings: SparkSettings | None = None) -> None:
        self.shell = shell
        self.settings = settings or SparkSettings(config=getattr(shell, "config", None))
        self.settings.apply_env()
        self.publisher = Publisher(shell)
        self.router = JvmOutputRouter({"stdout": sys.stdout, "stderr": sys.stderr})
        self.session = SessionManager(self.settings, output_sink=self.router)
        self.output_dir = self._make_output_dir()
        self.records: list[ExecutionRecord] = []
        self.metrics = Metrics()
        self.last_trace: str | None = None
        self.pending_conf: dict[str, str] = {}
        self.cell: _Cell | None = None
        self._bound_generation = -1
        # JVM handles of the current session, fetched once (not in every cell)
        self._handles: tuple[int, JobTracker | None, catalog.ViewCatalog] | None = None
        # (session generation, JVM call count) -> the view names listed then
        self._views_listed: tuple[tuple[int, int | None], catalog.Listing] | None = None
        self._thread_ready = False  # setInterruptOnCancel done on the main thread's JVM thread
        self.streaming: Any = None  # streaming.StreamingSupport, set by register()

    # -- wiring ----------------------------------------------------------------------------
    def register(self) -> None:
        """Hook into the shell and start building the session in the background."""
        ns = self.shell.user_ns
        ns["OUTPUT_DIR"] = str(self.output_dir.path)
        os.environ["PYSPARK_KERNEL_OUTPUT_DIR"] = str(self.output_dir.path)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        formatter = self.shell.display_formatter.mimebundle_formatter
        formatter.for_type_by_name("pyspark.sql.dataframe", "DataFrame", self.format_frame)
        formatter.for_type_by_name("pyspark.pandas.frame", "DataFrame", self.format_frame)
        self.shell.set_custom_exc(errors.spark_error_types(), self.show_error)
        for name in ("", "py4j.java_gateway", "py4j.clientserver"):  # filters do not inherit
            logging.getLogger(name).addFilter(_quiet_py4j_interrupt)
        _quiet_pyspark_error_loggers()
        from .magics import SparkMagics

        self.shell.register_magics(SparkMagics(self.shell, extension=self))
        # Streaming (streaming.py): query listener, live displays, writer hooks, %streams.
        from .streaming import StreamingSupport

        self.streaming = StreamingSupport(self)
        self.streaming.register()
        self.session.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop streaming queries and Spark, leave no JVM behind, remove the output folder."""
        from .streaming import stop_all_queries

        if self.session.ready:
            stop_all_queries(self.session.spark, timeout=min(timeout, 5.0))
        if self.streaming is not None:
            self.streaming.close()  # final displays sent, writer hooks undone
        self.session.stop(timeout)
        self.output_dir.remove()

    def _make_output_dir(self) -> OutputDir:
        try:
            return OutputDir(self.settings.output_dir)
        except (OutputDirError, OSError) as exc:
            print(f"pyspark-kernel: {exc}; using a private folder instead", file=sys.stderr)
            return OutputDir()

    @staticmethod
    def mentions_spark(code: str) -> bool:
        """True when `code` names the session or PySpark (then it waits for the session)."""
        return bool(_NEEDS_SPARK.search(code))

    # -- before a cell ---------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        with jvmcalls.internal():
            self._pre_run_cell(info)
        if self.cell is not None:
            self.cell.jvm_calls = self.session.jvm_calls

    def _pre_run_cell(self, info: Any) -> None:
        code = info.raw_cell or ""
        record = ExecutionRecord(execution_count=self.shell.execution_count)
        capture = CellCapture().__enter__()
        cell = _Cell(record=record, code=code, capture=capture, started=time.monotonic())
        self.cell = cell
        self.router.begin_cell(self.publisher.current_parent(), capture)
        if self.mentions_spark(code):
            self.bind_session(wait=True)
        elif self.session.check_alive():
            self.bind_session(wait=False)
        try:
            self.output_dir.clear()
        except (OutputDirError, OSError) as exc:
            print(f"pyspark-kernel: output folder not emptied: {exc}", file=sys.stderr)
        if self.session.ready:
            self._prepare_spark(cell)
        if self.settings.detect:
            cell.names = {k: id(v) for k, v in self.shell.user_ns.items() if not k.startswith("_")}
            cell.frames = {
                k: i for k, i in cell.names.items() if is_dataframe(self.shell.user_ns[k])
            }
        self._arm_interrupt(cell)

    def bind_session(self, wait: bool) -> Any:
        """Put ``spark`` (and ``sc``) in the namespace; wait for the session if asked."""
        ns = self.shell.user_ns
        try:
            spark = self.session.wait() if wait else self.session.spark
        except SessionError as exc:
            reason = str(exc)
            ns["spark"] = ns["sc"] = _Unavailable(reason)
            return None
        if spark is not None and self.session.generation != self._bound_generation:
            ns["spark"] = spark
            if not self.session.is_remote:
                ns["sc"] = spark.sparkContext
            else:
                ns.pop("sc", None)
            self._bound_generation = self.session.generation
        return spark

    def _prepare_spark(self, cell: _Cell) -> None:
        spark = self.session.spark
        try:
            cell.tag = f"pyspark-kernel-{uuid.uuid4().hex[:12]}"
            if self.session.is_remote:
                spark.addTag(cell.tag)
                cell.progress = remote.ConnectProgress(
                    spark,
                    self.publisher,
                    self.publisher.current_parent(),
                    show_after=self.settings.progress_after,
                )
            else:
                jobs = self._spark_handles(spark)[1]
                assert jobs is not None
                spark.sparkContext.addJobTag(cell.tag)
                if not self._thread_ready:
                    spark.sparkContext.setInterruptOnCancel(True)
                    self._thread_ready = True
                cell.progress = CellProgress(
                    jobs,
                    cell.tag,
                    self.publisher,
                    self.publisher.current_parent(),
                    show_after=self.settings.progress_after,
                )
            if self.settings.detect:
                views = self._spark_handles(spark)[2]
                cell.views = views.temp_views(cell.code, self._listing(views))
        except Exception as exc:  # the JVM may have died just now
            if self.session.is_remote and self._connect_lost(exc):  # Spark Connect
                self.shell.user_ns["spark"] = _Unavailable(self.session.describe_error())
                return
            log.warning("could not prepare Spark for the cell: %s", exc)
            self.session.check_alive()

    def _spark_handles(self, spark: Any) -> tuple[int, JobTracker | None, catalog.ViewCatalog]:
        """Handles on the session's status tracker and catalog, rebuilt with the session."""
        generation = self.session.generation
        if self._handles is None or self._handles[0] != generation:
            jobs = None if self.session.is_remote else JobTracker(spark.sparkContext)
            self._handles = (generation, jobs, catalog.ViewCatalog(spark))
            self._thread_ready = False
        return self._handles

    def _listing(self, views: catalog.ViewCatalog) -> catalog.Listing | None:
        """The session's view names: those listed last while no call was made to the JVM
        since (by a cell or any thread), else a new listing. None on Spark Connect."""
        key = (self.session.generation, self.session.jvm_calls)
        if key[1] is None:
            return None
        if self._views_listed is None or self._views_listed[0] != key:
            self._views_listed = (key, views.names())
        return self._views_listed[1]

    def _arm_interrupt(self, cell: _Cell) -> None:
        if threading.current_thread() is threading.main_thread():
            cell.saved_sigint = signal.signal(signal.SIGINT, self._on_sigint)
        if self.settings.timeout > 0:
            cell.timer = threading.Timer(self.settings.timeout, self._on_timeout, args=(cell,))
            cell.timer.daemon = True
            cell.timer.start()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Cancel this cell's Spark jobs (from another thread: a py4j call made here, on
        the interrupted thread, would break its connection) and end the cell."""
        cell = self.cell
        if cell is not None:
            first = not cell.interrupted
            cell.interrupted = True
            if cell.tag:
                self._cancel_async(cell.tag)
            if first and cell.tag and self.session.is_remote and remote.waiting_on_server(frame):
                # Spark Connect: the server ends the call (OPERATION_CANCELED) once the
                # operation is gone, so the cell ends then. A second interrupt, or 3 s
                # without an answer, raises KeyboardInterrupt here at once.
                timer = threading.Timer(3.0, self._interrupt_again, args=(cell,))
                timer.daemon = True
                timer.start()
                return
        raise KeyboardInterrupt

    def _interrupt_again(self, cell: _Cell) -> None:
        if self.cell is cell:
            os.kill(os.getpid(), signal.SIGINT)

    def _on_timeout(self, cell: _Cell) -> None:
        if self.cell is cell:
            cell.timed_out = True
            os.kill(os.getpid(), signal.SIGINT)

    def _cancel_async(self, tag: str) -> None:
        spark, remote = self.session.spark, self.session.is_remote

        def cancel() -> None:
            try:
                if remote:
                    spark.interruptTag(tag)
                else:
                    spark.sparkContext.cancelJobsWithTag(tag)
            except Exception as exc:
                # the watchdog of `_await_cancelled` cancels the tag again
                log.debug("could not cancel Spark jobs of %s: %s", tag, exc)

        threading.Thread(target=cancel, name="spark-cancel", daemon=True).start()

    # -- after a cell ----------------------------------------------------------------------
    def post_run_cell(self, result: Any) -> None:
        cell = self.cell
        if cell is None:
            return
        calls = self.session.jvm_calls
        used_spark = calls is None or calls != cell.jvm_calls
        with jvmcalls.internal():
            self._post_run_cell(cell, result, used_spark)

    def _post_run_cell(self, cell: _Cell, result: Any, used_spark: bool) -> None:
        self.cell = None
        if cell.timer is not None:
            cell.timer.cancel()
        if cell.saved_sigint is not None:
            signal.signal(signal.SIGINT, cell.saved_sigint)
        record = cell.record
        record.execution_count = result.execution_count
        error = result.error_before_exec or result.error_in_exec
        record.status = "success" if result.success else "error"
        if isinstance(error, KeyboardInterrupt) or (cell.interrupted and error is not None):
            record.status = "interrupted"
        if error is not None:
            record.error_name = type(error).__name__
            record.error_message = errors.headline(error)
        alive = self.session.check_alive()
        if cell.progress is not None:
            state = {"success": "done", "interrupted": "cancelled"}.get(record.status, "failed")
            record.spark_job_ids = (
                cell.progress.finish(state, used_spark) if alive else cell.progress.job_ids
            )
        if cell.interrupted:
            self._thread_ready = False  # py4j replaced the main thread's connection
        if cell.tag and alive:
            if record.status == "interrupted" or cell.timed_out:
                self._await_cancelled(cell.tag)
            self._untag(cell.tag)
        try:
            if result.success and self.settings.detect:
                self._detect(cell, result)
        finally:
            if alive and not self.session.is_remote:
                self.session.drain_output()  # the JVM's lines of this cell, before it ends
            cell.capture.__exit__()
            self.router.end_cell()
            record.stdout = cell.capture.stdout.text()
            record.stderr = cell.capture.stderr.text()
            record.truncated_output = cell.capture.dropped
            record.duration_ms = int((time.monotonic() - cell.started) * 1000)
            self.records = [*self.records[-(_KEEP_RECORDS - 1) :], record]
            self.metrics.add(record)

    def _await_cancelled(self, tag: str, limit: float = 5.0, watch: float = 30.0) -> None:
        """Let the cell end only once its jobs have left Spark (bounded), then keep watching.

        An interrupt can land while the driver is still planning: the job is submitted just
        after ``cancelJobsWithTag`` ran. So active jobs carrying the tag are cancelled again
        until none is left, and a watchdog cancels any that appears later."""
        if self.session.is_remote:
            remote.interrupt_until_gone(self.session.spark, tag, limit)
            return
        sc = self.session.spark.sparkContext
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not _cancel_active(sc, tag):
                break
            time.sleep(0.1)
        else:
            log.warning(
                "pyspark-kernel: the cell's Spark jobs are still stopping %.0f s after the"
                " cancel; they keep being cancelled in the background", limit,
            )  # fmt: skip

        def watchdog() -> None:
            end = time.monotonic() + watch
            while time.monotonic() < end:
                try:
                    _cancel_active(sc, tag)
                except Exception:
                    return
                time.sleep(0.25)

        threading.Thread(target=watchdog, name="spark-cancel-watchdog", daemon=True).start()

    def _untag(self, tag: str) -> None:
        spark = self.session.spark
        try:
            if self.session.is_remote:
                spark.removeTag(tag)
            else:
                spark.sparkContext.removeJobTag(tag)
        except Exception as exc:
            log.debug("could not remove job tag %s: %s", tag, exc)

    def _detect(self, cell: _Cell, result: Any) -> None:
        ns = self.shell.user_ns
        record = cell.record
        after = {k: id(v) for k, v in ns.items() if not k.startswith("_")}
        record.created_variables = detect.short_reprs(ns, detect.changed_names(cell.names, after))
        if cell.shown_expression:
            record.result_source = "expression"
            return
        try:
            parquet = self.output_dir.find_parquet()
        except Exception as exc:
            record.result_source, record.result_error = "read_error", errors.headline(exc)
            return
        # Views and DataFrames need a session that was ready during the cell; a Parquet
        # file (written by any library) only needs one to be read back.
        spark = self.bind_session(wait=True) if parquet else self.session.spark
        if spark is None or not self.session.ready:
            return
        frames = {k: i for k, i in after.items() if is_dataframe(ns[k])}
        views: list[str] = []
        try:
            if cell.tag is not None:  # views were listed before the cell ran
                catalog_ = self._spark_handles(spark)[2]
                after_views = catalog_.temp_views(cell.code, self._listing(catalog_))
                views = detect.changed_views(cell.views, after_views, cell.code)
        except Exception as exc:
            record.result_source, record.result_error = "read_error", errors.headline(exc)
            return
        found = detect.choose(
            str(parquet) if parquet else None,
            views,
            detect.pick_variable(cell.code, cell.frames, frames),
        )
        record.result_source = found.source
        record.detected_parquet_path = found.parquet_path
        record.detected_view_name = found.view_name
        record.detected_variable_name = found.variable_name
        if found.source == "none":
            return
        try:
            if found.source == "parquet":
                df = spark.read.parquet(found.parquet_path)
            elif found.source == "view":
                df = spark.table(found.view_name)
            else:
                df = ns[found.variable_name]
            self.show_frame(
                df,
                found.source,
                record=record,
                view_name=found.view_name,
                parquet_path=found.parquet_path,
                variable_name=found.variable_name,
            )
        except Exception as exc:
            record.result_source = "read_error"
            record.result_error = errors.headline(exc)
            print(
                f"pyspark-kernel: could not show the {found.source} result: {record.result_error}",
                file=sys.stderr,
            )

    # -- showing ---------------------------------------------------------------------------
    def table_for(
        self, df: Any, source: str, max_rows: int | None = None, **names: Any
    ) -> dict[str, Any]:
        """The table payload of `df`, previewed within the settings' bounds."""
        rows = max_rows or self.settings.max_rows
        s = self.settings
        shown = preview(df, rows, s.max_chars, s.exact_count, s.max_bytes)
        return table_payload(shown, rows, source, **names)

    def show_frame(
        self,
        df: Any,
        source: str,
        *,
        record: ExecutionRecord | None = None,
        max_rows: int | None = None,
        **names: Any,
    ) -> dict[str, Any]:
        """Preview `df` and display it as a table in the current cell."""
        payload = self.table_for(df, source, max_rows, **names)
        metadata: dict[str, Any] = {}
        if record is not None:
            record.result_data = _as_dicts(payload)
            metadata[RECORD_METADATA_KEY] = record.summary()
        data, metadata = table_bundle(payload, metadata)
        self.publisher.display(data, metadata)
        return payload

    def format_frame(self, df: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """IPython mime-bundle formatter for DataFrames (``execute_result`` and ``display``).

        A frame with no columns (the result of DDL such as ``CREATE VIEW``) is left to
        IPython's plain repr, so the detection rules still show what the command made."""
        if not is_dataframe(df) or not df.columns:
            return None
        if self.cell is not None:
            self.cell.shown_expression = True
            self.cell.record.result_source = "expression"
        payload = self.table_for(df, "expression")
        if self.cell is not None:
            self.cell.record.result_data = _as_dicts(payload)
        return table_bundle(payload)

    def show_error(
        self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
    ) -> list[str]:
        """Custom exception handler: a short Spark error, the full trace kept for later."""
        self.last_trace = errors.full_trace(value)
        cell = self.cell
        if cell is not None and cell.timed_out:
            etype, value = (
                errors.CellTimeout,
                errors.CellTimeout(
                    f"the cell ran longer than the {self.settings.timeout:g} s limit "
                    "(%spark timeout); its Spark jobs were cancelled"
                ),
            )
        elif cell is not None and cell.interrupted:
            etype, value = (
                KeyboardInterrupt,
                KeyboardInterrupt(
                    "cell interrupted; its Spark jobs were cancelled" if cell.tag else ""
                ),
            )
        elif self.session.is_remote and self._connect_lost(value):
            etype, value = (
                remote.SparkConnectServerLost,
                remote.SparkConnectServerLost(self.session.describe_error()),
            )
        elif not self.session.check_alive(grace=_grace(value)) and self.session.state == "dead":
            etype, value = (
                errors.SparkDriverDied,
                errors.SparkDriverDied(self.session.describe_error()),
            )
        message = errors.headline(value)
        stb = shell.InteractiveTB.structured_traceback(
            etype, value, errors.user_frames(tb), tb_offset
        )
        stb = [
            *stb[:-1],
            f"\x1b[0;31m{etype.__name__}\x1b[0m: {message}",
            "(full error with the JVM stack trace: %spark trace)",
        ]
        shell._showtraceback(etype, message, stb)
        return stb

    def _connect_lost(self, error: BaseException) -> bool:
        """Spark Connect: whether `error` means the server went away or dropped the session
        (the session is then marked lost; the next Spark cell connects again)."""
        reason = remote.lost_reason(error)
        if reason is not None:
            self.session.lose_remote(reason)
        else:
            self.session.check_alive(probe=True)
        return self.session.state == "dead"


def _cancel_active(sc: Any, tag: str) -> bool:
    """Cancel the active jobs that carry `tag`; True if there were any."""
    tagged = set(sc._jsc.sc().statusTracker().getJobIdsForTag(tag))
    active = tagged & set(sc.statusTracker().getActiveJobsIds())
    if active:
        sc.cancelJobsWithTag(tag)
    return bool(active)


def _grace(error: BaseException) -> float:
    """Seconds to wait for a JVM that may be dying: only for connection failures."""
    from py4j.protocol import Py4JNetworkError

    return 1.0 if isinstance(error, (ConnectionError, Py4JNetworkError)) else 0.0


def _as_dicts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c["name"] for c in payload["columns"]]
    return [dict(zip(names, row, strict=True)) for row in payload["rows"]]


def _quiet_pyspark_error_loggers() -> None:
    """PySpark logs each query error as JSON on stderr; the cell already shows it."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _quiet_py4j_interrupt(record: logging.LogRecord) -> bool:
    """py4j logs a traceback when an interrupt lands in one of its calls, and when it then
    closes that call's broken connection; both are expected."""
    return not str(record.msg).startswith(
        (
            "KeyboardInterrupt while sending",
            "Error while sending",
            "Exception occurred while shutting down connection",
            "Exception while sending command",
        )
    )
