"""Kernels driven over the Jupyter protocol with timestamps, RSS sampling and statistics."""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import math
import os
import queue
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.jsonutil import parse_date
from jupyter_client.manager import KernelManager

PYSPARK = "pyspark"
PLAIN = "python3"

# The obvious alternative: a plain ipykernel kernel whose first cell builds the session.
PLAIN_SETUP = (
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.master('local[*]')"
    ".config('spark.ui.showConsoleProgress','false').getOrCreate()"
)

# Both kernels bind Spark's driver and UI to loopback (the pyspark kernel does so itself).
KERNEL_ENV = {"SPARK_LOCAL_IP": "127.0.0.1"}


class CellFailed(RuntimeError):
    """A cell the benchmark needs did not end with status ``ok``."""


@dataclass
class Cell:
    """One executed cell: its reply, IOPub messages and timestamps (``time.monotonic``)."""

    code: str
    sent: float
    busy: float | None = None
    idle: float | None = None
    busy_date: dt.datetime | None = None  # kernel-side, from the message headers
    idle_date: dt.datetime | None = None
    reply: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    @property
    def seconds(self) -> float:
        """From sending ``execute_request`` to the kernel's ``idle`` status for it."""
        end = self.idle if self.idle is not None else time.monotonic()
        return end - self.sent

    @property
    def kernel_seconds(self) -> float:
        """From the kernel's ``busy`` to its ``idle`` status for this cell, by the kernel's own
        message timestamps: free of this process's scheduling delays on a busy machine."""
        if self.busy_date is None or self.idle_date is None:
            return self.seconds
        return (self.idle_date - self.busy_date).total_seconds()

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timeout"
        return str(self.reply.get("content", {}).get("status", "unknown"))

    @property
    def execution_count(self) -> int | None:
        return self.reply.get("content", {}).get("execution_count")

    @property
    def error(self) -> str | None:
        for m in self.messages:
            if m["msg_type"] == "error":
                c = m["content"]
                return short_error(c["ename"], c["evalue"])
        if self.status not in {"ok", "unknown"}:
            return self.status
        return None

    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    def data(self, mime: str) -> list[Any]:
        types = {"display_data", "execute_result", "update_display_data"}
        return [
            m["content"]["data"][mime]
            for m in self.messages
            if m["msg_type"] in types and mime in m["content"]["data"]
        ]


class BenchKernel:
    """A kernel started by name, with its client, process ids and a log file."""

    def __init__(self, name: str, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_dir = log_dir
        self.env = dict(env or {})  # extra environment for the kernel process
        self.km: KernelManager | None = None
        self.kc: Any = None
        self.pid: int | None = None
        self.known_jvms: set[int] = set()
        self.started_at: float = 0.0
        self.started_wall: float = 0.0
        self.ready_at: float = 0.0
        self._log: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> BenchKernel:
        """Start the kernel and wait for its ``kernel_info`` reply."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(  # noqa: SIM115 (closed in shutdown)
            self.log_dir / f"{self.name}-{int(time.time() * 1000)}.log", "wb"
        )
        self.km = KernelManager(kernel_name=self.name)
        self.started_at, self.started_wall = time.monotonic(), time.time()
        self.km.start_kernel(
            env={**os.environ, **KERNEL_ENV, **self.env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = _kernel_pid(self.km)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=timeout)
        self.ready_at = time.monotonic()
        return self

    def jvm_pid(self) -> int | None:
        """The Spark driver JVM started by this kernel (a ``java`` descendant), if any."""
        if self.pid is None:
            return None
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for child in children:
            with contextlib.suppress(psutil.Error):
                if child.name() == "java":
                    self.known_jvms.add(child.pid)
                    return child.pid
        return None

    def interrupt(self) -> None:
        assert self.km is not None
        self.km.interrupt_kernel()

    def shutdown(self, grace: float = 20.0) -> list[int]:
        """Shut the kernel down, then kill what is left of it and its JVM; return leftovers
        that had to be killed."""
        self.jvm_pid()
        pids = [p for p in [self.pid, *sorted(self.known_jvms)] if p is not None]
        with contextlib.suppress(psutil.Error):
            if self.pid is not None:
                pids += [c.pid for c in psutil.Process(self.pid).children(recursive=True)]
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)
        killed = end_processes(sorted(set(pids)), grace)
        if self._log is not None:
            self._log.close()
        return killed

    # -- cells -----------------------------------------------------------------------------
    def run(
        self,
        code: str,
        timeout: float = 300.0,
        tick: Callable[[Cell], None] | None = None,
    ) -> Cell:
        """Execute `code` and wait for its ``idle`` status; `tick(cell)` is called about
        every 20 ms while it runs (to interrupt it, sample memory, ...)."""
        kc = self.kc
        cell = Cell(code=code, sent=time.monotonic())
        msg_id = kc.execute(code, store_history=True)
        deadline = cell.sent + timeout
        while True:
            now = time.monotonic()
            if now > deadline:
                cell.timed_out = True
                return cell
            if tick is not None:
                tick(cell)
            try:
                msg = kc.get_iopub_msg(timeout=0.02)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                state = msg["content"]["execution_state"]
                if state == "busy":
                    cell.busy, cell.busy_date = time.monotonic(), header_date(msg)
                elif state == "idle":
                    cell.idle, cell.idle_date = time.monotonic(), header_date(msg)
                    break
                continue
            msg["received"] = time.monotonic()
            cell.messages.append(msg)
        reply = kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=30)
        cell.reply = reply
        return cell

    def ok(self, code: str, timeout: float = 300.0) -> Cell:
        """Run `code` and raise `CellFailed` unless it succeeded."""
        cell = self.run(code, timeout)
        if cell.status != "ok":
            raise CellFailed(f"{self.name}: {code[:60]!r} -> {cell.error}")
        return cell

    def value(self, expression: str, timeout: float = 60.0) -> Any:
        """Evaluate `expression` in the kernel; its repr must be a Python literal."""
        cell = self.ok(f"print(repr({expression}))", timeout)
        return ast.literal_eval(cell.stdout().strip())

    # -- the pyspark-kernel.v1 comm --------------------------------------------------------
    def comm_request(
        self, data: dict[str, Any], timeout: float = 600.0
    ) -> tuple[dict[str, Any], int]:
        """Send a request on this kernel's ``pyspark-kernel.v1`` comm (opened on first use)
        and return its reply and the reply's size in bytes on the wire (JSON)."""
        kc = self.kc
        if getattr(self, "_comm_id", None) is None:
            self._comm_id = uuid.uuid4().hex
            opened = {"comm_id": self._comm_id, "target_name": "pyspark-kernel.v1", "data": {}}
            kc.shell_channel.send(kc.session.msg("comm_open", opened))
        kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": self._comm_id, "data": data}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            if msg["msg_type"] != "comm_msg" or msg["content"]["comm_id"] != self._comm_id:
                continue
            reply = msg["content"]["data"]
            if "ok" in reply and not reply.get("push") and reply.get("id") == data.get("id"):
                return reply, len(json.dumps(msg["content"]).encode())
        raise TimeoutError(f"{self.name}: no reply to {data.get('op')} in {timeout} s")


def short_error(ename: str, evalue: str) -> str:
    """``ename: first line``, plus the last ``Caused by:`` of a Java stack trace."""
    lines = [line.strip() for line in evalue.splitlines() if line.strip()]
    text = f"{ename}: {lines[0] if lines else ''}"
    causes = [line for line in lines if line.startswith("Caused by:")]
    if causes:
        text += f" ({causes[-1]})"
    return text[:300]


def header_date(msg: dict[str, Any]) -> dt.datetime | None:
    """When the kernel created `msg` (its header's ``date``, timezone-aware)."""
    date = msg.get("header", {}).get("date")
    if isinstance(date, str):
        date = parse_date(date)
    return date if isinstance(date, dt.datetime) else None


def _kernel_pid(km: KernelManager) -> int | None:
    provisioner = getattr(km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None)


def end_processes(pids: Iterable[int], grace: float) -> list[int]:
    """Wait up to `grace` s for `pids` to exit, then kill those left; return the killed."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    _gone, alive = psutil.wait_procs(procs, timeout=grace)
    killed = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
            killed.append(proc.pid)
    psutil.wait_procs(alive, timeout=5)
    return killed


def alive(pids: Iterable[int]) -> list[int]:
    """The pids among `pids` that still run (zombies count as gone)."""
    left = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
    return left


# -- memory ----------------------------------------------------------------------------------
class RssSampler:
    """Samples the RSS of some processes every `interval` s in a thread; keeps the peaks.

    The kernel's high-water mark (``VmHWM``) is reset before and read after, where Linux
    allows it, as an exact cross-check of the sampled peak."""

    def __init__(
        self,
        pids: dict[str, int | None],
        interval: float = 0.02,
        limit: tuple[str, int, Callable[[], None]] | None = None,
    ) -> None:
        self.procs: dict[str, psutil.Process] = {}
        for label, pid in pids.items():
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    self.procs[label] = psutil.Process(pid)
        self.interval = interval
        self.limit = limit
        self.before: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.hwm: dict[str, int | None] = {}
        self.samples = 0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        for label, proc in self.procs.items():
            _reset_hwm(proc.pid)
            self.before[label] = self.peak[label] = _rss(proc)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        for label, proc in self.procs.items():
            self.hwm[label] = _read_hwm(proc.pid)

    def _sample(self) -> None:
        self.samples += 1
        for label, proc in self.procs.items():
            rss = _rss(proc)
            if rss > self.peak.get(label, 0):
                self.peak[label] = rss
        if self.limit is not None and not self.exceeded:
            label, limit, action = self.limit
            if self.peak.get(label, 0) > limit:
                self.exceeded = True
                action()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples, "interval_s": self.interval}
        for label in self.procs:
            out[f"{label}_rss_before_mb"] = mb(self.before.get(label, 0))
            out[f"{label}_peak_rss_mb"] = mb(self.peak.get(label, 0))
            hwm = self.hwm.get(label)
            out[f"{label}_hwm_mb"] = mb(hwm) if hwm is not None else None
        return out


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def _reset_hwm(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _read_hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def mb(n: float) -> float:
    return round(n / 2**20, 1)


# -- statistics --------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, `q` in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(seconds: list[float]) -> dict[str, Any]:
    """Median, p95, mean, min, max (in ms) of samples given in seconds."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return round(a / b, 3)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def stopwatch(label: str) -> Iterator[dict[str, Any]]:
    """Time a step and note how busy the machine was meanwhile (other workloads share it)."""
    out: dict[str, Any] = {"load_avg_1m_before": round(os.getloadavg()[0], 2)}
    psutil.cpu_percent(None)
    start = time.monotonic()
    log(f"{label} ...")
    try:
        yield out
    finally:
        out["seconds"] = round(time.monotonic() - start, 1)
        out["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        out["system_cpu_percent"] = psutil.cpu_percent(None)
        log(
            f"{label} done in {out['seconds']:.1f} s (load {out['load_avg_1m_before']} -> "
            f"{out['load_avg_1m_after']}, CPU {out['system_cpu_percent']:.0f}%)"
        )
