"""Benchmark 2: cold start, the time to the first results from kernel start.

Three kernels, started in turn (the order rotates each round), `samples` starts each per
scenario:

- ``pyspark``: the pyspark kernel with its class-data archive, built first (timed) in a
  cache folder of the run's own;
- ``pyspark_no_archive``: the same kernel with the archive off (``class_archive=off``):
  what the background start and the warm-up give alone;
- ``python3``: plain ipykernel, whose first Spark cell builds the session.

Scenario ``immediate``: launch → ``kernel_info`` → ``pass`` → the first
``spark.range(1).count()`` → the first ``createDataFrame(...).toPandas()`` → the first
``spark.sql(...).collect()`` → the driver JVM's memory → a restart (``%spark restart``;
plain: ``spark.stop()`` and the builder again) → a count. Scenario ``paused``: the same,
with 10 s without a cell (a user typing) before the first Spark cell and before the
count after the restart. Before the rounds each pyspark variant starts once, untimed: its
driver's java command line is then remembered (``launch_command``), as after any first
start on a machine. Every sample notes the machine's load. Separately: a pyspark kernel whose archive is missing runs small Spark cells while
its background build runs, then after it: what the build costs the user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

import pyspark_kernel.classdata as classdata
from pyspark_kernel.config import SparkSettings

from .harness import (
    PLAIN,
    PLAIN_SETUP,
    PYSPARK,
    BenchKernel,
    end_processes,
    log,
    mb,
    ratio,
    summarize,
)

PAUSE_S = 10.0
FIRST_CELLS = (
    ("count", "spark.range(1).count()"),
    (
        "to_pandas",
        "spark.createDataFrame([(i, str(i)) for i in range(100)], ['id', 's']).toPandas()",
    ),
    ("sql", "spark.sql('SELECT 1 AS one').collect()"),
)
COUNT = FIRST_CELLS[0][1]
RESTART = {PYSPARK: "%spark restart", PLAIN: f"spark.stop()\n{PLAIN_SETUP}"}
STATUS = "__import__('pyspark_kernel').current().coldstart.status()"
NO_ARCHIVE = "pyspark_no_archive"


@dataclass
class Variant:
    label: str
    kernel: str
    env: dict[str, str] = field(default_factory=dict)


def variants(cache: Path, with_no_archive: bool) -> list[Variant]:
    own = {"PYSPARK_KERNEL_CACHE": str(cache)}
    out = [Variant(PYSPARK, PYSPARK, own), Variant(PLAIN, PLAIN)]
    if with_no_archive:
        out.insert(1, Variant(NO_ARCHIVE, PYSPARK, {**own, "PYSPARK_KERNEL_CLASS_ARCHIVE": "off"}))
    return out


def load() -> float:
    return round(os.getloadavg()[0], 2)


# -- the archive -----------------------------------------------------------------------------------
def build_archive(cache: Path) -> dict[str, Any]:
    """Build the archive from nothing with ``pyspark-kernel warm`` (foreground, normal
    priority); its size and time."""
    env = {**os.environ, "PYSPARK_KERNEL_CACHE": str(cache)}
    before = load()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pyspark_kernel", "warm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = round(time.monotonic() - started, 1)
    out: dict[str, Any] = {
        "command": "pyspark-kernel warm",
        "wall_s": wall,
        "returncode": done.returncode,
        "said": done.stdout.strip().splitlines()[-1:],
        "load_avg_1m_before": before,
        "load_avg_1m_after": load(),
    }
    for meta in (cache / "classdata").glob("*.json"):
        described = json.loads(meta.read_text())
        out["dump_s"] = described.get("build_seconds")
        out["size_mb"] = mb(meta.with_suffix(".jsa").stat().st_size)
    log(f"  archive: {out.get('size_mb')} MB in {wall} s (exit {done.returncode})")
    return out


# -- one start -----------------------------------------------------------------------------------
def one_start(
    variant: Variant, scenario: str, log_dir: Path, started: list[BenchKernel]
) -> tuple[BenchKernel, dict[str, Any]]:
    """Start one kernel, run the first cells of `scenario`; the kernel is left running."""
    sample: dict[str, Any] = {"load_avg_1m": load()}
    kernel = BenchKernel(variant.kernel, log_dir, env=variant.env)
    started.append(kernel)
    kernel.start()
    t0 = kernel.started_at
    trivial = kernel.ok("pass")
    sample["ready_s"] = round(kernel.ready_at - t0, 3)
    sample["first_trivial_s"] = round(trivial.idle - t0 if trivial.idle else 0.0, 3)
    if scenario == "paused":
        time.sleep(max(0.0, PAUSE_S - (time.monotonic() - kernel.ready_at)))
    for i, (name, code) in enumerate(FIRST_CELLS):
        if variant.kernel == PLAIN and i == 0:
            code = f"{PLAIN_SETUP}\n{code}"
        cell = kernel.ok(code)
        sample[f"{name}_cell_s"] = round(cell.kernel_seconds, 3)
        sample[f"{name}_from_launch_s"] = round((cell.idle or time.monotonic()) - t0, 3)
        if name == "count":
            sample["jvm_cpu_s"] = jvm_cpu(kernel.jvm_pid())
            sample["jit_cpu_s"] = jit_cpu(kernel.jvm_pid())
            sample["milestones_s"] = spark_milestones(kernel, kernel.jvm_pid())
    sample["jvm_memory_mb"] = jvm_memory(kernel.jvm_pid())
    if variant.kernel == PYSPARK:
        sample["coldstart"] = kernel.value(STATUS)
    restart = kernel.ok(RESTART[variant.kernel])
    if scenario == "paused":
        time.sleep(PAUSE_S)
    count = kernel.ok(COUNT)
    sample["restart_cell_s"] = round(restart.kernel_seconds, 3)
    sample["count_after_restart_s"] = round(count.kernel_seconds, 3)
    sample["restart_to_count_s"] = round(restart.kernel_seconds + count.kernel_seconds, 3)
    sample["load_avg_1m_after"] = load()
    log(
        f"  {variant.label} ({scenario}): first count {sample['count_from_launch_s']:.2f} s "
        f"from launch (cell {sample['count_cell_s']:.2f} s), toPandas "
        f"{sample['to_pandas_cell_s']:.2f} s, sql {sample['sql_cell_s']:.2f} s, load "
        f"{sample['load_avg_1m']}"
    )
    return kernel, sample


def jvm_cpu(pid: int | None) -> float | None:
    """CPU seconds the driver JVM used so far, with the launcher's JVM that ran before it
    (a child its process waited for): less sensitive to other work on the machine than
    wall time."""
    if pid is None:
        return None
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return round(t.user + t.system + t.children_user + t.children_system, 2)


def jit_cpu(pid: int | None) -> float | None:
    """CPU seconds the driver JVM's JIT compiler threads (C1 and C2) used so far."""
    if pid is None:
        return None
    total = 0.0
    for thread in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if not (thread / "comm").read_text().startswith(("C1 Compiler", "C2 Compiler")):
                continue
            fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return round(total, 2)


def jvm_memory(pid: int | None) -> dict[str, float] | None:
    """RSS, PSS and USS of the driver JVM (the archive's pages are shared file pages:
    in RSS, split in PSS, not in USS)."""
    if pid is None:
        return None
    try:
        info = psutil.Process(pid).memory_full_info()
    except psutil.Error:
        return None
    return {
        "rss": mb(info.rss),
        "pss": mb(getattr(info, "pss", 0)),
        "uss": mb(getattr(info, "uss", 0)),
    }


def spark_milestones(kernel: BenchKernel, jvm: int | None) -> dict[str, Any]:
    """Where the time to the first count went, in seconds from the kernel's launch: the
    driver JVM process started (after the kernel's process, psutil), the SparkContext started (``sc.startTime``), the
    first job submitted and completed (the Spark UI's REST API)."""
    t0 = kernel.started_wall
    out: dict[str, Any] = {}
    try:
        if jvm is not None and kernel.pid is not None:
            # Both start times count from the boot time, which Linux gives in whole
            # seconds: their difference is exact to a clock tick, either alone is not.
            since_kernel = (
                psutil.Process(jvm).create_time() - psutil.Process(kernel.pid).create_time()
            )
            out["jvm_process_started"] = round(since_kernel, 3)
        start_ms, ui, app = kernel.value(
            "(spark.sparkContext.startTime, spark.sparkContext.uiWebUrl, "
            "spark.sparkContext.applicationId)"
        )
        out["spark_context_started"] = round(start_ms / 1000 - t0, 3)
        if ui:
            with urllib.request.urlopen(f"{ui}/api/v1/applications/{app}/jobs", timeout=10) as r:
                jobs = json.load(r)
            if jobs:
                submitted = min(_ui_time(j["submissionTime"]) for j in jobs)
                out["first_job_submitted"] = round(submitted - t0, 3)
                done = [_ui_time(j["completionTime"]) for j in jobs if j.get("completionTime")]
                if done:
                    out["first_job_completed"] = round(max(done) - t0, 3)
                out["jobs_before_first_count_answered"] = len(jobs)
    except Exception as exc:  # a breakdown only: never fail the benchmark for it
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def _ui_time(text: str) -> float:
    """``2026-11-23T17:08:04.123GMT`` -> epoch seconds."""
    return dt.datetime.strptime(text.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


# -- the background build's cost -----------------------------------------------------------------
def kernels_conf() -> dict[str, str]:
    """The Spark settings a kernel started with this environment launches its JVM with
    (its archive's key follows them: the kernel's own driver options are in it)."""
    settings = SparkSettings()
    settings.apply_env()
    return settings.spark_conf()


def build_impact(
    cache: Path, log_dir: Path, started: list[BenchKernel], seconds: float, wait: float
) -> dict[str, Any]:
    """A kernel's small Spark cells before, while and after an archive build runs in the
    background as a kernel starts it (niceness 19). The kernel's own JVM is warmed up
    first, so the three phases differ only by the build."""
    env = {"PYSPARK_KERNEL_CACHE": str(cache), "PYSPARK_KERNEL_CLASS_ARCHIVE": "use"}
    kernel = BenchKernel(PYSPARK, log_dir, env=env)
    started.append(kernel)
    kernel.start()
    cell = "spark.range(10).count()"

    def timed(duration: float) -> list[float]:
        times = []
        until = time.monotonic() + duration
        while time.monotonic() < until:
            times.append(kernel.ok(cell).kernel_seconds)
        return times

    out: dict[str, Any] = {"cell": cell, "warm_up_s": seconds}
    timed(seconds)  # the kernel's JVM warms up
    before = timed(seconds)
    digest = kernel.value(STATUS)["archive"]["key"]
    files = classdata.ArchiveFiles(cache / "classdata", digest)
    saved = os.environ.get("PYSPARK_KERNEL_CACHE")
    os.environ["PYSPARK_KERNEL_CACHE"] = str(cache)
    try:
        classdata.start_build(kernels_conf(), nice=19).wait(60)
    finally:
        if saved is None:
            del os.environ["PYSPARK_KERNEL_CACHE"]
        else:
            os.environ["PYSPARK_KERNEL_CACHE"] = saved
    deadline = time.monotonic() + 30
    while (pid := classdata.builder(files)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not pid:
        kernel.shutdown()
        return {**out, "skipped": "the background build did not start"}
    build = psutil.Process(pid)
    during = timed(seconds)
    java = [p for p in build.children(recursive=True) if p.name() == "java"]
    out["builder_jvm_rss_mb"] = mb(java[0].memory_info().rss) if java else None
    out["builder_nice"] = build.nice()
    begun = time.monotonic()
    psutil.wait_procs([build], timeout=wait)
    if build.is_running():
        out["build_stopped_after_s"] = wait
        end_processes([build.pid, *(p.pid for p in java)], grace=0)
    else:
        out["build_finished_s_after_samples"] = round(time.monotonic() - begun, 1)
    after = timed(seconds)
    kernel.shutdown()
    for name, times in (("before_build", before), ("during_build", during), ("after_build", after)):
        out[name] = summarize(times)
    out["ratio_during_over_before_median"] = ratio(
        out["during_build"]["median_ms"], out["before_build"]["median_ms"]
    )
    out["load_avg_1m_after"] = load()
    log(
        f"  background build: {out['before_build']['median_ms']} ms before, "
        f"{out['during_build']['median_ms']} ms during, {out['after_build']['median_ms']} ms "
        f"after ({out['ratio_during_over_before_median']}x)"
    )
    return out


# -- the run -------------------------------------------------------------------------------------
SUMMARY_KEYS = (
    "ready_s",
    "first_trivial_s",
    "count_from_launch_s",
    "count_cell_s",
    "jvm_cpu_s",
    "jit_cpu_s",
    "to_pandas_cell_s",
    "sql_cell_s",
    "restart_cell_s",
    "count_after_restart_s",
    "restart_to_count_s",
)


def run(
    samples: int,
    log_dir: Path,
    started: list[BenchKernel],
    *,
    with_no_archive: bool = True,
    impact_s: float = 0.0,
    fresh_archive: bool = True,
) -> tuple[dict[str, Any], dict[str, BenchKernel]]:
    """The archive's build (from nothing with `fresh_archive`), then `samples` rounds of
    both scenarios for every kernel variant, rotating the order; the ``pyspark`` and ``python3`` kernels of the last
    ``immediate`` round are returned running, for the other benchmarks. Every kernel
    started is appended to `started` (so it can be cleaned up whatever happens)."""
    cache = log_dir.parent / "cache"
    if fresh_archive:
        _clear(cache)
    archive = build_archive(cache)
    kinds = variants(cache, with_no_archive)
    for variant in kinds:  # a first start each: the driver's command line is remembered
        if variant.label != PLAIN:  # (see launch_command), as after any first start
            kernel, _ = one_start(variant, "immediate", log_dir, started)
            kernel.shutdown()
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {
        scenario: {v.label: [] for v in kinds} for scenario in ("immediate", "paused")
    }
    kept: dict[str, BenchKernel] = {}
    for i in range(samples):
        order = kinds[i % len(kinds) :] + kinds[: i % len(kinds)]
        for scenario in ("immediate", "paused"):
            keep = scenario == "immediate" and i == samples - 1
            for variant in order:
                kernel, sample = one_start(variant, scenario, log_dir, started)
                sample["round"], sample["position"] = i, order.index(variant)
                raw[scenario][variant.label].append(sample)
                if keep and variant.label in (PYSPARK, PLAIN):
                    kept[variant.label] = kernel
                else:
                    kernel.shutdown()
    summary = {
        scenario: {
            label: {key: summarize([r[key] for r in rows if key in r]) for key in SUMMARY_KEYS}
            | {"jvm_rss_mb": _median([(r.get("jvm_memory_mb") or {}).get("rss") for r in rows])}
            | {"jvm_uss_mb": _median([(r.get("jvm_memory_mb") or {}).get("uss") for r in rows])}
            for label, rows in by_label.items()
        }
        for scenario, by_label in raw.items()
    }
    result: dict[str, Any] = {
        "description": __doc__.split("\n\n", 1)[1].strip(),
        "pause_s": PAUSE_S,
        "cells": dict(FIRST_CELLS),
        "restart_cells": RESTART,
        "archive_build": archive,
        "samples": raw,
        "summary": summary,
        "ratios": _ratios(summary),
    }
    if impact_s:
        fresh = log_dir.parent / "cache-impact"
        _clear(fresh)
        result["background_build"] = build_impact(fresh, log_dir, started, impact_s, wait=300)
    return result, kept


def _clear(cache: Path) -> None:
    """Remove the kernel's archives and remembered driver command lines from `cache`."""
    for name in ("classdata", "launch"):
        shutil.rmtree(cache / name, ignore_errors=True)


def _median(values: list[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[(len(known) - 1) // 2] if known else None


def _ratios(summary: dict[str, Any]) -> dict[str, Any]:
    """Medians of each pyspark variant over plain, and the archive's memory."""
    out: dict[str, Any] = {}
    for scenario, by_label in summary.items():
        plain = by_label[PLAIN]
        for label in by_label:
            if label == PLAIN:
                continue
            for key in SUMMARY_KEYS:
                a = by_label[label][key].get("median_ms")
                b = plain[key].get("median_ms")
                out[f"{scenario}.{label}.{key}"] = ratio(a, b)
        if NO_ARCHIVE in by_label:
            out[f"{scenario}.jvm_rss_archive_over_none"] = ratio(
                by_label[PYSPARK]["jvm_rss_mb"], by_label[NO_ARCHIVE]["jvm_rss_mb"]
            )
    return out
