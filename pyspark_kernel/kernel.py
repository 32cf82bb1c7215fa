"""The ``pyspark`` kernel: IPython's kernel with the Spark extension loaded.

Protocol glue only; the Spark behaviour lives in `SparkExtension`. The launcher started
the driver JVM before ipykernel was imported (`early_start`); the kernel takes that session
when its settings launch the same JVM, else starts its own, before the extension's modules
are imported.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from traitlets import Instance, List

from . import __version__, early_start
from .config import SparkSettings
from .imports import import_as_a_cell_would
from .session import SessionManager


class PySparkKernel(IPythonKernel):
    """An IPython kernel with one persistent SparkSession."""

    implementation = "pyspark_kernel"
    implementation_version = __version__
    banner = f"PySpark kernel {__version__}: IPython with one persistent SparkSession (`spark`)"
    help_links = List(
        [
            {"text": "PySpark", "url": "https://spark.apache.org/docs/latest/api/python/"},
            {"text": "pyspark-kernel", "url": "https://github.com/pyspark-kernel/pyspark-kernel"},
        ]
    ).tag(config=True)

    spark_extension = Instance("pyspark_kernel.extension.SparkExtension", allow_none=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        session = _start_session(self.shell)
        from .extension import SparkExtension  # while the driver JVM starts

        self.spark_extension = SparkExtension(self.shell, session.settings, session)
        self.spark_extension.register()

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        """Execute as IPython does; a failing cell's reply names the error the cell shows
        (``SparkDriverDied``, ``KeyboardInterrupt``...), as its error output does."""
        ext = self.spark_extension
        if ext is not None:
            ext.errors.shown = None
        reply: dict[str, Any] = await super().do_execute(
            code,
            silent,
            store_history,
            user_expressions,
            allow_stdin,
            cell_meta=cell_meta,
            cell_id=cell_id,
        )
        if ext is not None and reply.get("status") == "error" and ext.errors.shown is not None:
            reply["ename"], reply["evalue"] = ext.errors.shown
        return reply

    async def do_complete(self, code: str, cursor_pos: int | None) -> Any:
        """Spark SQL completion in ``%%sql`` cells and ``spark.sql("...")`` strings; else
        as IPython does, with ``spark``/``sc`` bound if the session is up. Never waits for a
        session that is still starting."""
        cursor = len(code) if cursor_pos is None else cursor_pos
        ext = self.spark_extension
        if ext is not None:
            reply = ext.sql.complete_reply(code, cursor)
            if reply is not None:
                return reply
        self._bind_ready()
        return super().do_complete(code, cursor_pos)

    async def do_inspect(
        self, code: str, cursor_pos: int | None, detail_level: int = 0, omit_sections: Any = ()
    ) -> Any:
        """A table's schema or a SQL function's description in SQL text; else as IPython
        does, with ``spark``/``sc`` bound if the session is up."""
        cursor = len(code) if cursor_pos is None else cursor_pos
        ext = self.spark_extension
        if ext is not None:
            reply = ext.sql.inspect_reply(code, cursor)
            if reply is not None:
                return reply
        self._bind_ready()
        return super().do_inspect(code, cursor_pos, detail_level, omit_sections)

    def _bind_ready(self) -> None:
        ext = self.spark_extension
        if ext is not None and ext.session.ready:
            ext.bind(wait=False)

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        """Stop streaming queries and Spark (bounded in time) before the kernel exits."""
        if self.spark_extension is not None:
            self.spark_extension.unregister()
            self.spark_extension = None
        return super().do_shutdown(restart)


def _start_session(shell: Any) -> SessionManager:
    """The kernel's session, building in the background from the kernel's settings."""
    settings = SparkSettings(config=shell.config)
    settings.apply_env()
    prepare = partial(import_as_a_cell_would, shell)
    session = early_start.take(settings)
    if session is not None:  # the launcher launched its JVM for these settings
        session.adopt(settings, prepare)
        return session
    session = SessionManager(settings)
    session.prepare_thread = prepare
    session.start()
    return session
