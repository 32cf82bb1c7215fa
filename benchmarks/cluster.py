"""Benchmark 7: the same aggregation through the kernel on ``local[2]``, on a two-worker
standalone cluster and on a Spark Connect server (issue #9): the cost of each path, not a race.

Each service is started from the installed pyspark (``pyspark_kernel.services.cluster``), a
pyspark kernel is started on it (``PYSPARK_KERNEL_MASTER`` / ``PYSPARK_KERNEL_REMOTE``), and
its cell times are taken in ABBA order with the ``local[2]`` kernel's, so both see the same
machine load; then the kernel and the service are stopped again before the next path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import PYSPARK, BenchKernel, log, ratio, summarize

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
LOCAL = "local[2]"
SHUFFLE = "spark.conf.set('spark.sql.shuffle.partitions', '4')"
AGGREGATION = (
    "spark.range(0, 2_000_000, 1, 4).selectExpr('id % 100 AS k', 'id')"
    ".groupBy('k').agg({'id': 'sum'}).orderBy('k').collect()[:3]"
)


def _local_kernel(kernel: BenchKernel) -> None:
    """Put the shared pyspark kernel on ``local[2]`` (a restart, only when needed)."""
    if kernel.value("spark.sparkContext.master") != LOCAL:
        kernel.ok(f"%spark config master={LOCAL}")
        kernel.ok("%spark restart", timeout=600)
    kernel.ok(SHUFFLE)


def _abba(
    local: BenchKernel, other: BenchKernel, warmup: int, repeats: int
) -> dict[str, list[float]]:
    for kernel in (local, other):
        for _ in range(warmup):
            kernel.ok(AGGREGATION)
    times: dict[str, list[float]] = {"local": [], "other": []}
    for i in range(repeats):
        pairs = [("local", local), ("other", other)]
        for label, kernel in pairs if i % 4 in (0, 3) else pairs[::-1]:
            times[label].append(kernel.ok(AGGREGATION).kernel_seconds)
    return times


def _path(
    label: str,
    service: Any,
    kernel_env: Callable[[str], dict[str, str]],
    local: BenchKernel,
    warmup: int,
    repeats: int,
    log_dir: Path,
    started: list[BenchKernel],
) -> dict[str, Any]:
    began = time.monotonic()
    address = service.start()
    service_s = round(time.monotonic() - began, 2)
    log(f"  {label} at {address} started in {service_s:.1f} s")
    kernel = BenchKernel(PYSPARK, log_dir, env=kernel_env(address))
    started.append(kernel)
    try:
        kernel.start()
        first = kernel.ok("spark.range(1).count()", timeout=600)
        first_s = round(first.seconds + (first.sent - kernel.started_at), 2)
        kernel.ok(SHUFFLE)
        times = _abba(local, kernel, warmup, repeats)
    finally:
        kernel.shutdown()
        service.stop()
    out = {
        "address": address,
        "service_start_s": service_s,
        "kernel_first_count_s": first_s,
        "samples_s": [round(t, 4) for t in times["other"]],
        "local_samples_s": [round(t, 4) for t in times["local"]],
        "cell": summarize(times["other"]),
        "local_cell": summarize(times["local"]),
    }
    out["ratio_median_over_local"] = ratio(out["cell"]["median_ms"], out["local_cell"]["median_ms"])
    out["ratio_p95_over_local"] = ratio(out["cell"]["p95_ms"], out["local_cell"]["p95_ms"])
    log(
        f"  {label}: median {out['cell']['median_ms']:.0f} ms vs local[2] "
        f"{out['local_cell']['median_ms']:.0f} ms ({out['ratio_median_over_local']}x)"
    )
    return out


def run(
    kernels: dict[str, BenchKernel],
    warmup: int,
    repeats: int,
    log_dir: Path,
    started: list[BenchKernel],
) -> dict[str, Any]:
    from pyspark_kernel.services.cluster import ConnectServer, StandaloneCluster

    local = kernels[PYSPARK]
    _local_kernel(local)
    result: dict[str, Any] = {
        "description": (
            f"`{AGGREGATION}` with 4 shuffle partitions, cell time (kernel busy → idle) through "
            "the pyspark kernel. Each path is measured in ABBA order against the same local[2] "
            "kernel. Standalone: master + 2 workers (1 core, 1 GiB each) on 127.0.0.1; Spark "
            "Connect: a server whose driver runs local[2]. Service and kernel start times "
            "are from this process."
        ),
        "cell": AGGREGATION,
        "warmup": warmup,
        "repeats": repeats,
        "paths": {},
    }
    paths = [
        (
            "standalone cluster, 2 workers",
            StandaloneCluster(OUT / "cluster", workers=2),
            lambda address: {"PYSPARK_KERNEL_MASTER": address},
        ),
        (
            "Spark Connect server",
            ConnectServer(OUT / "connect", master=LOCAL),
            lambda address: {"PYSPARK_KERNEL_REMOTE": address},
        ),
    ]
    for label, service, env in paths:
        try:
            result["paths"][label] = _path(
                label, service, env, local, warmup, repeats, log_dir, started
            )
        except Exception as exc:
            result["paths"][label] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            log(f"  {label} failed: {exc}")
    return result
