"""Displays sent on behalf of a given cell, from any thread.

Background threads (progress polling, streaming listeners, JVM output) must address their
messages to the cell they belong to, not to whatever cell runs now: every message here
carries an explicit parent header. Outside a Jupyter kernel it falls back to IPython's
``display``.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any


class Publisher:
    """Sends ``display_data`` / ``update_display_data`` under a display id."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    @staticmethod
    def new_display_id() -> str:
        return uuid.uuid4().hex

    def current_parent(self) -> dict[str, Any]:
        pub = getattr(self.shell, "display_pub", None)
        return dict(getattr(pub, "parent_header", {}) or {})

    def display(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        display_id: str | None = None,
        parent: dict[str, Any] | None = None,
        update: bool = False,
    ) -> None:
        pub = getattr(self.shell, "display_pub", None)
        session = getattr(pub, "session", None)
        if pub is None or session is None or (parent is None and getattr(pub, "_hooks", None)):
            # outside a kernel, or a display hook (an Output widget) takes the running
            # cell's displays: IPython's own way
            from IPython.display import display

            display(data, raw=True, metadata=metadata, display_id=display_id, update=update)
            return
        if parent is None:  # the running cell's display, after what it printed
            flush_pending_output()
            parent = pub.parent_header
        content = {
            "data": data,
            "metadata": metadata or {},
            "transient": {"display_id": display_id} if display_id else {},
        }
        msg_type = "update_display_data" if update else "display_data"
        session.send(pub.pub_socket, msg_type, content, parent=parent, ident=pub.topic)


def flush_pending_output() -> None:
    """Send what the cell printed and has not been sent yet, as IPython does before a
    display. A stream with nothing waiting is skipped: ipykernel's flush is a round trip
    to its IO thread (about 0.3 ms) even when there is nothing to send."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "_flush_pending", True) or getattr(
            stream, "_subprocess_flush_pending", False
        ):
            stream.flush()
