"""Soak: one ``pyspark`` kernel through a long, seeded mix of cells, sampled for leaks.

``python -m benchmarks.soak [--cells N] [--every N] [--seed S] [--out DIR]``. The mix has
trivial cells, Spark jobs, ``%%sql``, results of every detection rule, failing cells,
interrupted jobs, time limits, killed driver JVMs, ``%spark restart``, the user's
``spark.stop()``, streaming queries started, stopped and left running, output floods and a
second client running cells at the same time. Every `every` cells it samples the kernel
process (RSS, threads, open files, children, Py4J connections), the driver JVM (heap after
a full GC, threads), what the kernel keeps (``pyspark_kernel.kernel_health()``) and the
time of a trivial and of a small Spark cell. The trivial cell is timed in turn with the same
cell on a control kernel (a second ``pyspark`` kernel that runs nothing else), so that a
slower machine at one sample (other processes, CI neighbours) is not read as the kernel
slowing down: `Sample.trivial_vs_control`. ``tests/soak`` runs the short mode and asserts
leak bounds; the long mode writes a table and a plot to ``benchmarks/soak/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.blocking.client import BlockingKernelClient

from .harness import BenchKernel, log

LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"
TRIVIAL = "_soak_x = 1"
SMALL_SPARK = "spark.range(10).count()"
DEFAULT_OUT = Path(__file__).resolve().parent / "soak"
CONTROL_WARMUP = 100  # trivial cells the control kernel runs before the soak starts

# The mix: (action, weight). Fixed events are placed on top of it (see `plan`).
MIX = [
    ("trivial", 30),
    ("spark_job", 14),
    ("sql", 8),
    ("detect_frame", 8),
    ("detect_view", 5),
    ("detect_parquet", 4),
    ("error_python", 4),
    ("error_spark", 4),
    ("flood", 2),
    ("second_client", 3),
    ("show", 3),
]
# Minimum numbers of the rarer events over a run of 500 cells (scaled with the run).
EVENTS = {
    "interrupt": 10,
    "timeout": 2,
    "jvm_kill": 2,
    "restart": 2,
    "user_stop": 2,
    "stream_start": 3,
    "stream_stop": 2,
}


@dataclass
class Sample:
    """One sample of the kernel's health after `cell` cells."""

    cell: int
    seconds: float
    rss_mb: float
    threads: int
    fds: int
    children: int
    py4j_connections: int
    fd_kinds: dict[str, int]  # open files by kind: socket, pipe, anon_inode, file
    jvm_heap_mb: float | None
    jvm_threads: int | None
    kept: dict[str, Any]
    trivial_ms: float
    spark_ms: float
    control_ms: float | None = None  # the same trivial cell on the control kernel, in turn

    @property
    def trivial_vs_control(self) -> float | None:
        """The trivial cell's time relative to the control kernel's at the same moment."""
        if not self.control_ms:
            return None
        return round(self.trivial_ms / self.control_ms, 3)


@dataclass
class SoakResult:
    cells: int
    seed: int
    samples: list[Sample] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    action_seconds: dict[str, float] = field(default_factory=dict)  # wall time by action
    failures: list[str] = field(default_factory=list)  # cells that did not end as expected
    left_after_shutdown: list[int] = field(default_factory=list)
    seconds: float = 0.0
    # the kernel's RSS at the end, after a full GC, and again with IPython's history of
    # inputs and outputs emptied: how much of the growth is IPython's own
    end_rss_mb: dict[str, float] = field(default_factory=dict)

    def growth(self, metric: str, start_cell: int) -> float | None:
        """Relative growth of `metric` from the sample at `start_cell` to the last one."""
        first = next((s for s in self.samples if s.cell >= start_cell), None)
        last = self.samples[-1] if self.samples else None
        if first is None or last is None:
            return None
        a, b = getattr(first, metric), getattr(last, metric)
        if a is None or b is None or a == 0:
            return None
        return (b - a) / a


def plan(cells: int, seed: int) -> list[str]:
    """The seeded sequence of actions; the rare events are spread over the run (none in
    the first 10 %, the warm-up, nor the last 5 %, so the last sample is not a recovery)."""
    rng = random.Random(seed)
    names, weights = zip(*MIX, strict=True)
    actions = [rng.choices(names, weights)[0] for _ in range(cells)]
    scale = max(1.0, cells / 500)
    slots = list(range(cells // 10, cells - cells // 20))
    rng.shuffle(slots)
    events = [name for name, n in EVENTS.items() for _ in range(round(n * scale))]
    for slot, name in zip(slots, events, strict=False):
        actions[slot] = name
    # streams: starts before stops
    starts = sorted(i for i, a in enumerate(actions) if a == "stream_start")
    stops = sorted(i for i, a in enumerate(actions) if a == "stream_stop")
    for i, j in zip(starts, stops, strict=False):
        if j < i:
            actions[i], actions[j] = actions[j], actions[i]
    return actions


class Soak:
    """Drives one kernel through `plan` and samples it."""

    def __init__(
        self,
        kernel: BenchKernel,
        cells: int,
        every: int,
        seed: int,
        control: BenchKernel | None = None,
    ) -> None:
        self.kernel = kernel
        self.control = control
        self.result = SoakResult(cells=cells, seed=seed)
        self.every = every
        self.actions = plan(cells, seed)
        self.running: list[str] = []  # streaming queries this soak left running
        self.started = time.monotonic()

    # -- running -------------------------------------------------------------------------------
    def run(self) -> SoakResult:
        k = self.kernel
        k.ok("import pyspark_kernel as _soak_pk")
        k.ok(SMALL_SPARK)
        for i, action in enumerate(self.actions, start=1):
            self.result.counts[action] = self.result.counts.get(action, 0) + 1
            began = time.monotonic()
            try:
                getattr(self, f"_{action}")(i)
            except Exception as exc:  # a cell that did not end as it should
                self.result.failures.append(f"cell {i} ({action}): {type(exc).__name__}: {exc}")
                log(f"soak cell {i} {action} failed: {exc}")
            spent = self.result.action_seconds.get(action, 0.0) + time.monotonic() - began
            self.result.action_seconds[action] = round(spent, 2)
            if i == len(self.actions):
                # The queries left running load the machine; the last sample is taken as
                # the first ones were, with none running, so that it compares like with like.
                while self.running:
                    self._expect(f"%streams stop {self.running.pop(0)}")
            if i % self.every == 0:
                self.result.samples.append(self.sample(i))
                s = self.result.samples[-1]
                log(
                    f"soak {i}/{len(self.actions)}: rss {s.rss_mb:.0f} MB, threads {s.threads}, "
                    f"fds {s.fds}, jvm heap {s.jvm_heap_mb} MB, trivial {s.trivial_ms:.1f} ms"
                )
        self.result.seconds = round(time.monotonic() - self.started, 1)
        return self.result

    def _expect(self, code: str, status: str = "ok", timeout: float = 300.0) -> Any:
        cell = self.kernel.run(code, timeout=timeout)
        if cell.timed_out:
            raise TimeoutError(f"{code[:50]!r} did not finish in {timeout} s")
        if cell.status != status:
            raise AssertionError(f"{code[:50]!r}: status {cell.status}, {cell.error}")
        return cell

    def _trivial(self, i: int) -> None:
        self._expect(f"_soak_t = {i}")

    def _spark_job(self, i: int) -> None:
        self._expect(f"_soak_n = spark.range({1000 + i}).selectExpr('sum(id % 7)').collect()")

    def _sql(self, i: int) -> None:
        self._expect(f"%%sql\nSELECT {i} AS n, 'soak' AS s")

    def _detect_frame(self, i: int) -> None:
        self._expect(f"soak_df_{i % 5} = spark.range({i % 50 + 1})")

    def _detect_view(self, i: int) -> None:
        self._expect(f"spark.range(3).createOrReplaceTempView('soak_v{i % 5}')")

    def _detect_parquet(self, i: int) -> None:
        self._expect("spark.range(5).write.mode('overwrite').parquet(OUTPUT_DIR + '/soak.parquet')")

    def _error_python(self, i: int) -> None:
        self._expect("1 / 0", status="error")

    def _error_spark(self, i: int) -> None:
        self._expect("spark.sql('SELECT * FROM soak_no_such_table')", status="error")

    def _flood(self, i: int) -> None:
        self._expect("for _soak_i in range(5000): print('flood', _soak_i)")

    def _show(self, i: int) -> None:
        self._expect("spark.range(3).show()")

    def _second_client(self, i: int) -> None:
        """A second client runs a cell while this one runs a Spark job."""
        assert self.kernel.km is not None
        # a client of its own (its own ZMQ context), as a second frontend has
        other = BlockingKernelClient(connection_file=self.kernel.km.connection_file)
        other.load_connection_file()
        other.start_channels()
        try:
            other.wait_for_ready(timeout=60)
            msg_id = other.execute(f"_soak_other = {i}")
            self._expect("spark.range(2000).selectExpr('sum(id)').collect()")
            reply = other.get_shell_msg(timeout=120)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = other.get_shell_msg(timeout=120)
            if reply["content"]["status"] != "ok":
                raise AssertionError(f"the second client's cell failed: {reply['content']}")
        finally:
            other.stop_channels()

    def _interrupt(self, i: int) -> None:
        sent: dict[str, bool] = {}

        def tick(cell: Any) -> None:
            if cell.busy is not None and not sent and time.monotonic() - cell.busy > 1.0:
                self.kernel.interrupt()
                sent["done"] = True

        cell = self.kernel.run(LONG_JOB, timeout=120, tick=tick)
        if cell.status != "error" or "KeyboardInterrupt" not in str(cell.error):
            raise AssertionError(f"interrupt: {cell.status} {cell.error}")

    def _timeout(self, i: int) -> None:
        self._expect("%spark timeout 2")
        try:
            cell = self.kernel.run(LONG_JOB, timeout=120)
            if "CellTimeout" not in str(cell.error):
                raise AssertionError(f"timeout: {cell.status} {cell.error}")
        finally:
            self._expect("%spark timeout 0")

    def _jvm_kill(self, i: int) -> None:
        jvm = self.kernel.jvm_pid()
        if jvm is not None:
            os.kill(jvm, signal.SIGKILL)
            _wait_dead(jvm, 30)
            # the next Spark cell names the death (unless the kernel already saw it and
            # started a new session), the one after it runs
            cell = self.kernel.run(SMALL_SPARK, timeout=300)
            if cell.status != "ok" and "SparkDriverDied" not in str(cell.error):
                raise AssertionError(f"after a JVM kill: {cell.status} {cell.error}")
        self._expect(SMALL_SPARK)
        self.running.clear()  # the queries died with the JVM

    def _restart(self, i: int) -> None:
        self._expect("%spark restart")
        self.running.clear()

    def _user_stop(self, i: int) -> None:
        self._expect("spark.stop()")
        self._expect(SMALL_SPARK)
        self.running.clear()

    def _stream_start(self, i: int) -> None:
        name = f"soak_q{i}"
        self._expect(
            # A micro-batch every 2 s, as a dashboard's query runs: a query left running
            # loads the machine as little as a user's would, not one batch after another.
            "spark.readStream.format('rate').option('rowsPerSecond', 5).load()"
            f".writeStream.format('noop').queryName('{name}').trigger(processingTime='2 seconds')"
            ".start()"
        )
        self.running.append(name)

    def _stream_stop(self, i: int) -> None:
        if self.running:
            self._expect(f"%streams stop {self.running.pop(0)}")
        else:
            self._trivial(i)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, cell: int) -> Sample:
        k = self.kernel
        # the fastest of several runs (the cell's own cost, not the machine's other load),
        # in turn with the control kernel: both are timed under the same load
        times: list[float] = []
        control_times: list[float] = []
        for _ in range(15):
            times.append(k.ok(TRIVIAL).kernel_seconds)
            if self.control is not None:
                control_times.append(self.control.ok(TRIVIAL).kernel_seconds)
        trivial = min(times) * 1000
        spark = statistics.median(k.ok(SMALL_SPARK).kernel_seconds for _ in range(3)) * 1000
        kept = k.value("_soak_pk.kernel_health()")
        # IPython's own history, which it never bounds (plain ipykernel keeps it too)
        kept["ipython_history"] = k.value(
            "(lambda h: {'inputs': len(h.input_hist_parsed), 'outputs': len(h.outputs), "
            "'namespace': len(get_ipython().user_ns)})(get_ipython().history_manager)"
        )
        kept["thread_names"] = k.value(
            "__import__('collections').Counter(t.name.rstrip('0123456789-') for t in "
            "__import__('threading').enumerate()).most_common()"
        )
        assert k.pid is not None
        proc = psutil.Process(k.pid)
        threads = []
        for _ in range(5):  # the fewest over 2 s: short-lived threads (a poller) come and go
            threads.append(proc.num_threads())
            time.sleep(0.5)
        jvm = k.jvm_pid()
        heap, jvm_threads, gateway_port = _jvm_state(jvm)
        connections = [
            c for c in proc.net_connections(kind="tcp")
            if c.raddr and gateway_port is not None and c.raddr.port == gateway_port
        ]  # fmt: skip
        return Sample(
            cell=cell,
            seconds=round(time.monotonic() - self.started, 1),
            rss_mb=round(proc.memory_info().rss / 2**20, 1),
            threads=min(threads),
            fds=proc.num_fds(),
            fd_kinds=_fd_kinds(proc.pid),
            children=len(proc.children(recursive=True)),
            py4j_connections=len(connections),
            jvm_heap_mb=heap,
            jvm_threads=jvm_threads,
            kept=kept,
            trivial_ms=round(trivial, 2),
            spark_ms=round(spark, 2),
            control_ms=round(min(control_times) * 1000, 2) if control_times else None,
        )


def _fd_kinds(pid: int) -> dict[str, int]:
    """The process's open files by kind (``socket``, ``pipe``, ``anon_inode``, ``file``)."""
    kinds: dict[str, int] = {}
    folder = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in folder.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            kind = (
                target.split(":", 1)[0] if ":" in target and not target.startswith("/") else "file"
            )
            kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


def _jvm_state(pid: int | None) -> tuple[float | None, int | None, int | None]:
    """The JVM's heap in use after a full GC (MB, every generation), its thread count, its
    Py4J port."""
    if pid is None:
        return None, None, None
    try:
        proc = psutil.Process(pid)
        threads = proc.num_threads()
        listening = sorted(
            c.laddr.port for c in proc.net_connections(kind="tcp") if c.status == "LISTEN"
        )
        subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, timeout=60, check=False)
        info = subprocess.run(
            ["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=60
        ).stdout
    except (psutil.Error, OSError, subprocess.TimeoutExpired):
        return None, None, None
    # one line per generation ("PSYoungGen total ..K, used ..K", "ParOldGen ..."), or one
    # for the whole heap with G1 ("garbage-first heap total ..K, used ..K")
    used = re.findall(r"total \d+K, used (\d+)K", info)
    heap = round(sum(int(k) for k in used) / 1024, 1) if used else None
    return heap, threads, _gateway_port(pid, listening)


def _gateway_port(pid: int, listening: list[int]) -> int | None:
    """The Py4J gateway port: the JVM's listening port its parent (the kernel) connects to."""
    try:
        parent = psutil.Process(pid).parent()
        if parent is None:
            return None
        remote = {c.raddr.port for c in parent.net_connections(kind="tcp") if c.raddr}
    except psutil.Error:
        return None
    ports = [p for p in listening if p in remote]
    return ports[0] if ports else None


def run(cells: int, every: int, seed: int, log_dir: Path) -> SoakResult:
    """Start a kernel (and its control), soak it, shut them down, and check nothing of the
    soaked kernel is left."""
    kernel = BenchKernel("pyspark", log_dir).start()
    control = BenchKernel("pyspark", log_dir)
    pids: set[int] = set()
    try:
        control.start()
        control.ok(SMALL_SPARK)
        # as warm as the soaked kernel at its first sample: a control whose JVM and Python
        # paths were still warming up got faster over the run and made the soaked kernel's
        # ratio grow by 10-25 % in CI while its own times did not
        for _ in range(CONTROL_WARMUP):
            control.ok(TRIVIAL)
        soak = Soak(kernel, cells, every, seed, control)
        watcher = threading.Thread(target=_watch_pids, args=(kernel, pids, soak), daemon=True)
        watcher.start()
        result = soak.run()
        result.end_rss_mb = _end_rss(kernel)
    finally:
        if kernel.pid is not None:
            pids.add(kernel.pid)
            pids.update(c.pid for c in _children(kernel.pid))
        kernel.shutdown()
        control.shutdown()
    time.sleep(2.0)
    result.left_after_shutdown = sorted(p for p in pids if _alive(p))
    return result


TRIM = "__import__('gc').collect(); __import__('ctypes').CDLL('libc.so.6').malloc_trim(0)"
FORGET_HISTORY = (
    "_soak_h = get_ipython().history_manager\n"
    "_soak_h.outputs.clear(); _soak_h.exceptions.clear(); _soak_h.output_hist_reprs.clear()\n"
    "get_ipython().displayhook.flush()\n"
    "for _soak_k in [k for k in get_ipython().user_ns if k.startswith('_i') and k[2:].isdigit()]:\n"
    "    del get_ipython().user_ns[_soak_k]\n"
)


def _end_rss(kernel: BenchKernel) -> dict[str, float]:
    """The kernel's RSS after a full GC, then with IPython's history forgotten."""
    out: dict[str, float] = {}
    try:
        assert kernel.pid is not None
        proc = psutil.Process(kernel.pid)
        kernel.ok(TRIM)
        out["after_gc"] = round(proc.memory_info().rss / 2**20, 1)
        kernel.ok(FORGET_HISTORY)
        kernel.ok(TRIM)
        out["without_ipython_history"] = round(proc.memory_info().rss / 2**20, 1)
    except Exception as exc:  # a diagnostic only
        log(f"soak: end RSS not measured: {exc}")
    return out


def _watch_pids(kernel: BenchKernel, pids: set[int], soak: Soak) -> None:
    """Every process the kernel ever started (JVMs come and go with kills and restarts)."""
    while soak.result.seconds == 0.0:
        if kernel.pid is not None:
            pids.update(c.pid for c in _children(kernel.pid))
        time.sleep(1.0)


def _wait_dead(pid: int, timeout: float) -> None:
    """Until `pid` has exited: gone, or a zombie its parent (the kernel) has not reaped yet
    (`psutil.Process.wait` would wait for the reaping, which comes with the next Spark cell)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.05)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def report(result: SoakResult, out: Path) -> None:
    """``soak.json``, ``README.md`` (a table) and ``soak.png`` (each figure over the run)."""
    out.mkdir(parents=True, exist_ok=True)
    data = asdict(result)
    for sample, raw in zip(result.samples, data["samples"], strict=True):
        raw["trivial_vs_control"] = sample.trivial_vs_control
    (out / "soak.json").write_text(json.dumps(data, indent=2))
    metrics = ["rss_mb", "threads", "fds", "py4j_connections", "jvm_heap_mb", "jvm_threads",
               "trivial_ms", "spark_ms", "control_ms", "trivial_vs_control"]  # fmt: skip
    start = result.samples[min(len(result.samples) - 1, len(result.samples) // 5)].cell
    lines = [
        f"# Soak: {result.cells:,} cells of one kernel (seed {result.seed}, {result.seconds / 60:.1f} min)",
        "",
        "Events: " + ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())),
        "",
        "Time by action: "
        + ", ".join(
            f"{k} {v / 60:.1f} min"
            for k, v in sorted(result.action_seconds.items(), key=lambda kv: -kv[1])
        ),
        "",
        f"Growth from cell {start} to cell {result.samples[-1].cell}: "
        + ", ".join(
            f"{m} {g * 100:+.1f} %" for m in metrics if (g := result.growth(m, start)) is not None
        ),
        "",
        "| cell | min | RSS MB | threads | fds | py4j | JVM heap MB | JVM threads | trivial ms "
        "| control ms | trivial / control | Spark ms | kept |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in result.samples:
        kept = ", ".join(
            f"{k} {v}"
            for k, v in s.kept.items()
            if k not in {"threads", "thread_names", "ipython_history"}
        )
        kept += "; IPython history: " + ", ".join(
            f"{k} {v}" for k, v in s.kept.get("ipython_history", {}).items()
        )
        kept += "; fds: " + ", ".join(f"{k} {v}" for k, v in s.fd_kinds.items())
        lines.append(
            f"| {s.cell} | {s.seconds / 60:.1f} | {s.rss_mb} | {s.threads} | {s.fds} | "
            f"{s.py4j_connections} | {s.jvm_heap_mb} | {s.jvm_threads} | {s.trivial_ms} | "
            f"{s.control_ms} | {s.trivial_vs_control} | {s.spark_ms} | {kept} |"
        )
    lines += ["", f"Failures: {len(result.failures)}", *[f"- {f}" for f in result.failures[:20]]]
    lines += [f"Processes left after shutdown: {result.left_after_shutdown or 'none'}", ""]
    if result.end_rss_mb:
        lines += [
            "Kernel RSS at the end, after a full GC: "
            f"{result.end_rss_mb.get('after_gc')} MB; with IPython's history of inputs and "
            f"outputs then emptied: {result.end_rss_mb.get('without_ipython_history')} MB.",
            "",
        ]
    (out / "README.md").write_text("\n".join(lines))
    _plot(result, metrics, out / "soak.png")


def _plot(result: SoakResult, metrics: list[str], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(len(metrics) // 2, 2, figsize=(10, 2.2 * len(metrics) // 2))
    cells = [s.cell for s in result.samples]
    for ax, metric in zip(axes.flat, metrics, strict=False):
        values = [getattr(s, metric) for s in result.samples]
        ax.plot(cells, [float("nan") if v is None else v for v in values], marker=".")
        ax.set_title(metric, fontsize=9)
        ax.set_ylim(bottom=0)
    for ax in axes[-1]:
        ax.set_xlabel("cell")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result = run(args.cells, args.every, args.seed, args.out / "logs")
    report(result, args.out)
    if args.out == DEFAULT_OUT:  # benchmarks/README.md shows it (section 12)
        from . import report as bench_report

        results = DEFAULT_OUT.parent / "results.json"
        if results.exists():
            bench_report.write_readme(json.loads(results.read_text()), results.parent / "README.md")
    log(f"soak done: {len(result.failures)} failures, report in {args.out}")
    return 1 if result.failures or result.left_after_shutdown else 0


if __name__ == "__main__":
    raise SystemExit(main())
