"""Endurance, short mode: one kernel through 500 seeded cells of every kind (benchmarks/soak.py),
then leak bounds. These are bounds on growth, not speed goals: the long mode (20,000 cells,
``python -m benchmarks.soak``) is in benchmarks/, with its table and plot."""

import statistics

import pytest

from benchmarks import soak

CELLS = 500


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return soak.run(CELLS, every=50, seed=7, log_dir=tmp_path_factory.mktemp("soak-logs"))


@pytest.mark.timeout(1800)
def test_every_cell_of_the_mix_ends_as_expected(result):
    assert result.failures == []
    counts = result.counts
    assert counts["interrupt"] >= 10 and counts["jvm_kill"] >= 2 and counts["restart"] >= 2
    assert counts["user_stop"] >= 2 and counts["stream_start"] >= 3 and counts["timeout"] >= 1
    assert counts["second_client"] >= 1 and counts["flood"] >= 1


@pytest.mark.parametrize("metric", ["rss_mb", "threads", "fds", "jvm_heap_mb"])
def test_no_growth_after_warm_up(result, metric):
    growth = result.growth(metric, start_cell=100)
    assert growth is not None and growth < 0.10, (
        metric,
        [getattr(s, metric) for s in result.samples],
    )


@pytest.mark.xfail(
    strict=False,
    reason="known, open (issue 22): since the cold start's warm-up, the trivial cell is "
    "1.22-1.34x slower at cell 500 than at cell 100 (bound 1.2x); not yet explained",
)
def test_a_trivial_cell_stays_as_fast(result):
    # Each sample is already the fastest of nine cells; a single sample still swings with
    # the machine's load, so cell 100 is read as the median of cells 50-150 and cell 500
    # as the median of the last three samples.
    times = [s.trivial_ms for s in result.samples]
    at_100 = statistics.median(s.trivial_ms for s in result.samples if 50 <= s.cell <= 150)
    at_500 = statistics.median(times[-3:])
    assert at_500 <= 1.2 * at_100, times


def test_what_the_kernel_keeps_is_bounded(result):
    first, kept = result.samples[0].kept, result.samples[-1].kept
    assert kept["records"] <= 200 and kept["results_kept"] <= 32
    assert kept["stream_displays_finished"] <= 20
    # one listener per part of the kernel that follows the session, however often it restarts
    assert kept["session_listeners"] == first["session_listeners"], (first, kept)


def test_nothing_of_the_kernel_is_left_after_shutdown(result):
    assert result.left_after_shutdown == []
