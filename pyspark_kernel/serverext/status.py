"""``GET {base_url}pyspark-kernel/api/status``: every running ``pyspark`` kernel of this
server (its kernel manager's, and those of its notebook runs, named by ``run``) with its
Spark state, app id, Spark UI link, active jobs and active streaming queries (what a
dashboard polls)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import httpclient, web

import pyspark_kernel.serverext.kernels as kernels

from ..ui_proxy import ui_prefix

JOBS_TIMEOUT = 10.0  # seconds for a Spark UI to list its jobs (its first REST call is slow)
JOB_FIELDS = (
    "jobId",
    "name",
    "description",
    "submissionTime",
    "status",
    "stageIds",
    "jobTags",
    "numTasks",
    "numActiveTasks",
    "numCompletedTasks",
    "numFailedTasks",
    "numActiveStages",
    "numCompletedStages",
)


async def active_jobs(port: int, app_id: str) -> list[dict[str, Any]]:
    """The running jobs of application `app_id`, from its Spark UI's REST API."""
    url = f"http://{kernels.LOOPBACK}:{port}/api/v1/applications/{app_id}/jobs?status=running"
    request = httpclient.HTTPRequest(
        url, connect_timeout=JOBS_TIMEOUT, request_timeout=JOBS_TIMEOUT, follow_redirects=False
    )
    response = await httpclient.AsyncHTTPClient().fetch(request)
    jobs = json.loads(response.body)
    return [{k: job.get(k) for k in JOB_FIELDS} for job in jobs]


async def kernel_entry(kernel: kernels.PySparkKernel, base_url: str) -> dict[str, Any]:
    session = kernel.session
    port, app_id = kernel.ui_port, session.get("app_id")
    entry: dict[str, Any] = {
        "id": kernel.id,
        "name": kernel.name,
        "run": kernel.run,
        "execution_state": kernel.model.get("execution_state"),
        "last_activity": kernel.model.get("last_activity"),
        "connections": kernel.model.get("connections"),
        "spark": {
            "state": session.get("state"),
            "master": session.get("master"),
            "version": session.get("version"),
            "app_id": app_id,
            "ui_url": ui_prefix(base_url, kernel.id) + "/" if port is not None else None,
            "error": session.get("error"),
        },
        "active_jobs": [],
        "streams": kernel.streams,
    }
    if port is not None and isinstance(app_id, str):
        try:
            entry["active_jobs"] = await active_jobs(port, app_id)
        except Exception as exc:  # the JVM may be going away; say so, keep the rest
            entry["active_jobs"] = None
            entry["active_jobs_error"] = str(exc) or type(exc).__name__
    return entry


class StatusHandler(APIHandler):
    """The Spark state of every ``pyspark`` kernel of this server, and the active runs."""

    auth_resource = "kernels"

    def initialize(self, runs: Any) -> None:
        self.runs = runs

    @web.authenticated
    @authorized(action="read", resource="kernels")
    async def get(self) -> None:
        found = kernels.find_all(self.kernel_manager, self.runs.list())
        entries = await asyncio.gather(*(kernel_entry(k, self.base_url) for k in found))
        self.finish(
            {
                "kernels": list(entries),
                "runs": [r.as_dict() for r in self.runs.list() if not r.finished],
            }
        )
