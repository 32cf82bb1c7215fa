"""The Jupyter server extension of pyspark-kernel (enabled by installing the package).

- ``{base_url}pyspark-kernel/sparkui/{kernel_id}/``: the Spark UI of each ``pyspark``
  kernel of this server (`sparkui`).
- ``{base_url}pyspark-kernel/api/runs``: notebooks run in the background (`runs_api`,
  `runs`, `runner`, `parameters`).
- ``{base_url}pyspark-kernel/api/status``: the Spark state of every ``pyspark`` kernel
  (`status`, from the kernels' status files: `pyspark_kernel.runtime_status`).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import PySparkKernelServer

    return [{"module": "pyspark_kernel.serverext", "app": PySparkKernelServer}]
