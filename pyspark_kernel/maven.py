"""Resolve Maven artifacts (with their runtime dependencies) into a local jar cache: the
Spark connectors a session adds (``%spark packages``) and the jars of the local services.

Maven runs once per artifact set; afterwards the cached jars are used without it
(a manifest file records a complete set). When the registry has no Spark connector for the
running pyspark, the error says so in one line and names the versions it has (asked once
with `mvn`, then kept for a day).
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pyspark_kernel.versions as versions

from .paths import cache_root

MANIFEST = "manifest.json"
MVN_TIMEOUT = 600.0
PROBE_TIMEOUT = 180.0
PROBE_TTL = 24 * 3600.0  # how long the versions a registry has are trusted


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


def spark_scala_version() -> str:
    """The Scala binary version Spark runs with (``2.13``; ``2.12`` for pyspark 3.5 from
    PyPI), read from the ``scala-library`` jar in its jars folder."""
    folder = spark_jars_dir()
    for jar in sorted(folder.glob("scala-library-*.jar")) if folder else []:
        match = re.fullmatch(r"scala-library-(\d+\.\d+)\.\d+.*\.jar", jar.name)
        if match:
            return match.group(1)
    return versions.SCALA_BINARY_VERSION  # Spark 4 is built for Scala 2.13 only


def spark_kafka_connector_jars(spark: str | None = None, scala: str | None = None) -> list[Path]:
    """The Spark Kafka connector for pyspark `spark` and Scala `scala` (default: the
    running ones) and the runtime jars Spark does not already ship.

    Jars whose artifact is already in Spark's jars folder (any version: Scala, SLF4J,
    lz4, snappy, spark-tags, Hadoop client...) are left out so that no second,
    conflicting copy lands on the classpath. A version the registry does not have raises
    `JarResolutionError` with one line naming the versions it has.
    """
    spark = spark or versions.spark_version()
    scala = scala or spark_scala_version()
    coord = versions.spark_kafka_connector_artifact(spark, scala)
    group, artifact, _ = coord.split(":")
    known = _cached_registry_versions(group, artifact)
    if known is not None and spark not in known:
        raise JarResolutionError(_no_connector(spark, scala, group, artifact, known))
    try:
        # Spark ships the shaded Hadoop client: do not even download it.
        jars = resolve(f"spark-kafka-{spark}-{scala}", [coord], ["org.apache.hadoop:*"])
    except JarResolutionError:
        known = registry_versions(group, artifact)
        if known is not None and spark not in known:
            raise JarResolutionError(_no_connector(spark, scala, group, artifact, known)) from None
        raise
    shipped_dir = spark_jars_dir()
    shipped = [p.name for p in shipped_dir.glob("*.jar")] if shipped_dir else []

    def is_shipped(jar: Path) -> bool:
        pattern = re.compile(re.escape(_artifact_id(jar)) + r"-\d.*\.jar")
        return any(pattern.fullmatch(name) for name in shipped)

    return [j for j in jars if not is_shipped(j)]


def _no_connector(spark: str, scala: str, group: str, artifact: str, known: list[str]) -> str:
    return (
        f"the Maven registry has no Kafka connector for pyspark {spark} (Scala {scala}); "
        f"{group}:{artifact} has {describe_versions(known)}"
    )


# -- which versions a registry has -------------------------------------------------------------
def _registry_file(group: str, artifact: str) -> Path:
    return cache_root() / "jars" / "registry" / f"{group}+{artifact}.json"


def _cached_registry_versions(group: str, artifact: str) -> list[str] | None:
    try:
        data = json.loads(_registry_file(group, artifact).read_text())
        if time.time() - float(data["checked"]) < PROBE_TTL:
            return [str(v) for v in data["versions"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def registry_versions(group: str, artifact: str) -> list[str] | None:
    """The versions of ``group:artifact`` the Maven registry lists (its
    ``maven-metadata.xml``), oldest first; None if Maven could not tell. Asked with one
    `mvn` probe, then kept for `PROBE_TTL` seconds."""
    cached = _cached_registry_versions(group, artifact)
    if cached is not None:
        return cached
    found = _probe_versions(group, artifact)
    if found is not None:
        target = _registry_file(group, artifact)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps({"checked": time.time(), "versions": found}))
        os.replace(tmp, target)
    return found


def _probe_versions(group: str, artifact: str) -> list[str] | None:
    """Let Maven fetch the artifact's metadata (resolving its ``RELEASE`` POM) into a
    local repository of the probe's own, where the file is found at a known place."""
    mvn = shutil.which("mvn")
    if mvn is None:
        return None
    folder = _registry_file(group, artifact).parent
    repository = folder / "repository"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn, "-q", "-B", f"-Dmaven.repo.local={repository}", "dependency:get",
        f"-Dartifact={group}:{artifact}:RELEASE", "-Dpackaging=pom", "-Dtransitive=false",
    ]  # fmt: skip
    try:
        # The metadata is what counts, even when the newest release's POM is missing.
        subprocess.run(
            cmd, cwd=folder, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    found: set[str] = set()
    for meta in repository.joinpath(*group.split("."), artifact).glob("maven-metadata*.xml"):
        try:
            root = ElementTree.parse(meta).getroot()
        except (OSError, ElementTree.ParseError):
            continue
        found.update(v.text.strip() for v in root.iter("version") if v.text and v.text.strip())
    return sorted(found, key=_version_key) if found else None


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    release, _, qualifier = version.partition("-")
    numbers = tuple(int(n) if n.isdigit() else -1 for n in release.split("."))
    return numbers, qualifier or "~"  # a release sorts after its previews


def describe_versions(found: list[str], since: tuple[int, int] = (3, 5)) -> str:
    """Releases from `since` on, one run per minor series: ``3.5.0 to 3.5.9, 4.2.0``
    (the newest five releases if none is that recent)."""
    releases = [v for v in found if re.fullmatch(r"\d+\.\d+\.\d+", v)]
    recent = [v for v in releases if _version_key(v)[0][:2] >= since] or releases[-5:]
    if not recent:
        return "no release"
    series: dict[str, list[str]] = {}
    for v in sorted(recent, key=_version_key):
        series.setdefault(v.rsplit(".", 1)[0], []).append(v)
    parts = []
    for same in series.values():
        patches = [int(v.rsplit(".", 1)[1]) for v in same]
        if len(same) > 2 and patches == list(range(patches[0], patches[-1] + 1)):
            parts.append(f"{same[0]} to {same[-1]}")
        else:
            parts.extend(same)
    return ", ".join(parts)
