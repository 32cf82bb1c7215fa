"""A fast first Spark cell: each new session warmed up in the background, and the driver
JVM's class-data archive built when it had none.

`ColdStart` follows the session's state. When a session becomes ready and no Spark cell
waits for it, a thread warms it up (`warmup.warm_session`) as the kernel's own work
(`SessionManager.own_work`: its own job tag and description, no JVM line in any cell) and
stops as soon as a Spark cell begins or an interrupt comes (both call
`SessionManager.cancel_own_work`). After ``%spark restart`` (`restarted`) the new session
is warmed up once the restart cell has ended; after the driver JVM died, a new session
starts at the end of the cell that noticed it.

When the driver JVM had no usable class-data archive (``classdata``), and the warm-up is
over, a background process builds one for the next JVMs (once: it goes on if the kernel
ends first, and no kernel starts another while one builds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pyspark_kernel.classdata as classdata
import pyspark_kernel.jvmcalls as jvmcalls

from .cellstate import CellState
from .config import SparkSettings
from .session import SessionManager
from .warmup import warm_session

log = logging.getLogger(__name__)

LABEL = "pyspark-kernel: warm-up"


class ColdStart:
    """Warm-up and archive builds for one kernel's sessions."""

    def __init__(
        self,
        session: SessionManager,
        settings: SparkSettings,
        current: Callable[[], CellState | None],
    ) -> None:
        self.session = session
        self.settings = settings
        self._current = current
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._warmed = 0  # the last session generation warmed up, or left to a Spark cell
        self._after_cell = False  # warm the session up when the running cell ends
        self._again = False  # a session became ready while an older warm-up was ending
        self._build_keys: set[str] = set()  # keys this kernel started a build for
        self.last_warm_up: dict[str, Any] | None = None

    # -- wiring ----------------------------------------------------------------------------
    def register(self) -> None:
        self.session.listen(self._session_changed)

    def unregister(self) -> None:
        """Stop the warm-up (the session is stopped next)."""
        if self._session_changed in self.session.listeners:
            self.session.listeners.remove(self._session_changed)
        self.session.cancel_own_work()

    # -- events ----------------------------------------------------------------------------
    def restarted(self) -> None:
        """``%spark restart`` built a new session: warm it up once the cell ends."""
        self._after_cell = True

    def after_cell(self, result: Any = None) -> None:
        """IPython's ``post_run_cell``, after the cell's own hooks: start a new session if
        the driver JVM died, warm a restarted session up, build a missing archive."""
        session = self.session
        if session.state == "dead" and not session.is_remote and self.settings.warm_up:
            session.start()  # warmed up once ready (`_session_changed`)
            return
        if self._after_cell:
            self._after_cell = False
            self._start(force=True)
        self._maybe_build()

    def _session_changed(self) -> None:
        if self.session.state != "ready":
            return
        cell = self._current()
        if cell is not None and cell.needs_spark:  # that cell waits for this very session
            self._warmed = self.session.generation
            return
        self._start()

    @property
    def warming(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def status(self) -> dict[str, Any]:
        """What the warm-up and the archive did, for tests and benchmarks."""
        archive = self.session.archive
        return {
            "generation": self.session.generation,
            "warming": self.warming,
            "last_warm_up": self.last_warm_up,
            "archive": archive.as_dict() if archive is not None else None,
            "command_remembered": self.session.command_remembered,
            "builds_started": sorted(self._build_keys),
        }

    # -- warm-up ---------------------------------------------------------------------------
    def _start(self, force: bool = False) -> None:
        session = self.session
        if not (session.ready and not session.is_remote and self.settings.warm_up):
            self._maybe_build()
            return
        with self._lock:
            if session.generation == self._warmed and not force:
                return
            if self.warming:
                self._again = True
                return
            self._warmed = session.generation
            self._thread = threading.Thread(
                target=self._warm, args=(session.own_epoch,), name="spark-warm-up", daemon=True
            )
            self._thread.start()

    def _warm(self, epoch: int) -> None:
        """Warm the current session up until the user's Spark work or an interrupt begins."""
        session = self.session
        spark, generation = session.spark, session.generation

        def stop() -> bool:
            return session.own_epoch != epoch or session.spark is not spark or not session.ready

        started = time.monotonic()
        done: list[str] = []
        tag = None
        try:
            with jvmcalls.internal(), session.own_work(LABEL) as tag:
                done = warm_session(spark, stop)
        except Exception as exc:  # cancelled, or the JVM went away: never shown
            log.debug("warm-up ended: %s", str(exc).splitlines()[0] if str(exc) else exc)
        self.last_warm_up = {
            "generation": generation,
            "tag": tag,
            "steps": done,
            "seconds": round(time.monotonic() - started, 3),
            "stopped": stop(),
        }
        log.debug("warm-up: %s", self.last_warm_up)
        with self._lock:
            self._thread = None
            again, self._again = self._again, False
        if again:
            self._start()
        self._maybe_build()

    # -- the class-data archive ------------------------------------------------------------
    def _maybe_build(self) -> None:
        """Build the archive the current driver JVM lacked, once per key and kernel, when
        no warm-up runs and no other process builds it (``class_archive = auto``)."""
        use = self.session.archive
        if self.settings.class_archive != "auto" or use is None or not use.build_wanted:
            return
        with self._lock:
            if self.warming or use.key.digest in self._build_keys:
                return
            self._build_keys.add(use.key.digest)
        try:
            if classdata.building(use.key):
                return
            build = classdata.start_build(use.conf, self.settings.archive_build_nice)
        except OSError as exc:
            log.info("could not start the class-data archive build: %s", exc)
            return
        threading.Thread(target=build.wait, name="classdata-build", daemon=True).start()
        log.info("building the class-data archive %s in the background", use.key.digest)
