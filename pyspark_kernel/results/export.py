"""A whole result written as one CSV or Parquet file for the browser's download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .preview import as_spark_frame

FORMATS = ("csv", "parquet")


def export_file(df: Any, fmt: str, folder: Path) -> Path:
    """Write `df` into `folder` as one `fmt` file (Spark, one task) and return its path.

    CSV cannot hold arrays, maps or structs: those columns are written as JSON text."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    frame = as_spark_frame(df)
    target = folder / "out"
    if fmt == "csv":
        nested = (T.ArrayType, T.MapType, T.StructType)
        frame = frame.select(
            *(
                F.to_json(frame[f.name]).alias(f.name)
                if isinstance(f.dataType, nested)
                else frame[f.name]
                for f in frame.schema.fields
            )
        )
        frame.coalesce(1).write.option("header", True).csv(str(target))
    else:
        frame.coalesce(1).write.parquet(str(target))
    (part,) = sorted(target.glob(f"part-*.{fmt}")) or sorted(target.glob("part-*"))
    return part
