"""``python -m benchmarks [--quick] [--out benchmarks/results.json]``.

Runs, in this order (fresh kernels are needed first): time to first result, per-cell
overhead, result preview vs data size, interrupt. Writes the results file, a Markdown
summary (README.md) and a plot (preview_vs_rows.png) next to it, and leaves no kernel and
no Spark JVM running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from . import environment, interrupt, overhead, preview, report, startup
from .harness import BenchKernel, alive, end_processes, log, stopwatch

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("startup", "overhead", "preview", "interrupt")


@dataclass(frozen=True)
class Profile:
    startup_samples: int
    warmup: int
    repeats: int
    hook_repeats: int
    kernel_max_exp: int
    seed_max_exp: int
    preview_repeats: int
    preview_kernel_repeats: int
    interrupt_samples: int
    ablation_repeats: int


QUICK = Profile(
    startup_samples=1,
    warmup=2,
    repeats=6,
    hook_repeats=3,
    kernel_max_exp=10,
    seed_max_exp=7,
    preview_repeats=1,
    preview_kernel_repeats=2,
    interrupt_samples=1,
    ablation_repeats=0,
)
FULL = Profile(
    startup_samples=3,
    warmup=20,
    repeats=40,
    hook_repeats=20,
    kernel_max_exp=10,
    seed_max_exp=10,
    preview_repeats=3,
    preview_kernel_repeats=5,
    interrupt_samples=3,
    ablation_repeats=20,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats, seed toPandas up to 10^7 rows",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "results.json",
        help="results file (README.md and the plot go next to it)",
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)} (startup always runs: it starts the kernels)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite README.md and the plot from an existing results file",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(args.out.read_text())
        _write_reports(results, args.out.parent)
        return 0
    profile = QUICK if args.quick else FULL
    only = {name.strip() for name in args.only.split(",")}
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = HERE / "out" / "logs"

    started = time.monotonic()
    begun = time.time()
    results: dict[str, Any] = {
        "quick": args.quick,
        "profile": profile.__dict__,
        "environment": environment.describe(HERE.parent),
        "errors": [],
    }
    log(f"{'quick' if args.quick else 'full'} run; reading pyspark jars to warm the file cache")
    environment.warm_file_cache()
    kernels: dict[str, BenchKernel] = {}
    started_kernels: list[BenchKernel] = []
    try:
        with stopwatch("2. time to first result") as sw:
            results["time_to_first_result"], kernels = startup.run(
                profile.startup_samples, log_dir, started_kernels
            )
        results["time_to_first_result"]["runtime_s"] = sw["seconds"]
        results["time_to_first_result"]["machine_load"] = sw
        steps = [
            (
                "overhead",
                "per_cell_overhead",
                "1. per-cell overhead",
                lambda: overhead.run(
                    kernels,
                    profile.warmup,
                    profile.repeats,
                    profile.hook_repeats,
                    profile.ablation_repeats,
                ),
            ),
            (
                "preview",
                "preview_vs_rows",
                "3. result preview vs rows",
                lambda: preview.run(
                    kernels,
                    profile.kernel_max_exp,
                    profile.seed_max_exp,
                    profile.preview_repeats,
                    profile.preview_kernel_repeats,
                ),
            ),
            (
                "interrupt",
                "interrupt",
                "4. interrupt",
                lambda: interrupt.run(kernels, profile.interrupt_samples, explain=not args.quick),
            ),
        ]
        for key, field, label, step in steps:
            if key not in only:
                continue
            try:
                with stopwatch(label) as sw:
                    results[field] = step()
                results[field]["runtime_s"] = sw["seconds"]
                results[field]["machine_load"] = sw
            except Exception as exc:
                results["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
                traceback.print_exc()
    except Exception as exc:
        results["errors"].append(f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        results["cleanup"] = _shut_down(started_kernels, begun)

    results["runtime_s"] = round(time.monotonic() - started, 1)
    # the brief's order: 1 overhead, 2 first result, 3 preview, 4 interrupt
    order = [
        "quick",
        "runtime_s",
        "profile",
        "environment",
        "per_cell_overhead",
        "time_to_first_result",
        "preview_vs_rows",
        "interrupt",
        "cleanup",
        "errors",
    ]
    results = {k: results[k] for k in order if k in results}
    out.write_text(json.dumps(results, indent=1) + "\n")
    _write_reports(results, out.parent)
    log(f"wrote {out}, README.md and the plot; {results['runtime_s']:.0f} s in all")
    return 1 if results["errors"] else 0


def _write_reports(results: dict[str, Any], folder: Path) -> None:
    report.write_readme(results, folder / "README.md")
    if "preview_vs_rows" in results:
        report.write_plot(results, folder / "preview_vs_rows.png")


def _shut_down(started: list[BenchKernel], begun: float) -> dict[str, Any]:
    """Shut every kernel down and check, with psutil, that none of theirs is left."""
    killed: list[int] = []

    def stop(kernel: BenchKernel) -> None:
        with contextlib.suppress(Exception):
            killed.extend(kernel.shutdown())

    # both kernels at once: each shutdown mostly waits (for Spark to stop, the JVM to exit)
    threads = [
        threading.Thread(target=stop, args=(k,))
        for k in started
        if k.km is not None and k.km.has_kernel
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    known_jvms = {p for k in started for p in k.known_jvms}
    known = known_jvms | {k.pid for k in started if k.pid is not None}
    left = alive(known)
    if left:
        killed += end_processes(left, grace=5)
    # Spark driver JVMs (PySpark's gateway runs `pyspark-shell`) started since the run began
    # and still alive; only those of our kernels are ours to kill (done above)
    others = []
    for proc in psutil.process_iter(["name", "cmdline", "create_time"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(proc.info["cmdline"] or [])
            if (
                proc.info["name"] == "java"
                and "pyspark-shell" in cmd
                and proc.info["create_time"] >= begun
            ):
                others.append(proc.pid)
    cleanup = {
        "kernels_started": len(started),
        "jvms_seen": sorted(known_jvms),
        "killed_after_shutdown": killed,
        "left_running": alive(known),
        "jvms_left": alive(known_jvms),
        "other_spark_jvms_started_during_run": [p for p in others if p not in known],
    }
    log(f"cleanup: {cleanup}")
    return cleanup


if __name__ == "__main__":
    raise SystemExit(main())
