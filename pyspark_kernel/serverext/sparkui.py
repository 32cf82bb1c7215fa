"""The Spark UI of this server's ``pyspark`` kernels, at
``{base_url}pyspark-kernel/sparkui/{kernel_id}/``, behind the server's authentication.

A small reverse proxy (GET and HEAD, whole bodies): the kernel id picks the kernel, the
kernel's status file gives its Spark UI port, and the request goes to ``127.0.0.1`` on that
port only; nothing in the URL names a host or a port. The Spark UI learns the prefix from
``X-Forwarded-Context`` (read by Spark's ``UIUtils.uiRoot``, as for Apache Knox), so every
link, script and REST call it builds stays under the prefix, and its own address keeps
working. Its redirects name its own address (``http://127.0.0.1:4040/jobs/``): they are
rewritten under the prefix. Bodies (gzip included) pass through unchanged, but for one
repair: a few of Spark 4.2's scripts load assets from root paths
(``loadScript('/static/d3.min.js')`` for the flame graph in the Executors page's thread
dump panel, the plan's CSS for an SVG download), which miss under any prefix; in scripts
from ``/static/`` such literals get the prefix.

jupyter-server-proxy's handlers were not used: installing it enables its
``{base_url}proxy/<port>/`` route to every local port, it routes by port rather than by
kernel, and it leaves absolute ``Location`` headers (the ones Spark sends) untouched.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import httpclient, web

import pyspark_kernel.serverext.kernels as kernels

from ..ui_proxy import KERNEL_ID, UI_ROUTE, ui_prefix

ROUTE = rf"{UI_ROUTE}/(?P<kernel_id>{KERNEL_ID})(?P<path>/.*)?"

# Request headers passed on to the Spark UI; everything else (cookies, the server's
# token, forwarded addresses) stays here.
FORWARDED_REQUEST_HEADERS = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "If-Modified-Since",
    "If-None-Match",
    "User-Agent",
)
# Response headers not passed back: hop-by-hop ones, lengths (recomputed), cookies.
DROPPED_RESPONSE_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "Content-Length",
        "Proxy-Authenticate",
        "Trailer",
        "Upgrade",
        "Set-Cookie",
        "Server",
        "Date",
    )
)
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 60.0  # a thread dump or a large stage page takes a while


def proxied_location(location: str, port: int, prefix: str) -> str:
    """A ``Location`` from the Spark UI on `port`, as a path under `prefix`.

    Spark's own address (``http://127.0.0.1:<port>/jobs/``) and paths (``/jobs/``) are
    moved under the prefix; paths already under it stay; other places are left alone."""
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        try:
            same = (
                parts.scheme in {"http", "https"}
                and parts.hostname in {kernels.LOOPBACK, "localhost"}
                and parts.port == port
            )
        except ValueError:
            same = False
        if not same:
            return location
    path = parts.path or "/"
    if not path.startswith("/"):
        return location  # relative: the browser resolves it under the prefix already
    if path != prefix and not path.startswith(prefix + "/"):
        path = prefix + path
    return urlunsplit(("", "", path, parts.query, parts.fragment))


# A string literal starting with ``/static/`` that is not appended to something
# (``uiRoot + "/static/..."`` is right as it is).
_ROOT_STATIC = re.compile(rb"""(?<![+\s])(\s*)(['"])/static/""")


def prefixed_static_literals(script: bytes, prefix: str) -> bytes:
    """`script` with its root-path ``'/static/...'`` literals moved under `prefix`."""
    return _ROOT_STATIC.sub(lambda m: m[1] + m[2] + prefix.encode() + b"/static/", script)


def _is_script(path: str) -> bool:
    return path.startswith("/static/") and path.endswith(".js")


def upstream_query(query: str) -> str:
    """The query string for Spark: the request's, without Jupyter's ``token``."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name == "token" for name, _ in pairs):
        return query
    return urlencode([(n, v) for n, v in pairs if n != "token"])


class SparkUIHandler(JupyterHandler):
    """Serves the Spark UI of one of this server's ``pyspark`` kernels."""

    auth_resource = "kernels"

    def initialize(self, runs: Any) -> None:
        self.runs = runs

    @web.authenticated
    @authorized(action="read", resource="kernels")
    async def get(self, kernel_id: str, path: str | None = None) -> None:
        await self._proxy(kernel_id, path or "/")

    @web.authenticated
    @authorized(action="read", resource="kernels")
    async def head(self, kernel_id: str, path: str | None = None) -> None:
        await self._proxy(kernel_id, path or "/")

    async def _proxy(self, kernel_id: str, path: str) -> None:
        kernel = kernels.find(self.kernel_manager, kernel_id, self.runs.list())
        if kernel is None:
            raise web.HTTPError(404, f"no pyspark kernel {kernel_id} on this server")
        port = kernel.ui_port
        if port is None:
            state = kernel.session.get("state", "starting")
            self.set_header("Retry-After", "5")
            raise web.HTTPError(
                503,
                f"the Spark UI of kernel {kernel_id} is not running (its Spark session is "
                f"{state}); it starts with the kernel's session",
            )
        prefix = ui_prefix(self.base_url, kernel_id)
        query = upstream_query(self.request.query)
        url = f"http://{kernels.LOOPBACK}:{port}{path}" + (f"?{query}" if query else "")
        headers = {
            name: self.request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in self.request.headers
        }
        if _is_script(path):  # read as text, to repair (`prefixed_static_literals`)
            headers.pop("Accept-Encoding", None)
            for name in ("If-Modified-Since", "If-None-Match"):
                headers.pop(name, None)
        headers["X-Forwarded-Context"] = prefix
        request = httpclient.HTTPRequest(
            url,
            method=self.request.method or "GET",
            headers=headers,
            follow_redirects=False,
            decompress_response=False,
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=REQUEST_TIMEOUT,
        )
        try:
            response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as exc:
            raise web.HTTPError(502, f"the Spark UI of kernel {kernel_id}: {exc}") from None
        if response.code == 599:  # no answer: the JVM died or the session is restarting
            raise web.HTTPError(
                502, f"the Spark UI of kernel {kernel_id} does not answer ({response.error})"
            )
        body = response.body or b""
        if _is_script(path) and response.code == 200 and "Content-Encoding" not in response.headers:
            body = prefixed_static_literals(body, prefix)
        self._relay(response, body, port, prefix)

    def _relay(
        self, response: httpclient.HTTPResponse, body: bytes, port: int, prefix: str
    ) -> None:
        self.set_status(response.code, response.reason)
        self.clear_header("Content-Type")
        seen: set[str] = set()
        for name, value in response.headers.get_all():
            lower = name.lower()
            if lower in DROPPED_RESPONSE_HEADERS:
                continue
            if lower == "location":
                value = proxied_location(value, port, prefix)
            if lower in seen:  # a repeated header
                self.add_header(name, value)
            else:  # Spark's value replaces the server's default, if any
                self.set_header(name, value)
                seen.add(lower)
        if body and self.request.method != "HEAD" and response.code not in (204, 304):
            self.write(body)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors of the proxy itself as one line of text (a page inside the Spark UI)."""
        self.clear_header("Content-Encoding")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.finish(f"{status_code} {self._reason}: {message}\n")
