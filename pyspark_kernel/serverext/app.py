"""The server extension's application: its handlers, its runs, its environment variable."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp

from ..ui_proxy import SERVER_ENV, server_env_value
from .runs import RUN_ID, NotebookRuns
from .runs_api import RunHandler, RunsHandler
from .sparkui import ROUTE as SPARKUI_ROUTE
from .sparkui import SparkUIHandler
from .status import StatusHandler

API = "pyspark-kernel/api"


class PySparkKernelServer(ExtensionApp):
    """Serves the Spark UI of this server's ``pyspark`` kernels, and runs notebooks."""

    name = "pyspark_kernel"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        server = self.serverapp
        assert server is not None  # set before extensions are loaded
        # Kernels this server starts inherit it: they show their Spark UI through us.
        os.environ[SERVER_ENV] = server_env_value(server.base_url, os.getpid())
        self.runs = NotebookRuns(
            root_dir=server.root_dir, runtime_dir=server.runtime_dir, parent=self, log=self.log
        )

    def initialize_handlers(self) -> None:
        runs = {"runs": self.runs}
        self.handlers.extend(
            [
                (SPARKUI_ROUTE, SparkUIHandler, runs),
                (f"{API}/runs", RunsHandler, runs),
                (rf"{API}/runs/(?P<run_id>{RUN_ID})", RunHandler, runs),
                (f"{API}/status", StatusHandler, runs),
            ]
        )

    async def stop_extension(self) -> None:
        """The server is shutting down: cancel the runs (their kernels shut down)."""
        await self.runs.stop_all()
