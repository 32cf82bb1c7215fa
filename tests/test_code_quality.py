"""The code is ruff- and mypy-clean, and the lab extension's lint and jest suites pass."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labextension"


def run(*command: str, cwd: Path = ROOT) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


PYTHON_SOURCES = [p for p in ("pyspark_kernel", "tests", "benchmarks") if (ROOT / p).is_dir()]


def test_ruff_lint_and_format():
    run(sys.executable, "-m", "ruff", "check", *PYTHON_SOURCES)
    run(sys.executable, "-m", "ruff", "format", "--check", *PYTHON_SOURCES)


def test_mypy():
    run(sys.executable, "-m", "mypy")


@pytest.fixture(scope="module")
def jlpm() -> str:
    path = shutil.which("jlpm", path=str(Path(sys.executable).parent))
    assert path, "jlpm comes with jupyterlab, a test dependency"
    if not (LAB / "node_modules").is_dir():
        run(path, "install", "--immutable", cwd=LAB)
    return path


def test_labextension_lint(jlpm):
    run(jlpm, "lint:check", cwd=LAB)


def test_labextension_jest(jlpm):
    run(jlpm, "test", cwd=LAB)
