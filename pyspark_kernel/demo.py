"""``pyspark-kernel demo``: run every bundled notebook headless and write an HTML report.

The demo installs the ``pyspark`` kernelspec if it is missing, starts the local Kafka
broker, PostgreSQL server and OpenSearch node the notebooks need (unless
``KAFKA_BOOTSTRAP_SERVERS`` / ``POSTGRES_URL`` / ``OPENSEARCH_URL`` name existing ones, or
they already run; ``PIPELINE_OPENSEARCH=off`` leaves OpenSearch out), executes the
notebooks with nbclient, writes the executed notebooks and one HTML page each plus
``index.html``, and stops what it started. ``--lab`` opens JupyterLab on the notebooks
instead.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import html
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kernelspec import KERNEL_NAME
from .prerequisites import missing_java

DEFAULT_OUT = "demo-output"
CELL_TIMEOUT = 1800
# What a notebook must mention (in any cell, case-insensitive) to need a service.
NEEDS = {"kafka": ("kafka",), "postgres": ("postgres",), "opensearch": ("opensearch",)}
# Spark warns in the first cell when the host name resolves to a loopback address. The
# notebooks' saved tables must not depend on how busy the machine is: no preview budget.
QUIET = {
    "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
    "PYSPARK_KERNEL_PREVIEW_BUDGET": os.environ.get("PYSPARK_KERNEL_PREVIEW_BUDGET", "0"),
}


@dataclass
class Failure:
    """The first failed cell of a notebook."""

    cell: int  # 1-based number among the notebook's code cells
    source: str
    error: str


@dataclass
class Outcome:
    """What running one notebook gave."""

    name: str
    seconds: float
    failure: Failure | None = None
    html_name: str = ""
    cells: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def installed_notebooks() -> Path:
    """Where the wheel puts the bundled notebooks (``share/pyspark-kernel/notebooks``)."""
    return Path(sys.prefix) / "share" / "pyspark-kernel" / "notebooks"


def bundled_notebooks() -> Path | None:
    """``./notebooks``, else the repository's next to this package (editable install), else
    the installed copy."""
    for folder in (
        Path.cwd() / "notebooks",
        Path(__file__).resolve().parents[1] / "notebooks",
        installed_notebooks(),
    ):
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            return folder
    return None


def working_copy(folder: Path, out: Path) -> Path:
    """The installed notebooks are not run in place (the kernels' working folder would be
    inside the Python environment): they are copied into ``out/notebooks`` first. A copy
    already there is kept, with any changes made to it."""
    if folder.resolve() != installed_notebooks().resolve():
        return folder
    work = out / "notebooks"
    work.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(folder.glob("*.ipynb")):
        if not (work / notebook.name).exists():
            shutil.copyfile(notebook, work / notebook.name)
    print(f"notebooks: working copy in {work}")
    return work


def select(folder: Path, only: str | None) -> list[Path]:
    """The notebooks of ``folder`` sorted by name, those matching ``only`` if given."""
    paths = sorted(folder.glob("*.ipynb"))
    if only:
        pattern = only if any(c in only for c in "*?[") else f"*{only}*"
        paths = [p for p in paths if fnmatch.fnmatch(p.name, pattern)]
    return paths


def needed_services(paths: list[Path]) -> set[str]:
    """Services the notebooks mention: ``kafka``, ``postgres``, ``opensearch``."""
    text = "\n".join(p.read_text(encoding="utf-8").lower() for p in paths)
    return {name for name, words in NEEDS.items() if any(w in text for w in words)}


def ensure_kernelspec() -> None:
    """Install the ``pyspark`` kernelspec into ``sys.prefix`` if Jupyter does not find one."""
    from .kernelspec import install, is_installed

    if not is_installed(KERNEL_NAME):
        path = install(prefix=sys.prefix)
        print(f"installed kernelspec {KERNEL_NAME} in {path}")


@contextlib.contextmanager
def services(names: set[str]) -> Iterator[dict[str, str]]:
    """Make the services available; yield the environment naming them.

    A service named by its environment variable, or already running, is used as is;
    one started here is stopped on exit (also on error or Ctrl-C).
    """
    from .pipeline import search
    from .services.postgres import mask_password

    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name in sorted(names):
            if name == "opensearch" and not search.enabled():
                print(f"{name}: off ({search.ENV_SWITCH}=off)")
                continue
            variables, server = _service(name)
            var = next((v for v in variables if os.environ.get(v, "").strip()), None)
            if var is not None:
                print(f"{name}: using {var}={mask_password(os.environ[var].strip())}")
                continue
            running = server.status() is not None
            print(f"{name}: {'using the running server' if running else 'starting'}...")
            started = time.monotonic()
            address = server.start()
            if not running:
                stack.callback(_stop, name, server)
                print(f"{name}: started in {time.monotonic() - started:.0f} s")
            env[variables[0]] = address
        yield env


def _service(name: str) -> tuple[tuple[str, ...], Any]:
    """The variables naming an existing ``name`` service, and the local one."""
    if name == "kafka":
        from .services.kafka import ENV_BOOTSTRAP, KafkaBroker

        return (ENV_BOOTSTRAP,), KafkaBroker()
    if name == "postgres":
        from .services.postgres import ENV_URL, LocalPostgres

        return (ENV_URL,), LocalPostgres()
    from .services.opensearch import ENV_URLS, OpenSearchNode

    return ENV_URLS, OpenSearchNode()


def _stop(name: str, server: Any) -> None:
    server.stop()
    print(f"{name}: stopped")


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (kernels inherit it), restored on exit."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _first_line(text: str, width: int = 70) -> str:
    line = next((s for s in text.strip().splitlines() if s.strip()), "")
    return line if len(line) <= width else line[: width - 3] + "..."


def _failure(nb: Any) -> Failure | None:
    """The first error output of a cell not tagged ``raises-exception``."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code, 1):
        if "raises-exception" in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                error = f"{out.ename}: {_first_line(out.evalue, 200)}"
                return Failure(number, _first_line(cell.source), error)
    return None


class _Progress:
    """Prints which cell runs: one updated line on a terminal, else one line per cell."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.number = 0
        self.tty = sys.stdout.isatty()

    def start(self, cell: Any, cell_index: int) -> None:
        if cell.cell_type != "code":
            return
        self.number += 1
        text = f"    cell {self.number}/{self.total}: {_first_line(cell.source, 60)}"
        if self.tty:
            print(f"\r\x1b[K{text}", end="", flush=True)
        else:
            print(text, flush=True)

    def done(self) -> None:
        if self.tty:
            print("\r\x1b[K", end="", flush=True)


def run_notebook(path: Path, out: Path, kernel: str, timeout: int) -> tuple[Outcome, Any]:
    """Execute ``path`` (working folder: its own), write ``out/<name>.ipynb``; never raises
    for a failed cell (the failure is in the outcome)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    nb = nbformat.read(path, as_version=4)
    total = sum(1 for c in nb.cells if c.cell_type == "code")
    progress = _Progress(total)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_start=progress.start,
    )
    started = time.monotonic()
    (out / "logs").mkdir(exist_ok=True)
    stopped = "the notebook stopped early"
    try:  # the kernel's own stderr (not the cells' output) goes to a log file
        with open(out / "logs" / f"{path.stem}.kernel.log", "w") as log:
            client.execute(stderr=log)
    except (CellExecutionError, CellTimeoutError):
        pass  # the error output is in the notebook
    except Exception as exc:
        # On SIGINT/SIGTERM nbclient shuts the kernel down itself, then fails here.
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt from None
        stopped = f"the kernel died ({type(exc).__name__}: {exc})"
    finally:
        progress.done()
    outcome = Outcome(path.stem, time.monotonic() - started, _failure(nb), cells=total)
    if outcome.failure is None and progress.number < total:
        outcome.failure = Failure(progress.number, "", stopped)
    nbformat.write(nb, out / path.name)
    return outcome, nb


def write_html(nb: Any, out: Path, outcome: Outcome) -> None:
    """One HTML page of the executed notebook (tables render from their text/html)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    outcome.html_name = f"{outcome.name}.html"
    (out / outcome.html_name).write_text(body, encoding="utf-8")


def write_index(out: Path, outcomes: list[Outcome], seconds: float) -> Path:
    """``index.html``: each notebook with its status, time and links."""
    rows = []
    for o in outcomes:
        status = "ok" if o.failure is None else f"failed at cell {o.failure.cell}"
        detail = "" if o.failure is None else html.escape(o.failure.error)
        rows.append(
            f"<tr><td><a href='{html.escape(o.html_name)}'>{html.escape(o.name)}</a></td>"
            f"<td>{status}</td><td>{o.seconds:.0f} s</td>"
            f"<td><a href='{html.escape(o.name)}.ipynb'>notebook</a></td><td>{detail}</td></tr>"
        )
    failed = sum(o.failure is not None for o in outcomes)
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>pyspark-kernel demo</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;"
        "text-align:left}</style></head><body><h1>pyspark-kernel demo</h1>"
        f"<p>{len(outcomes)} notebooks, {failed} failed, {seconds:.0f} s in all.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th></th><th></th></tr>"
        f"{''.join(rows)}</table></body></html>\n"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def run_all(paths: list[Path], out: Path, kernel: str, timeout: int, update: bool) -> list[Outcome]:
    """Run the notebooks in order, printing progress; write the report into ``out``."""
    import nbformat

    outcomes = []
    for i, path in enumerate(paths, 1):
        print(f"[{i}/{len(paths)}] {path.name}", flush=True)
        outcome, nb = run_notebook(path, out, kernel, timeout)
        write_html(nb, out, outcome)
        outcomes.append(outcome)
        if outcome.failure is None:
            print(f"[{i}/{len(paths)}] {path.name}: ok, {outcome.seconds:.0f} s", flush=True)
            if update:
                nbformat.write(nb, path)
        else:
            f = outcome.failure
            print(
                f"[{i}/{len(paths)}] {path.name}: FAILED at cell {f.cell} ({f.source}): {f.error}"
            )
    return outcomes


def open_lab(folder: Path) -> int:
    """JupyterLab on ``folder``, bound to 127.0.0.1, until it exits."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={folder}",
    ]
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.call(command)
    return 0


def demo(args: argparse.Namespace) -> int:
    """The ``demo`` command."""
    java = missing_java()
    if java is not None:
        raise RuntimeError(java)
    folder = Path(args.notebooks) if args.notebooks else bundled_notebooks()
    if folder is None or not folder.is_dir():
        raise ValueError("no notebooks folder found: give --notebooks")
    out = Path(args.out).resolve()
    folder = working_copy(folder, out)
    paths = select(folder.resolve(), args.only)
    if not paths:
        raise ValueError(f"no notebook in {folder} matches {args.only!r}")
    if args.kernel == KERNEL_NAME:
        ensure_kernelspec()
    started = time.monotonic()
    try:
        with services(needed_services(paths)) as env, environment(QUIET | env):
            if args.lab:
                return open_lab(folder)
            out.mkdir(parents=True, exist_ok=True)
            outcomes = run_all(paths, out, args.kernel, args.timeout, args.update_notebooks)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped", file=sys.stderr)
        return 130
    seconds = time.monotonic() - started
    index = write_index(out, outcomes, seconds)
    failed = [o for o in outcomes if o.failure is not None]
    print(f"{len(outcomes)} notebooks in {seconds:.0f} s; report: {index}")
    for o in failed:
        assert o.failure is not None
        print(
            f"FAILED: {o.name}.ipynb cell {o.failure.cell} ({o.failure.source}): {o.failure.error}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command to the ``pyspark-kernel`` sub-commands."""
    parser = commands.add_parser(
        "demo",
        help="run the bundled notebooks headless and write an HTML report",
        description=__doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else None,
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"report folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--only", metavar="PATTERN", help="run the notebooks whose name matches")
    parser.add_argument("--notebooks", metavar="DIR", help="notebooks folder (default: bundled)")
    parser.add_argument("--kernel", default=KERNEL_NAME, help="kernelspec to run them on")
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT, help="seconds a cell may run (default: 1800)"
    )
    parser.add_argument(
        "--update-notebooks",
        action="store_true",
        help="save each notebook that ran without failure back, with its outputs",
    )
    parser.add_argument("--lab", action="store_true", help="open JupyterLab on the notebooks")
    parser.set_defaults(func=demo)
