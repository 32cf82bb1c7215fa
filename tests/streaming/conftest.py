"""A module-scoped `RecordingKernel` for the streaming tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stream_kernel import RecordingKernel


@pytest.fixture(scope="module")
def kernel() -> Iterator[RecordingKernel]:
    k = RecordingKernel()
    yield k
    k.shutdown()
