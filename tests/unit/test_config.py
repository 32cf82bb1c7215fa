import pytest

from pyspark_kernel.config import SAFE_DEFAULTS, SettingsError, SparkSettings, parse_assignment
from pyspark_kernel.java_options import collector_options


def test_safe_defaults_bind_loopback_and_disable_ui_kill():
    conf = SparkSettings().spark_conf()
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.killEnabled"] == "false"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.ui.showConsoleProgress"] == "false"


def test_user_conf_overrides_defaults():
    s = SparkSettings()
    s.conf = {"spark.driver.host": "10.1.2.3"}
    assert s.spark_conf()["spark.driver.host"] == "10.1.2.3"
    assert SAFE_DEFAULTS["spark.driver.host"] == "127.0.0.1"


def test_the_kernels_driver_options_come_first_unless_the_user_set_them(no_spark_defaults):
    java = "spark.driver.extraJavaOptions"
    ours = SparkSettings().spark_conf()[java].split()
    assert ours[0].startswith("-Dderby.system.home=")
    assert ours[1:] == ["-Dlog4j2.disable.jmx=true", "-XX:+UseParallelGC"]
    mine = SparkSettings(conf={java: "-Dlog4j2.disable.jmx=false -Xss4m"}).spark_conf()[java]
    assert mine.split()[1:] == ["-XX:+UseParallelGC", "-Dlog4j2.disable.jmx=false", "-Xss4m"]
    assert SparkSettings(conf={java: "-Dderby.system.home=/d"}).spark_conf()[java] == (
        "-Dlog4j2.disable.jmx=true -XX:+UseParallelGC -Dderby.system.home=/d"
    )
    assert java not in SparkSettings(remote="sc://localhost:15002").spark_conf()


@pytest.fixture
def no_spark_defaults(monkeypatch, tmp_path):
    """An empty Spark configuration folder and no JVM options in the environment."""
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path))
    for name in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "SPARK_SUBMIT_OPTS",
                 "PYSPARK_SUBMIT_ARGS", "SPARK_DRIVER_MEMORY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_parallel_collector_only_where_nothing_of_the_users_names_one(
    no_spark_defaults, monkeypatch
):
    """Two collectors named at once stop the JVM: a collector the user names anywhere the
    driver reads options from, or a large heap, leaves the JVM's own choice."""
    java, gc = "spark.driver.extraJavaOptions", "-XX:+UseParallelGC"

    def options(**conf: str) -> str:
        return SparkSettings(conf=conf).spark_conf()[java]

    assert gc in options() and gc in options(**{"spark.driver.memory": "4g"})
    assert gc not in options(**{java: "-XX:+UseG1GC"})
    assert gc not in options(**{"spark.driver.defaultJavaOptions": "-XX:+UseZGC -Xss4m"})
    assert gc not in options(**{"spark.driver.memory": "16g"})
    (no_spark_defaults / "spark-defaults.conf").write_text(
        "# comment -XX:+UseSerialGC\nspark.driver.memory 2g\n"
    )
    assert gc in options()
    (no_spark_defaults / "spark-defaults.conf").write_text("spark.driver.memory=8g\n")
    assert gc not in options()
    (no_spark_defaults / "spark-defaults.conf").write_text(
        "spark.driver.defaultJavaOptions  -XX:+UseShenandoahGC\n"
    )
    assert gc not in options()
    (no_spark_defaults / "spark-defaults.conf").unlink()
    for name, value in (
        ("JAVA_TOOL_OPTIONS", "-XX:+UseSerialGC"),
        ("SPARK_SUBMIT_OPTS", "-Xss4m -XX:-UseParallelGC"),
        ("PYSPARK_SUBMIT_ARGS", "--driver-memory 2g pyspark-shell"),
        ("PYSPARK_SUBMIT_ARGS", "--conf spark.driver.memory=8g pyspark-shell"),
        ("SPARK_DRIVER_MEMORY", "32g"),
    ):
        monkeypatch.setenv(name, value)
        assert gc not in options(), name
        monkeypatch.delenv(name)
    assert gc in options()


def test_a_service_jvm_keeps_its_collector_only_where_the_environment_names_none():
    """Kafka's and OpenSearch's JVMs name G1 unless a JVM option variable names a collector."""
    own = ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
    assert collector_options(own, {}) == own
    assert (
        collector_options(own, {"JAVA_TOOL_OPTIONS": "-Xss4m", "SPARK_SUBMIT_OPTS": "-XX:+UseZGC"})
        == own
    )
    for name in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
        assert collector_options(own, {name: "-Xss4m -XX:+UseSerialGC"}) == [], name
        assert collector_options(own, {name: "-XX:-UseG1GC"}) == [], name


def test_launch_key_follows_what_the_driver_jvm_is_launched_with():
    key = SparkSettings().launch_key()
    assert SparkSettings(max_rows=7, log_level="INFO").launch_key() == key  # not the JVM's
    for other in ({"master": "local[2]"}, {"conf": {"spark.x": "1"}}, {"packages": ["kafka"]}):
        assert SparkSettings(**other).launch_key() != key, other


def test_the_launchers_early_settings_read_the_command_line_as_the_kernel_does():
    from pyspark_kernel.early_start import _command_line

    argv = ["-f", "/tmp/kernel-1.json", "--SparkSettings.conf", "spark.a=1", "--debug"]
    argv += ["--SparkSettings.master=local[2]", "--IPKernelApp.trust_xheaders=True"]
    settings = SparkSettings(config=_command_line(argv))
    assert (settings.master, settings.conf) == ("local[2]", {"spark.a": "1"})
    assert SparkSettings(config=_command_line(["-f", "/tmp/k.json"])).launch_key() == (
        SparkSettings().launch_key()
    )


def test_env_overrides_kernelspec_values():
    s = SparkSettings()
    s.master = "local[1]"  # as if given by the kernelspec
    s.apply_env(
        {
            "PYSPARK_KERNEL_MASTER": "local[3]",
            "PYSPARK_KERNEL_MAX_ROWS": "7",
            "PYSPARK_KERNEL_CONF": "spark.a=1; spark.b = two",
            "PYSPARK_KERNEL_DETECT": "off",
        }
    )
    assert s.master == "local[3]"
    assert s.max_rows == 7
    assert s.conf == {"spark.a": "1", "spark.b": "two"}
    assert s.detect is False


def test_spark_remote_env_selects_spark_connect():
    s = SparkSettings()
    s.apply_env({"SPARK_REMOTE": "sc://127.0.0.1:15002"})
    assert s.remote == "sc://127.0.0.1:15002"
    assert "spark.master" not in s.spark_conf()
    s.check()


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("spark.driver.memory", "banana", "spark.driver.memory"),
        ("spark.executor.memory", "1 gig", "spark.executor.memory"),
        ("spark.sql.shuffle.partitions", "many", "spark.sql.shuffle.partitions"),
        ("spark.master", "nonsense://x", "spark.master"),
    ],
)
def test_check_names_the_bad_setting(key, value, named):
    s = SparkSettings()
    s.conf = {key: value}
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        s.check()


@pytest.mark.parametrize(
    "master",
    [
        "local",
        "local[*]",
        "local[4]",
        "local[2,3]",
        "spark://h:7077",
        "yarn",
        "k8s://https://h:443",
    ],
)
def test_check_accepts_real_master_urls(master):
    s = SparkSettings()
    s.master = master
    s.check()


def test_bad_values_get_short_errors():
    s = SparkSettings()
    with pytest.raises(SettingsError, match="max_rows must be a number"):
        s.set("max_rows", "lots")
    with pytest.raises(SettingsError, match="at least 1"):
        s.set("max_rows", "0")
    with pytest.raises(SettingsError, match="on or off"):
        s.set("detect", "maybe")
    with pytest.raises(SettingsError, match="unknown setting"):
        s.set("colour", "blue")
    with pytest.raises(SettingsError, match="log level"):
        s.set("log_level", "LOUD")


def test_parse_assignment():
    assert parse_assignment(" spark.x = 1=2 ") == ("spark.x", "1=2")
    with pytest.raises(SettingsError):
        parse_assignment("novalue")
