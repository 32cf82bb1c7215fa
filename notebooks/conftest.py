"""nbval settings for the bundled notebooks (``pytest --nbval notebooks/``).

What users see is compared: streams, errors and each result's ``text/html`` and
``text/plain``, with volatile values (times, ports, ids, paths) replaced by the patterns
of ``nbval-sanitize.cfg``, which is used without being named on the command line.
Left out of the comparison, because they depend on timing rather than on the code:

- the kernel's JSON payloads (the same content as their HTML and text fallbacks, plus
  temporary paths and measured times);
- Spark progress displays, which appear only when a cell's Spark work lasts over a second;
- log lines and stream outputs that the sanitize patterns empty (environment warnings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import IPyNbCell, IPyNbFile, get_sanitize_patterns

SANITIZE = Path(__file__).with_name("nbval-sanitize.cfg")
PAYLOADS = (
    "application/vnd.pyspark-kernel.table.v1+json",
    "application/vnd.pyspark-kernel.progress.v1+json",
    "application/vnd.pyspark-kernel.stream.v1+json",
)
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"


def _visible(cell: IPyNbCell, outputs: list[Any]) -> list[Any]:
    """``outputs`` less progress displays and streams that sanitize to nothing."""
    kept = []
    for out in outputs:
        if PROGRESS in out.get("data", {}):
            continue
        if out.get("output_type") == "stream" and not cell.sanitize(out.get("text", "")).strip():
            continue
        kept.append(out)
    return kept


_compare = IPyNbCell.compare_outputs


def _compare_visible(
    self: IPyNbCell, test: list[Any], ref: list[Any], skip_compare: Any = None
) -> bool:
    return bool(_compare(self, _visible(self, test), _visible(self, ref), skip_compare))


IPyNbCell.compare_outputs = _compare_visible


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the JSON payloads and apply the sanitize file in every notebook."""
    patterns = get_sanitize_patterns(SANITIZE.read_text())
    for parent in {item.parent for item in items if isinstance(item.parent, IPyNbFile)}:
        assert isinstance(parent, IPyNbFile)
        parent.skip_compare = (*parent.skip_compare, *PAYLOADS)
        parent.sanitize_patterns.update(patterns)
