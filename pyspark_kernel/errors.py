"""Short, readable errors for Spark failures; the full trace is kept for ``%spark trace``."""

from __future__ import annotations

import os
import traceback
import types

import py4j
import pyspark

import pyspark_kernel.spark_internals as internals

_HIDDEN = tuple(os.path.dirname(m.__file__ or "") for m in (pyspark, py4j))


class SparkSessionUnavailable(RuntimeError):
    """The cell needs Spark but the session could not start or is being rebuilt."""


class SparkDriverDied(RuntimeError):
    """The driver JVM exited while the cell ran."""


class CellTimeout(RuntimeError):
    """The cell ran past ``%spark timeout``; its Spark jobs were cancelled."""


def spark_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions shown the short way."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (
        PySparkException,
        Py4JError,
        ConnectionError,
        SparkSessionUnavailable,
        KeyboardInterrupt,
    )


def headline(exc: BaseException) -> str:
    """The error's message without the JVM stack trace or the logical plan dump.

    For a raw Java exception (Py4J), the message of its root cause is added: the top one
    is often a wrapper ("Exception thrown in awaitResult"). An error raised in a Python
    worker ends with the worker's own exception line (``ValueError: the real cause``)."""
    root = _java_root_cause(exc)
    text = str(exc).strip() if root is None else root
    for marker in ("\n\nJVM stacktrace:", "\nJVM stacktrace:", ";\n'", "\n== "):
        text = text.split(marker)[0]
    cause = worker_cause(text)
    if cause is not None:
        before = text.split(_TRACEBACK, 1)[0].strip().rstrip(":")
        before = before.replace(". Please see the stack trace below.", "").rstrip(".")
        return f"{before}: {cause}" if before else cause
    lines = [line for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__


_TRACEBACK = "Traceback (most recent call last):"


def worker_cause(text: str) -> str | None:
    """The exception line of the last Python traceback inside `text` (a Python worker's
    error as Spark reports it, or a ``foreachBatch`` failure), or None."""
    if _TRACEBACK not in text:
        return None
    for line in text.rsplit(_TRACEBACK, 1)[1].splitlines():
        if line and not line[0].isspace():
            return line.strip()
    return None


def _java_root_cause(exc: BaseException) -> str | None:
    java = getattr(exc, "java_exception", None)
    if java is None:
        return None
    try:
        top_text = java.toString()
        cause = java
        while cause.getCause() is not None:
            cause = cause.getCause()
        root_text = cause.toString()
    except Exception:  # the JVM may be gone
        return None
    top, root = top_text.splitlines()[0], root_text.splitlines()[0]
    if worker_cause(root_text) is not None:
        return root_text
    return top if root == top else f"{top} (caused by {root})"


def hint(exc: BaseException) -> str | None:
    """One line on how to fix an error the kernel can fix, or None: a Kafka source or sink
    without Spark's Kafka connector."""
    text = str(exc)
    missing = "DATA_SOURCE_NOT_FOUND" in text or "Failed to find data source" in text
    if missing and "kafka" in text.lower():
        return "(Spark's Kafka connector is not loaded: %spark packages kafka --restart)"
    return None


def user_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback up to, not into, PySpark and Py4J internals."""
    frames: list[types.TracebackType] = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_HIDDEN):
            break
        frames.append(tb)
        tb = tb.tb_next
    short: types.TracebackType | None = None
    for frame in reversed(frames):
        short = types.TracebackType(short, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return short


def full_trace(exc: BaseException) -> str:
    """Everything known about the error: Python traceback and, for Spark errors, the JVM's."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    jvm = jvm_trace(exc)
    if jvm:
        text += f"\nJVM stack trace:\n{jvm}"
    return text


def jvm_trace(exc: BaseException) -> str | None:
    """The JVM stack trace a Spark error carries, if any."""
    trace = internals.jvm_stack_trace(exc)
    if not trace and getattr(exc, "java_exception", None) is not None:
        trace = str(exc)  # a raw Py4J error: its message is the Java trace
    return trace or None


def has_jvm_trace(exc: BaseException) -> bool:
    """Whether ``%spark trace`` has more to show than the cell's error (a JVM trace)."""
    return jvm_trace(exc) is not None


def condition(exc: BaseException) -> str | None:
    """The Spark error condition (``TABLE_OR_VIEW_NOT_FOUND``), when there is one."""
    return internals.error_condition(exc)
