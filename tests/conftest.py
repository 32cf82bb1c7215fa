"""Shared fixtures: a real local SparkSession, real ``pyspark`` kernels, and a real Kafka
broker, PostgreSQL server and OpenSearch node in temporary folders (one each per test
session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kernel_client import Kernel

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real local SparkSession for tests of pure functions that need DataFrames (its
    warehouse in a temporary folder: not ``spark-warehouse/`` where pytest runs)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka_connector_on_registry() -> bool:
    """Whether the Maven registry has Spark's Kafka connector for the installed pyspark and
    its Scala build (4.2.0 yes; 4.3.0 and PyPI's 3.5.9, which runs Scala 2.12, no)."""
    from importlib import metadata

    from pyspark_kernel import maven, versions

    spark, scala = metadata.version("pyspark"), maven.spark_scala_version()
    group, artifact, _ = versions.spark_kafka_connector_artifact(spark, scala).split(":")
    known = maven.registry_versions(group, artifact)
    assert known, f"Maven could not list the versions of {group}:{artifact}"
    return spark in known


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """A real ``pyspark`` kernel shared by the tests of one module."""
    k = Kernel()
    yield k
    k.shutdown()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real PostgreSQL server for the session (pipeline and reliability tests)."""
    from pyspark_kernel.services.postgres import LocalPostgres

    server = LocalPostgres(tmp_path_factory.mktemp("pipeline-pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Kafka broker for the session (pipeline and reliability tests)."""
    from pyspark_kernel.services.kafka import KafkaBroker

    server = KafkaBroker(tmp_path_factory.mktemp("pipeline-kafka"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def opensearch_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenSearch node for the session (services, pipeline and reliability tests).
    Tests give each index a name of their own; one test stops and restarts the node."""
    from pyspark_kernel.services.opensearch import OpenSearchNode

    node = OpenSearchNode(tmp_path_factory.mktemp("opensearch"))
    node.start()
    yield node
    node.stop()


def new_database(server: Any) -> str:
    """A fresh, empty database on ``server`` (a ``LocalPostgres``); returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with server.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return str(server.url(name))


@pytest.fixture(scope="session")
def make_database(postgres_server: Any) -> Callable[[], str]:
    """``make_database()`` creates a fresh database on ``postgres_server``; returns its URL."""
    return lambda: new_database(postgres_server)
