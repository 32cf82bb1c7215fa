"""``pyspark-kernel demo`` and ``pytest --nbval notebooks/``: the bundled notebooks, run for real.

The nbval run is the one place where every bundled notebook executes (several minutes
each on 2 cores); the demo itself runs the quickstart only, plus a failing notebook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pyspark_kernel.demo import QUIET, environment, services

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".ci" / "artifacts" / "demo"
CHROMIUM = os.environ.get("PYSPARK_KERNEL_TEST_CHROMIUM", "/usr/bin/chromium")
DEMO = [sys.executable, "-m", "pyspark_kernel", "demo"]


def run(command: list[str], timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.opensearch
@pytest.mark.cluster
@pytest.mark.timeout(3600)
def test_nbval_passes_on_the_bundled_notebooks(monkeypatch, opensearch_node):
    # The services are started (and stopped) here, as the demo does, so that the
    # notebooks do not leave a broker or a server running. OpenSearch is the session's
    # node, named by its URL as a user would name a server of their own.
    monkeypatch.delenv("PIPELINE_OPENSEARCH", raising=False)  # the saved outputs have the sink
    monkeypatch.setenv("OPENSEARCH_URL", opensearch_node.url)
    # As the demo that saved them: tables that do not depend on the machine's load.
    with services({"kafka", "postgres", "opensearch"}) as env, environment(env | QUIET):
        done = run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--nbval",
                "notebooks/",
                "-p",
                "no:cacheprovider",
                "-q",
            ],
            timeout=3500,
        )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout) and " failed" not in done.stdout


@pytest.fixture(scope="module")
def quickstart(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo") / "report"
    return run([*DEMO, "--only", "01", "--out", str(out)], timeout=900), out


@pytest.mark.timeout(900)
def test_demo_runs_the_quickstart_and_writes_the_report(quickstart):
    done, out = quickstart
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[1/1] 01-quickstart.ipynb: ok" in done.stdout
    assert "cell 13/13" in done.stdout and "report:" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "01-quickstart.html", "01-quickstart.ipynb", "index.html", "logs",
    ]  # fmt: skip
    index = (out / "index.html").read_text()
    assert "href='01-quickstart.html'" in index and "<td>ok</td>" in index
    page = (out / "01-quickstart.html").read_text()
    captions = re.findall(r"<caption[^>]*>(.*?)</caption>", page)
    kinds = [c.split(" ")[0] for c in captions]
    assert kinds[:3] == ["DataFrame", "View", "Parquet"], captions
    assert "DataFrame sales: 3 rows" in captions[0]
    assert page.count("pyspark-kernel-table") >= 4
    nb = nbformat.read(out / "01-quickstart.ipynb", as_version=4)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


@pytest.mark.timeout(300)
def test_a_page_of_the_report_renders_in_chromium(quickstart):
    _done, out = quickstart
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "report.png"
    png.unlink(missing_ok=True)
    shot = run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--hide-scrollbars", f"--screenshot={png}", "--window-size=1280,1600",
         (out / "01-quickstart.html").as_uri()],
        timeout=240,
    )  # fmt: skip
    assert png.is_file(), shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


@pytest.mark.timeout(600)
def test_a_failing_cell_makes_the_demo_exit_nonzero_and_names_it(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A notebook that fails"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("spark.sql('SELECT * FROM missing_table')"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    nb.metadata["kernelspec"] = {"name": "pyspark", "display_name": "PySpark", "language": "python"}
    nbformat.write(nb, folder / "bad.ipynb")
    out = tmp_path / "report"
    done = run([*DEMO, "--notebooks", str(folder), "--out", str(out)], timeout=540)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: bad.ipynb cell 2 (spark.sql('SELECT * FROM missing_table'))" in done.stderr
    assert "AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]" in done.stderr
    assert "kafka" not in done.stdout and "postgres" not in done.stdout  # none needed
    executed = nbformat.read(out / "bad.ipynb", as_version=4)
    assert executed.cells[3].outputs == []
    assert "failed at cell 2" in (out / "index.html").read_text()


@pytest.mark.kafka
def test_a_service_that_fails_to_start_stops_those_started_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyspark_kernel.services.kafka import ENV_BOOTSTRAP, KafkaBroker
    from pyspark_kernel.services.postgres import ENV_URL

    cache = tmp_path / "cache"
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(cache))
    monkeypatch.delenv(ENV_BOOTSTRAP, raising=False)
    monkeypatch.delenv(ENV_URL, raising=False)
    cache.mkdir()
    (cache / "postgres").write_text("not a folder")  # PostgreSQL cannot start; Kafka can

    with pytest.raises(FileExistsError), services({"kafka", "postgres"}):
        pass
    printed = capsys.readouterr().out
    assert "kafka: started" in printed and "kafka: stopped" in printed
    assert KafkaBroker().status() is None
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _mentions(p, cache)]


def _mentions(cmdline: Path, folder: Path) -> bool:
    try:
        return str(folder).encode() in cmdline.read_bytes()
    except OSError:
        return False


def test_the_pipeline_notebook_needs_opensearch_and_the_demo_stops_only_what_it_started(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], opensearch_node
) -> None:
    from pyspark_kernel.demo import needed_services

    assert needed_services([ROOT / "notebooks" / "03-streaming-pipeline.ipynb"]) == {
        "kafka", "postgres", "opensearch",
    }  # fmt: skip
    assert "opensearch" not in needed_services([ROOT / "notebooks" / "01-quickstart.ipynb"])

    monkeypatch.delenv("OPENSEARCH_URL", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.setenv("PIPELINE_OPENSEARCH", "off")  # as Binder's start sets it
    with services({"opensearch"}) as env:
        assert env == {}
    assert capsys.readouterr().out == "opensearch: off (PIPELINE_OPENSEARCH=off)\n"

    monkeypatch.delenv("PIPELINE_OPENSEARCH")
    monkeypatch.setenv("ELASTICSEARCH_URL", opensearch_node.url)  # a server of the user's
    with services({"opensearch"}) as env:
        assert env == {}
    assert capsys.readouterr().out == f"opensearch: using ELASTICSEARCH_URL={opensearch_node.url}\n"
    assert opensearch_node.status() is not None  # not the demo's to stop


@pytest.mark.opensearch
@pytest.mark.timeout(300)
def test_the_demo_starts_a_local_opensearch_node_and_stops_only_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyspark_kernel.paths import cache_root
    from pyspark_kernel.services.opensearch import OpenSearchNode, get_json

    cache = tmp_path / "cache"  # no node runs from it; the jars already resolved are used
    cache.mkdir()
    (cache / "jars").symlink_to(cache_root() / "jars", target_is_directory=True)
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(cache))
    for name in ("OPENSEARCH_URL", "ELASTICSEARCH_URL", "PIPELINE_OPENSEARCH"):
        monkeypatch.delenv(name, raising=False)

    with services({"opensearch"}) as env:
        state = OpenSearchNode().status()
        assert state is not None and env == {"OPENSEARCH_URL": state.address}
        assert get_json(f"{state.address}/_cluster/health")["status"] == "green"
        with services({"opensearch"}) as again:  # running already: used, not stopped
            assert again == env
        assert OpenSearchNode().status() == state
    assert OpenSearchNode().status() is None
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _mentions(p, cache)]
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "opensearch: starting..."
    assert re.fullmatch(r"opensearch: started in \d+ s", printed[1]), printed
    assert printed[2:] == ["opensearch: using the running server...", "opensearch: stopped"]
