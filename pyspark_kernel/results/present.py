"""Presenting a cell's result: the snapshot before the cell, the detection after it (the
three rules of `detect`), the bounded preview and the published table with its record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import pyspark_kernel.errors as errors
import pyspark_kernel.results.detect as detect

from ..cellstate import CellState
from ..config import SparkSettings
from ..iopub import Publisher
from ..mimetypes import RECORD_METADATA_KEY
from ..session import SessionManager
from .budget import OverBudget, budget, preview_cost
from .catalog import ViewWatcher
from .chart import chart_bundle, vega_lite
from .explore import chart_data
from .namespace import NamespaceWatch
from .output_dir import OutputDir
from .preview import frame_summary, has_columns, is_dataframe, preview, schema_only
from .render import table_bundle, table_payload
from .store import ResultStore

log = logging.getLogger(__name__)

# What a preview may cost, by how the result was found (see `budget`): what the user asked
# to see (a cell's value, a query, a transform, a preview) is shown in full; a view or
# Parquet file the cell made gets the time budget; a DataFrame variable, which the cell may
# only have defined, is not run at all when its plan needs all its input.
LIMITS = {"view": "time", "parquet": "time", "direct_dataframe": "plan"}


class ResultPresenter:
    """Finds what a cell produced and shows it as a table."""

    def __init__(
        self,
        shell: Any,
        settings: SparkSettings,
        session: SessionManager,
        publisher: Publisher,
        output_dir: OutputDir,
        bind: Callable[[bool], Any],
        current: Callable[[], CellState | None],
    ) -> None:
        self.shell = shell
        self.settings = settings
        self.session = session
        self.publisher = publisher
        self.output_dir = output_dir
        self.views = ViewWatcher(session)
        self.names = NamespaceWatch(lambda: self.shell.user_ns)
        self.store = ResultStore()
        self._bind = bind
        self._current = current

    # -- before and after a cell -------------------------------------------------------------
    def before(self, cell: CellState, spark_ready: bool) -> None:
        """Note the namespace (and the temporary views, when Spark is ready)."""
        if not self.settings.detect:
            return
        ns = self.shell.user_ns
        cell.names = self.names.snapshot()
        cell.frames = {k: i for k, i in cell.names.items() if is_dataframe(ns[k])}
        if spark_ready:
            try:
                cell.views = self.views.temp_views(cell.code)
            except Exception as exc:  # the JVM may have died just now: no view rule then
                log.debug("views not listed before the cell: %s", exc)
                return
            cell.views_noted = True

    def after(self, cell: CellState) -> None:
        """Detect the cell's result and show it, with the cell's record in its metadata."""
        ns = self.shell.user_ns
        record = cell.record
        after = self.names.snapshot()
        record.created_variables = detect.short_reprs(
            ns, detect.changed_names(cell.names, after), frame_summary
        )
        if cell.shown is not None:
            return
        try:
            parquet = self.output_dir.find_parquet()
        except Exception as exc:
            record.result_source, record.result_error = "read_error", errors.headline(exc)
            return
        # Views and DataFrames need a session that was ready during the cell; a Parquet
        # file (written by any library) only needs one to be read back.
        spark = self._bind(True) if parquet else self.session.spark
        if spark is None or not self.session.ready:
            return
        frames = {k: i for k, i in after.items() if is_dataframe(ns[k])}
        views: list[str] = []
        try:
            if cell.views_noted:  # views were listed before the cell ran
                after_views = self.views.temp_views(cell.code)
                views = detect.changed_views(cell.views, after_views, cell.code)
                if views:  # a streaming query's memory sink is its own view, not a result
                    views = [v for v in views if v not in _query_names(spark)]
        except Exception as exc:
            record.result_source, record.result_error = "read_error", errors.headline(exc)
            return
        found = detect.choose(
            str(parquet) if parquet else None,
            views,
            detect.pick_variable(cell.code, cell.frames, frames),
        )
        record.result_source = found.source
        record.detected_parquet_path = found.parquet_path
        record.detected_view_name = found.view_name
        record.detected_variable_name = found.variable_name
        if found.source == "none":
            return
        try:
            if found.source == "parquet":
                df = spark.read.parquet(found.parquet_path)
            elif found.source == "view":
                df = spark.table(found.view_name)
            else:
                df = ns[found.variable_name]
            self.show_frame(
                df,
                found.source,
                cell=cell,
                view_name=found.view_name,
                parquet_path=found.parquet_path,
                variable_name=found.variable_name,
            )
        except Exception as exc:
            record.result_source = "read_error"
            record.result_error = errors.headline(exc)
            print(
                f"pyspark-kernel: could not show the {found.source} result: {record.result_error}",
                file=sys.stderr,
            )

    def last_frame(self, cell: CellState) -> Any:
        """The DataFrame variable the cell bound last (None if none): `after` describes it
        first, for the record's ``created_variables`` and as the variable rule's result."""
        ns = self.shell.user_ns
        frames = {k: i for k, i in self.names.snapshot().items() if is_dataframe(ns[k])}
        name = detect.pick_variable(cell.code, cell.frames, frames)
        return ns[name] if name is not None else None

    # -- showing -----------------------------------------------------------------------------
    def table_for(
        self,
        df: Any,
        source: str,
        max_rows: int | None = None,
        limit: str | None = None,
        **names: Any,
    ) -> dict[str, Any]:
        """The table payload of `df`, previewed within the settings' bounds; `df` is kept
        in the result store so the frontend can ask for more of it.

        With `limit` ``"plan"`` no rows are fetched when the plan needs a pass over all its
        input; with ``"plan"`` or ``"time"`` a preview whose plan does not stream is
        cancelled after ``preview_budget``. The table then has the schema and says how to
        ask for the rows."""
        rows = max_rows or self.settings.max_rows
        s = self.settings
        cost = preview_cost(df) if limit is not None else "streaming"
        if cost == "full" and limit == "plan":
            shown = schema_only(df, "plan")
        else:
            seconds = s.preview_budget if cost != "streaming" else 0.0
            with self.session.own_work("pyspark-kernel: result preview") as tag:
                try:
                    with budget(self.session.spark, tag, seconds) as fired:
                        shown = preview(
                            df, rows, s.max_chars, s.exact_count, s.max_bytes, fired.is_set
                        )
                except OverBudget:
                    shown = schema_only(df, "budget")
        name = names.get("variable_name") or names.get("view_name") or names.get("parquet_path")
        kept = self.store.add(df, source, name)
        return table_payload(shown, rows, source, result_id=kept.result_id, **names)

    def show_frame(
        self,
        df: Any,
        source: str,
        *,
        cell: CellState | None = None,
        max_rows: int | None = None,
        **names: Any,
    ) -> dict[str, Any]:
        """Preview `df` and display it as a table; with `cell`, as that cell's result (its
        record, duration so far included, goes in the output's metadata)."""
        payload = self.table_for(df, source, max_rows, LIMITS.get(source), **names)
        metadata: dict[str, Any] = {}
        if cell is not None:
            record = cell.record
            record.result_data = _as_dicts(payload)
            record.duration_ms = cell.elapsed_ms()
            metadata[RECORD_METADATA_KEY] = record.summary()
        data, metadata = table_bundle(payload, metadata)
        self.publisher.display(data, metadata)
        return payload

    def show_chart(
        self,
        df: Any,
        kind: str,
        x: str,
        y: str | None,
        agg: str = "sum",
        color: str | None = None,
        max_groups: int = 50,
    ) -> dict[str, Any]:
        """Aggregate `df` over the whole result (the kernel's own Spark work) and display
        the chart; return its Vega-Lite spec."""
        with self.session.own_work("pyspark-kernel: chart of a result"):
            data = chart_data(df, kind, x, y, agg, color, max_groups)
        spec = vega_lite(data)
        self.publisher.display(chart_bundle(spec))
        return spec

    def preview_named(self, name: str, cell: CellState | None = None) -> dict[str, Any]:
        """Show the rows of `name` on request, with no budget: a DataFrame variable, a
        result shown before under that name (a view, a Parquet path) or a table."""
        ns = self.shell.user_ns
        df = ns.get(name)
        if not is_dataframe(df):
            kept = self.store.find(name)
            df = kept.df if kept is not None else None
        if df is None:
            spark = self._bind(True)
            if spark is None:
                raise LookupError(f"no DataFrame or table named {name!r}")
            df = spark.table(name)  # an unknown name raises Spark's own error
        if cell is not None:
            cell.mark_shown("preview")
        return self.show_frame(df, "preview", cell=cell, variable_name=name)

    def preview_result(self, result_id: str, max_rows: int | None = None) -> dict[str, Any]:
        """The full preview (no budget) of a result shown before, by its ``result_id``."""
        kept = self.store.get(result_id)
        names = {
            "view": "view_name",
            "parquet": "parquet_path",
        }.get(kept.source, "variable_name")
        return self.table_for(kept.df, kept.source, max_rows, **{names: kept.name})

    def format_frame(self, df: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """IPython mime-bundle formatter for DataFrames (``execute_result`` and ``display``).

        A frame with no columns (the result of DDL such as ``CREATE VIEW``) is left to
        IPython's plain repr, so the detection rules still show what the command made."""
        if not is_dataframe(df) or not has_columns(df):
            return None
        cell = self._current()
        if cell is not None:
            cell.mark_shown("expression")
        payload = self.table_for(df, "expression")  # the user asked to see it
        if cell is not None:
            cell.record.result_data = _as_dicts(payload)
        return table_bundle(payload)


def _query_names(spark: Any) -> set[str]:
    return {q.name for q in spark.streams.active if q.name}


def _as_dicts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c["name"] for c in payload["columns"]]
    return [dict(zip(names, row, strict=True)) for row in payload["rows"]]
