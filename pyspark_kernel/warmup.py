"""The first things a notebook asks of a new Spark session, run ahead of it.

While the driver JVM starts its SparkContext, `preinitialize` initializes, on a second
thread, the classes the SparkSession's own constructor would then initialize alone (Spark
4's ML SQL functions build Scala reflection's universe, about 1 s on a 2-core machine).

A new session pays on its first query for building its state (parser, analyzer, catalog),
for planning, for compiling generated code and for running a first job, and on its first
preview for Arrow. `warm_session` does all of that with tiny queries, so the user's first
Spark cell does not. With `archive`, it goes on through what a notebook's first hour
touches (files, pandas, joins, windows, a Python UDF, errors), for the JVM that writes the
class-data archive (``classdata``).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import pyspark_kernel.jvmcalls as jvmcalls
import pyspark_kernel.spark_internals as internals

log = logging.getLogger(__name__)

Step = tuple[str, Callable[[Any], object]]  # a step returning False did nothing


def _catalog(spark: Any) -> None:
    internals.SessionCatalog(spark).local_views()
    spark.catalog.currentDatabase()


def _sql_to_arrow(spark: Any) -> None:
    internals.arrow_table(
        spark.sql("SELECT id % 2 AS k, count(*) AS n FROM range(4) GROUP BY id % 2")
    )


def _local_rows(spark: Any) -> bool:
    # createDataFrame imports pandas: in the kernel only once the user has (importing it
    # on a background thread would change its display options)
    if "pandas" not in sys.modules:
        return False
    spark.createDataFrame([(1, "a")], "x long, y string").collect()
    return True


def _count(spark: Any) -> None:
    spark.range(1).count()


def _ml_functions(jvm: Any) -> None:
    # Spark 4's SQL functions for ML vectors: their Scala object builds Scala reflection's
    # universe (about 1 s), and the SparkSession's constructor waits for it
    getattr(getattr(jvm, "org.apache.spark.sql.ml.InternalFunctionRegistration$"), "MODULE$")


# What needs no SparkContext: run while the SparkContext starts.
PREINITIALIZED: list[Step] = [("ml functions", _ml_functions)]


def preinitialize(gateway: Any) -> threading.Thread:
    """Run `PREINITIALIZED` in the driver JVM behind `gateway` on a thread of its own;
    joined before the SparkSession is built, so that no class is initialized from two
    threads at once past the SparkContext's start. A step this Spark lacks is passed over."""

    def run() -> None:
        with jvmcalls.internal():
            for label, step in PREINITIALIZED:
                try:
                    step(gateway.jvm)
                except Exception as exc:  # another Spark, or the JVM went away
                    log.debug("not preinitialized: %s: %s", label, str(exc)[:200])

    thread = threading.Thread(target=run, name="spark-preinitialize", daemon=True)
    thread.start()
    return thread


# In the kernel, until the first Spark cell: each step is one small query.
STEPS: list[Step] = [
    ("catalog", _catalog),
    ("sql", _sql_to_arrow),
    ("local rows", _local_rows),
    ("count", _count),
]


def _pandas(spark: Any) -> None:
    import pandas as pd

    frame = spark.createDataFrame(pd.DataFrame({"x": [1, 2], "s": ["a", "b"]}))
    frame.toPandas()
    spark.createDataFrame([(1, "a")], ["x", "s"]).toPandas()


def _files(spark: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="pyspark-kernel-warm-") as folder:
        df = spark.range(10).selectExpr("id", "cast(id as string) AS s", "current_date() AS d")
        for fmt in ("parquet", "json", "csv"):
            path = f"{folder}/{fmt}"
            df.write.format(fmt).option("header", "true").save(path)
            spark.read.format(fmt).option("header", "true").load(path).collect()


def _relational(spark: Any) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    left = spark.range(20).withColumn("k", F.col("id") % 3)
    right = spark.range(3).withColumnRenamed("id", "k")
    joined = left.join(right, "k").groupBy("k").agg(F.sum("id"), F.countDistinct("id"))
    joined.orderBy("k").collect()
    left.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy("id"))).collect()
    left.createOrReplaceTempView("pyspark_kernel_warm")
    internals.arrow_table(
        spark.sql("SELECT k, max(id) FROM pyspark_kernel_warm GROUP BY k").limit(101)
    )
    spark.catalog.dropTempView("pyspark_kernel_warm")
    left.describe().collect()
    internals.show_string(left)


def _python_udf(spark: Any) -> None:
    from pyspark.sql.functions import udf

    plus_one = udf(lambda x: x + 1, "long")
    spark.range(2).select(plus_one("id")).collect()


def _error(spark: Any) -> None:
    try:
        spark.sql("SELECT no_such_column FROM range(1)").collect()
    except Exception as exc:
        log.debug("expected: %s", type(exc).__name__)


def _job_tags(spark: Any) -> None:
    sc = spark.sparkContext
    sc.addJobTag("pyspark-kernel-warm")
    try:
        spark.range(3).count()
    finally:
        sc.removeJobTag("pyspark-kernel-warm")
    internals.job_ids_for_tag(internals.status_tracker(sc), "pyspark-kernel-warm")


# For the class-data archive only: what a notebook's first hour touches.
ARCHIVE_STEPS: list[Step] = [
    ("pandas", _pandas),
    ("files", _files),
    ("relational", _relational),
    ("python udf", _python_udf),
    ("error", _error),
    ("job tags", _job_tags),
]


def warm_session(
    spark: Any, stop: Callable[[], bool] = lambda: False, *, archive: bool = False
) -> list[str]:
    """Run the warm-up steps on `spark` until `stop()` says so; return the steps done.
    With `archive`, the archive's steps follow, and a step that fails is only logged."""
    done = []
    for label, step in STEPS + (ARCHIVE_STEPS if archive else []):
        if stop():
            break
        try:
            if step(spark) is not False:
                done.append(label)
        except Exception as exc:
            if not archive:
                raise
            log.info("warm-up step %s failed: %s", label, str(exc).splitlines()[0][:200])
    return done
