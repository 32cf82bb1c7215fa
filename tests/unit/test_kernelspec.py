"""Installing the kernelspec: the command line writes a spec Jupyter lists, with logos."""

import json
import os
import subprocess
import sys

import pytest

from pyspark_kernel.kernelspec import kernel_json


def jupyter_kernelspecs(prefix):
    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)["kernelspecs"]


@pytest.mark.parametrize("command", [[sys.executable, "-m", "pyspark_kernel"], ["pyspark-kernel"]])
def test_install_writes_a_listed_kernelspec_with_logos_and_settings(tmp_path, command):
    if command == ["pyspark-kernel"]:
        command = [os.path.join(os.path.dirname(sys.executable), "pyspark-kernel")]
        if not os.path.exists(command[0]):
            pytest.fail("the pyspark-kernel console script is not installed")
    done = subprocess.run(
        [
            *command,
            "install",
            "--prefix",
            str(tmp_path),
            "--name",
            "pyspark-test",
            "--display-name",
            "PySpark (test)",
            "--master",
            "local[2]",
            "--conf",
            "spark.sql.shuffle.partitions=4",
            "--conf",
            "spark.ui.enabled=false",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    specs = jupyter_kernelspecs(tmp_path)
    spec = specs["pyspark-test"]
    assert spec["spec"]["display_name"] == "PySpark (test)"
    assert spec["spec"]["interrupt_mode"] == "signal"
    argv = spec["spec"]["argv"]
    assert os.path.realpath(argv[0]) == os.path.realpath(sys.executable)
    assert argv[1:3] == ["-m", "pyspark_kernel.launcher"]
    assert "--SparkSettings.master=local[2]" in argv
    assert argv[argv.index("--SparkSettings.conf") + 1] == "spark.sql.shuffle.partitions=4"
    folder = spec["resource_dir"]
    assert {"logo-32x32.png", "logo-64x64.png", "kernel.json"} <= set(os.listdir(folder))


def test_master_and_remote_are_exclusive(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyspark_kernel",
            "install",
            "--prefix",
            str(tmp_path),
            "--master",
            "local[2]",
            "--remote",
            "sc://127.0.0.1:15002",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "not allowed with argument" in done.stderr


def test_bad_conf_is_refused_with_a_short_message(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyspark_kernel",
            "install",
            "--prefix",
            str(tmp_path),
            "--conf",
            "oops",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "pyspark-kernel: expected key=value, got 'oops'"


def test_remote_kernelspec_argument():
    argv = kernel_json(remote="sc://127.0.0.1:15002")["argv"]
    assert "--SparkSettings.remote=sc://127.0.0.1:15002" in argv
