"""Counting the calls made to the driver JVM by anything but the kernel's own hooks.

When a cell made no such call, it cannot have run a Spark job or changed a temporary view,
so the hooks skip asking the JVM (a trivial cell then costs three JVM calls, not a dozen).
Calls that may change the session's temporary views are counted apart (`may_change_views`),
so the views listed once stay current, for the next cell as for this one, until such a call
is made by a cell or any other thread (a listener, a user's thread).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

_local = threading.local()

# A Py4J call command (``c``, its target object or ``z:`` class, its method) or constructor
# (``i``, its class); any other command (reading a field or an array, releasing objects)
# changes no view.
_COMMAND = re.compile(r"(?:c\n(o\d+|z:[^\n]*)\n([^\n]*)|i\n([^\n]*))\n")
# Methods through which PySpark changes views: create/replace/drop(Global)TempView,
# registerTempTable, SQL (``CREATE VIEW``, ``CACHE TABLE``), a streaming query's start (a
# memory sink is a view), a command run directly.
_VIEW_METHODS = re.compile(r"(?i)view|temptable|command|^sql$|^start$")
# JVM code of these packages changes views only through the methods above; a class of any
# other (a user's jar) may do anything.
_KNOWN_CODE = ("org.apache.spark.", "java.", "scala.", "py4j.")


def may_change_views(command: str) -> bool:
    """Whether a Py4J command may create, replace or drop a temporary view."""
    match = _COMMAND.match(command)
    if match is None:
        return command[:2] in ("c\n", "i\n")  # a call or constructor not understood
    target, method, constructed = match.groups()
    if constructed is not None:
        return not constructed.startswith(_KNOWN_CODE)
    if target.startswith("z:") and not target[2:].startswith(_KNOWN_CODE):
        return True
    return _VIEW_METHODS.search(method) is not None


class CallCounter:
    """Counts the Py4J commands sent by `client` outside `internal()` blocks, and apart
    those among them that may change a temporary view; runs `before_main_call` before the
    main thread's next such command."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        self.view_changes = 0
        # run once, before the next counted call made by the main thread (the cells' thread)
        self.before_main_call: Callable[[], None] | None = None
        send = client.send_command

        def counted(command: str, *args: Any, **kwargs: Any) -> Any:
            if not getattr(_local, "internal", False):
                self.calls += 1
                if may_change_views(command):
                    self.view_changes += 1
                first = self.before_main_call
                if first is not None and threading.current_thread() is threading.main_thread():
                    self.before_main_call = None
                    first()
            return send(command, *args, **kwargs)

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
