"""A real Spark standalone cluster and a Spark Connect server on 127.0.0.1.

Both run from the installed pyspark's own Spark (its ``bin/spark-class`` and
``bin/spark-submit``), detached in their own sessions, with state files in their data
folders so another process (``pyspark-kernel cluster stop``) can find and stop them.

- `StandaloneCluster`: a master and N workers (1 core, 1 GiB each); ``start()`` returns
  once the master reports N alive workers, and gives the master URL ``spark://127.0.0.1:P``.
- `ConnectServer`: ``SparkConnectServer`` (its driver runs ``local[*]`` unless told a
  master); ``start()`` returns ``sc://127.0.0.1:P`` once the server accepts connections.

Every process binds 127.0.0.1 only (``SPARK_LOCAL_IP``, explicit hosts), the master's REST
submission server is off, and the web UIs cannot kill applications. Used as a context
manager each starts its service and, on exit, stops it again if this object started it.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyspark_kernel.services import _process as proc
from pyspark_kernel.services._process import LOOPBACK, ServiceError, ServiceState

CONSOLE_FILE = "console.out"
CLUSTER_FILE = "cluster.json"
UI_FILE = "ui_url"
DAEMON_MEMORY = "512m"  # heap of the master and worker daemons (executors get --memory)

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"

# Settings of the master and worker daemons (their --properties-file).
_DAEMON_PROPERTIES = {
    "spark.master.rest.enabled": "false",  # no unauthenticated REST submission port
    "spark.ui.killEnabled": "false",
    "spark.ui.reverseProxy": "false",
    "spark.worker.cleanup.enabled": "true",
}


def spark_home() -> Path:
    """The Spark bundled with the installed pyspark (``bin/``, ``jars/``)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").is_file():
        raise ServiceError(f"no bin/spark-class in {home}: is pyspark installed from a wheel?")
    return home


def _spark_env(conf_dir: Path) -> dict[str, str]:
    """The environment of Spark's daemons: this pyspark's Spark, loopback only."""
    env = {k: v for k, v in os.environ.items() if k not in {"SPARK_REMOTE", "PYSPARK_SUBMIT_ARGS"}}
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_CONF_DIR=str(conf_dir),
        SPARK_LOCAL_IP=LOOPBACK,  # web UIs bind it too (they default to 0.0.0.0)
        SPARK_DAEMON_MEMORY=DAEMON_MEMORY,
        # Python UDFs run by executors or by the Connect server use this Python.
        PYSPARK_PYTHON=env.get("PYSPARK_PYTHON") or sys.executable,
    )
    env.pop("SPARK_MASTER_HOST", None)
    env.pop("SPARK_PUBLIC_DNS", None)
    return env


def _write_properties(path: Path, props: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k} {v}\n" for k, v in props.items()))
    return path


def _get_json(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET ``url`` as JSON; None when nothing (or not JSON) answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return data if isinstance(data, dict) else None


def _failure(what: str, why: str, console: Path, since: int) -> ServiceError:
    text = proc.tail(console, 15, since) or "(nothing logged)"
    return ServiceError(f"{what} {why}; see {console}:\n{text}")


def _spawn(args: list[str], folder: Path, env: dict[str, str]) -> tuple[int, int | None, int]:
    """Start a Spark daemon detached (output appended to its console file);
    return (pid, start ticks, console offset)."""
    console = folder / CONSOLE_FILE
    offset = proc.file_size(console)
    pid = proc.spawn_detached(args, console, env)
    return pid, proc.start_ticks(pid), offset


def _stop_all(states: list[ServiceState], timeout: float) -> None:
    for state in states:
        proc.terminate(state.pid, timeout, state.start_ticks)


# -- standalone cluster ----------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterStatus:
    """A running cluster: its master, web UI and worker processes."""

    master_url: str
    web_ui: str
    master: ServiceState
    workers: list[ServiceState] = field(default_factory=list)
    alive_workers: int | None = None  # as the master reports it (None: did not answer)


class StandaloneCluster(proc.LocalService[ClusterStatus]):
    """A Spark standalone master and ``workers`` workers on 127.0.0.1, kept in ``data_dir``.

    ``start()`` is idempotent and works across processes (the state file in ``data_dir``
    says what runs); ``stop()`` stops the workers (and their executors), then the master.
    """

    what = "Spark cluster"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        workers: int = 2,
        port: int | None = None,
        worker_cores: int = 1,
        worker_memory: str = "1g",
        startup_timeout: float = 180.0,
    ) -> None:
        if workers < 1:
            raise ServiceError(f"a cluster needs at least one worker, got {workers}")
        super().__init__(
            Path(data_dir).expanduser().resolve() if data_dir else default_cluster_dir()
        )
        self.workers = workers
        self.port = port
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.startup_timeout = startup_timeout

    # -- state ---------------------------------------------------------------
    def status(self) -> ClusterStatus | None:
        """The running cluster, or None when its master does not run."""
        master = proc.live_state(self.data_dir)
        if master is None:
            return None
        extra = self._read_extra()
        web_ui = str(extra.get("web_ui", ""))
        workers = [w for w in self._worker_states(extra) if proc.pid_alive(w.pid, w.start_ticks)]
        info = _get_json(f"{web_ui}/json/") if web_ui else None
        alive = int(info["aliveworkers"]) if info and "aliveworkers" in info else None
        return ClusterStatus(master.address, web_ui, master, workers, alive)

    def _address(self, state: ClusterStatus) -> str:
        return state.master_url

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:P`` of the running master."""
        return self.running().master_url

    def _read_extra(self) -> dict[str, Any]:
        try:
            data = json.loads((self.data_dir / CLUSTER_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _worker_states(self, extra: dict[str, Any]) -> list[ServiceState]:
        states = []
        for raw in extra.get("workers", []):
            try:
                states.append(ServiceState(**raw))
            except TypeError:
                continue
        return states

    def _write_extra(self, web_ui: str, workers: list[ServiceState]) -> None:
        data = {"web_ui": web_ui, "workers": [asdict(w) for w in workers]}
        tmp = self.data_dir / f".{CLUSTER_FILE}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.data_dir / CLUSTER_FILE)

    # -- start ---------------------------------------------------------------
    def _launch(self) -> str:
        self._reap_orphans()
        home = spark_home()
        conf_dir = self.data_dir / "conf"
        props = _write_properties(conf_dir / "spark-defaults.conf", _DAEMON_PROPERTIES)
        env = _spark_env(conf_dir)
        spark_class = str(home / "bin" / "spark-class")
        if self.port and not proc.port_is_free(self.port):
            raise ServiceError(f"port {self.port} on {LOOPBACK} is in use")
        port = self.port or proc.free_port()
        web_port = proc.free_port()
        master_url = f"spark://{LOOPBACK}:{port}"
        web_ui = f"http://{LOOPBACK}:{web_port}"
        master_dir = self.data_dir / "master"
        args = [spark_class, MASTER_CLASS, "--host", LOOPBACK, "--port", str(port),
                "--webui-port", str(web_port), "--properties-file", str(props)]  # fmt: skip
        pid, ticks, offset = _spawn(args, master_dir, env)
        master = ServiceState(pid, master_url, str(self.data_dir), time.time(), ticks)
        started: list[ServiceState] = []
        try:
            self._wait_master(master, web_ui, master_dir / CONSOLE_FILE, offset)
            offsets = []
            for n in range(1, self.workers + 1):
                folder = self.data_dir / f"worker-{n}"
                worker_web = proc.free_port()
                args = [spark_class, WORKER_CLASS, master_url, "--host", LOOPBACK,
                        "--cores", str(self.worker_cores), "--memory", self.worker_memory,
                        "--webui-port", str(worker_web), "--work-dir", str(folder / "work"),
                        "--properties-file", str(props)]  # fmt: skip
                wpid, wticks, woffset = _spawn(args, folder, env)
                url = f"http://{LOOPBACK}:{worker_web}"
                started.append(ServiceState(wpid, url, str(folder), time.time(), wticks))
                offsets.append(woffset)
                self._write_extra(web_ui, started)  # a failed start can still be cleaned up
            self._wait_workers(master, web_ui, started, offsets)
        except BaseException:
            _stop_all([*started, master], 10.0)
            (self.data_dir / CLUSTER_FILE).unlink(missing_ok=True)
            raise
        self._write_extra(web_ui, started)
        proc.write_state(self.data_dir, master)  # last: status() never sees half a cluster
        return master_url

    def _wait_master(self, master: ServiceState, web_ui: str, console: Path, since: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not proc.pid_alive(master.pid, master.start_ticks):
                raise _failure("Spark master", "exited during startup", console, since)
            info = _get_json(f"{web_ui}/json/")
            if info is not None and info.get("status") == "ALIVE":
                if info.get("url") != master.address:
                    raise ServiceError(
                        f"Spark master started at {info.get('url')}, not {master.address}"
                    )
                return
            time.sleep(0.5)
        raise _failure(
            "Spark master", f"did not answer within {self.startup_timeout:.0f}s", console, since
        )

    def _wait_workers(
        self, master: ServiceState, web_ui: str, workers: list[ServiceState], offsets: list[int]
    ) -> None:
        deadline = time.monotonic() + self.startup_timeout
        alive = 0
        while time.monotonic() < deadline:
            for worker, since in zip(workers, offsets, strict=True):
                if not proc.pid_alive(worker.pid, worker.start_ticks):
                    console = Path(worker.data_dir) / CONSOLE_FILE
                    raise _failure("Spark worker", "exited during startup", console, since)
            if not proc.pid_alive(master.pid, master.start_ticks):
                console = self.data_dir / "master" / CONSOLE_FILE
                raise _failure("Spark master", "exited", console, 0)
            info = _get_json(f"{web_ui}/json/") or {}
            alive = int(info.get("aliveworkers", 0))
            if alive >= len(workers):
                return
            time.sleep(0.5)
        console = Path(workers[0].data_dir) / CONSOLE_FILE
        raise _failure(
            "Spark cluster",
            f"has {alive} of {len(workers)} workers after {self.startup_timeout:.0f}s",
            console,
            offsets[0],
        )

    def _reap_orphans(self) -> None:
        """Stop workers left running by a cluster whose master is gone."""
        _stop_all(self._worker_states(self._read_extra()), 10.0)
        (self.data_dir / CLUSTER_FILE).unlink(missing_ok=True)

    # -- stop ----------------------------------------------------------------
    def _shutdown(self, timeout: float) -> bool:
        """Stop the workers (and their executors), then the master."""
        master = proc.live_state(self.data_dir)
        workers = [
            w
            for w in self._worker_states(self._read_extra())
            if proc.pid_alive(w.pid, w.start_ticks)
        ]
        _stop_all(workers, timeout)
        if master is not None:
            proc.terminate(master.pid, timeout, master.start_ticks)
        (self.data_dir / CLUSTER_FILE).unlink(missing_ok=True)
        return master is not None or bool(workers)


def default_cluster_dir() -> Path:
    """Where the cluster keeps its state unless told otherwise."""
    return proc.cache_root() / "cluster"


# -- Spark Connect server --------------------------------------------------------------------


class ConnectServer(proc.ProcessService):
    """A Spark Connect server on 127.0.0.1, kept in ``data_dir``.

    ``master`` is where the server's own driver runs its jobs (``local[*]`` by default, or
    a standalone master URL).
    """

    what = "Spark Connect server"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        master: str = "local[*]",
        conf: dict[str, str] | None = None,
        startup_timeout: float = 180.0,
    ) -> None:
        super().__init__(
            Path(data_dir).expanduser().resolve() if data_dir else default_connect_dir()
        )
        self.port = port
        self.master = master
        self.conf = dict(conf or {})
        self.startup_timeout = startup_timeout

    @property
    def url(self) -> str:
        """``sc://127.0.0.1:P`` of the running server (its state's ``address``)."""
        return self.running().address

    @property
    def ui_url(self) -> str | None:
        """The Spark UI of the server's driver (``http://127.0.0.1:P``), if it runs."""
        if self.status() is None:
            return None
        try:
            return (self.data_dir / UI_FILE).read_text().strip() or None
        except OSError:
            return None

    def _launch(self) -> str:
        home = spark_home()
        conf_dir = self.data_dir / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        env = _spark_env(conf_dir)
        if self.port and not proc.port_is_free(self.port):
            raise ServiceError(f"port {self.port} on {LOOPBACK} is in use")
        port = self.port or proc.free_port()
        ui_port = proc.free_port()
        settings = {
            "spark.connect.grpc.binding.address": LOOPBACK,
            "spark.connect.grpc.binding.port": str(port),
            "spark.driver.host": LOOPBACK,
            "spark.driver.bindAddress": LOOPBACK,
            "spark.ui.port": str(ui_port),
            "spark.ui.killEnabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.log.structuredLogging.enabled": "false",
            "spark.sql.warehouse.dir": str(self.data_dir / "warehouse"),
            **self.conf,
        }
        args = [str(home / "bin" / "spark-submit"), "--class", CONNECT_CLASS,
                "--name", "Spark Connect server", "--master", self.master]  # fmt: skip
        for key, value in settings.items():
            args += ["--conf", f"{key}={value}"]
        args.append("spark-internal")
        pid, ticks, offset = _spawn(args, self.data_dir, env)
        url = f"sc://{LOOPBACK}:{port}"
        try:
            self._wait_ready(pid, ticks, port, offset)
        except BaseException:
            proc.terminate(pid, 10.0, ticks)
            raise
        (self.data_dir / UI_FILE).write_text(f"http://{LOOPBACK}:{ui_port}\n")
        proc.write_state(
            self.data_dir, ServiceState(pid, url, str(self.data_dir), time.time(), ticks)
        )
        return url

    def _wait_ready(self, pid: int, ticks: int | None, port: int, since: int) -> None:
        console = self.data_dir / CONSOLE_FILE
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not proc.pid_alive(pid, ticks):
                raise _failure("Spark Connect server", "exited during startup", console, since)
            if proc.port_answers(port):
                return
            time.sleep(0.25)
        raise _failure(
            "Spark Connect server",
            f"did not listen within {self.startup_timeout:.0f}s",
            console,
            since,
        )


def default_connect_dir() -> Path:
    """Where the Connect server keeps its state unless told otherwise."""
    return proc.cache_root() / "connect"
