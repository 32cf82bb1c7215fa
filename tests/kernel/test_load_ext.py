"""The same features in a plain IPython kernel, loaded with ``%load_ext pyspark_kernel``."""

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
        err = k.run("spark.sql('select * from nope')").error
        assert err["ename"] == "AnalysisException" and err["evalue"].startswith("[TABLE_OR_VIEW")
        assert k.run("%unload_ext pyspark_kernel").status == "ok"
    finally:
        k.shutdown()
