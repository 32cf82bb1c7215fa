"""``%spark`` (status, config, restart, log, trace, detect, count, timeout, packages),
``%%sql`` and ``%record``."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

import pyspark_kernel.spark_internals as spark_internals
import pyspark_kernel.transform as transform

from .config import LOG_LEVELS, SettingsError, parse_assignment
from .holdings import holdings
from .maven import JarResolutionError
from .results.explore import AGGREGATIONS, CHART_KINDS
from .session import package_jars

if TYPE_CHECKING:
    from .api import SparkHost

_SPARK_HELP = """%spark                      status: state, master, app id, Spark UI, version
%spark config key=value ... set Spark or kernel settings, applied by %spark restart
%spark restart              rebuild the session (Python variables are kept)
%spark log LEVEL            JVM log level shown in cells (WARN by default)
%spark trace                full trace (Python and JVM) of the last Spark error
%spark tasklog              the full executor log of the last cell's failed tasks
%spark detect on|off        result detection after each cell
%spark count on|off         exact row counts under previews (runs count())
%spark rows N               rows shown in previews
%spark timeout SECONDS      per-cell time limit, 0 for none
%spark packages kafka [--restart]
                            add Spark's Kafka connector (at the next restart, or now)
%spark preview NAME         the rows of a DataFrame, view or result shown as schema only
%spark metrics [--json]     cells run and failed, cell times, Spark jobs, rows previewed

%%sql [-o NAME] [-n ROWS]   run the cell as Spark SQL ({name} is filled from Python)
%%sql --chart bar -x COL -y COL [--agg sum] [--color COL]
                            the same, shown as a chart aggregated over the whole result
%%transform [--save-view NAME] [--save-parquet] [--save-csv] [--name VAR]
                            run the cell's def transform(<tables>) and show its result
%record [--json]            the previous cell's execution record
%streams [stop|progress NAME|ID|all]
                            list, stop and inspect streaming queries (%streams help)"""


@magics_class
class SparkMagics(Magics):
    """Magics that talk to the kernel's SparkSession."""

    def __init__(self, shell: Any, host: SparkHost) -> None:
        super().__init__(shell)
        self.host = host

    @line_magic
    def spark(self, line: str) -> Any:
        """Show or change the kernel's Spark session. ``%spark help`` lists the commands."""
        words = shlex.split(line)
        command, args = (words[0], words[1:]) if words else ("status", [])
        handler = getattr(self, f"_spark_{command}", None)
        if handler is None:
            raise UsageError(f"unknown %spark command {command!r}\n{_SPARK_HELP}")
        return handler(args)

    def _spark_help(self, args: list[str]) -> None:
        print(_SPARK_HELP)

    def _spark_status(self, args: list[str]) -> None:
        info = self.host.session.info()
        s = self.host.settings
        on = {True: "on", False: "off"}
        lines = [
            f"state:      {info.state}",
            f"master:     {info.master}",
            f"app id:     {info.app_id or '-'}",
            f"Spark UI:   {info.ui_url or '-'}",
            f"version:    {info.version or '-'}",
            f"progress:   {_progress_source(self.host.session.is_remote, s.progress_after)}",
            f"output dir: {self.host.output_dir.path}",
            f"preview:    {s.max_rows} rows, {s.max_chars} chars per value, "
            f"{s.max_bytes:,} bytes, "
            f"exact count {on[s.exact_count]}, detection {on[s.detect]}",
            f"limits:     timeout {f'{s.timeout:g} s' if s.timeout else 'off'}, "
            f"maxResultSize {s.spark_conf().get('spark.driver.maxResultSize')}",
        ]
        lines += [f"note:       {note}" for note in spark_internals.version_notes()]
        if info.error:
            lines.append(f"error:      {info.error}")
        if self.host.pending:
            lines.append(f"pending (apply with %spark restart): {self.host.pending.values}")
        print("\n".join(lines))

    def _spark_config(self, args: list[str]) -> None:
        if not args:
            conf = self.host.settings.spark_conf()
            print("\n".join(f"{k}={v}" for k, v in sorted(conf.items())))
            return
        for item in args:
            try:
                key, value = parse_assignment(item)
            except SettingsError as exc:
                raise UsageError(str(exc)) from None
            self.host.pending.set(key, value)
        print(f"will apply at %spark restart: {', '.join(sorted(self.host.pending.values))}")

    def _spark_restart(self, args: list[str]) -> None:
        print("restarting the Spark session...")
        try:
            spark = self.host.restart_session()
        except SettingsError as exc:
            raise UsageError(str(exc)) from None
        if spark is not None:
            self._spark_status([])

    def _spark_log(self, args: list[str]) -> None:
        if len(args) != 1 or args[0].upper() not in LOG_LEVELS:
            raise UsageError(f"usage: %spark log LEVEL ({', '.join(LOG_LEVELS)})")
        self.host.settings.log_level = args[0].upper()
        spark = self.host.bind(wait=True)
        if spark is not None and not self.host.session.is_remote:
            spark.sparkContext.setLogLevel(self.host.settings.log_level)
        elif self.host.session.is_remote:  # Spark Connect: no driver JVM in this kernel
            print("Spark Connect: the server's log is not shown in cells")
        print(f"JVM log level: {self.host.settings.log_level}")

    def _spark_trace(self, args: list[str]) -> None:
        print(self.host.last_trace or "no Spark error yet")

    def _spark_detect(self, args: list[str]) -> None:
        self._toggle("detect", args)

    def _spark_count(self, args: list[str]) -> None:
        self._toggle("exact_count", args)

    def _spark_rows(self, args: list[str]) -> None:
        self._set_one("max_rows", args)

    def _spark_timeout(self, args: list[str]) -> None:
        self._set_one("timeout", args)

    def _spark_packages(self, args: list[str]) -> None:
        restart = "--restart" in args
        names = [a for a in args if a != "--restart"]
        if not names:
            print(f"packages: {', '.join(self.host.settings.packages) or 'none'}")
            return
        try:  # resolve now (cached for the restart): a connector Maven lacks is said here
            package_jars(names)
        except (SettingsError, JarResolutionError) as exc:
            raise UsageError(f"%spark packages: {exc}") from None
        self.host.pending.set("packages", ",".join(names))
        spark = self.host.bind(wait=True) if not restart else None
        held = holdings(spark) if spark is not None else None
        if restart or held == []:
            why = "" if restart else " (the session held no views, cached data or queries)"
            print(f"adding {', '.join(names)}: restarting the Spark session{why}...")
            self._spark_restart([])
            return
        print(
            f"will add {', '.join(names)} at %spark restart (the session holds "
            f"{', '.join(held or ['state'])}); %spark packages {' '.join(names)} --restart "
            "adds it now"
        )

    def _spark_preview(self, args: list[str]) -> None:
        if len(args) != 1:
            raise UsageError("usage: %spark preview NAME (a DataFrame variable or a view)")
        self.host.preview(args[0])

    def _spark_tasklog(self, args: list[str]) -> None:
        print(self.host.router.task_failures.last or "no failed Spark task yet")

    def _spark_metrics(self, args: list[str]) -> None:
        data = self.host.metrics.summary()
        print(json.dumps(data, indent=2) if "--json" in args else _metrics_text(data))

    def _toggle(self, field: str, args: list[str]) -> None:
        if len(args) != 1:
            raise UsageError(f"usage: %spark {field} on|off")
        self._set_one(field, args)

    def _set_one(self, field: str, args: list[str]) -> None:
        if len(args) != 1:
            raise UsageError(f"usage: %spark {field} VALUE")
        try:
            self.host.settings.set(field, args[0])
        except SettingsError as exc:
            raise UsageError(str(exc)) from None
        print(f"{field}: {getattr(self.host.settings, field)}")

    @cell_magic
    def sql(self, line: str, cell: str) -> None:
        """Run Spark SQL. ``{name}`` is replaced from the namespace.

        ``-o NAME`` keeps the DataFrame as NAME, ``-n N`` sets the preview size.
        ``--chart KIND -x COL [-y COL] [--agg AGG] [--color COL] [--groups N]`` shows a
        chart (bar, line, area, scatter, pie) aggregated by Spark over the whole result.
        """
        parser = argparse.ArgumentParser(prog="%%sql", add_help=False, exit_on_error=False)
        parser.add_argument("-o", dest="output")
        parser.add_argument("-n", dest="rows", type=int)
        parser.add_argument("--chart", choices=CHART_KINDS)
        parser.add_argument("-x")
        parser.add_argument("-y")
        parser.add_argument("--agg", default=None, choices=AGGREGATIONS)
        parser.add_argument("--color")
        parser.add_argument("--groups", type=int, default=50)
        try:
            opts = parser.parse_args(shlex.split(line))
            if opts.chart and not opts.x:
                raise argparse.ArgumentError(None, "--chart needs -x COLUMN")
        except (argparse.ArgumentError, SystemExit) as exc:
            raise UsageError(
                "usage: %%sql [-o NAME] [-n ROWS] [--chart KIND -x COL [-y COL] [--agg AGG] "
                f"[--color COL] [--groups N]]: {exc}"
            ) from None
        namespace = self.host.shell.user_ns
        spark = self.host.bind(wait=True)
        if spark is None:
            spark = namespace["spark"]  # raises the reason the session is unavailable
        df = spark.sql(substitute(cell, namespace))
        if opts.output:
            namespace[opts.output] = df
        if self.host.cell is not None:
            self.host.cell.mark_shown("sql")
        if opts.chart:
            agg = opts.agg or ("sum" if opts.y else "count")
            self.host.show_chart(df, opts.chart, opts.x, opts.y, agg, opts.color, opts.groups)
            return
        self.host.show_frame(df, "sql", max_rows=opts.rows, variable_name=opts.output)

    @cell_magic
    def transform(self, line: str, cell: str) -> None:
        """Run ``def transform(<tables>)`` on Spark tables and show its DataFrame.

        ``--save-view NAME``, ``--save-parquet``, ``--save-csv`` (in ``OUTPUT_DIR``),
        ``--name VAR`` (default ``transform_result``) keeps the result.
        """
        parser = argparse.ArgumentParser(prog="%%transform", add_help=False, exit_on_error=False)
        parser.add_argument("--save-view", dest="view")
        parser.add_argument("--save-parquet", action="store_true")
        parser.add_argument("--save-csv", action="store_true")
        parser.add_argument("--name", default="transform_result")
        try:
            opts = parser.parse_args(shlex.split(line))
        except (argparse.ArgumentError, SystemExit) as exc:
            raise UsageError(
                f"usage: %%transform [--save-view NAME] [--save-parquet] [--save-csv] "
                f"[--name VAR]: {exc}"
            ) from None
        namespace = self.host.shell.user_ns
        spark = self.host.bind(wait=True)
        if spark is None:
            spark = namespace["spark"]  # raises the reason the session is unavailable
        namespace.pop("transform", None)
        filename = self.host.shell.compile.cache(cell)
        exec(compile(cell, filename, "exec"), namespace)
        func = transform.find_transform(namespace)
        df = transform.as_result(func(**transform.bind_arguments(func, spark, namespace)), spark)
        saved: list[object] = []
        out = self.host.output_dir.path
        if opts.save_parquet:
            saved.append(transform.save(df, out, "transform.parquet", "parquet"))
        if opts.save_csv:
            saved.append(transform.save(df, out, "transform.csv", "csv"))
        if opts.view:
            df.createOrReplaceTempView(opts.view)
            saved.append(f"view {opts.view}")
        namespace[opts.name] = df
        if self.host.cell is not None:
            self.host.cell.mark_shown("transform")
        self.host.show_frame(df, "transform", variable_name=opts.name)
        if saved:
            print("saved: " + ", ".join(str(s) for s in saved))

    @line_magic
    def record(self, line: str) -> Any:
        """Show the execution record of the previous cell (``%record --json`` for JSON)."""
        last = self.host.records.last()
        if last is None:
            print("no cell has run yet")
            return None
        data = last.as_dict()
        if "--json" in line:
            print(json.dumps(data, indent=2, default=str))
            return None
        for key, value in data.items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            print(f"{key}: {text[:300]}")
        return None


def substitute(text: str, namespace: dict[str, Any]) -> str:
    """Replace ``{name}`` with the value of `name` from the namespace; leave other braces."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(namespace[name]) if name in namespace else match.group(0)

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value, text)


def _progress_source(remote: bool, after: float) -> str:
    """What the cells' progress displays are made from (``%spark`` status)."""
    if remote:
        return (
            f"Spark Connect progress handler after {after:g} s "
            "(stages and tasks per operation; no job ids or Spark UI links)"
        )
    return f"Spark status tracker after {after:g} s (jobs, stages, tasks)"


def _metrics_text(data: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in data.items())
