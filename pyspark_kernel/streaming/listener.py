"""The streaming query listener: Spark's events, parsed from their JSON, passed on to
`StreamingSupport`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.streaming.listener import (
    JStreamingQueryListener,
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
)

if TYPE_CHECKING:
    from .support import StreamingSupport

log = logging.getLogger(__name__)


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
