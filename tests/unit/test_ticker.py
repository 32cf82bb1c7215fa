"""The shared ticker that starts a cell's progress polling only if the cell still runs."""

import threading
import time

from pyspark_kernel.progress import Ticker


def test_a_callback_runs_after_its_delay_in_order():
    ticker, ran, done = Ticker(), [], threading.Event()
    start = time.monotonic()
    ticker.call_later(0.2, lambda: (ran.append(("late", time.monotonic() - start)), done.set()))
    ticker.call_later(0.05, lambda: ran.append(("early", time.monotonic() - start)))
    assert done.wait(5)
    assert [name for name, _ in ran] == ["early", "late"]
    assert ran[0][1] >= 0.05 and ran[1][1] >= 0.2


def test_a_cancelled_callback_never_runs_and_a_failing_one_stops_nothing():
    ticker, ran, done = Ticker(), [], threading.Event()
    handle = ticker.call_later(0.05, lambda: ran.append("cancelled"))
    ticker.cancel(handle)
    ticker.call_later(0.06, lambda: 1 / 0)
    ticker.call_later(0.1, done.set)
    assert done.wait(5)
    assert ran == []


def test_callbacks_due_after_the_next_one_run_on_time_without_waking_the_thread():
    ticker, ran, done = Ticker(), [], threading.Event()
    start = time.monotonic()
    ticker.call_later(0.1, lambda: ran.append(("first", time.monotonic() - start)))
    for i in range(3):  # queued behind the first: the thread is not woken for them
        ticker.call_later(0.2 + i * 0.05, lambda i=i: ran.append((i, time.monotonic() - start)))
    ticker.call_later(0.5, done.set)
    assert done.wait(5)
    assert [name for name, _ in ran] == ["first", 0, 1, 2]
    for (name, at), due in zip(ran, (0.1, 0.2, 0.25, 0.3), strict=True):
        assert due <= at < due + 0.15, (name, at)
