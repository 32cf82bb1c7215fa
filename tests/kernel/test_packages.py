"""``%spark packages kafka`` on the running pyspark, in a real kernel: the Kafka connector
when the Maven registry has it for this pyspark and Scala version, else one line naming the
versions it has, with the session untouched. Runs on every supported pyspark (marker
``core``): on the demo's 4.2.0 the connector loads; on 4.3.0 and 3.5.9 (Scala 2.12) this
registry has none."""

from importlib import metadata

import pytest

from pyspark_kernel import maven

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark

KAFKA_STREAM = (
    "spark.readStream.format('kafka').option('kafka.bootstrap.servers', '127.0.0.1:9')"
    ".option('subscribe', 'none').load().isStreaming"
)


def test_spark_packages_kafka_adds_the_connector_or_says_why_not(
    kernel, kafka_connector_on_registry
):
    assert kernel.value("spark.range(2).count()") == 2
    app = kernel.value("sc.applicationId")
    spark = metadata.version("pyspark")
    run = kernel.run("%spark packages kafka --restart", timeout=600)
    if kafka_connector_on_registry:
        assert run.status == "ok", run.error
        assert "adding kafka: restarting the Spark session" in run.stream("stdout")
        assert kernel.value(KAFKA_STREAM) is True
        return
    assert run.status == "error"
    err = run.stream("stderr")
    assert f"no Kafka connector for pyspark {spark} (Scala {maven.spark_scala_version()})" in err
    assert "org.apache.spark:spark-sql-kafka-0-10_" in err and " has " in err
    assert len(err.strip().splitlines()) == 1, err  # one line, no stack trace
    # the kernel and its session carry on (not restarted), with nothing pending
    assert kernel.value("spark.range(3).count()") == 3
    assert kernel.value("sc.applicationId") == app
    status = kernel.run("%spark").stream("stdout")
    assert "state:      ready" in status and "pending" not in status
    assert "packages: none" in kernel.run("%spark packages").stream("stdout")
    failed = kernel.run(KAFKA_STREAM)
    assert failed.status == "error" and "kafka" in failed.error["evalue"].lower()
