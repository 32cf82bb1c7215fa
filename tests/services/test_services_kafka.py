"""A real Kafka broker: produce/consume with kafka-python, read with Spark, stop cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyspark_kernel.services import jars
from pyspark_kernel.services.kafka import KafkaBroker, bootstrap_servers, create_topic

pytestmark = [
    pytest.mark.kafka,
    # kafka-python 3 reads its schemas with the deprecated importlib.resources API
    pytest.mark.filterwarnings("ignore::DeprecationWarning:kafka.*"),
]

N = 100


# A user's JVM options that name a collector: the broker's own choice (G1) must give way,
# or its JVM would not start ("Multiple garbage collectors selected").
USERS_COLLECTOR = "-XX:+UseSerialGC"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with pytest.MonkeyPatch.context() as patch:  # only while the broker starts
        patch.setenv("JAVA_TOOL_OPTIONS", USERS_COLLECTOR)
        running = KafkaBroker(tmp_path_factory.mktemp("kafka")).__enter__()
    try:
        yield running
    finally:
        running.__exit__(None, None, None)


def _produce(bootstrap: str, topic: str) -> set[tuple[str, str]]:
    from kafka import KafkaProducer

    sent = {(f"key-{i % 10}", f"value-{i}") for i in range(N)}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in sorted(sent):
            producer.send(topic, key=key.encode(), value=value.encode())
        producer.flush(timeout=30)
    finally:
        producer.close()
    return sent


def test_start_is_idempotent_and_loopback_only(broker: KafkaBroker) -> None:
    state = broker.status()
    assert state is not None
    assert broker.bootstrap.startswith("127.0.0.1:")
    assert broker.start() == broker.bootstrap  # already running: same broker
    assert KafkaBroker(broker.data_dir).status() == state  # state file is shared
    assert broker.log_file.stat().st_size > 0  # log4j2 binding works


def test_the_users_collector_stands(broker: KafkaBroker) -> None:
    state = broker.status()
    assert state is not None
    flags = subprocess.run(
        ["jcmd", str(state.pid), "VM.flags"], capture_output=True, text=True, timeout=60
    )
    assert flags.returncode == 0, flags.stderr
    assert USERS_COLLECTOR in flags.stdout.split() and "-XX:+UseG1GC" not in flags.stdout


def test_produce_and_consume_keyed_messages(broker: KafkaBroker) -> None:
    from kafka import KafkaConsumer

    broker.create_topic("events", partitions=3)
    sent = _produce(broker.bootstrap, "events")
    consumer = KafkaConsumer(
        "events",
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    got: set[tuple[str, str]] = set()
    try:
        for message in consumer:  # ends after 10 s without messages at the latest
            got.add((message.key.decode(), message.value.decode()))
            if len(got) == N:
                break
    finally:
        consumer.close()
    assert got == sent


SPARK_READ = """
import json, sys
from pyspark.sql import SparkSession
bootstrap, topic, jars = sys.argv[1], sys.argv[2], sys.argv[3]
spark = (SparkSession.builder.master("local[2]").appName("kafka-connector-check")
         .config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.jars", jars)
         .getOrCreate())
try:
    df = (spark.read.format("kafka").option("kafka.bootstrap.servers", bootstrap)
          .option("subscribe", topic).option("startingOffsets", "earliest")
          .option("endingOffsets", "latest").load()
          .selectExpr("CAST(key AS STRING) AS k", "CAST(value AS STRING) AS v"))
    print(json.dumps(sorted([r.k, r.v] for r in df.collect())))
finally:
    spark.stop()
"""


def test_spark_reads_topic_with_connector_jars(
    broker: KafkaBroker, tmp_path: Path, repo_root: Path
) -> None:
    create_topic("spark-in", 2, bootstrap=broker.bootstrap)
    sent = _produce(broker.bootstrap, "spark-in")
    connector = ",".join(str(p) for p in jars.spark_kafka_connector_jars())
    done = subprocess.run(
        [sys.executable, "-c", SPARK_READ, broker.bootstrap, "spark-in", connector],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert {tuple(r) for r in rows} == sent and len(rows) == N


def test_stop_leaves_no_process(broker: KafkaBroker, process_gone: Callable[..., bool]) -> None:
    state = broker.status()
    assert state is not None
    assert broker.stop() is True
    assert process_gone(state.pid), f"broker pid {state.pid} still runs"
    assert broker.status() is None
    assert not (broker.data_dir / "state.json").exists()
    assert broker.stop() is False


def test_env_override_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9092")
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    assert bootstrap_servers() == "broker.example:9092"
    assert bootstrap_servers(tmp_path / "kafka") == "broker.example:9092"
    assert not (tmp_path / "kafka").exists()
    assert not (tmp_path / "cache").exists()  # not even jars were resolved
