"""IPython's history of a cell's stream output, kept as one string per stream.

IPython 9 keeps every cell's stdout and stderr in ``history_manager.outputs`` (for
``%notebook``), one list item per ``write()``: a loop printing 5,000 lines keeps 10,000
small strings, about 570 KB for 55 KB of text, for as long as the kernel lives (the soak
in ``benchmarks/soak.py`` found it as most of a long-lived kernel's growth). After each
cell the kernel joins each stream's items into one string: the same text, in the same
order, a tenth of the memory. Nothing else of the history is touched.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

STREAM_TYPES = frozenset({"out_stream", "err_stream"})


def compact_cell_streams(shell: Any, execution_count: int | None) -> int:
    """Join the stream items IPython kept for cell `execution_count`; return how many
    items were joined away. Anything not shaped as IPython 9 keeps it is left alone."""
    outputs = getattr(getattr(shell, "history_manager", None), "outputs", None)
    if not isinstance(outputs, dict) or execution_count not in outputs:
        return 0
    joined = 0
    for output in outputs[execution_count]:
        bundle = getattr(output, "bundle", None)
        if getattr(output, "output_type", None) not in STREAM_TYPES or not isinstance(bundle, dict):
            continue
        parts = bundle.get("stream")
        if isinstance(parts, list) and len(parts) > 1 and all(isinstance(p, str) for p in parts):
            bundle["stream"] = ["".join(parts)]
            joined += len(parts) - 1
    return joined


def after_cell(shell: Any, result: Any) -> None:
    """IPython ``post_run_cell`` hook: compact the cell's stream history."""
    try:
        compact_cell_streams(shell, getattr(result, "execution_count", None))
    except Exception:  # the history is IPython's: never fail a cell over it
        log.debug("could not compact the cell's stream history", exc_info=True)
