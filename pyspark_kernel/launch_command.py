"""The driver JVM's java command line, remembered from its last launch with the same inputs.

``spark-submit`` runs Spark's shell scripts and a short JVM of its own (Spark's launcher,
``org.apache.spark.launcher.Main``) to build the driver's java command line from the
settings, the environment and the configuration folder: about 0.3 s before the driver
JVM starts, on the path to the first Spark result. Once a driver has started, `remember`
reads the command line and environment that JVM runs with (``/proc/PID/cmdline`` and
``environ``: what the scripts and the launcher made) and keeps the command line and the
variables the scripts set, under a digest of everything they are made from; `recall`
gives them to the next launch with the same inputs, which then runs java directly.

The inputs: the spark-submit arguments, the whole environment but for a few variables that
change from one kernel to the next and do not reach the command (`VOLATILE`), Spark's
installation and jars, its configuration folder's files, the Java runtime. Nothing is
remembered where the configuration folder has a ``spark-env.sh`` (a script may compute
anything) or an argument looks like a credential (the command line would be written to
disk); the file is the user's own (mode 0600) in the cache folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .java_options import NoJava, java_identity
from .paths import cache_root

log = logging.getLogger(__name__)

# Different for every kernel, or read only by the launcher's own JVM: not inputs.
VOLATILE = ("PWD", "OLDPWD", "SHLVL", "_", "_PYSPARK_DRIVER_CONN_INFO_PATH", "SPARK_LAUNCHER_OPTS")
VOLATILE_PREFIXES = ("JPY_",)
# Spark's own default for what its UI and logs redact (spark.redaction.regex).
CREDENTIAL = re.compile(r"(?i)secret|password|token|access[.]?key")
KEEP = 8  # command lines kept (the most recently used)


def folder() -> Path:
    return cache_root() / "launch"


def inputs_digest(command: Sequence[str], env: Mapping[str, str], spark_home: str) -> str | None:
    """The digest of what the driver's command line is made from (`command`: spark-submit
    of `spark_home` and its arguments, run in `env`); None when it must not be remembered
    (a ``spark-env.sh``, an argument that looks like a credential, no Java to name)."""
    if any(CREDENTIAL.search(arg) for arg in command):
        return None
    try:
        java = java_identity(env)
    except NoJava:  # spark-submit will say so
        return None
    home = Path(spark_home)
    conf_dir = Path(env.get("SPARK_CONF_DIR") or home / "conf")
    if (conf_dir / "spark-env.sh").exists():
        return None
    inputs = {
        "command": list(command),
        "environment": {k: v for k, v in env.items() if not _volatile(k)},
        "spark_home": str(home.resolve()),
        "jars": _listing(home / "jars"),
        "conf_dir": _listing(conf_dir),
        "java": java,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def _volatile(name: str) -> bool:
    return name in VOLATILE or name.startswith(VOLATILE_PREFIXES)


def _listing(path: Path) -> list[tuple[str, int, int]]:
    try:
        entries = list(path.iterdir())
    except OSError:
        return []
    return sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries)


def recall(digest: str | None, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]] | None:
    """The command line and environment remembered for `digest`, the latter made from
    `env` as the scripts made it; None when there is none (or its java is gone)."""
    if digest is None:
        return None
    path = folder() / f"{digest}.json"
    try:
        kept = json.loads(path.read_text())
        argv, added, removed = kept["argv"], kept["added"], kept["removed"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not argv or not (os.path.isfile(argv[0]) or shutil.which(argv[0])):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # last use: the least recently used go first
    child = {k: v for k, v in env.items() if k not in removed}
    child.update(added)
    return list(argv), child


def remember(digest: str | None, env: Mapping[str, str], pid: int) -> bool:
    """Keep the command line of the running driver JVM `pid` (launched with `env`) for
    `digest`; False when it was not kept (not a java process of Spark's, or unreadable)."""
    if digest is None:
        return False
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        argv = _nul_list(Path(f"/proc/{pid}/cmdline").read_bytes())
        environ = dict(
            item.split("=", 1)
            for item in _nul_list(Path(f"/proc/{pid}/environ").read_bytes())
            if "=" in item
        )
    except (OSError, UnicodeDecodeError):
        return False
    if exe != "java" or "org.apache.spark.deploy.SparkSubmit" not in argv:
        return False
    kept = {
        "argv": argv,
        "added": {k: v for k, v in environ.items() if env.get(k) != v},
        "removed": sorted(k for k in env if k not in environ),
    }
    try:
        _write_private(folder() / f"{digest}.json", kept)
        _prune()
    except OSError as exc:
        log.debug("driver command line not kept: %s", exc)
        return False
    return True


def forget(digest: str | None) -> None:
    """Drop what is remembered for `digest` (its command line did not start a driver)."""
    if digest is not None:
        (folder() / f"{digest}.json").unlink(missing_ok=True)


def _nul_list(data: bytes) -> list[str]:
    return [part.decode() for part in data.split(b"\0") if part]


def _write_private(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(value, out)
    os.replace(tmp, path)


def _prune() -> None:
    kept = sorted(folder().glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in kept[KEEP:]:
        path.unlink(missing_ok=True)
