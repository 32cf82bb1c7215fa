"""The Spark UI of a ``pyspark`` kernel through a real Jupyter server (issue 18).

One ``jupyter server`` under ``/user/alice/`` with a token, one ``pyspark`` kernel started
through its REST API, some Spark work in it (a described job, a cached DataFrame, a SQL
query, a running streaming query), then every page of the Spark UI fetched through
``{base_url}pyspark-kernel/sparkui/{kernel_id}/``: the page's own content, every link and
script under the prefix, assets served (gzip too), the REST API the pages' scripts call.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from live_server import BASE_URL, Server

PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
STREAM = "application/vnd.pyspark-kernel.stream.v1+json"
JOB_DESCRIPTION = "proxy check: grouped count"
QUERY_NAME = "proxy_check_stream"
WORK = f"""
import time
sc = spark.sparkContext
sc.setJobDescription({JOB_DESCRIPTION!r})
rows = spark.range(0, 200000, 1, 4).selectExpr("id % 10 AS k").groupBy("k").count().collect()
sc.setJobDescription(None)
cached = spark.range(1000).selectExpr("id", "id * 2 AS twice").cache()
cached.count()
query = (spark.readStream.format("rate").option("rowsPerSecond", 5).load()
         .writeStream.format("memory").queryName({QUERY_NAME!r}).start())
started = time.monotonic()
while (query.lastProgress or {{}}).get("batchId", -1) < 1 and time.monotonic() - started < 120:
    time.sleep(0.2)
print(json.dumps({{"app_id": sc.applicationId, "run_id": str(query.runId),
                  "batch": query.lastProgress["batchId"]}}))
"""
LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


@pytest.fixture(scope="module")
def kernel_id(server: Server) -> Iterator[str]:
    kid = server.start_kernel("pyspark")
    yield kid
    server.shutdown_kernel(kid)


@pytest.fixture(scope="module")
def prefix(kernel_id: str) -> str:
    return f"{BASE_URL}pyspark-kernel/sparkui/{kernel_id}"


@pytest.fixture(scope="module")
def work(server: Server, kernel_id: str) -> dict[str, Any]:
    """Spark work in the kernel; what the pages must then show."""
    kernel = server.attach(kernel_id)
    try:
        run = kernel.run("import json\n" + WORK, timeout=300)
        assert run.status == "ok", run.error
        facts: dict[str, Any] = json.loads(run.stream("stdout").strip().splitlines()[-1])
        facts["progress"] = run.data(PROGRESS)
        facts["stream"] = run.data(STREAM)
        facts["status"] = json.loads(kernel.value("__import__('pyspark_kernel').status_json()"))
    finally:
        kernel.shutdown()
    return facts


def ui(server: Server, prefix: str, path: str, **kwargs: Any) -> Any:
    return server.request("GET", f"{prefix}/{path}", **kwargs)


def api(server: Server, prefix: str, path: str) -> Any:
    response = ui(server, prefix, f"api/v1/{path}")
    assert response.status == 200, (path, response.status, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


@pytest.fixture(scope="module")
def ids(server: Server, prefix: str, work: dict[str, Any]) -> dict[str, Any]:
    """Job, stage and SQL execution ids of the described job, from the REST API."""
    app = work["app_id"]
    job = next(
        j
        for j in api(server, prefix, f"applications/{app}/jobs")
        if j.get("description") == JOB_DESCRIPTION
    )
    sql = next(
        q
        for q in api(server, prefix, f"applications/{app}/sql")
        if q.get("description") == JOB_DESCRIPTION
    )
    return {
        "job": job["jobId"],
        "stage": min(job["stageIds"]),
        "sql": sql["id"],
        "run_id": work["run_id"],
    }


def test_the_kernel_shows_the_proxied_link(
    server: Server, prefix: str, work: dict[str, Any]
) -> None:
    # %spark and the status bar: a path on the server, not the kernel's 127.0.0.1 address.
    assert work["status"]["ui_url"] == prefix
    # The progress display of the cell and its job links.
    final = work["progress"][-1]
    assert final["ui_url"] == prefix
    assert final["jobs"] and all(
        j["url"] == f"{prefix}/jobs/job/?id={j['job_id']}" for j in final["jobs"]
    )
    job = final["jobs"][0]
    page = server.request("GET", job["url"])
    assert page.status == 200
    assert f"Details for Job {job['job_id']}" in page.text
    # The streaming query's panel links its statistics page through the server too.
    panel = work["stream"][0]
    assert panel["run_id"] == work["run_id"]
    assert panel["ui_url"] == f"{prefix}/StreamingQuery/statistics/?id={work['run_id']}"
    page = server.request("GET", panel["ui_url"])
    assert page.status == 200
    assert "Streaming Query Statistics" in page.text and work["run_id"] in page.text


def test_root_redirects_under_the_prefix(server: Server, prefix: str, work: dict[str, Any]) -> None:
    for root in (f"{prefix}/", prefix):
        response = server.request("GET", root)
        assert response.status == 302, (root, response.status)
        assert response.headers["Location"] == f"{prefix}/jobs/"
    # Spark redirects any path it does not know to its own address: rewritten too.
    response = ui(server, prefix, "no/such/page")
    assert response.status == 302
    assert response.headers["Location"] == f"{prefix}/jobs/"
    followed = server.request("GET", response.headers["Location"])
    assert followed.status == 200 and "Spark Jobs" in followed.text


PAGES = [
    ("jobs/", ["Spark Jobs", JOB_DESCRIPTION]),
    ("jobs/job/?id={job}", ["Details for Job {job}", JOB_DESCRIPTION]),
    ("stages/", ["Stages for All Jobs", "Completed Stages"]),
    ("stages/stage/?id={stage}&attempt=0", ["Details for Stage {stage} (Attempt 0)"]),
    ("storage/", ["RDDs (1)", "AS twice"]),
    ("environment/", ["Environment", "static/environmentpage.js"]),
    ("executors/", ["Executors", "static/executorspage.js"]),
    (
        "executors/threadDump/?executorId=driver",
        ["Thread dump for executor driver", "Thread Dump Summary"],
    ),
    ("SQL/", ["SQL / DataFrame", "static/sql/allexecutionspage.js"]),
    (
        "SQL/execution/?id={sql}",
        ["Details for Query {sql}", "Plan Visualization", "AdaptiveSparkPlan"],
    ),
    ("StreamingQuery/", ["Active Streaming Queries (1)", QUERY_NAME]),
    ("StreamingQuery/statistics/?id={run_id}", ["Streaming Query Statistics", "{run_id}"]),
]


@pytest.mark.parametrize(("path", "expected"), PAGES, ids=[p for p, _ in PAGES])
def test_page(
    server: Server, prefix: str, ids: dict[str, Any], path: str, expected: list[str]
) -> None:
    response = ui(server, prefix, path.format(**ids))
    assert response.status == 200, (response.status, response.text[:300])
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.text
    # Spark's page (not the server's login page), its scripts told where the UI lives.
    assert f"setUIRoot('{prefix}')" in text
    for snippet in expected:
        assert snippet.format(**ids) in text, snippet
    links = LINK.findall(text)
    assert links
    for link in links:
        if link.startswith(("#", "data:")) or ("://" not in link and not link.startswith("/")):
            continue
        assert link.startswith(f"{prefix}/"), link  # never 127.0.0.1, never the server's root


def test_rest_api_the_pages_call(
    server: Server, prefix: str, work: dict[str, Any], ids: dict[str, Any]
) -> None:
    app = work["app_id"]
    assert [a["id"] for a in api(server, prefix, "applications")] == [app]
    executors = api(server, prefix, f"applications/{app}/allexecutors")  # the executors page
    assert [e["id"] for e in executors] == ["driver"]
    stage = api(server, prefix, f"applications/{app}/stages/{ids['stage']}")  # a stage's tasks
    assert stage and stage[0]["stageId"] == ids["stage"]
    environment = api(server, prefix, f"applications/{app}/environment")
    assert dict(environment["sparkProperties"])["spark.driver.host"] == "127.0.0.1"
    query = api(server, prefix, f"applications/{app}/sql/{ids['sql']}?details=false")
    assert query["description"] == JOB_DESCRIPTION


def test_assets_load_with_and_without_gzip(
    server: Server, prefix: str, ids: dict[str, Any]
) -> None:
    assets: set[str] = set()
    for path in (
        "jobs/",
        "SQL/execution/?id={sql}",
        "executors/",
        "stages/stage/?id={stage}&attempt=0",
    ):
        text = ui(server, prefix, path.format(**ids)).text
        assets |= {link for link in LINK.findall(text) if link.startswith(f"{prefix}/static/")}
    # The plan graph (d3, dagre-d3, the SQL plan script) and the executors page's script.
    for name in (
        "static/d3.min.js",
        "static/dagre-d3.min.js",
        "static/sql/spark-sql-viz.js",
        "static/executorspage.js",
    ):
        assert f"{prefix}/{name}" in assets, name
    for asset in sorted(assets):
        plain = server.request("GET", asset)
        assert plain.status == 200 and plain.body, asset
        assert "Content-Encoding" not in plain.headers
    for asset in (f"{prefix}/static/bootstrap.min.css", f"{prefix}/static/webui.css"):
        plain = server.request("GET", asset)
        packed = server.request("GET", asset, headers={"Accept-Encoding": "gzip"})
        assert packed.status == 200
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.body) == plain.body


def test_scripts_load_their_assets_under_the_prefix(server: Server, prefix: str) -> None:
    """Spark 4.2's scripts name a few assets by root path; the proxy repairs them."""
    executors = server.request("GET", f"{prefix}/static/executorspage.js")
    assert executors.status == 200
    assert f"loadScript('{prefix}/static/d3.min.js')" in executors.text
    assert "'/static/" not in executors.text
    plan = server.request("GET", f"{prefix}/static/sql/spark-sql-viz.js")
    assert f'fetch("{prefix}/static/sql/spark-sql-viz.css")' in plan.text
    for asset in ("d3-flamegraph.min.js", "d3-flamegraph.css", "sql/spark-sql-viz.css"):
        assert server.request("GET", f"{prefix}/static/{asset}").status == 200, asset


def test_head_and_query_strings(server: Server, prefix: str, ids: dict[str, Any]) -> None:
    head = server.request("HEAD", f"{prefix}/jobs/")
    assert head.status == 200 and head.headers["Content-Type"].startswith("text/html")
    # A query string reaches Spark (here: paging of the completed jobs table)...
    paged = ui(server, prefix, "jobs/?completedJob.pageSize=1&completedJob.page=1")
    assert paged.status == 200 and "completedJob.pageSize=1" in paged.text
    # ...and the server's token in it does not.
    with_token = server.request(
        "GET", f"{prefix}/jobs/job/?id={ids['job']}&token={server.token}", token=None
    )
    assert with_token.status == 200
    assert server.token not in with_token.text


def test_without_credentials_no_ui(server: Server, prefix: str, work: dict[str, Any]) -> None:
    for token in (None, "not-the-token"):
        for path in ("jobs/", "api/v1/applications", "static/webui.js", ""):
            response = ui(server, prefix, path, token=token)
            assert response.status in (302, 401, 403), (path, response.status)
            if response.status == 302:
                assert response.headers["Location"].startswith(f"{BASE_URL}login?next="), path
            assert work["app_id"] not in response.text and "setUIRoot" not in response.text


def test_not_a_pyspark_kernel_of_this_server(
    server: Server, prefix: str, work: dict[str, Any]
) -> None:
    unknown = server.request("GET", f"{BASE_URL}pyspark-kernel/sparkui/{uuid.uuid4()}/jobs/")
    assert unknown.status == 404
    python = server.start_kernel("python3")
    try:
        response = server.request("GET", f"{BASE_URL}pyspark-kernel/sparkui/{python}/jobs/")
        assert response.status == 404
        assert "no pyspark kernel" in response.text
    finally:
        server.shutdown_kernel(python)
    # No way to name a port or a host: only kernel ids match the route.
    # (Without a final slash: the server redirects any path ending in one to that.)
    for path in (
        "4040/jobs",
        "127.0.0.1:4040",
        "localhost:4040/jobs",
        f"{prefix.rsplit('/', 1)[1]}@127.0.0.1:22",
    ):
        response = server.request("GET", f"{BASE_URL}pyspark-kernel/sparkui/{path}")
        assert response.status == 404, path


def test_links_follow_a_restarted_session_and_a_dead_jvm(
    server: Server, kernel_id: str, prefix: str, work: dict[str, Any]
) -> None:
    """After ``%spark restart``, and after the driver JVM is killed and the next Spark cell
    builds a new session (a new JVM, maybe another port), the same link serves the new
    application's UI."""
    kernel = server.attach(kernel_id)
    try:
        run = kernel.run("%spark restart\nprint(spark.sparkContext.applicationId)", timeout=300)
        assert run.status == "ok", run.error
        restarted = run.stream("stdout").strip().splitlines()[-1]
        assert restarted != work["app_id"]
        status = json.loads(kernel.value("__import__('pyspark_kernel').status_json()"))
        assert status["ui_url"] == prefix
        assert [a["id"] for a in api(server, prefix, "applications")] == [restarted]
        jobs = server.request("GET", f"{prefix}/jobs/")
        assert jobs.status == 200 and JOB_DESCRIPTION not in jobs.text

        jvm = psutil.Process(kernel.jvm_pid())
        jvm.kill()
        deadline = time.monotonic() + 30  # a zombie until the kernel notices
        while jvm.is_running() and jvm.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        gone = server.request("GET", f"{prefix}/jobs/")
        assert gone.status in (502, 503), gone.status  # says so in one line; no hang
        assert "\n" not in gone.text.strip()
        run = kernel.run("print(spark.sparkContext.applicationId)", timeout=300)
        assert run.status == "ok", run.error
        rebuilt = run.stream("stdout").strip().splitlines()[-1]
        assert rebuilt not in (work["app_id"], restarted)
    finally:
        kernel.shutdown()
    assert [a["id"] for a in api(server, prefix, "applications")] == [rebuilt]
