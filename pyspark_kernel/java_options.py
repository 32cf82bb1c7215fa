"""JVM options that come from the environment rather than a command line, and the
choice of a garbage collector around them (two collectors named at once stop a JVM
from starting: "Multiple garbage collectors selected")."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

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
