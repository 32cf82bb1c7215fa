"""A real single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1.

The broker runs detached in its own session; a state file in its data folder lets
another Python process (e.g. ``pyspark-kernel kafka stop``) find and stop it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from pyspark_kernel.java_options import collector_options
from pyspark_kernel.services import _process as proc
from pyspark_kernel.services._process import LOOPBACK, ServiceError, ServiceState
from pyspark_kernel.services.jars import kafka_broker_jars

ENV_BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
HEAP = "512m"
LOG_FILE = "server.log"
CONSOLE_FILE = "console.out"
PORTS_FILE = "ports"

_LOG4J2 = """\
status = warn
name = pyspark-kernel-kafka
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.netty.name = org.apache.kafka.common.network
logger.netty.level = WARN
"""

_SERVER = """\
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers={host}:{cport}
log.dirs={logs}
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
log.retention.hours=24
"""


def default_data_dir() -> Path:
    """Where the broker keeps its data unless told otherwise."""
    return proc.cache_root() / "kafka"


def _cluster_id() -> str:
    """A random Kafka cluster id (22 url-safe base64 characters, not starting with '-')."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _kafka_python() -> Any:
    """The kafka-python package (its import emits DeprecationWarnings on Python 3.11+)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import kafka
        import kafka.errors
    return kafka


def _admin(bootstrap: str, timeout: float = 10.0) -> Any:
    ms = int(timeout * 1000)
    return _kafka_python().KafkaAdminClient(
        bootstrap_servers=bootstrap, bootstrap_timeout_ms=ms, request_timeout_ms=ms
    )


def create_topic(name: str, partitions: int = 1, bootstrap: str | None = None) -> None:
    """Create topic ``name`` (no error if it exists) and wait until it has leaders."""
    admin = _admin(bootstrap or bootstrap_servers())
    try:
        with contextlib.suppress(_kafka_python().errors.TopicAlreadyExistsError):
            admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}})
        admin.wait_for_topics([name], timeout_ms=30_000)
    finally:
        admin.close()


class KafkaBroker(proc.ProcessService):
    """A local Kafka broker kept in ``data_dir``; start/stop/status work across processes.

    Used as a context manager it starts the broker and, on exit, stops it again if
    this object started it.
    """

    what = "Kafka broker"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        heap: str = HEAP,
        startup_timeout: float = 120.0,
    ) -> None:
        super().__init__(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
        self.port = port
        self.heap = heap
        self.startup_timeout = startup_timeout

    # -- state ---------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """``host:port`` of the running broker."""
        return self.running().address

    @property
    def log_file(self) -> Path:
        """The broker's log4j log file."""
        return self.data_dir / "logs" / LOG_FILE

    # -- start ---------------------------------------------------------------
    def _ports(self) -> tuple[int, int]:
        """Broker and controller ports; the controller's is kept across restarts."""
        saved = self.data_dir / PORTS_FILE
        cport = None
        if saved.is_file():
            cport = int(saved.read_text().split()[1])
            if not proc.port_is_free(cport):
                raise ServiceError(f"controller port {cport} of {self.data_dir} is in use")
        if self.port and not proc.port_is_free(self.port):
            raise ServiceError(f"port {self.port} on {LOOPBACK} is in use")
        port = self.port or proc.free_port()
        while cport is None or cport == port:
            cport = proc.free_port()
        saved.write_text(f"{port} {cport}\n")
        return port, cport

    def _configure(self, java: str, classpath: str) -> tuple[Path, int]:
        """Write the config files, format storage on first use; return (config, port)."""
        port, cport = self._ports()
        (self.data_dir / "logs").mkdir(exist_ok=True)
        kraft = self.data_dir / "kraft"
        props = self.data_dir / "server.properties"
        props.write_text(
            _SERVER.format(host=LOOPBACK, port=port, cport=cport, logs=kraft.as_posix())
        )
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2.format(log=self.log_file))
        if not (kraft / "meta.properties").is_file():
            fmt = subprocess.run(
                [java, f"-Xmx{self.heap}", "-cp", classpath, "kafka.tools.StorageTool",
                 "format", "--config", str(props), "--cluster-id", _cluster_id(),
                 "--standalone", "--ignore-formatted"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if fmt.returncode != 0:
                out = (fmt.stdout + fmt.stderr).strip()[-800:]
                raise ServiceError(f"formatting Kafka storage in {kraft} failed:\n{out}")
        return props, port

    def _failure(self, why: str, offsets: tuple[int, int]) -> ServiceError:
        """An error with what this run wrote to the JVM console and to the broker log."""
        console = proc.tail(self.data_dir / CONSOLE_FILE, 10, offsets[0])
        log = proc.tail(self.log_file, 15, offsets[1])
        text = "\n".join(part for part in (console, log) if part) or "(nothing logged)"
        return ServiceError(f"Kafka broker {why}; see {self.log_file}:\n{text}")

    def _wait_ready(
        self, pid: int, ticks: int | None, bootstrap: str, offsets: tuple[int, int]
    ) -> None:
        deadline = time.monotonic() + self.startup_timeout
        port = int(bootstrap.rsplit(":", 1)[1])
        not_ready = (_kafka_python().errors.KafkaError, OSError)
        while time.monotonic() < deadline:
            if not proc.pid_alive(pid, ticks):
                raise self._failure("exited during startup", offsets)
            if proc.port_answers(port):
                try:
                    admin = _admin(bootstrap, timeout=5.0)
                except not_ready:  # listening, but not answering Kafka requests yet
                    time.sleep(0.5)
                    continue
                try:
                    admin.list_topics()
                    return
                except not_ready:
                    time.sleep(0.5)
                finally:
                    admin.close()
            else:
                time.sleep(0.25)
        raise self._failure(f"did not answer within {self.startup_timeout:.0f}s", offsets)

    def _launch(self) -> str:
        java = proc.java("Kafka")
        classpath = os.pathsep.join(str(j) for j in kafka_broker_jars())
        props, port = self._configure(java, classpath)
        args = [
            java, f"-Xmx{self.heap}", "-Xms128m",
            *collector_options(["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]),
            "-Djava.awt.headless=true", "-Djava.net.preferIPv4Stack=true",
            # Keep logging alive through Kafka's own shutdown hook (file appender flushes).
            "-Dlog4j2.shutdownHookEnabled=false",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp", classpath, "kafka.Kafka", str(props),
        ]  # fmt: skip
        bootstrap = f"{LOOPBACK}:{port}"
        offsets = (proc.file_size(self.data_dir / CONSOLE_FILE), proc.file_size(self.log_file))
        pid = proc.spawn_detached(args, self.data_dir / CONSOLE_FILE)
        ticks = proc.start_ticks(pid)
        try:
            self._wait_ready(pid, ticks, bootstrap, offsets)
        except BaseException:
            proc.terminate(pid, 10.0, ticks)
            raise
        # Written once the broker answers: status() never reports a half-started broker.
        proc.write_state(
            self.data_dir, ServiceState(pid, bootstrap, str(self.data_dir), time.time(), ticks)
        )
        return bootstrap

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create topic ``name`` on this broker."""
        create_topic(name, partitions, self.bootstrap)


def bootstrap_servers(data_dir: str | os.PathLike[str] | None = None) -> str:
    """``$KAFKA_BOOTSTRAP_SERVERS`` if set (nothing is started), else a local broker's."""
    external = os.environ.get(ENV_BOOTSTRAP, "").strip()
    if external:
        return external
    return KafkaBroker(data_dir).start()
