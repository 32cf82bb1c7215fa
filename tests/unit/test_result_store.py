"""The bounded store of shown results (results/store.py): least recently used dropped first,
and a clear error for a result that is gone."""

import pytest

from pyspark_kernel.results.store import ResultExpired, ResultStore


def test_a_full_store_drops_the_oldest_result():
    store = ResultStore(capacity=2)
    first, second, third = (store.add(object(), "direct_dataframe") for _ in range(3))
    assert len(store) == 2
    assert store.get(second.result_id) is second and store.get(third.result_id) is third
    with pytest.raises(ResultExpired, match="has expired: this kernel keeps its last 2 results"):
        store.get(first.result_id)


def test_a_get_makes_a_result_the_most_recently_used():
    store = ResultStore(capacity=2)
    first = store.add(object(), "view", name="a")
    second = store.add(object(), "view", name="b")
    assert store.get(first.result_id) is first
    store.add(object(), "view", name="c")
    assert store.get(first.result_id) is first
    with pytest.raises(ResultExpired):
        store.get(second.result_id)
    assert store.find("b") is None and store.find("a") is first


def test_an_unknown_id_is_expired_and_clear_forgets_everything():
    store = ResultStore()
    kept = store.add(object(), "direct_dataframe")
    with pytest.raises(ResultExpired, match="'nope' has expired"):
        store.get("nope")
    store.clear()
    assert len(store) == 0
    with pytest.raises(ResultExpired):
        store.get(kept.result_id)
