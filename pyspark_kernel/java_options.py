"""JVM options that come from the environment rather than a command line, and the
choice of a garbage collector around them (two collectors named at once stop a JVM
from starting: "Multiple garbage collectors selected")."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Read by every JVM at its start, whoever launches it.
JAVA_OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")
_NAMES_A_COLLECTOR = re.compile(r"-XX:[+-]Use\w*GC\b")


def names_a_collector(texts: Iterable[str]) -> bool:
    """Whether any of `texts` turns a garbage collector on or off (``-XX:+UseSerialGC``)."""
    return any(_NAMES_A_COLLECTOR.search(text) for text in texts)


def collector_options(options: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """`options` (a collector and its tuning) for a JVM the project starts, or none when
    the environment's JVM options already name a collector: the user's choice stands."""
    if names_a_collector(environ.get(name, "") for name in JAVA_OPTION_VARIABLES):
        return []
    return list(options)


class NoJava(RuntimeError):
    """No Java runtime to launch."""


def java_identity(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The Java runtime the Spark launcher will use (``$JAVA_HOME/bin/java``, else ``java``
    on the PATH), from its ``release`` file and its libjvm (an update in place changes it)."""
    explicit = environ.get("JAVA_HOME")
    java = str(Path(explicit) / "bin" / "java") if explicit else shutil.which("java")
    if not java or not os.path.exists(java):
        raise NoJava("no Java runtime found (set JAVA_HOME or put java on the PATH)")
    home = Path(os.path.realpath(java)).parent.parent
    release: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in (home / "release").read_text().splitlines():
            name, _, value = line.partition("=")
            release[name.strip()] = value.strip().strip('"')
    libjvm = next((p for p in home.glob("lib/server/libjvm.*")), None)
    stat = libjvm.stat() if libjvm is not None else None
    return {
        "home": str(home),
        "version": release.get("JAVA_RUNTIME_VERSION") or release.get("JAVA_VERSION"),
        "vendor": release.get("IMPLEMENTOR"),
        "libjvm": [stat.st_size, stat.st_mtime_ns] if stat else None,
    }
