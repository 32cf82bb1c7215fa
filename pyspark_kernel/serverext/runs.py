"""Notebook runs of the server extension: each one a `runner` process with its own kernel.

Runs live in the server's memory: they go on when the browser that asked for them
closes, and end with the server (it cancels them when it shuts down; a runner whose
server disappears cancels itself). Each run has a folder of its own under `runs_dir`
(by default ``pyspark-kernel-runs/`` in the server's root, so the executed notebooks open
in JupyterLab) with the executed copy, and hidden files: the notebook as submitted, the
runner's spec, progress and log. Run folders are never deleted by the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Float, Int, Unicode
from traitlets.config import LoggingConfigurable

import pyspark_kernel.runtime_status as runtime_status

FINAL = frozenset({"succeeded", "failed", "timeout", "cancelled"})
RUN_ID = r"[0-9a-f]{16}"


class RunConflict(Exception):
    """A run of the same notebook is still queued or running."""

    def __init__(self, active: Run) -> None:
        super().__init__(f"a run of {active.path} is already {active.status}: {active.id}")
        self.active = active


@dataclass
class Run:
    """One run of a notebook, as the API shows it."""

    id: str
    path: str  # the notebook, relative to the server's root
    parameters: dict[str, Any]
    timeout: float | None
    kernel: str
    folder: Path
    output: Path  # the executed copy
    output_path: str  # `output` relative to the server's root when inside it
    cwd: str
    runtime_dir: str  # where its kernel's connection and status files go
    created: float = field(default_factory=time.time)
    status: str = "queued"
    started: float | None = None
    ended: float | None = None
    error: dict[str, Any] | None = None
    cells_done: int = 0
    cells_total: int | None = None
    cancel_requested: bool = False
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    @property
    def progress_file(self) -> Path:
        return self.folder / ".progress.json"

    def refresh(self) -> dict[str, Any] | None:
        """Take the runner's latest progress; return it."""
        progress = runtime_status.read(self.progress_file)
        if progress is not None:
            self.cells_done = int(progress.get("cells_done") or 0)
            self.cells_total = progress.get("cells_total", self.cells_total)
            self.error = progress.get("error") or self.error
        return progress

    def as_dict(self) -> dict[str, Any]:
        if self.status == "running":
            self.refresh()
        end = self.ended if self.ended is not None else time.time()
        return {
            "id": self.id,
            "path": self.path,
            "kernel": self.kernel,
            "parameters": self.parameters,
            "timeout": self.timeout,
            "status": self.status,
            "created": _iso(self.created),
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "duration_s": round(end - self.started, 3) if self.started is not None else None,
            "output_path": self.output_path,
            "error": self.error,
            "progress": {"cells_done": self.cells_done, "cells_total": self.cells_total},
        }


class NotebookRuns(LoggingConfigurable):
    """The runs of this server: started, queued, cancelled, listed."""

    runs_dir = Unicode(
        "",
        help="Folder for the runs' folders (default: pyspark-kernel-runs in the server's root).",
    ).tag(config=True)
    max_active = Int(2, help="Runs executing at once; later ones wait, queued.").tag(config=True)
    keep = Int(100, help="Finished runs listed by the API (the oldest are forgotten).").tag(
        config=True
    )
    stop_timeout = Float(
        4.5, help="Seconds a cancelled run gets to stop before its processes are killed."
    ).tag(config=True)

    def __init__(self, root_dir: str, runtime_dir: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_dir = Path(root_dir).resolve()
        self.runtime_dir = runtime_dir or jupyter_runtime_dir()
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def folder(self) -> Path:
        return (
            Path(self.runs_dir).expanduser()
            if self.runs_dir
            else self.root_dir / "pyspark-kernel-runs"
        )

    # -- the API's operations ----------------------------------------------------------------
    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def list(self) -> list[Run]:
        """Every known run, newest first."""
        return list(reversed(self._runs.values()))

    def active_for(self, path: str) -> Run | None:
        return next((r for r in self._runs.values() if r.path == path and not r.finished), None)

    def submit(
        self,
        path: str,
        notebook: Any,
        parameters: dict[str, Any],
        timeout: float | None,
        kernel: str,
    ) -> Run:
        """Queue a run of `notebook` (the content of `path`); start it if a slot is free."""
        active = self.active_for(path)
        if active is not None:
            raise RunConflict(active)
        run_id = uuid.uuid4().hex[:16]
        folder = self.folder / run_id
        folder.mkdir(parents=True)
        output = folder / PurePosixPath(path).name
        nbformat.write(nbformat.from_dict(notebook), str(folder / ".notebook.ipynb"))
        source_dir = (self.root_dir / PurePosixPath(path).parent).resolve()
        run = Run(
            id=run_id,
            path=path,
            parameters=parameters,
            timeout=timeout,
            kernel=kernel,
            folder=folder,
            output=output,
            output_path=self._shown_path(output),
            cwd=str(source_dir if source_dir.is_dir() else folder),
            runtime_dir=self.runtime_dir,
        )
        self._runs[run_id] = run
        self._forget_old()
        self._start_queued()
        return run

    async def cancel(self, run: Run) -> Run:
        """Cancel `run`: a queued one at once; a running one within `stop_timeout` seconds
        (its kernel interrupted, so its Spark jobs are cancelled, then shut down)."""
        if run.finished:
            return run
        run.cancel_requested = True
        if run.status == "queued":
            self._finish(run, "cancelled")
            return run
        if run.process is not None:  # else `_execute` sends it once the process exists
            _send_cancel(run.process)
        try:
            await asyncio.wait_for(run.done.wait(), self.stop_timeout)
        except asyncio.TimeoutError:
            self.log.warning("run %s did not stop in %.1f s: killed", run.id, self.stop_timeout)
            _kill(run)
            await run.done.wait()
        return run

    async def stop_all(self) -> None:
        """Cancel every run (the server is shutting down)."""
        active = [r for r in self._runs.values() if not r.finished]
        if active:
            self.log.info("cancelling %d notebook run(s)", len(active))
        await asyncio.gather(*(self.cancel(r) for r in active), return_exceptions=True)

    # -- starting and watching -------------------------------------------------------------
    def _start_queued(self) -> None:
        running = sum(1 for r in self._runs.values() if r.status == "running")
        for run in list(self._runs.values()):
            if running >= self.max_active:
                return
            if run.status == "queued" and not run.cancel_requested:
                task = asyncio.ensure_future(self._execute(run))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                run.status, run.started = "running", time.time()
                running += 1

    async def _execute(self, run: Run) -> None:
        spec = {
            "id": run.id,
            "notebook": str(run.folder / ".notebook.ipynb"),
            "output": str(run.output),
            "progress": str(run.progress_file),
            "parameters": run.parameters,
            "timeout": run.timeout,
            "kernel": run.kernel,
            "cwd": run.cwd,
            "runtime_dir": run.runtime_dir,
        }
        spec_file = run.folder / ".run.json"
        spec_file.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        try:
            with (run.folder / ".runner.log").open("wb") as log:
                run.process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "pyspark_kernel.serverext.runner",
                    str(spec_file),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=run.folder,
                    start_new_session=True,  # the server's Ctrl-C is not the run's
                )
            if run.cancel_requested:
                _send_cancel(run.process)
            code = await self._wait(run)
        except Exception as exc:
            self.log.exception("run %s failed to start", run.id)
            run.error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
            self._finish(run, "failed")
            return
        progress = run.refresh() or {}
        status = progress.get("status")
        if run.cancel_requested:
            status = "cancelled"
        elif status not in FINAL:
            status = "failed"
            run.error = run.error or {
                "cell": None,
                "ename": "RunnerExited",
                "evalue": f"the run's process exited with {code}; see {run.folder}/.runner.log",
            }
        self._finish(run, str(status))

    async def _wait(self, run: Run) -> int:
        """The runner's exit code; a runner that outlives its own timeout is killed."""
        assert run.process is not None
        limit = None if run.timeout is None else run.timeout + 60.0
        try:
            return await asyncio.wait_for(run.process.wait(), limit)
        except asyncio.TimeoutError:
            self.log.warning("run %s outlived its timeout: killed", run.id)
            _kill(run)
            return await run.process.wait()

    def _finish(self, run: Run, status: str) -> None:
        run.status = status
        run.ended = time.time()
        run.done.set()
        self.log.info("run %s of %s: %s", run.id, run.path, status)
        self._start_queued()

    def _forget_old(self) -> None:
        finished = [r.id for r in self._runs.values() if r.finished]
        for run_id in finished[: max(0, len(finished) - self.keep)]:
            del self._runs[run_id]

    def _shown_path(self, path: Path) -> str:
        """`path` relative to the server's root (as JupyterLab opens it) when inside it."""
        try:
            return path.resolve().relative_to(self.root_dir).as_posix()
        except ValueError:
            return str(path)


def _send_cancel(process: asyncio.subprocess.Process) -> None:
    """Tell a runner to stop (its stdin: a ``cancel`` line, then its end)."""
    stdin = process.stdin
    if stdin is None:
        return
    with contextlib.suppress(OSError, RuntimeError):
        stdin.write(b"cancel\n")
        stdin.close()


def _kill(run: Run) -> None:
    """Kill a runner and its kernel (each leads a process group of its own)."""
    progress = runtime_status.read(run.progress_file) or {}
    kernel_pid = progress.get("kernel_pid")
    pids = [p for p in (kernel_pid, run.process.pid if run.process else None) if p]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")
