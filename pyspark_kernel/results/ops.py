"""The comm channel's ops about shown results (docs/channel.md): ``page``, ``chart`` and
``profile`` of a result the kernel keeps by its ``result_id``. Each runs as the kernel's own
Spark work: its own job tag, no progress or log lines in any cell."""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyspark_kernel.results.explore as explore

from ..api import ChannelError, require
from ..config import SparkSettings
from ..session import SessionManager
from .export import FORMATS, export_file
from .store import ResultExpired, ResultStore

MAX_PAGE_ROWS = 1_000
MAX_CHART_GROUPS = 500
EXPORT_CHUNK = 1 << 20  # bytes per message of an export


class ResultOps:
    """Serves requests about the results in `store`."""

    def __init__(self, store: ResultStore, session: SessionManager, settings: SparkSettings):
        self.store = store
        self.session = session
        self.settings = settings

    def handlers(self) -> dict[str, Any]:
        return {"page": self.page, "chart": self.chart, "profile": self.profile}

    def export(
        self, request: dict[str, Any], send: Callable[[dict[str, Any], list[bytes]], None]
    ) -> dict[str, Any]:
        """Send the whole result as one CSV or Parquet file in chunks, then the reply."""
        df = self._result(request)
        fmt = require(request, "format", str, "csv")
        if fmt not in FORMATS:
            raise ChannelError(f"format must be one of {', '.join(FORMATS)}")
        limit = self.settings.export_limit
        stored = self.store.get(request["result_id"])
        name = f"{_file_stem(stored.name)}.{fmt}"
        with tempfile.TemporaryDirectory(prefix="pyspark-kernel-export-") as folder:
            with self._own_work("export"):
                part = export_file(df, fmt, Path(folder))
            size = part.stat().st_size
            if size > limit:
                raise ChannelError(
                    f"the result is {size:,} bytes as {fmt}, over the export limit of "
                    f"{limit:,} bytes (raise it with %spark config export_limit=BYTES)"
                )
            chunks = max(1, math.ceil(size / EXPORT_CHUNK))
            with part.open("rb") as data:
                for index in range(chunks):
                    send(
                        {"chunk": index, "chunks": chunks, "size": size}, [data.read(EXPORT_CHUNK)]
                    )
        return {
            "result_id": request["result_id"],
            "file_name": name,
            "format": fmt,
            "size": size,
            "chunks": chunks,
        }

    def page(self, request: dict[str, Any]) -> dict[str, Any]:
        df = self._result(request)
        offset = require(request, "offset", int, 0)
        limit = require(request, "limit", int, self.settings.max_rows)
        if not 1 <= limit <= MAX_PAGE_ROWS or offset < 0:
            raise ChannelError(f"limit must be 1..{MAX_PAGE_ROWS} and offset 0 or more")
        sort = [
            explore.SortKey(
                require(key, "column", str), bool(require(key, "descending", bool, False))
            )
            for key in _objects(require(request, "sort", list, []), "sort")
        ]
        filters = [
            explore.Filter(require(f, "column", str), require(f, "op", str), f.get("value"))
            for f in _objects(require(request, "filter", list, []), "filter")
        ]
        with self._own_work("page"):
            found = explore.page(
                df,
                offset,
                limit,
                sort,
                filters,
                self.settings.max_chars,
                self.settings.max_bytes,
            )
        return {"result_id": request["result_id"], **found}

    def chart(self, request: dict[str, Any]) -> dict[str, Any]:
        df = self._result(request)
        max_groups = require(request, "max_groups", int, 50)
        if not 1 <= max_groups <= MAX_CHART_GROUPS:
            raise ChannelError(f"max_groups must be 1..{MAX_CHART_GROUPS}")
        with self._own_work("chart"):
            data = explore.chart_data(
                df,
                require(request, "kind", str),
                require(request, "x", str),
                require(request, "y", (str, type(None)), None),
                require(request, "agg", str, "sum"),
                require(request, "color", (str, type(None)), None),
                max_groups,
            )
        return {"result_id": request["result_id"], "chart": data}

    def profile(self, request: dict[str, Any]) -> dict[str, Any]:
        df = self._result(request)
        with self._own_work("profile"):
            found = explore.profile(df)
        return {"result_id": request["result_id"], "profile": found}

    def _result(self, request: dict[str, Any]) -> Any:
        result_id = require(request, "result_id", str)
        if not self.session.ready:
            raise ChannelError(f"the Spark session is {self.session.state}")
        try:
            return self.store.get(result_id).df
        except ResultExpired as exc:
            raise ChannelError(str(exc)) from None

    @contextlib.contextmanager
    def _own_work(self, what: str) -> Iterator[None]:
        """The kernel's own Spark work; an invalid request reads as a `ChannelError`."""
        try:
            with self.session.own_work(f"pyspark-kernel: {what} of a result"):
                yield
        except explore.ExploreError as exc:
            raise ChannelError(str(exc)) from None


def _file_stem(name: str | None) -> str:
    """A file name made of what the result was shown as (its variable, view or path)."""
    stem = Path(name).stem if name else "result"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "result"


def _objects(items: list[Any], name: str) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise ChannelError(f"argument {name!r} must be a list of objects")
    return items
