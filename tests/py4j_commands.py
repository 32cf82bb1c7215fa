"""Recording the Py4J commands a block of test code sends to the driver JVM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark_kernel import spark_internals as internals


@contextmanager
def commands(spark: Any, calls_only: bool = False) -> Iterator[list[str]]:
    """The Py4J commands the block sends; with `calls_only`, only method calls and
    constructors (not Py4J's own releases of Java objects)."""
    client = internals.gateway_client(spark.sparkContext._gateway)
    sent: list[str] = []
    send = client.send_command

    def recording(command: str, *args: Any, **kwargs: Any) -> Any:
        if not calls_only or command[:2] in ("c\n", "i\n"):
            sent.append(command)
        return send(command, *args, **kwargs)

    client.send_command = recording
    try:
        yield sent
    finally:
        del client.send_command
