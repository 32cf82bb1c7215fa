"""What the numbers were measured on: date, machine, versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

PACKAGES = ("pyspark", "ipykernel", "jupyter_client", "pyarrow", "pandas", "pyspark-kernel")


def describe(repo: Path) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cores_logical": os.cpu_count(),
            "cores_physical": psutil.cpu_count(logical=False),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": _cpu_model(),
            "platform": platform.platform(),
        },
        "versions": {
            "python": sys.version.split()[0],
            "python_full": sys.version,
            "java": java_version(),
            **{name: _version(name) for name in PACKAGES},
        },
        "git": _git(repo),
        "pyspark_kernel_code_sha256": code_fingerprint(repo / "pyspark_kernel"),
    }


def code_fingerprint(package: Path) -> str:
    """A hash of the measured package's Python sources (the working tree may differ from
    the commit)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def java_version() -> str:
    """The first line of ``java -version`` (of JAVA_HOME's java when set, as Spark uses)."""
    java = (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java")
        if os.environ.get("JAVA_HOME")
        else "java"
    )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = (out.stderr or out.stdout).strip().splitlines()
    return " / ".join(lines[:2]) if lines else "unknown"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _git(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    try:
        # the code that runs: the kernel and the benchmarks, not their results or the docs
        code = ("pyspark_kernel", "benchmarks/*.py", "notebooks/*.ipynb", "pyproject.toml")
        changed = git("status", "--porcelain", "--", *code)
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changed)}
    except (OSError, subprocess.TimeoutExpired):
        return {}


def warm_file_cache() -> int:
    """Read pyspark's jars once so neither kernel pays for a cold page cache."""
    import pyspark

    total = 0
    jars = Path(pyspark.__file__).parent / "jars"
    for jar in sorted(jars.glob("*.jar")):
        with contextlib.suppress(OSError), open(jar, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total
