"""Benchmark: a page of the whole result through the comm channel, 10^3 … 10^9 rows.

The pyspark kernel keeps each shown DataFrame and serves ``page`` requests (100 rows)
computed by Spark; the plain kernel's equivalent is the code a user writes for the same
page (``limit(100).toPandas()``, sorted: ``orderBy(desc).limit(100).toPandas()``). A
latency is from sending the request to its reply (the plain kernel: the cell's busy to
idle). Bytes are the reply's JSON on the wire.
"""

from __future__ import annotations

import time
from typing import Any

from .harness import PLAIN, PYSPARK, BenchKernel, log, ratio, summarize
from .preview import power

TABLE_MIME = "application/vnd.pyspark-kernel.table.v1+json"


def run(kernels: dict[str, BenchKernel], max_exp: int, repeats: int) -> dict[str, Any]:
    spark, plain = kernels[PYSPARK], kernels[PLAIN]
    rows = []
    for exp in range(3, max_exp + 1, 2):
        n = 10**exp
        cell = spark.ok(f"bench_page = spark.range({n})")
        (table,) = cell.data(TABLE_MIME)
        plain.ok(f"bench_page = spark.range({n})")
        row: dict[str, Any] = {"rows": n}
        for label, sort in (("unsorted", []), ("sorted", [{"column": "id", "descending": True}])):
            times, sizes = [], []
            for i in range(repeats):
                request = {"op": "page", "id": f"{exp}-{label}-{i}", "result_id": table["result_id"],
                           "offset": 0, "limit": 100, "sort": sort}  # fmt: skip
                started = time.perf_counter()
                reply, size = spark.comm_request(request)
                times.append(time.perf_counter() - started)
                assert reply["ok"], reply
                sizes.append(size)
            order = ".orderBy(bench_page.id.desc())" if sort else ""
            plain_times = [
                plain.ok(f"bench_page{order}.limit(100).toPandas()").kernel_seconds
                for _ in range(repeats)
            ]
            ours, theirs = summarize(times), summarize(plain_times)
            row[label] = {
                PYSPARK: ours,
                PLAIN: theirs,
                "ratio_median": ratio(ours.get("median_ms"), theirs.get("median_ms")),
                "reply_bytes": max(sizes),
            }
            log(f"page {power(n)} {label}: {ours.get('median_ms')} ms, {max(sizes)} bytes")
        rows.append(row)
    return {
        "description": __doc__.splitlines()[0] if __doc__ else "",
        "repeats": repeats,
        "rows": rows,
    }
