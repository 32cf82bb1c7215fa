"""Structured Streaming support: stopping the session's queries, bounded in time."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


def stop_all_queries(spark: Any, timeout: float = 5.0) -> list[str]:
    """Stop every active streaming query of `spark`; give up waiting after `timeout` s."""
    try:
        queries = list(spark.streams.active)
    except Exception as exc:
        log.debug("could not list streaming queries: %s", exc)
        return []
    stopped: list[str] = []

    def stop(query: Any) -> None:
        try:
            query.stop()
            stopped.append(str(query.id))
        except Exception as exc:
            log.warning("could not stop streaming query %s: %s", query.id, exc)

    threads = [threading.Thread(target=stop, args=(q,), daemon=True) for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return stopped
