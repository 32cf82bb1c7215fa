"""Fixtures for the local-services tests (real Kafka, PostgreSQL, OpenSearch; no mocks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pyspark_kernel.services.cli ARGS`` in a fresh process."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), full_env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-m", "pyspark_kernel.services.cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _process_gone(pid: int, timeout: float = 15.0) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(autouse=True)
def no_services_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure no external-service override leaks in from the environment."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("POSTGRES_URL", raising=False)
    monkeypatch.delenv("OPENSEARCH_URL", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli("kafka", "start", ...)`` runs the services CLI in a fresh process."""
    return _run_cli


@pytest.fixture
def process_gone() -> Callable[..., bool]:
    """``process_gone(pid)`` waits (bounded) until the process has exited."""
    return _process_gone


@pytest.fixture
def repo_root() -> Path:
    """The repository root (put on PYTHONPATH for child processes)."""
    return REPO
