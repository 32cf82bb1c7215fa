"""Helpers for the Kafka → Spark → Parquet/PostgreSQL/OpenSearch streaming notebooks (02, 03).

- ``events``: deterministic sales / lead / chat_session events with a share of bad records
  and resent duplicates, and a Kafka producer that confirms delivery.
- ``parse``: explicit schemas, JSON parsing that keeps the raw value, validation with a
  quarantine reason, routing by event type.
- ``sinks``: an idempotent PostgreSQL upsert for ``foreachBatch`` (batch-id ledger, in-batch
  dedupe, one transaction per batch) and the checkpoint layout.
- ``search``: the search-index sink, a ``foreachBatch`` bulk upsert into OpenSearch (or
  Elasticsearch) by event id, every item's result checked, the mapping created up front.
- ``streams``: reading Kafka, starting the sink queries, window aggregations.

Importing this package never starts Spark, Kafka, PostgreSQL or OpenSearch.
"""
