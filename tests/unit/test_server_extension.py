"""Pure parts of the server extension and of the kernel's side of it: where a kernel's
Spark UI is shown, the status file, redirects and scripts through the proxy, parameters."""

from __future__ import annotations

import json
import re
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pyspark
import pytest

from pyspark_kernel import runtime_status, ui_proxy
from pyspark_kernel.serverext import kernels, parameters
from pyspark_kernel.serverext.sparkui import (
    prefixed_static_literals,
    proxied_location,
    upstream_query,
)

KID = "0b3c3a5e-8d1f-4c1e-9d55-2f7c6a1e9a10"
PREFIX = f"/user/alice/pyspark-kernel/sparkui/{KID}"


# -- where the kernel shows its Spark UI ----------------------------------------------------
def test_a_kernel_started_by_the_server_shows_the_proxied_path(tmp_path: Path) -> None:
    env = {ui_proxy.SERVER_ENV: ui_proxy.server_env_value("user/alice", 4242)}
    place = ui_proxy.place_from(env, 4242, str(tmp_path / f"kernel-{KID}.json"))
    assert place is not None
    assert place.ui_link == PREFIX
    assert place.kernel_id == KID and place.runtime_dir == str(tmp_path.resolve())


@pytest.mark.parametrize(
    ("env", "parent", "connection_file"),
    [
        ({}, 4242, f"kernel-{KID}.json"),  # no server with the extension
        ("server", 999, f"kernel-{KID}.json"),  # started by another process (nbconvert, a run)
        ("server", 4242, "tmpx1y2z3.json"),  # not a Jupyter connection file name
        ("server", 4242, None),  # no kernel
        ({ui_proxy.SERVER_ENV: "{not json"}, 4242, f"kernel-{KID}.json"),
        ({ui_proxy.SERVER_ENV: '{"base_url": 1, "pid": 4242}'}, 4242, f"kernel-{KID}.json"),
    ],
)
def test_any_other_kernel_shows_the_direct_address(
    env: object, parent: int, connection_file: str | None
) -> None:
    environ = (
        {ui_proxy.SERVER_ENV: ui_proxy.server_env_value("/", 4242)} if env == "server" else env
    )
    assert ui_proxy.place_from(environ, parent, connection_file) is None  # type: ignore[arg-type]
    # Outside a kernel (this test process) the direct address is shown as it is.
    assert ui_proxy.shown_ui_url("http://127.0.0.1:4040") == "http://127.0.0.1:4040"
    assert ui_proxy.shown_ui_url(None) is None


def test_base_urls_are_normalized() -> None:
    assert ui_proxy.ui_prefix("", KID) == f"/pyspark-kernel/sparkui/{KID}"
    assert ui_proxy.ui_prefix("/user/alice", KID) == PREFIX
    assert ui_proxy.ui_prefix("/user/alice/", KID) == PREFIX


# -- the status file --------------------------------------------------------------------------
def test_status_file_is_written_atomically_and_removed(tmp_path: Path) -> None:
    path = runtime_status.status_path(tmp_path, KID)
    status = runtime_status.StatusFile(path, KID, interval=0.3)
    status.set_session({"state": "ready", "ui_url": "http://127.0.0.1:4041"})
    written = runtime_status.read(path)
    assert written is not None
    assert written["kernel_id"] == KID and written["session"]["ui_url"] == "http://127.0.0.1:4041"
    assert written["streams"] == []
    # Streaming progress: at most one write per interval, the last change always written.
    before = path.stat().st_mtime_ns
    for batch in range(5):
        status.set_stream("run-1", {"id": "q", "batch_id": batch})
    first = runtime_status.read(path)
    assert first is not None and path.stat().st_mtime_ns == before  # not yet
    deadline = time.monotonic() + 5
    while (runtime_status.read(path) or {}).get("streams") != [{"id": "q", "batch_id": 4}]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # A session that is not ready has no queries.
    status.set_session({"state": "dead"})
    assert runtime_status.read(path)["streams"] == []  # type: ignore[index]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    status.close()
    assert not path.exists()
    status.set_session({"state": "ready"})  # after close: ignored
    assert not path.exists()


def test_status_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = runtime_status.status_path(tmp_path, KID)
    big = {"state": "ready", "blob": "x" * 200_000}
    stop = threading.Event()
    seen: list[object] = []

    def reader() -> None:
        while not stop.is_set():
            if path.exists():
                seen.append(runtime_status.read(path))

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(50):
        runtime_status.write(path, {"version": runtime_status.VERSION, "session": big})
    stop.set()
    thread.join()
    assert seen and all(s is not None for s in seen)


def test_unreadable_or_foreign_status_files_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    assert runtime_status.read(path) is None
    path.write_text("{half")
    assert runtime_status.read(path) is None
    path.write_text(json.dumps({"version": 99}))
    assert runtime_status.read(path) is None


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://127.0.0.1:4040", 4040),
        ("http://localhost:4041/", 4041),
        ("http://10.0.0.5:4040", None),  # never another host
        ("http://example.com:4040", None),
        ("https://127.0.0.1:4040", None),
        ("http://127.0.0.1", None),
        ("http://127.0.0.1:99999", None),
        (None, None),
        (4040, None),
    ],
)
def test_ui_port_only_on_loopback(url: object, port: int | None) -> None:
    assert kernels.ui_port(url) == port


# -- through the proxy -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://127.0.0.1:4040/jobs/", f"{PREFIX}/jobs/"),
        ("http://localhost:4040/stages/?id=1", f"{PREFIX}/stages/?id=1"),
        ("/jobs/", f"{PREFIX}/jobs/"),
        (f"{PREFIX}/jobs/", f"{PREFIX}/jobs/"),
        ("http://127.0.0.1:4040", f"{PREFIX}/"),
        ("jobs/", "jobs/"),  # relative: already under the prefix in the browser
        ("http://127.0.0.1:9999/jobs/", "http://127.0.0.1:9999/jobs/"),  # not this UI: as is
        ("https://example.com/x", "https://example.com/x"),
    ],
)
def test_redirects_stay_under_the_prefix(location: str, expected: str) -> None:
    assert proxied_location(location, 4040, PREFIX) == expected


def test_the_servers_token_is_not_passed_on() -> None:
    assert upstream_query("id=3&token=abc&attempt=0") == "id=3&attempt=0"
    assert upstream_query("completedJob.pageSize=1&x=a%20b") == "completedJob.pageSize=1&x=a%20b"


def test_root_path_assets_in_spark_scripts_get_the_prefix() -> None:
    script = b"""
loadScript('/static/d3.min.js').then(f);
link.href = '/static/d3-flamegraph.css';
document.querySelector('link[href="/static/d3-flamegraph.css"]');
css = await fetch("/static/sql/spark-sql-viz.css");
return uiRoot + "/static/" + name + "-template.html";
x = uiRoot +
    '/static/keep.js';
"""
    fixed = prefixed_static_literals(script, PREFIX).decode()
    assert f"loadScript('{PREFIX}/static/d3.min.js')" in fixed
    assert f"link.href = '{PREFIX}/static/d3-flamegraph.css'" in fixed
    assert f"""link[href="{PREFIX}/static/d3-flamegraph.css"]""" in fixed
    assert f'fetch("{PREFIX}/static/sql/spark-sql-viz.css")' in fixed
    assert 'uiRoot + "/static/" + name' in fixed
    assert "'/static/keep.js'" in fixed


def test_spark_scripts_keep_no_root_path_assets() -> None:
    """Spark's own scripts (from the installed jars): after the repair, every
    ``'/static/...'`` literal is under the prefix or appended to the UI root."""
    jars = Path(pyspark.__file__).parent / "jars"
    scripts = {}
    for jar in ("spark-core_2.13", "spark-sql_2.13"):
        (path,) = jars.glob(f"{jar}-*.jar")
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if "/ui/static/" in name and name.endswith(".js") and ".min." not in name:
                    scripts[name] = z.read(name)
    assert any(name.endswith("executorspage.js") for name in scripts)
    left = re.compile(rb"""(?<![+\s])\s*['"]/static/""")
    for name, script in scripts.items():
        assert not left.findall(prefixed_static_literals(script, PREFIX)), name


# -- parameters ---------------------------------------------------------------------------------
def test_parameters_are_injected_after_the_parameters_cell() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Report"),
        nbformat.v4.new_code_cell("day = '2020-01-01'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(day)"),
    ]
    index = parameters.inject(
        nb, {"day": "2026-11-30", "n": 3, "ok": True, "opts": {"a": [1, None]}}
    )
    assert index == 2
    assert nb.cells[2].metadata.tags == ["injected-parameters"]
    assert nb.cells[2].source == (
        "# Parameters\nday = '2026-11-30'\nn = 3\nok = True\nopts = {'a': [1, None]}\n"
    )
    namespace: dict[str, object] = {}
    exec(nb.cells[2].source, namespace)
    assert namespace["opts"] == {"a": [1, None]}
    # Injecting again replaces the injected cell; no parameters: none, no cell added.
    parameters.inject(nb, {"day": "x"})
    assert [c.source for c in nb.cells].count("# Parameters\nday = 'x'\n") == 1 and len(
        nb.cells
    ) == 4
    assert parameters.inject(nb, {}) is None and len(nb.cells) == 3


def test_without_a_parameters_cell_they_go_first() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    assert parameters.inject(nb, {"x": 1}) == 0
    assert nb.cells[0].source == "# Parameters\nx = 1\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "JSON object"),
        ({"1x": 1}, "not a Python name"),
        ({"class": 1}, "not a Python name"),
        ({"x": float("nan")}, "finite"),
        ({"x": [float("inf")]}, "finite"),
    ],
)
def test_bad_parameters_are_refused(value: object, message: str) -> None:
    with pytest.raises(parameters.ParameterError, match=message):
        parameters.check(value)
