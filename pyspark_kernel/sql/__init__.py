"""Spark SQL as a language of the kernel: a snapshot of the session's catalog kept fresh
after each cell (`catalog`), and completion and inspection of SQL text in ``%%sql`` cells and
in string literals passed to ``spark.sql(...)`` (`complete`)."""
