"""Batch runs: nbconvert/nbclient on the pyspark kernel stop on errors and keep the tables.

The bundled notebooks themselves run once, under nbval (``tests/demo/test_demo.py``).
"""

import base64
import re
import struct
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from kernel_client import KERNEL_NAME
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

TABLE = "application/vnd.pyspark-kernel.table.v1+json"


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "PySpark",
        "language": "python",
    }
    return nb


def nbconvert(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--execute", *args, str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


FAILING = notebook(
    "x = 1",
    "df = spark.range(3)",
    "spark.sql('SELECT * FROM missing_table')",
    "print('never reached')",
)


def test_nbconvert_stops_at_a_spark_error_with_a_nonzero_exit(tmp_path):
    path = tmp_path / "failing.ipynb"
    nbformat.write(FAILING, path)
    done = nbconvert(path, "--to", "notebook", "--output", "out.ipynb")
    assert done.returncode != 0
    assert "AnalysisException" in done.stderr and "TABLE_OR_VIEW_NOT_FOUND" in done.stderr
    assert "never reached" not in done.stderr.split("Traceback")[0]


def test_the_error_output_is_in_the_notebook_and_later_cells_did_not_run():
    nb = nbformat.from_dict(FAILING)
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=300).execute()
    errors = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "AnalysisException"
    assert errors[0].evalue.startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    assert nb.cells[3].outputs == [] and nb.cells[3].execution_count is None
    (table,) = [o for o in nb.cells[1].outputs if TABLE in o.get("data", {})]
    record = table.metadata["pyspark_kernel"]
    assert record["result_source"] == "direct_dataframe" and record["status"] == "success"
    assert record["detected_variable_name"] == "df"


@pytest.fixture(scope="module")
def html_export(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One notebook run and exported to HTML by ``jupyter nbconvert --execute``: the
    three detected results, then a ``%%sql --chart``."""
    nb = notebook(
        "a = spark.createDataFrame([(1, '<b>x</b>')], 'n int, s string')",
        "a.createOrReplaceTempView('a_view')",
        "spark.range(2).write.parquet(f'{OUTPUT_DIR}/result.parquet')",
        "%%sql --chart bar -x k -y n\nSELECT id % 3 AS k, count(*) AS n FROM range(30) GROUP BY k",
    )
    folder = tmp_path_factory.mktemp("html")
    path = folder / "rules.ipynb"
    nbformat.write(nb, path)
    done = nbconvert(path, "--to", "html", "--output", "rules.html")
    assert done.returncode == 0, done.stderr
    return (folder / "rules.html").read_text()


def test_html_export_holds_the_three_detected_tables(html_export):
    html = html_export
    captions = re.findall(r"<caption[^>]*>(.*?)</caption>", html)
    assert [c.split(":")[0].split(" ")[0] for c in captions] == ["DataFrame", "View", "Parquet"]
    assert "DataFrame a: 1 row" in captions[0] and "View a_view: 1 row" in captions[1]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_html_export_shows_a_sql_chart_as_an_image(html_export):
    """The chart's static PNG (vl-convert) is what nbconvert's HTML shows of it."""
    cells = html_export.split('class="jp-Cell ')[1:]
    assert len(cells) == 4
    images = [
        re.findall(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', c) for c in cells
    ]
    assert [len(i) for i in images] == [0, 0, 0, 1], cells[-1][-2000:]
    png = base64.b64decode(images[-1][0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 300 and height >= 200, (width, height)
