"""``%%transform``: the seed execution server's ``transform()`` way of working, on Spark.

The cell defines ``def transform(<names>)``. Each parameter is bound by name to a temporary
view or table of that name, else to a DataFrame variable; the function must return a
DataFrame (pandas and pandas-on-Spark frames are turned into Spark ones). The result can be
saved as a view, or as Parquet or CSV in the kernel's output folder, never half-written.
"""

from __future__ import annotations

import inspect
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .results.preview import as_spark_frame, is_dataframe


class TransformError(ValueError):
    """The transform cell is not usable as written (missing table, wrong return type)."""


def find_transform(namespace: Mapping[str, Any]) -> Callable[..., Any]:
    func = namespace.get("transform")
    if not callable(func):
        raise TransformError("the cell must define a function named transform()")
    return func


def bind_arguments(
    func: Callable[..., Any], spark: Any, namespace: Mapping[str, Any]
) -> dict[str, Any]:
    """Each parameter name → the view/table of that name, else the DataFrame variable."""
    arguments: dict[str, Any] = {}
    for name, param in inspect.signature(func).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TransformError(f"transform() parameter *{name} is not supported: name each table")
        if spark.catalog.tableExists(name):
            arguments[name] = spark.table(name)
        elif is_dataframe(namespace.get(name)):
            arguments[name] = as_spark_frame(namespace[name])
        elif param.default is not param.empty:
            continue
        else:
            raise TransformError(
                f"transform({name}): no table, temporary view or DataFrame variable named {name!r}"
            )
    return arguments


def as_result(value: Any, spark: Any) -> Any:
    """The Spark DataFrame of what transform() returned, or a `TransformError`."""
    if is_dataframe(value):
        return as_spark_frame(value)
    module = type(value).__module__
    if module.startswith("pandas") and type(value).__name__ == "DataFrame":
        return spark.createDataFrame(value)
    raise TransformError(f"transform() must return a DataFrame, got {type(value).__name__}")


def save(df: Any, output_dir: Path, name: str, fmt: str) -> Path:
    """Write `df` as `fmt` to ``output_dir/name``, atomically: a temp folder, then rename."""
    target = output_dir / name
    temp = output_dir / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        writer = df.write.mode("errorifexists")
        if fmt == "csv":
            writer.option("header", "true").csv(str(temp))
        else:
            writer.parquet(str(temp))
        if target.exists():
            shutil.rmtree(target)
        os.replace(temp, target)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)
    return target
