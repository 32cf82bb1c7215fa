"""Maven jar resolution: cached after the first call, connector set free of duplicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pyspark_kernel import maven, versions
from pyspark_kernel.services import jars

POOL2 = "org.apache.commons:commons-pool2:2.13.1"


def test_second_resolve_needs_no_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    first = jars.resolve("pool", [POOL2])
    assert [p.name for p in first] == ["commons-pool2-2.13.1.jar"]
    assert (tmp_path / "cache" / "jars" / "pool" / jars.MANIFEST).is_file()

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("mvn") is None
    assert jars.resolve("pool", [POOL2]) == first  # served from the cache, no mvn

    # A different set would need Maven: the error says so and names the artifact.
    with pytest.raises(jars.JarResolutionError, match=r"mvn.*commons-pool2:2\.12\.0"):
        jars.resolve("pool", ["org.apache.commons:commons-pool2:2.12.0"])


def test_unresolvable_artifact_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path))
    bogus = "org.apache.kafka:kafka-clients:0.0.0-does-not-exist"
    with pytest.raises(jars.JarResolutionError) as err:
        jars.resolve("bogus", [bogus])
    message = str(err.value)
    assert bogus in message
    assert len(message) < 800 and "\n" not in message


def test_kafka_broker_jars() -> None:
    names = {p.name for p in jars.kafka_broker_jars()}
    assert f"kafka_2.13-{versions.KAFKA_VERSION}.jar" in names
    assert f"log4j-slf4j-impl-{versions.LOG4J_VERSION}.jar" in names
    assert f"log4j-core-{versions.LOG4J_VERSION}.jar" in names


def test_connector_jars_skip_what_spark_ships() -> None:
    connector = jars.spark_kafka_connector_jars()
    names = {p.name for p in connector}
    spark = versions.spark_version()
    assert f"spark-sql-kafka-0-10_2.13-{spark}.jar" in names
    assert f"spark-token-provider-kafka-0-10_2.13-{spark}.jar" in names
    assert any(n.startswith("kafka-clients-") for n in names)
    assert any(n.startswith("commons-pool2-") for n in names)

    shipped_dir = jars.spark_jars_dir()
    assert shipped_dir is not None
    shipped = {p.name for p in shipped_dir.glob("*.jar")}
    for jar in connector:
        artifact = jar.parent.parent.name
        assert not any(
            s.startswith(f"{artifact}-") and s[len(artifact) + 1].isdigit() for s in shipped
        ), f"{jar.name} duplicates a jar Spark ships"
    for clash in ("scala-library", "slf4j-api", "hadoop-client", "lz4-java", "snappy-java"):
        assert not any(n.startswith(clash) for n in names)


def test_a_connector_the_registry_lacks_is_one_line_naming_what_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path))
    with pytest.raises(jars.JarResolutionError) as err:
        jars.spark_kafka_connector_jars(spark="9.9.9", scala="2.13")
    message = str(err.value)
    assert message.startswith("the Maven registry has no Kafka connector for pyspark 9.9.9")
    assert "org.apache.spark:spark-sql-kafka-0-10_2.13 has " in message
    assert "4.2.0" in message  # the demo's pin
    assert "\n" not in message and len(message) < 400

    # The registry's versions were asked once: the same answer comes without Maven.
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(jars.JarResolutionError) as again:
        jars.spark_kafka_connector_jars(spark="9.9.9", scala="2.13")
    assert str(again.value) == message


def test_describe_versions() -> None:
    found = ["3.4.4", "3.5.0", "3.5.1", "3.5.2", "4.0.0-preview1", "4.0.0", "4.0.1", "4.2.0"]
    assert maven.describe_versions(found) == "3.5.0 to 3.5.2, 4.0.0, 4.0.1, 4.2.0"
    assert maven.describe_versions(["3.5.0", "3.5.1", "3.5.3", "3.5.7"]) == (
        "3.5.0, 3.5.1, 3.5.3, 3.5.7"
    )
    assert maven.describe_versions(["2.4.8", "3.0.0"]) == "2.4.8, 3.0.0"
    assert maven.describe_versions([]) == "no release"
