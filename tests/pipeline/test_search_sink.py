"""The search-index sink against the session's real OpenSearch node, with real DataFrames:
the mapping made up front, upserts by ``event_id`` (the last version wins, a replay changes
nothing), a partial bulk failure failing the batch (called directly, and in a running
streaming query, whose checkpoint then has the batch planned but not committed), an
unreachable server in one line."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from pyspark_kernel.pipeline import parse as P
from pyspark_kernel.pipeline import search
from pyspark_kernel.services._process import free_port

pytestmark = pytest.mark.opensearch

SCHEMA = P.EVENT_DDL.replace("timestamp TIMESTAMP", "event_time TIMESTAMP")
T = datetime(2026, 1, 1, 0, 0, 1, 250000)


def batch(spark, *rows: tuple[object, ...]):
    """Events ``(event_id, user_id, amount, offset)`` as a batch like the pipeline's."""
    full = [
        (eid, "sale", user, T, "product_01", amount, None, None, None, None, 0, offset)
        for eid, user, amount, offset in rows
    ]
    return spark.createDataFrame(full, f"{SCHEMA}, partition INT, offset LONG")


def sale(event_id: str, amount: float, user: str = "user_001") -> dict[str, object]:
    return {"event_id": event_id, "event_type": "sale", "user_id": user,
            "event_time": "2026-01-01T00:00:01.250Z", "product_id": "product_01",
            "amount": amount}  # fmt: skip


@pytest.fixture
def index(opensearch_node) -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def test_the_mapping_is_created_up_front_once(opensearch_node, index):
    with search.connect(opensearch_node.url) as client:
        assert search.ensure_index(client, index) is True
        assert search.ensure_index(client, index) is False
        mapping = client.indices.get_mapping(index=index)[index]["mappings"]
        health = client.cluster.health(index=index)["status"]
    assert mapping == search.MAPPING  # as given: OpenSearch added nothing
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["event_id"] == {"type": "keyword"}
    assert mapping["properties"]["user_id"] == {"type": "keyword"}
    assert mapping["properties"]["event_time"] == {"type": "date"}
    assert health == "green"  # no replica asked of a single node
    assert search.count(index, opensearch_node.url) == 0


def test_events_are_upserted_by_id_the_last_version_wins_and_a_replay_changes_nothing(
    spark, opensearch_node, index
):
    url = opensearch_node.url
    sink = search.SearchUpsert("q", index, url)
    # rows out of offset order: the sink orders them, so "a" at offset 7 wins over offset 3
    first = batch(spark, ("a", "user_001", 99.0, 7), ("b", "user_002", 2.0, 5),
                  ("a", "user_001", 1.0, 3))  # fmt: skip
    sink(first, 0)
    sink(first, 0)  # Spark runs a batch again after a failure: same documents
    assert search.read_index(index, url) == {
        "a": sale("a", 99.0), "b": sale("b", 2.0, "user_002"),
    }  # fmt: skip
    sink(batch(spark, ("b", "user_002", 3.5, 9), ("c", "user_003", 4.0, 10)), 1)
    assert search.count(index, url) == 3
    assert search.read_index(index, url) == {
        "a": sale("a", 99.0), "b": sale("b", 3.5, "user_002"), "c": sale("c", 4.0, "user_003"),
    }  # fmt: skip
    assert sink.written == [(0, 2), (0, 2), (1, 2)]


def test_a_partial_bulk_failure_fails_the_batch_and_names_the_document(
    spark, opensearch_node, index
):
    url = opensearch_node.url
    with search.connect(url) as client:  # an index whose user_id takes numbers only
        client.indices.create(index=index, body={"mappings": {"properties": {
            "user_id": {"type": "integer"}}}})  # fmt: skip
    called = []
    sink = search.SearchUpsert("q", index, url, after_commit=called.append)
    with pytest.raises(search.SearchSinkError) as failed:
        sink(batch(spark, ("a", "123", 1.0, 0), ("b", "user_002", 2.0, 1)), 4)
    message = str(failed.value)
    assert message.startswith("batch 4 of q not written: 1 of 2 documents not written")
    assert "b: 400 mapper_parsing_exception: failed to parse field [user_id]" in message
    assert "\n" not in message
    assert sink.written == [] and called == []  # not reported as written
    assert search.count(index, url) == 1  # OpenSearch took the other one: a retry rewrites it


def test_a_partial_bulk_failure_in_a_running_query_leaves_its_batch_uncommitted(
    spark, opensearch_node, index, tmp_path
):
    from pyspark.errors import StreamingQueryException

    url = opensearch_node.url
    with search.connect(url) as client:  # an index whose user_id takes numbers only
        client.indices.create(index=index, body={"mappings": {"properties": {
            "user_id": {"type": "integer"}}}})  # fmt: skip
    source, checkpoint = tmp_path / "source", tmp_path / "checkpoint"
    rows = batch(spark, ("a", "123", 1.0, 0), ("b", "user_002", 2.0, 1))
    rows.coalesce(1).write.parquet(str(source))
    sink = search.SearchUpsert("events_search", index, url)
    query = (
        spark.readStream.schema(rows.schema).parquet(str(source))
        .writeStream.foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint))
        .start()
    )  # fmt: skip
    try:
        with pytest.raises(StreamingQueryException) as failed:
            query.awaitTermination(120)
    finally:
        query.stop()
    assert not query.isActive
    message = str(failed.value)
    assert "batch 0 of events_search not written: 1 of 2 documents not written" in message
    assert "b: 400 mapper_parsing_exception: failed to parse field [user_id]" in message
    # planned (offsets/0) but not committed: a restart from the checkpoint runs it again
    assert (checkpoint / "offsets" / "0").is_file()
    assert not (checkpoint / "commits" / "0").exists()
    assert sink.written == []


def test_an_unreachable_server_is_a_short_error(spark):
    down = f"http://127.0.0.1:{free_port()}"
    sink = search.SearchUpsert("events_search", "events", down)
    with pytest.raises(search.SearchSinkError) as failed:
        sink(batch(spark, ("a", "user_001", 1.0, 0)), 3)
    assert str(failed.value) == (
        f"batch 3 of events_search not written: OpenSearch at {down} is unreachable "
        "([Errno 111] Connection refused)"
    )


def test_the_version_at_the_latest_offset_is_kept():
    rows = [("a", "v2", (0, 7)), ("b", "b1", (1, 2)), ("a", "v1", (0, 3)), ("b", "b2", (1, 4))]
    assert search.latest_versions(rows) == {"a": "v2", "b": "b2"}
    assert search.latest_versions([("a", "x", None), ("a", "y", None)]) == {"a": "y"}


def test_bulk_bodies_are_split_by_size_one_action_per_id():
    docs = [(f"id{i}", json.dumps({"n": i})) for i in range(10)] + [("id0", '{"n": 99}')]
    bodies = list(search.bulk_bodies("ix", docs, max_bytes=200))
    assert len(bodies) > 1 and sum(n for _, n in bodies) == 10
    lines = [line for body, _ in bodies for line in body.splitlines()]
    actions, sources = lines[0::2], lines[1::2]
    assert [json.loads(a)["index"]["_id"] for a in actions] == [f"id{i}" for i in range(10)]
    assert json.loads(actions[0])["index"] == {"_index": "ix", "_id": "id0"}
    assert json.loads(sources[0]) == {"n": 99}  # the last doc of an id wins
    assert all(body.endswith("\n") for body, _ in bodies)


def test_the_url_and_the_switch_come_from_the_environment(monkeypatch):
    for name in ("OPENSEARCH_URL", "ELASTICSEARCH_URL", search.ENV_SWITCH):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://es.example:9200")
    assert search.search_url() == "http://es.example:9200"
    monkeypatch.setenv("OPENSEARCH_URL", "http://os.example:9200")
    assert search.search_url() == "http://os.example:9200"
    assert search.search_url("http://given:1") == "http://given:1"
    assert search.enabled()
    monkeypatch.setenv(search.ENV_SWITCH, "off")
    assert not search.enabled()
