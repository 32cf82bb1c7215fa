"""Local services for demos and tests: a Kafka broker, a PostgreSQL server, an OpenSearch
node, Maven jars.

- ``jars``: resolve Maven artifacts into a cache (Kafka broker, Spark Kafka connector,
  OpenSearch).
- ``kafka``: ``KafkaBroker``, ``bootstrap_servers()`` (honours ``KAFKA_BOOTSTRAP_SERVERS``).
- ``postgres``: ``LocalPostgres``, ``url()`` (honours ``POSTGRES_URL``), ``connect()``.
- ``opensearch``: ``OpenSearchNode``, ``url()`` (honours ``OPENSEARCH_URL`` and
  ``ELASTICSEARCH_URL``).
- ``cli``: ``register(subparsers)`` for ``pyspark-kernel kafka|postgres|opensearch|cluster|
  connect start|stop|status``.

Everything listens on 127.0.0.1 only.
"""
