"""Benchmark 3: showing a result, as the data grows.

The kernel's way: a cell binds ``df = spark.range(N).selectExpr(...)``; the kernel detects
the new DataFrame and previews it with ``limit(max_rows + 1)`` through Arrow. The seed's
way (the FastAPI executor this project started from): ``df.toPandas()`` of the whole frame,
run here in the plain kernel. Peak RSS of each kernel process and of its driver JVM is
sampled with psutil during the cell (and cross-checked with Linux's ``VmHWM``).

The seed approach stops for larger N once a run passes 60 s, fails, or its Python
process's RSS would pass 8 GB (predicted linearly from the previous N).
"""

from __future__ import annotations

from typing import Any

from .harness import (
    PLAIN,
    PYSPARK,
    BenchKernel,
    RssSampler,
    log,
    mb,
    ratio,
    summarize,
)

TABLE_MIME = "application/vnd.pyspark-kernel.table.v1+json"
FRAME = "spark.range({n}).selectExpr('id', 'cast(id as string) as s')"
KERNEL_CELL = "df = " + FRAME
SEED_CELL = "df = " + FRAME + "\npdf = df.toPandas()\nlen(pdf)"
SEED_CLEANUP = "pdf = None\nimport gc; gc.collect()"

RSS_LIMIT = 8 * 10**9  # bytes: "8 GB"
TIME_LIMIT = 60.0  # seconds: no larger N after a run longer than this
HARD_TIMEOUT = 300.0  # seconds: a seed run is interrupted after this
REPEAT_BELOW = 10.0  # seconds: runs shorter than this are repeated `repeats` times


def _n_expr(exp: int) -> str:
    return f"10**{exp}"


def power(n: int) -> str:
    """``10^7`` for 10_000_000."""
    exp = len(str(n)) - 1
    return f"10^{exp}" if n == 10**exp else str(n)


def _measure(kernel: BenchKernel, code: str, guard: bool) -> dict[str, Any]:
    jvm = kernel.jvm_pid()
    interrupted: list[str] = []

    def over_limit() -> None:
        interrupted.append("rss")
        kernel.interrupt()

    limit = ("kernel", RSS_LIMIT, over_limit) if guard else None
    with RssSampler({"kernel": kernel.pid, "jvm": jvm}, interval=0.05, limit=limit) as rss:
        cell = kernel.run(code, timeout=HARD_TIMEOUT)
        if cell.timed_out:
            interrupted.append("timeout")
            kernel.interrupt()
    if interrupted and guard:
        # the plain kernel leaves the job running after an interrupt: cancel it (this cell
        # also waits for the interrupted one to end)
        kernel.run("spark.sparkContext.cancelAllJobs()", timeout=120)
    sample: dict[str, Any] = {
        "seconds": round(cell.kernel_seconds, 4),
        "client_seconds": round(cell.seconds, 4),
        "status": cell.status,
        "error": cell.error,
        **rss.summary(),
    }
    if interrupted:
        sample["interrupted_because"] = interrupted[0]
    tables = cell.data(TABLE_MIME)
    if tables:
        sample["rows_shown"] = len(tables[-1]["rows"])
        sample["truncated"] = tables[-1]["truncated"]
    return sample


def _median(values: list[float]) -> float:
    return summarize(values)["median_ms"] / 1000 if values else float("nan")


def run(
    kernels: dict[str, BenchKernel],
    kernel_max_exp: int,
    seed_max_exp: int,
    repeats: int,
    kernel_repeats: int,
) -> dict[str, Any]:
    """The kernel's sweep first (in rounds over every N, so drift hits every N alike), then
    the seed approach's sweep, so the seed's big collections do not disturb the previews."""
    py, plain = kernels[PYSPARK], kernels[PLAIN]
    # warm both code paths once (JIT, Arrow, pandas imports); not recorded
    py.ok(KERNEL_CELL.format(n=_n_expr(3)))
    plain.ok(SEED_CELL.format(n=_n_expr(3)))
    plain.ok(SEED_CLEANUP)

    exps = range(3, kernel_max_exp + 1)
    kernel_samples: dict[int, list[dict[str, Any]]] = {exp: [] for exp in exps}
    for _ in range(kernel_repeats):
        for exp in exps:
            code = KERNEL_CELL.format(n=_n_expr(exp))
            kernel_samples[exp].append(_measure(py, code, guard=False))
    kernel_rows = [_row(10**exp, kernel_samples[exp]) for exp in exps]
    for exp, row in zip(exps, kernel_rows, strict=True):
        log(
            f"  kernel N=10^{exp}: {row['median_s']:.3f} s, peak RSS kernel "
            f"{row['kernel_peak_rss_mb']} MB, JVM {row['jvm_peak_rss_mb']} MB"
        )

    seed_rows: list[dict[str, Any]] = []
    seed_stop: str | None = None
    previous: dict[str, Any] | None = None
    for exp in range(3, max(kernel_max_exp, seed_max_exp) + 1):
        n = 10**exp
        if exp > seed_max_exp:
            if seed_stop is None:
                seed_stop = f"not run: --quick stops the seed approach at N=10^{seed_max_exp}"
            continue
        if seed_stop is None and previous is not None:
            seed_stop = _stop_reason(previous, n)
        if seed_stop is not None:
            seed_rows.append({"rows": n, "skipped": seed_stop})
            continue
        samples = []
        for _ in range(repeats):
            sample = _measure(plain, SEED_CELL.format(n=_n_expr(exp)), guard=True)
            plain.run(SEED_CLEANUP, timeout=120)
            samples.append(sample)
            if sample["status"] != "ok" or sample["seconds"] >= REPEAT_BELOW:
                break
        row = _row(n, samples)
        seed_rows.append(row)
        previous = row
        log(
            f"  seed   N=10^{exp}: {row['median_s']:.3f} s ({row['status']}), peak RSS kernel "
            f"{row['kernel_peak_rss_mb']} MB, JVM {row['jvm_peak_rss_mb']} MB"
        )
    if plain.value("spark.sparkContext.statusTracker().getActiveJobsIds()"):
        plain.ok("spark.sparkContext.cancelAllJobs()")

    times = [r["median_s"] for r in kernel_rows]
    flat = ratio(max(times), min(times)) if times else None
    common = [
        {
            "rows": s["rows"],
            "seed_over_kernel": ratio(s["median_s"], k["median_s"]),
        }
        for s, k in zip(seed_rows, kernel_rows, strict=False)
        if "median_s" in s and s.get("status") == "ok"
    ]
    return {
        "description": (
            "Time (the kernel's busy -> idle status, by its message timestamps; client_seconds: "
            "execute_request sent -> idle received) of a cell that shows "
            "spark.range(N).selectExpr('id', 'cast(id as string) as s'): the pyspark kernel "
            "binding `df = ...` (detection + limit(101) Arrow preview) vs the seed's "
            "`df.toPandas()` of the whole frame in the plain kernel. Peak RSS sampled every "
            "50 ms with psutil; *_hwm_mb is Linux's exact peak (VmHWM, reset before the cell)."
        ),
        "frame": FRAME.format(n="N"),
        "repeats": repeats,
        "kernel_repeats": kernel_repeats,
        "kernel": kernel_rows,
        "seed_to_pandas": seed_rows,
        "seed_stopped": seed_stop,
        "kernel_largest_over_smallest": flat,
        "goal": "kernel_largest_over_smallest <= 2 (flat)",
        "goal_met": flat is not None and flat <= 2,
        "seed_over_kernel": common,
    }


def _row(n: int, samples: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [s for s in samples if s["status"] == "ok"]
    use = ok or samples
    row: dict[str, Any] = {
        "rows": n,
        "status": "ok" if ok else samples[-1]["status"],
        "median_s": round(_median([s["seconds"] for s in use]), 4),
        "kernel_peak_rss_mb": max(s["kernel_peak_rss_mb"] for s in samples),
        "jvm_peak_rss_mb": max(s["jvm_peak_rss_mb"] for s in samples),
        "kernel_hwm_mb": _max_or_none(s.get("kernel_hwm_mb") for s in samples),
        "jvm_hwm_mb": _max_or_none(s.get("jvm_hwm_mb") for s in samples),
        "kernel_rss_before_mb": min(s["kernel_rss_before_mb"] for s in samples),
        "samples": samples,
    }
    if not ok:
        row["error"] = samples[-1].get("error")
    return row


def _max_or_none(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _stop_reason(previous: dict[str, Any], n: int) -> str | None:
    """Why the seed approach is not run at `n`, judged from its run at the previous N."""
    prev_n = previous["rows"]
    if previous["status"] != "ok":
        why = previous["samples"][-1].get("interrupted_because")
        if why == "rss":
            return f"skipped: RSS exceeded 8 GB at N={power(prev_n)}"
        if why == "timeout":
            return f"skipped: did not finish in {HARD_TIMEOUT:.0f} s at N={power(prev_n)}"
        return f"skipped: failed at N={power(prev_n)} ({previous.get('error')})"
    if max(s["seconds"] for s in previous["samples"]) > TIME_LIMIT:
        return f"skipped: exceeded {TIME_LIMIT:.0f} s at N={power(prev_n)}"
    before = previous["kernel_rss_before_mb"] * 2**20
    peak = max(previous["kernel_peak_rss_mb"], previous["kernel_hwm_mb"] or 0) * 2**20
    predicted = before + (peak - before) * n / prev_n
    if predicted > RSS_LIMIT:
        return (
            f"skipped: RSS would exceed 8 GB at N={power(n)} (predicted {predicted / 1e9:.1f} GB "
            f"from {mb(peak) / 1024:.2f} GiB peak at N={power(prev_n)})"
        )
    return None
