"""Endurance, short mode: one kernel through 500 seeded cells of every kind (benchmarks/soak.py),
then leak bounds. These are bounds on growth, not speed goals: the long mode (20,000 cells,
``python -m benchmarks.soak``) is in benchmarks/, with its table and plot."""

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


def test_a_trivial_cell_stays_as_fast(result):
    at_100 = next(s for s in result.samples if s.cell >= 100).trivial_ms
    assert result.samples[-1].trivial_ms <= 1.2 * at_100, [s.trivial_ms for s in result.samples]


def test_what_the_kernel_keeps_is_bounded(result):
    first, kept = result.samples[0].kept, result.samples[-1].kept
    assert kept["records"] <= 200 and kept["results_kept"] <= 32
    assert kept["stream_displays_finished"] <= 20
    # one listener per part of the kernel that follows the session, however often it restarts
    assert kept["session_listeners"] == first["session_listeners"], (first, kept)


def test_nothing_of_the_kernel_is_left_after_shutdown(result):
    assert result.left_after_shutdown == []
