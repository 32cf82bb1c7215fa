"""Jupyter protocol conformance of the installed ``pyspark`` kernel (jupyter_kernel_test)."""

import jupyter_kernel_test
import pytest
from kernel_client import KERNEL_NAME

pytestmark = pytest.mark.core  # also run on the oldest and newest supported pyspark


class PySparkKernelConformance(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    code_generate_error = "raise ValueError('boom')"
    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n * n for n in range(1, 4)]", "result": "[1, 4, 9]"},
        {"code": "spark.range(7).count()", "result": "7"},
    ]
    code_display_data = [
        {
            "code": "from IPython.display import HTML, display; display(HTML('<b>x</b>'))",
            "mime": "text/html",
        },
    ]
    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "spark.ran", "matches": {"range"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]
    code_page_something = "zip?"
    code_inspect_sample = "zip"
    code_history_pattern = "1?2*"
    # IPython answers a "range" query on the current session with session number 0 (its
    # shorthand for "this session"), while "tail" gives the absolute number, so
    # jupyter_kernel_test's range check fails for plain ipykernel too: not declared.
    supported_history_operations = ("tail", "search")
    code_clear_output = "from IPython.display import clear_output; clear_output()"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The session starts in the background: wait for it once, so that the samples'
        # 15 s reply timeout measures the cells, not a JVM starting on a busy machine.
        reply = cls.kc.execute_interactive(
            "spark.range(1).count()", timeout=300, output_hook=lambda msg: None
        )
        assert reply["content"]["status"] == "ok", reply["content"]
