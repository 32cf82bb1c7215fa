"""Structured Streaming in the kernel: a live status display per query in the cell that
started it, cell-attributed ``foreachBatch`` and console-sink output, ``%streams``, and
stopping the queries (bounded in time) at shutdown.

How a query finds its cell
--------------------------
While the extension is loaded, classic PySpark's ``DataStreamWriter.start``, ``toTable`` and
``foreachBatch`` are wrapped (`install_writer_hooks`, undone by `StreamingSupport.close`).

* ``start``/``toTable`` note the parent header of the calling cell (`CellOrigins`: the running
  cell on the main thread, the cell that started the thread otherwise), stop an active query
  with the same name or checkpoint, put a one-off job tag on the calling thread and start the
  query. Spark copies the thread's job tags into ``QueryStartedEvent.jobTags``; the listener,
  called synchronously inside ``start()``, finds the cell by that tag and shows the display
  there (pyspark 3.5's events carry no job tags: the listener takes the one start in
  flight, and the running cell when two threads start queries at once). The running cell's
  own job tag is taken off the thread meanwhile, so interrupting that cell later does not
  cancel the query's batches.
* ``foreachBatch`` functions run with the parent header of the cell that called
  ``foreachBatch`` (``shell.set_thread_parent``), so what they print or display lands in that
  cell whenever they run. Their exceptions propagate unchanged: the query fails as Spark
  intends.

Limits: the console sink is printed by the JVM without a query id. Its blocks (``Batch: N``
and the table) go to the starting cell when every active console-sink query was started by
the same cell, else where other JVM output goes (the running cell). What ``foreachBatch``
prints while another cell runs is also kept in that cell's execution record
(``sys.stdout`` is process-wide). A thread belongs to the cell during which it was started
(a thread pool made in one cell and used from a later one counts for the first). Spark
Connect sessions get ``%streams`` and the stop at shutdown only.
"""

from .console import CONSOLE_RULE, ConsoleSinkRouter
from .display import DisplayScheduler, _Update
from .origins import CellOrigins, WriterInfo, same_path
from .payload import (
    QueryView,
    kafka_lag,
    query_page,
    short_error,
    stream_payload,
    stream_text,
)
from .stopping import stop_all_queries, stop_queries
from .support import StreamingSupport

__all__ = [
    "CONSOLE_RULE",
    "CellOrigins",
    "ConsoleSinkRouter",
    "DisplayScheduler",
    "QueryView",
    "StreamingSupport",
    "WriterInfo",
    "_Update",
    "kafka_lag",
    "query_page",
    "same_path",
    "short_error",
    "stop_all_queries",
    "stop_queries",
    "stream_payload",
    "stream_text",
]
