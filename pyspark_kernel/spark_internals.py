"""Every use of PySpark's and Py4J's private internals, in one place.

The kernel needs a few things PySpark does not offer publicly: launching the driver JVM
with its own pipes, forgetting a dead gateway, the job ids of a tag, the temporary views of
a session without running a query, a streaming listener bridge that works, the options of a
stream writer. Each function here states what it relies on and has a contract test
(``tests/unit/test_spark_internals.py``) that fails loudly when a PySpark release changes it.
No other module of the kernel touches a private name of PySpark or Py4J.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


# -- the driver JVM -----------------------------------------------------------------------------
def launch_jvm(conf: Any, stdout: int, stderr: int) -> Any:
    """Launch the driver JVM for `conf` with its output on the given file descriptors.

    Relies on ``pyspark.java_gateway.launch_gateway(conf, popen_kwargs=...)``."""
    from pyspark.java_gateway import launch_gateway

    return launch_gateway(conf, popen_kwargs={"stdout": stdout, "stderr": stderr})


def spark_home() -> str:
    """The Spark installation the driver JVM is launched from: ``SPARK_HOME``, else the
    pyspark package (``pyspark.find_spark_home._find_spark_home``)."""
    from pyspark.find_spark_home import _find_spark_home

    return _find_spark_home()


def jvm_property(sc: Any, name: str) -> str | None:
    """A system property of the driver JVM (``java.class.path``, ``java.home``), through
    the context's Py4J view of the JVM (``sc._jvm``)."""
    value = sc._jvm.System.getProperty(name)
    return None if value is None else str(value)


def jvm_process(gateway: Any) -> Any:
    """The ``subprocess.Popen`` of the JVM behind `gateway` (``gateway.proc``)."""
    return gateway.proc


def gateway_client(gateway: Any) -> Any:
    """The Py4J client that sends every command to the JVM (``gateway._gateway_client``)."""
    return gateway._gateway_client


def active_gateway() -> Any:
    """The gateway PySpark keeps for the process (``SparkContext._gateway``), or None."""
    from pyspark import SparkContext

    return SparkContext._gateway


def forget_classic_session() -> Any:
    """Drop PySpark's cached context, gateway and sessions so a new JVM can be launched.

    PySpark keeps a dead gateway cached and ``stop()`` does not clear it. Returns the gateway
    that was cached (the caller shuts it down), or None."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    gateway = SparkContext._gateway
    SparkContext._active_spark_context = None
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    return gateway


def forget_connect_session(spark: Any) -> None:
    """Make Spark Connect's builder forget `spark` (``SparkSession._default_session``)."""
    connect = sys.modules.get("pyspark.sql.connect.session")
    if connect is not None and connect.SparkSession._default_session is spark:
        connect.SparkSession._default_session = None


def context_stopped(spark: Any) -> bool:
    """Whether the classic session's SparkContext was stopped (``sc._jsc`` is None then)."""
    sc = getattr(spark, "_sc", None)
    return sc is None or sc._jsc is None


def live_user_session() -> Any:
    """The classic session a cell built with the builder after a stop, if it is alive."""
    from pyspark.sql import SparkSession

    for spark in (SparkSession._activeSession, SparkSession._instantiatedSession):
        if spark is not None and not context_stopped(spark):
            return spark
    return None


# -- jobs ----------------------------------------------------------------------------------------
def status_tracker(sc: Any) -> Any:
    """The JVM-side status tracker, which knows the job ids of a tag
    (``sc._jsc.sc().statusTracker()``; PySpark's own tracker has no tag lookup)."""
    return sc._jsc.sc().statusTracker()


def job_ids_for_tag(tracker: Any, tag: str) -> list[int]:
    """Ids of the jobs (running or done) that carry `tag`, from `status_tracker`."""
    return sorted(int(i) for i in tracker.getJobIdsForTag(tag))


def cancel_active_jobs(sc: Any, tag: str) -> bool:
    """Cancel the active jobs that carry `tag`; True if there were any."""
    tagged = set(job_ids_for_tag(status_tracker(sc), tag))
    active = tagged & set(sc.statusTracker().getActiveJobsIds())
    if active:
        sc.cancelJobsWithTag(tag)
    return bool(active)


# -- temporary views -----------------------------------------------------------------------------
class SessionCatalog:
    """The JVM session catalog of a classic session: lists temporary views by name, without
    running a query (``spark._jsparkSession.sessionState().catalog()``)."""

    def __init__(self, spark: Any) -> None:
        self._jvm = spark._jvm
        self._catalog = spark._jsparkSession.sessionState().catalog()
        self._manager = self._catalog.globalTempViewManager()

    def local_views(self) -> list[str]:
        """Names of the session's temporary views (unquoted)."""
        return [_unquote(n) for n in _split(self._catalog.listLocalTempViews("*").mkString("\x01"))]

    def global_views(self) -> list[str]:
        return _split(self._manager.listViewNames("*").mkString("\x01"))

    def local_identity(self, name: str) -> str:
        """A fingerprint of the view's plan object ("" if gone): changes when replaced."""
        return self._identity(self._catalog.getRawTempView(name))

    def global_identity(self, name: str) -> str:
        return self._identity(self._manager.get(name))

    def _identity(self, option: Any) -> str:
        if not option.isDefined():
            return ""
        return str(self._jvm.System.identityHashCode(option.get()))


def is_classic(spark: Any) -> bool:
    """A classic (Py4J) session, as opposed to Spark Connect."""
    return hasattr(spark, "_jsparkSession")


def _split(joined: str) -> list[str]:
    return [part for part in joined.split("\x01") if part]


def _unquote(name: str) -> str:
    """The session catalog quotes local view names: ```a``b``` is the view ``a`b``."""
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name


# -- streaming -----------------------------------------------------------------------------------
def streaming_listener_bridge(listener: Any) -> Any:
    """A JVM listener that hands Spark's events to `listener` (a Python
    ``StreamingQueryListener``), parsed from their JSON.

    PySpark 4.2.0's own bridge fails on every ``QueryStartedEvent`` (it calls ``toString()``
    on job tags that py4j has already turned into ``str``). Relies on
    ``JStreamingQueryListener`` and the JVM class ``PythonStreamingQueryListenerWrapper``."""
    from pyspark import SparkContext
    from pyspark.sql.streaming.listener import (
        JStreamingQueryListener,
        QueryIdleEvent,
        QueryProgressEvent,
        QueryStartedEvent,
        QueryTerminatedEvent,
    )

    class JsonEventBridge(JStreamingQueryListener):
        def onQueryStarted(self, jevent: Any) -> None:
            self.pylistener.onQueryStarted(QueryStartedEvent.fromJson(json.loads(jevent.json())))

        def onQueryProgress(self, jevent: Any) -> None:
            event = QueryProgressEvent.fromJson(json.loads(jevent.json()))
            self.pylistener.onQueryProgress(event)

        def onQueryIdle(self, jevent: Any) -> None:
            self.pylistener.onQueryIdle(QueryIdleEvent.fromJson(json.loads(jevent.json())))

        def onQueryTerminated(self, jevent: Any) -> None:
            event = QueryTerminatedEvent.fromJson(json.loads(jevent.json()))
            self.pylistener.onQueryTerminated(event)

    jvm: Any = SparkContext._jvm
    return jvm.PythonStreamingQueryListenerWrapper(JsonEventBridge(listener))


def writer_session(writer: Any) -> Any:
    """The SparkSession of a ``DataStreamWriter`` (``writer._spark``)."""
    return writer._spark


def writer_options(writer: Any) -> tuple[str | None, str | None, str | None]:
    """``(query name, checkpoint location, sink format)`` set on a ``DataStreamWriter`` so
    far. PySpark keeps them only in the JVM writer's private fields (``extraOptions``,
    ``source``), read by reflection."""
    jwrite = writer._jwrite
    options = _private_field(jwrite, "extraOptions")
    source = _private_field(jwrite, "source")
    return (
        _scala_option(options.get("queryName")),
        _scala_option(options.get("checkpointLocation")),
        str(source) if source is not None else None,
    )


def _private_field(obj: Any, name: str) -> Any:
    declared = obj.getClass().getDeclaredField(name)
    declared.setAccessible(True)
    return declared.get(obj)


def _scala_option(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value.get()) if value.isDefined() else None


# -- errors ------------------------------------------------------------------------------------
def jvm_stack_trace(exc: BaseException) -> str | None:
    """The JVM stack trace kept by a captured Spark error (``_stackTrace`` of PySpark's
    ``CapturedException``; ``getJvmStackTrace()`` where a release offers it)."""
    getter = getattr(exc, "getJvmStackTrace", None)
    try:
        trace = getter() if callable(getter) else getattr(exc, "_stackTrace", None)
    except Exception:
        return None
    return str(trace) if trace else None


# -- logging -------------------------------------------------------------------------------------
def quiet_query_context_loggers() -> None:
    """PySpark logs each query error as JSON on stderr (``PySparkLogger``, 4.0+); the cell
    already shows it."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # before 4.0 there is no such logger
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
