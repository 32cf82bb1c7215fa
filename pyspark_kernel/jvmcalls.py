"""Counting the calls made to the driver JVM by anything but the kernel's own hooks.

When a cell made no such call, it cannot have run a Spark job or changed a temporary view,
so the hooks skip asking the JVM (a trivial cell then costs two JVM calls, not a dozen).
The count also tells whether the views listed after one cell are still current before the
next: calls from other threads between cells (a listener, a user's thread) invalidate it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

_local = threading.local()


class CallCounter:
    """Counts the Py4J commands sent by `client` outside `internal()` blocks."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        send = client.send_command

        def counted(*args: Any, **kwargs: Any) -> Any:
            if not getattr(_local, "internal", False):
                self.calls += 1
            return send(*args, **kwargs)

        client.send_command = counted


@contextlib.contextmanager
def internal() -> Iterator[None]:
    """Calls made by this thread inside the block are the kernel's own: not counted."""
    outer = getattr(_local, "internal", False)
    _local.internal = True
    try:
        yield
    finally:
        _local.internal = outer
