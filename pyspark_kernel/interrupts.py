"""Interrupt and time limit of the running cell: cancel its Spark jobs by its tag (never all
jobs: streaming queries keep running), then end the cell.

A py4j call made inside the SIGINT handler, on the interrupted thread, would break that
thread's connection and leave the job running: the cancel runs on a short-lived thread,
then the handler raises ``KeyboardInterrupt``. A cell ends only once its cancelled jobs have
left Spark (bounded), and a watchdog cancels jobs submitted under the tag afterwards (a
query that was still being planned when the interrupt landed).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pyspark_kernel.remote as remote
import pyspark_kernel.spark_internals as internals

from .cellstate import CellState
from .config import SparkSettings
from .session import SessionManager

log = logging.getLogger(__name__)

CANCEL_LIMIT = 5.0  # seconds a cell waits for its cancelled jobs to leave Spark
WATCH = 10.0  # seconds the watchdog keeps cancelling late jobs of the tag


class Interrupts:
    """SIGINT and the time limit, for one cell at a time."""

    def __init__(self, session: SessionManager, settings: SparkSettings) -> None:
        self.session = session
        self.settings = settings
        self._cell: CellState | None = None

    def arm(self, cell: CellState) -> Callable[[], None]:
        """From now on SIGINT (on the main thread) and the cell's time limit cancel `cell`'s
        Spark jobs and end it. Returns the function that disarms (restoring the previous
        SIGINT handler); calling it again does nothing."""
        self._cell = cell
        saved = None
        if threading.current_thread() is threading.main_thread():
            saved = signal.signal(signal.SIGINT, self._on_sigint)
        timer = None
        if self.settings.timeout > 0:
            timer = threading.Timer(self.settings.timeout, self._on_timeout, args=(cell,))
            timer.daemon = True
            timer.start()
        done = False

        def disarm() -> None:
            nonlocal done
            if done:
                return
            done = True
            if timer is not None:
                timer.cancel()
            if saved is not None:
                signal.signal(signal.SIGINT, saved)
            if self._cell is cell:
                self._cell = None

        return disarm

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.session.cancel_own_work()  # a warm-up, or a preview the interrupt lands in
        cell = self._cell
        if cell is not None:
            first = not cell.interrupted
            cell.interrupted = True
            if cell.tag:
                self._cancel_async(cell.tag)
            if first and cell.tag and self.session.is_remote and remote.waiting_on_server(frame):
                # Spark Connect: the server ends the call (OPERATION_CANCELED) once the
                # operation is gone, so the cell ends then. A second interrupt, or 3 s
                # without an answer, raises KeyboardInterrupt here at once.
                timer = threading.Timer(3.0, self._interrupt_again, args=(cell,))
                timer.daemon = True
                timer.start()
                return
        raise KeyboardInterrupt

    def _interrupt_again(self, cell: CellState) -> None:
        if self._cell is cell:
            os.kill(os.getpid(), signal.SIGINT)

    def _on_timeout(self, cell: CellState) -> None:
        if self._cell is cell:
            cell.timed_out = True
            os.kill(os.getpid(), signal.SIGINT)

    def _cancel_async(self, tag: str) -> None:
        spark, is_remote = self.session.spark, self.session.is_remote

        def cancel() -> None:
            try:
                if is_remote:
                    spark.interruptTag(tag)
                else:
                    spark.sparkContext.cancelJobsWithTag(tag)
            except Exception as exc:  # `settle` cancels the tag again
                log.debug("could not cancel Spark jobs of %s: %s", tag, exc)

        threading.Thread(target=cancel, name="spark-cancel", daemon=True).start()

    def settle(self, tag: str) -> None:
        """After an interrupted or timed-out cell: wait (bounded) until its jobs have left
        Spark, then keep a watchdog cancelling late ones for a while."""
        if self.session.is_remote:
            remote.interrupt_until_gone(self.session.spark, tag, CANCEL_LIMIT)
            return
        sc = self.session.spark.sparkContext
        deadline = time.monotonic() + CANCEL_LIMIT
        while time.monotonic() < deadline:
            if not internals.cancel_active_jobs(sc, tag):
                break
            time.sleep(0.1)
        else:
            log.warning(
                "pyspark-kernel: the cell's Spark jobs are still stopping %.0f s after the"
                " cancel; they keep being cancelled in the background", CANCEL_LIMIT,
            )  # fmt: skip

        def watchdog() -> None:
            end = time.monotonic() + WATCH
            while time.monotonic() < end:
                try:
                    internals.cancel_active_jobs(sc, tag)
                except Exception:
                    return
                time.sleep(0.25)

        threading.Thread(target=watchdog, name="spark-cancel-watchdog", daemon=True).start()
