"""Cold start on real kernels and real JVMs: the warm-up stays invisible and gives way to the
user's Spark work; a corrupt archive, or one for another pyspark or class path, is skipped
with no output; two kernels starting at once with no archive leave one valid archive."""

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from kernel_client import CellRun, Kernel

import pyspark_kernel.classdata as classdata
from pyspark_kernel.config import SparkSettings

STATUS = (
    "print(__import__('json').dumps(__import__('pyspark_kernel').current().coldstart.status()))"
)
# A free port for the UI: a busy 4040 would put Spark's own notice in the first cell.
QUIET_UI = {"PYSPARK_KERNEL_CONF": "spark.ui.port=0"}


def status(kernel: Kernel) -> dict:
    run = kernel.run(STATUS)
    assert run.status == "ok" and not run.stream("stderr"), run.messages
    return json.loads(run.stream("stdout"))


def wait_for(kernel: Kernel, predicate, timeout: float = 240.0) -> dict:
    """Poll the kernel's cold-start status (with cells that do not use Spark)."""
    deadline = time.monotonic() + timeout
    while True:
        now = status(kernel)
        if predicate(now):
            return now
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {now}"
        time.sleep(0.2)


def silent(run: CellRun, stdout: str = "") -> None:
    """The cell succeeded and showed nothing but `stdout` (no JVM line, no CDS note)."""
    assert run.status == "ok", run.error
    assert run.stream("stderr") == "", run.stream("stderr")
    assert run.stream("stdout") == stdout, run.stream("stdout")
    assert not run.of_type("error")


def count_one(kernel: Kernel) -> None:
    run = kernel.run("spark.range(1).count()")
    silent(run)  # a progress display (of the cell's own job) may come when it runs long
    results = run.of_type("execute_result")
    assert [r["content"]["data"]["text/plain"] for r in results] == ["1"]


def kernels_key() -> classdata.ArchiveKey:
    """The key of the archive the test's kernels use: from their settings, where they set
    none of its own (the kernel's driver options are part of it)."""
    return classdata.archive_key(SparkSettings().spark_conf())


def small_archive(path: Path, jar: Path) -> None:
    """A real JDK archive of Spark's launcher classes, loaded from `jar` (as from the jars
    of another Spark)."""
    java = Path(classdata.java_identity()["home"]) / "bin" / "java"
    path.parent.mkdir(parents=True, exist_ok=True)
    dump = [java, f"-XX:ArchiveClassesAtExit={path}", classdata.QUIET, "-cp", str(jar)]
    subprocess.run([*dump, "org.apache.spark.launcher.Main"], capture_output=True, check=False)
    assert path.stat().st_size > 0


def describe(key: classdata.ArchiveKey, inputs: dict) -> None:
    """Write the archive's description, claiming it was built for `inputs`."""
    files = key.files
    meta = {"key": inputs, "file": classdata.fingerprint(files.archive), "built": str(time.time())}
    classdata._write_json(files.meta, meta)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("coldstart-cache")


@pytest.fixture(scope="module")
def key(cache):
    """The key of the kernels' archive (they set none of its settings), in `cache`, where
    a corrupt archive waits: random bytes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_KERNEL_CACHE", str(cache))
        patch.setenv("PYSPARK_KERNEL_DATA", str(cache / "data"))
        key = kernels_key()
        key.files.folder.mkdir(parents=True)
        key.files.archive.write_bytes(os.urandom(1 << 20))
        yield key


@pytest.fixture(scope="module")
def cold(cache, key):
    """A kernel that uses archives but never builds one (the last test builds)."""
    k = Kernel(
        env={"PYSPARK_KERNEL_CACHE": str(cache), "PYSPARK_KERNEL_CLASS_ARCHIVE": "use", **QUIET_UI}
    )
    yield k
    k.shutdown()


def test_a_corrupt_archive_is_skipped_and_the_warm_up_gives_way_to_the_first_spark_cell(cold):
    now = wait_for(cold, lambda s: s["warming"] or s["last_warm_up"])
    assert now["archive"] == {"key": now["archive"]["key"], "path": None, "reason": "corrupt",
                              "mapped": None}  # fmt: skip
    count_one(cold)
    warm = wait_for(cold, lambda s: not s["warming"])["last_warm_up"]
    if now["warming"]:  # the usual case: the count came while the warm-up ran
        assert warm["stopped"] is True
    ids = cold.value(
        "(__import__('pyspark_kernel').last_record()['spark_job_ids'],"
        f" sorted(spark.sparkContext._jsc.sc().statusTracker().getJobIdsForTag({warm['tag']!r})),"
        " spark.sparkContext.statusTracker().getActiveJobsIds())"
    )
    cell_jobs, warm_jobs, active = ids
    assert not set(cell_jobs) & set(warm_jobs)  # no job of the warm-up in the cell's record
    assert active == []


def test_an_interrupt_stops_the_warm_up_of_a_restarted_session(cold):
    restart = cold.run("%spark restart")
    assert restart.status == "ok" and not restart.stream("stderr")
    interrupted = {}

    def interrupt(elapsed, messages):
        if any(m["msg_type"] == "stream" for m in messages) and not interrupted:
            interrupted["at"] = elapsed
            cold.km.interrupt_kernel()

    run = cold.run(
        "import time\nprint(__import__('pyspark_kernel').current().coldstart.warming, flush=True)"
        "\ntime.sleep(60)",
        during=interrupt,
    )
    assert run.error["ename"] == "KeyboardInterrupt" and run.seconds < 30
    assert run.stream("stdout") == "True\n", "the warm-up was over before the interrupt"
    warm = wait_for(cold, lambda s: not s["warming"])["last_warm_up"]
    assert warm["stopped"] is True
    assert cold.value("spark.sparkContext.statusTracker().getActiveJobsIds()") == []
    count_one(cold)


def test_an_archive_for_another_pyspark_or_class_path_is_skipped_in_silence(cold, key, cache):
    jar = next((Path(key.inputs["spark_home"]) / "jars").glob("spark-launcher_*.jar"))
    other = cache / "other-spark" / "jars" / jar.name  # the jars of another Spark
    other.parent.mkdir(parents=True)
    shutil.copy(jar, other)
    small_archive(key.files.archive, other)
    describe(key, {**key.inputs, "pyspark": "3.5.3"})  # an archive of another pyspark
    restart = cold.run("%spark restart")
    assert restart.status == "ok" and "share" not in restart.stream("stdout").lower()
    assert not restart.stream("stderr")
    count_one(cold)
    assert status(cold)["archive"]["reason"] == "corrupt"

    describe(key, key.inputs)  # described as ours: the JVM itself must refuse it
    restart = cold.run("%spark restart")
    assert restart.status == "ok" and "share" not in restart.stream("stdout").lower()
    assert not restart.stream("stderr")
    count_one(cold)
    archive = status(cold)["archive"]
    assert archive["path"] == str(key.files.archive)
    assert archive["mapped"] is False and archive["reason"] == "refused"
    assert classdata.problem(key) == "refused"  # a build would replace it


def test_the_driver_jvm_comes_back_warm_after_it_died(cold):
    generation = wait_for(cold, lambda s: s["last_warm_up"] and not s["warming"])["generation"]
    jvm = cold.jvm_pid()
    os.kill(jvm, signal.SIGKILL)
    time.sleep(0.5)
    noticed = cold.run("x = 1")  # not a Spark cell: the death is noticed all the same
    assert noticed.status == "ok" and not noticed.of_type("error")
    now = wait_for(
        cold,
        lambda s: (
            s["generation"] > generation
            and (s["last_warm_up"] or {}).get("generation") == s["generation"]
            and not s["warming"]
        ),
    )
    assert now["last_warm_up"]["stopped"] is False
    assert cold.jvm_pid() not in (None, jvm)
    count_one(cold)


def test_a_new_driver_jvm_runs_java_with_the_command_line_spark_submit_built(cold, cache):
    launch = cache / "launch"
    kept = sorted(launch.glob("*.json"))  # from the launches before: the kernel's own
    assert kept and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
    restart = cold.run("%spark restart")
    assert restart.status == "ok" and not restart.stream("stderr"), restart.messages
    count_one(cold)
    assert status(cold)["command_remembered"] is True
    remembered = [json.loads(p.read_text())["argv"] for p in launch.glob("*.json")]
    assert psutil.Process(cold.jvm_pid()).cmdline() in remembered


def test_a_remembered_command_line_that_fails_is_dropped_for_spark_submit(cold, cache):
    current = psutil.Process(cold.jvm_pid()).cmdline()  # a restart's, remembered
    paths = [
        p for p in (cache / "launch").glob("*.json") if json.loads(p.read_text())["argv"] == current
    ]
    main = "org.apache.spark.deploy.SparkSubmit"
    for path in paths:  # as if Spark's classes had moved: the JVM exits at once
        kept = json.loads(path.read_text())
        kept["argv"] = [a if a != main else "org.apache.spark.deploy.NoSuchMain" for a in current]
        path.write_text(json.dumps(kept))
    restart = cold.run("%spark restart")
    assert restart.status == "ok" and not restart.stream("stderr"), restart.messages
    count_one(cold)
    assert status(cold)["command_remembered"] is False
    # the one that failed is dropped: the next launch remembers spark-submit's again
    assert paths and not all(path.exists() for path in paths)
    assert psutil.Process(cold.jvm_pid()).cmdline() == current


def java_descendants(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True) if p.name() == "java"]


@pytest.mark.parametrize("where", ["command line", "config file"])
def test_the_driver_jvm_launched_before_ipykernel_is_for_the_kernels_settings(where, tmp_path):
    # The launcher starts the JVM from the command line and environment before ipykernel
    # reads its config files: a config file's setting ends that JVM and launches another.
    # The driver runs the parallel collector unless the user names one (two at once would
    # stop the JVM from starting).
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    arguments = []
    if where == "config file":
        (profile / "ipython_kernel_config.py").write_text(
            "c.SparkSettings.app_name = 'set-in-a-config-file'\n"
            "c.SparkSettings.conf = {'spark.driver.extraJavaOptions': '-XX:+UseSerialGC'}\n"
        )
    else:
        arguments = ["--SparkSettings.app_name=set-on-the-command-line"]
    kernel = Kernel(env={"IPYTHONDIR": str(profile.parent), **QUIET_UI}, extra_arguments=arguments)
    try:
        count_one(kernel)
        name = kernel.value("spark.sparkContext.appName")
        early = kernel.value("__import__('pyspark_kernel').current().session.launched_early")
        assert (name, early) == (
            ("set-in-a-config-file", False)
            if where == "config file"
            else ("set-on-the-command-line", True)
        )
        deadline = time.monotonic() + 10  # an early JVM that was not right is gone
        while len(java_descendants(kernel.kernel_pid())) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert java_descendants(kernel.kernel_pid()) == [kernel.jvm_pid()]
        collectors = kernel.value(
            "[b.getName() for b in spark._jvm.java.lang.management.ManagementFactory"
            ".getGarbageCollectorMXBeans()]"
        )
        serial, parallel = {"Copy", "MarkSweepCompact"}, {"PS Scavenge", "PS MarkSweep"}
        assert set(collectors) == (serial if where == "config file" else parallel)
    finally:
        kernel.shutdown()


@pytest.mark.timeout(900)
def test_two_kernels_starting_at_once_with_no_archive_leave_one_valid_archive(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("PYSPARK_KERNEL_DATA", str(tmp_path / "data"))
    env = {
        "PYSPARK_KERNEL_CACHE": str(tmp_path),
        "PYSPARK_KERNEL_CLASS_ARCHIVE": "auto",
        "PYSPARK_KERNEL_ARCHIVE_NICE": "0",  # as fast as it can on a busy test machine
        "PYSPARK_KERNEL_DATA": str(tmp_path / "data"),
        **QUIET_UI,
    }
    notebooks = tmp_path / "notebooks"  # the build starts there: it leaves nothing in it
    notebooks.mkdir()
    kernels = [Kernel(env=env, cwd=str(notebooks)), Kernel(env=env, cwd=str(notebooks))]
    try:
        for k in kernels:
            count_one(k)
        asked = kernels_key()  # no unsigned jar copies yet when the kernels started
        started = [status(k)["builds_started"] for k in kernels]
        assert [asked.digest] in started, started
        # the build makes the copies first and builds the archive of the class path with
        # them: the one the kernels' next JVMs use
        deadline = time.monotonic() + 800
        while True:
            key = classdata.archive_key(classdata.with_unsigned_jars(SparkSettings().spark_conf()))
            if classdata.problem(key) is None and not classdata.building(key):
                break
            assert time.monotonic() < deadline, (tmp_path / "classdata" / "build.log").read_text()
            time.sleep(1)
        assert key.digest != asked.digest  # Spark's signed Janino jars have their copies
        folder = tmp_path / "classdata"
        archives = sorted(p.name for p in folder.glob("*.jsa"))
        assert archives == sorted([key.files.archive.name, key.files.launcher.name])
        assert not list(folder.glob("*.tmp"))
        log = (folder / "build.log").read_text()
        assert log.count("class-data archive built") == 1, log[-2000:]
        assert list(notebooks.iterdir()) == []  # no spark-warehouse/ from the build's catalog
        for k in kernels:
            restart = k.run("%spark restart")
            assert restart.status == "ok" and not restart.stream("stderr")
            count_one(k)
            archive = status(k)["archive"]
            assert archive["key"] == key.digest and archive["mapped"] is True
            janino = k.value(
                "spark._jvm.org.codehaus.janino.SimpleCompiler().getClass()"
                ".getProtectionDomain().getCodeSource().getLocation().getPath()"
            )
            assert janino.startswith(str(folder / "unsigned")), janino
    finally:
        for k in kernels:
            k.shutdown()
