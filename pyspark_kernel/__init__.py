"""pyspark-kernel: a Jupyter kernel for PySpark.

Importing this package never starts Spark. In the ``pyspark`` kernel the extension is
loaded at start; in any IPython kernel, ``%load_ext pyspark_kernel`` loads it.
"""

from __future__ import annotations

import json
from typing import Any

__version__ = "0.1.0"

_extension: Any = None


def load_ipython_extension(shell: Any) -> None:
    """Load the Spark extension into an IPython shell (``%load_ext pyspark_kernel``)."""
    global _extension
    if _extension is None:
        from .extension import SparkExtension

        _extension = SparkExtension(shell)
        _extension.register()


def unload_ipython_extension(shell: Any) -> None:
    """Stop Spark when the extension is unloaded."""
    global _extension
    if _extension is not None:
        _extension.close()
        _extension = None


def current() -> Any:
    """The running `SparkExtension` of this kernel, or None."""
    if _extension is not None:
        return _extension
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    return getattr(kernel, "spark_extension", None)


def last_record() -> dict[str, Any] | None:
    """The execution record of the last finished cell, as a dict."""
    ext = current()
    return ext.records[-1].as_dict() if ext is not None and ext.records else None


def kernel_metrics() -> dict[str, Any] | None:
    """Metrics since the kernel started (the data of ``%spark metrics --json``)."""
    ext = current()
    return ext.metrics.summary() if ext is not None else None


def status_json() -> str:
    """The session's state as JSON, for the lab extension's status bar."""
    ext = current()
    if ext is None:
        return json.dumps({"state": "stopped"})
    return json.dumps(ext.session.info().as_dict())
