"""Local services for demos and tests: a Kafka broker, a PostgreSQL server, Maven jars.

- ``jars``: resolve Maven artifacts into a cache (Kafka broker, Spark Kafka connector).
- ``kafka``: ``KafkaBroker``, ``bootstrap_servers()`` (honours ``KAFKA_BOOTSTRAP_SERVERS``).
- ``postgres``: ``LocalPostgres``, ``url()`` (honours ``POSTGRES_URL``), ``connect()``.
- ``cli``: ``register(subparsers)`` for ``pyspark-kernel kafka|postgres start|stop|status``.

Everything listens on 127.0.0.1 only.
"""
