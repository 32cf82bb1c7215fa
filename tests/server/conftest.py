"""One real Jupyter server per test module (under a base URL, with a token)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from live_server import Server, start_server, stop_server


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A ``jupyter server`` for the module; ``SERVER_ARGS`` in the module adds arguments."""
    args = getattr(request.module, "SERVER_ARGS", ())
    started = start_server(
        tmp_path_factory.mktemp("jupyter"), *args, env={"PYSPARK_KERNEL_PROGRESS_AFTER": "0"}
    )
    yield started
    stop_server(started)
