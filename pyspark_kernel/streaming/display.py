"""Sending the displays of streaming queries: coalesced, at most 4 updates per second each."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.25  # seconds between two updates of one display: at most 4 per second


@dataclass
class _Update:
    display_id: str
    parent: dict[str, Any]
    data: dict[str, Any]
    final: bool = False


class DisplayScheduler:
    """Sends the newest update of each display at most every `interval` seconds.

    Updates submitted in between replace the pending one (coalescing). One thread sends
    them all, so the updates of a display keep their order; the first one of a display is
    a ``display_data``, the others ``update_display_data``."""

    def __init__(
        self, send: Callable[[_Update, bool], None], interval: float = MIN_INTERVAL
    ) -> None:
        self._send = send
        self._interval = interval
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[_Update, threading.Event]] = {}
        self._last: dict[str, float] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="spark-stream-displays")
        self._thread.daemon = True
        self._thread.start()

    def submit(self, update: _Update) -> threading.Event:
        """Queue `update`; the event is set once it (or a newer one) has been sent."""
        with self._cond:
            previous = self._pending.get(update.display_id)
            done = previous[1] if previous else threading.Event()
            if self._closed:
                done.set()
                return done
            self._pending[update.display_id] = (update, done)
            self._cond.notify()
        return done

    def close(self, timeout: float = 1.0) -> None:
        """Send what is pending now and stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._take_due()
                while not due:
                    if self._closed:
                        return
                    self._cond.wait(self._wait_time())
                    due = self._take_due()
            for update, first, done in due:
                try:
                    self._send(update, first)
                except Exception:
                    log.exception("could not send a streaming display")
                finally:
                    done.set()

    def _take_due(self) -> list[tuple[_Update, bool, threading.Event]]:
        now = time.monotonic()
        due = []
        for key, (update, done) in list(self._pending.items()):
            last = self._last.get(key)
            if self._closed or last is None or now - last >= self._interval:
                del self._pending[key]
                due.append((update, last is None, done))
                if update.final:
                    self._last.pop(key, None)
                else:
                    self._last[key] = now
        return due

    def _wait_time(self) -> float | None:
        if not self._pending:
            return None
        now = time.monotonic()
        waits = [self._last.get(k, now) + self._interval - now for k in self._pending]
        return max(0.01, min(waits))
