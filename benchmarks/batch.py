"""Benchmark 8: batch runs, wall time of ``jupyter nbconvert --execute`` on the quickstart
notebook with the pyspark kernel, and of ``pyspark-kernel demo`` when that command exists."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .harness import PYSPARK, log

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NOTEBOOK = REPO / "notebooks" / "01-quickstart.ipynb"
TIMEOUT = 900


def _timed(cmd: list[str], log_file: Path) -> dict[str, Any]:
    """Run `cmd` in its own process group; on timeout the whole group (its kernels and
    JVMs too) is terminated."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_file, "w") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
        try:
            code: int | str = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            code = f"timeout after {TIMEOUT} s"
            for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(grace)
                    break
    wall = round(time.monotonic() - started, 2)
    return {"command": " ".join(cmd), "wall_s": wall, "returncode": code, "log": str(log_file)}


def nbconvert(log_dir: Path) -> dict[str, Any]:
    out_dir = HERE / "out" / "batch"
    cmd = [
        sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK),
        f"--ExecutePreprocessor.kernel_name={PYSPARK}", "--ExecutePreprocessor.timeout=600",
        "--output-dir", str(out_dir), "--output", NOTEBOOK.stem + ".executed",
    ]  # fmt: skip
    result = _timed(cmd, log_dir / f"nbconvert-{int(time.time())}.log")
    log(
        f"  nbconvert --execute {NOTEBOOK.name}: {result['wall_s']:.1f} s (exit {result['returncode']})"
    )
    return result


def demo(log_dir: Path) -> dict[str, Any]:
    """``pyspark-kernel demo``, skipped with the reason when the project has no such command."""
    if not (REPO / "pyspark_kernel" / "demo.py").is_file():
        return {"skipped": "pyspark_kernel/demo.py does not exist (no `pyspark-kernel demo`)"}
    exe = Path(sys.executable).parent / "pyspark-kernel"
    probe = subprocess.run(
        [str(exe), "demo", "--help"], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    if probe.returncode != 0:
        detail = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"skipped": f"`pyspark-kernel demo --help` exited {probe.returncode}: {detail[0]}"}
    out_dir = HERE / "out" / "demo"
    result = _timed(
        [str(exe), "demo", "--out", str(out_dir)], log_dir / f"demo-{int(time.time())}.log"
    )
    log(f"  pyspark-kernel demo: {result['wall_s']:.1f} s (exit {result['returncode']})")
    return result


def run(log_dir: Path) -> dict[str, Any]:
    return {"nbconvert_quickstart": nbconvert(log_dir), "demo": demo(log_dir)}
