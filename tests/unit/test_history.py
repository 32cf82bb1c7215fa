"""IPython's history of a cell's streams joined to one string per stream, on IPython's own
history objects; what is not a stream of that cell is left as it was."""

from types import SimpleNamespace

from IPython.core.history import HistoryOutput

from pyspark_kernel.history import compact_cell_streams


def shell_with(outputs):
    return SimpleNamespace(history_manager=SimpleNamespace(outputs=outputs))


def test_each_stream_of_the_cell_becomes_one_string_in_order():
    out = HistoryOutput("out_stream", {"stream": ["a", "\n", "b\n"]})
    err = HistoryOutput("err_stream", {"stream": ["x", "y"]})
    shown = HistoryOutput("display_data", {"text/plain": "table"})
    other_cell = HistoryOutput("out_stream", {"stream": ["1", "2"]})
    outputs = {7: [out, shown, err], 6: [other_cell]}
    assert compact_cell_streams(shell_with(outputs), 7) == 3
    assert out.bundle == {"stream": ["a\nb\n"]} and err.bundle == {"stream": ["xy"]}
    assert shown.bundle == {"text/plain": "table"}
    assert other_cell.bundle == {"stream": ["1", "2"]}


def test_anything_not_shaped_as_ipython_keeps_it_is_left_alone():
    odd = HistoryOutput("out_stream", {"stream": ["a", b"bytes"]})
    assert compact_cell_streams(shell_with({1: [odd]}), 1) == 0
    assert odd.bundle == {"stream": ["a", b"bytes"]}
    assert compact_cell_streams(shell_with({}), 1) == 0
    assert compact_cell_streams(SimpleNamespace(), 1) == 0  # no history manager
    assert compact_cell_streams(shell_with({1: [odd]}), None) == 0
