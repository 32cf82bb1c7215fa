"""A notebook's own ``SparkSession.builder...getOrCreate()`` and ``SparkContext.getOrCreate
(conf)`` in a kernel whose session already runs.

Spark then returns the running session and keeps only runtime SQL settings; a master, an
app name or a static setting (``spark.jars.packages``...) the notebook asked for is
silently ignored. The kernel names each one in one line with how to apply it. A builder
asking for Spark Connect (``.remote(url)``) gets the kernel's session moved to that server
when the running one holds nothing a restart would lose (else the line says how)."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import pyspark_kernel.spark_internals as internals

from .holdings import holdings

log = logging.getLogger(__name__)

# Settings that name what the session is, not how it is tuned.
_IDENTITY = {"spark.master": "master", "spark.app.name": "app name"}
_KAFKA = "spark-sql-kafka"


class BuilderWatch:
    """Wraps ``SparkSession.Builder.getOrCreate`` and ``SparkContext.getOrCreate``."""

    def __init__(
        self,
        running: Callable[[], Any],
        note: Callable[[str], None],
        move_to_connect: Callable[[str], Any],
    ) -> None:
        self._running = running  # the kernel's session, or None
        self._note = note  # shows one line in the running cell
        self._move_to_connect = move_to_connect  # restart on a Connect server: the session
        self._saved: list[tuple[Any, str, Any]] = []
        self._noted: set[tuple[str, str]] = set()

    def install(self) -> None:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        builder = SparkSession.Builder
        original = builder.__dict__["getOrCreate"]
        self._replace(builder, "getOrCreate", self._wrap_builder(original))
        context_original = SparkContext.__dict__["getOrCreate"]
        self._replace(
            SparkContext, "getOrCreate", classmethod(self._wrap_context(context_original.__func__))
        )

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)

    def _replace(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    # -- SparkSession.builder ---------------------------------------------------------------
    def _wrap_builder(self, original: Callable[..., Any]) -> Callable[..., Any]:
        watch = self

        @functools.wraps(original)
        def getOrCreate(builder: Any) -> Any:
            if _from_pyspark(sys._getframe(1)):  # PySpark's own (pandas-on-Spark's) builders
                return original(builder)
            spark = watch._running()
            options = internals.builder_options(builder)
            url = options.get("spark.remote")
            if spark is not None and url and internals.is_classic(spark):
                return watch._connect(spark, url)
            if spark is not None and internals.is_classic(spark):
                watch._name_ignored(spark, options)
            return original(builder)

        return getOrCreate

    def _connect(self, spark: Any, url: str) -> Any:
        held = holdings(spark)
        if held:
            raise RuntimeError(
                f"this kernel's Spark session is a local one holding {', '.join(held)}; "
                f"to use the Spark Connect server at {url}: %spark config remote={url} "
                "then %spark restart (Python variables are kept)"
            )
        self._note(f"pyspark-kernel: moving this kernel's Spark session to {url}")
        return self._move_to_connect(url)

    def _name_ignored(self, spark: Any, options: dict[str, str]) -> None:
        try:
            ignored = differing_static(spark, options)
        except Exception:  # a session stopped meanwhile: Spark's builder makes a new one
            log.debug("could not compare the builder's settings", exc_info=True)
            return
        for key, wanted in ignored.items():
            if (key, wanted) not in self._noted:  # once per kernel, not once per call
                self._noted.add((key, wanted))
                self._note(how_to_apply(key, wanted, spark))

    # -- SparkContext.getOrCreate(conf) -----------------------------------------------------
    def _wrap_context(self, original: Callable[..., Any]) -> Callable[..., Any]:
        watch = self

        @functools.wraps(original)
        def getOrCreate(cls: Any, conf: Any = None) -> Any:
            if _from_pyspark(sys._getframe(1)):
                return original(cls, conf)
            spark = watch._running()
            if spark is not None and conf is not None and internals.is_classic(spark):
                options = {str(k): str(v) for k, v in conf.getAll()}
                watch._name_ignored(spark, options)
            return original(cls, conf)

        return getOrCreate


def _from_pyspark(frame: Any) -> bool:
    name = str(frame.f_globals.get("__name__", ""))
    return name == "pyspark" or name.startswith("pyspark.")


def differing_static(spark: Any, options: dict[str, str]) -> dict[str, str]:
    """The settings in `options` the running classic session cannot take now (its master,
    app name, static settings) and that differ from what it runs with."""
    conf = spark.sparkContext.getConf()
    differing: dict[str, str] = {}
    for key, wanted in options.items():
        if key in {"spark.remote", "spark.api.mode"}:
            continue
        if key not in _IDENTITY and spark.conf.isModifiable(key):
            continue  # a runtime setting: Spark applies it
        if conf.get(key, None) != wanted:
            differing[key] = wanted
    return differing


def how_to_apply(key: str, wanted: str, spark: Any) -> str:
    """One line: which setting the running session did not take, and how to apply it."""
    running = spark.sparkContext.getConf().get(key, None)
    what = _IDENTITY.get(key, key)
    now = f" (it runs with {running})" if running is not None else ""
    if key == "spark.jars.packages" and _KAFKA in wanted:
        fix = "%spark packages kafka --restart"
    else:
        fix = f"%spark config {key}={wanted} then %spark restart"
    return (
        f"pyspark-kernel: the kernel's Spark session was already running, so {what}={wanted} "
        f"was not applied{now}; to apply it: {fix}"
    )
