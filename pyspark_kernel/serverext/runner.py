"""One notebook run, in its own process: ``python -m pyspark_kernel.serverext.runner SPEC``.

The server extension (`runs`) starts one runner per run and keeps its stdin: a line
``cancel`` on it, or its end (the server went away), stops the run. The runner injects the
parameters (`parameters`), executes the notebook with nbclient on its own kernel, writes
the executed copy after every cell and a small progress file (atomically) that the server
reads. The kernel's connection file goes in the server's runtime folder, named as the
server names its kernels', and the kernel learns the server's base URL (`SERVER_ENV`, with
the runner's process id as its parent's): so it writes a status file there as the server's
own kernels do, and the server lists it in ``GET status`` and proxies its Spark UI. A run
that is stopped (cancelled, or its ``timeout`` passed) interrupts its kernel,
so the running cell's Spark jobs are cancelled, then shuts the kernel down.

SPEC is a JSON file: ``{"id", "notebook", "output", "progress", "parameters", "timeout",
"kernel", "cwd", "runtime_dir"}``; ``notebook`` is the notebook to run (a copy the server made);
``timeout`` counts from when the kernel is ready (its start is bounded by
`STARTUP_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

import pyspark_kernel.runtime_status as runtime_status
import pyspark_kernel.serverext.parameters as parameters
from pyspark_kernel.ui_proxy import SERVER_ENV, server_env_value

log = logging.getLogger("pyspark_kernel.runner")

# A stopped run ends within about 4.5 s: the interrupted cell gets `STOP_GRACE` seconds to
# end (the kernel answers an interrupt within 3 s, its Spark jobs cancelled), then the
# kernel `STOP_SHUTDOWN_WAIT` seconds to exit on request before it is killed (the server
# kills what is left after `NotebookRuns.stop_timeout`).
STOP_GRACE = 3.0
STOP_SHUTDOWN_WAIT = 1.0
STARTUP_TIMEOUT = 180.0  # a kernel on a busy machine


class RunStopped(Exception):
    """The run was stopped between two cells."""


class Runner:
    """Executes one run's notebook and reports on it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.output = Path(spec["output"])
        self.progress_path = Path(spec["progress"])
        self.nb = nbformat.read(spec["notebook"], as_version=4)
        self.injected = parameters.inject(self.nb, spec.get("parameters") or {})
        self.cells_total = sum(
            1 for c in self.nb.cells if c.cell_type == "code" and c.source.strip()
        )
        self.cells_done = 0
        self.error: dict[str, Any] | None = None
        self.reason: str | None = None  # "cancelled" or "timeout" once stopped
        kernel_id = str(uuid.uuid4())
        runtime = Path(spec.get("runtime_dir") or jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        self.km = AsyncKernelManager(
            kernel_name=spec.get("kernel") or "pyspark",
            kernel_id=kernel_id,
            connection_file=str(runtime / f"kernel-{kernel_id}.json"),
        )
        self.client = NotebookClient(
            self.nb,
            km=self.km,
            timeout=None,
            startup_timeout=int(STARTUP_TIMEOUT),
            allow_errors=False,
            record_timing=True,
            resources={"metadata": {"path": spec["cwd"]}},
            on_notebook_start=self._on_notebook_start,
            on_cell_start=self._on_cell_start,
            on_cell_executed=self._on_cell_executed,
            on_cell_error=self._on_cell_error,
        )
        self._task: asyncio.Future[Any] | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> str:
        self._loop = asyncio.get_running_loop()
        self._report("running")
        threading.Thread(target=self._read_control, name="run-control", daemon=True).start()
        self._task = asyncio.ensure_future(self.client.async_execute())
        status = "succeeded"
        try:
            await self._task
        except (CellExecutionError, RunStopped, DeadKernelError, asyncio.CancelledError) as exc:
            status = self.reason or "failed"
            if status == "failed" and self.error is None:
                self.error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
        except Exception as exc:  # the kernel did not start, the notebook is broken, ...
            status = self.reason or "failed"
            self.error = self.error or {
                "cell": None,
                "ename": type(exc).__name__,
                "evalue": str(exc).strip().splitlines()[0] if str(exc).strip() else "",
            }
        finally:
            await self._shut_kernel()
        if self.reason is not None:
            status = self.reason
        self._write_notebook(status)
        self._report(status, ended=time.time())
        return status

    def stop(self, reason: str) -> None:
        """Stop the run (from the event loop): interrupt the kernel, then tear down."""
        if self.reason is not None or self._task is None or self._task.done():
            return
        self.reason = reason
        log.info("stopping the run: %s", reason)
        self._stopping = asyncio.ensure_future(self._interrupt())

    async def _interrupt(self) -> None:
        self.km.shutdown_wait_time = STOP_SHUTDOWN_WAIT
        try:
            if self.km.has_kernel:
                await self.km.interrupt_kernel()  # the cell's Spark jobs are cancelled
        except Exception as exc:
            log.warning("could not interrupt the kernel: %s", exc)
        deadline = time.monotonic() + STOP_GRACE
        while self._task is not None and not self._task.done():
            if time.monotonic() >= deadline:
                self._task.cancel()
                return
            await asyncio.sleep(0.05)

    async def _shut_kernel(self) -> None:
        """Make sure the run's kernel is gone (nbclient normally shut it down already)."""
        try:
            if self.km.has_kernel and await self.km.is_alive():
                await self.km.shutdown_kernel(now=self.reason is not None)
        except Exception as exc:
            log.warning("could not shut the kernel down: %s", exc)

    def _read_control(self) -> None:
        """``cancel`` on stdin, or its end (the server went away), stops the run."""
        for line in sys.stdin:
            if line.strip() == "cancel":
                break
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.stop, "cancelled")

    # -- nbclient hooks ----------------------------------------------------------------------
    def _on_notebook_start(self, notebook: Any) -> None:
        """The kernel is ready: the run's `timeout` counts from now."""
        self._report("running")  # with the kernel's process
        timeout = self.spec.get("timeout")
        if timeout and self._loop is not None:
            self._loop.call_later(float(timeout), self.stop, "timeout")

    def _on_cell_start(self, cell: Any, cell_index: int) -> None:
        if self.reason is not None:
            raise RunStopped(self.reason)

    def _on_cell_executed(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        if cell.cell_type == "code" and cell.source.strip():
            self.cells_done += 1
        self._write_notebook("running")
        self._report("running")

    def _on_cell_error(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        # The error the cell shows (the kernel may show a shorter one than its reply names,
        # e.g. for an interrupt that landed in a Py4J call).
        shown = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        error = shown[-1] if shown else (execute_reply or {}).get("content", {})
        self.error = {
            "cell": self._source_index(cell_index),
            "cell_id": cell.get("id"),
            "ename": error.get("ename"),
            "evalue": error.get("evalue"),
        }

    def _source_index(self, index: int) -> int | None:
        """The index of cell `index` in the submitted notebook (None: the injected cell)."""
        if self.injected is None or index < self.injected:
            return index
        return None if index == self.injected else index - 1

    # -- reporting ---------------------------------------------------------------------------
    def _write_notebook(self, status: str) -> None:
        self.nb.metadata["pyspark_kernel"] = {
            "run": {
                "id": self.spec["id"],
                "parameters": self.spec.get("parameters") or {},
                "status": status,
                "error": self.error,
            }
        }
        temp = self.output.with_name(f".{self.output.name}.partial")
        nbformat.write(self.nb, str(temp))
        temp.replace(self.output)

    def _report(self, status: str, ended: float | None = None) -> None:
        pid = None
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None:
            pid = process.pid
        runtime_status.write(
            self.progress_path,
            {
                "version": runtime_status.VERSION,
                "status": status,
                "cells_done": self.cells_done,
                "cells_total": self.cells_total,
                "error": self.error,
                "kernel_pid": pid,
                "kernel_id": self.km.kernel_id,
                "ended": ended,
            },
        )


def as_kernel_parent() -> None:
    """Make the run's kernel see the server that started this runner (`SERVER_ENV`, which
    the runner inherited) as its parent: the runner's process id replaces the server's."""
    try:
        base_url = json.loads(os.environ[SERVER_ENV])["base_url"]
    except (KeyError, ValueError, TypeError):  # not started by a server with the extension
        return
    os.environ[SERVER_ENV] = server_env_value(base_url, os.getpid())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    as_kernel_parent()
    try:
        runner = Runner(spec)
    except Exception as exc:  # an unreadable notebook, an unknown kernel
        log.exception("run %s could not start", spec["id"])
        error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
        runtime_status.write(
            Path(spec["progress"]),
            {"version": runtime_status.VERSION, "status": "failed", "cells_done": 0,
             "cells_total": 0, "error": error, "kernel_pid": None, "ended": time.time()},
        )  # fmt: skip
        return 1
    status = asyncio.run(runner.run())
    log.info("run %s ended: %s", spec["id"], status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
