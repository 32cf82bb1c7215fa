"""Unsigned copies of Spark's signed jars: which jars, what a copy holds, when they are
listed, and how `classdata` puts them on the driver's class path."""

import os
import time
import zipfile
from pathlib import Path

import pytest

import pyspark_kernel.classdata as classdata
import pyspark_kernel.spark_internals as internals
from pyspark_kernel import signed_jars

SIGNED = {
    "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n\r\nName: a/B.class\r\nSHA-256-Digest: x\r\n",
    "META-INF/DUMMY.SF": b"Signature-Version: 1.0\r\n",
    "META-INF/DUMMY.DSA": b"\x30\x82",
    "a/": b"",
    "a/B.class": b"\xca\xfe\xba\xbe" + b"B" * 100,
    "a/c.properties": b"k=v\n",
}


def jar(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in entries.items():
            out.writestr(name, data)
    return path


@pytest.fixture
def jars(tmp_path):
    folder = tmp_path / "jars"
    folder.mkdir()
    jar(folder / "signed-1.0.jar", SIGNED)
    jar(folder / "plain-1.0.jar", {"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n"})
    (folder / "broken.jar").write_bytes(b"not a zip")
    return folder


def test_only_the_signed_jars_are_copied_and_without_their_signature(jars, tmp_path):
    copies = tmp_path / "copies"
    assert signed_jars.copies(copies) is None  # nothing made yet
    made = signed_jars.make_copies(jars, copies)
    assert made == [copies / "signed-1.0.jar"]
    assert signed_jars.copies(copies) == made
    with zipfile.ZipFile(made[0]) as copy:
        assert {name: copy.read(name) for name in copy.namelist()} == {
            name: data for name, data in SIGNED.items() if not name.endswith((".SF", ".DSA"))
        }
    assert signed_jars.is_signed(jars / "signed-1.0.jar") and not signed_jars.is_signed(made[0])
    assert sorted(p.name for p in copies.iterdir()) == ["copies.json", "signed-1.0.jar"]


def test_copies_are_made_once_and_listed_only_while_all_are_there(jars, tmp_path):
    copies = tmp_path / "copies"
    made = signed_jars.make_copies(jars, copies)
    then = made[0].stat().st_mtime_ns
    assert signed_jars.make_copies(jars, copies) == made
    assert made[0].stat().st_mtime_ns == then  # not written again
    made[0].unlink()
    assert signed_jars.copies(copies) is None
    (copies / "copies.json").write_text("{not json")
    assert signed_jars.copies(copies) is None


def test_sparks_own_signed_jars_are_copied_and_the_copies_are_jars_java_reads(tmp_path):
    jars = Path(internals.spark_home()) / "jars"
    made = signed_jars.make_copies(jars, tmp_path / "copies")
    assert made, "Spark ships Janino's signed jars"
    for copy in made:
        original = jars / copy.name
        with zipfile.ZipFile(original) as a, zipfile.ZipFile(copy) as b:
            kept = [n for n in a.namelist() if not signed_jars.SIGNATURE.match(n)]
            assert b.namelist() == kept
            assert all(a.read(n) == b.read(n) for n in kept[:50])
            assert b.testzip() is None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_driver_gets_the_copies_after_the_users_class_path_once_they_are_made(cache):
    conf = {"spark.driver.extraClassPath": "/mine.jar"}
    before = classdata.prepare(dict(conf))
    assert before.conf == conf  # no copies yet: the class path as the user gave it
    folder = classdata.unsigned_folder()
    made = signed_jars.make_copies(Path(internals.spark_home()) / "jars", folder)
    launch = dict(conf)
    use = classdata.prepare(launch)
    expected = os.pathsep.join(["/mine.jar", *map(str, made)])
    assert (
        launch["spark.driver.extraClassPath"] == expected == use.conf["spark.driver.extraClassPath"]
    )
    assert use.key.digest != before.key.digest  # an archive for the class path with them
    assert classdata.with_unsigned_jars(launch) == launch  # added once
    assert str(folder).startswith(str(cache / "classdata" / "unsigned"))


def test_copies_no_archive_names_go_an_hour_after_they_were_made(cache):
    root = classdata.folder()
    old, young, named = (root / "unsigned" / name for name in ("old", "young", "named"))
    for folder in (old, young, named):
        folder.mkdir(parents=True)
        (folder / "copies.json").write_text("[]")
    then = time.time() - classdata.COPIES_GRACE - 60
    for folder in (old, named):
        os.utime(folder, (then, then))
    key = classdata.archive_key({"spark.driver.extraClassPath": str(named / "x.jar")})
    files = key.files
    files.archive.write_bytes(b"x" * 1000)
    classdata._write_json(files.meta, {"key": key.inputs, "file": {}, "built": "then"})
    classdata.prune()
    assert not old.exists() and young.exists() and named.exists()
