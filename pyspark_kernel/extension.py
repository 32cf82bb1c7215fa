"""The Spark side of an IPython shell, as an IPython extension: wiring only.

`SparkExtension` builds the parts (session, cell life, results, errors, magics, streaming,
comm channel) and `register()` hooks them into the shell; `unregister()` is its exact
inverse, so ``%unload_ext pyspark_kernel`` leaves IPython as it found it. It loads in the
``pyspark`` kernel and, with ``%load_ext pyspark_kernel``, in any IPython kernel.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pyspark_kernel.errors as errors
import pyspark_kernel.history as history
import pyspark_kernel.spark_internals as spark_internals

from .api import ChannelError, require
from .binding import SessionBinding
from .builders import BuilderWatch
from .capture import JvmOutputRouter
from .cell import CellLife
from .cellstate import CellState
from .channel import Channel
from .coldstart import ColdStart
from .config import PendingSettings, SparkSettings
from .failures import ErrorDisplay
from .imports import import_as_a_cell_would
from .iopub import Publisher
from .magics import SparkMagics
from .metrics import Metrics
from .results.ops import ResultOps
from .results.output_dir import OutputDir, OutputDirError
from .results.present import ResultPresenter
from .results.preview import PANDAS_ON_SPARK
from .results.record import RecordLog
from .results.shown import ShowWatch
from .results.store import ResultExpired
from .session import SessionManager
from .sql.assist import SqlAssist
from .sql.catalog import CatalogWatcher
from .streaming import StreamingSupport, stop_all_queries
from .streaming.magics import StreamsMagics

log = logging.getLogger(__name__)

_DATAFRAME_TYPES = (("pyspark.sql.dataframe", "DataFrame"), *PANDAS_ON_SPARK)
_PY4J_LOGGERS = ("", "py4j.java_gateway", "py4j.clientserver")


class SparkExtension:
    """Everything the kernel adds to one IPython shell (implements `api.SparkHost`)."""

    def __init__(
        self,
        shell: Any,
        settings: SparkSettings | None = None,
        session: SessionManager | None = None,
    ) -> None:
        """`session`: one already built from `settings` (the kernel starts it first)."""
        self.shell = shell
        self.settings = settings or SparkSettings(config=getattr(shell, "config", None))
        self.settings.apply_env()
        self.pending = PendingSettings()
        self.publisher = Publisher(shell)
        self.router = JvmOutputRouter({"stdout": sys.stdout, "stderr": sys.stderr})
        self.session = session or SessionManager(self.settings)
        self.session.prepare_thread = partial(import_as_a_cell_would, shell)
        self.output_dir = _make_output_dir(self.settings)
        self.records = RecordLog()
        self.metrics = Metrics()
        self.binding = SessionBinding(shell, self.session)
        self.presenter = ResultPresenter(
            shell,
            self.settings,
            self.session,
            self.publisher,
            self.output_dir,
            bind=self.bind,
            current=lambda: self.cell,
        )
        self.life = CellLife(
            shell,
            self.settings,
            self.session,
            self.publisher,
            self.router,
            self.binding,
            self.presenter,
            self.output_dir,
            self.records,
            self.metrics,
        )
        self.errors = ErrorDisplay(self.session, self.settings, current=lambda: self.cell)
        self.coldstart = ColdStart(self.session, self.settings, current=lambda: self.cell)
        self.channel = Channel(self.session)
        self.catalog = CatalogWatcher(
            self.session,
            on_refresh=self._catalog_changed,
            busy=lambda: self.cell is not None,
            cells=lambda: self.life.cells_started,
        )
        self.sql = SqlAssist(shell, self.session, self.catalog)
        self.shows = ShowWatch(current=lambda: self.cell)
        self.builders = BuilderWatch(
            running=lambda: self.session.spark if self.session.ready else None,
            note=self._note,
            move_to_connect=self._move_to_connect,
        )
        self.streaming = StreamingSupport(self, on_change=self._streams_changed)
        self._undo: list[Callable[[], object]] = []

    # -- api.SparkHost ---------------------------------------------------------------------
    @property
    def cell(self) -> CellState | None:
        return self.life.current

    @property
    def last_trace(self) -> str | None:
        return self.errors.last_trace

    def bind(self, wait: bool) -> Any:
        return self.binding.bind(wait)

    def show_frame(
        self, df: Any, source: str, *, max_rows: int | None = None, **names: Any
    ) -> dict[str, Any]:
        return self.presenter.show_frame(df, source, cell=self.cell, max_rows=max_rows, **names)

    def show_chart(
        self,
        df: Any,
        kind: str,
        x: str,
        y: str | None,
        agg: str = "sum",
        color: str | None = None,
        max_groups: int = 50,
    ) -> dict[str, Any]:
        return self.presenter.show_chart(df, kind, x, y, agg, color, max_groups)

    def preview(self, name: str) -> dict[str, Any]:
        return self.presenter.preview_named(name, cell=self.cell)

    def restart_session(self) -> Any:
        self.pending.apply(self.settings)
        self.session.stop()
        self.session.start()
        self.coldstart.restarted()
        return self.bind(wait=True)

    def health(self) -> dict[str, int]:
        """How much the kernel keeps (each bounded: records 200, results 32, finished
        query displays 20, cell times 10,000, comms 32) and its thread count."""
        live, finished = self.streaming.counts()
        return {
            "records": len(self.records),
            "results_kept": len(self.presenter.store),
            "stream_displays_live": live,
            "stream_displays_finished": finished,
            "session_listeners": len(self.session.listeners),
            "comms_open": self.channel.open_comms,
            "cell_times_kept": len(self.metrics.durations_ms),
            "threads": threading.active_count(),
        }

    # -- wiring ----------------------------------------------------------------------------
    def register(self) -> None:
        """Hook into the shell and start building the session in the background."""
        shell, do = self.shell, self._do
        do(self._set_output_dir, self._unset_output_dir)
        do(self.shows.install, self.shows.uninstall)
        do(self.builders.install, self.builders.uninstall)
        for event, hook in (
            ("pre_run_cell", self._before_cell),
            ("pre_run_cell", self.life.pre_run_cell),
            ("post_run_cell", self.life.post_run_cell),
            ("post_run_cell", self.coldstart.after_cell),
            ("post_run_cell", self._compact_history),
        ):
            do(
                partial(shell.events.register, event, hook),
                partial(_unregister_event, shell, event, hook),
            )
        formatter = shell.display_formatter.mimebundle_formatter
        printer = self.presenter.format_frame
        for module, name in _DATAFRAME_TYPES:
            do(
                partial(formatter.for_type_by_name, module, name, printer),
                partial(_remove_printer, formatter, module, name, printer),
            )
        saved = (shell.custom_exceptions, shell.CustomTB)
        do(
            partial(shell.set_custom_exc, errors.spark_error_types(), self.errors),
            partial(_restore_custom_exc, shell, saved),
        )
        for logger in map(logging.getLogger, _PY4J_LOGGERS):  # filters do not inherit
            do(
                partial(logger.addFilter, _quiet_py4j_interrupt),
                partial(logger.removeFilter, _quiet_py4j_interrupt),
            )
        for logger in spark_internals.query_context_loggers():
            do(partial(logger.setLevel, logging.CRITICAL), partial(logger.setLevel, logger.level))
        for magics in (SparkMagics(shell, host=self), StreamsMagics(shell, support=self.streaming)):
            do(partial(shell.register_magics, magics), partial(_unregister_magics, shell, magics))
        do(self.streaming.register, self.streaming.close)
        do(self._route_jvm_output, self._unroute_jvm_output)
        do(self._register_channel, self.channel.unregister)
        do(
            partial(self.life.after_cell.append, self._after_cell),
            partial(self.life.after_cell.remove, self._after_cell),
        )
        do(
            partial(self.session.listen, self._session_changed),
            partial(self.session.listeners.remove, self._session_changed),
        )
        self._undo.append(self.binding.unbind)
        do(self.coldstart.register, self.coldstart.unregister)
        self.session.start()

    def unregister(self, timeout: float = 10.0) -> None:
        """Stop streaming queries and Spark, leave no JVM behind, undo every hook of
        `register` (in reverse order) and remove the output folder."""
        if self.session.ready:
            stop_all_queries(self.session.spark, timeout=min(timeout, 5.0))
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:
                log.exception("could not undo a hook of the Spark extension")
        self.session.stop(timeout)
        self.output_dir.remove()

    def _do(self, action: Callable[[], object], undo: Callable[[], object]) -> None:
        """Run `action` now and remember `undo` for `unregister`."""
        action()
        self._undo.append(undo)

    def _note(self, text: str) -> None:
        """One line from the kernel in the running cell (not on stderr: not an error)."""
        self.publisher.display({"text/plain": text})

    def _move_to_connect(self, url: str) -> Any:
        self.pending.set("remote", url)
        spark = self.restart_session()
        if spark is None:
            raise errors.SparkSessionUnavailable(self.session.describe_error())
        return spark

    def _before_cell(self, info: Any) -> None:
        """What the parts outside the cell's life need before each cell."""
        self.shows.refresh()

    def _set_output_dir(self) -> None:
        path = str(self.output_dir.path)
        self.shell.user_ns["OUTPUT_DIR"] = path
        os.environ["PYSPARK_KERNEL_OUTPUT_DIR"] = path

    def _unset_output_dir(self) -> None:
        path = str(self.output_dir.path)
        if self.shell.user_ns.get("OUTPUT_DIR") == path:
            del self.shell.user_ns["OUTPUT_DIR"]
        if os.environ.get("PYSPARK_KERNEL_OUTPUT_DIR") == path:
            del os.environ["PYSPARK_KERNEL_OUTPUT_DIR"]

    def _route_jvm_output(self) -> None:
        self.session.output_sink = self.streaming.console_router(self.router)

    def _unroute_jvm_output(self) -> None:
        self.session.output_sink = None

    # -- the comm channel ------------------------------------------------------------------
    def _register_channel(self) -> None:
        self.channel.add_op("streams", lambda request: {"queries": self.streaming.payloads()})
        self.channel.add_op("catalog", self._catalog_op)
        results = ResultOps(self.presenter.store, self.session, self.settings)
        for name, handler in results.handlers().items():
            self.channel.add_op(name, handler)
        self.channel.add_chunked_op("export", results.export)
        self.channel.add_op("stop_stream", self._stop_stream)
        self.channel.add_op("preview", self._preview)
        self.channel.register()

    def _stop_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        which = require(request, "query", str)
        try:
            return {"stopped": self.streaming.stop(which)}
        except LookupError as exc:
            raise ChannelError(str(exc)) from None

    def _catalog_op(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.sql.catalog_listing(require(request, "table", str, None))

    def _catalog_changed(self) -> None:
        self.channel.push("catalog", lambda: self.sql.catalog_listing())

    def _compact_history(self, result: Any) -> None:
        history.after_cell(self.shell, result)

    def _after_cell(self, cell: CellState, used_spark: bool) -> None:
        if used_spark and self.session.ready:
            self.catalog.refresh_soon()

    def _session_changed(self) -> None:
        if self.session.ready:
            self.catalog.refresh_soon()

    def _preview(self, request: dict[str, Any]) -> dict[str, Any]:
        result_id = require(request, "result_id", str)
        max_rows = require(request, "max_rows", int, None)
        if max_rows is not None and not 1 <= max_rows <= 10_000:
            raise ChannelError("max_rows must be between 1 and 10000")
        try:
            return {"table": self.presenter.preview_result(result_id, max_rows)}
        except ResultExpired as exc:
            raise ChannelError(str(exc)) from None

    def _streams_changed(self) -> None:
        self.channel.push("streams", lambda: {"queries": self.streaming.payloads()})


def _make_output_dir(settings: SparkSettings) -> OutputDir:
    try:
        return OutputDir(settings.output_dir)
    except (OutputDirError, OSError) as exc:
        print(f"pyspark-kernel: {exc}; using a private folder instead", file=sys.stderr)
        return OutputDir()


def _unregister_event(shell: Any, event: str, hook: Callable[..., object]) -> None:
    with contextlib.suppress(ValueError):
        shell.events.unregister(event, hook)


def _remove_printer(formatter: Any, module: str, name: str, ours: Callable[..., object]) -> None:
    """Remove the DataFrame printer `for_type_by_name` added, wherever IPython moved it."""
    if formatter.deferred_printers.get((module, name)) == ours:
        del formatter.deferred_printers[(module, name)]
    for cls, printer in list(formatter.type_printers.items()):
        if (cls.__module__, cls.__name__) == (module, name) and printer == ours:
            del formatter.type_printers[cls]


def _restore_custom_exc(shell: Any, saved: tuple[Any, Any]) -> None:
    shell.custom_exceptions, shell.CustomTB = saved


def _unregister_magics(shell: Any, magics: Any) -> None:
    """Remove `magics` from the shell (IPython has no public inverse of ``register_magics``)."""
    for kind, table in magics.magics.items():
        registered = shell.magics_manager.magics[kind]
        for name in table:
            if getattr(registered.get(name), "__self__", None) is magics:
                del registered[name]
    with contextlib.suppress(KeyError):
        if shell.magics_manager.registry.get(type(magics).__name__) is magics:
            del shell.magics_manager.registry[type(magics).__name__]


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
