"""The ``pyspark-kernel.v1`` comm: how the JupyterLab extension asks the kernel things and
hears about changes without running code (protocol in docs/channel.md).

Requests ``{"op", "id", ...}`` get one reply echoing ``op`` and ``id`` with ``ok`` (and
``error``); ops are plain functions registered by name, and none runs code taken from a
message. Pushes (``status``, ``streams``) go to every open comm. Handlers may run on a
kernel subshell while a cell runs, so they must be thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pyspark_kernel.errors as errors
import pyspark_kernel.jvmcalls as jvmcalls

from .api import ChannelError
from .session import SessionManager

log = logging.getLogger(__name__)

TARGET = "pyspark-kernel.v1"
MAX_COMMS = 32
PUSH_INTERVAL = 0.25  # seconds between two pushes of one op: at most 4 per second

Handler = Callable[[dict[str, Any]], dict[str, Any]]
# A handler that also sends intermediate messages (with binary buffers) before its reply:
# it gets `send(message, buffers)`, and every message it sends carries the request's op/id.
ChunkedHandler = Callable[
    [dict[str, Any], Callable[[dict[str, Any], list[bytes]], None]], dict[str, Any]
]


class Channel:
    """The comm target: op dispatch, validation and pushes."""

    def __init__(self, session: SessionManager) -> None:
        self.session = session
        self._ops: dict[str, Handler] = {}
        self._chunked: dict[str, ChunkedHandler] = {}
        self._comms: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pushers: dict[str, _Pusher] = {}
        self._manager: Any = None
        self.add_op("status", lambda request: {"status": self.status()})

    # -- wiring ------------------------------------------------------------------------------
    def register(self) -> None:
        """Register the comm target with the kernel's comm manager; push status changes."""
        from comm import get_comm_manager

        self._manager = get_comm_manager()
        self._manager.register_target(TARGET, self._on_open)
        self.session.listen(self._status_changed)

    def unregister(self) -> None:
        """Undo `register`: no target, no listener, every comm of ours closed."""
        if self._status_changed in self.session.listeners:
            self.session.listeners.remove(self._status_changed)
        if self._manager is not None:
            self._manager.unregister_target(TARGET, self._on_open)
            self._manager = None
        for pusher in self._pushers.values():
            pusher.close()
        with self._lock:
            comms = list(self._comms.values())
            self._comms.clear()
        for comm in comms:
            try:
                comm.close()
            except Exception:
                log.debug("could not close a comm", exc_info=True)

    def add_op(self, name: str, handler: Handler) -> None:
        """Serve requests for `name` with `handler` (request -> result fields)."""
        self._ops[name] = handler

    def add_chunked_op(self, name: str, handler: ChunkedHandler) -> None:
        """Serve `name` with a handler that sends intermediate messages before its reply."""
        self._chunked[name] = handler
        self._ops[name] = lambda request: handler(request, _no_send)

    @property
    def open_comms(self) -> int:
        with self._lock:
            return len(self._comms)

    # -- requests ----------------------------------------------------------------------------
    def handle(self, request: Any, serve: Handler | None = None) -> dict[str, Any]:
        """The reply to one request (never raises); `serve` stands in for the op's handler."""
        if not isinstance(request, dict):
            return _error(None, None, "a request must be a JSON object")
        op, rid = request.get("op"), request.get("id")
        if not isinstance(op, str):
            return _error(None, rid if _valid_id(rid) else None, "a request needs an op (string)")
        if not _valid_id(rid):
            return _error(op, None, "a request needs an id (string or integer)")
        handler = serve if serve is not None else self._ops.get(op)
        if handler is None or op not in self._ops:
            return _error(op, rid, f"unknown op {op!r} (known: {', '.join(sorted(self._ops))})")
        try:
            with jvmcalls.internal(), self.session.frontend_request():
                result = handler(request)
        except ChannelError as exc:
            return _error(op, rid, str(exc))
        except Exception as exc:  # a Spark error, a dead JVM: one readable line
            log.debug("channel op %s failed", op, exc_info=True)
            return _error(op, rid, f"{type(exc).__name__}: {errors.headline(exc)}")
        return {**result, "op": op, "id": rid, "ok": True}

    def _on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        with self._lock:
            self._comms[comm.comm_id] = comm
            while len(self._comms) > MAX_COMMS:
                self._comms.popitem(last=False)
        comm.on_msg(lambda message: self._on_msg(comm, message))
        comm.on_close(lambda message: self._forget(comm))
        self._send(comm, self._push_message("status", {"status": self.status()}))
        streams = self._ops.get("streams")
        if streams is not None:
            self._send(comm, self._push_message("streams", streams({})))

    def _on_msg(self, comm: Any, msg: dict[str, Any]) -> None:
        request = (msg.get("content") or {}).get("data")
        op = request.get("op") if isinstance(request, dict) else None
        chunked = self._chunked.get(op) if isinstance(op, str) else None
        if chunked is None or not isinstance(request, dict):
            self._send(comm, self.handle(request))
            return
        ids = {"op": op, "id": request.get("id")}

        def send(message: dict[str, Any], buffers: list[bytes]) -> None:
            comm.send({**message, **ids}, buffers=buffers)

        self._send(comm, self.handle(request, lambda r: chunked(r, send)))

    def _forget(self, comm: Any) -> None:
        with self._lock:
            self._comms.pop(comm.comm_id, None)

    # -- pushes ------------------------------------------------------------------------------
    def push(self, op: str, result: Callable[[], dict[str, Any]]) -> None:
        """Send ``result()`` to every open comm as a push of `op`, at most 4 times a second
        (calls in between are coalesced into one, sent with the newest result)."""
        with self._lock:
            pusher = self._pushers.get(op)
            if pusher is None:
                pusher = self._pushers[op] = _Pusher(lambda: self._broadcast(op, result()))
        pusher.request()

    def _broadcast(self, op: str, result: dict[str, Any]) -> None:
        with self._lock:
            comms = list(self._comms.values())
        message = self._push_message(op, result)
        for comm in comms:
            self._send(comm, message)

    def _status_changed(self) -> None:
        self.push("status", lambda: {"status": self.status()})

    def status(self) -> dict[str, Any]:
        """The ``status`` op's fields (docs/channel.md)."""
        with jvmcalls.internal():
            info = self.session.info()
        return {
            "state": info.state,
            "master": info.master,
            "remote": self.session.is_remote,
            "app_id": info.app_id,
            "ui_url": info.ui_url,
            "version": info.version,
            "error": info.error,
        }

    @staticmethod
    def _push_message(op: str, result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "op": op, "push": True, "ok": True}

    @staticmethod
    def _send(comm: Any, message: dict[str, Any]) -> None:
        try:
            comm.send(message)
        except Exception:
            log.debug("could not send on comm %s", getattr(comm, "comm_id", "?"), exc_info=True)


class _Pusher:
    """Runs `send` at most every `PUSH_INTERVAL` seconds; requests in between coalesce."""

    def __init__(self, send: Callable[[], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer: threading.Timer | None = None

    def request(self) -> None:
        with self._lock:
            if self._timer is not None:
                return  # a send is already scheduled; it will carry the newest result
            wait = self._last + PUSH_INTERVAL - time.monotonic()
            self._timer = threading.Timer(max(0.0, wait), self._run)
            self._timer.daemon = True
            self._timer.start()

    def _run(self) -> None:
        with self._lock:
            self._timer = None
            self._last = time.monotonic()
        try:
            self._send()
        except Exception:
            log.exception("channel push failed")

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


def _no_send(message: dict[str, Any], buffers: list[bytes]) -> None:
    """Intermediate messages go nowhere when a chunked op is called without a comm."""


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _error(op: str | None, rid: Any, message: str) -> dict[str, Any]:
    return {"op": op, "id": rid, "ok": False, "error": message}
