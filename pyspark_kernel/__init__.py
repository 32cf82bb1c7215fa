"""pyspark-kernel: a Jupyter kernel for PySpark.

Importing this package never starts Spark. In the ``pyspark`` kernel the extension is
loaded at start; in any IPython kernel, ``%load_ext pyspark_kernel`` loads it.
"""

from __future__ import annotations

import json
from typing import Any

__version__ = "0.1.0"

_loaded: dict[int, Any] = {}  # id(shell) -> the extension loaded by %load_ext


def load_ipython_extension(shell: Any) -> None:
    """Load the Spark extension into an IPython shell (``%load_ext pyspark_kernel``); in the
    ``pyspark`` kernel, where it is loaded already, this does nothing."""
    if current(shell) is None:
        from .extension import SparkExtension

        extension = SparkExtension(shell)
        extension.register()
        _loaded[id(shell)] = extension


def unload_ipython_extension(shell: Any) -> None:
    """Stop Spark and undo everything the extension hooked (``%unload_ext pyspark_kernel``)."""
    extension = _loaded.pop(id(shell), None)
    if extension is not None:
        extension.unregister()


def current(shell: Any = None) -> Any:
    """The Spark extension of this kernel (the `pyspark` kernel's or a loaded one), or None."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
    if shell is None:
        return None
    loaded = _loaded.get(id(shell))
    if loaded is not None:
        return loaded
    return getattr(getattr(shell, "kernel", None), "spark_extension", None)


def last_record() -> dict[str, Any] | None:
    """The execution record of the last finished cell, as a dict."""
    ext = current()
    last = ext.records.last() if ext is not None else None
    return last.as_dict() if last is not None else None


def kernel_metrics() -> dict[str, Any] | None:
    """Metrics since the kernel started (the data of ``%spark metrics --json``)."""
    ext = current()
    return ext.metrics.summary() if ext is not None else None


def chart(
    df: Any,
    kind: str = "bar",
    *,
    x: str,
    y: str | None = None,
    agg: str | None = None,
    color: str | None = None,
    max_groups: int = 50,
) -> dict[str, Any]:
    """Show a chart of `df` aggregated by Spark over the whole result (``agg(y)`` per `x`,
    by `color`; ``agg`` is sum, avg, count, min or max, count when no `y`), as Vega-Lite
    with a PNG for nbconvert and GitHub. Returns the Vega-Lite spec."""
    how = agg or ("sum" if y else "count")
    ext = current()
    if ext is not None:
        return ext.show_chart(df, kind, x, y, how, color, max_groups)
    from IPython.display import display

    from .results.chart import chart_bundle, vega_lite
    from .results.explore import chart_data

    spec = vega_lite(chart_data(df, kind, x, y, how, color, max_groups))
    display(chart_bundle(spec), raw=True)
    return spec


def kernel_health() -> dict[str, int] | None:
    """How much the kernel keeps (records, results, displays, comms...) and its threads."""
    ext = current()
    return ext.health() if ext is not None else None


def status_json() -> str:
    """The session's state as JSON, for the lab extension's status bar."""
    ext = current()
    if ext is None:
        return json.dumps({"state": "stopped"})
    return json.dumps(ext.session.info().as_dict())
