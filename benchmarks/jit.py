"""Benchmark 12: hot code under the start-up JIT thresholds (``startup_jit``).

The kernel starts its driver JVM with 10x HotSpot's counts for the optimizing compiler
(C2), so that code run only while Spark starts is not compiled at that tier. Code that
stays hot must run as fast as under HotSpot's own counts: the ``pyspark`` kernel (its
thresholds) and a ``pyspark`` kernel with ``startup_jit=off`` run the same CPU-bound cells
in turn (ABBA), from their first run on; a cell's time is the kernel's busy → idle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .harness import PYSPARK, BenchKernel, log, ratio, summarize

JVM_JIT = "pyspark_jvm_jit"
SETUP = "from pyspark.sql import Window, functions as F"
CELLS = (
    (
        "aggregation, 5M rows",
        "spark.range(0, 5_000_000, 1, 4).selectExpr('id % 1000 AS k', 'id * 3 AS v', "
        "'cast(id AS string) AS s').groupBy('k').agg(F.sum('v'), F.avg('v'), F.max('s'))"
        ".collect()",
    ),
    (
        "join, 3M x 50k rows",
        "spark.range(0, 3_000_000, 1, 4).withColumn('k', F.col('id') % 50000)"
        ".join(spark.range(50000).withColumnRenamed('id', 'k').withColumn('w', F.rand(1)), 'k')"
        ".groupBy((F.col('k') % 10).alias('g')).agg(F.sum('w')).collect()",
    ),
    (
        "window, 1M rows",
        "spark.range(0, 1_000_000, 1, 4).withColumn('g', F.col('id') % 100)"
        ".withColumn('r', F.row_number().over(Window.partitionBy('g').orderBy(F.desc('id'))))"
        ".where('r < 3').count()",
    ),
    (
        "toPandas(), 1M rows",
        "_ = spark.range(0, 1_000_000, 1, 4).selectExpr('id', 'id * 2.0 AS d', "
        "'cast(id AS string) AS s').toPandas()",
    ),
)


def run(
    kernels: dict[str, BenchKernel], log_dir: Path, repeats: int, started: list[BenchKernel]
) -> dict[str, Any]:
    """`repeats` runs of each cell in both kernels, ABBA; the other kernel is started here
    (with the run's archive cache, appended to `started`) and shut down at the end."""
    ours = kernels[PYSPARK]
    other = BenchKernel(PYSPARK, log_dir, env={**ours.env, "PYSPARK_KERNEL_STARTUP_JIT": "off"})
    started.append(other)
    other.start()
    try:
        pair = {PYSPARK: ours, JVM_JIT: other}
        for kernel in pair.values():
            kernel.ok(SETUP)
            kernel.ok("spark.range(1).count()")
        flags = {
            label: kernel.value(
                "spark.sparkContext.getConf().get('spark.driver.extraJavaOptions', '')"
            )
            for label, kernel in pair.items()
        }
        rows = []
        for label, code in CELLS:
            times: dict[str, list[float]] = {PYSPARK: [], JVM_JIT: []}
            for i in range(repeats):
                order = [PYSPARK, JVM_JIT] if i % 4 in (0, 3) else [JVM_JIT, PYSPARK]
                for name in order:
                    times[name].append(pair[name].ok(code, timeout=600).kernel_seconds)
            later = {name: summarize(t[len(t) // 2 :]) for name, t in times.items()}
            rows.append(
                {
                    "cell": label,
                    "code": code,
                    "seconds": times,
                    "first_run_s": {name: t[0] for name, t in times.items()},
                    "second_half": later,
                    "ratio_first_run": ratio(times[PYSPARK][0], times[JVM_JIT][0]),
                    "ratio_second_half_median": ratio(
                        later[PYSPARK]["median_ms"], later[JVM_JIT]["median_ms"]
                    ),
                }
            )
            log(
                f"jit {label}: first {times[PYSPARK][0]:.2f} / {times[JVM_JIT][0]:.2f} s, "
                f"later median {later[PYSPARK]['median_ms']} / {later[JVM_JIT]['median_ms']} ms"
            )
    finally:
        other.shutdown()
    return {
        "description": __doc__.split("\n\n", 1)[1].strip(),
        "repeats": repeats,
        "driver_java_options": flags,
        "rows": rows,
    }
