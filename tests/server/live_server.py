"""A real Jupyter server for the server extension's tests: started with a base URL and a
token as JupyterHub and Binder start it, with the extension enabled the way a plain
``pip install`` enables it (``etc/jupyter/jupyter_server_config.d``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyter_client.blocking.client import BlockingKernelClient
from kernel_client import Kernel

BASE_URL = "/user/alice/"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    host: str  # http://127.0.0.1:PORT
    base_url: str
    token: str
    root: Path
    runtime: Path
    process: subprocess.Popen[bytes]
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Response:
        """One request, redirects not followed. `path` is relative to the base URL unless it
        starts with ``/``; `token` None sends no credentials ('' sends the server's)."""
        target = path if path.startswith("/") else f"{self.base_url}{path}"
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"token {token or self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        parts = urlsplit(self.host)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            conn.request(method, target, body=data, headers=sent)
            response = conn.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            conn.close()

    def start_kernel(self, name: str = "pyspark") -> str:
        created = self.request("POST", "api/kernels", {"name": name})
        assert created.status == 201, created.text
        return str(created.json()["id"])

    def attach(self, kernel_id: str) -> AttachedKernel:
        """A protocol client of one of the server's kernels (its connection file)."""
        return AttachedKernel(self.runtime / f"kernel-{kernel_id}.json")

    def shutdown_kernel(self, kernel_id: str) -> None:
        self.request("DELETE", f"api/kernels/{kernel_id}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class AttachedKernel(Kernel):
    """`Kernel`'s cell helpers over a client of a kernel the server started."""

    def __init__(self, connection_file: Path, timeout: float = 180.0) -> None:
        client = BlockingKernelClient(connection_file=str(connection_file))
        client.load_connection_file()
        client.start_channels()
        deadline = time.monotonic() + timeout
        while True:  # a kernel still starting has no heartbeat yet: "died before replying"
            try:
                client.wait_for_ready(timeout=max(1.0, deadline - time.monotonic()))
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.client = client

    def shutdown(self) -> None:  # the server owns the kernel
        self.client.stop_channels()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    base: Path,
    *args: str,
    env: dict[str, str] | None = None,
    app: str = "server",
    base_url: str = BASE_URL,
    jupyter: Sequence[str] = (sys.executable, "-m", "jupyter"),
    inherit: Mapping[str, str] | None = None,
) -> Server:
    """A ``jupyter server`` (or ``jupyter lab``: `app`) under `base_url` with a random
    token, its root `base`/root. `jupyter` is the command that runs Jupyter's apps (this
    Python's by default) and `inherit` the environment `env` is added to (this process's
    by default)."""
    root, runtime = base / "root", base / "runtime"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    environ = {
        **(os.environ if inherit is None else inherit),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "JUPYTER_RUNTIME_DIR": str(runtime),
        **(env or {}),
    }
    log = base / f"jupyter-{app}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *jupyter, app, "--no-browser", "--ip=127.0.0.1",
                f"--port={port}", f"--IdentityProvider.token={token}",
                f"--ServerApp.base_url={base_url}", f"--ServerApp.root_dir={root}",
                "--ServerApp.port_retries=0", *args,
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            stdout=out, stderr=subprocess.STDOUT, env=environ, cwd=root,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", base_url, token, root, runtime, process, log)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter server exited with {process.returncode}:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError):
            if server.request("GET", "api/status", timeout=2).status == 200:
                break
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"jupyter {app} did not answer in 90 s:\n{server.log_tail()}")
        time.sleep(0.25)
    return server


def stop_server(server: Server) -> None:
    """Shut down the kernels, then the server; kill whatever it started that is left."""
    import psutil

    try:
        started = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        started = []
    if server.process.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            for kernel in server.request("GET", "api/kernels", timeout=10).json():
                server.request("DELETE", f"api/kernels/{kernel['id']}", timeout=30)
        try:
            server.request("POST", "api/shutdown", timeout=30)
        except OSError:
            server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    _gone, alive = psutil.wait_procs(started, timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)
