"""Notebooks written the way the Spark documentation's own are, run unchanged through the
``pyspark`` kernel and a plain ``python3`` ipykernel with PySpark, cell by cell:

- stdout and the names of errors are identical;
- the ``pyspark`` kernel's stderr has no line the plain kernel's lacks: a Spark log line
  only where the plain kernel logged the same message in the same cell, and the kernel's
  documented lines;
- every output of the plain kernel is there too, but where the kernel shows a table for
  a frame's repr (a DataFrame or a pandas-on-Spark one as a cell's value); only the
  kernel's documented outputs are extra.

One kernel of each kind runs the first four notebooks in turn (they share it as a user's
kernel would); the Spark Connect one gets a fresh pair and a Connect server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).with_name("notebooks")
TABLE = "application/vnd.pyspark-kernel.table.v1+json"
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
STREAM = "application/vnd.pyspark-kernel.stream.v1+json"
KERNEL_MIMES = {TABLE, PROGRESS, STREAM}

# A line of Spark's log, and the lines that continue one (a stack trace, its causes).
SPARK_LOG = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (?P<message>.*)$")
CONTINUATION = re.compile(r"^(\s|Caused by|\w+(\.\w+)+(Exception|Error)\b)")
# What the kernel itself documents (folded task failures, notes).
KERNEL_LINE = re.compile(r"^(Spark: \d+ task failures?: |pyspark-kernel: )")
# What differs between two runs of the same Spark work: ids, ports, stage and task numbers.
IDS = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|\d+")
# Numbers that measure time ("Ran 2 tests in 0.412s").
TIMING = re.compile(r"\d+\.\d+s\b")


class Run:
    """One notebook executed on one kernel: per cell, its outputs by kind."""

    def __init__(self, nb: nbformat.NotebookNode) -> None:
        self.cells = [c for c in nb.cells if c.cell_type == "code"]

    def stdout(self, i: int) -> str:
        return "".join(o.text for o in self._streams(i, "stdout"))

    def stderr_lines(self, i: int) -> list[str]:
        text = "".join(o.text for o in self._streams(i, "stderr"))
        return [TIMING.sub("N.Ns", line) for line in text.splitlines() if line.strip()]

    def error(self, i: int) -> str | None:
        errors = [o.ename for o in self.cells[i].outputs if o.output_type == "error"]
        return errors[0] if errors else None

    def displays(self, i: int) -> list[dict[str, Any]]:
        return [
            dict(o.get("data", {}))
            for o in self.cells[i].outputs
            if o.output_type in {"display_data", "execute_result"}
        ]

    def _streams(self, i: int, name: str) -> list[Any]:
        return [o for o in self.cells[i].outputs if o.output_type == "stream" and o.name == name]


def run_on(km: Any, path: Path, env_note: str = "") -> Run:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=km, timeout=600, allow_errors=True)
    client.execute()
    return Run(nb)


def compare(path: Path, kernel: Run, plain: Run) -> list[str]:
    """What the ``pyspark`` kernel does differently from the plain one, cell by cell."""
    problems = []
    for i, cell in enumerate(plain.cells):
        where = f"{path.name} cell {i}: {cell.source.splitlines()[0][:60]!r}"
        if kernel.error(i) != plain.error(i):
            problems.append(f"{where}: error {kernel.error(i)} vs plain {plain.error(i)}")
        if kernel.stdout(i) != plain.stdout(i):
            problems.append(f"{where}: stdout {kernel.stdout(i)!r} vs plain {plain.stdout(i)!r}")
        problems += [
            f"{where}: stderr line only here: {line!r}"
            for line in stderr_only_here(kernel.stderr_lines(i), plain.stderr_lines(i))
        ]
        problems += compare_displays(where, kernel.displays(i), plain.displays(i))
    return problems


def stderr_only_here(kernel: list[str], plain: list[str]) -> list[str]:
    """The kernel's stderr lines the plain kernel's lacks. A Spark log line passes when the
    plain kernel logged the same message in the same cell (ids and numbers aside), with
    the lines that continue it; the kernel's own documented lines pass."""
    logged = {_spark_message(line) for line in plain} - {None}
    extra, accepted = [], False
    for line in kernel:
        message = _spark_message(line)
        if message is not None:
            accepted = message in logged
        elif not (accepted and CONTINUATION.match(line)):
            accepted = False
            if line in plain or KERNEL_LINE.match(line):
                continue
        if not accepted:
            extra.append(line)
    return extra


def _spark_message(line: str) -> str | None:
    """A Spark log line's message with its ids and numbers masked; None for other lines."""
    match = SPARK_LOG.match(line)
    return IDS.sub("N", match["message"]) if match else None


def compare_displays(
    where: str, kernel: list[dict[str, Any]], plain: list[dict[str, Any]]
) -> list[str]:
    """Every plain output is there too (a table may stand for a DataFrame's repr: a
    classic or Connect DataFrame's, a pandas or pandas-on-Spark frame's or Series'); the
    kernel adds only its own mime types and one-line notes."""
    problems = []
    ours = [d for d in kernel if not KERNEL_MIMES & set(d) and d and not _note(d)]
    tables = [d for d in kernel if TABLE in d]
    for data in plain:
        if any(_same(data, d) for d in ours):
            continue
        if tables and _frame_repr(data):  # the kernel showed the frame as a table
            tables.pop(0)
            continue
        problems.append(
            f"{where}: plain output missing: {sorted(data)} {str(data.get('text/plain'))[:80]!r}"
        )
    for data in ours:
        if not any(_same(d, data) for d in plain):
            problems.append(f"{where}: output only here: {str(data.get('text/plain'))[:80]!r}")
    return problems


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same output: same mime types, same text (images compared by kind only)."""
    return set(a) == set(b) and a.get("text/plain") == b.get("text/plain")


def _frame_repr(data: dict[str, Any]) -> bool:
    """A DataFrame's repr (``DataFrame[a: int]``), a pandas(-on-Spark) frame's (an HTML
    table of class "dataframe") or a Series' (ending in its dtype)."""
    text, html = str(data.get("text/plain", "")), str(data.get("text/html", ""))
    return (
        text.startswith("DataFrame[")
        or 'class="dataframe"' in html
        or re.search(r"dtype: \w+$", text.rstrip()) is not None
    )


def _note(data: dict[str, Any]) -> bool:
    return set(data) == {"text/plain"} and str(data["text/plain"]).startswith("pyspark-kernel: ")


def as_a_user_runs_it(**extra: str) -> dict[str, str]:
    """This process's environment without pytest's marker, with `extra`: with the marker,
    ipykernel leaves what the process writes to its file descriptors (a plain kernel's
    JVM log lines) out of the cells, which a user's kernel shows."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
        **extra,
    }


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """A ``pyspark`` kernel and a plain ``python3`` kernel, shared by the notebooks, each in
    a folder of its own (as a notebook's folder: a plain session puts its warehouse there)."""
    started = [
        start_new_kernel(
            kernel_name=name,
            startup_timeout=120,
            cwd=str(tmp_path_factory.mktemp(name)),
            env=as_a_user_runs_it(),
        )
        for name in ("pyspark", "python3")
    ]
    yield started[0][0], started[1][0]
    for km, kc in started:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("name", "tables"),
    [
        ("01-dataframe-quickstart", True),
        ("02-pandas-on-spark", True),
        ("04-udf-errors", False),
        ("03-testing-pyspark", True),  # last: it stops the session it shares
    ],
)
def test_notebook_runs_the_same_on_both_kernels(
    kernels: tuple[Any, Any], name: str, tables: bool
) -> None:
    path = NOTEBOOKS / f"{name}.ipynb"
    kernel, plain = (run_on(km, path) for km in kernels)
    assert compare(path, kernel, plain) == []
    shown = any(TABLE in d for i in range(len(kernel.cells)) for d in kernel.displays(i))
    assert shown is tables


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1 (one driver thread: small data)."""
    from pyspark_kernel.services.cluster import ConnectServer

    server = ConnectServer(tmp_path_factory.mktemp("connect"), master="local[1]")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_spark_connect_notebook_runs_the_same_on_both_kernels(
    connect_url: str, tmp_path: Path
) -> None:
    # Fresh kernels: a plain kernel that already has a local session cannot build a Connect
    # one (SESSION_ALREADY_EXIST); the pyspark kernel moves its idle local session there.
    env = as_a_user_runs_it(SPARK_CONNECT_URL=connect_url)
    started = []
    for name in ("pyspark", "python3"):
        (tmp_path / name).mkdir()
        started.append(
            start_new_kernel(
                kernel_name=name, startup_timeout=120, env=env, cwd=str(tmp_path / name)
            )
        )
    try:
        path = NOTEBOOKS / "05-spark-connect.ipynb"
        kernel, plain = (run_on(km, path) for km, _ in started)
    finally:
        for km, kc in started:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
    assert compare(path, kernel, plain) == []
    assert kernel.stdout(0) == "pyspark.sql.connect.session\n"
    table = next(d[TABLE] for d in kernel.displays(2) if TABLE in d)
    assert [c["name"] for c in table["columns"]] == ["day", "kind", "n"]
    assert len(table["rows"]) == 3
