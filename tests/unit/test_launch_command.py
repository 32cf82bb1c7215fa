"""The driver's java command line remembered from a launch: what its key is made of, when
nothing is remembered, and what a later launch gets back (a real java process is read)."""

import os
import shutil
import stat
import subprocess
import sys
import time

import pytest

import pyspark_kernel.spark_internals as internals
from pyspark_kernel import launch_command

COMMAND = ["/spark/bin/spark-submit", "--conf", "spark.master=local[*]", "pyspark-shell"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def digest(command, environment):
    return launch_command.inputs_digest(command, environment, internals.spark_home())


def env(**extra):
    return {"PATH": os.environ["PATH"], "HOME": "/home/u", "JPY_PARENT_PID": "1", **extra}


def test_the_key_leaves_out_what_changes_from_kernel_to_kernel_only():
    base = digest(COMMAND, env())
    assert base is not None
    same = env(JPY_PARENT_PID="2", JPY_SESSION_NAME="a.ipynb", PWD="/x", SHLVL="3")
    assert digest(COMMAND, same) == base
    assert digest(COMMAND, env(SPARK_SUBMIT_OPTS="-Dx=1")) != base
    assert digest([*COMMAND[:-1], "x", "pyspark-shell"], env()) != base


def test_nothing_is_remembered_with_a_spark_env_script_or_a_credential(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    assert digest(COMMAND, env(SPARK_CONF_DIR=str(conf))) is not None
    (conf / "spark-env.sh").write_text("export SPARK_WORKER_CORES=$(nproc)\n")
    assert digest(COMMAND, env(SPARK_CONF_DIR=str(conf))) is None
    secret = [*COMMAND[:-1], "--conf", "spark.hadoop.fs.s3a.secret.key=abc", "pyspark-shell"]
    assert digest(secret, env()) is None


@pytest.fixture
def java_process(tmp_path):
    """A real java process whose arguments name SparkSubmit, as a driver's do."""
    source = tmp_path / "Wait.java"
    source.write_text(
        "public class Wait { public static void main(String[] a) throws Exception"
        ' { System.out.println("up"); System.in.read(); } }'
    )
    java = shutil.which("java")
    child = {**os.environ, "PYTHONHASHSEED": "0", "SPARK_ENV_LOADED": "1"}
    child.pop("HOME", None)
    proc = subprocess.Popen(
        [java, str(source), "org.apache.spark.deploy.SparkSubmit", "pyspark-shell"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child,
    )  # fmt: skip
    assert proc.stdout.readline() == b"up\n"
    yield proc
    proc.stdin.close()
    proc.wait(30)


def test_a_running_drivers_command_line_is_kept_and_given_back(java_process):
    launched_with = {**os.environ, "SPARK_ENV_LOADED": "old"}
    assert launch_command.remember("d1", launched_with, java_process.pid)
    path = launch_command.folder() / "d1.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    argv, child = launch_command.recall("d1", {**launched_with, "JPY_PARENT_PID": "7"})
    assert argv == java_process.args
    assert child["PYTHONHASHSEED"] == "0" and child["SPARK_ENV_LOADED"] == "1"
    assert "HOME" not in child and child["JPY_PARENT_PID"] == "7"
    launch_command.forget("d1")
    assert launch_command.recall("d1", launched_with) is None


def test_only_a_java_process_of_spark_is_remembered():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not launch_command.remember("d2", dict(os.environ), sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not (launch_command.folder() / "d2.json").exists()
    assert launch_command.recall(None, {}) is None and not launch_command.remember(None, {}, 1)


def test_a_command_whose_java_is_gone_is_not_given_back_and_only_the_latest_are_kept():
    folder = launch_command.folder()
    launch_command._write_private(folder / "gone.json", {"argv": ["/no/java"], "added": {},
                                                        "removed": []})  # fmt: skip
    assert launch_command.recall("gone", {}) is None
    for i in range(launch_command.KEEP + 3):
        launch_command._write_private(folder / f"k{i}.json", {"argv": ["java"]})
        then = time.time() - 1000 + i
        os.utime(folder / f"k{i}.json", (then, then))
    launch_command._prune()
    assert len(list(folder.glob("*.json"))) == launch_command.KEEP
