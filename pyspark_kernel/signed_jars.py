"""Unsigned copies of the signed jars among Spark's own, for the driver's class path.

A JVM checks a signed jar's signature before it loads a class from it, and class-data
sharing leaves every class of a signed jar out of its archive: each new driver JVM checks
and loads them again, from the jar. Spark ships two signed jars, Janino's (``janino``,
``commons-compiler``), which compile every query's generated code: the first query waits
for them. `make_copies` writes copies without the signature files, once per Spark
installation, beside the class-data archives (``classdata``), which puts them on the
driver's class path after the user's own entries: the driver then loads those classes from
the copies, and its archive holds them.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

SIGNATURE = re.compile(r"META-INF/[^/]+\.(SF|RSA|DSA|EC)$", re.IGNORECASE)
LISTING = "copies.json"  # written last: the copies it names are complete


def is_signed(jar: Path) -> bool:
    """Whether `jar` carries a signature (``META-INF/*.SF`` and its block)."""
    with zipfile.ZipFile(jar) as archive:
        return any(SIGNATURE.match(name) for name in archive.namelist())


def copies(folder: Path) -> list[Path] | None:
    """The copies `make_copies` made in `folder`, while every one of them is there; None
    before it finished (or once one is gone)."""
    try:
        names = json.loads((folder / LISTING).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return None
    paths = [folder / name for name in names]
    return paths if all(path.is_file() for path in paths) else None


def make_copies(jars: Path, folder: Path) -> list[Path]:
    """Copy each signed jar of the folder `jars` into `folder` without its signature files,
    then list them there (each file is written under a temporary name and renamed: a
    reader never sees half of one); return the copies. Done once per `folder`."""
    made = copies(folder)
    if made is not None:
        return made
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for jar in sorted(jars.glob("*.jar")):
        try:
            if is_signed(jar):
                made.append(_unsigned_copy(jar, folder / jar.name))
        except (OSError, zipfile.BadZipFile):
            continue  # a jar the JVM will name itself, if it is on the class path at all
    listing = folder / f"{LISTING}.{os.getpid()}.tmp"
    listing.write_text(json.dumps([path.name for path in made]) + "\n")
    os.replace(listing, folder / LISTING)
    return made


def _unsigned_copy(jar: Path, target: Path) -> Path:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(jar) as source, zipfile.ZipFile(tmp, "w") as copy:
            for item in source.infolist():
                if not SIGNATURE.match(item.filename):
                    copy.writestr(item, source.read(item))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
