"""The catalog snapshot waits for a quiet kernel: cells run back to back ("Run All",
nbconvert) never leave it a gap to list the catalog in, however short each cell is."""

from __future__ import annotations

import threading
import time

from pyspark_kernel.sql.catalog import CatalogWatcher


def test_a_listing_waits_until_cells_stop_coming():
    started = [0]
    stop = threading.Event()

    def run_cells() -> None:  # a 5 ms cell every 40 ms: "busy" is almost never seen
        while not stop.is_set():
            started[0] += 1
            time.sleep(0.04)

    watcher = CatalogWatcher(session=None, quiet=0.3, cells=lambda: started[0])  # type: ignore[arg-type]
    runner = threading.Thread(target=run_cells, daemon=True)
    runner.start()
    threading.Timer(1.0, stop.set).start()
    begun = time.monotonic()
    watcher._wait_for_quiet()
    waited = time.monotonic() - begun
    assert stop.is_set() and waited >= 1.0 + 0.3 - 0.06, waited


def test_a_quiet_kernel_is_listed_after_the_quiet_time():
    watcher = CatalogWatcher(session=None, quiet=0.2)  # type: ignore[arg-type]
    begun = time.monotonic()
    watcher._wait_for_quiet()
    assert 0.2 <= time.monotonic() - begun < 0.5
