"""Benchmark 4: interrupting a long Spark job.

A cell runs ``spark.range(10**12).selectExpr('sum(id % 7)').collect()`` (``sum(id)`` would
overflow under ANSI mode); 3 s after the kernel reports it busy, the benchmark calls
``KernelManager.interrupt_kernel()``. Measured: interrupt → ``idle``, and whether a Spark
job is still active in the next cell. In the plain kernel the job is expected to keep
running (ipykernel replaces PySpark's SIGINT handler); the benchmark then stops it with
``cancelAllJobs()`` so nothing keeps running.
"""

from __future__ import annotations

import ast
import time
from typing import Any

from . import hooks
from .harness import PLAIN, PYSPARK, BenchKernel, Cell, header_date, log, ratio, summarize

LONG_JOB = "spark.range(10**12).selectExpr('sum(id % 7)').collect()"
ACTIVE = "print(spark.sparkContext.statusTracker().getActiveJobsIds())"
AFTER = 3.0  # seconds after "busy" to interrupt
IDLE_LIMIT = 120.0


def interrupt_once(kernel: BenchKernel) -> dict[str, Any]:
    sent: dict[str, float] = {}

    def tick(cell: Cell) -> None:
        if cell.busy is not None and "at" not in sent and time.monotonic() - cell.busy >= AFTER:
            kernel.interrupt()  # sends SIGINT before it returns
            sent["at"], sent["wall"] = time.monotonic(), time.time()

    cell = kernel.run(LONG_JOB, timeout=AFTER + IDLE_LIMIT, tick=tick)
    at, wall = sent.get("at"), sent.get("wall")
    if kernel.name == PYSPARK and cell.execution_count is not None:
        # the kernel's post_run_cell waits for the cancelled jobs to leave Spark
        parts = hooks.read(kernel, {cell.execution_count})
    # the kernel's own idle timestamp, against the wall-clock time of the interrupt
    idle_after = None
    if wall is not None and cell.idle_date is not None:
        idle_after = cell.idle_date.timestamp() - wall
    sample: dict[str, Any] = {
        "interrupt_to_idle_s": round(idle_after, 3) if idle_after is not None else None,
        "went_idle": cell.idle is not None,
        "cell_status": cell.status,
        "cell_error": cell.error,
    }
    errors = [header_date(m) for m in cell.messages if m["msg_type"] == "error"]
    if wall is not None and errors and errors[0] is not None:
        # the error output is sent once the exception is shown, before post_run_cell
        sample["interrupt_to_error_output_s"] = round(errors[0].timestamp() - wall, 3)
    if at is not None and cell.idle is not None:
        sample["client_interrupt_to_idle_s"] = round(cell.idle - at, 3)
    if kernel.name == PYSPARK and cell.execution_count is not None:
        sample["pyspark_hooks_s"] = {
            part: round(sum(seconds for seconds, _ in values), 3) for part, values in parts.items()
        }
    check = kernel.run(ACTIVE, timeout=IDLE_LIMIT)
    active = _parse_list(check.stdout()) if check.status == "ok" else None
    sample["active_jobs_next_cell"] = active
    sample["job_still_running"] = bool(active) if active is not None else None
    if check.status != "ok":
        sample["next_cell_error"] = check.error
    # clean up: the job must not keep both cores busy for the rest of the run
    cleanup_start = time.monotonic()
    if active or active is None:
        kernel.run("spark.sparkContext.cancelAllJobs()", timeout=60)
        for _ in range(100):
            left = kernel.run(ACTIVE, timeout=60)
            if left.status == "ok" and not _parse_list(left.stdout()):
                break
            time.sleep(0.2)
        sample["cleanup_cancel_all_jobs_s"] = round(time.monotonic() - cleanup_start, 3)
    health = kernel.run("spark.range(10).count()", timeout=120)
    sample["next_spark_cell_ok"] = health.status == "ok"
    return sample


def _parse_list(text: str) -> list[int] | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None
    return list(value) if isinstance(value, list) else None


def run(kernels: dict[str, BenchKernel], samples: int, explain: bool = True) -> dict[str, Any]:
    raw: dict[str, list[dict[str, Any]]] = {PYSPARK: [], PLAIN: []}
    hooks.install(kernels[PYSPARK])
    try:
        for _ in range(samples):
            for name in (PYSPARK, PLAIN):
                sample = interrupt_once(kernels[name])
                raw[name].append(sample)
                log(
                    f"  {name}: interrupt -> idle {sample['interrupt_to_idle_s']} s, "
                    f"job still running: {sample['job_still_running']}"
                    + (
                        f", hooks {sample['pyspark_hooks_s']}"
                        if "pyspark_hooks_s" in sample
                        else ""
                    )
                )
        # where the plain kernel's time goes: IPython formatting the traceback (context
        # mode reads and parses the source of every pyspark/py4j frame)
        minimal = None
        if explain:
            kernels[PLAIN].ok("%xmode Minimal")
            minimal = interrupt_once(kernels[PLAIN])
            kernels[PLAIN].ok("%xmode Context")
            log(
                f"  {PLAIN} with %xmode Minimal: interrupt -> idle "
                f"{minimal['interrupt_to_idle_s']} s"
            )
    finally:
        hooks.remove(kernels[PYSPARK])
    summary: dict[str, Any] = {
        name: {
            "interrupt_to_idle": summarize(
                [s["interrupt_to_idle_s"] for s in rows if s["interrupt_to_idle_s"] is not None]
            ),
            "interrupt_to_error_output": summarize(
                [
                    s["interrupt_to_error_output_s"]
                    for s in rows
                    if "interrupt_to_error_output_s" in s
                ]
            ),
            "runs_with_job_still_running": sum(1 for s in rows if s["job_still_running"]),
            "runs": len(rows),
        }
        for name, rows in raw.items()
    }
    hook_parts = [s.get("pyspark_hooks_s", {}) for s in raw[PYSPARK]]
    summary[PYSPARK]["hooks"] = {
        part: summarize([h[part] for h in hook_parts if part in h])
        for part in sorted({p for h in hook_parts for p in h})
    }
    return {
        "description": (
            f"`{LONG_JOB}` interrupted {AFTER:g} s after the kernel went busy "
            "(KernelManager.interrupt_kernel); time from the interrupt to the kernel's idle "
            "status, and the active Spark jobs seen by the next cell. Jobs left running are "
            "then cancelled with cancelAllJobs() (cleanup time recorded)."
        ),
        "samples": raw,
        "plain_with_xmode_minimal": minimal,
        "summary": summary,
        "ratio_pyspark_over_plain_median": ratio(
            summary[PYSPARK]["interrupt_to_idle"].get("median_ms"),
            summary[PLAIN]["interrupt_to_idle"].get("median_ms"),
        ),
    }
