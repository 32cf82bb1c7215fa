"""`StreamingSupport`: live query displays, cell attribution and ``%streams`` for one
kernel (a `SparkHost`), wired from the parts of this package."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql.streaming.listener import (
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
)

import pyspark_kernel.spark_internals as internals

from ..iopub import Publisher
from ..mimetypes import STREAM
from ..ui_proxy import shown_ui_url
from .console import ConsoleSinkRouter
from .display import MIN_INTERVAL, DisplayScheduler, _Update
from .listener import KernelStreamListener
from .origins import CellOrigins, WriterInfo, install_writer_hooks, same_path
from .payload import (
    QueryView,
    query_label,
    query_page,
    status_entry,
    stream_payload,
    stream_text,
)
from .stopping import stop_queries

if TYPE_CHECKING:
    from ..api import SparkHost

log = logging.getLogger(__name__)

KEEP_FINISHED = 20  # finished queries remembered for %streams progress
ORIGIN_TAG_PREFIX = "pyspark-kernel-stream-"
# s a query restarted on its own checkpoint is given to end its first batch before it stops
FIRST_BATCH_WAIT = 10.0


@dataclass(frozen=True)
class _Origin:
    parent: dict[str, Any]
    info: WriterInfo


class StreamingSupport:
    """Live query displays, cell attribution and ``%streams`` for one kernel.

    `on_change` is called (from any thread) whenever a query starts, reports progress or
    ends; the comm channel pushes `payloads()` then."""

    def __init__(self, host: SparkHost, on_change: Callable[[], None] | None = None) -> None:
        self.host = host
        self.on_change = on_change
        self.publisher: Publisher = host.publisher
        self.origins = CellOrigins(host.shell, host.publisher)
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
        self._ui_url: str | None = None  # the session's Spark UI, as progress displays link it
        self._undo_hooks: Callable[[], None] | None = None

    # -- wiring ----------------------------------------------------------------------------
    def register(self) -> None:
        """Hook into the shell and the stream writer."""
        shell = self.host.shell
        self._streams = {"stdout": sys.stdout, "stderr": sys.stderr}
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        self._undo_hooks = install_writer_hooks(self)

    def console_router(self, inner: Callable[[str, str], None]) -> ConsoleSinkRouter:
        """The JVM output sink to put in front of `inner`: console-sink blocks go to the
        cell that started the query."""
        self.console = ConsoleSinkRouter(inner, self.console_parent, self.write)
        return self.console

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
        shell = self.host.shell
        for event, hook in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                shell.events.unregister(event, hook)

    def _pre_run_cell(self, info: Any) -> None:
        self.origins.begin_cell(self.publisher.current_parent())
        self.ensure_listener()

    def _post_run_cell(self, result: Any) -> None:
        self.origins.end_cell()

    def ensure_listener(self) -> None:
        """Register the listener with the current session (again after a rebuild)."""
        session = self.host.session
        if not session.ready or session.is_remote or session.generation == self._generation:
            return
        with self._lock:
            if session.generation == self._generation:
                return
            for view in list(self._views.values()):
                self._end(view, "the Spark session ended while the query was running")
            listener = KernelStreamListener(self)
            try:
                self._ui_url = shown_ui_url(session.spark.sparkContext.uiWebUrl)
                session.spark.streams.addListener(listener)
            except Exception as exc:
                log.warning("could not register the streaming listener: %s", exc)
                return
            self._listener, self._generation = listener, session.generation

    # -- starting ------------------------------------------------------------------------------
    def start_query(self, writer: Any, info: WriterInfo, start: Callable[[], Any]) -> Any:
        """Start a query (`start` calls the original ``start``/``toTable``) for the calling
        cell: stop the query it replaces, tag the start so the listener finds the cell."""
        spark = internals.writer_session(writer)
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
            run_id = str(query.runId)
            label = query_label(query.name, query.id)
            self.write(
                parent,
                "stdout",
                f"pyspark-kernel: stopping streaming query {label}, which has the same {reason}\n",
            )
            self._let_first_batch_end(query, info, parent)
            stop_queries([query], timeout=10.0)
            self.wait_final([run_id], 2.0)

    def _let_first_batch_end(self, query: Any, info: WriterInfo, parent: dict[str, Any]) -> None:
        """Give a query about to be restarted on its own checkpoint up to `FIRST_BATCH_WAIT`
        s to end its first batch: stopped while writing that batch's offsets, it leaves a
        temporary file for which Spark (4.x) refuses the checkpoint ("should be empty on
        batch 0")."""
        with self._lock:
            view = self._views.get(str(query.runId))
        if view is None or not same_path(view.checkpoint, info.checkpoint):
            return
        deadline = time.monotonic() + FIRST_BATCH_WAIT
        told = False
        while query.isActive and query.lastProgress is None and time.monotonic() < deadline:
            if not told:
                self.write(parent, "stdout", "pyspark-kernel: letting its first batch end\n")
                told = True
            time.sleep(0.1)

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
        cell = self.host.cell
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
        tags = internals.started_event_tags(event)
        with self._lock:
            if tags is None:  # pyspark 3.5: the start in flight, if there is only one
                only = list(self._expected.values())
                origin = only[0] if len(only) == 1 else None
            else:
                origin = next((self._expected[t] for t in tags if t in self._expected), None)
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
            ui_url=query_page(self._ui_url, str(event.runId)),
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
            query = view.query or self.host.session.spark.streams.get(view.id)
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

    def wait_final(self, run_ids: Iterable[str] | None, timeout: float) -> None:
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

    # -- output ----------------------------------------------------------------------------------
    def _publish(self, view: QueryView, final: bool = False) -> threading.Event:
        status = self.host.session.status  # the kernel's status file, under a Jupyter server
        if status is not None:
            status.set_stream(view.run_id, None if final else status_entry(view))
        payload = stream_payload(view)
        data = {STREAM: payload, "text/plain": stream_text(payload)}
        sent = self.scheduler.submit(_Update(view.display_id, view.parent, data, final))
        if self.on_change is not None:
            self.on_change()
        return sent

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

    def counts(self) -> tuple[int, int]:
        """``(live, finished)`` query displays kept (finished ones: the last 20)."""
        with self._lock:
            return len(self._views), len(self._finished)

    # -- for the comm channel ----------------------------------------------------------------
    def payloads(self) -> list[dict[str, Any]]:
        """The ``stream.v1`` payloads of the active queries, then of the recently ended."""
        with self._lock:
            views = [*self._views.values(), *reversed(self._finished.values())]
        return [stream_payload(view) for view in views]

    def stop(self, which: str, timeout: float = 10.0) -> list[str]:
        """Stop the active query with id, run id or name `which` (bounded in time); return
        the run ids stopped once their final displays are sent."""
        session = self.host.session
        if not session.ready:
            raise LookupError("the Spark session is not running")
        queries = [
            q for q in session.spark.streams.active if which in (q.name, str(q.id), str(q.runId))
        ]
        if not queries:
            raise LookupError(f"no active streaming query {which!r}")
        run_ids = [str(q.runId) for q in queries]
        stop_queries(queries, timeout=timeout)
        self.wait_final(run_ids, 3.0)
        return run_ids
