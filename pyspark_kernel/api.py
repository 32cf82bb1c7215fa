"""What the magics, the streaming support and the comm channel may use of the kernel: a
small protocol, so they depend on it and not on the extension that wires them."""

from __future__ import annotations

from typing import Any, Protocol

from .capture import JvmOutputRouter
from .cellstate import CellState
from .config import PendingSettings, SparkSettings
from .iopub import Publisher
from .metrics import Metrics
from .results.output_dir import OutputDir
from .results.record import RecordLog
from .session import SessionManager


class ChannelError(ValueError):
    """A comm request the kernel cannot serve as asked (its message is the reply's error)."""


def require(
    request: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...
) -> Any:
    """Argument `name` of a comm request, of type `kind`; a `ChannelError` names what is
    wrong. Without `default`, the argument must be there."""
    if name not in request:
        if default is not ...:
            return default
        raise ChannelError(f"missing argument {name!r}")
    value = request[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (int in kinds and isinstance(value, bool)):
        wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ChannelError(f"argument {name!r} must be {wanted}, got {type(value).__name__}")
    return value


class SparkHost(Protocol):
    """The Spark side of one IPython shell."""

    shell: Any
    settings: SparkSettings
    pending: PendingSettings
    session: SessionManager
    publisher: Publisher
    output_dir: OutputDir
    records: RecordLog
    metrics: Metrics
    router: JvmOutputRouter

    @property
    def cell(self) -> CellState | None:
        """The cell that is running, if any."""

    @property
    def last_trace(self) -> str | None:
        """The full trace (Python and JVM) of the last Spark error."""

    def bind(self, wait: bool) -> Any:
        """Put ``spark``/``sc`` in the namespace (waiting for the session if asked) and
        return the session, or None when it cannot be had (``spark`` then says why)."""

    def show_frame(
        self, df: Any, source: str, *, max_rows: int | None = None, **names: Any
    ) -> dict[str, Any]:
        """Preview `df` and display it as the running cell's result table."""

    def show_chart(
        self,
        df: Any,
        kind: str,
        x: str,
        y: str | None,
        agg: str = "sum",
        color: str | None = None,
        max_groups: int = 50,
    ) -> dict[str, Any]:
        """Aggregate `df` by Spark and display the chart (Vega-Lite and a PNG)."""

    def preview(self, name: str) -> dict[str, Any]:
        """Show the rows of a DataFrame variable, earlier result or table `name` (no
        budget): what ``%spark preview NAME`` asks for."""

    def restart_session(self) -> Any:
        """Apply pending settings, rebuild the session and bind it; return it or None."""
