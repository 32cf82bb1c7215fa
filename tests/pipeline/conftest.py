"""Real services for the pipeline tests: a Kafka broker and a PostgreSQL server in tmp dirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pyspark_kernel.services.kafka import KafkaBroker
from pyspark_kernel.services.postgres import LocalPostgres


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    server = LocalPostgres(tmp_path_factory.mktemp("pipeline-pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    server = KafkaBroker(tmp_path_factory.mktemp("pipeline-kafka"))
    server.start()
    yield server
    server.stop()


def new_database(server: LocalPostgres) -> str:
    """A fresh, empty database on ``server``; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with server.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.url(name)


@pytest.fixture(scope="session")
def make_database(postgres_server: LocalPostgres) -> Callable[[], str]:
    """``make_database()`` creates a fresh database and returns its URL."""
    return lambda: new_database(postgres_server)


@pytest.fixture
def database(postgres_server: LocalPostgres) -> str:
    return new_database(postgres_server)


@pytest.fixture
def connection(database: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(database) as conn:
        yield conn
