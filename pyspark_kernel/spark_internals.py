"""Every use of PySpark's and Py4J's private internals, in one place.

The kernel needs a few things PySpark does not offer publicly: launching the driver JVM
with its own pipes, forgetting a dead gateway, the job ids of a tag, the temporary views of
a session without running a query, a streaming listener bridge that works, the options of a
stream writer. Each function here states what it relies on and has a contract test
(``tests/unit/test_spark_internals.py``) that fails loudly when a PySpark release changes it.
No other module of the kernel touches a private name of PySpark or Py4J.

This is also where the supported pyspark range (3.5 to 4.3) lives: what differs between
releases is decided here, by feature (``hasattr``), and `version_notes` says in one line
each what a release cannot do (README, "Supported PySpark versions").
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import inspect
import json
import logging
import os
import re
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)


# -- versions ------------------------------------------------------------------------------------
def pyspark_version() -> tuple[int, int]:
    """``(major, minor)`` of the installed pyspark, from its package metadata (no import)."""
    from importlib import metadata

    major, minor = metadata.version("pyspark").split(".")[:2]
    return int(major), int(minor)


# What a release before 4.0 does differently, one line each (also in the README).
_BEFORE_4_0 = (
    "previews over Spark Connect collect Rows instead of Arrow (slower on wide rows)",
    "Spark Connect cells show no live progress (no progress handler before 4.0)",
    "queries started at once from two threads may show their status in the running cell",
)


def version_notes(version: tuple[int, int] | None = None) -> list[str]:
    """One line per kernel feature the installed pyspark (or `version`) lacks or does
    differently; empty for 4.0 and later."""
    return list(_BEFORE_4_0) if (version or pyspark_version()) < (4, 0) else []


# -- the driver JVM -----------------------------------------------------------------------------
def launch_jvm(conf: Mapping[str, str], stdout: int, stderr: int) -> Any:
    """Launch the driver JVM for `conf` with its output on the given file descriptors and
    return PySpark's gateway to it: `join_jvm` of `spawn_jvm`."""
    return join_jvm(spawn_jvm(conf, stdout, stderr))


class DriverExited(RuntimeError):
    """The driver JVM exited before it could be joined (PySpark: ``JAVA_GATEWAY_EXITED``)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the Java gateway process exited ({code}) before sending its port number")
        self.code = code


@dataclasses.dataclass
class SpawnedJVM:
    """A driver JVM started by `spawn_jvm`, not joined yet."""

    proc: subprocess.Popen[bytes]
    folder: tempfile.TemporaryDirectory[str]  # where it writes its port and secret
    info: str
    env: dict[str, str]  # spark-submit's environment
    digest: str | None = None  # of its command line's inputs (`launch_command`)
    recalled: bool = False  # java was run directly, from the remembered command line


def spawn_jvm(
    conf: Mapping[str, str], stdout: int, stderr: int, *, remembered: bool = False
) -> SpawnedJVM:
    """Start the driver JVM as ``pyspark.java_gateway.launch_gateway`` does (``spark-submit
    --conf ... pyspark-shell``, the file for its port and secret in
    ``_PYSPARK_DRIVER_CONN_INFO_PATH``, stdin a pipe it watches, SIGINT ignored), without
    importing PySpark: the JVM starts while PySpark and the kernel are imported. With
    `remembered`, java itself runs, with the command line spark-submit built the last time
    for the same inputs (see `launch_command`), where there is one."""
    from . import launch_command

    folder = tempfile.TemporaryDirectory(prefix="pyspark-kernel-gateway-")
    info = os.path.join(folder.name, "connection")
    env = {**os.environ, "SPARK_CONNECT_MODE": "0", "_PYSPARK_DRIVER_CONN_INFO_PATH": info}
    command = _submit_command(conf)
    digest = launch_command.inputs_digest(command, env, spark_home()) if remembered else None
    recalled = launch_command.recall(digest, env)
    argv, child_env = recalled or (command, env)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,  # the JVM exits when this pipe closes
            stdout=stdout,
            stderr=stderr,
            env=child_env,
            preexec_fn=_ignore_sigint,  # an interrupt sent to the kernel's process group
        )
    except BaseException:
        folder.cleanup()
        launch_command.forget(digest if recalled else None)
        raise
    return SpawnedJVM(proc, folder, info, env, digest, recalled is not None)


def join_jvm(spawned: SpawnedJVM) -> Any:
    """PySpark's gateway to a JVM of `spawn_jvm` (``gateway.proc`` its process), once it
    has written its port (looked for every 10 ms; PySpark looks every 100 ms). Joined by
    ``launch_gateway`` itself, which joins a running JVM named by ``PYSPARK_GATEWAY_PORT``
    and ``PYSPARK_GATEWAY_SECRET``. A JVM that exits first, or cannot be joined, is ended
    and named in the error."""
    from . import launch_command

    proc = spawned.proc
    try:
        while not os.path.isfile(spawned.info):
            if proc.poll() is not None:
                raise DriverExited(proc.returncode)
            time.sleep(0.01)
        with open(spawned.info, "rb") as info:  # PySpark's format: port, length, secret
            port, length = struct.unpack("!ii", info.read(8))
            secret = info.read(length).decode("utf-8")
        gateway = _join_gateway(port, secret)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if spawned.recalled:  # the next launch goes through spark-submit again
            launch_command.forget(spawned.digest)
        raise
    finally:
        spawned.folder.cleanup()
    gateway.proc = proc
    if spawned.digest is not None and not spawned.recalled:
        launch_command.remember(spawned.digest, spawned.env, proc.pid)
    return gateway


def _submit_command(conf: Mapping[str, str]) -> list[str]:
    command = [os.path.join(spark_home(), "bin", "spark-submit")]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    submit_args = os.environ.get("PYSPARK_SUBMIT_ARGS", "pyspark-shell")
    if os.environ.get("SPARK_TESTING"):
        submit_args = f"--conf spark.ui.enabled=false {submit_args}"
    return command + shlex.split(submit_args)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_GATEWAY_ENV = threading.Lock()
_GATEWAY_VARS = ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET")


def _join_gateway(port: int, secret: str) -> Any:
    from pyspark.java_gateway import launch_gateway

    with _GATEWAY_ENV:  # set only while PySpark reads them
        before = {name: os.environ.get(name) for name in _GATEWAY_VARS}
        os.environ.update({"PYSPARK_GATEWAY_PORT": str(port), "PYSPARK_GATEWAY_SECRET": secret})
        try:
            return launch_gateway()
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def spark_home() -> str:
    """The Spark installation the driver JVM is launched from: ``SPARK_HOME``, else the
    pip-installed pyspark package when it has ``bin/spark-submit`` (found without importing
    PySpark), else what ``pyspark.find_spark_home._find_spark_home`` finds."""
    home = os.environ.get("SPARK_HOME")
    if home:
        return home
    found = importlib.util.find_spec("pyspark")
    for folder in (found.submodule_search_locations or []) if found else []:
        if os.path.isfile(os.path.join(folder, "bin", "spark-submit")):
            return str(folder)
    from pyspark.find_spark_home import _find_spark_home

    return _find_spark_home()


def pyspark_release() -> str:
    """The installed pyspark's version string, from its package metadata (no import), or
    from ``pyspark.version`` for a pyspark that is not an installed package."""
    from importlib import metadata

    try:
        return metadata.version("pyspark")
    except metadata.PackageNotFoundError:
        from pyspark.version import __version__

        return str(__version__)


def jvm_property(sc: Any, name: str) -> str | None:
    """A system property of the driver JVM (``java.class.path``, ``java.home``), through
    the context's Py4J view of the JVM (``sc._jvm``)."""
    value = sc._jvm.System.getProperty(name)
    return None if value is None else str(value)


def jvm_process(gateway: Any) -> Any:
    """The ``subprocess.Popen`` of the JVM behind `gateway` (``gateway.proc``)."""
    return gateway.proc


def compile_java_object(sc: Any, source: str, class_name: str, *args: Any) -> Any:
    """An instance (built with `args`) of the public Java class `class_name`, compiled
    from `source` in the driver JVM with Janino (``org.codehaus.janino.SimpleCompiler``,
    which Spark ships for its generated code), over the classes that loaded Spark."""
    jvm, gateway = sc._jvm, sc._gateway
    compiler = jvm.org.codehaus.janino.SimpleCompiler()
    compiler.setParentClassLoader(sc._jsc.sc().getClass().getClassLoader())
    compiler.cook(source)
    cls = compiler.getClassLoader().loadClass(class_name)
    values = gateway.new_array(jvm.java.lang.Object, len(args))
    for i, value in enumerate(args):
        values[i] = value
    return cls.getConstructors()[0].newInstance(values)


def gateway_client(gateway: Any) -> Any:
    """The Py4J client that sends every command to the JVM (``gateway._gateway_client``)."""
    return gateway._gateway_client


def active_gateway() -> Any:
    """The gateway PySpark keeps for the process (``SparkContext._gateway``), or None
    (also when PySpark is not imported yet)."""
    if "pyspark.core.context" not in sys.modules and "pyspark.context" not in sys.modules:
        return None
    from pyspark import SparkContext

    return SparkContext._gateway


def forget_classic_session() -> Any:
    """Drop PySpark's cached context, gateway and sessions so a new JVM can be launched.

    PySpark keeps a dead gateway cached and ``stop()`` does not clear it. A context that was
    not stopped (its JVM died) still serves accumulator updates from a thread of its own:
    that server is shut down in the background. Returns the gateway that was cached (the
    caller shuts it down), or None."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    context = SparkContext._active_spark_context
    server = getattr(context, "_accumulatorServer", None)
    if server is not None:
        context._accumulatorServer = None  # type: ignore[union-attr]
        closer = threading.Thread(target=server.shutdown, name="accumulator-close", daemon=True)
        closer.start()
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


def activate_on_this_thread(spark: Any) -> None:
    """Make the classic `spark` the JVM's active session of the calling thread, as the
    builder does on the thread that builds it: ``SparkSession.getActiveSession()`` (which
    pandas-on-Spark asks first) then finds it instead of calling the builder, whose
    ``getOrCreate`` warns "Using an existing Spark session" on an existing session."""
    from pyspark.sql import SparkSession

    find = getattr(SparkSession, "_get_j_spark_session_class", None)  # 4.0 on; 3.5: jvm's
    jclass = find(spark._jvm) if find is not None else spark._jvm.SparkSession
    jclass.setActiveSession(spark._jsparkSession)


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


def guard_accumulator_server(
    sc: Any, on_error: Callable[[Any, Any], None], read_timeout: float
) -> None:
    """Guard the server through which the driver JVM sends accumulator updates
    (``sc._accumulatorServer``, a ``socketserver`` server that serves one connection at a
    time): `on_error(request, client_address)` handles a connection that fails (PySpark
    prints its traceback to stderr), and a read on a connection waits at most
    `read_timeout` seconds. PySpark reads the authentication token with no time limit: a
    stray client that sends a few bytes and waits for an answer (a ZeroMQ channel of a
    dead kernel reconnecting to a port this server now has) would stall every accumulator
    update, and the server's shutdown, until that client gave up. Once authenticated, the
    handler reads only what has arrived, so the limit never cuts the JVM's own updates."""
    server = getattr(sc, "_accumulatorServer", None)
    if server is None:
        return
    server.handle_error = on_error
    handler = server.RequestHandlerClass
    if getattr(handler, "timeout", None) != read_timeout:
        # StreamRequestHandler.setup() applies `timeout` to each connection it serves
        server.RequestHandlerClass = type(handler.__name__, (handler,), {"timeout": read_timeout})


# SparkContext.SPARK_JOB_TAGS (3.5+): this thread's job tags, joined by commas
_JOB_TAGS = "spark.job.tags"


def thread_job_tags(sc: Any) -> str | None:
    """This thread's job tags as Spark keeps them, one string (``"a,b"``) or None: one
    JVM call, where ``sc.getJobTags()`` returns a Java set read element by element."""
    value = sc.getLocalProperty(_JOB_TAGS)
    return None if value is None else str(value)


def set_thread_job_tags(sc: Any, tags: str | None) -> None:
    """Replace this thread's job tags by `tags` (a value of `thread_job_tags`), in one call."""
    sc.setLocalProperty(_JOB_TAGS, tags)


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


def catalog_listing(spark: Any) -> tuple[str, list[str], dict[str, list[str]], list[str]]:
    """``(current database, databases, tables by database, function names)`` of a classic
    session, from its JVM session catalog and function registry: one call per database,
    no query (``spark.catalog.listTables()`` makes several calls per table)."""
    state = spark._jsparkSession.sessionState()
    catalog = state.catalog()
    databases = _split(catalog.listDatabases().mkString("\x01"))
    tables = {}
    for db in databases:
        names = _split(catalog.listTables(db, "*", False).mkString("\x01"))
        tables[db] = [_last_identifier(n) for n in names]
    functions = _split(state.functionRegistry().listFunction().mkString("\x01"))
    return (
        str(catalog.getCurrentDatabase()),
        databases,
        tables,
        sorted({f.rsplit(".", 1)[-1] for f in functions}),
    )


def arrow_table(df: Any) -> Any:
    """The rows of `df` as a ``pyarrow.Table`` with Spark's exact types, or None where the
    release has no way to get one (the caller collects Rows then).

    ``DataFrame.toArrow()`` is new in 4.0; a classic 3.5 DataFrame has the private
    ``_collect_as_arrow()`` that ``toPandas()`` uses (Arrow record batches, session time
    zone on timestamps); a 3.5 Spark Connect DataFrame has neither."""
    to_arrow = getattr(df, "toArrow", None)
    if callable(to_arrow):
        return to_arrow()
    collect = getattr(df, "_collect_as_arrow", None)
    if not callable(collect):
        return None
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    batches = collect()
    if batches:
        return pa.Table.from_batches(batches)
    return to_arrow_schema(df.schema).empty_table()


def is_classic(spark: Any) -> bool:
    """A classic (Py4J) session, as opposed to Spark Connect."""
    return hasattr(spark, "_jsparkSession")


def _split(joined: str) -> list[str]:
    return [part for part in joined.split("\x01") if part]


def _last_identifier(quoted: str) -> str:
    """``t`` of ```db`.`t``` (a quoted multi-part name), or of ``db.t``."""
    if quoted.endswith("`"):
        parts = re.findall(r"`((?:[^`]|``)*)`", quoted)
        if parts:
            return parts[-1].replace("``", "`")
    return quoted.rsplit(".", 1)[-1]


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


def started_event_tags(event: Any) -> frozenset[str] | None:
    """The job tags of the thread that started the query (``QueryStartedEvent.jobTags``,
    new in 4.0); None where events carry no tags (3.5)."""
    tags = getattr(event, "jobTags", None)
    return None if tags is None else frozenset(str(t) for t in tags)


def last_progress(query: Any) -> dict[str, Any] | None:
    """The last progress report of a streaming query as plain JSON data, or None:
    ``lastProgress`` is a ``StreamingQueryProgress`` from 4.0 on (read through its
    ``json``), a dict on 3.5."""
    progress = query.lastProgress
    if progress is None:
        return None
    text = getattr(progress, "json", None)
    return json.loads(text) if isinstance(text, str) else dict(progress)


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


# -- builders ------------------------------------------------------------------------------------
def show_classes() -> tuple[tuple[str, str], ...]:
    """``(module, class)`` of the DataFrame classes whose own ``show`` prints rows: the
    classic one (``pyspark.sql.classic.dataframe`` from 4.0 on, ``pyspark.sql.dataframe``
    on 3.5) and Spark Connect's."""
    from importlib.util import find_spec

    classic = "pyspark.sql.classic" if find_spec("pyspark.sql.classic") else "pyspark.sql"
    return ((f"{classic}.dataframe", "DataFrame"), ("pyspark.sql.connect.dataframe", "DataFrame"))


def show_string(df: Any, rows: int = 20, truncate: int = 20) -> str:
    """The table ``df.show(rows, truncate)`` prints, as a string and without printing it,
    from a classic DataFrame (``df._jdf.showString(rows, truncate, vertical)``, the JVM
    call ``show`` makes)."""
    return str(df._jdf.showString(rows, truncate, False))


def builder_options(builder: Any) -> dict[str, str]:
    """The settings a ``SparkSession.Builder`` was given so far (``builder._options``)."""
    return {str(k): str(v) for k, v in getattr(builder, "_options", {}).items()}


def has_cached_data(spark: Any) -> bool:
    """Whether a classic session holds cached DataFrames or persisted RDDs
    (``sharedState().cacheManager().isEmpty()``, ``sc._jsc.getPersistentRDDs()``)."""
    jspark = spark._jsparkSession
    if not jspark.sharedState().cacheManager().isEmpty():
        return True
    return int(spark.sparkContext._jsc.getPersistentRDDs().size()) > 0


# -- plans ---------------------------------------------------------------------------------------
def physical_plan(df: Any) -> str | None:
    """The physical plan of a DataFrame as ``explain()`` prints it, without running it:
    ``df._jdf.queryExecution().executedPlan()`` (classic), ``df._explain_string()``
    (Spark Connect, one request to the server); None for anything else."""
    jdf = getattr(df, "_jdf", None)
    if jdf is not None:
        return str(jdf.queryExecution().executedPlan().toString())
    explain = getattr(df, "_explain_string", None)
    if callable(explain):
        text = str(explain())
        return text.split("== Physical Plan ==", 1)[-1].strip()
    return None


def logical_plans(df: Any, analyzed: str | None = None) -> tuple[str, Callable[[], str]] | None:
    """A classic DataFrame's analyzed logical plan (`analyzed`, or `analyzed_plan`) and a
    function for its optimized plan (which shows extracted Python UDFs; optimizing costs
    tens of milliseconds), from ``df._jdf.queryExecution()``; None on Spark Connect."""
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        return None
    if analyzed is None:
        analyzed = analyzed_plan(df)
    return analyzed, lambda: str(jdf.queryExecution().optimizedPlan().toString())


def analyzed_plan(df: Any) -> str:
    """A classic DataFrame's analyzed logical plan (``df._jdf.logicalPlan()``, computed
    when the DataFrame was made: reading it takes two JVM calls)."""
    return str(df._jdf.logicalPlan().toString())


def has_schema(df: Any) -> bool:
    """Whether a classic DataFrame has its schema already (``df.schema`` asks the JVM
    only once: a ``cached_property`` in 4.x, ``df._schema`` in 3.5). Read from the
    instance's own attributes: an unknown attribute of a DataFrame is a column, looked up
    in its schema."""
    kept = vars(df)
    return "schema" in kept or kept.get("_schema") is not None


def remember_schema(df: Any, schema_json: str) -> None:
    """Keep `schema_json` (the JVM schema's ``json()``) as the schema of the classic
    DataFrame `df`, where its ``schema`` property keeps what it read."""
    from pyspark.sql.types import StructType

    schema = StructType.fromJson(json.loads(schema_json))
    if isinstance(inspect.getattr_static(type(df), "schema", None), functools.cached_property):
        vars(df)["schema"] = schema
    elif "_schema" in vars(df):
        df._schema = schema


# -- errors ------------------------------------------------------------------------------------
def jvm_stack_trace(exc: BaseException) -> str | None:
    """The JVM stack trace kept by a captured Spark error: ``getJvmStackTrace()`` where a
    release offers it, else ``CapturedException._stackTrace`` (4.x) or ``.stackTrace``
    (3.5)."""
    getter = getattr(exc, "getJvmStackTrace", None)
    try:
        if callable(getter):
            trace = getter()
        else:
            trace = getattr(exc, "_stackTrace", None) or getattr(exc, "stackTrace", None)
    except Exception:
        return None
    return str(trace) if trace else None


def error_condition(exc: BaseException) -> str | None:
    """The Spark error condition (``TABLE_OR_VIEW_NOT_FOUND``) of a PySpark error:
    ``getCondition()`` (4.0+) or ``getErrorClass()`` (3.5; deprecated in 4.0)."""
    getter: Any = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        return getter() if callable(getter) else None
    except Exception:
        return None


# -- Spark Connect -------------------------------------------------------------------------------
def bound_connect_retries(client: Any, max_retries: int = 4, max_backoff_ms: int = 5000) -> None:
    """Bound the Spark Connect client's retries, so that a server that went away is reported
    in seconds instead of after minutes: ``set_retry_policies`` (4.0+), or the client's
    private ``_retry_policy`` settings (3.5)."""
    if hasattr(client, "set_retry_policies"):
        from pyspark.sql.connect.client.retries import DefaultPolicy

        client.set_retry_policies(
            [DefaultPolicy(max_retries=max_retries, max_backoff=max_backoff_ms)]
        )
    else:
        client._retry_policy.update(max_retries=max_retries, max_backoff=max_backoff_ms)


def register_progress_handler(spark: Any, handler: Any) -> bool:
    """Have the Spark Connect client call `handler` with the progress of every operation
    (``registerProgressHandler``, new in 4.0); False where the release has none."""
    register = getattr(spark, "registerProgressHandler", None)
    if not callable(register):
        return False
    register(handler)
    return True


# -- logging -------------------------------------------------------------------------------------
def query_context_loggers() -> list[logging.Logger]:
    """The loggers with which PySpark logs each query error as JSON on stderr
    (``PySparkLogger``, 4.0+; none before): the cell already shows the error."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # before 4.0 there is no such logger
        return []
    return [
        PySparkLogger.getLogger(name)
        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
    ]


def quiet_query_context_loggers() -> None:
    """Silence `query_context_loggers`."""
    for logger in query_context_loggers():
        logger.setLevel(logging.CRITICAL)


# -- a call whose answer is read later (Py4J's pinned-thread connections) ----------------------
def send_ahead(java_object: Any, method: str, *args: str | None) -> bool:
    """Send ``java_object.method(*args)`` (string or None arguments) on this thread's Py4J
    connection and return at once: the JVM answers while Python goes on, and the answer is
    read before the next command is sent on that connection (whoever sends it). False when
    it could not be sent so (no connection of this thread's own yet): call it as usual.

    The connection is closed (Py4J opens a new one) when the sending or the reading is
    interrupted or the answer is not one: it never owes an answer nobody will read."""
    from py4j import protocol

    client = java_object._gateway_client
    connection = getattr(client, "get_thread_connection", lambda: None)()
    if connection is None or connection.socket is None:
        return False
    _read_owed(connection)  # one sent ahead before, with no command since
    parts = "".join(protocol.get_command_part(arg) for arg in args)
    command = f"{protocol.CALL_COMMAND_NAME}{java_object._target_id}\n{method}\n{parts}"
    data = (command + protocol.END_COMMAND_PART).encode("utf-8")
    try:
        # set first: an interruption right after the sending must still find it owed
        connection.send_command = functools.partial(_send_when_answered, connection)
        connection.socket.sendall(data)
    except BaseException:
        vars(connection).pop("send_command", None)
        connection.close(reset=True)
        raise
    return True


def _send_when_answered(connection: Any, command: str) -> Any:
    """The connection's ``send_command`` while it owes an answer: read it, then send."""
    _read_owed(connection)
    return connection.send_command(command)


def _read_owed(connection: Any) -> None:
    """Read the answer `connection` owes for a call sent ahead, if any (a failed call is
    logged: the command that comes next must not fail for it)."""
    from py4j import protocol

    if vars(connection).pop("send_command", None) is None or connection.socket is None:
        return
    try:
        answer = protocol.smart_decode(connection.stream.readline()[:-1])
    except BaseException:
        connection.close(reset=True)
        raise
    if not answer.startswith(protocol.RETURN_MESSAGE):
        connection.close(reset=True)
        log.warning("unexpected answer from the JVM to a call sent ahead: %r", answer[:80])
    elif answer[1:2] == protocol.ERROR:
        log.warning("a call sent ahead to the JVM failed: %r", answer[1:200])
