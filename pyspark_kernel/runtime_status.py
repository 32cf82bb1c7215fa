"""A kernel's status file: what the Jupyter server extension knows about the kernel's Spark.

A kernel started by a Jupyter server with the extension (`ui_proxy.current_place`) keeps
``pyspark-kernel-<kernel_id>.json`` next to its connection file (Jupyter's runtime folder,
private to the user), rewritten atomically when its session changes state and, at most
once a second, when a streaming query reports progress; removed when the kernel exits.
The server reads it to find the kernel's Spark UI port (`pyspark_kernel.serverext`) and to
answer ``GET pyspark-kernel/api/status``. Schema (``version`` 1)::

    {"version": 1, "kernel_id": str, "pid": int, "updated": float (epoch seconds),
     "session": {"state", "master", "app_id", "version", "ui_url", "error", "jvm_pid"},
     "streams": [{"id", "run_id", "name", "state", "message", "batch_id", ...,
                  "last_progress": Spark's StreamingQueryProgress as JSON | null}]}

``session.ui_url`` is the Spark UI's own address (``http://127.0.0.1:<port>``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION = 1
FILE_PREFIX = "pyspark-kernel-"
STREAM_INTERVAL = 1.0  # seconds between rewrites for streaming progress


def status_path(directory: str | Path, kernel_id: str) -> Path:
    """Where the status file of `kernel_id` lives in `directory`."""
    return Path(directory) / f"{FILE_PREFIX}{kernel_id}.json"


def write(path: Path, status: Mapping[str, Any]) -> None:
    """Replace `path` with `status` as JSON, atomically (readers never see half a file)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(status, f, default=str, separators=(",", ":"))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def read(path: Path) -> dict[str, Any] | None:
    """The status in `path`, or None if it is missing, unreadable or of another version."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("version") != VERSION:
        return None
    return value


class StatusFile:
    """This kernel's status file: the session's state and its active streaming queries."""

    def __init__(self, path: Path, kernel_id: str, interval: float = STREAM_INTERVAL) -> None:
        self.path = path
        self.kernel_id = kernel_id
        self.interval = interval
        self._session: dict[str, Any] = {"state": "stopped"}
        self._streams: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False
        atexit.register(self.close)

    def set_session(self, fields: Mapping[str, Any]) -> None:
        """The session changed state: rewrite the file now."""
        with self._lock:
            self._session = dict(fields)
            if fields.get("state") != "ready":
                self._streams.clear()  # queries do not outlive their session
            self._write()

    def set_stream(self, run_id: str, entry: Mapping[str, Any] | None) -> None:
        """A streaming query run's latest state (None: it ended). Written at most once per
        `interval`; the last change is always written."""
        with self._lock:
            if entry is None:
                if self._streams.pop(run_id, None) is None:
                    return
            else:
                self._streams[run_id] = dict(entry)
            wait = self._last_write + self.interval - time.monotonic()
            if wait <= 0:
                self._write()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._write_pending)
                self._timer.daemon = True
                self._timer.start()

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "kernel_id": self.kernel_id,
            "pid": os.getpid(),
            "updated": time.time(),
            "session": dict(self._session),
            "streams": list(self._streams.values()),
        }

    def close(self) -> None:
        """Remove the file (the kernel is going away); later updates are ignored."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def _write_pending(self) -> None:
        with self._lock:
            self._timer = None
            self._write()

    def _write(self) -> None:  # holds the lock
        if self._closed:
            return
        self._last_write = time.monotonic()
        try:
            write(self.path, self.snapshot())
        except OSError as exc:  # a full disk must not break the kernel
            log.warning("could not write the kernel status file %s: %s", self.path, exc)


def for_this_kernel() -> StatusFile | None:
    """The status file of this kernel when a Jupyter server with the extension started it."""
    from .ui_proxy import current_place

    place = current_place()
    if place is None:
        return None
    return StatusFile(status_path(place.runtime_dir, place.kernel_id), place.kernel_id)
