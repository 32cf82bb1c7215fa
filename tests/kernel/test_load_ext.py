"""The same features in a plain IPython kernel, loaded with ``%load_ext pyspark_kernel``."""

import ast

from kernel_client import Kernel

TABLE = "application/vnd.pyspark-kernel.table.v1+json"


def test_load_ext_in_a_plain_ipython_kernel():
    k = Kernel(kernel_name="python3")
    try:
        assert k.run("%load_ext pyspark_kernel").status == "ok"
        run = k.run("df = spark.range(3)")
        assert run.status == "ok", run.error
        (table,) = run.data(TABLE)
        assert table["source"] == "direct_dataframe" and len(table["rows"]) == 3
        assert "state:      ready" in k.run("%spark").stream("stdout")
        status = k.open_comm("pyspark-kernel.v1").request({"op": "status", "id": "s1"})
        assert status["ok"] is True and status["op"] == "status"
        assert status["status"]["state"] == "ready" and status["status"]["remote"] is False
        err = k.run("spark.sql('select * from nope')").error
        assert err["ename"] == "AnalysisException" and err["evalue"].startswith("[TABLE_OR_VIEW")
        assert k.run("%unload_ext pyspark_kernel").status == "ok"
    finally:
        k.shutdown()


SNAPSHOT = """
import importlib as _il, logging as _l, os as _os, comm as _c
from pyspark import SparkContext as _SC
from pyspark.sql import SparkSession as _SS
from pyspark.sql.streaming.readwriter import DataStreamWriter as _W
from pyspark_kernel.spark_internals import show_classes as _shows
try:
    from pyspark.logger import PySparkLogger as _P
    _levels = [_P.getLogger(n).level for n in ('SQLQueryContextLogger', 'DataFrameQueryContextLogger')]
except ImportError:  # before 4.0
    _levels = []
_ip = get_ipython()
_f = _ip.display_formatter.mimebundle_formatter
print(repr({
    'events': {e: len(_ip.events.callbacks[e]) for e in ('pre_run_cell', 'post_run_cell')},
    'deferred': sorted(map(str, _f.deferred_printers)),
    'types': sorted(c.__module__ + '.' + c.__name__ for c in _f.type_printers),
    'custom_exc': repr(_ip.custom_exceptions),
    'custom_tb': repr(_ip.CustomTB),
    'line_magics': sorted(_ip.magics_manager.magics['line']),
    'cell_magics': sorted(_ip.magics_manager.magics['cell']),
    'targets': sorted(_c.get_comm_manager().targets),
    'filters': [len(_l.getLogger(n).filters) for n in ('', 'py4j.java_gateway', 'py4j.clientserver')],
    'writer': [id(_W.__dict__[n]) for n in ('start', 'toTable', 'foreachBatch')],
    'show': [id(getattr(_il.import_module(m), n).__dict__['show']) for m, n in _shows()],
    'getOrCreate': [id(_SS.Builder.__dict__['getOrCreate']), id(_SC.__dict__['getOrCreate'])],
    'logger_levels': _levels,
    'names': sorted(n for n in ('spark', 'sc', 'OUTPUT_DIR') if n in globals()),
    'env': 'PYSPARK_KERNEL_OUTPUT_DIR' in _os.environ,
}))
"""


def java_children(pid):
    import psutil

    return [p for p in psutil.Process(pid).children(recursive=True) if "java" in p.name()]


def test_unload_ext_leaves_ipython_as_it_found_it():
    k = Kernel(kernel_name="python3")
    try:
        before = k.run(SNAPSHOT).stream("stdout")
        assert k.run("%load_ext pyspark_kernel").status == "ok"
        used = k.run("df = spark.range(3)\ndf.count()\n%spark")
        assert used.status == "ok", used.error
        loaded, found = ast.literal_eval(k.run(SNAPSHOT).stream("stdout")), ast.literal_eval(before)
        for key in ("show", "getOrCreate", "logger_levels", "writer", "filters", "events"):
            assert loaded[key] != found[key] or not found[key], key  # the snapshot sees it
        assert k.run("%unload_ext pyspark_kernel").status == "ok"
        assert k.run(SNAPSHOT).stream("stdout") == before
        pid = k.kernel_pid()
        assert java_children(pid) == []
        later = k.run("print('spark is mentioned here')\nspark")
        assert later.error["ename"] == "NameError"
        assert java_children(pid) == []
    finally:
        k.shutdown()
