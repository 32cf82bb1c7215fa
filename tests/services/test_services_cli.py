"""The kafka/postgres CLI across processes: start in one, status and stop in others."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pyspark_kernel.services import cli
from pyspark_kernel.services._process import free_port, read_state


def test_register_adds_commands() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kafka", "start", "--data-dir", "/x", "--port", "9"])
    assert (args.command, args.action, args.data_dir, args.port) == ("kafka", "start", "/x", 9)
    assert callable(args.func)
    assert parser.parse_args(["postgres", "status"]).action == "status"


@pytest.mark.kafka
def test_kafka_cli_start_status_stop(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    process_gone: Callable[..., bool],
) -> None:
    data, port = str(tmp_path / "kafka"), free_port()
    started = run_cli("kafka", "start", "--data-dir", data, "--port", str(port))
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"127.0.0.1:{port}"
    state = read_state(Path(data))
    assert state is not None

    status = run_cli("kafka", "status", "--data-dir", data)
    assert status.returncode == 0 and f"pid={state.pid}" in status.stdout

    stopped = run_cli("kafka", "stop", "--data-dir", data)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
    assert process_gone(state.pid)
    assert run_cli("kafka", "status", "--data-dir", data).returncode == cli.EXIT_NOT_RUNNING


@pytest.mark.kafka
def test_kafka_cli_env_override_starts_nothing(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    data = tmp_path / "kafka"
    done = run_cli(
        "kafka", "start", "--data-dir", str(data), env={"KAFKA_BOOTSTRAP_SERVERS": "h:9092"}
    )
    assert done.returncode == 0 and done.stdout.strip() == "h:9092"
    assert not data.exists()


@pytest.mark.postgres
def test_postgres_cli_start_status_stop(
    tmp_path: Path,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    process_gone: Callable[..., bool],
) -> None:
    data = str(tmp_path / "pg")
    started = run_cli("postgres", "start", "--data-dir", data)
    try:
        assert started.returncode == 0, started.stderr
        password = (Path(data) / "password").read_text().strip()
        assert started.stdout.startswith("postgresql://postgres:***@127.0.0.1:")
        assert password not in started.stdout + started.stderr

        status = run_cli("postgres", "status", "--data-dir", data)
        assert status.returncode == 0 and "running pid=" in status.stdout
        assert password not in status.stdout
    finally:
        state = read_state(Path(data))
        stopped = run_cli("postgres", "stop", "--data-dir", data)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
    assert state is not None and process_gone(state.pid)
    assert run_cli("postgres", "status", "--data-dir", data).returncode == cli.EXIT_NOT_RUNNING


@pytest.mark.postgres
def test_cli_error_is_one_line(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("postgres", "start", "--data-dir", str(tmp_path / "pg"), "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: port {port} on 127.0.0.1 is in use"
