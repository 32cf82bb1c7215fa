"""Timing the pyspark kernel's own hooks from inside the kernel.

`install` wraps the cell hooks ``CellLife.pre_run_cell`` / ``post_run_cell`` (re-registered
with IPython) and some of their parts in timers, and counts the py4j commands sent to the JVM
while each runs. Every finished call appends ``(cell, part, seconds, py4j_commands)`` to the
kernel's ``_bench_log`` list, with the execution count of the cell it ran for (names
starting with ``_`` are ignored by result detection).
`remove` puts the original hooks back.
"""

from __future__ import annotations

import ast

from .harness import BenchKernel

# label -> (the part's owner, from the extension; its method)
PARTS = {
    "prepare_spark": ("life", "_prepare_spark"),
    "detect": ("presenter", "after"),
    "untag": ("life", "_untag"),
    "settle": ("life.interrupts", "settle"),
    "bind": ("binding", "bind"),
}

INSTALL = f"""
import time as _bench_time
import pyspark_kernel as _bench_pk
_bench_ext = _bench_pk.current()
_bench_ip = get_ipython()
_bench_log = []
_bench_py4j = [0]
_bench_cell = [0]
_bench_client = _bench_ext.session.spark.sparkContext._gateway._gateway_client
_bench_send = _bench_client.send_command
def _bench_counting_send(*args, **kwargs):
    _bench_py4j[0] += 1
    return _bench_send(*args, **kwargs)
_bench_client.send_command = _bench_counting_send
def _bench_wrap(fn, label):
    def timed(*args, **kwargs):
        if label == 'pre_run_cell':
            # IPython counts the cell before pre_run_cell (for cells stored in history)
            _bench_cell[0] = _bench_ip.execution_count - 1
        start, calls = _bench_time.perf_counter(), _bench_py4j[0]
        try:
            return fn(*args, **kwargs)
        finally:
            _bench_log.append(
                (_bench_cell[0], label, _bench_time.perf_counter() - start, _bench_py4j[0] - calls)
            )
    return timed
_bench_life = _bench_ext.life
_bench_ip.events.unregister('pre_run_cell', _bench_life.pre_run_cell)
_bench_ip.events.unregister('post_run_cell', _bench_life.post_run_cell)
_bench_pre = _bench_wrap(_bench_life.pre_run_cell, 'pre_run_cell')
_bench_post = _bench_wrap(_bench_life.post_run_cell, 'post_run_cell')
_bench_ip.events.register('pre_run_cell', _bench_pre)
_bench_ip.events.register('post_run_cell', _bench_post)
def _bench_owner(path):
    owner = _bench_ext
    for part in path.split('.'):
        owner = getattr(owner, part)
    return owner
for _bench_label, (_bench_path, _bench_name) in {PARTS!r}.items():
    _bench_obj = _bench_owner(_bench_path)
    setattr(_bench_obj, _bench_name, _bench_wrap(getattr(_bench_obj, _bench_name), _bench_label))
"""

REMOVE = f"""
_bench_ip.events.unregister('pre_run_cell', _bench_pre)
_bench_ip.events.unregister('post_run_cell', _bench_post)
_bench_ip.events.register('pre_run_cell', _bench_life.pre_run_cell)
_bench_ip.events.register('post_run_cell', _bench_life.post_run_cell)
for _bench_path, _bench_name in {PARTS!r}.values():
    delattr(_bench_owner(_bench_path), _bench_name)
_bench_client.send_command = _bench_send  # the kernel's own wrapper, kept
"""


def install(kernel: BenchKernel) -> None:
    kernel.ok(INSTALL)


def remove(kernel: BenchKernel) -> None:
    kernel.ok(REMOVE)


def read(kernel: BenchKernel, cells: set[int]) -> dict[str, list[tuple[float, int]]]:
    """``part -> [(seconds, py4j commands), ...]`` for the cells with these execution counts;
    the log is emptied."""
    logged = ast.literal_eval(
        kernel.ok("print(repr(_bench_log)); _bench_log.clear()").stdout().strip()
    )
    out: dict[str, list[tuple[float, int]]] = {}
    for cell, part, seconds, calls in logged:
        if cell in cells:
            out.setdefault(part, []).append((seconds, calls))
    return out
