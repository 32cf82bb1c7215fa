"""`SessionManager` without a JVM: a session that fails on its settings."""

import pytest

from pyspark_kernel.config import SparkSettings
from pyspark_kernel.session import SessionError, SessionManager


def test_a_listener_added_after_the_session_changed_hears_its_state_at_once():
    session = SessionManager(SparkSettings(master="nonsense://x"))
    early: list[str] = []
    session.listen(lambda: early.append(session.state))
    session.start()
    with pytest.raises(SessionError, match=r"spark\.master"):
        session.wait(timeout=30)
    late: list[str] = []
    session.listen(lambda: late.append(session.state))
    assert early == ["stopped", "starting", "failed"]
    assert late == ["failed"]  # the kernel starts its session before its parts listen
