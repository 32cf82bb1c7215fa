"""One SparkSession per kernel: built in the background, health-checked, rebuilt after death."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyspark_kernel.classdata as classdata
import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.runtime_status as runtime_status
import pyspark_kernel.spark_internals as internals

from .classdata import ArchiveUse
from .config import SettingsError, SparkSettings
from .jvmcalls import CallCounter
from .prerequisites import missing_java
from .reflection_cache import ReflectionCache
from .ui_proxy import shown_ui_url
from .warmup import preinitialize

log = logging.getLogger(__name__)

OutputSink = Callable[[str, str], None]
"""Receives ``(stream_name, line)`` for each line the driver JVM writes."""


# Settings that shape the driver JVM's command line; named when the JVM fails to start.
_JVM_SETTINGS = (
    "spark.driver.memory",
    "spark.driver.extraJavaOptions",
    "spark.driver.extraClassPath",
    "spark.jars",
)


OWN_TAG_PREFIX = "pyspark-kernel-own-"
# A read on a connection to PySpark's accumulator server waits at most this long (seconds)
ACCUMULATOR_READ_TIMEOUT = 3.0
# Why a held session's build ends when the kernel supersedes it (see `early_start`)
_SUPERSEDED = "the driver JVM launched early was for other settings"


class SessionError(RuntimeError):
    """The SparkSession could not be started or is gone."""


@dataclass
class SessionInfo:
    """What ``%spark`` and the status bar show."""

    state: str
    master: str | None = None
    app_id: str | None = None
    ui_url: str | None = None
    version: str | None = None
    error: str | None = None
    jvm_pid: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SessionManager:
    """Builds, checks and rebuilds the kernel's SparkSession.

    States: ``stopped`` (not started, or stopped by the user's ``spark.stop()``),
    ``starting``, ``ready``, ``failed`` (could not start; the next Spark cell retries),
    ``dead`` (the driver JVM exited; the next cell rebuilds). Functions in `listeners` are
    called (from any thread) after every change of state.
    """

    def __init__(
        self, settings: SparkSettings, output_sink: OutputSink | None = None, held: bool = False
    ) -> None:
        self.settings = settings
        self.output_sink = output_sink
        self.state = "stopped"
        self.error: BaseException | None = None
        self.spark: Any = None
        self.generation = 0
        self.last_exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._remote_info: tuple[str | None, str | None] = (None, None)  # Connect: version, app id
        self._lost_reason: str | None = None  # Connect: why the server is gone for this session
        self._startup_lines: deque[str] = deque(maxlen=12)
        self._pipes: list[_Pipe] = []  # the JVM's stdout and stderr, read by threads
        self.calls: CallCounter | None = None  # Py4J calls to the current JVM
        self.reflection: ReflectionCache | None = None  # its reflection answers, kept
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        # Under a Jupyter server with the extension: the kernel's status file, and what
        # it says about the current session (read once, when the session is built).
        # (Looked up by `adopt` for a held session: it imports jupyter_client.)
        self.status = None if held else runtime_status.for_this_kernel()
        self._facts: dict[str, Any] = {}
        self.listeners: list[Callable[[], None]] = []
        if self.status is not None:
            self.listeners.append(self._report)
        self._muted = 0  # own_work blocks under way: the JVM's lines are not shown meanwhile
        # Run by each build before the session's first Python-to-JVM conversion (a local
        # session: while its driver JVM starts).
        self.prepare_thread: Callable[[], None] | None = None
        # The job tags of the own_work blocks under way: whether cancel_own_work cancels
        # them (not those of requests from the frontend, see `frontend_request`).
        self._own_tags: dict[str, bool] = {}
        self._requests = threading.local()  # this thread serves a frontend's request
        self._own_lock = threading.Lock()
        self.own_epoch = 0  # counts cancel_own_work calls
        self.archive: ArchiveUse | None = None  # the class-data archive of the current JVM
        self.command_remembered = False  # the current JVM ran from a remembered command line
        # `held`: the first build launches the driver JVM, then waits for `adopt` (or
        # `supersede`) before it builds the SparkContext (see `early_start`).
        self._go = threading.Event()
        if not held:
            self._go.set()
        self._preparing: threading.Thread | None = None  # `prepare_thread`, run by `adopt`
        self._early: _Launch | None = None  # a JVM `start(spawn_here=True)` started
        self._early_proc: subprocess.Popen[bytes] | None = None  # its process
        self.launched_early = False  # this session's first JVM was (`adopt`)
        self._superseded = False

    def adopt(self, settings: SparkSettings, prepare_thread: Callable[[], None] | None) -> None:
        """A held session is the kernel's: build it with `settings` (launched for the
        same JVM settings, see `SparkSettings.launch_key`) and `prepare_thread`."""
        self.settings = settings
        self.prepare_thread = prepare_thread
        self.launched_early = True
        self._preparing = _in_background(prepare_thread, "spark-prepare")
        self.status = runtime_status.for_this_kernel()
        if self.status is not None:
            self.listen(self._report)
        self._go.set()

    def supersede(self) -> None:
        """A held session is not the kernel's: the JVM it launched is ended now, and its
        build ends unseen."""
        self.listeners.clear()
        self._superseded = True
        if self._early_proc is not None and self._early_proc.poll() is None:
            self._early_proc.kill()
        self._go.set()

    def listen(self, listener: Callable[[], None]) -> None:
        """Add `listener` to `listeners` and call it once now: a session started before
        the listener came (the kernel starts it first) is not missed."""
        self.listeners.append(listener)
        try:
            listener()
        except Exception:
            log.exception("session state listener failed")

    def _set_state(self, state: str) -> None:
        self.state = state
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                log.exception("session state listener failed")

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, spawn_here: bool = False) -> None:
        """Start building the session in a background thread (no-op if under way); with
        `spawn_here`, the driver JVM is started first, on this thread (see `early_start`)."""
        with self._lock:
            if self.state in {"starting", "ready"}:
                return
            self._startup_lines.clear()
            self.error = None
            self._set_state("starting")
            self._done.clear()
            if spawn_here and not self.is_remote and missing_java() is None:
                try:
                    self._early = self._spawn(self._launch_conf())
                    if self._early.spawned is not None:
                        self._early_proc = self._early.spawned.proc
                except Exception as exc:  # the build tries again, and names it
                    log.debug("driver JVM not started early: %s", exc)
            self._thread = threading.Thread(target=self._build, name="spark-session-start")
            self._thread.daemon = True
            self._thread.start()

    def wait(self, timeout: float | None = None) -> Any:
        """Return the ready session, starting it if needed; raise `SessionError` if it failed."""
        self.check_alive(probe=True)
        if self.state in {"stopped", "failed", "dead"}:
            self.start()
        limit = self.settings.start_timeout if timeout is None else timeout
        if not self._done.wait(limit):
            raise SessionError(f"the Spark session did not start within {limit:.0f} s")
        if self.state != "ready":
            raise SessionError(self.describe_error())
        return self.spark

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def jvm_calls(self) -> int | None:
        """Calls made to the driver JVM outside the kernel's hooks; None on Spark Connect
        or without a session (then every cell counts as one that used Spark)."""
        if self.calls is None or self._connected or self.state != "ready":
            return None
        return self.calls.calls

    @property
    def view_changes(self) -> int | None:
        """Calls made to the driver JVM outside the kernel's hooks that may have changed a
        temporary view; None when `jvm_calls` is."""
        if self.jvm_calls is None or self.calls is None:
            return None
        return self.calls.view_changes

    @property
    def is_remote(self) -> bool:
        return bool(self.settings.remote)

    @property
    def _connected(self) -> bool:
        """Whether the session built is a Spark Connect one (`is_remote` follows settings)."""
        return self._remote_info[0] is not None

    def check_alive(self, grace: float = 0.0, probe: bool = False) -> bool:
        """Notice a dead driver JVM; mark the session dead and reset PySpark's caches.

        `grace` seconds are given to a JVM that is exiting (its socket closes first).
        On Spark Connect there is no JVM here: a closed client (the server dropped the
        session) is noticed, and with `probe` a server that no longer accepts connections."""
        if self.state == "ready" and self._connected:  # Spark Connect
            if getattr(self.spark, "is_stopped", False):
                self.lose_remote("dropped this kernel's session (was the server restarted?)")
            elif probe:
                from .remote import answers

                why = answers(self.settings.remote)
                if why is not None:
                    self.lose_remote(f"does not answer ({why})")
            return self.state == "ready"
        if grace and self.state == "ready" and self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(grace)
        if self.state == "ready" and self._proc is not None and self._proc.poll() is not None:
            self.last_exit_code = self._proc.returncode
            log.warning("Spark driver JVM exited with %s", self.last_exit_code)
            self._forget()
            self._done.clear()
            self._set_state("dead")
        elif self.state == "ready" and internals.context_stopped(self.spark):
            self._notice_user_stop()
        return self.state == "ready"

    def _notice_user_stop(self) -> None:
        """The user stopped the session (``spark.stop()``): take the session they built on
        the same JVM since, if any; else the next Spark cell starts a new one on that JVM."""
        user = internals.live_user_session()
        if user is not None:
            self.spark = user
            internals.guard_accumulator_server(
                user.sparkContext, _log_stray_connection, ACCUMULATOR_READ_TIMEOUT
            )
            self.generation += 1
            self._set_state("ready")
            return
        log.info("the Spark session was stopped by the user")
        self._done.clear()
        self._set_state("stopped")

    def lose_remote(self, reason: str) -> None:
        """Spark Connect: the server went away or dropped our session. The session is closed
        (in the background: releasing it may wait for the server) and the next Spark cell
        builds a new one."""
        if self.state != "ready":
            return
        log.info("Spark Connect server %s %s", self.settings.remote, reason)
        spark = self.spark
        self._forget()
        if spark is not None:
            threading.Thread(target=_quietly, args=(spark.stop,), daemon=True).start()
        self._lost_reason = reason
        self._done.clear()
        self._set_state("dead")

    def restart(self) -> Any:
        """Stop the session and build a new one with the current settings."""
        self.stop()
        self.start()
        return self.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Spark and make sure no driver JVM of this kernel is left running."""
        if self._thread is not None and self.state == "starting":
            self._thread.join(timeout)
        spark, proc = self.spark, self._proc
        if spark is not None and self.state == "ready":
            stopper = threading.Thread(target=_quietly, args=(spark.stop,), daemon=True)
            stopper.start()
            stopper.join(timeout)
        self._forget()
        if proc is not None:
            _end_process(proc, timeout=5.0)
        self._done.clear()
        self._set_state("stopped")

    @property
    def jvm_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def info(self) -> SessionInfo:
        """A snapshot of the session's state for status displays."""
        self.check_alive()
        info = SessionInfo(state=self.state, jvm_pid=self.jvm_pid)
        info.master = self.settings.remote or self.settings.master
        if self.state == "ready" and self._connected:  # Spark Connect
            info.version, info.app_id = self._remote_info  # read at start: no call per poll
        elif self.state == "ready":
            try:
                info.version = self.spark.version
                if not self.is_remote:
                    sc = self.spark.sparkContext
                    info.master, info.app_id = sc.master, sc.applicationId
                    info.ui_url = shown_ui_url(sc.uiWebUrl)
            except Exception as exc:  # the JVM may die between the check and the call
                info.error = short_message(exc)
        elif self.error is not None:
            info.error = self.describe_error()
        return info

    def describe_error(self) -> str:
        if self.state == "dead" and self._lost_reason is not None:  # Spark Connect
            return (
                f"the Spark Connect server at {self.settings.remote} {self._lost_reason}; "
                "a new session starts with the next Spark cell (Python variables are kept)"
            )
        if self.state == "dead":
            code = self.last_exit_code
            how = f"was killed by signal {-code}" if code is not None and code < 0 else "exited"
            return (
                f"the Spark driver JVM {how}; the kernel starts a new session "
                "(Python variables are kept)"
            )
        if self.error is None:
            return f"the Spark session is {self.state}"
        text = f"the Spark session could not start: {short_message(self.error)}"
        if isinstance(self.error, internals.DriverExited):
            conf = self.settings.spark_conf()
            jvm = [f"{k}={conf[k]}" for k in _JVM_SETTINGS if k in conf]
            if jvm:
                text += f" (JVM settings: {', '.join(jvm)})"
            if self._startup_lines:
                text += "\nThe JVM said: " + " | ".join(self._startup_lines)
        return text

    # -- building --------------------------------------------------------------------------
    def _build(self) -> None:
        try:
            self._lost_reason = None
            self.settings.check()
            if self.is_remote:
                if self.prepare_thread is not None:
                    self.prepare_thread()
                spark = self._build_remote()
            else:
                spark = self._build_classic()
            self.spark = spark
            self.generation += 1
            self._facts = self._read_facts(spark)
            self.state = "ready"
            self._done.set()
            self._notify()
        except BaseException as exc:
            level = logging.DEBUG if self._superseded else logging.WARNING
            log.log(level, "Spark session failed to start: %s", exc)
            self.error = exc
            self._forget()
            if self._proc is not None:
                _end_process(self._proc, timeout=2.0)
            self.state = "failed"
            self._done.set()
            self._notify()

    # -- the status file (`runtime_status`) -------------------------------------------------
    def _read_facts(self, spark: Any) -> dict[str, Any]:
        """App id, version and Spark UI address of a new session, for the status file."""
        if self.status is None:
            return {}
        if self._connected:
            version, app_id = self._remote_info
            return {"app_id": app_id, "version": version, "ui_url": None}
        try:
            with jvmcalls.internal():
                sc = spark.sparkContext
                return {"app_id": sc.applicationId, "version": sc.version, "ui_url": sc.uiWebUrl}
        except Exception:  # the JVM may die right away; the next report says so
            return {}

    def _report(self) -> None:
        """Rewrite the status file with the session's state (no JVM call)."""
        if self.status is None:
            return
        ready = self.state == "ready"
        facts = self._facts if ready else {}
        self.status.set_session(
            {
                "state": self.state,
                "master": self.settings.remote or self.settings.master,
                "app_id": facts.get("app_id"),
                "version": facts.get("version"),
                "ui_url": facts.get("ui_url"),
                "error": self.describe_error() if self.state in {"failed", "dead"} else None,
                "jvm_pid": self.jvm_pid if ready else None,
            }
        )

    def _build_remote(self) -> Any:
        import warnings

        from pyspark.sql import SparkSession

        from .remote import answers

        url = self.settings.remote
        why = answers(url, timeout=5.0)
        if why is not None:  # fail now, not after minutes of client retries
            raise SessionError(f"the Spark Connect server at {url} does not answer ({why})")
        # `SparkSession.builder.getOrCreate()` in a cell returns this session (it reads
        # SPARK_REMOTE); the builder itself sets SPARK_CONNECT_MODE_ENABLED.
        os.environ["SPARK_REMOTE"] = url
        builder = SparkSession.builder.remote(url)
        for key, value in self.settings.conf.items():
            if str(key) not in {"spark.master", "spark.remote"}:  # `remote` decides where
                builder = builder.config(str(key), str(value))
        spark = builder.getOrCreate()
        try:
            internals.bound_connect_retries(spark.client)
            warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")  # errors say it
            version = spark.version  # the server answers Spark requests
            try:
                app_id = spark.conf.get("spark.app.id")
            except Exception:
                app_id = None
        except BaseException:
            internals.forget_connect_session(spark)  # the next start must not reuse this client
            threading.Thread(target=_quietly, args=(spark.stop,), daemon=True).start()
            raise
        self._remote_info = (version, app_id)
        return spark

    def _build_classic(self) -> Any:

        # A Spark Connect session used before in this process left these set; with them,
        # pyspark.sql.functions would build Connect columns.
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        os.environ.pop("SPARK_REMOTE", None)
        preparing = _in_background(self.prepare_thread, "spark-prepare")
        launch, self._early = self._early, None
        conf = launch.conf if launch is not None else self._launch_conf()
        gateway = internals.active_gateway()
        preinitializing = None
        if gateway is None or self._proc is None or self._proc.poll() is not None:
            if launch is None:
                if (java := missing_java()) is not None:
                    raise SessionError(java)
                launch = self._spawn(conf)
            gateway = self._join(launch)  # else: the user stopped the session, the JVM lives on
            preinitializing = preinitialize(gateway)
        from pyspark import SparkConf, SparkContext
        from pyspark.sql import SparkSession

        if preparing is not None and internals.active_gateway() is not None:
            preparing.join()  # the SparkConf below converts values through that JVM
        spark_conf = SparkConf(loadDefaults=False).setAll(list(conf.items()))
        self._go.wait()  # a held session: until the kernel adopts it
        if self._superseded:
            _quietly(gateway.shutdown)
            raise SessionError(_SUPERSEDED)
        preparing = preparing or self._preparing
        if preparing is not None:
            preparing.join()  # before PySpark's first conversion of a Python value
        sc = SparkContext(conf=spark_conf, gateway=gateway)
        sc.setLogLevel(self.settings.log_level)
        internals.guard_accumulator_server(sc, _log_stray_connection, ACCUMULATOR_READ_TIMEOUT)
        if preinitializing is not None:
            preinitializing.join()
        return SparkSession(sc)

    def _launch_conf(self) -> dict[str, str]:
        """The settings the driver JVM is launched with (PySpark is imported once it is
        launched)."""
        conf = self.settings.spark_conf()
        jars = package_jars(self.settings.packages)
        if jars:
            conf["spark.jars"] = ",".join(filter(None, [conf.get("spark.jars", ""), *jars]))
        if conf.get("spark.driver.host", "") in {"127.0.0.1", "localhost"}:
            # Spark otherwise looks up a non-loopback address for its own services, and its
            # UI binds SPARK_LOCAL_IP or else every interface (spark.driver.bindAddress
            # covers only the driver and block manager). A user's own value is kept.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        if _loopback_master(conf.get("spark.master", "")):
            # Executors of a standalone master on this machine start Python workers with
            # the driver's PYSPARK_PYTHON; unset, they run whatever `python3` their work
            # folder finds, which may lack pyspark's dependencies.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        return conf

    def _launch(self, conf: dict[str, str], archive: bool = True) -> Any:
        """Launch the driver JVM (see `_spawn`) and join it (`_join`)."""
        return self._join(self._spawn(conf, archive))

    def _spawn(
        self,
        conf: dict[str, str],
        archive: bool = True,
        *,
        prepared: classdata.ArchiveUse | None = None,
        remembered: bool = True,
    ) -> _Launch:
        """Start the driver JVM with pipes we already read, so its stdout/stderr come to us
        (and to the cell that is running), even when it fails to start; with its class-data
        archive if it has one (`prepared`: chosen already), from the java command line
        spark-submit built the last time if `remembered` (see `launch_command`)."""
        wanted = archive and self.settings.class_archive != "off"
        self.archive = None  # known once the JVM runs: no build for a JVM that never started
        use = prepared or (classdata.prepare(conf) if wanted else None)
        readers, writers = self._pump_output()
        try:
            with classdata.launcher_options(use):
                spawned = internals.spawn_jvm(
                    conf, stdout=writers[0], stderr=writers[1], remembered=remembered
                )
        except Exception as exc:  # no spark-submit to run: raised by `_join`
            return _Launch(conf, use, readers, None, exc)
        finally:
            for fd in writers:
                os.close(fd)
        return _Launch(conf, use, readers, spawned, None)

    def _join(self, launch: _Launch) -> Any:
        """The gateway to a JVM of `_spawn`; a JVM that did not start with its class-data
        archive is launched again without, one that did not start from a remembered
        command line again through spark-submit (its own lines unseen: the next JVM's
        say what is wrong, if anything still is)."""
        use = launch.archive
        recalled = launch.spawned is not None and launch.spawned.recalled
        try:
            gateway = self._gateway_of(launch, quiet=recalled)
        except BaseException as exc:
            if self._superseded:  # ended by `supersede`: not the archive's fault
                raise SessionError(_SUPERSEDED) from exc
            if recalled and isinstance(exc, Exception):
                log.info("the driver JVM did not start from its remembered command; again")
                self._startup_lines.clear()
                return self._join(self._spawn(launch.conf, prepared=use, remembered=False))
            if use is None or use.path is None or not isinstance(exc, Exception):
                raise
            log.info("the driver JVM did not start with the class-data archive; again without")
            classdata.unprepare(launch.conf, use)
            self._startup_lines.clear()
            gateway = self._launch(launch.conf, archive=False)
            use.refuse(self.jvm_pid)  # it starts without: the archive was the trouble
            self.archive = use
            return gateway
        self._proc = internals.jvm_process(gateway)
        client = internals.gateway_client(gateway)
        self.calls = CallCounter(client)
        self.reflection = ReflectionCache(client)  # outside the counter: kept answers uncounted
        if use is not None:
            use.confirm(self._proc.pid)
        self.archive = use
        self.command_remembered = recalled
        return gateway

    def _gateway_of(self, launch: _Launch, quiet: bool) -> Any:
        """`join_jvm` of the launch (with `quiet`, the JVM's lines meanwhile are not shown,
        nor those it printed as it failed)."""
        self._muted += quiet
        try:
            if launch.spawned is None:
                raise launch.error or SessionError("the driver JVM was not launched")
            try:
                return internals.join_jvm(launch.spawned)
            except BaseException:
                for reader in launch.readers:
                    reader.join(2.0)
                raise
        finally:
            self._muted -= quiet

    def _pump_output(self) -> tuple[list[threading.Thread], list[int]]:
        """Pipes for the JVM's stdout and stderr, each read line by line in a thread."""
        readers, writers, pipes = [], [], []
        for name in ("stdout", "stderr"):
            read_fd, write_fd = os.pipe()
            pipe = _Pipe(name, read_fd)
            reader = threading.Thread(
                target=self._read_lines, args=(pipe,), name=f"jvm-{name}", daemon=True
            )
            reader.start()
            readers.append(reader)
            writers.append(write_fd)
            pipes.append(pipe)
        self._pipes = pipes
        return readers, writers

    def _read_lines(self, pipe: _Pipe) -> None:
        pending = b""
        while True:
            pipe.idle = True
            chunk = os.read(pipe.fd, 65536)
            pipe.idle = False
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                self._deliver(pipe.name, raw.decode("utf-8", errors="replace") + "\n")
        if pending:
            self._deliver(pipe.name, pending.decode("utf-8", errors="replace"))
        os.close(pipe.fd)
        pipe.closed = True

    def _deliver(self, name: str, line: str) -> None:
        if self.state == "starting":
            self._startup_lines.append(line.rstrip())
        if self._muted:
            log.debug("jvm %s (during the kernel's own work): %s", name, line.rstrip())
            return
        sink = self.output_sink
        if sink is not None:
            try:
                sink(name, line)
            except Exception:  # a broken sink must not stop the pump
                log.exception("JVM output sink failed")

    @contextlib.contextmanager
    def own_work(self, label: str) -> Iterator[str]:
        """Spark work the kernel does for itself on this thread (a preview, a listing, a
        warm-up). Its jobs carry a tag of their own (yielded, to cancel them) instead of
        the running cell's, so they are neither in the cell's progress nor in its record;
        they are described as `label` in the Spark UI; and the JVM's lines written
        meanwhile are not shown in any cell (they go to the kernel's debug log)."""
        spark = self.spark
        tag = f"{OWN_TAG_PREFIX}{uuid.uuid4().hex[:12]}"
        with jvmcalls.internal():
            restore = _own_tags(spark, tag, label)
            with self._own_lock:
                self._muted += 1
                self._own_tags[tag] = not getattr(self._requests, "active", False)
        try:
            yield tag
        finally:
            with jvmcalls.internal():
                try:
                    self.drain_output()
                finally:
                    with self._own_lock:
                        self._muted -= 1
                        self._own_tags.pop(tag, None)
                    restore()

    @contextlib.contextmanager
    def frontend_request(self) -> Iterator[None]:
        """This thread serves a request of the frontend (a channel op: a page, a chart, an
        export the user asked for): its `own_work` is not cancelled by `cancel_own_work`."""
        before = getattr(self._requests, "active", False)
        self._requests.active = True
        try:
            yield
        finally:
            self._requests.active = before

    def cancel_own_work(self) -> None:
        """The user's Spark work comes first: cancel the jobs of the `own_work` blocks
        under way that the kernel started by itself (a warm-up, a cell's preview; not a
        `frontend_request`), from another thread so this never waits for the JVM, and
        count up `own_epoch`, which background work checks between its steps."""
        with self._own_lock:
            self.own_epoch += 1
            tags = [tag for tag, cancellable in self._own_tags.items() if cancellable]
        spark = self.spark
        if tags and spark is not None and self.state == "ready":
            threading.Thread(
                target=_cancel_tags, args=(spark, tags), name="own-work-cancel", daemon=True
            ).start()

    def drain_output(self, timeout: float = 0.5) -> None:
        """Wait (up to `timeout`) until every line the JVM has written so far has been
        handed to the output sink, so a cell's JVM output arrives before its end."""
        deadline = time.monotonic() + timeout
        while not all(pipe.drained() for pipe in self._pipes):
            if time.monotonic() >= deadline:
                return
            time.sleep(0.002)

    def _forget(self) -> None:
        """Drop PySpark's cached context and gateway so a new JVM can be launched."""
        if self._connected:  # Spark Connect: drop the client's default session
            internals.forget_connect_session(self.spark)
            self._remote_info = (None, None)
        gateway = internals.forget_classic_session()
        if gateway is not None:
            threading.Thread(target=_quietly, args=(gateway.shutdown,), daemon=True).start()
        self.spark = None


@dataclass
class _Launch:
    """A driver JVM started by `SessionManager._spawn`, not joined yet."""

    conf: dict[str, str]
    archive: ArchiveUse | None
    readers: list[threading.Thread]  # of its stdout and stderr
    spawned: internals.SpawnedJVM | None
    error: Exception | None  # why it could not be started


def _own_tags(spark: Any, tag: str, label: str) -> Callable[[], None]:
    """Replace this thread's job tags by `tag` (and its job description by `label`);
    return the function that puts the old ones back."""
    if spark is None:
        return lambda: None
    if not internals.is_classic(spark):  # Spark Connect: tags only
        old = set(spark.getTags())
        for t in old:
            spark.removeTag(t)
        spark.addTag(tag)

        def restore_connect() -> None:
            with contextlib.suppress(Exception):
                spark.removeTag(tag)
                for t in old:
                    spark.addTag(t)

        return restore_connect
    sc = spark.sparkContext
    old_tags = internals.thread_job_tags(sc)
    old_description = sc.getLocalProperty("spark.job.description")
    internals.set_thread_job_tags(sc, tag)
    sc.setJobDescription(label)

    def restore_classic() -> None:
        with contextlib.suppress(Exception):  # the JVM may have died meanwhile
            internals.set_thread_job_tags(sc, old_tags)
            sc.setLocalProperty("spark.job.description", old_description)

    return restore_classic


def _log_stray_connection(request: Any, client_address: Any) -> None:
    """A connection PySpark's accumulator server could not read goes to the debug log;
    PySpark would print its traceback on stderr, that is in the running cell. The usual
    sender is not Spark but a stray client, such as the channels of a kernel that died,
    reconnecting to a port that kernel used and this server now has."""
    log.debug(
        "accumulator server: a connection from %s failed: %s", client_address, sys.exc_info()[1]
    )


def _cancel_tags(spark: Any, tags: list[str]) -> None:
    with jvmcalls.internal():
        for tag in tags:
            try:
                if internals.is_classic(spark):
                    spark.sparkContext.cancelJobsWithTag(tag)
                else:
                    spark.interruptTag(tag)
            except Exception as exc:  # the work may have ended, or the JVM with it
                log.debug("could not cancel the kernel's own jobs %s: %s", tag, exc)


def package_jars(packages: list[str]) -> list[str]:
    """The jars of the bundled package sets named in the settings (``kafka``)."""
    jars: list[str] = []
    for name in packages:
        if name != "kafka":
            raise SettingsError(f"unknown package set {name!r} (known: kafka)")
        from .maven import spark_kafka_connector_jars

        jars.extend(str(path) for path in spark_kafka_connector_jars())
    return jars


def short_message(exc: BaseException) -> str:
    """The first line of an exception's message, prefixed by its type when unclear."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, (SettingsError, SessionError)):
        return text
    return text if text.startswith("[") else f"{type(exc).__name__}: {text}"


@dataclass
class _Pipe:
    """The read end of one of the JVM's output pipes, and whether its reader is waiting."""

    name: str
    fd: int
    idle: bool = False
    closed: bool = False

    def drained(self) -> bool:
        """True when the reader waits for more and nothing is left unread in the pipe."""
        if self.closed:
            return True
        if not self.idle:
            return False
        try:
            unread = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
        except OSError:  # closed meanwhile
            return True
        return int.from_bytes(unread, sys.byteorder) == 0


def _in_background(func: Callable[[], None] | None, name: str) -> threading.Thread | None:
    """`func` started on a daemon thread of its own (None when there is no `func`)."""
    if func is None:
        return None
    thread = threading.Thread(target=func, name=name, daemon=True)
    thread.start()
    return thread


def _loopback_master(master: str) -> bool:
    """Whether `master` is a standalone master on this machine (spark://127.0.0.1:P)."""
    host = master.removeprefix("spark://").rsplit(":", 1)[0]
    return master.startswith("spark://") and host in {"127.0.0.1", "localhost"}


def _quietly(func: Callable[[], object]) -> None:
    try:
        func()
    except Exception:
        log.debug("ignored error during shutdown", exc_info=True)


def _end_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a child process, then kill it if it does not exit in time."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    except ProcessLookupError:
        pass


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True once no process has ``pid`` (used by tests and shutdown checks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
