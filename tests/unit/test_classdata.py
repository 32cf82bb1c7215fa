"""The class-data archive's key, its checks, the options it adds and its folder, without a
Spark JVM (the kernel-level tests in tests/kernel/test_coldstart.py launch real ones)."""

import fcntl
import os
import stat
import sys
import time
from pathlib import Path

import pytest

import pyspark_kernel.classdata as classdata
import pyspark_kernel.spark_internals as internals
from pyspark_kernel import signed_jars

Conf = dict  # the driver JVM's settings, as `prepare` reads and changes them


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def install(key, content=b"x" * 300_000):
    """An archive file with its description, as a build leaves them."""
    files = key.files
    files.folder.mkdir(parents=True, exist_ok=True)
    files.archive.write_bytes(content)
    classdata._write_json(
        files.meta,
        {"key": key.inputs, "file": classdata.fingerprint(files.archive), "built": "then"},
    )
    return files


def test_the_key_follows_what_the_jvm_checks(monkeypatch, tmp_path):
    base = classdata.archive_key({})
    same = [
        {"spark.driver.extraJavaOptions": "-Dsome.property=1"},
        {"spark.driver.memory": "4g"},
    ]
    for conf in same:
        assert classdata.archive_key(conf).digest == base.digest, conf
    other = [
        {"spark.driver.extraClassPath": "/opt/extra.jar"},
        {"spark.driver.extraJavaOptions": "-XX:+UseZGC"},
        {"spark.driver.memory": "64g"},
    ]
    digests = {classdata.archive_key(conf).digest for conf in other}
    assert base.digest not in digests and len(digests) == len(other)
    env = {**os.environ, "HADOOP_CONF_DIR": "/etc/hadoop"}
    assert classdata.archive_key({}, env).digest != base.digest
    monkeypatch.setattr(internals, "pyspark_release", lambda: "3.5.3")
    assert classdata.archive_key({}).digest != base.digest


def test_the_key_names_the_java_runtime(tmp_path):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text('JAVA_RUNTIME_VERSION="21.0.4+7"\nIMPLEMENTOR="Someone"\n')
    java = classdata.java_identity({"JAVA_HOME": str(home)})
    assert (java["version"], java["vendor"]) == ("21.0.4+7", "Someone")
    assert classdata.java_identity()["version"] != "21.0.4+7"
    with pytest.raises(classdata.BuildError, match="no Java runtime"):
        classdata.java_identity({"JAVA_HOME": str(tmp_path / "none")})


def test_each_unusable_archive_has_its_reason():
    key = classdata.archive_key({})
    files = key.files
    assert classdata.problem(key) == "missing"
    files = install(key)
    assert classdata.problem(key) is None
    os.chmod(files.archive, stat.S_IWUSR | stat.S_IRUSR)
    with open(files.archive, "r+b") as f:  # truncated, as by a full disk
        f.truncate(1000)
    assert classdata.problem(key) == "corrupt"
    install(key)
    data = bytearray(files.archive.read_bytes())
    data[:16] = b"garbage garbage!"
    files.archive.write_bytes(bytes(data))  # same size, other bytes
    assert classdata.problem(key) == "corrupt"
    install(key)
    files.meta.write_text("{not json")
    assert classdata.problem(key) == "corrupt"
    other = classdata.archive_key({"spark.driver.extraClassPath": "/x.jar"})
    classdata._write_json(files.meta, {"key": other.inputs, "file": {}})
    assert classdata.problem(key) == "corrupt"
    install(key)
    classdata._write_json(files.refused, {"built": "then"})
    assert classdata.problem(key) == "refused"
    classdata._write_json(files.refused, {"built": "before the last build"})
    assert classdata.problem(key) is None
    classdata._write_json(files.failed, {"error": "boom"})
    assert classdata.problem(key) == "failed"
    assert classdata.problem(key, retry_failed=True) is None
    old = time.time() - classdata.FAILED_RETRY - 60
    os.utime(files.failed, (old, old))
    assert classdata.problem(key) is None


def test_prepare_adds_its_options_after_the_users_own():
    conf = Conf({"spark.driver.extraJavaOptions": "-Dmine='a b'"})
    use = classdata.prepare(conf)
    assert use.reason == "missing" and use.path is None and use.build_wanted
    assert conf["spark.driver.extraJavaOptions"] == "-Dmine='a b'"  # nothing to add
    files = install(use.key)
    use = classdata.prepare(conf)
    assert use.path == files.archive and use.reason is None
    assert conf["spark.driver.extraJavaOptions"] == (
        f"-Dmine='a b' -XX:SharedArchiveFile={files.archive} -Xshare:auto -Xlog:cds*=off"
    )
    assert use.conf == {"spark.driver.extraJavaOptions": "-Dmine='a b'"}


def test_the_kernels_own_driver_options_stay_beside_the_archives(monkeypatch, tmp_path):
    """The kernel's settings put Derby's home in the driver's options (with the user's);
    the archive's options are added after both, and the Derby folder (one per data folder)
    does not change which archive fits."""
    from pyspark_kernel.config import SparkSettings

    monkeypatch.setenv("PYSPARK_KERNEL_DATA", str(tmp_path / "data"))
    settings = SparkSettings(conf={"spark.driver.extraJavaOptions": "-Dmine=1"})
    conf = Conf(settings.spark_conf())
    own = conf["spark.driver.extraJavaOptions"]
    derby = f"-Dderby.system.home={tmp_path / 'data' / 'derby'}"
    assert own == f"{derby} -Dlog4j2.disable.jmx=true -XX:+UseParallelGC -Dmine=1"
    files = install(classdata.archive_key({"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"}))
    use = classdata.prepare(conf)
    assert use.path == files.archive
    assert conf["spark.driver.extraJavaOptions"] == (
        f"{own} -XX:SharedArchiveFile={files.archive} -Xshare:auto -Xlog:cds*=off"
    )
    classdata.unprepare(conf, use)
    assert conf["spark.driver.extraJavaOptions"] == own


def test_the_launchers_archive_is_used_only_while_the_driver_launches(monkeypatch):
    key = classdata.archive_key({})
    files = install(key)
    use = classdata.prepare(Conf())
    assert use.path == files.archive and use.launcher is None  # none was built
    files.launcher.write_bytes(b"y" * 200_000)
    meta = classdata.read_meta(files)
    classdata._write_json(
        files.meta, {**meta, "launcher_file": classdata.fingerprint(files.launcher)}
    )
    use = classdata.prepare(Conf())
    assert use.launcher == files.launcher
    monkeypatch.delenv("SPARK_LAUNCHER_OPTS", raising=False)
    with classdata.launcher_options(use):
        assert os.environ["SPARK_LAUNCHER_OPTS"].startswith(
            f"-XX:SharedArchiveFile={files.launcher} "
        )
    assert "SPARK_LAUNCHER_OPTS" not in os.environ
    monkeypatch.setenv("SPARK_LAUNCHER_OPTS", "-Xmx256m")  # the user's own: left alone
    with classdata.launcher_options(use):
        assert os.environ["SPARK_LAUNCHER_OPTS"] == "-Xmx256m"
    files.launcher.write_bytes(b"z" * 10)  # changed since the build: not used
    assert classdata.prepare(Conf()).launcher is None


def test_prepare_leaves_a_driver_whose_options_decide_sharing_alone():
    for options in ("-Xshare:off", "-XX:SharedArchiveFile=/mine.jsa", "-XX:ArchiveClassesAtExit=x"):
        conf = Conf({"spark.driver.extraJavaOptions": options})
        assert classdata.prepare(conf) is None
        assert conf == {"spark.driver.extraJavaOptions": options}


def test_paths_with_spaces_are_quoted_for_sparks_option_splitter():
    assert classdata.use_options(Path("/a b/k.jsa")).startswith(
        "-XX:SharedArchiveFile='/a b/k.jsa' "
    )


def test_is_mapped_reads_the_memory_map(tmp_path):
    assert classdata.is_mapped(os.getpid(), Path(sys.executable)) is True
    assert classdata.is_mapped(os.getpid(), tmp_path / "x.jsa") is False
    assert classdata.is_mapped(2**22 + 7, tmp_path / "x.jsa") is None  # no such process


def built_key(conf):
    """The key `build` builds for `conf`: with the unsigned jar copies it makes first."""
    signed_jars.make_copies(Path(internals.spark_home()) / "jars", classdata.unsigned_folder())
    return classdata.archive_key(classdata.with_unsigned_jars(conf))


def test_a_background_build_leaves_a_locked_key_to_its_builder():
    key = built_key({})
    assert classdata.builder(key.files) is None and not classdata.building(key)
    with classdata._locked(key.files.lock, wait=True, owner=True):
        assert classdata.builder(key.files) == os.getpid()
        result = classdata.build({}, background=True)
    assert result.status == "busy"
    assert not key.files.archive.exists() and not key.files.leftovers()
    assert classdata.builder(key.files) is None
    with open(key.files.lock, "a") as held:  # held by a process that did not say which
        fcntl.flock(held, fcntl.LOCK_EX)
        held.truncate(0)
        assert classdata.building(key)


def test_a_background_build_does_not_retry_a_recent_failure():
    key = built_key({})
    classdata._write_json(key.files.failed, {"error": "the JVM crashed"})
    result = classdata.build({}, background=True)
    assert result.status == "skipped" and "the JVM crashed" in result.detail


def test_prune_keeps_the_most_recently_used_archives():
    keys = [classdata.archive_key({"spark.driver.extraClassPath": f"/{i}.jar"}) for i in range(5)]
    for age, key in enumerate(keys):
        files = install(key)
        then = time.time() - 1000 * age
        os.utime(files.meta, (then, then))
    removed = classdata.prune(keep=keys[4].files)  # the oldest one is kept when asked
    left = {key.digest for key in keys if key.files.archive.exists()}
    assert left == {keys[0].digest, keys[1].digest, keys[4].digest}
    assert sorted(removed) == sorted(k.files.archive for k in keys[2:4])
    assert classdata.remove_all() and not classdata.folder().exists()


def test_warm_lists_and_removes_archives(capsys):
    from pyspark_kernel.__main__ import main

    files = install(classdata.archive_key({}))
    assert main(["warm", "--status"]) == 0
    listed = capsys.readouterr().out
    assert f"archive={files.archive}" in listed and "pyspark=" in listed
    assert main(["warm", "--remove"]) == 0
    assert "Removed" in capsys.readouterr().out
    assert not classdata.folder().exists()
