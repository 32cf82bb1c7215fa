"""Where the kernel's Spark UI is shown: through the Jupyter server that started the kernel,
or at its own address.

The Jupyter server extension (`pyspark_kernel.serverext`) serves each of its ``pyspark``
kernels' Spark UI at ``{base_url}pyspark-kernel/sparkui/{kernel_id}/``. At load time it
puts its base URL and process id in the `SERVER_ENV` environment variable, which the
kernels it starts inherit. A kernel whose parent process is that server, and whose
connection file is named ``kernel-<id>.json`` (as Jupyter names them), shows that path
(a link without scheme and host: it works wherever the browser reaches the server); so
does the kernel of a notebook run by the server extension, whose runner passes the value on
with its own process id. Any other kernel (nbconvert, papermill, a terminal) shows the
Spark UI's own address, ``http://127.0.0.1:<port>``.

The Spark UI itself is not reconfigured: the proxy tells it the prefix per request
(``X-Forwarded-Context``), so its own address keeps working too.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVER_ENV = "PYSPARK_KERNEL_JUPYTER_SERVER"
"""Set by the server extension in its own process: ``{"base_url": "/...", "pid": N}``."""

UI_ROUTE = "pyspark-kernel/sparkui"
KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CONNECTION_FILE = re.compile(rf"^kernel-({KERNEL_ID})\.json$")


@dataclass(frozen=True)
class ServerPlace:
    """A kernel started by a Jupyter server that runs the extension."""

    base_url: str  # the server's base URL path, with leading and trailing slash
    kernel_id: str
    runtime_dir: str  # the folder of the kernel's connection file

    @property
    def ui_link(self) -> str:
        """The Spark UI through the server, e.g. ``/user/alice/pyspark-kernel/sparkui/<id>``."""
        return ui_prefix(self.base_url, self.kernel_id)


def ui_prefix(base_url: str, kernel_id: str) -> str:
    """The path under which the server serves the Spark UI of `kernel_id` (no final slash)."""
    return f"{normalize_base_url(base_url)}{UI_ROUTE}/{kernel_id}"


def normalize_base_url(base_url: str) -> str:
    """``user/alice`` → ``/user/alice/``; ``''`` → ``/``."""
    stripped = base_url.strip("/")
    return f"/{stripped}/" if stripped else "/"


def server_env_value(base_url: str, pid: int) -> str:
    """The value of `SERVER_ENV` for a server with `base_url` running as `pid`."""
    return json.dumps({"base_url": normalize_base_url(base_url), "pid": pid})


def kernel_id_of(connection_file: str | None) -> str | None:
    """The kernel id in a Jupyter connection file name (``kernel-<id>.json``), or None."""
    if not connection_file:
        return None
    match = _CONNECTION_FILE.match(Path(connection_file).name)
    return match.group(1) if match else None


def place_from(
    environ: Mapping[str, str], parent_pid: int, connection_file: str | None
) -> ServerPlace | None:
    """Where this kernel runs, from its environment, parent process and connection file:
    a `ServerPlace` when a server with the extension started it, else None."""
    raw = environ.get(SERVER_ENV, "")
    kernel_id = kernel_id_of(connection_file)
    if not raw or kernel_id is None or connection_file is None:
        return None
    try:
        value = json.loads(raw)
        base_url, pid = value["base_url"], value["pid"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(base_url, str) or not isinstance(pid, int) or pid != parent_pid:
        return None
    folder = str(Path(connection_file).resolve().parent)
    return ServerPlace(normalize_base_url(base_url), kernel_id, folder)


@functools.cache
def current_place() -> ServerPlace | None:
    """`place_from` for this process (fixed for its life: computed once)."""
    return place_from(os.environ, os.getppid(), _connection_file())


def shown_ui_url(direct: str | None) -> str | None:
    """The Spark UI link the kernel shows for a UI at `direct` (``http://127.0.0.1:4040``):
    the path through the Jupyter server when one started this kernel, else `direct`."""
    if not direct:
        return direct
    place = current_place()
    return place.ui_link if place is not None else direct


def _connection_file() -> str | None:
    """This kernel's connection file, or None outside an ipykernel kernel."""
    try:
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return None
    if not IPKernelApp.initialized():
        return None
    app = IPKernelApp.instance()
    path = str(getattr(app, "abs_connection_file", "") or app.connection_file or "")
    return path or None
