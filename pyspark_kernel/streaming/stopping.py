"""Stopping streaming queries, in parallel and bounded in time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


def stop_queries(queries: Iterable[Any], timeout: float = 5.0) -> None:
    """Stop `queries` in parallel; give up waiting after `timeout` s."""

    def stop(query: Any) -> None:
        try:
            query.stop()
        except Exception as exc:
            log.warning("could not stop streaming query %s: %s", query.id, exc)

    threads = [threading.Thread(target=stop, args=(q,), daemon=True) for q in queries]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def stop_all_queries(spark: Any, timeout: float = 5.0) -> None:
    """Stop every active streaming query of `spark`; give up waiting after `timeout` s."""
    try:
        queries = list(spark.streams.active)
    except Exception as exc:
        log.debug("could not list streaming queries: %s", exc)
        return
    stop_queries(queries, timeout)
