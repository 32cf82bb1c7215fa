"""Which cell a query or a ``foreachBatch`` call belongs to: `CellOrigins`, and the hooks
on classic PySpark's ``DataStreamWriter`` (see the package docstring)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pyspark_kernel.spark_internals as internals

from ..iopub import Publisher

log = logging.getLogger(__name__)


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
    """Name, checkpoint location and sink format set on `writer` so far (best effort: an
    unknown field yields an empty `WriterInfo`)."""
    try:
        name, checkpoint, source = internals.writer_options(writer)
    except Exception as exc:
        log.debug("could not read the stream writer's options: %s", exc)
        return WriterInfo()
    return WriterInfo(name=name, checkpoint=checkpoint, source=source)


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


def same_path(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _normal_path(a) == _normal_path(b)


def _normal_path(path: str) -> str:
    if path.startswith("file:"):
        path = "/" + path[len("file:") :].lstrip("/")
    if "://" not in path:
        path = os.path.abspath(path)
    return path.rstrip("/")


class QueryStarter(Protocol):
    """What the writer hooks hand queries and batch functions to (`StreamingSupport`)."""

    def start_query(self, writer: Any, info: WriterInfo, start: Callable[[], Any]) -> Any: ...

    def wrap_batch_function(
        self, func: Callable[[Any, int], None]
    ) -> Callable[[Any, int], None]: ...


def install_writer_hooks(support: QueryStarter) -> Callable[[], None]:
    """Wrap classic PySpark's ``DataStreamWriter.start``, ``toTable`` and ``foreachBatch``
    so queries and ``foreachBatch`` output belong to the cell that made them (see the
    package docstring). Returns the function that puts the originals back."""
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
