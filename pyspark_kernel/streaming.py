"""Structured Streaming in the kernel: a live status display per query in the cell that
started it, cell-attributed ``foreachBatch`` and console-sink output, ``%streams``, and
stopping the queries (bounded in time) at shutdown.

How a query finds its cell
--------------------------
While the extension is loaded, classic PySpark's ``DataStreamWriter.start``, ``toTable`` and
``foreachBatch`` are wrapped (`install_writer_hooks`, undone by `StreamingSupport.close`).

* ``start``/``toTable`` note the parent header of the calling cell (`CellOrigins`: the running
  cell on the main thread, the cell that started the thread otherwise), stop an active query
  with the same name or checkpoint, put a one-off job tag on the calling thread and start the
  query. Spark copies the thread's job tags into ``QueryStartedEvent.jobTags``; the listener,
  called synchronously inside ``start()``, finds the cell by that tag and shows the display
  there. The running cell's own job tag is taken off the thread meanwhile, so interrupting
  that cell later does not cancel the query's batches.
* ``foreachBatch`` functions run with the parent header of the cell that called
  ``foreachBatch`` (``shell.set_thread_parent``), so what they print or display lands in that
  cell whenever they run. Their exceptions propagate unchanged: the query fails as Spark
  intends.

Limits: the console sink is printed by the JVM without a query id. Its blocks (``Batch: N``
and the table) go to the starting cell when every active console-sink query was started by
the same cell, else where other JVM output goes (the running cell). What ``foreachBatch``
prints while another cell runs is also kept in that cell's execution record
(``sys.stdout`` is process-wide). A thread belongs to the cell during which it was started
(a thread pool made in one cell and used from a later one counts for the first). Spark
Connect sessions get ``%streams`` and the stop at shutdown only.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import logging
import math
import os
import re
import shlex
import sys
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.streaming.listener import (
    JStreamingQueryListener,
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
)

from .iopub import Publisher
from .mimetypes import STREAM

if TYPE_CHECKING:
    from .extension import SparkExtension

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.25  # seconds between two updates of one display: at most 4 per second
HISTORY_POINTS = 60
KEEP_FINISHED = 20  # finished queries remembered for %streams progress
ORIGIN_TAG_PREFIX = "pyspark-kernel-stream-"
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

STREAMS_HELP = """%streams                    active queries: name, id, last batch, rows/s, status
%streams stop NAME|ID|all   stop queries (bounded in time); their displays end as stopped
%streams progress NAME|ID   the last progress report of a query, as JSON"""


# -- payload ---------------------------------------------------------------------------------
@dataclass
class QueryView:
    """What the display of one query run shows, and where it is shown."""

    id: str
    run_id: str
    name: str | None
    parent: dict[str, Any]
    display_id: str
    console: bool = False
    checkpoint: str | None = None
    state: str = "starting"
    message: str = "Initializing sources"
    progress: dict[str, Any] | None = None
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    error: str | None = None
    query: Any = None
    status_at: float = 0.0
    final_sent: threading.Event | None = None

    @property
    def label(self) -> str:
        return f"{self.name!r} ({self.id})" if self.name else self.id

    @property
    def finished(self) -> bool:
        return self.state in {"stopped", "failed"}

    def add_progress(self, progress: dict[str, Any], message: str | None) -> None:
        """Take a progress report (Spark's JSON) of this run."""
        self.progress = progress
        if not self.finished:
            self.state = "active"
        if message:
            self.message = message
        point = history_point(progress)
        if self.history and self.history[-1]["batch_id"] == point["batch_id"]:
            self.history[-1] = point
        else:
            self.history.append(point)

    def finish(self, exception: str | None, error_class: str | None = None) -> None:
        """The run ended: stopped, or failed with `exception`."""
        if exception:
            self.state, self.message = "failed", "Terminated with exception"
            self.error = short_error(exception, error_class)
        else:
            self.state, self.message = "stopped", "Stopped"


def stream_payload(view: QueryView) -> dict[str, Any]:
    """The ``stream.v1`` payload of `view` (docs/mimetypes.md)."""
    p = view.progress or {}
    sink = p.get("sink") or {}
    return {
        "version": 1,
        "id": view.id,
        "run_id": view.run_id,
        "name": view.name,
        "state": view.state,
        "message": view.message,
        "batch_id": p.get("batchId"),
        "num_input_rows": int(p.get("numInputRows") or 0),
        "input_rows_per_second": rate(p.get("inputRowsPerSecond")),
        "processed_rows_per_second": rate(p.get("processedRowsPerSecond")),
        "batch_duration_ms": p.get("batchDuration"),
        "watermark": (p.get("eventTime") or {}).get("watermark"),
        "state_rows": state_rows(p),
        "sources": [source_entry(s) for s in p.get("sources") or []],
        "sink": str(sink.get("description") or ""),
        "history": list(view.history),
        "error": view.error,
        "stop_code": f"%streams stop {view.id}",
    }


def stream_text(payload: dict[str, Any]) -> str:
    """A readable summary for frontends without the lab extension."""
    who = f"{payload['name']} ({payload['id'][:8]})" if payload["name"] else payload["id"][:8]
    head = f"Streaming query {who}: {payload['state']}"
    if payload["batch_id"] is not None:
        head += (
            f", batch {payload['batch_id']}, {payload['input_rows_per_second']:g} rows/s in, "
            f"{payload['processed_rows_per_second']:g} rows/s processed"
        )
    lines = [f"{head} - {payload['message']}"]
    lags = [s["lag"] for s in payload["sources"] if s["lag"] is not None]
    if lags:
        lines.append(f"lag: {sum(lags)} offsets behind latest")
    if payload["error"]:
        lines.append(f"error: {payload['error']}")
    if payload["state"] in {"starting", "active"}:
        lines.append(f"stop: {payload['stop_code']}")
    return "\n".join(lines)


def history_point(progress: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_id": progress.get("batchId"),
        "input_rows_per_second": rate(progress.get("inputRowsPerSecond")),
        "processed_rows_per_second": rate(progress.get("processedRowsPerSecond")),
    }


def source_entry(source: dict[str, Any]) -> dict[str, Any]:
    """One source of a progress report, offsets as JSON text, Kafka lag where known."""
    end, latest = source.get("endOffset"), source.get("latestOffset")
    return {
        "description": str(source.get("description") or ""),
        "start_offset": offset_text(source.get("startOffset")),
        "end_offset": offset_text(end),
        "latest_offset": offset_text(latest),
        "lag": kafka_lag(end, latest),
    }


def offset_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def kafka_lag(end: Any, latest: Any) -> int | None:
    """Offsets behind latest, summed over Kafka partitions (``{topic: {partition: n}}``)."""
    end, latest = _json_value(end), _json_value(latest)
    if not isinstance(end, dict) or not isinstance(latest, dict):
        return None
    lag = 0
    for topic, partitions in latest.items():
        done = end.get(topic)
        if not isinstance(partitions, dict) or not isinstance(done, dict):
            return None
        for partition, offset in partitions.items():
            if not isinstance(offset, int) or not isinstance(done.get(partition), int):
                return None
            lag += max(0, offset - done[partition])
    return lag


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def state_rows(progress: dict[str, Any]) -> int | None:
    operators = progress.get("stateOperators") or []
    if not operators:
        return None
    return sum(int(op.get("numRowsTotal") or 0) for op in operators)


def rate(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return round(number, 3) if math.isfinite(number) else 0.0


def short_error(exception: str | None, error_class: str | None = None, limit: int = 300) -> str:
    """One line for a failed query: the Python error of a ``foreachBatch`` traceback, else
    the first line of Spark's message, led by its error class."""
    text = (exception or "").strip()
    line = _python_error_line(text) or next(
        (ln.strip() for ln in text.splitlines() if ln.strip()), "the query failed"
    )
    if error_class and f"[{error_class}]" not in line:
        line = f"[{error_class}] {line}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _python_error_line(text: str) -> str | None:
    marker = "Traceback (most recent call last):"
    if marker not in text:
        return None
    for line in text.rsplit(marker, 1)[1].splitlines():
        if line and not line[0].isspace():
            return line.strip()
    return None


# -- sending displays ------------------------------------------------------------------------
@dataclass
class _Update:
    display_id: str
    parent: dict[str, Any]
    data: dict[str, Any]
    final: bool = False


class DisplayScheduler:
    """Sends the newest update of each display at most every `interval` seconds.

    Updates submitted in between replace the pending one (coalescing). One thread sends
    them all, so the updates of a display keep their order; the first one of a display is
    a ``display_data``, the others ``update_display_data``."""

    def __init__(
        self, send: Callable[[_Update, bool], None], interval: float = MIN_INTERVAL
    ) -> None:
        self._send = send
        self._interval = interval
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[_Update, threading.Event]] = {}
        self._last: dict[str, float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="spark-stream-displays")
        self._thread.daemon = True
        self._thread.start()

    def submit(self, update: _Update) -> threading.Event:
        """Queue `update`; the event is set once it (or a newer one) has been sent."""
        with self._cond:
            previous = self._pending.get(update.display_id)
            done = previous[1] if previous else threading.Event()
            if self._closed:
                done.set()
                return done
            self._pending[update.display_id] = (update, done)
            self._cond.notify()
        return done

    def close(self, timeout: float = 1.0) -> None:
        """Send what is pending now and stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._take_due()
                while not due:
                    if self._closed:
                        return
                    self._cond.wait(self._wait_time())
                    due = self._take_due()
            for update, first, done in due:
                try:
                    self._send(update, first)
                except Exception:
                    log.exception("could not send a streaming display")
                finally:
                    done.set()

    def _take_due(self) -> list[tuple[_Update, bool, threading.Event]]:
        now = time.monotonic()
        due = []
        for key, (update, done) in list(self._pending.items()):
            last = self._last.get(key)
            if self._closed or last is None or now - last >= self._interval:
                del self._pending[key]
                due.append((update, last is None, done))
                if update.final:
                    self._last.pop(key, None)
                else:
                    self._last[key] = now
        return due

    def _wait_time(self) -> float | None:
        if not self._pending:
            return None
        now = time.monotonic()
        waits = [self._last.get(k, now) + self._interval - now for k in self._pending]
        return max(0.01, min(waits))


# -- which cell --------------------------------------------------------------------------------
class CellOrigins:
    """The parent header of the cell the calling thread works for.

    In order: the parent set with `running` (``foreachBatch``), the running cell on the main
    thread, the cell during which a thread was started, else the latest cell. ipykernel 7
    alone would send a background thread's output to whichever cell runs at that moment."""

    def __init__(self, shell: Any, publisher: Publisher) -> None:
        self._shell = shell
        self._publisher = publisher
        self._threads: weakref.WeakKeyDictionary[threading.Thread, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._before: set[threading.Thread] = set()
        self._cell_parent: dict[str, Any] | None = None
        self._override: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
            "pyspark_kernel_stream_parent", default=None
        )

    def begin_cell(self, parent: dict[str, Any]) -> None:
        self._before = set(threading.enumerate())
        self._cell_parent = parent

    def end_cell(self) -> None:
        """Threads started by the cell (still running) keep the cell as their origin."""
        parent = self._cell_parent
        if parent is not None:
            for thread in set(threading.enumerate()) - self._before:
                self._threads[thread] = parent
        self._before, self._cell_parent = set(), None

    def parent(self) -> dict[str, Any]:
        override = self._override.get()
        if override is not None:
            return override
        thread = threading.current_thread()
        if thread is not threading.main_thread():
            found = self._threads.get(thread)
            if found is not None:
                return found
        return self._publisher.current_parent()

    @contextlib.contextmanager
    def running(self, parent: dict[str, Any]) -> Iterator[None]:
        """Run a block on this thread as part of the cell with `parent`."""
        token = self._override.set(parent)
        set_parent = getattr(self._shell, "set_thread_parent", None)
        tokens = set_parent(parent) if set_parent is not None else None
        try:
            yield
        finally:
            if tokens is not None:
                self._shell.reset_thread_parent(tokens)
            self._override.reset(token)


# -- the writer ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WriterInfo:
    """What a ``DataStreamWriter`` is about to start (None where unknown)."""

    name: str | None = None
    checkpoint: str | None = None
    source: str | None = None

    @property
    def is_console(self) -> bool:
        return (self.source or "").lower() == "console"


def writer_info(writer: Any) -> WriterInfo:
    """Name, checkpoint location and sink format set on `writer` so far.

    PySpark keeps them only in the JVM writer's private fields; read by reflection, best
    effort (an unknown field yields an empty `WriterInfo`)."""
    try:
        jwrite = writer._jwrite
        options = _private_field(jwrite, "extraOptions")
        source = _private_field(jwrite, "source")
        return WriterInfo(
            name=_scala_option(options.get("queryName")),
            checkpoint=_scala_option(options.get("checkpointLocation")),
            source=str(source) if source is not None else None,
        )
    except Exception as exc:
        log.debug("could not read the stream writer's options: %s", exc)
        return WriterInfo()


def call_info(writer: Any, method: Callable[..., Any], args: Any, kwargs: Any) -> WriterInfo:
    """`writer_info`, updated with what the ``start``/``toTable`` call itself sets."""
    info = writer_info(writer)
    try:
        bound = inspect.signature(method).bind(writer, *args, **kwargs).arguments
    except TypeError:
        return info
    options = {str(k).lower(): v for k, v in (bound.get("options") or {}).items()}
    return WriterInfo(
        name=bound.get("queryName") or info.name,
        checkpoint=options.get("checkpointlocation") or info.checkpoint,
        source=bound.get("format") or info.source,
    )


def _private_field(obj: Any, name: str) -> Any:
    declared = obj.getClass().getDeclaredField(name)
    declared.setAccessible(True)
    return declared.get(obj)


def _scala_option(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value.get()) if value.isDefined() else None


def same_path(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _normal_path(a) == _normal_path(b)


def _normal_path(path: str) -> str:
    if path.startswith("file:"):
        path = "/" + path[len("file:") :].lstrip("/")
    if "://" not in path:
        path = os.path.abspath(path)
    return path.rstrip("/")


def install_writer_hooks(support: StreamingSupport) -> Callable[[], None]:
    """Wrap classic PySpark's ``DataStreamWriter.start``, ``toTable`` and ``foreachBatch``
    so queries and ``foreachBatch`` output belong to the cell that made them (see the
    module docstring). Returns the function that puts the originals back."""
    from pyspark.sql.streaming.readwriter import DataStreamWriter

    originals = {
        name: getattr(
            DataStreamWriter.__dict__[name], "__wrapped__", DataStreamWriter.__dict__[name]
        )
        for name in ("start", "toTable", "foreachBatch")
    }

    def starter(method: Callable[..., Any]) -> Callable[..., Any]:
        def start(self: Any, *args: Any, **kwargs: Any) -> Any:
            info = call_info(self, method, args, kwargs)
            return support.start_query(self, info, lambda: method(self, *args, **kwargs))

        return start

    def foreach_batch(self: Any, func: Callable[[Any, int], None]) -> Any:
        return originals["foreachBatch"](self, support.wrap_batch_function(func))

    hooks = {
        "start": starter(originals["start"]),
        "toTable": starter(originals["toTable"]),
        "foreachBatch": foreach_batch,
    }
    for name, hook in hooks.items():
        setattr(DataStreamWriter, name, functools.wraps(originals[name])(hook))

    def undo() -> None:
        for name, original in originals.items():
            setattr(DataStreamWriter, name, original)

    return undo


# -- the JVM's console output -------------------------------------------------------------------
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


# -- the listener -------------------------------------------------------------------------------
class _JsonEventBridge(JStreamingQueryListener):
    """Hands Spark's listener events to the Python listener, parsed from their JSON.

    PySpark 4.2.0's own bridge fails on every ``QueryStartedEvent`` (it calls ``toString()``
    on job tags that py4j has already turned into ``str``)."""

    def onQueryStarted(self, jevent: Any) -> None:
        self.pylistener.onQueryStarted(QueryStartedEvent.fromJson(json.loads(jevent.json())))

    def onQueryProgress(self, jevent: Any) -> None:
        self.pylistener.onQueryProgress(QueryProgressEvent.fromJson(json.loads(jevent.json())))

    def onQueryIdle(self, jevent: Any) -> None:
        self.pylistener.onQueryIdle(QueryIdleEvent.fromJson(json.loads(jevent.json())))

    def onQueryTerminated(self, jevent: Any) -> None:
        self.pylistener.onQueryTerminated(QueryTerminatedEvent.fromJson(json.loads(jevent.json())))


class KernelStreamListener(StreamingQueryListener):
    """Passes the session's query events to `StreamingSupport`; never raises into Spark."""

    def __init__(self, support: StreamingSupport) -> None:
        self._support = support
        self._bridge: Any = None

    @property
    def _jlistener(self) -> Any:
        if self._bridge is None:
            from pyspark import SparkContext

            jvm: Any = SparkContext._jvm
            self._bridge = jvm.PythonStreamingQueryListenerWrapper(_JsonEventBridge(self))
        return self._bridge

    def onQueryStarted(self, event: QueryStartedEvent) -> None:
        self._guard(self._support.on_started, event)

    def onQueryProgress(self, event: QueryProgressEvent) -> None:
        self._guard(self._support.on_progress, event)

    def onQueryIdle(self, event: QueryIdleEvent) -> None:
        self._guard(self._support.on_idle, event)

    def onQueryTerminated(self, event: QueryTerminatedEvent) -> None:
        self._guard(self._support.on_terminated, event)

    @staticmethod
    def _guard(handler: Callable[[Any], None], event: Any) -> None:
        try:
            handler(event)
        except Exception:
            log.exception("streaming listener failed on %s", type(event).__name__)


@dataclass(frozen=True)
class _Origin:
    parent: dict[str, Any]
    info: WriterInfo


# -- the whole --------------------------------------------------------------------------------
class StreamingSupport:
    """Live query displays, cell attribution and ``%streams`` for one `SparkExtension`."""

    def __init__(self, extension: SparkExtension) -> None:
        self.ext = extension
        self.publisher: Publisher = extension.publisher
        self.origins = CellOrigins(extension.shell, extension.publisher)
        self.scheduler = DisplayScheduler(self._send)
        self.console: ConsoleSinkRouter | None = None
        self._streams: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._views: dict[str, QueryView] = {}
        self._finished: OrderedDict[str, QueryView] = OrderedDict()
        self._expected: dict[str, _Origin] = {}
        self._listener: KernelStreamListener | None = None
        self._generation = -1
        self._undo_hooks: Callable[[], None] | None = None

    # -- wiring ----------------------------------------------------------------------------
    def register(self) -> None:
        """Hook into the shell, the stream writer and the JVM output; add ``%streams``."""
        shell = self.ext.shell
        self._streams = {"stdout": sys.stdout, "stderr": sys.stderr}
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        shell.register_magics(StreamsMagics(shell, support=self))
        self._undo_hooks = install_writer_hooks(self)
        self.console = ConsoleSinkRouter(
            self.ext.session.output_sink, self.console_parent, self.write
        )
        self.ext.session.output_sink = self.console

    def close(self, timeout: float = 1.0) -> None:
        """End every display (stopped queries' final updates), undo the hooks."""
        self.wait_final(None, timeout)
        with self._lock:
            left = list(self._views.values())
        for view in left:
            self._end(view, None, message="Stopped (the kernel shut down)")
        self.scheduler.close(timeout)
        if self._undo_hooks is not None:
            self._undo_hooks()
            self._undo_hooks = None
        if self.console is not None and self.ext.session.output_sink is self.console:
            self.ext.session.output_sink = self.console.inner
        for event, hook in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self.ext.shell.events.unregister(event, hook)

    def _pre_run_cell(self, info: Any) -> None:
        self.origins.begin_cell(self.publisher.current_parent())
        self.ensure_listener()

    def _post_run_cell(self, result: Any) -> None:
        self.origins.end_cell()

    def ensure_listener(self) -> None:
        """Register the listener with the current session (again after a rebuild)."""
        session = self.ext.session
        if not session.ready or session.is_remote or session.generation == self._generation:
            return
        with self._lock:
            if session.generation == self._generation:
                return
            for view in list(self._views.values()):
                self._end(view, "the Spark session ended while the query was running")
            listener = KernelStreamListener(self)
            try:
                session.spark.streams.addListener(listener)
            except Exception as exc:
                log.warning("could not register the streaming listener: %s", exc)
                return
            self._listener, self._generation = listener, session.generation

    # -- starting ------------------------------------------------------------------------------
    def start_query(self, writer: Any, info: WriterInfo, start: Callable[[], Any]) -> Any:
        """Start a query (`start` calls the original ``start``/``toTable``) for the calling
        cell: stop the query it replaces, tag the start so the listener finds the cell."""
        spark = writer._spark
        sc = spark.sparkContext
        self.ensure_listener()
        parent = self.origins.parent()
        self._stop_replaced(spark, info, parent)
        tag = f"{ORIGIN_TAG_PREFIX}{uuid.uuid4().hex[:12]}"
        hidden = self._hide_cell_tag(sc)
        with self._lock:
            self._expected[tag] = _Origin(parent, info)
        sc.addJobTag(tag)
        try:
            query = start()
        finally:
            with self._lock:
                self._expected.pop(tag, None)
            sc.removeJobTag(tag)
            for cell_tag in hidden:
                sc.addJobTag(cell_tag)
        self._attach(query)
        return query

    def _stop_replaced(self, spark: Any, info: WriterInfo, parent: dict[str, Any]) -> None:
        """Stop the active query that has the name or checkpoint of the one to start."""
        for query in list(spark.streams.active):
            reason = self._conflict(query, info)
            if reason is None:
                continue
            who = f"{query.name!r} ({query.id})" if query.name else str(query.id)
            run_id = str(query.runId)
            self.write(
                parent,
                "stdout",
                f"pyspark-kernel: stopping streaming query {who}, which has the same {reason}\n",
            )
            stop_queries([query], timeout=10.0)
            self.wait_final([run_id], 2.0)

    def _conflict(self, query: Any, info: WriterInfo) -> str | None:
        if info.name is not None and query.name == info.name:
            return "name"
        with self._lock:
            view = self._views.get(str(query.runId))
        if view is not None and same_path(view.checkpoint, info.checkpoint):
            return "checkpoint location"
        return None

    def _hide_cell_tag(self, sc: Any) -> list[str]:
        """Take the running cell's job tag off this thread (the query would inherit it)."""
        cell = self.ext.cell
        tag = getattr(cell, "tag", None)
        if not tag or tag not in set(sc.getJobTags()):
            return []
        sc.removeJobTag(tag)
        return [tag]

    def _attach(self, query: Any) -> None:
        with self._lock:
            view = self._views.get(str(query.runId))
            if view is not None:
                view.query = query

    def wrap_batch_function(self, func: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        """`func` run as part of the calling cell: its output goes there."""
        parent = self.origins.parent()
        origins = self.origins

        @functools.wraps(func)
        def in_starting_cell(batch: Any, batch_id: int) -> None:
            with origins.running(parent):
                func(batch, batch_id)

        return in_starting_cell

    # -- listener events -------------------------------------------------------------------
    def on_started(self, event: QueryStartedEvent) -> None:
        with self._lock:
            origin = next((self._expected[t] for t in event.jobTags if t in self._expected), None)
        parent = origin.parent if origin else self.publisher.current_parent()
        info = origin.info if origin else WriterInfo()
        view = QueryView(
            id=str(event.id),
            run_id=str(event.runId),
            name=event.name,
            parent=parent,
            display_id=Publisher.new_display_id(),
            console=info.is_console,
            checkpoint=info.checkpoint,
        )
        with self._lock:
            self._views[view.run_id] = view
        # start() waits for this: the display is on its way before the cell goes on.
        self._publish(view).wait(1.0)

    def on_progress(self, event: QueryProgressEvent) -> None:
        progress = json.loads(event.progress.json)
        with self._lock:
            view = self._views.get(str(progress.get("runId")))
        if view is None:
            return
        view.add_progress(progress, self._status_message(view))
        self._publish(view)

    def on_idle(self, event: QueryIdleEvent) -> None:
        with self._lock:
            view = self._views.get(str(event.runId))
        if view is not None:
            view.message = self._status_message(view) or "Waiting for data to arrive"
            self._publish(view)

    def on_terminated(self, event: QueryTerminatedEvent) -> None:
        with self._lock:
            view = self._views.get(str(event.runId))
        if view is not None:
            self._end(view, event.exception, event.errorClassOnException)

    def _status_message(self, view: QueryView) -> str | None:
        """Spark's status message, asked for at most every `MIN_INTERVAL` seconds."""
        now = time.monotonic()
        if now - view.status_at < MIN_INTERVAL:
            return None
        view.status_at = now
        try:
            query = view.query or self.ext.session.spark.streams.get(view.id)
            return str(query.status["message"]) if query is not None else None
        except Exception:
            return None

    def _end(
        self,
        view: QueryView,
        exception: str | None,
        error_class: str | None = None,
        message: str | None = None,
    ) -> None:
        """Final update of `view`; a failure is also one line on the starting cell's stderr."""
        with self._lock:
            if self._views.pop(view.run_id, None) is None:
                return
            view.finish(exception, error_class)
            if message:
                view.message = message
            self._finished[view.run_id] = view
            while len(self._finished) > KEEP_FINISHED:
                self._finished.popitem(last=False)
        view.final_sent = self._publish(view, final=True)
        if view.state == "failed":
            self.write(
                view.parent,
                "stderr",
                f"pyspark-kernel: streaming query {view.label} failed: {view.error}\n",
            )
        with self._changed:
            self._changed.notify_all()

    def wait_final(self, run_ids: Iterable[str] | None, timeout: float) -> bool:
        """Wait until the given runs (all if None) have ended and their final update is sent."""
        deadline = time.monotonic() + timeout
        wanted = None if run_ids is None else set(run_ids)
        with self._changed:
            while True:
                left = set(self._views) if wanted is None else wanted & set(self._views)
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    break
                self._changed.wait(remaining)
            views = [v for k, v in self._finished.items() if wanted is None or k in wanted]
        for view in views:
            if view.final_sent is not None:
                view.final_sent.wait(max(0.0, deadline - time.monotonic()))
        return not left

    # -- output ----------------------------------------------------------------------------------
    def _publish(self, view: QueryView, final: bool = False) -> threading.Event:
        payload = stream_payload(view)
        data = {STREAM: payload, "text/plain": stream_text(payload)}
        return self.scheduler.submit(_Update(view.display_id, view.parent, data, final))

    def _send(self, update: _Update, first: bool) -> None:
        self.publisher.display(
            update.data, display_id=update.display_id, parent=update.parent, update=not first
        )

    def write(self, parent: dict[str, Any], name: str, text: str) -> None:
        """Write `text` to the stdout/stderr of the cell with `parent`, from any thread."""
        stream = self._streams.get(name) or getattr(sys, name)
        set_parent = getattr(stream, "set_thread_parent", None)
        if set_parent is None:
            stream.write(text)
            return
        token = set_parent(parent)
        try:
            stream.write(text)
        finally:
            stream.reset_thread_parent(token)

    def console_parent(self) -> dict[str, Any] | None:
        """The cell of the active console-sink queries, if they all have the same one."""
        with self._lock:
            parents = {
                json.dumps(v.parent, sort_keys=True, default=str): v.parent
                for v in self._views.values()
                if v.console
            }
        return next(iter(parents.values())) if len(parents) == 1 else None

    # -- for %streams ------------------------------------------------------------------------
    def view_of(self, run_id: str) -> QueryView | None:
        with self._lock:
            return self._views.get(run_id) or self._finished.get(run_id)

    def finished_views(self) -> list[QueryView]:
        with self._lock:
            return list(reversed(self._finished.values()))


# -- %streams -----------------------------------------------------------------------------------
@magics_class
class StreamsMagics(Magics):
    """``%streams``: list, stop and inspect the session's streaming queries."""

    def __init__(self, shell: Any, support: StreamingSupport) -> None:
        super().__init__(shell)
        self.support = support

    @line_magic
    def streams(self, line: str) -> None:
        """List streaming queries; ``%streams stop NAME|ID|all``, ``%streams progress NAME|ID``."""
        words = shlex.split(line)
        if words == ["help"]:
            print(STREAMS_HELP)
            return
        if len(words) not in (0, 2) or (words and words[0] not in {"stop", "progress"}):
            raise UsageError(f"unknown %streams command {line.strip()!r}\n{STREAMS_HELP}")
        spark = self.support.ext.bind_session(wait=True)
        if spark is None:
            print("pyspark-kernel: the Spark session is not available")
            return
        if not words:
            self._list(spark)
        elif words[0] == "stop":
            self._stop(spark, words[1])
        else:
            self._progress(spark, words[1])

    def _list(self, spark: Any) -> None:
        queries = list(spark.streams.active)
        if not queries:
            print("no active streaming queries")
            return
        rows = [("name", "id", "batch", "input/s", "processed/s", "status")]
        rows += [self._row(q) for q in queries]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [
                c.rjust(w) if i in (2, 3, 4) else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=False))
            ]
            print("  ".join([*cells, row[-1]]))

    def _row(self, query: Any) -> tuple[str, str, str, str, str, str]:
        view = self.support.view_of(str(query.runId))
        progress = view.progress if view is not None and view.progress else _last_progress(query)
        p = progress or {}
        batch = p.get("batchId")
        return (
            query.name or "-",
            str(query.id),
            "-" if batch is None else str(batch),
            f"{rate(p.get('inputRowsPerSecond')):g}",
            f"{rate(p.get('processedRowsPerSecond')):g}",
            str(query.status.get("message", "")),
        )

    def _stop(self, spark: Any, which: str) -> None:
        queries = list(spark.streams.active)
        chosen = queries if which == "all" else _find(queries, which)
        if not chosen:
            print(
                f"no active streaming query {which!r}"
                if which != "all"
                else "no active streaming queries"
            )
            return
        labels = {str(q.runId): f"{q.name!r} ({q.id})" if q.name else str(q.id) for q in chosen}
        stop_queries(chosen, timeout=10.0)
        self.support.wait_final(labels, 3.0)
        for label in labels.values():
            print(f"stopped {label}")

    def _progress(self, spark: Any, which: str) -> None:
        found = _find(list(spark.streams.active), which)
        progress = _last_progress(found[0]) if found else None
        if not found:
            views = self.support.finished_views()
            view = next((v for v in views if which in (v.name, v.id, v.run_id)), None)
            if view is None:
                print(f"no streaming query {which!r}")
                return
            progress = view.progress
        print(
            json.dumps(progress, indent=2) if progress else f"no progress reported yet by {which!r}"
        )


def _find(queries: list[Any], which: str) -> list[Any]:
    """Queries named `which`, or with that id or run id."""
    return [q for q in queries if which in (q.name, str(q.id), str(q.runId))]


def _last_progress(query: Any) -> dict[str, Any] | None:
    try:
        progress = query.lastProgress
    except Exception:
        return None
    return json.loads(progress.json) if progress is not None else None


# -- stopping -----------------------------------------------------------------------------------
def stop_queries(queries: Iterable[Any], timeout: float = 5.0) -> list[str]:
    """Stop `queries` in parallel; give up waiting after `timeout` s. Returns stopped ids."""
    stopped: list[str] = []

    def stop(query: Any) -> None:
        try:
            query.stop()
            stopped.append(str(query.id))
        except Exception as exc:
            log.warning("could not stop streaming query %s: %s", query.id, exc)

    threads = [threading.Thread(target=stop, args=(q,), daemon=True) for q in queries]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return stopped


def stop_all_queries(spark: Any, timeout: float = 5.0) -> list[str]:
    """Stop every active streaming query of `spark`; give up waiting after `timeout` s."""
    try:
        queries = list(spark.streams.active)
    except Exception as exc:
        log.debug("could not list streaming queries: %s", exc)
        return []
    return stop_queries(queries, timeout)
