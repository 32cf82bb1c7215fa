"""Benchmark 2: time to first result, from kernel start.

For each kernel: start → ``kernel_info`` reply (ready) → first trivial cell (``pass``)
answered → first ``spark.range(1).count()`` answered (in the plain kernel that cell also
builds the SparkSession, as the first cell of a notebook would). All times are from the
moment the kernel process is launched. The pyspark kernel builds its session in the
background from the start, so its trivial cell does not wait for Spark.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from .harness import PLAIN, PLAIN_SETUP, PYSPARK, BenchKernel, log, ratio, summarize

FIRST_COUNT = "spark.range(1).count()"


def first_results(
    name: str, log_dir: Path, started: list[BenchKernel]
) -> tuple[BenchKernel, dict[str, Any]]:
    """Start one kernel and time its first two answers; the kernel is left running."""
    kernel = BenchKernel(name, log_dir)
    started.append(kernel)
    kernel.start()
    t0 = kernel.started_at
    trivial = kernel.ok("pass")
    code = FIRST_COUNT if name == PYSPARK else f"{PLAIN_SETUP}\n{FIRST_COUNT}"
    count = kernel.ok(code)
    jvm = kernel.jvm_pid()
    milestones = spark_milestones(kernel, jvm)
    sample = {
        "ready_s": round(kernel.ready_at - t0, 3),
        "first_trivial_s": round(trivial.seconds + (trivial.sent - t0), 3),
        "first_count_s": round(count.seconds + (count.sent - t0), 3),
        "first_count_cell_s": round(count.seconds, 3),
        "jvm_seen": jvm is not None,
        "milestones_s": milestones,
    }
    log(
        f"  {name}: ready {sample['ready_s']:.2f} s, first trivial {sample['first_trivial_s']:.2f} s,"
        f" first count {sample['first_count_s']:.2f} s"
    )
    return kernel, sample


def spark_milestones(kernel: BenchKernel, jvm: int | None) -> dict[str, Any]:
    """Where the time to the first count went, in seconds from the kernel's launch: the
    driver JVM process started (psutil), the SparkContext started (``sc.startTime``), the
    first job submitted and completed (the Spark UI's REST API)."""
    t0 = kernel.started_wall
    out: dict[str, Any] = {}
    try:
        if jvm is not None:
            out["jvm_process_started"] = round(psutil.Process(jvm).create_time() - t0, 3)
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


def run(
    samples: int, log_dir: Path, started: list[BenchKernel]
) -> tuple[dict[str, Any], dict[str, BenchKernel]]:
    """`samples` starts of each kernel, alternating which starts first. The kernels of the
    last round are returned running, for the other benchmarks; every kernel started is
    appended to `started` (so it can be cleaned up whatever happens)."""
    raw: dict[str, list[dict[str, Any]]] = {PYSPARK: [], PLAIN: []}
    kept: dict[str, BenchKernel] = {}
    for i in range(samples):
        order = [PLAIN, PYSPARK] if i % 2 == 0 else [PYSPARK, PLAIN]
        last = i == samples - 1
        for name in order:
            kernel, sample = first_results(name, log_dir, started)
            sample["round"], sample["started_first"] = i, name == order[0]
            raw[name].append(sample)
            if last:
                kept[name] = kernel
            else:
                kernel.shutdown()
    summary: dict[str, Any] = {}
    for name, rows in raw.items():
        summary[name] = {
            key: summarize([r[key] for r in rows])
            for key in ("ready_s", "first_trivial_s", "first_count_s")
        }
        for key in (
            "jvm_process_started",
            "spark_context_started",
            "first_job_submitted",
            "first_job_completed",
        ):
            values = [r["milestones_s"][key] for r in rows if key in r["milestones_s"]]
            summary[name][key] = summarize(values)
    ratios = {
        key: ratio(summary[PYSPARK][key]["median_ms"], summary[PLAIN][key]["median_ms"])
        for key in ("first_trivial_s", "first_count_s")
    }
    result = {
        "description": (
            "Seconds from launching the kernel process to: kernel_info reply (ready), the first "
            "trivial cell `pass` answered, the first `spark.range(1).count()` answered (in the "
            "plain kernel that cell also builds the SparkSession). Rounds alternate which kernel "
            "starts first; in the last round the first kernel stays up (idle) while the second "
            "starts. Pyspark jars are read once beforehand so both start with a warm file cache."
        ),
        "samples": raw,
        "summary": summary,
        "ratio_pyspark_over_plain_median": ratios,
    }
    return result, kept
