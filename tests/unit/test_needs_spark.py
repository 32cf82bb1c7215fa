"""Whether a cell waits for the Spark session, decided from its parsed names
(`binding.needs_spark`): reading ``spark``/``sc``/``sqlContext``, anything of PySpark
(imported by the cell or already in the namespace) or running a Spark magic does;
assigning such a name, comments, strings and code that does not parse do not."""

import pyspark.sql.functions
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from pyspark_kernel.binding import needs_spark

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark

# IPython's own input transformation (what ``shell.transform_cell`` runs on a cell first)
SHELL = TransformerManager()


@pytest.mark.parametrize(
    "code",
    [
        "spark.range(1)",
        "sc.parallelize([1]).count()",
        "sqlContext.tables()",
        "x = [spark]",
        "print(f'{spark.version}')",
        "def later():\n    return spark.range(1)",
        "from pyspark.sql import functions as F\nF.col('x')",
        "import pyspark.sql.functions as F\nF.lit(1)",
        "import pyspark\npyspark.__version__",
        "from pyspark.ml.feature import StandardScaler\nsc = StandardScaler()",
        "%%sql\nselect 1",
        "%sql select 1",
        "%spark",
        "%%transform\nselect 1",
        "%streams",
        "x = 1\n%sql select 1",
    ],
)
def test_cells_that_read_spark_need_it(code):
    assert needs_spark(code, {}, SHELL) is True


@pytest.mark.parametrize(
    "code",
    [
        "sc = StandardScaler()",  # assigning the name is not a use
        "spark, sc = make_pair()",
        "for sc in range(3):\n    pass",
        "# spark.range(1) is what we will run later",
        "print('spark.range(1)')",
        '"""sc and spark, described"""',
        "import pyspark",  # importing is not reading it
        "sql = 'select 1'\nstreams = []\nSparkSession = None",
        "%time x = 1",
        "%%bash\necho spark",
        "spark.range(",  # a syntax error: Python reports it, nothing waits
        "",
    ],
)
def test_cells_that_do_not_read_spark_do_not_wait(code):
    assert needs_spark(code, {}, SHELL) is False


def test_names_bound_to_pyspark_objects_in_the_namespace(spark):
    namespace = {
        "df": spark.range(3),
        "col": pyspark.sql.functions.col("id"),
        "F": pyspark.sql.functions,
        "rows": [1, 2, 3],
    }
    assert needs_spark("df.count()", namespace) is True
    assert needs_spark("df2 = df.filter('id > 1')", namespace) is True
    assert needs_spark("col.alias('x')", namespace) is True
    assert needs_spark("F.lit(1)", namespace) is True
    assert needs_spark("len(rows)", namespace) is False
    assert needs_spark("df = 1", namespace) is False  # rebinding it reads nothing of Spark
    assert needs_spark("df.count()", {"df": [1]}) is False  # a df that is not a DataFrame


def test_an_object_whose_attributes_fail_does_not_count():
    class Broken:
        def __getattribute__(self, name):
            raise RuntimeError(name)

    assert needs_spark("thing.run()", {"thing": Broken()}) is False


def test_without_a_shell_magics_do_not_parse():
    assert needs_spark("%%sql\nselect 1", {}) is False
    assert needs_spark("spark.range(1)", {}) is True
