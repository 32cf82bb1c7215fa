"""``%streams``: list, stop and inspect the session's streaming queries."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

import pyspark_kernel.spark_internals as internals

from .payload import query_label, rate
from .stopping import stop_queries

if TYPE_CHECKING:
    from .support import StreamingSupport

STREAMS_HELP = """%streams                    active queries: name, id, last batch, rows/s, status
%streams stop NAME|ID|all   stop queries (bounded in time); their displays end as stopped
%streams progress NAME|ID   the last progress report of a query, as JSON"""


@magics_class
class StreamsMagics(Magics):
    """``%streams``: list, stop and inspect the session's streaming queries."""

    def __init__(self, shell: Any, support: StreamingSupport) -> None:
        super().__init__(shell)
        self.support = support

    @line_magic
    def streams(self, line: str) -> None:
        """List streaming queries; ``%streams stop NAME|ID|all``, ``%streams progress NAME|ID``."""
        words = shlex.split(line)
        if words == ["help"]:
            print(STREAMS_HELP)
            return
        if len(words) not in (0, 2) or (words and words[0] not in {"stop", "progress"}):
            raise UsageError(f"unknown %streams command {line.strip()!r}\n{STREAMS_HELP}")
        spark = self.support.host.bind(wait=True)
        if spark is None:
            print("pyspark-kernel: the Spark session is not available")
            return
        if not words:
            self._list(spark)
        elif words[0] == "stop":
            self._stop(spark, words[1])
        else:
            self._progress(spark, words[1])

    def _list(self, spark: Any) -> None:
        queries = list(spark.streams.active)
        if not queries:
            print("no active streaming queries")
            return
        rows = [("name", "id", "batch", "input/s", "processed/s", "status")]
        rows += [self._row(q) for q in queries]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [
                c.rjust(w) if i in (2, 3, 4) else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=False))
            ]
            print("  ".join([*cells, row[-1]]))

    def _row(self, query: Any) -> tuple[str, str, str, str, str, str]:
        view = self.support.view_of(str(query.runId))
        progress = view.progress if view is not None and view.progress else _last_progress(query)
        p = progress or {}
        batch = p.get("batchId")
        return (
            query.name or "-",
            str(query.id),
            "-" if batch is None else str(batch),
            f"{rate(p.get('inputRowsPerSecond')):g}",
            f"{rate(p.get('processedRowsPerSecond')):g}",
            str(query.status.get("message", "")),
        )

    def _stop(self, spark: Any, which: str) -> None:
        queries = list(spark.streams.active)
        chosen = queries if which == "all" else _find(queries, which)
        if not chosen:
            print(
                f"no active streaming query {which!r}"
                if which != "all"
                else "no active streaming queries"
            )
            return
        labels = {str(q.runId): query_label(q.name, q.id) for q in chosen}
        stop_queries(chosen, timeout=10.0)
        self.support.wait_final(labels, 3.0)
        for label in labels.values():
            print(f"stopped {label}")

    def _progress(self, spark: Any, which: str) -> None:
        found = _find(list(spark.streams.active), which)
        progress = _last_progress(found[0]) if found else None
        if not found:
            views = self.support.finished_views()
            view = next((v for v in views if which in (v.name, v.id, v.run_id)), None)
            if view is None:
                print(f"no streaming query {which!r}")
                return
            progress = view.progress
        print(
            json.dumps(progress, indent=2) if progress else f"no progress reported yet by {which!r}"
        )


def _find(queries: list[Any], which: str) -> list[Any]:
    """Queries named `which`, or with that id or run id."""
    return [q for q in queries if which in (q.name, str(q.id), str(q.runId))]


def _last_progress(query: Any) -> dict[str, Any] | None:
    try:
        return internals.last_progress(query)
    except Exception:
        return None
