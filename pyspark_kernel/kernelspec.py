"""Installing the ``pyspark`` kernelspec (the wheel also ships one as data)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

from .config import parse_assignment

KERNEL_NAME = "pyspark"


def kernel_json(
    display_name: str = "PySpark",
    master: str | None = None,
    remote: str | None = None,
    conf: list[str] | None = None,
    python: str = sys.executable,
) -> dict[str, object]:
    """The kernel.json for this Python, with Spark settings as kernel arguments."""
    argv = [python, "-m", "pyspark_kernel.launcher", "-f", "{connection_file}"]
    if master:
        argv.append(f"--SparkSettings.master={master}")
    if remote:
        argv.append(f"--SparkSettings.remote={remote}")
    for item in conf or []:
        key, value = parse_assignment(item)
        argv += ["--SparkSettings.conf", f"{key}={value}"]
    return {
        "argv": argv,
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False, "pyspark_kernel": {"version": 1}},
    }


def install(
    *,
    user: bool = False,
    prefix: str | None = None,
    name: str = KERNEL_NAME,
    display_name: str = "PySpark",
    master: str | None = None,
    remote: str | None = None,
    conf: list[str] | None = None,
) -> str:
    """Write the kernelspec (with logos) and return the folder it was installed in."""
    if master and remote:
        raise ValueError("give --master or --remote, not both")
    spec = kernel_json(display_name, master, remote, conf)
    source = resources.files("pyspark_kernel") / "resources" / "kernelspec"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        for logo in ("logo-32x32.png", "logo-64x64.png", "logo-128x128.png", "logo-svg.svg"):
            with resources.as_file(source / logo) as path:
                shutil.copy(path, folder / logo)
        (folder / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        return KernelSpecManager().install_kernel_spec(
            str(folder), kernel_name=name, user=user, prefix=prefix
        )


def is_installed(name: str = KERNEL_NAME) -> bool:
    return name in KernelSpecManager().find_kernel_specs()
