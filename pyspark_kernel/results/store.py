"""The results the kernel keeps alive so the frontend can ask more of them later (the whole
result page by page, a chart's aggregation, a column profile, a deferred preview): the last
`capacity` shown DataFrames, by result id, least recently used dropped first."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

DEFAULT_CAPACITY = 32


class ResultExpired(LookupError):
    """The result id is unknown to this kernel or was dropped to bound memory."""


@dataclass(frozen=True)
class StoredResult:
    """A shown DataFrame and what it was shown as."""

    result_id: str
    df: Any
    source: str
    name: str | None = None  # the variable, view or path it was shown as


class ResultStore:
    """A bounded, thread-safe LRU of shown DataFrames."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, StoredResult] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, df: Any, source: str, name: str | None = None) -> StoredResult:
        """Keep `df`; return its entry (with a new result id)."""
        item = StoredResult(uuid.uuid4().hex[:16], df, source, name)
        with self._lock:
            self._items[item.result_id] = item
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return item

    def get(self, result_id: str) -> StoredResult:
        """The result with this id (now the most recently used), or `ResultExpired`."""
        with self._lock:
            item = self._items.get(result_id)
            if item is None:
                raise ResultExpired(
                    f"result {result_id!r} has expired: this kernel keeps its last "
                    f"{self.capacity} results (run the cell again to get it back)"
                )
            self._items.move_to_end(result_id)
            return item

    def find(self, name: str) -> StoredResult | None:
        """The newest result shown as `name` (a variable, view or Parquet path)."""
        with self._lock:
            for item in reversed(self._items.values()):
                if item.name == name:
                    return item
        return None

    def clear(self) -> None:
        """Forget every result (the session they belong to is gone)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
