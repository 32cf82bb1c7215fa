"""Benchmark: Spark SQL completion latency with 1,000 temporary views in the catalog.

The pyspark kernel answers ``complete_request`` for SQL text from its catalog snapshot (no
Spark job, never waiting for the session). The plain kernel has no SQL completion; its
IPython completion of the same text is timed as the reference a user has today. A latency
is from sending ``complete_request`` to receiving the reply.
"""

from __future__ import annotations

import time
from typing import Any

from .harness import PLAIN, PYSPARK, BenchKernel, log, ratio, summarize

MAKE_VIEWS = (
    "for _bench_i in range({n}):\n"
    "    spark.range(1).selectExpr('id AS quantity', \"named_struct('city', 'x') AS addr\")"
    ".createOrReplaceTempView(f'bench_t{{_bench_i:04d}}')"
)
SNAPSHOT = "__import__('pyspark_kernel').current().catalog"


def requests(n: int) -> list[tuple[str, str, int]]:
    """(label, code, cursor): a table name, a column before FROM, a struct field."""
    column = f"%%sql\nSELECT qua FROM bench_t{n // 2:04d}"
    field = f"%%sql\nSELECT b.addr.ci FROM bench_t{n - 1:04d} b"
    return [
        ("table name (FROM bench_t01…)", "%%sql\nSELECT * FROM bench_t01", -1),
        ("column before FROM", column, column.index(" FROM")),
        ("struct field after alias", field, field.index(" FROM")),
    ]


def complete_once(kernel: BenchKernel, code: str, cursor: int) -> tuple[float, list[str]]:
    started = time.perf_counter()
    msg_id = kernel.kc.complete(code, len(code) if cursor < 0 else cursor)
    reply = kernel.kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=60)
    return time.perf_counter() - started, list(reply["content"]["matches"])


def run(kernels: dict[str, BenchKernel], tables: int, repeats: int) -> dict[str, Any]:
    spark = kernels[PYSPARK]
    log(f"completion: creating {tables} temporary views")
    spark.ok(MAKE_VIEWS.format(n=tables), timeout=600)
    refresh_started = time.perf_counter()
    spark.ok(f"{SNAPSHOT}.refresh()")  # the background refresh after a cell, timed here
    refresh_s = time.perf_counter() - refresh_started
    rows = []
    for label, code, cursor in requests(tables):
        times: dict[str, list[float]] = {PYSPARK: [], PLAIN: []}
        found: list[str] = []
        for _ in range(repeats):
            for name in (PYSPARK, PLAIN):
                seconds, matches = complete_once(kernels[name], code, cursor)
                times[name].append(seconds)
                if name == PYSPARK:
                    found = matches
        spark_summary, plain_summary = summarize(times[PYSPARK]), summarize(times[PLAIN])
        rows.append(
            {
                "request": label,
                "matches": len(found),
                "first_matches": found[:3],
                PYSPARK: spark_summary,
                PLAIN: plain_summary,
                "ratio_median": ratio(spark_summary["median_ms"], plain_summary["median_ms"]),
            }
        )
        log(f"completion {label}: {spark_summary['median_ms']} ms median ({found[:3]})")
    spark.ok(
        f"for _bench_i in range({tables}): spark.catalog.dropTempView(f'bench_t{{_bench_i:04d}}')"
    )
    return {
        "description": (
            f"complete_request round trips with {tables} temporary views in the catalog; "
            "plain = IPython's completion of the same text in a plain ipykernel kernel"
        ),
        "tables": tables,
        "repeats": repeats,
        "catalog_refresh_s": round(refresh_s, 3),
        "goal_ms": 50,
        "rows": rows,
    }
