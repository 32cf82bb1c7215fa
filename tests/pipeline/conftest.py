"""Per-test PostgreSQL databases for the pipeline tests.

The broker (``broker``) and the server (``postgres_server``, ``make_database``) are
session fixtures in ``tests/conftest.py``, shared with ``tests/reliability``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def database(make_database: Callable[[], str]) -> str:
    return make_database()


@pytest.fixture
def connection(database: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(database) as conn:
        yield conn
