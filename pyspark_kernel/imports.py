"""Libraries imported by the kernel's background work, imported the way a cell would.

PySpark's Py4J converters import pandas on their first call, which happens in the thread
that builds the session. pandas chooses some option defaults at import from whether it
runs in a Jupyter kernel, which it asks ``get_ipython()``: a builtin IPython only provides
while a cell runs. Imported from the background without it, pandas believes it is in a
terminal (``display.max_columns`` becomes 0, so every frame drops its middle columns)."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Any

# Imported by PySpark as a side effect of the session's first JVM calls.
IMPORTED_BY_SPARK = ("pandas",)


def import_as_a_cell_would(shell: Any) -> None:
    """Import the libraries PySpark imports on the side, with IPython's builtins in place
    as during a cell (nothing happens for those already imported)."""
    missing = [name for name in IMPORTED_BY_SPARK if name not in sys.modules]
    trap = getattr(shell, "builtin_trap", None)
    if not missing or trap is None:
        return
    with trap:
        for name in missing:
            with contextlib.suppress(ImportError):  # PySpark copes without it; so do we
                importlib.import_module(name)
