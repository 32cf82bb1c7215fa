"""`SessionManager` without a JVM."""

from pyspark_kernel.config import SparkSettings
from pyspark_kernel.session import SessionManager


def test_a_listener_hears_the_sessions_state_as_soon_as_it_listens():
    """The kernel starts its session before its parts listen: none may miss a change."""
    session = SessionManager(SparkSettings())
    heard: list[str] = []
    session.listen(lambda: heard.append(session.state))
    assert heard == ["stopped"]
