"""Shared fixtures: a real local SparkSession and real ``pyspark`` kernels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_client import Kernel

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A real local SparkSession for tests of pure functions that need DataFrames."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """A real ``pyspark`` kernel shared by the tests of one module."""
    k = Kernel()
    yield k
    k.shutdown()
