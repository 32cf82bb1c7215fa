"""What a preview may cost. The kernel's own previews never make a cell wait for a plan
that needs a pass over all its input (a shuffle, a sort, Python or pandas code); a plan
that may read far before its first rows come (a filter, a join, a generator) gets a time
budget, after which the kernel cancels its own job; a plan whose rows stream straight from
its source to the limit (a scan, a range, a projection) is fetched as is. Either way a
table that got no rows shows the schema and how to ask for them (``%spark preview NAME``)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyspark_kernel.driver_calls as driver_calls
import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.spark_internals as internals

from .preview import as_spark_frame

log = logging.getLogger(__name__)

# Operators whose first row needs all their input, or Python code on it: in logical
# plans (classic sessions) and physical ones (Spark Connect).
_FULL_PASS = re.compile(
    r"^(Aggregate|HashAggregate|SortAggregate|ObjectHashAggregate|Sort|TakeOrderedAndProject"
    r"|Window|Join|\w+Join|Distinct|Deduplicate\w*|Repartition\w*|RebalancePartitions|Exchange"
    r"|Intersect|Except|Expand|Pivot|Tail|CoGroup|MapGroups|\w*Pandas\w*|\w*InArrow\w*"
    r"|\w*Python\w*)$"
)
# Operators through which the first rows of the source reach the limit at once.
_STREAMING = re.compile(
    r"^(AdaptiveSparkPlan|CollectLimit|GlobalLimit|LocalLimit|Limit|Project|Range|LocalRelation"
    r"|LocalTableScan|LogicalRDD|Relation|LogicalRelation|SubqueryAlias|View|ResolvedHint"
    r"|Scan|FileScan|BatchScan|RowDataSourceScan|ColumnarToRow|RowToColumnar|InputAdapter"
    r"|WholeStageCodegen|InMemoryTableScan|InMemoryRelation|SerializeFromObject"
    r"|DeserializeToObject|ExistingRDD|Union|Sample|ReusedExchange)$"
)
_NODE = re.compile(r"^[\s:+\-|!]*(?:\*\(\d+\)\s*)?(\w+)")


def preview_cost(df: Any) -> str:
    """``"full"`` when previewing ``df.limit(n)`` would still process all of its input
    (an aggregation, a join, a sort, a shuffle or Python code in its plan), ``"streaming"``
    when its first rows come straight from its source, else ``"unknown"``. Runs no job:
    on a classic session it reads the analyzed plan (about a millisecond), and optimizes
    only plans that look like streaming ones (to see Python UDFs)."""
    frame = as_spark_frame(df)
    try:
        calls = driver_calls.for_frame(frame)
        analyzed = calls.plan_operators(frame) if calls is not None else None
        plans = internals.logical_plans(frame, analyzed)
        if plans is None:  # Spark Connect: the server's physical plan
            physical = internals.physical_plan(frame)
            return "unknown" if physical is None else _classify(_nodes(physical))
        analyzed, optimized = plans
        cost = _classify(_nodes(analyzed))
        if cost == "streaming" and any(_FULL_PASS.match(n) for n in _nodes(optimized())):
            return "unknown"  # a Python UDF in a projection: bounded by the limit, but slow
        return cost
    except Exception:  # a plan that does not even analyse: the preview will say why
        return "unknown"


def needs_full_pass(df: Any) -> bool:
    return preview_cost(df) == "full"


def _nodes(plan: str) -> list[str]:
    return [m.group(1) for m in map(_NODE.match, plan.splitlines()) if m is not None]


def _classify(nodes: list[str]) -> str:
    if any(_FULL_PASS.match(node) for node in nodes):
        return "full"
    if nodes and all(_STREAMING.match(node) for node in nodes):
        return "streaming"
    return "unknown"


class OverBudget(Exception):
    """The kernel cancelled its own preview job: it ran past the budget."""


@contextmanager
def budget(spark: Any, tag: str, seconds: float) -> Iterator[threading.Event]:
    """Cancel the jobs tagged `tag` (the kernel's own work) once `seconds` have passed, and
    keep cancelling any the block still submits under it (a job planned slowly starts after
    the first cancel) until the block ends. The event yielded is set once the budget ran
    out; the block's error then becomes `OverBudget`. ``seconds <= 0``: no budget."""
    fired, done = threading.Event(), threading.Event()
    watcher: threading.Thread | None = None
    if seconds > 0 and spark is not None:
        watcher = threading.Thread(
            target=_watch, args=(spark, tag, seconds, fired, done), daemon=True
        )
        watcher.start()
    try:
        yield fired
    except Exception as exc:
        if fired.is_set():
            raise OverBudget(str(exc)) from None
        raise
    finally:
        done.set()


def _watch(
    spark: Any, tag: str, seconds: float, fired: threading.Event, done: threading.Event
) -> None:
    if done.wait(seconds):
        return
    fired.set()
    with jvmcalls.internal():  # the kernel's calls, not the cell's
        while True:
            _cancel(spark, tag)
            if done.wait(0.25):
                return


def _cancel(spark: Any, tag: str) -> None:
    try:
        if internals.is_classic(spark):
            spark.sparkContext.cancelJobsWithTag(tag)
        else:
            spark.interruptTag(tag)
    except Exception:  # the JVM or server may be gone; the preview then fails by itself
        log.debug("could not cancel the preview's jobs", exc_info=True)
