"""Spark job progress of one cell: polled from the status tracker for the cell's job tag,
shown as one display updated in place at most 4 times a second, ending in a summary.

Cells whose Spark work is over within `show_after` seconds show nothing, so quick cells
and saved notebooks are not cluttered with summaries of instant jobs."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .driver_calls import DriverCalls
from .iopub import Publisher
from .jvmcalls import internal
from .mimetypes import PROGRESS
from .ui_proxy import shown_ui_url

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.25  # seconds between updates: at most 4 per second


class JobTracker:
    """The status-tracker handles of one SparkContext, fetched once per session."""

    def __init__(self, sc: Any) -> None:
        self.tracker = sc.statusTracker()
        self.calls = DriverCalls.of(sc)
        self.ui_url: str | None = shown_ui_url(sc.uiWebUrl)  # via the Jupyter server, if any

    def job_ids(self, tag: str, describe: Any = None) -> list[int]:
        """Ids of the jobs (running or done) that carry `tag` (see `DriverCalls.job_ids`)."""
        return self.calls.job_ids(tag, describe)


class ProgressDisplay:
    """One cell's progress display, shown once its Spark work has run `show_after` seconds,
    then updated in place; the payload follows the progress mime type's schema."""

    def __init__(
        self,
        publisher: Publisher,
        parent: dict[str, Any],
        show_after: float,
        keep_after: float = 0.0,
    ) -> None:
        self._publisher = publisher
        self._keep_after = keep_after
        self._parent = parent
        self._display_id = publisher.new_display_id()
        self._started = time.monotonic()
        self._show_after = show_after
        self._first: float | None = None  # when the cell's first Spark work was seen
        self._shown = False
        self._last: dict[str, Any] | None = None
        self.job_ids: list[int] = []

    def _due(self) -> bool:
        """True once the cell's Spark work has been running for `show_after` seconds."""
        return self._first is not None and time.monotonic() - self._first >= self._show_after

    def _payload(
        self, state: str, jobs: list[dict[str, Any]], ui_url: str | None
    ) -> dict[str, Any]:
        stages = [s for job in jobs for s in job["stages"]]
        return {
            "version": 1,
            "state": state,
            "elapsed_ms": int((time.monotonic() - self._started) * 1000),
            "ui_url": ui_url,
            "jobs": jobs,
            "totals": {
                "jobs": len(jobs),
                "stages": len(stages),
                "tasks": sum(s["num_tasks"] for s in stages),
                "completed_tasks": sum(s["num_completed_tasks"] for s in stages),
                "failed_tasks": sum(s["num_failed_tasks"] for s in stages),
            },
        }

    def finish(self, state: str, used_spark: bool = True, describe: Any = None) -> list[int]:
        """The cell ended in `state`: publish the summary (if due) and return the job ids;
        `describe` is the DataFrame whose schema and plan the kernel reads next, if any."""
        raise NotImplementedError

    def abandon(self) -> list[int]:
        """The cell ended with its session gone (stopped, killed, lost): stop following it,
        publish nothing, and return the job ids seen."""
        return self.job_ids

    def _end(self, payload: dict[str, Any]) -> None:
        """Publish the final summary; a cell whose Spark work lasted less than
        `keep_after` seconds has its live display cleared instead (nothing is saved)."""
        if self._first is not None and time.monotonic() - self._first < self._keep_after:
            if self._shown:
                self._publisher.display(
                    {}, display_id=self._display_id, parent=self._parent, update=True
                )
            return
        self._publish(payload)

    def _text(self, payload: dict[str, Any]) -> str:
        return progress_text(payload)

    def _publish(self, payload: dict[str, Any]) -> None:
        data = {PROGRESS: payload, "text/plain": self._text(payload)}
        self._publisher.display(
            data, display_id=self._display_id, parent=self._parent, update=self._shown
        )
        self._shown = True
        self._last = payload


class CellProgress(ProgressDisplay):
    """Polls the jobs of one cell's tag in a thread and publishes their progress."""

    def __init__(
        self,
        jobs: JobTracker,
        tag: str,
        publisher: Publisher,
        parent: dict[str, Any],
        show_after: float = 1.0,
        description: str | None = None,
        keep_after: float = 0.0,
    ) -> None:
        super().__init__(publisher, parent, show_after, keep_after)
        self.description = description  # the cell's job description: each job's name
        self._jobs = jobs
        self._tracker = jobs.tracker
        self._ui_url = jobs.ui_url
        self.tag = tag
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the poll thread starts, or the cell ends: not both
        self._thread: threading.Thread | None = None
        # a cell over within one interval never needs a thread of its own (a thread's start
        # and join cost a quick cell about 0.3 ms)
        self._due_poll = TICKER.call_later(MIN_INTERVAL, self._start_polling)

    def _start_polling(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="spark-progress", daemon=True)
            self._thread.start()

    def _stop_polling(self) -> None:
        TICKER.cancel(self._due_poll)
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(2.0)

    def finish(self, state: str, used_spark: bool = True, describe: Any = None) -> list[int]:
        """Stop polling, publish the summary (if any job ran) and return the job ids.
        A cell that made no JVM call (`used_spark` false) ran no job: nothing is asked."""
        self._stop_polling()
        if not used_spark:
            return self.job_ids
        try:
            # nothing to show: the job ids will do (unless progress shows at once: a job
            # quicker than one poll was never seen running)
            if not (self._shown or self._due() or self._show_after <= 0):
                self.job_ids = self._jobs.job_ids(self.tag, describe)
                return self.job_ids
            payload = self._snapshot(state)
        except Exception:  # the JVM may be gone (killed, stopped)
            return self.job_ids
        if payload["jobs"]:
            self._end(payload)
        return self.job_ids

    def abandon(self) -> list[int]:
        # a stopped context's tracker still answers: left to poll, the thread would run
        # (holding a Py4J connection) as long as the kernel
        self._stop_polling()
        return self.job_ids

    def _run(self) -> None:
        with internal():
            self._poll()

    def _poll(self) -> None:  # started one interval after the cell
        while not self._stop.is_set():
            try:
                payload = self._snapshot("running")
            except Exception:
                return
            if payload["jobs"] and self._first is None:
                self._first = time.monotonic()
            if payload["jobs"] and self._due() and changed(self._last, payload):
                self._publish(payload)
            self._stop.wait(MIN_INTERVAL)

    def _snapshot(self, state: str) -> dict[str, Any]:
        ids = self._jobs.job_ids(self.tag)
        self.job_ids = ids
        jobs = [job for job in (self._job(i) for i in ids) if job is not None]
        return self._payload(state, jobs, self._ui_url)

    def _job(self, job_id: int) -> dict[str, Any] | None:
        info = self._tracker.getJobInfo(job_id)
        if info is None:
            return None
        stages = []
        for stage_id in sorted(info.stageIds):
            s = self._tracker.getStageInfo(stage_id)
            if s is None:
                continue
            ran = s.numCompletedTasks + s.numActiveTasks + s.numFailedTasks > 0
            if info.status == "SUCCEEDED" and not ran:
                continue  # skipped stage (its output was reused); nothing to show
            stages.append(
                {
                    "stage_id": stage_id,
                    "attempt": s.currentAttemptId,
                    "name": s.name,
                    "num_tasks": s.numTasks,
                    "num_active_tasks": s.numActiveTasks,
                    "num_completed_tasks": s.numCompletedTasks,
                    "num_failed_tasks": s.numFailedTasks,
                }
            )
        return {
            "job_id": job_id,
            "status": info.status,
            "name": self.description or (stages[0]["name"] if stages else f"job {job_id}"),
            "url": f"{self._ui_url}/jobs/job/?id={job_id}" if self._ui_url else None,
            "num_tasks": sum(s["num_tasks"] for s in stages),
            "num_completed_tasks": sum(s["num_completed_tasks"] for s in stages),
            "num_failed_tasks": sum(s["num_failed_tasks"] for s in stages),
            "stages": stages,
        }


def progress_text(payload: dict[str, Any]) -> str:
    """One line for frontends without the extension (and for the saved notebook)."""
    t = payload["totals"]
    seconds = payload["elapsed_ms"] / 1000
    jobs = ", ".join(str(j["job_id"]) for j in payload["jobs"])
    if payload["state"] == "running":
        return (
            f"Spark: {t['completed_tasks']}/{t['tasks']} tasks, {t['stages']} stages, "
            f"jobs {jobs} ({seconds:.1f} s)"
        )
    noun = "job" if t["jobs"] == 1 else "jobs"
    return (
        f"Spark {payload['state']}: {t['jobs']} {noun} ({jobs}), {t['stages']} stages, "
        f"{t['completed_tasks']}/{t['tasks']} tasks in {seconds:.1f} s"
    )


def changed(last: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether `new` shows anything `last` did not (elapsed time aside)."""
    if last is None:
        return True
    return (last["jobs"], last["totals"]) != (new["jobs"], new["totals"])


class Ticker:
    """Runs callbacks after a delay on one shared daemon thread (started on first use):
    the cheap way to do something only if a cell is still running a moment later."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, callback: Callable[[], None]) -> int:
        """Run `callback` in `delay` seconds (unless cancelled); return its handle."""
        handle = next(self._ids)
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + delay, handle, callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="spark-ticker", daemon=True)
                self._thread.start()
            elif self._due[0][1] == handle:
                # due before all the others: the thread must wait less than it does. Else
                # it wakes in time anyway (quick cells in a row wake it not once each)
                self._wake.notify()
        return handle

    def cancel(self, handle: int) -> None:
        with self._wake:
            if any(h == handle for _, h, _ in self._due):
                self._cancelled.add(handle)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, handle, callback = heapq.heappop(self._due)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                    continue
            try:
                callback()
            except Exception:  # a callback's failure must not stop the others
                log.exception("a delayed callback failed")


TICKER = Ticker()
