"""``{base_url}pyspark-kernel/api/runs``: run a notebook in the background, ask how it went.

- ``POST runs`` ``{"path", "parameters", "timeout", "kernel"}`` → ``202`` and the run;
  ``409`` with the active run's ``id`` while a run of the same notebook is queued or
  running; ``400``/``404`` with a one-line ``message`` for bad input.
- ``GET runs`` → ``{"runs": [...]}``, newest first (``?limit=N``).
- ``GET runs/{id}`` → the run; ``DELETE runs/{id}`` cancels it and answers with it.

Authorisation is Jupyter's own: reading runs needs ``read`` on ``kernels``; starting one
``execute`` on ``kernels`` and ``read`` and ``write`` on ``contents`` (it reads the
notebook and writes the executed copy); cancelling one ``execute`` on ``kernels``.
"""

from __future__ import annotations

import json
import math
from pathlib import PurePosixPath
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from tornado import web

import pyspark_kernel.serverext.parameters as parameters

from .runs import NotebookRuns, RunConflict

FIELDS = frozenset({"path", "parameters", "timeout", "kernel"})
DEFAULT_KERNEL = "pyspark"


class RunsAPIHandler(APIHandler):
    """Shared by the runs handlers: the run manager, JSON errors with one line."""

    auth_resource = "kernels"

    def initialize(self, runs: NotebookRuns) -> None:
        self.runs = runs

    def _fail(self, code: int, message: str, **extra: Any) -> None:
        self.set_status(code)
        self.finish({"message": message, **extra})


class RunsHandler(RunsAPIHandler):
    @web.authenticated
    @authorized(action="read", resource="kernels")
    async def get(self) -> None:
        try:
            limit = int(self.get_query_argument("limit", "50"))
        except ValueError:
            raise web.HTTPError(400, "limit must be a whole number") from None
        runs = self.runs.list()[: max(0, limit)]
        self.finish({"runs": [r.as_dict() for r in runs]})

    @web.authenticated
    @authorized(action="execute", resource="kernels")
    @authorized(action="read", resource="contents")
    @authorized(action="write", resource="contents")
    async def post(self) -> None:
        request = self._request_body()
        path = notebook_path(request.get("path"))
        params = _parameters(request.get("parameters", {}))
        timeout = _timeout(request.get("timeout"))
        kernel = request.get("kernel", DEFAULT_KERNEL)
        if not isinstance(kernel, str) or kernel not in self._kernel_names():
            raise web.HTTPError(400, f"no kernel named {kernel!r} on this server")
        model = await ensure_async(
            self.contents_manager.get(path, content=True, type="notebook")
        )  # 404 for a missing file, 400 for one that is not a notebook
        try:
            run = self.runs.submit(path, model["content"], params, timeout, kernel)
        except RunConflict as exc:
            return self._fail(409, str(exc), id=exc.active.id)
        except OSError as exc:  # the runs folder cannot be written
            raise web.HTTPError(500, f"cannot prepare the run's folder: {exc}") from None
        self.set_status(202)
        self.set_header("Location", f"{self.base_url}pyspark-kernel/api/runs/{run.id}")
        self.finish(run.as_dict())

    def _request_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"")
        except ValueError as exc:
            raise web.HTTPError(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise web.HTTPError(
                400, f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})"
            )
        return body

    def _kernel_names(self) -> set[str]:
        return set(self.kernel_spec_manager.find_kernel_specs())


class RunHandler(RunsAPIHandler):
    @web.authenticated
    @authorized(action="read", resource="kernels")
    async def get(self, run_id: str) -> None:
        self.finish(self._run(run_id).as_dict())

    @web.authenticated
    @authorized(action="execute", resource="kernels")
    async def delete(self, run_id: str) -> None:
        run = await self.runs.cancel(self._run(run_id))
        self.finish(run.as_dict())

    def _run(self, run_id: str) -> Any:
        run = self.runs.get(run_id)
        if run is None:
            raise web.HTTPError(404, f"no run {run_id} (runs end with the server)")
        return run


def notebook_path(value: Any) -> str:
    """A notebook path relative to the server's root, or `HTTPError` 400."""
    if not isinstance(value, str) or not value.strip():
        raise web.HTTPError(400, "path is required: a notebook relative to the server's root")
    if value.startswith("/") or "\\" in value:
        raise web.HTTPError(400, f"path {value!r} must be relative to the server's root")
    parts = PurePosixPath(value).parts
    if any(part in {"..", "."} for part in parts):
        raise web.HTTPError(400, f"path {value!r} is outside the server's root")
    if not value.endswith(".ipynb"):
        raise web.HTTPError(400, f"path {value!r} is not a notebook (.ipynb)")
    return "/".join(parts)


def _parameters(value: Any) -> dict[str, Any]:
    try:
        return parameters.check(value)
    except parameters.ParameterError as exc:
        raise web.HTTPError(400, str(exc)) from None


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise web.HTTPError(400, f"timeout must be a positive number of seconds, got {value!r}")
    return float(value)
