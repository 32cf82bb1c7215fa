"""How a failing cell reads: a short Spark error first, the full trace kept for
``%spark trace``; an interrupt, a time limit, a dead driver or a lost Spark Connect server
each named in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyspark_kernel.errors as errors
import pyspark_kernel.remote as remote

from .cellstate import CellState
from .config import SparkSettings
from .session import SessionManager


class ErrorDisplay:
    """IPython's custom exception handler for Spark errors (``shell.set_custom_exc``)."""

    def __init__(
        self,
        session: SessionManager,
        settings: SparkSettings,
        current: Callable[[], CellState | None],
    ) -> None:
        self.session = session
        self.settings = settings
        self._current = current
        self.last_trace: str | None = None
        self.shown: tuple[str, str] | None = None  # (ename, evalue) of the error last shown

    def __call__(
        self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
    ) -> list[str]:
        self.last_trace = errors.full_trace(value)
        etype, value = self._explained(etype, value)
        message = errors.headline(value)
        self.shown = (etype.__name__, message)
        stb = shell.InteractiveTB.structured_traceback(
            etype, value, errors.user_frames(tb), tb_offset
        )
        stb = [*stb[:-1], f"\x1b[0;31m{etype.__name__}\x1b[0m: {message}"]
        fix = errors.hint(value)
        if fix is not None:
            stb.append(fix)
        if errors.has_jvm_trace(value):
            stb.append("(full error with the JVM stack trace: %spark trace)")
        shell._showtraceback(etype, message, stb)
        return stb

    def _explained(self, etype: type, value: BaseException) -> tuple[type, BaseException]:
        """What the error means for the cell: its time limit, an interrupt, a lost server or
        a dead driver, when that is what happened; else the error itself."""
        cell = self._current()
        if cell is not None and cell.timed_out:
            return errors.CellTimeout, errors.CellTimeout(
                f"the cell ran longer than the {self.settings.timeout:g} s limit "
                "(%spark timeout); its Spark jobs were cancelled"
            )
        if cell is not None and cell.interrupted:
            text = "cell interrupted; its Spark jobs were cancelled" if cell.tag else ""
            return KeyboardInterrupt, KeyboardInterrupt(text)
        if self.session.is_remote and connect_lost(self.session, value):
            reason = self.session.describe_error()
            return remote.SparkConnectServerLost, remote.SparkConnectServerLost(reason)
        if not self.session.check_alive(grace=_grace(value)) and self.session.state == "dead":
            return errors.SparkDriverDied, errors.SparkDriverDied(self.session.describe_error())
        return etype, value


def connect_lost(session: SessionManager, error: BaseException) -> bool:
    """Spark Connect: whether `error` means the server went away or dropped the session
    (the session is then marked lost; the next Spark cell connects again)."""
    reason = remote.lost_reason(error)
    if reason is not None:
        session.lose_remote(reason)
    else:
        session.check_alive(probe=True)
    return session.state == "dead"


def _grace(error: BaseException) -> float:
    """Seconds to wait for a JVM that may be dying: only for connection failures."""
    from py4j.protocol import Py4JNetworkError

    return 1.0 if isinstance(error, (ConnectionError, Py4JNetworkError)) else 0.0
