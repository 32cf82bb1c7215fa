"""The search-index sink: every valid event upserted into OpenSearch (or Elasticsearch) by id.

Seed 001 wrote every event to Elasticsearch, and a restarted job left duplicates there; its
fix was to upsert by id. :class:`SearchUpsert` is a ``foreachBatch`` function doing that:
each micro-batch goes out as ``_bulk`` requests of ``index`` actions with ``_id`` =
``event_id`` (create or replace, so a replayed batch writes the same documents again and the
newest version of an event, by Kafka offset, wins), and the result of every item is
checked: one failed item fails the batch, the query stops before Spark commits it, and a
restart from the checkpoint sends it again. The index is created up front with an explicit,
strict mapping (keyword ids, a date event time).

The URL comes from ``OPENSEARCH_URL`` / ``ELASTICSEARCH_URL`` or the local node
(:func:`pyspark_kernel.services.opensearch.url`); credentials, if any, are in that URL and
never in code. ``PIPELINE_OPENSEARCH=off`` turns the sink off (:func:`enabled`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .parse import EVENT_COLUMNS

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from pyspark.sql import DataFrame

INDEX = "events"
ENV_SWITCH = "PIPELINE_OPENSEARCH"
#: A micro-batch is split into ``_bulk`` requests of at most about this many bytes.
MAX_REQUEST_BYTES = 5 * 1024 * 1024
#: How event times are written: ISO-8601 with milliseconds and the offset (``Z`` in UTC).
TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"

_KEYWORD = {"type": "keyword"}
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "event_id": _KEYWORD,
        "event_type": _KEYWORD,
        "user_id": _KEYWORD,
        "event_time": {"type": "date"},
        "product_id": _KEYWORD,
        "amount": {"type": "double"},
        "email": _KEYWORD,
        "source": _KEYWORD,
        "session_id": _KEYWORD,
        "messages": {"type": "integer"},
    },
}
# One shard; no replica on a single node (so it is green), one where there is room.
SETTINGS: dict[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}


#: What a notebook shows where the sink is off.
OFF_NOTE = (
    f"The OpenSearch sink is off here ({ENV_SWITCH}=off; Binder sets it, since its 2 GB "
    "session has no room for a third JVM beside Spark and Kafka): no events_search query, "
    "no index. Elsewhere it is on: the demo starts a local node, or set OPENSEARCH_URL."
)


class SearchSinkError(RuntimeError):
    """The search server did not take a batch (unreachable, refused, or some items failed)."""


def enabled() -> bool:
    """False when ``$PIPELINE_OPENSEARCH`` is ``off`` (or ``0``, ``false``, ``no``)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() not in ("off", "0", "false", "no")


def search_url(url: str | None = None) -> str:
    """``url``, else ``$OPENSEARCH_URL`` / ``$ELASTICSEARCH_URL``, else the local node's
    (started if it does not run)."""
    if url:
        return url
    from pyspark_kernel.services import opensearch

    return opensearch.url()


def _shown(url: str) -> str:
    from pyspark_kernel.services.postgres import mask_password

    return mask_password(url)


@contextlib.contextmanager
def connect(url: str | None = None) -> Iterator[OpenSearch]:
    """An ``opensearch-py`` client of ``url`` (see :func:`search_url`), closed on exit; its
    errors are raised as :class:`SearchSinkError` with a short reason."""
    from opensearchpy import OpenSearch
    from opensearchpy.exceptions import ConnectionError, TransportError

    target = search_url(url)
    client = OpenSearch(hosts=[target], timeout=30, max_retries=2, retry_on_timeout=True)
    try:
        yield client
    except ConnectionError as error:  # before TransportError: it is one
        reason = str(error.error).rsplit(": ", 1)[-1]
        raise SearchSinkError(f"OpenSearch at {_shown(target)} is unreachable ({reason})") from None
    except TransportError as error:
        raise SearchSinkError(
            f"OpenSearch at {_shown(target)} answered {error.status_code}: {error.error}"
        ) from error
    finally:
        client.close()


def ensure_index(client: OpenSearch, index: str = INDEX) -> bool:
    """Create ``index`` with :data:`MAPPING` unless it exists; True if created here."""
    from opensearchpy.exceptions import RequestError

    if client.indices.exists(index=index):
        return False
    try:
        client.indices.create(index=index, body={"settings": SETTINGS, "mappings": MAPPING})
    except RequestError as error:  # created meanwhile by another writer
        if error.error != "resource_already_exists_exception":
            raise
        return False
    return True


def documents(batch: DataFrame) -> DataFrame:
    """``(event_id, doc, position)`` per event of ``batch``: ``doc`` is the event's fields
    (:data:`EVENT_COLUMNS` present in ``batch``, nulls left out) as JSON, ``position`` its
    Kafka ``(partition, offset)`` (null when ``batch`` has no such columns)."""
    from pyspark.sql import functions as F

    columns = [c for c in EVENT_COLUMNS if c in batch.columns]
    options = {"timestampFormat": TIME_FORMAT, "ignoreNullFields": "true"}
    has_position = {"partition", "offset"} <= set(batch.columns)
    position = F.struct("partition", "offset") if has_position else F.lit(None)
    doc = F.to_json(F.struct(*columns), options)
    return batch.select("event_id", doc.alias("doc"), position.alias("position"))


def latest_versions(rows: Iterable[tuple[str, str, Any]]) -> dict[str, str]:
    """One doc per id from ``(id, doc, position)`` rows: the one at the highest Kafka position
    (the latest offset of the id's partition; rows without a position: the last one seen).

    Choosing here rather than sorting the batch in Spark reads the micro-batch once (a sort
    would sample it first, reading the Kafka records twice)."""
    kept: dict[str, tuple[Any, str]] = {}
    for doc_id, doc, position in rows:
        seen = kept.get(doc_id)
        if seen is None or position is None or seen[0] is None or tuple(position) >= seen[0]:
            kept[doc_id] = (None if position is None else tuple(position), doc)
    return {doc_id: doc for doc_id, (_, doc) in kept.items()}


def bulk_bodies(
    index: str, docs: Iterable[tuple[str, str]], max_bytes: int = MAX_REQUEST_BYTES
) -> Iterator[tuple[str, int]]:
    """``_bulk`` bodies (NDJSON) of ``index`` actions for ``(id, doc)`` pairs, with their
    action counts; one action per id, the last doc of an id winning."""
    latest = dict(docs)
    lines: list[str] = []
    size = 0
    for doc_id, doc in latest.items():
        action = json.dumps({"index": {"_index": index, "_id": doc_id}})
        lines += [action, doc]
        size += len(action) + len(doc) + 2
        if size >= max_bytes:
            yield "\n".join(lines) + "\n", len(lines) // 2
            lines, size = [], 0
    if lines:
        yield "\n".join(lines) + "\n", len(lines) // 2


def failures(response: dict[str, Any]) -> list[str]:
    """Each item of a ``_bulk`` response that was not written, as ``id: status type: reason``."""
    failed = []
    for item in response.get("items", []):
        result = next(iter(item.values()))
        if result.get("status", 500) >= 300 or "error" in result:
            error = result.get("error") or {}
            if isinstance(error, dict):
                error = f"{error.get('type', 'error')}: {error.get('reason', '')}"
            failed.append(f"{result.get('_id')}: {result.get('status')} {error}")
    return failed


def write_batch(client: OpenSearch, index: str, docs: Iterable[tuple[str, str]]) -> int:
    """Upsert ``(id, doc)`` pairs into ``index``; the number of documents written.

    Every item's result is checked: `SearchSinkError` names how many failed and the first.
    """
    written = 0
    for body, count in bulk_bodies(index, docs):
        response = client.bulk(body=body)
        failed = failures(response)
        if failed or len(response.get("items", [])) != count:
            raise SearchSinkError(
                f"{len(failed)} of {count} documents not written to index {index!r}; "
                f"first: {failed[0] if failed else 'no result per document'}"
            )
        written += count
    return written


@dataclass
class SearchUpsert:
    """``foreachBatch`` function: ``query.foreachBatch(SearchUpsert("events_search"))``.

    The batch needs ``event_id`` and the event columns; with ``partition`` and ``offset``
    the version of an event at the latest offset wins. ``after_commit(batch_id)``, if given,
    runs after a batch was written (tests fail there).
    """

    query: str
    index: str = INDEX
    url: str | None = None
    after_commit: Callable[[int], None] | None = None
    written: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        try:
            with connect(self.url) as client:
                ensure_index(client, self.index)
                rows = documents(batch).toLocalIterator()
                docs = latest_versions((r[0], r[1], r[2]) for r in rows)
                count = write_batch(client, self.index, docs.items())
        except SearchSinkError as error:
            raise SearchSinkError(
                f"batch {batch_id} of {self.query} not written: {error}"
            ) from None
        self.written.append((batch_id, count))
        if self.after_commit is not None:
            self.after_commit(batch_id)


def count(index: str = INDEX, url: str | None = None) -> int:
    """Documents in ``index`` once every write so far is searchable (``_refresh``)."""
    with connect(url) as client:
        client.indices.refresh(index=index)
        return int(client.count(index=index)["count"])


def count_by(name: str, index: str = INDEX, url: str | None = None) -> dict[str, int]:
    """Documents of ``index`` per value of the keyword field ``name`` (a ``terms``
    aggregation, after a ``_refresh``), sorted by value."""
    with connect(url) as client:
        client.indices.refresh(index=index)
        body = {"size": 0, "aggs": {"by": {"terms": {"field": name, "size": 1000}}}}
        buckets = client.search(index=index, body=body)["aggregations"]["by"]["buckets"]
    return {b["key"]: int(b["doc_count"]) for b in sorted(buckets, key=lambda b: b["key"])}


def read_index(index: str = INDEX, url: str | None = None) -> dict[str, dict[str, Any]]:
    """Every document of ``index`` by id (after a ``_refresh``)."""
    from opensearchpy.helpers import scan

    with connect(url) as client:
        client.indices.refresh(index=index)
        hits = scan(client, index=index, query={"query": {"match_all": {}}}, size=1000)
        return {hit["_id"]: hit["_source"] for hit in hits}


def reset(index: str = INDEX, url: str | None = None) -> None:
    """Delete ``index`` (a pipeline reset; nothing happens if it does not exist)."""
    with connect(url) as client:
        client.indices.delete(index=index, ignore_unavailable=True)
