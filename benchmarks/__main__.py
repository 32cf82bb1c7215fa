"""``python -m benchmarks [--quick] [--out benchmarks/results.json]``.

Runs, in this order (fresh kernels are needed first): time to first result, per-cell
overhead, result preview vs data size, interrupt, streaming (Kafka broker start, throughput
kernel vs spark-submit, end-to-end latency), cluster and Spark Connect (full mode only),
batch runs (full mode only). Writes the results file, a Markdown
summary (README.md) and a plot (preview_vs_rows.png) next to it, and leaves no kernel and
no Spark JVM running (and stops the Kafka broker if it started it).
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

from . import (
    batch,
    cluster,
    completion,
    dropin,
    environment,
    interrupt,
    overhead,
    paging,
    preview,
    report,
    startup,
    streaming,
)
from .harness import BenchKernel, alive, end_processes, log, stopwatch

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "startup",
    "overhead",
    "preview",
    "interrupt",
    "dropin",
    "completion",
    "paging",
    "streaming",
    "cluster",
    "batch",
)


@dataclass(frozen=True)
class Profile:
    startup_samples: int
    startup_no_archive: bool  # also start the pyspark kernel with its archive off
    build_impact_s: float  # seconds of cells during, then after, a background build (0: none)
    warmup: int
    repeats: int
    hook_repeats: int
    kernel_max_exp: int
    seed_max_exp: int
    preview_repeats: int
    preview_kernel_repeats: int
    interrupt_samples: int
    dropin_warmup: int  # rounds of each cell before timing (the JVMs' JIT warms up too)
    dropin_repeats: int
    ablation_repeats: int
    stream_events: int
    stream_passes: int
    latency_samples: int
    cluster_warmup: int
    cluster_repeats: int  # 0: the cluster / Spark Connect benchmark is skipped
    batch: bool  # nbconvert and `pyspark-kernel demo` wall times
    completion_tables: int
    completion_repeats: int
    paging_max_exp: int
    paging_repeats: int


QUICK = Profile(
    startup_samples=1,
    startup_no_archive=False,
    build_impact_s=0.0,
    warmup=2,
    repeats=6,
    hook_repeats=3,
    kernel_max_exp=9,
    seed_max_exp=6,
    preview_repeats=1,
    preview_kernel_repeats=2,
    interrupt_samples=1,
    dropin_warmup=1,
    dropin_repeats=4,
    ablation_repeats=0,
    stream_events=3_000,
    stream_passes=1,
    latency_samples=3,
    cluster_warmup=0,
    cluster_repeats=0,
    batch=False,
    completion_tables=1_000,
    completion_repeats=5,
    paging_max_exp=7,
    paging_repeats=2,
)
FULL = Profile(
    startup_samples=3,
    startup_no_archive=True,
    build_impact_s=20.0,
    warmup=20,
    repeats=40,
    hook_repeats=20,
    kernel_max_exp=10,
    seed_max_exp=10,
    preview_repeats=3,
    preview_kernel_repeats=5,
    interrupt_samples=3,
    dropin_warmup=5,
    dropin_repeats=12,
    ablation_repeats=20,
    stream_events=100_000,
    stream_passes=2,
    latency_samples=20,
    cluster_warmup=2,
    cluster_repeats=10,
    batch=True,
    completion_tables=1_000,
    completion_repeats=30,
    paging_max_exp=9,
    paging_repeats=5,
)


def _compile_bytecode() -> None:
    """Compile the kernel's modules as ``pip install`` does: an editable install under
    ``PYTHONDONTWRITEBYTECODE`` would compile them again in every kernel it starts (plain
    ipykernel's were compiled when it was installed)."""
    import compileall

    import pyspark_kernel

    compileall.compile_dir(str(Path(pyspark_kernel.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats and smaller sizes (see QUICK in benchmarks/__main__.py)",
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
        help=f"comma-separated subset of {','.join(BENCHMARKS)} (startup always runs: it starts the kernels; once per kernel when not selected)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="only rewrite README.md and the plot from an existing results file",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        _write_reports(json.loads(args.out.read_text()), args.out.parent)
        return 0
    profile = QUICK if args.quick else FULL
    only = {name.strip() for name in args.only.split(",")}
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = HERE / "out" / "logs"

    _compile_bytecode()
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
    broker = streaming.Broker()
    try:
        with stopwatch("2. time to first result") as sw:
            # one start of each kernel when the startup benchmark itself is not selected
            measured = "startup" in only
            results["time_to_first_result"], kernels = startup.run(
                profile.startup_samples if measured else 1,
                log_dir,
                started_kernels,
                with_no_archive=measured and profile.startup_no_archive,
                impact_s=profile.build_impact_s if measured else 0.0,
                fresh_archive=measured,
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
            (
                "dropin",
                "dropin_cells",
                "9. cells of real notebooks (previews budgeted)",
                lambda: dropin.run(kernels, profile.dropin_warmup, profile.dropin_repeats),
            ),
            (
                "completion",
                "sql_completion",
                "10. Spark SQL completion with 1,000 views",
                lambda: completion.run(
                    kernels, profile.completion_tables, profile.completion_repeats
                ),
            ),
            (
                "paging",
                "paging",
                "11. a page of the whole result, 10^3 to 10^9 rows",
                lambda: paging.run(kernels, profile.paging_max_exp, profile.paging_repeats),
            ),
            ("streaming", "kafka_broker", "5. Kafka broker start", broker.start),
            (
                "streaming",
                "streaming",
                "5-6. streaming throughput and latency",
                lambda: streaming.run(
                    kernels,
                    broker,
                    profile.stream_events,
                    profile.stream_passes,
                    profile.latency_samples,
                    log_dir,
                ),
            ),
            (
                "cluster",
                "cluster_connect",
                "7. local[2] vs standalone cluster vs Spark Connect",
                lambda: (
                    cluster.run(
                        kernels,
                        profile.cluster_warmup,
                        profile.cluster_repeats,
                        log_dir,
                        started_kernels,
                    )
                    if profile.cluster_repeats
                    else {"skipped": "full mode only (each service takes 30-60 s to start)"}
                ),
            ),
            (
                "batch",
                "batch",
                "8. batch runs",
                lambda: (
                    batch.run(log_dir)
                    if profile.batch
                    else {"skipped": "full mode only (each run starts a kernel)"}
                ),
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
        try:
            broker.stop()
        except Exception as exc:
            results["errors"].append(f"stopping the Kafka broker: {type(exc).__name__}: {exc}")

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
        "dropin_cells",
        "sql_completion",
        "paging",
        "kafka_broker",
        "streaming",
        "cluster_connect",
        "batch",
        "cleanup",
        "errors",
        "merged_runs",
        "section_runs",
    ]
    if only != set(BENCHMARKS) and out.exists():
        keep_previous(results, json.loads(out.read_text()), only)
    results = {k: results[k] for k in order if k in results}
    out.write_text(json.dumps(results, indent=1) + "\n")
    _write_reports(results, out.parent)
    log(f"wrote {out}, README.md and the plot; {results['runtime_s']:.0f} s in all")
    return 1 if results["errors"] else 0


# the results-file sections each benchmark writes
SECTIONS = {
    "startup": ["time_to_first_result"],
    "overhead": ["per_cell_overhead"],
    "preview": ["preview_vs_rows"],
    "interrupt": ["interrupt"],
    "dropin": ["dropin_cells"],
    "completion": ["sql_completion"],
    "paging": ["paging"],
    "streaming": ["kafka_broker", "streaming"],
    "cluster": ["cluster_connect"],
    "batch": ["batch"],
}


def keep_previous(results: dict[str, Any], previous: dict[str, Any], only: set[str]) -> None:
    """With ``--only``, keep the sections of the benchmarks not run now from the previous
    results file (its ``time_to_first_result`` too: with ``--only`` the kernels start once),
    and say in ``merged_runs`` which run each section comes from."""
    kept = [
        field
        for name, fields in SECTIONS.items()
        if name not in only
        for field in fields
        if field in previous
    ]
    if not kept:
        return
    origins = dict(previous.get("section_runs", {}))
    for field in kept:
        results[field] = previous[field]
        origins.setdefault(field, _run_label(previous))
    for field in results:
        if field in {f for fields in SECTIONS.values() for f in fields} and field not in kept:
            origins[field] = _run_label(results)
    results["section_runs"] = origins
    by_run: dict[str, list[str]] = {}
    for field, label in origins.items():
        if field in results:
            by_run.setdefault(label, []).append(f"`{field}`")
    results["merged_runs"] = [
        f"Sections {', '.join(fields)}: {label}." for label, fields in by_run.items()
    ]


def _run_label(run: dict[str, Any]) -> str:
    env = run.get("environment", {})
    mode = "quick" if run.get("quick") else "full"
    commit = env.get("git", {}).get("commit", "?")[:10]
    return f"{mode} run of {env.get('date', '?')} at commit {commit}"


def _write_reports(results: dict[str, Any], folder: Path) -> None:
    report.write_readme(results, folder / "README.md")
    if "preview_vs_rows" in results:
        report.write_plot(results, folder / "preview_vs_rows.png")
    # the project README shows the headline numbers of the latest full runs
    full = all(r.startswith("full") for r in results.get("section_runs", {}).values())
    if folder.resolve() == HERE and not results["quick"] and full:
        report.write_summary(results, HERE.parent / "README.md")


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
