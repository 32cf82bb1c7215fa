"""Where the kernel keeps its files: the cache (jars, archives, local services) and the
per-user data folder (the default Spark warehouse)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$PYSPARK_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/pyspark-kernel`` (``~/.cache``)."""
    explicit = os.environ.get("PYSPARK_KERNEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pyspark-kernel"


def data_root() -> Path:
    """``$PYSPARK_KERNEL_DATA``, else ``$XDG_DATA_HOME/pyspark-kernel`` (``~/.local/share``)."""
    explicit = os.environ.get("PYSPARK_KERNEL_DATA")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "pyspark-kernel"
