"""Typed settings of the kernel: defaults, kernelspec arguments, environment, ``%spark config``.

Precedence, lowest to highest: the defaults below, the kernelspec (``--SparkSettings.x=...``
on the kernel's command line or a Jupyter config file), environment variables, and values
set with ``%spark config`` (applied at the next ``%spark restart``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, Unicode, validate
from traitlets.config import Configurable

import pyspark_kernel.spark_internals as internals

from .java_options import JAVA_OPTION_VARIABLES, names_a_collector
from .paths import data_root

# Safe local defaults: nothing listens beyond loopback, the UI cannot kill jobs,
# Arrow is on, and Spark's console progress bars (carriage-return noise) are off.
SAFE_DEFAULTS: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.killEnabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.structuredLogging.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.driver.maxResultSize": "1g",
}

ARCHIVE_MODES = ("auto", "use", "off")

LOG_LEVELS = ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF", "TRACE")

_ENV_FIELDS: dict[str, str] = {
    "PYSPARK_KERNEL_MASTER": "master",
    "PYSPARK_KERNEL_REMOTE": "remote",
    "SPARK_REMOTE": "remote",
    "PYSPARK_KERNEL_APP_NAME": "app_name",
    "PYSPARK_KERNEL_OUTPUT_DIR": "output_dir",
    "PYSPARK_KERNEL_MAX_ROWS": "max_rows",
    "PYSPARK_KERNEL_MAX_CHARS": "max_chars",
    "PYSPARK_KERNEL_MAX_BYTES": "max_bytes",
    "PYSPARK_KERNEL_LOG_LEVEL": "log_level",
    "PYSPARK_KERNEL_DETECT": "detect",
    "PYSPARK_KERNEL_EXACT_COUNT": "exact_count",
    "PYSPARK_KERNEL_TIMEOUT": "timeout",
    "PYSPARK_KERNEL_PROGRESS_AFTER": "progress_after",
    "PYSPARK_KERNEL_PREVIEW_BUDGET": "preview_budget",
    "PYSPARK_KERNEL_PROGRESS_KEEP_AFTER": "progress_keep_after",
    "PYSPARK_KERNEL_PACKAGES": "packages",
    "PYSPARK_KERNEL_EXPORT_LIMIT": "export_limit",
    "PYSPARK_KERNEL_CLASS_ARCHIVE": "class_archive",
    "PYSPARK_KERNEL_ARCHIVE_NICE": "archive_build_nice",
    "PYSPARK_KERNEL_WARM_UP": "warm_up",
}

_SIZE = re.compile(r"^\d+[kmgtp]?b?$", re.IGNORECASE)
_MASTER = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://.+|yarn|k8s://.+|mesos://.+)$"
)
# Settings Spark reads as sizes or counts; checked before the JVM starts, so a typo gets
# an error naming the setting instead of "Java gateway process exited".
_SIZE_KEYS = (
    "spark.driver.memory",
    "spark.executor.memory",
    "spark.driver.maxResultSize",
    "spark.driver.memoryOverhead",
    "spark.executor.memoryOverhead",
)
_INT_KEYS = ("spark.executor.cores", "spark.driver.cores", "spark.sql.shuffle.partitions")


WAREHOUSE = "spark.sql.warehouse.dir"
_DRIVER_JAVA = "spark.driver.extraJavaOptions"
_DERBY_HOME = "-Dderby.system.home="
# Log4j 2 registers an MBean per logger at start, which starts the JVM's platform MBean
# server: about 0.4 s of CPU in the driver's first seconds, for nothing Spark uses.
_LOG4J_NO_JMX = "-Dlog4j2.disable.jmx=true"
# The parallel collector for a driver whose heap is at most `_PARALLEL_GC_HEAP` (Spark's
# default is 1 GB), unless something of the user's names a collector: against G1 (the
# JVM's choice) it brought the first Spark result about 5 % sooner with less JVM CPU, kept
# heavier jobs as fast and the driver's memory 200-350 MB smaller (README, Cold start).
# Two collectors named at once stop the JVM from starting.
_PARALLEL_GC = "-XX:+UseParallelGC"
_PARALLEL_GC_HEAP = 4 * 2**30
_PROPERTY = re.compile(r"^\s*([^=:\s]+)\s*[=:\s]\s*(.*)$")
# Where else a driver's JVM options or heap size can come from.
_JAVA_ENVIRONMENT = (*JAVA_OPTION_VARIABLES, "SPARK_SUBMIT_OPTS", "PYSPARK_SUBMIT_ARGS")


def data_folders() -> dict[str, str]:
    """Where managed tables (``saveAsTable``) and, with Hive support, Derby's metastore
    and ``derby.log`` go by default: the per-user data folder (``paths.data_root()``),
    never the notebook's folder. Kept across kernels."""
    root = data_root()
    (root / "derby").mkdir(parents=True, exist_ok=True)  # Derby writes derby.log there
    return {
        WAREHOUSE: str(root / "spark-warehouse"),
        _DRIVER_JAVA: f"{_DERBY_HOME}{root / 'derby'}",
    }


def jvm_bytes(text: str) -> int:
    """Bytes of a JVM size as Spark reads it (``512m``, ``2g``; a bare number is MiB),
    0 when it is not one."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)b?\s*", text.lower())
    if not match:
        return 0
    number, unit = int(match.group(1)), match.group(2) or "m"
    return number * 1024 ** "bkmgtp".index(unit)


def spark_defaults(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The settings of the ``spark-defaults.conf`` the driver will read ({} if none)."""
    folder = environ.get("SPARK_CONF_DIR")
    if not folder:
        folder = os.path.join(internals.spark_home(), "conf")
    try:
        with open(os.path.join(folder, "spark-defaults.conf"), encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    found = {}
    for line in lines:  # key, then "=", ":" or white space, then the value (Java properties)
        match = _PROPERTY.match(line)
        if match and not match.group(1).startswith(("#", "!")):
            found[match.group(1)] = match.group(2).strip()
    return found


def _parallel_gc_fits(user: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """Whether the driver may get the parallel collector: no collector named in the
    user's settings, ``spark-defaults.conf`` or the JVM's environment, and a heap of at
    most `_PARALLEL_GC_HEAP`."""
    defaults = spark_defaults(environ)
    named = [*user.values(), *defaults.values(), *(environ.get(k, "") for k in _JAVA_ENVIRONMENT)]
    if names_a_collector(named):
        return False
    submit = environ.get("PYSPARK_SUBMIT_ARGS", "")
    if "driver-memory" in submit or "spark.driver.memory" in submit:  # a heap we do not read
        return False
    memory = (
        user.get("spark.driver.memory")
        or environ.get("SPARK_DRIVER_MEMORY")
        or defaults.get("spark.driver.memory")
        or "1g"
    )
    return 0 < jvm_bytes(memory) <= _PARALLEL_GC_HEAP


class SettingsError(ValueError):
    """A setting has a value Spark cannot use."""


class SparkSettings(Configurable):
    """What the kernel's SparkSession is built from, and how results are shown."""

    master = Unicode(
        "local[*]", help="Spark master URL (local[*], spark://H:P, yarn, k8s://...)."
    ).tag(config=True)
    remote = Unicode(
        "", help="Spark Connect URL (sc://HOST:PORT). When set, `master` is not used."
    ).tag(config=True)
    app_name = Unicode("pyspark-kernel", help="Spark application name.").tag(config=True)
    conf = Dict(
        default_value={}, help="Extra Spark settings, key -> value (e.g. spark.driver.memory=2g)."
    ).tag(config=True)
    packages = List(
        Unicode(), default_value=[], help="Bundled jar sets to add to the session (e.g. kafka)."
    ).tag(config=True)
    output_dir = Unicode(
        "", help="The kernel's own output folder (emptied before each cell). Default: private temp."
    ).tag(config=True)
    max_rows = Int(100, help="Rows shown in a result preview.").tag(config=True)
    max_chars = Int(500, help="Characters of a string value shown in a preview.").tag(config=True)
    max_bytes = Int(
        2_000_000, help="Bytes of JSON rows in one preview; later rows are left out."
    ).tag(config=True)
    export_limit = Int(
        200_000_000, help="Bytes a result exported to the browser (CSV or Parquet) may have."
    ).tag(config=True)
    log_level = Unicode("WARN", help="Lowest JVM driver log level shown in cells.").tag(config=True)
    detect = Bool(True, help="Detect and show each cell's result.").tag(config=True)
    exact_count = Bool(False, help="Add an exact row count to previews (runs count()).").tag(
        config=True
    )
    timeout = Float(0.0, help="Per-cell time limit in seconds (0: none).").tag(config=True)
    progress_after = Float(
        1.0, help="Seconds a cell's Spark jobs run before their progress is shown (0: always)."
    ).tag(config=True)
    progress_keep_after = Float(
        2.0,
        help="Seconds of Spark work a cell needs for its progress summary to stay (and be "
        "saved in the notebook); shorter work has its live display cleared at the end.",
    ).tag(config=True)
    preview_budget = Float(
        1.0,
        help="Seconds a result preview the kernel makes on its own may take before it is "
        "cancelled and the schema shown instead (0: no limit).",
    ).tag(config=True)
    start_timeout = Float(180.0, help="Seconds to wait for the session to start.").tag(config=True)
    class_archive = Unicode(
        "auto",
        help="The driver JVM's class-data sharing archive: auto (use it, and build it in the "
        "background when missing), use (use it; build it only with `pyspark-kernel warm`), off.",
    ).tag(config=True)
    archive_build_nice = Int(
        19,
        help="Niceness (0-19) of the background process that builds the class-data archive "
        "(19: also Linux's idle CPU and I/O classes).",
    ).tag(config=True)
    warm_up = Bool(
        True,
        help="Until the first Spark cell, warm a new session up in the background (catalog, "
        "one tiny query), and start a new session at once after the driver JVM died.",
    ).tag(config=True)

    @validate("max_rows", "max_chars", "max_bytes", "export_limit")
    def _positive(self, proposal: Any) -> int:
        if proposal.value < 1:
            raise SettingsError(f"{proposal.trait.name} must be at least 1, got {proposal.value}")
        return int(proposal.value)

    @validate("timeout", "preview_budget", "progress_keep_after")
    def _non_negative(self, proposal: Any) -> float:
        if proposal.value < 0:
            name = proposal.trait.name
            raise SettingsError(f"{name} must be 0 (off) or positive, got {proposal.value}")
        return float(proposal.value)

    @validate("class_archive")
    def _archive_mode(self, proposal: Any) -> str:
        text = str(proposal.value).strip().lower()
        mode = {"on": "auto", "true": "auto", "1": "auto", "false": "off", "0": "off"}.get(
            text, text
        )
        if mode not in ARCHIVE_MODES:
            raise SettingsError(
                f"class_archive must be one of {', '.join(ARCHIVE_MODES)}, got {proposal.value!r}"
            )
        return mode

    @validate("archive_build_nice")
    def _nice(self, proposal: Any) -> int:
        if not 0 <= proposal.value <= 19:
            raise SettingsError(f"archive_build_nice must be 0-19, got {proposal.value}")
        return int(proposal.value)

    @validate("log_level")
    def _level(self, proposal: Any) -> str:
        level = str(proposal.value).upper()
        if level not in LOG_LEVELS:
            raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        return level

    def apply_env(self, environ: Mapping[str, str] = os.environ) -> None:
        """Override settings from ``PYSPARK_KERNEL_*`` / ``SPARK_REMOTE`` variables."""
        for var, field in _ENV_FIELDS.items():
            if var in environ and environ[var] != "":
                self.set(field, environ[var])
        extra = environ.get("PYSPARK_KERNEL_CONF", "")
        for item in filter(None, (part.strip() for part in extra.split(";"))):
            key, value = parse_assignment(item)
            self.conf = {**self.conf, key: value}

    def set(self, field: str, raw: str) -> None:
        """Set one field from its text form (as typed in an env var or a magic)."""
        if field not in _field_names():
            raise SettingsError(f"unknown setting {field!r}")
        trait = self.traits()[field]
        value: Any
        if isinstance(trait, Bool):
            value = _parse_bool(field, raw)
        elif isinstance(trait, Int):
            value = _parse_number(field, raw, int)
        elif isinstance(trait, Float):
            value = _parse_number(field, raw, float)
        elif isinstance(trait, List):
            value = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            value = raw.strip()
        setattr(self, field, value)

    def spark_conf(self) -> dict[str, str]:
        """The Spark settings to build the session with: safe defaults, then user ones."""
        merged = {**SAFE_DEFAULTS, "spark.app.name": self.app_name}
        if not self.remote:
            merged["spark.master"] = self.master
            merged.update(data_folders())
        user = {str(k): str(v) for k, v in self.conf.items()}
        if not self.remote:  # our driver options first, those the user did not set
            theirs = user.get(_DRIVER_JAVA, "")
            options = [merged.pop(_DRIVER_JAVA), _LOG4J_NO_JMX]
            ours = [o for o in options if o.split("=", 1)[0] + "=" not in theirs]
            if _parallel_gc_fits(user, os.environ):
                ours.append(_PARALLEL_GC)
            user[_DRIVER_JAVA] = " ".join([*ours, theirs]).strip()
        merged.update(user)
        return merged

    def launch_key(self) -> tuple[Any, ...]:
        """What the driver JVM is launched from: two settings with the same key can share
        a JVM launched for either."""
        conf = tuple(sorted(self.spark_conf().items()))
        return (conf, tuple(self.packages), self.class_archive, self.remote)

    def check(self) -> None:
        """Raise `SettingsError` naming the first setting Spark could not use."""
        conf = self.spark_conf()
        if self.remote:
            if not self.remote.startswith("sc://"):
                raise SettingsError(f"remote must look like sc://HOST:PORT, got {self.remote!r}")
            return
        master = conf.get("spark.master", "")
        if not _MASTER.match(master):
            raise SettingsError(
                f"spark.master={master!r} is not a Spark master URL "
                "(expected local[*], local[N], spark://HOST:PORT, yarn or k8s://...)"
            )
        for key in _SIZE_KEYS:
            if key in conf and not _SIZE.match(conf[key].strip()):
                raise SettingsError(f"{key}={conf[key]!r} is not a size (e.g. 512m, 2g)")
        for key in _INT_KEYS:
            if key in conf and not conf[key].strip().isdigit():
                raise SettingsError(f"{key}={conf[key]!r} is not a whole number")


class PendingSettings:
    """Changes asked for with ``%spark config`` and ``%spark packages``, applied together by
    ``%spark restart``: kernel fields by name, anything else as a Spark setting."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def apply(self, settings: SparkSettings) -> None:
        """Apply every pending change to `settings` (all or none); raise `SettingsError`."""
        trial = SparkSettings(parent=settings.parent)
        for name in _field_names():
            setattr(trial, name, getattr(settings, name))
        for target in (trial, settings):
            for key, value in self.values.items():
                if key in _field_names() - {"conf"}:
                    target.set(key, value)
                else:
                    target.conf = {**target.conf, key: value}
            target.check()
        self.values.clear()

    def __bool__(self) -> bool:
        return bool(self.values)


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``key=value`` (spaces around ``=`` allowed)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SettingsError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip()


def _field_names() -> set[str]:
    return set(SparkSettings.class_trait_names(config=True))


def _parse_bool(field: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{field} must be on or off, got {raw!r}")


def _parse_number(field: str, raw: str, kind: type) -> Any:
    try:
        return kind(raw.strip())
    except ValueError:
        raise SettingsError(f"{field} must be a number, got {raw!r}") from None
