"""What the local services share: the `LocalService` life cycle, cache folder, free ports,
state files, signals."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from pyspark_kernel.paths import cache_root as cache_root  # the services' cache folder

LOOPBACK = "127.0.0.1"
STATE_FILE = "state.json"

# Children started by this Python process, kept so they can be reaped (no zombies,
# no "still running" ResourceWarning) when stopped from the process that started them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServiceState:
    """What a running service's state file records."""

    pid: int
    address: str
    data_dir: str
    started_at: float
    start_ticks: int | None = None


def java(what: str) -> str:
    """The ``java`` to run ``what`` with: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise ServiceError(f"java is not on PATH ({what} needs Java 17 or newer)")
    return found


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server (which sets SO_REUSEADDR, as Kafka and PostgreSQL do) can bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; the rest follows the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def reap_children() -> None:
    """Forget the children of this process that exited (stopped from another process, say),
    collecting their exit status."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def pid_alive(pid: int, ticks: int | None = None) -> bool:
    """Whether ``pid`` runs (zombies count as dead) and, if given, started at ``ticks``."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _is_zombie(pid):
        return False
    return ticks is None or start_ticks(pid) in (None, ticks)


def spawn_detached(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start ``args`` in its own session, in ``log_path``'s folder, with output appended to
    ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _signal(pid: int, sig: signal.Signals, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def wait_gone(pid: int, timeout: float, ticks: int | None = None) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid, ticks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(
    pid: int,
    timeout: float = 30.0,
    ticks: int | None = None,
    sig: signal.Signals = signal.SIGTERM,
    group: bool = True,
) -> None:
    """Send ``sig`` (to the process group it leads), wait, then SIGKILL after ``timeout``."""
    if not pid_alive(pid, ticks):
        return
    _signal(pid, sig, group)
    if not wait_gone(pid, timeout, ticks):
        _signal(pid, signal.SIGKILL, group)
        if not wait_gone(pid, 10.0, ticks):
            raise ServiceError(f"process {pid} did not exit after SIGKILL")
    _wait_threads_gone(pid)


def _wait_threads_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until an exiting process's last threads are gone: a JVM's main thread can be a
    zombie (counted as exited) while other threads still run and hold its ports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(os.listdir(f"/proc/{pid}/task")) <= 1:
                break
        except OSError:  # gone (or not Linux)
            break
        time.sleep(0.05)
    pid_alive(pid)  # reaps it when this process started it


@contextlib.contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``data_dir`` (serialises start/stop across processes)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def read_state(data_dir: Path) -> ServiceState | None:
    """The state file's content, or None when there is none (or it is unreadable)."""
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
        return ServiceState(**raw)
    except (OSError, ValueError, TypeError):
        return None


def write_state(data_dir: Path, state: ServiceState) -> None:
    """Write the state file atomically, readable by the owner only."""
    tmp = data_dir / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(state), fh)
    os.replace(tmp, data_dir / STATE_FILE)


def remove_state(data_dir: Path) -> None:
    """Remove the state file if present."""
    (data_dir / STATE_FILE).unlink(missing_ok=True)


def live_state(data_dir: Path) -> ServiceState | None:
    """The state of a service that really still runs; a stale state file is removed."""
    state = read_state(data_dir)
    if state is None:
        return None
    if pid_alive(state.pid, state.start_ticks):
        return state
    remove_state(data_dir)
    return None


def file_size(path: Path) -> int:
    """Size of ``path`` in bytes (0 if missing)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tail(path: Path, lines: int = 20, since: int = 0) -> str:
    """The last ``lines`` lines of a text file written after byte ``since`` ('' if none)."""
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            start = since if since <= end else 0  # a smaller file was rotated or truncated
            fh.seek(max(start, end - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


StateT = TypeVar("StateT")
_ServiceT = TypeVar("_ServiceT", bound="LocalService[Any]")


class LocalService(Generic[StateT]):
    """A server this project runs detached on 127.0.0.1, with its state in ``data_dir``.

    ``start()`` is idempotent and ``start``/``stop``/``status`` work across processes (a
    lock and a state file in ``data_dir``). Used as a context manager it starts the
    service and, on exit, stops it again if this object started it.
    """

    stop_signal = signal.SIGTERM
    what = "service"  # how errors name it

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._started_here = False

    def status(self) -> StateT | None:
        """The running service's state, or None if it does not run."""
        raise NotImplementedError

    def _address(self, state: StateT) -> str:
        """What ``start()`` returns for a running service: its address or URL."""
        raise NotImplementedError

    def running(self) -> StateT:
        """The running service's state; `ServiceError` if it does not run."""
        state = self.status()
        if state is None:
            raise ServiceError(f"no {self.what} runs in {self.data_dir}")
        return state

    def _launch(self) -> str:
        """Start the service (the lock is held, it does not run) and return its address."""
        raise NotImplementedError

    def _shutdown(self, timeout: float) -> bool:
        """Stop what runs (the lock is held); False if nothing ran."""
        state = live_state(self.data_dir)
        if state is None:
            return False
        terminate(state.pid, timeout, state.start_ticks, sig=self.stop_signal)
        return True

    def start(self) -> str:
        """Start the service if it does not run yet; return its address."""
        state = self.status()
        if state is None:
            with locked(self.data_dir):
                state = self.status()  # another process may have started it meanwhile
                if state is None:
                    address = self._launch()
                    self._started_here = True
                    return address
        return self._address(state)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the service (its stop signal, SIGKILL after ``timeout``); False if none ran."""
        if not self.data_dir.is_dir():
            return False
        with locked(self.data_dir):
            stopped = self._shutdown(timeout)
            remove_state(self.data_dir)
        self._started_here = False
        reap_children()
        return stopped

    def __enter__(self: _ServiceT) -> _ServiceT:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started_here:
            self.stop()


class ProcessService(LocalService[ServiceState]):
    """A service that is one process, recorded in its state file (``address`` included)."""

    def status(self) -> ServiceState | None:
        return live_state(self.data_dir)

    def _address(self, state: ServiceState) -> str:
        return state.address
