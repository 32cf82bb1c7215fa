"""This server's ``pyspark`` kernels and what their status files say: those of its kernel
manager, and those of its notebook runs (each started by the run's own runner process)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyspark_kernel.runtime_status as runtime_status

from ..ui_proxy import KERNEL_ID

if TYPE_CHECKING:
    from .runs import Run

LOOPBACK = "127.0.0.1"


@dataclass
class PySparkKernel:
    """A running kernel of this server that is a ``pyspark`` kernel."""

    id: str
    name: str
    model: dict[str, Any]  # the server's kernel model: execution_state, last_activity, ...
    status: dict[str, Any] | None  # its status file (None until the kernel wrote one)
    run: str | None = None  # the id of the run whose kernel it is (None: the server's)

    @property
    def session(self) -> dict[str, Any]:
        return dict((self.status or {}).get("session") or {"state": "starting"})

    @property
    def streams(self) -> list[dict[str, Any]]:
        return list((self.status or {}).get("streams") or [])

    @property
    def ui_port(self) -> int | None:
        """The port of the kernel's Spark UI on 127.0.0.1, while its session is ready."""
        session = self.session
        return ui_port(session.get("ui_url")) if session.get("state") == "ready" else None


def find(kernel_manager: Any, kernel_id: str, runs: Iterable[Run] = ()) -> PySparkKernel | None:
    """The kernel `kernel_id` of this server if it is a running ``pyspark`` kernel (of its
    kernel manager, or of one of `runs`)."""
    if kernel_id not in kernel_manager:
        return next((k for k in of_runs(runs) if k.id == kernel_id), None)
    km = kernel_manager.get_kernel(kernel_id)
    status = _status_file(km, kernel_id)
    if status is None and not _is_pyspark_spec(km):
        return None
    return PySparkKernel(
        kernel_id, str(km.kernel_name), kernel_manager.kernel_model(kernel_id), status
    )


def find_all(kernel_manager: Any, runs: Iterable[Run] = ()) -> list[PySparkKernel]:
    """Every running ``pyspark`` kernel of this server: its kernel manager's, in the
    server's order, then those of `runs`."""
    found = (find(kernel_manager, kid) for kid in list(kernel_manager.list_kernel_ids()))
    return [k for k in found if k is not None] + of_runs(runs)


def of_runs(runs: Iterable[Run]) -> list[PySparkKernel]:
    """The kernels of the running `runs` that have written their status file (the runner's
    progress names its kernel's id and process; the file is in the runs' runtime folder)."""
    found = []
    for run in runs:
        progress = (run.refresh() if run.status == "running" else None) or {}
        kernel_id, pid = progress.get("kernel_id"), progress.get("kernel_pid")
        if not isinstance(kernel_id, str) or not re.fullmatch(KERNEL_ID, kernel_id):
            continue
        if not isinstance(pid, int):  # not started yet
            continue
        status = _read_status(run.runtime_dir, kernel_id, pid)
        if status is not None:
            model = {"execution_state": None, "last_activity": None, "connections": None}
            found.append(PySparkKernel(kernel_id, run.kernel, model, status, run=run.id))
    return found


def ui_port(url: Any) -> int | None:
    """The port of a Spark UI address on the loopback interface (anything else: None)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in {LOOPBACK, "localhost"} or port is None:
        return None
    return port if 0 < port < 65536 else None


def _status_file(km: Any, kernel_id: str) -> dict[str, Any] | None:
    """The kernel's status file, if it is this kernel process's own."""
    connection_file = getattr(km, "connection_file", "")
    if not connection_file:
        return None
    return _read_status(Path(connection_file).parent, kernel_id, _kernel_pid(km))


def _read_status(folder: str | Path, kernel_id: str, pid: int | None) -> dict[str, Any] | None:
    """The status file of `kernel_id` in `folder`, if it is that of process `pid`."""
    status = runtime_status.read(runtime_status.status_path(folder, kernel_id))
    if status is None or status.get("kernel_id") != kernel_id:
        return None
    if pid is not None and status.get("pid") != pid:  # left by an earlier process
        return None
    return status


def _kernel_pid(km: Any) -> int | None:
    process = getattr(getattr(km, "provisioner", None), "process", None)
    pid = getattr(process, "pid", None)
    return pid if isinstance(pid, int) else None


def _is_pyspark_spec(km: Any) -> bool:
    """Whether the kernel's spec is a pyspark-kernel one (``metadata.pyspark_kernel``)."""
    try:
        spec = km.kernel_spec
    except Exception:
        return False
    return spec is not None and "pyspark_kernel" in (spec.metadata or {})
