"""The driver JVM's class-data sharing archive (JDK application class-data sharing).

Most of a cold Spark start is the JVM loading, parsing and verifying tens of thousands of
classes. A JVM started with ``-XX:ArchiveClassesAtExit=F`` writes the classes it loaded to
F when it exits; a later JVM started with ``-XX:SharedArchiveFile=F`` maps them ready-made.
An archive fits only the exact Java runtime, Spark jars, class path and heap mode it was
written with, so each is kept under a key of those, in ``<cache>/classdata/<key>.jsa`` with
its description ``<key>.json`` beside it.

Using one: `prepare` picks the archive for a driver about to launch, checks it against its
description (size, modification time, sampled bytes: the JVM crashes on a truncated
archive) and adds the JVM options: ``-Xshare:auto`` with CDS logging off, so an archive the
JVM refuses is skipped in silence. `ArchiveUse.confirm` then reads the launched JVM's
memory map to see whether it took the archive.

Building one (`build`): a separate JVM runs the first queries of a notebook with
``-XX:ArchiveClassesAtExit`` into a temporary file, which the JVM itself must then accept
(``-Xshare:on``) before it is renamed into place. A lock per key lets one process build
while every other goes on without the archive. `start_build` runs `build` in a background
process at low priority, detached from the kernel that started it so that the build
finishes once even when kernels come and go quickly (nbconvert runs, tests).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspark_kernel.spark_internals as internals

from . import java_options, signed_jars
from .config import SAFE_DEFAULTS, WAREHOUSE, data_folders, jvm_bytes
from .java_options import JAVA_OPTION_VARIABLES
from .paths import cache_root

log = logging.getLogger(__name__)

JAVA_OPTIONS = "spark.driver.extraJavaOptions"
CLASS_PATH = "spark.driver.extraClassPath"
LAUNCHER_OPTIONS = "SPARK_LAUNCHER_OPTS"  # the options of the Spark launcher's own short JVM
# Driver settings that decide whether an archive fits: they are all a build needs to know.
KEY_SETTINGS = (
    JAVA_OPTIONS,
    "spark.driver.defaultJavaOptions",
    CLASS_PATH,
    "spark.driver.memory",
)
# Environment the Spark launcher builds the driver's class path and options from.
KEY_ENVIRONMENT = (
    "SPARK_CONF_DIR",
    "SPARK_DIST_CLASSPATH",
    "HADOOP_CONF_DIR",
    "YARN_CONF_DIR",
    "SPARK_PREPEND_CLASSES",
    "SPARK_SCALA_VERSION",
    "PYSPARK_SUBMIT_ARGS",
    "SPARK_SUBMIT_OPTS",
    "SPARK_DRIVER_MEMORY",
    *JAVA_OPTION_VARIABLES,
)
QUIET = "-Xlog:cds*=off"  # a refused archive, and the dump's own notes, print nothing
# Options by which the user already decides class-data sharing for the driver.
_USER_CDS = re.compile(r"(^|\s)(-XX:(SharedArchiveFile|ArchiveClassesAtExit)=|-Xshare:)")
_LARGE_HEAP = 30 * 2**30  # from about 32 GB the JVM drops compressed oops: another archive
_SAMPLE = 1 << 16  # bytes read at three places of an archive to recognise it
FAILED_RETRY = 24 * 3600.0  # seconds before a kernel tries a failed build again
KEEP = 3  # archives kept (the most recently used); older ones are removed
COPIES_GRACE = 3600.0  # seconds unsigned jar copies stay while no archive names them
BUILD_TIMEOUT = 900.0
BUILD_MEMORY = 2**30  # MemAvailable a background build wants before it starts


class BuildError(RuntimeError):
    """An archive could not be built."""


# -- the key -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveKey:
    """What an archive must match, and its digest (the archive's file name)."""

    inputs: dict[str, Any]
    digest: str

    @property
    def files(self) -> ArchiveFiles:
        return ArchiveFiles(folder(), self.digest)


def archive_key(conf: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> ArchiveKey:
    """The key of the archive for a driver launched with `conf` in `environ`: the Java
    runtime (version, vendor, its libjvm), pyspark's version and jars, the class path
    settings, the driver's ``-XX`` options and whether its heap is too large for
    compressed oops. Raises `BuildError` when no Java runtime is found."""
    home = internals.spark_home()
    inputs = {
        "java": java_identity(environ),
        "pyspark": internals.pyspark_release(),
        "spark_home": str(Path(home).resolve()),
        "jars": jars_digest(Path(home) / "jars"),
        "class_path": conf.get(CLASS_PATH, ""),
        "environment": {name: environ.get(name, "") for name in KEY_ENVIRONMENT},
        "xx_options": sorted(t for t in _user_tokens(conf) if t.startswith("-XX:")),
        "large_heap": jvm_bytes(conf.get("spark.driver.memory", "1g")) >= _LARGE_HEAP,
    }
    return ArchiveKey(inputs, _digest(inputs)[:20])


def jars_digest(jars: Path) -> str:
    """A digest of a Spark jars folder's listing (names, sizes, modification times)."""
    listing = sorted(
        (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns) for entry in jars.iterdir()
    )
    return _digest(listing)


def java_identity(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """`java_options.java_identity`, raising `BuildError` when there is no Java runtime."""
    try:
        return java_options.java_identity(environ)
    except java_options.NoJava as exc:
        raise BuildError(str(exc)) from exc


def _user_tokens(conf: Mapping[str, str]) -> list[str]:
    text = " ".join(conf.get(k, "") for k in ("spark.driver.defaultJavaOptions", JAVA_OPTIONS))
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quotes: Spark will complain, not us
        return text.split()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


# -- files -----------------------------------------------------------------------------------
def folder() -> Path:
    """Where archives live: ``<cache>/classdata`` (see `paths.cache_root`)."""
    return cache_root() / "classdata"


@dataclass(frozen=True)
class ArchiveFiles:
    """The files of one key: the archive, its description, its lock and its markers."""

    folder: Path
    digest: str

    def _named(self, suffix: str) -> Path:
        return self.folder / f"{self.digest}{suffix}"

    @property
    def archive(self) -> Path:
        return self._named(".jsa")

    @property
    def launcher(self) -> Path:
        """A small archive for the JVM that spark-submit runs first to build the driver's
        command line (``org.apache.spark.launcher.Main``)."""
        return self._named(".launcher.jsa")

    @property
    def meta(self) -> Path:
        return self._named(".json")

    @property
    def lock(self) -> Path:
        return self._named(".lock")

    @property
    def failed(self) -> Path:
        """Written when a build failed: kernels do not try again for `FAILED_RETRY` s."""
        return self._named(".failed")

    @property
    def refused(self) -> Path:
        """Written when a driver JVM did not take the archive it was given."""
        return self._named(".refused")

    def temporary(self, suffix: str = ".jsa") -> Path:
        return self._named(f"{suffix}.{os.getpid()}.tmp")

    def leftovers(self) -> list[Path]:
        return sorted(self.folder.glob(f"{self.digest}.*.tmp"))


def unsigned_folder() -> Path:
    """Where the unsigned copies of Spark's signed jars live (see `signed_jars`):
    ``<archives>/unsigned/<digest of the jars folder's listing>``."""
    return folder() / "unsigned" / jars_digest(Path(internals.spark_home()) / "jars")[:20]


def with_unsigned_jars(conf: Mapping[str, str]) -> dict[str, str]:
    """`conf` with the unsigned copies of Spark's signed jars at the end of the driver's
    extra class path (after the user's entries), once they are made; else unchanged."""
    out = dict(conf)
    try:
        made = signed_jars.copies(unsigned_folder())
    except OSError:  # no Spark jars folder to list: Spark will say so
        return out
    if not made:
        return out
    entries = [entry for entry in out.get(CLASS_PATH, "").split(os.pathsep) if entry]
    extra = [str(path) for path in made if str(path) not in entries]
    if extra:
        out[CLASS_PATH] = os.pathsep.join(entries + extra)
    return out


def fingerprint(path: Path) -> dict[str, Any]:
    """Size, modification time and a hash of three sampled blocks: changes whenever the
    file is rewritten, truncated or replaced, without reading all of it."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for offset in (0, stat.st_size // 2, max(stat.st_size - _SAMPLE, 0)):
            f.seek(offset)
            digest.update(f.read(_SAMPLE))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sample": digest.hexdigest()}


def read_meta(files: ArchiveFiles) -> dict[str, Any] | None:
    try:
        meta = json.loads(files.meta.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def problem(key: ArchiveKey, *, retry_failed: bool = False) -> str | None:
    """Why the archive of `key` cannot be used (None: it can): ``missing``, ``corrupt``
    (unreadable description, another key's, or a file that changed since it was
    written), ``refused`` (a JVM did not take it), ``failed`` (its last build failed less
    than `FAILED_RETRY` s ago; ignored with `retry_failed`)."""
    files = key.files
    if not retry_failed and _recent(files.failed, FAILED_RETRY):
        return "failed"
    meta = read_meta(files)
    if meta is None:
        return "missing" if not files.archive.exists() else "corrupt"
    try:
        if meta.get("key") != key.inputs or fingerprint(files.archive) != meta.get("file"):
            return "corrupt"
    except OSError:
        return "missing" if not files.archive.exists() else "corrupt"
    refused = _read_json(files.refused)
    if refused is not None and refused.get("built") == meta.get("built"):
        return "refused"
    return None


def _recent(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write `value` to a temporary file and rename it into place (readers never see half)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


# -- using an archive --------------------------------------------------------------------------
@dataclass
class ArchiveUse:
    """The archive chosen for one driver JVM, and what became of it."""

    key: ArchiveKey
    conf: dict[str, str]  # the driver's `KEY_SETTINGS`: what a build of this key needs
    path: Path | None  # given to the JVM; None when there was none to give
    reason: str | None  # why none was given: see `problem`
    mapped: bool | None = None  # whether the JVM took it (None: not known)
    launcher: Path | None = None  # the Spark launcher's archive, when there is one

    def confirm(self, pid: int) -> None:
        """Look whether the JVM `pid` mapped the archive; note a refusal (the next build
        replaces the archive)."""
        if self.path is None:
            return
        self.mapped = is_mapped(pid, self.path)
        if self.mapped is False:
            log.info("the driver JVM did not take the class-data archive %s", self.path)
            self.refuse(pid)

    def refuse(self, pid: int | None) -> None:
        """Note that a driver JVM did not take the archive: the next build replaces it."""
        self.mapped, self.reason = False, "refused"
        meta = read_meta(self.key.files) or {}
        with contextlib.suppress(OSError):
            _write_json(self.key.files.refused, {"built": meta.get("built"), "pid": pid})

    @property
    def build_wanted(self) -> bool:
        """Whether building the archive would help the next session."""
        return self.reason in {"missing", "corrupt", "refused"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.digest,
            "path": str(self.path) if self.path else None,
            "reason": self.reason,
            "mapped": self.mapped,
        }


def prepare(conf: MutableMapping[str, str]) -> ArchiveUse | None:
    """Choose the archive for a driver JVM about to be launched with `conf`, and add the
    options that use it to ``spark.driver.extraJavaOptions`` (after the user's own, which
    stay as they are), and the unsigned copies of Spark's signed jars, once made, to its
    class path (after the user's own). None when the user's options already decide
    class-data sharing or no key can be made; never raises."""
    user = conf.get(JAVA_OPTIONS, "") or ""
    if _USER_CDS.search(user):
        return None
    try:
        class_path = with_unsigned_jars(conf).get(CLASS_PATH)
        if class_path:
            conf[CLASS_PATH] = class_path
        settings = {k: value for k in KEY_SETTINGS if (value := conf.get(k, "") or "")}
        key = archive_key(settings)
        reason = problem(key)
    except Exception as exc:  # an odd Java or Spark installation: go on without
        log.info("no class-data archive: %s", exc)
        return None
    path = None if reason else key.files.archive
    use = ArchiveUse(key, settings, path, reason)
    if path is not None:
        conf[JAVA_OPTIONS] = merge_options(user, use_options(path))
        log.debug("class-data archive %s for the driver JVM", path)
        use.launcher = _launcher_archive(key.files)
        with contextlib.suppress(OSError):
            os.utime(key.files.meta)  # last use: the least recently used archives go first
    return use


def _launcher_archive(files: ArchiveFiles) -> Path | None:
    meta = read_meta(files) or {}
    try:
        return files.launcher if fingerprint(files.launcher) == meta.get("launcher_file") else None
    except OSError:
        return None


@contextlib.contextmanager
def launcher_options(use: ArchiveUse | None) -> Iterator[None]:
    """While the driver JVM launches: the Spark launcher's JVM uses its archive too
    (``SPARK_LAUNCHER_OPTS``, unless set already; put back as it was afterwards)."""
    if use is None or use.launcher is None or LAUNCHER_OPTIONS in os.environ:
        yield
        return
    os.environ[LAUNCHER_OPTIONS] = use_options(use.launcher)
    try:
        yield
    finally:
        os.environ.pop(LAUNCHER_OPTIONS, None)


def unprepare(conf: MutableMapping[str, str], use: ArchiveUse) -> None:
    """Take the archive's options out of `conf` again."""
    conf[JAVA_OPTIONS] = use.conf.get(JAVA_OPTIONS, "")


def use_options(path: Path) -> str:
    return f"-XX:SharedArchiveFile={_quote(path)} -Xshare:auto {QUIET}"


def merge_options(user: str, ours: str) -> str:
    """The user's driver options with ours added (theirs first, untouched)."""
    return f"{user.strip()} {ours}".strip()


def _quote(path: Path) -> str:
    """A path as Spark's option splitter reads it (it understands shell-like quotes)."""
    text = str(path)
    return shlex.quote(text) if re.search(r"[\s'\"\\]", text) else text


def is_mapped(pid: int, path: Path) -> bool | None:
    """Whether process `pid` has `path` mapped (``/proc/PID/maps``); None where unknown."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None
    target = str(path.resolve())
    return any(line.endswith(target) or f"{target} (deleted)" in line for line in maps.splitlines())


# -- building ----------------------------------------------------------------------------------
@dataclass
class BuildResult:
    """What `build` did: ``built``, ``current`` (nothing to do), ``busy`` (another process
    builds it), ``skipped`` or ``failed``."""

    status: str
    path: Path | None = None
    detail: str = ""
    seconds: float | None = None
    size: int | None = None

    def describe(self) -> str:
        size = f"{self.size / 2**20:.0f} MB" if self.size else ""
        if self.status == "built":
            return f"class-data archive built in {self.seconds:.0f} s: {self.path} ({size})"
        if self.status == "current":
            return f"class-data archive up to date: {self.path} ({size})"
        return f"class-data archive {self.status}: {self.detail}"


def build(conf: Mapping[str, str], *, background: bool = False) -> BuildResult:
    """Build the archive for a driver launched with `conf` (its `KEY_SETTINGS` matter)
    unless a usable one exists. In the `background` another process's build is left to
    it, and a build that failed recently is not tried again. The unsigned copies of
    Spark's signed jars are made first: the archive is for a driver with them."""
    try:
        signed_jars.make_copies(Path(internals.spark_home()) / "jars", unsigned_folder())
    except Exception as exc:  # a read-only cache, an odd installation: the jars as they are
        log.info("no unsigned copies of Spark's signed jars: %s", exc)
    try:
        conf = with_unsigned_jars(conf)
        key = archive_key(conf)
    except BuildError as exc:
        return BuildResult("failed", detail=str(exc))
    files = key.files
    files.folder.mkdir(parents=True, exist_ok=True)
    with _locked(files.lock, wait=not background, owner=True) as locked:
        if not locked:
            return BuildResult("busy", detail="another process is building it")
        reason = problem(key, retry_failed=not background)
        if reason is None:
            return BuildResult("current", files.archive, size=files.archive.stat().st_size)
        if reason == "failed":
            failed = _read_json(files.failed) or {}
            return BuildResult("skipped", detail=f"it failed lately: {failed.get('error')}")
        meta = read_meta(files) or {}
        if reason == "refused" and meta.get("rebuilt_after_refusal"):
            _write_json(files.failed, {"error": "the driver JVM refused a rebuilt archive"})
            return BuildResult("failed", detail="the driver JVM refused a rebuilt archive")
        for leftover in files.leftovers():
            leftover.unlink(missing_ok=True)
        started = time.monotonic()
        try:
            built = _build(key, conf, refused=reason == "refused")
        except Exception as exc:
            for leftover in files.leftovers():
                leftover.unlink(missing_ok=True)
            detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            with contextlib.suppress(OSError):
                _write_json(files.failed, {"error": detail, "log": str(build_log())})
            return BuildResult("failed", detail=detail)
        seconds = time.monotonic() - started
        files.failed.unlink(missing_ok=True)
        files.refused.unlink(missing_ok=True)
    prune(keep=files)
    return BuildResult("built", built, seconds=seconds, size=built.stat().st_size)


def _build(key: ArchiveKey, conf: Mapping[str, str], refused: bool) -> Path:
    """Dump, check and install the archive (the caller holds the key's lock)."""
    files = key.files
    tmp = files.temporary()
    started = time.monotonic()
    java, class_path = _dump(tmp, conf, key)
    seconds = round(time.monotonic() - started, 1)
    _accept(java, class_path, tmp, key)
    os.chmod(tmp, 0o444)
    launcher = _build_launcher(java, key)
    meta = {
        "key": key.inputs,
        "file": fingerprint(tmp),
        "launcher_file": fingerprint(launcher) if launcher else None,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": seconds,
        "class_path": class_path,
        "rebuilt_after_refusal": refused,
    }
    if launcher is not None:
        os.replace(launcher, files.launcher)
    os.replace(tmp, files.archive)
    _write_json(files.meta, meta)
    return files.archive


def _build_launcher(java: str, key: ArchiveKey) -> Path | None:
    """The launcher's archive: ``spark-submit --version`` runs the launcher's JVM with the
    dump on, and the JVM must then accept it. None (the driver's archive is kept) when
    that fails."""
    if key.inputs["environment"].get("SPARK_PREPEND_CLASSES"):
        return None
    tmp = key.files.temporary(".launcher.jsa")
    home = Path(key.inputs["spark_home"])
    env = {**os.environ, LAUNCHER_OPTIONS: f"-XX:ArchiveClassesAtExit={_quote(tmp)} {QUIET}"}
    dump = [str(home / "bin" / "spark-submit"), "--version"]
    check = [java, "-Xmx128m", f"-XX:SharedArchiveFile={tmp}", "-Xshare:on", QUIET, "-cp",
             str(home / "jars" / "*"), "-version"]  # fmt: skip
    try:
        for command in (dump, check):
            done = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
            if done.returncode != 0 or not tmp.exists():
                raise BuildError(f"{Path(command[0]).name} exited with {done.returncode}")
    except (OSError, subprocess.TimeoutExpired, BuildError) as exc:
        log.info("no archive for the Spark launcher: %s", exc)
        tmp.unlink(missing_ok=True)
        return None
    os.chmod(tmp, 0o444)
    return tmp


def build_conf(tmp: Path, conf: Mapping[str, str], key: ArchiveKey) -> dict[str, str]:
    """The settings of the JVM that writes the archive: the kernel's safe defaults, the
    user's class path and options, a heap in the same mode, and the dump. Its warm-up
    lists the catalog, which creates the warehouse folder: the kernel's, not one in the
    folder the build was started from (the notebook's)."""
    out = {
        **SAFE_DEFAULTS,
        "spark.master": "local[*]",
        "spark.app.name": "pyspark-kernel-classdata",
        WAREHOUSE: data_folders()[WAREHOUSE],
    }
    for name in KEY_SETTINGS:
        if conf.get(name):
            out[name] = conf[name]
    out["spark.driver.memory"] = (
        conf.get("spark.driver.memory", "1g") if key.inputs["large_heap"] else "512m"
    )
    dump = f"-XX:ArchiveClassesAtExit={_quote(tmp)} {QUIET}"
    out[JAVA_OPTIONS] = merge_options(conf.get(JAVA_OPTIONS, ""), dump)
    return out


def _dump(tmp: Path, conf: Mapping[str, str], key: ArchiveKey) -> tuple[str, str]:
    """Run the warm-up queries in a JVM that writes its classes to `tmp` when it exits;
    return its java executable and class path."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    from .warmup import warm_session

    settings = build_conf(tmp, conf, key)
    spark_conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    internals.quiet_query_context_loggers()  # the warm-up's own error is expected
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with open(build_log(), "ab") as out:
        gateway = internals.launch_jvm(settings, stdout=out.fileno(), stderr=out.fileno())
    proc = internals.jvm_process(gateway)
    watchdog = threading.Timer(BUILD_TIMEOUT, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        sc = SparkContext(conf=spark_conf, gateway=gateway)
        sc.setLogLevel("ERROR")
        spark = SparkSession(sc)
        warm_session(spark, archive=True)
        java = str(Path(internals.jvm_property(sc, "java.home") or "") / "bin" / "java")
        class_path = internals.jvm_property(sc, "java.class.path") or ""
        sc.stop()
        internals.forget_classic_session()
        proc.stdin.close()  # the driver exits when its stdin closes, and dumps as it exits
        code = proc.wait(BUILD_TIMEOUT)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0:
        raise BuildError(f"the archiving JVM exited with {code} (see {build_log()})")
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise BuildError(f"the archiving JVM wrote no archive (see {build_log()})")
    return java, class_path


def _accept(java: str, class_path: str, tmp: Path, key: ArchiveKey) -> None:
    """The JVM's own check: it starts with the archive required (``-Xshare:on``)."""
    heap = "-Xmx64g" if key.inputs["large_heap"] else "-Xmx512m"
    command = [
        java, heap, *key.inputs["xx_options"], f"-XX:SharedArchiveFile={tmp}", "-Xshare:on",
        QUIET, "-cp", class_path, "-version",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        raise BuildError(f"the JVM does not take the new archive: {said[-1] if said else ''}")


def build_log() -> Path:
    """The archiving JVMs' output (kept short: emptied once above 1 MB)."""
    path = folder() / "build.log"
    with contextlib.suppress(OSError):
        if path.stat().st_size > 2**20:
            path.write_bytes(b"")
    return path


@contextlib.contextmanager
def _locked(path: Path, wait: bool, owner: bool = False) -> Iterator[bool]:
    """Hold the lock `path` (yields False when `wait` is off and another process holds
    it); with `owner`, the file says which process holds it."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            if owner:
                handle.truncate(0)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune(keep: ArchiveFiles | None = None) -> list[Path]:
    """Remove all but the `KEEP` most recently used archives (`keep` stays); return the
    archives removed. Only archives no process is building are touched."""
    root = folder()
    metas = sorted(root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    kept = 0
    removed = []
    for meta in metas:
        files = ArchiveFiles(root, meta.stem)
        if keep is not None and files.digest == keep.digest:
            continue
        kept += 1
        if kept < KEEP:
            continue
        with _locked(files.lock, wait=False) as locked:
            if not locked:
                continue
            for path in (files.archive, files.launcher, files.meta, files.failed, files.refused):
                path.unlink(missing_ok=True)
            removed.append(files.archive)
    _prune_copies(root)
    return removed


def _prune_copies(root: Path) -> None:
    """Remove the unsigned jar copies that no archive's class path names (their Spark was
    replaced, or its archive pruned), an hour after they were made (a build names them
    when it ends; a later build makes them again)."""
    named = [
        str((read_meta(ArchiveFiles(root, meta.stem)) or {}).get("key", {}).get("class_path"))
        for meta in root.glob("*.json")
    ]
    for copies in (root / "unsigned").glob("*"):
        with contextlib.suppress(OSError):
            if time.time() - copies.stat().st_mtime > COPIES_GRACE and not any(
                str(copies) in class_path for class_path in named
            ):
                shutil.rmtree(copies)


def remove_all() -> list[Path]:
    """Remove every archive and file of the archive folder (running JVMs keep theirs)."""
    root = folder()
    if not root.is_dir():
        return []
    removed = sorted(root.iterdir())
    shutil.rmtree(root)
    return removed


def archives() -> list[dict[str, Any]]:
    """What the archive folder holds, for ``pyspark-kernel warm --status``."""
    out = []
    for meta_path in sorted(folder().glob("*.json")):
        files = ArchiveFiles(folder(), meta_path.stem)
        meta = read_meta(files) or {}
        key = meta.get("key", {})
        out.append(
            {
                "archive": str(files.archive),
                "size_mb": round(files.archive.stat().st_size / 2**20, 1)
                if files.archive.exists()
                else None,
                "built": meta.get("built"),
                "build_seconds": meta.get("build_seconds"),
                "java": (key.get("java") or {}).get("version"),
                "pyspark": key.get("pyspark"),
                "last_used": time.strftime(
                    "%Y-%m-%dT%H:%M:%S%z", time.localtime(meta_path.stat().st_mtime)
                ),
            }
        )
    return out


# -- the background build ------------------------------------------------------------------------
def building(key: ArchiveKey) -> bool:
    """Whether a process is building the archive of `key` now."""
    return builder(key.files) is not None


def builder(files: ArchiveFiles) -> int | None:
    """The process building the archive of `files` now, if one does."""
    if not files.lock.exists():
        return None
    with _locked(files.lock, wait=False) as free:
        if free:
            return None
    try:
        return int(files.lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # held, by a process that did not say which


def start_build(conf: Mapping[str, str], nice: int) -> subprocess.Popen[bytes]:
    """Start ``pyspark-kernel warm --background`` for a driver with `conf`: it reads the
    settings from its stdin (they may hold secrets: not on a command line), then leaves
    this process (the returned one exits at once) and builds at niceness `nice`."""
    folder().mkdir(parents=True, exist_ok=True)
    with open(build_log(), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyspark_kernel", "warm", "--background", "--nice", str(nice)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
        )
    assert proc.stdin is not None
    with contextlib.suppress(OSError):
        proc.stdin.write(json.dumps({k: conf[k] for k in KEY_SETTINGS if conf.get(k)}).encode())
        proc.stdin.close()
    return proc


def background_main(nice: int) -> int:
    """The background build: settings from stdin, then a process of its own (the kernel
    that started it reaps the parent at once), low priority, nothing done when memory is
    short."""
    conf = json.loads(sys.stdin.read() or "{}")
    if os.fork():
        os._exit(0)
    _lower_priority(nice)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s classdata: %(message)s")
    available = _available_memory()
    if available is not None and available < BUILD_MEMORY:
        log.info("not built: %d MB of memory available", available // 2**20)
        return 0
    result = build(conf, background=True)
    log.info("%s", result.describe())
    return 0 if result.status != "failed" else 1


def _lower_priority(nice: int) -> None:
    """Niceness `nice` for this process and the JVM it starts; at 19, the lowest, also
    the idle CPU and I/O classes (Linux): the build runs only when nothing else wants to."""
    with contextlib.suppress(OSError):
        os.nice(nice)
    if nice < 19:
        return
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    ionice = shutil.which("ionice")
    if ionice:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            command = [ionice, "-c", "3", "-p", str(os.getpid())]
            subprocess.run(command, capture_output=True, timeout=10, check=False)


def _available_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None
