"""The streaming query listener: Spark's events (through the bridge in `spark_internals`)
passed on to `StreamingSupport`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.streaming.listener import (
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
)

import pyspark_kernel.spark_internals as internals


class QueryEvents(Protocol):
    """What receives the events (`StreamingSupport`)."""

    def on_started(self, event: QueryStartedEvent) -> None: ...
    def on_progress(self, event: QueryProgressEvent) -> None: ...
    def on_idle(self, event: QueryIdleEvent) -> None: ...
    def on_terminated(self, event: QueryTerminatedEvent) -> None: ...


log = logging.getLogger(__name__)


class KernelStreamListener(StreamingQueryListener):
    """Passes the session's query events to `StreamingSupport`; never raises into Spark."""

    def __init__(self, support: QueryEvents) -> None:
        self._support = support
        self._bridge: Any = None

    @property
    def _jlistener(self) -> Any:
        if self._bridge is None:
            self._bridge = internals.streaming_listener_bridge(self)
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
