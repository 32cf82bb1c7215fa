"""Benchmark 1: per-cell overhead of the pyspark kernel against a plain ipykernel kernel.

Both kernels stay up side by side; every cell is warmed up, then timed in ABBA order
(pyspark, plain, plain, pyspark, ...) so drift (JIT warm-up, page cache) hits both alike.
A cell's time is from sending ``execute_request`` to the kernel's ``idle`` status.

Afterwards the pyspark kernel's own hooks (``pre_run_cell`` / ``post_run_cell`` and their
main parts) are timed from inside the kernel, to show where its extra time goes.
"""

from __future__ import annotations

import statistics
from typing import Any

from . import hooks
from .harness import PLAIN, PYSPARK, BenchKernel, log, ratio, summarize

TABLE_MIME = "application/vnd.pyspark-kernel.table.v1+json"

# (label, code in the pyspark kernel, code in the plain kernel)
CELLS: list[tuple[str, str, str]] = [
    ("pass", "pass", "pass"),
    ("print(1)", "print(1)", "print(1)"),
    ("spark.range(10).count()", "spark.range(10).count()", "spark.range(10).count()"),
    (
        "spark.sql('select 1').collect()",
        "spark.sql('select 1').collect()",
        "spark.sql('select 1').collect()",
    ),
    (
        "df = spark.range(1000)  (detection + preview)",
        "df = spark.range(1000)",
        "df = spark.range(1000); df.limit(101).toPandas()",
    ),
]
SPARK_ROWS = {label for label, *_ in CELLS[2:]}


# Switching parts of the pyspark kernel off, inside the running kernel, to see what its
# per-cell overhead is made of (restored afterwards).
_SAVE = """
import pyspark_kernel.cell as _bench_x  # CellLife makes each cell's CellProgress
import pyspark_kernel.results.catalog as _bench_catalog
# temp views are listed by catalog.ViewCatalog(spark).temp_views(code, listing)
_bench_vc = _bench_catalog.ViewCatalog
_bench_saved = (_bench_x.CellProgress, _bench_vc.temp_views)
class _BenchNoProgress:
    job_ids = []
    def __init__(self, *args, **kwargs):
        pass
    def finish(self, state, used_spark=True, describe=None):
        return []
    def abandon(self):
        return []
def _bench_no_views():
    _bench_vc.temp_views = lambda self, code, listing=None: {}
def _bench_restore():
    _bench_x.CellProgress, _bench_vc.temp_views = _bench_saved
"""
_NO_PROGRESS = "_bench_x.CellProgress = _BenchNoProgress"
_NO_VIEWS = "_bench_no_views()"
_RESTORE = "_bench_restore()"
VARIANTS: list[tuple[str, list[str]]] = [
    ("as shipped", []),
    ("progress poller off (CellProgress)", [_NO_PROGRESS]),
    ("progress poller and temp-view snapshots off", [_NO_PROGRESS, _NO_VIEWS]),
]
ABLATION_CELLS = ["pass", "spark.range(10).count()", "spark.sql('select 1').collect()"]


def _abba(i: int) -> list[str]:
    return [PYSPARK, PLAIN] if i % 4 in (0, 3) else [PLAIN, PYSPARK]


def run(
    kernels: dict[str, BenchKernel],
    warmup: int,
    repeats: int,
    hook_repeats: int,
    ablation_repeats: int = 0,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for label, code_pyspark, code_plain in CELLS:
        code = {PYSPARK: code_pyspark, PLAIN: code_plain}
        times: dict[str, list[float]] = {PYSPARK: [], PLAIN: []}
        client: dict[str, list[float]] = {PYSPARK: [], PLAIN: []}
        previews = 0
        for i in range(warmup + repeats):
            for name in _abba(i):
                cell = kernels[name].ok(code[name])
                if i >= warmup:
                    times[name].append(cell.kernel_seconds)
                    client[name].append(cell.seconds)
                    if name == PYSPARK and cell.data(TABLE_MIME):
                        previews += 1
        s_py, s_plain = summarize(times[PYSPARK]), summarize(times[PLAIN])
        c_py, c_plain = summarize(client[PYSPARK]), summarize(client[PLAIN])
        row = {
            "cell": label,
            "code": code,
            "samples_s": {k: [round(v, 5) for v in vs] for k, vs in times.items()},
            "summary": {PYSPARK: s_py, PLAIN: s_plain},
            "client_samples_s": {k: [round(v, 5) for v in vs] for k, vs in client.items()},
            "client_summary": {PYSPARK: c_py, PLAIN: c_plain},
            "client_ratio_median": ratio(c_py["median_ms"], c_plain["median_ms"]),
            "ratio_median": ratio(s_py["median_ms"], s_plain["median_ms"]),
            "ratio_p95": ratio(s_py["p95_ms"], s_plain["p95_ms"]),
            "extra_median_ms": round(s_py["median_ms"] - s_plain["median_ms"], 2),
            "pyspark_tables_published": previews,
        }
        if label in SPARK_ROWS:
            row["goal"] = "ratio_median <= 1.10"
            row["goal_met"] = row["ratio_median"] is not None and row["ratio_median"] <= 1.10
        else:
            row["goal"] = "a few ms extra"
        rows.append(row)
        log(
            f"  {label}: pyspark {s_py['median_ms']:.1f} ms (p95 {s_py['p95_ms']:.1f}), "
            f"plain {s_plain['median_ms']:.1f} ms (p95 {s_plain['p95_ms']:.1f}), "
            f"ratio {row['ratio_median']}"
        )
    return {
        "description": (
            "Time of one cell from the kernel's busy to its idle status (timestamps from the "
            "kernel's message headers; client_* fields: execute_request sent -> idle received), "
            "after warm-up, both kernels up side by side and timed in ABBA order. The `df = spark.range(1000)` "
            "row compares the kernel's detection + preview with the plain kernel doing the "
            "same preview by hand (`df.limit(101).toPandas()`)."
        ),
        "warmup": warmup,
        "repeats": repeats,
        "rows": rows,
        "pyspark_hooks": hook_breakdown(kernels[PYSPARK], hook_repeats),
        "ablation": ablation(kernels, warmup, ablation_repeats) if ablation_repeats else None,
    }


def hook_breakdown(kernel: BenchKernel, repeats: int) -> dict[str, Any]:
    """Time the pyspark kernel's cell hooks from inside the kernel (ms per cell, median),
    with the number of py4j commands each sends to the JVM."""
    hooks.install(kernel)
    out: dict[str, Any] = {
        "description": (
            "In-kernel wall time of the extension's hooks per cell, measured by wrapping "
            "CellLife.pre_run_cell/post_run_cell and parts of them: prepare_spark "
            "(job tag, progress poller), detect (namespace diff, parquet "
            "+ view detection, preview), bind, untag; py4j_commands counts the "
            "commands sent to the JVM while each ran (median)."
        ),
        "repeats": repeats,
        "cells": {},
    }
    try:
        for label, code, _ in CELLS:
            counts = {kernel.ok(code).execution_count for _ in range(repeats)}
            per_part = hooks.read(kernel, {c for c in counts if c is not None})
            out["cells"][label] = {
                part: {
                    **summarize([seconds for seconds, _ in values]),
                    "py4j_commands": statistics.median(calls for _, calls in values),
                }
                for part, values in per_part.items()
            }
            pre = out["cells"][label].get("pre_run_cell", {})
            post = out["cells"][label].get("post_run_cell", {})
            log(
                f"  hooks for {label}: pre {pre.get('median_ms')} ms ({pre.get('py4j_commands')} py4j), "
                f"post {post.get('median_ms')} ms ({post.get('py4j_commands')} py4j)"
            )
    finally:
        hooks.remove(kernel)
    return out


def _timed_pairs(
    kernels: dict[str, BenchKernel], code: str, warmup: int, repeats: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {PYSPARK: [], PLAIN: []}
    for i in range(warmup + repeats):
        for name in _abba(i):
            cell = kernels[name].ok(code)
            if i >= warmup:
                times[name].append(cell.kernel_seconds)
    return times


def ablation(kernels: dict[str, BenchKernel], warmup: int, repeats: int) -> dict[str, Any]:
    """The overhead again, with parts of the pyspark kernel switched off one by one."""
    py = kernels[PYSPARK]
    py.ok(_SAVE)
    out: dict[str, Any] = {
        "description": (
            "Per-cell time against the plain kernel (ABBA, after warm-up) with parts of the "
            "pyspark kernel replaced by no-ops inside the running kernel: the progress poller "
            "(pyspark_kernel.progress.CellProgress: a thread polling the status tracker every "
            "0.25 s, plus a final snapshot) and the temp-view snapshots taken before and after "
            "every cell (results.catalog temp_views, for view detection). Restored afterwards."
        ),
        "repeats": repeats,
        "variants": [],
    }
    try:
        for variant, patches in VARIANTS:
            py.ok(_RESTORE)
            for patch in patches:
                py.ok(patch)
            rows = []
            for code in ABLATION_CELLS:
                times = _timed_pairs(kernels, code, warmup, repeats)
                a, b = summarize(times[PYSPARK]), summarize(times[PLAIN])
                rows.append(
                    {
                        "cell": code,
                        "summary": {PYSPARK: a, PLAIN: b},
                        "samples_s": {k: [round(v, 5) for v in vs] for k, vs in times.items()},
                        "ratio_median": ratio(a["median_ms"], b["median_ms"]),
                        "extra_median_ms": round(a["median_ms"] - b["median_ms"], 2),
                    }
                )
                log(
                    f"  {variant}: {code}: pyspark {a['median_ms']:.1f} ms, plain "
                    f"{b['median_ms']:.1f} ms, ratio {rows[-1]['ratio_median']}"
                )
            out["variants"].append({"variant": variant, "rows": rows})
    finally:
        py.ok(_RESTORE)
    return out
