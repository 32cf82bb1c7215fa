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

    def preview(self, name: str) -> dict[str, Any]:
        """Show the rows of a DataFrame variable, earlier result or table `name` (no
        budget): what ``%spark preview NAME`` asks for."""

    def restart_session(self) -> Any:
        """Apply pending settings, rebuild the session and bind it; return it or None."""
