"""Driving a real ``pyspark`` kernel over the Jupyter protocol, for tests and benchmarks."""

from __future__ import annotations

import os
import queue
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

KERNEL_NAME = os.environ.get("PYSPARK_KERNEL_TEST_KERNEL", "pyspark")


@dataclass
class CellRun:
    """What one executed cell sent back."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    def stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == name
        )

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of_type("error")
        return errors[0]["content"] if errors else None

    def data(self, mime: str) -> list[Any]:
        """Every payload of `mime` in display/execute_result messages, in order."""
        found = []
        for m in self.of_type("display_data", "execute_result", "update_display_data"):
            if mime in m["content"]["data"]:
                found.append(m["content"]["data"][mime])
        return found


class Kernel:
    """A started kernel and its client."""

    def __init__(
        self,
        kernel_name: str = KERNEL_NAME,
        env: Mapping[str, str | None] | None = None,
        extra_arguments: list[str] | None = None,
        cwd: str | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"kernel_name": kernel_name, "startup_timeout": 120}
        if cwd is not None:
            kwargs["cwd"] = cwd
        if env is not None:  # added to this process's environment; None removes a variable
            merged = {**os.environ, **env}
            kwargs["env"] = {k: v for k, v in merged.items() if v is not None}
        if extra_arguments:
            kwargs["extra_arguments"] = extra_arguments
        self.manager, self.client = start_new_kernel(**kwargs)
        self.comm_inbox: dict[str, list[dict[str, Any]]] = {}  # comm id -> data received

    @property
    def km(self) -> KernelManager:
        return self.manager

    @property
    def kc(self) -> BlockingKernelClient:
        return self.client

    def run(
        self,
        code: str,
        timeout: float = 180.0,
        during: Callable[[float, list[dict[str, Any]]], None] | None = None,
        **execute_args: Any,
    ) -> CellRun:
        """Execute `code`, collect its IOPub messages until idle, return them with the reply.

        `during(elapsed, messages_so_far)` is called about every 0.1 s while the cell runs.
        """
        msg_id = self.client.execute(code, **execute_args)
        started = time.monotonic()
        messages: list[dict[str, Any]] = []
        while True:
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:80]!r}")
            if during is not None:
                during(elapsed, messages)
            try:
                msg = self.client.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            self._keep_comm_message(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        reply = self.client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=30)
        return CellRun(reply, messages, time.monotonic() - started)

    def value(self, expression: str) -> Any:
        """Evaluate a Python expression in the kernel and return its value (via repr)."""
        import ast

        run = self.run(f"print(repr({expression}))")
        assert run.status == "ok", run.error
        return ast.literal_eval(run.stream("stdout").strip())

    def kernel_pid(self) -> int:
        return int(self.value("__import__('os').getpid()"))

    def jvm_pid(self) -> int | None:
        return self.value("__import__('pyspark_kernel').current().session.jvm_pid")

    def _keep_comm_message(self, msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "comm_msg":
            content = msg["content"]
            data = dict(content["data"])
            if msg.get("buffers"):
                data["__buffers__"] = [bytes(b) for b in msg["buffers"]]
            self.comm_inbox.setdefault(content["comm_id"], []).append(data)

    def pump(self, seconds: float) -> None:
        """Read IOPub for `seconds`, keeping comm messages (other messages are dropped)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self._keep_comm_message(self.client.get_iopub_msg(timeout=min(left, 0.1)))
            except queue.Empty:
                continue

    def open_comm(self, target: str, subshell: bool = False) -> Comm:
        """Open a comm; with `subshell`, on a new kernel subshell (as JupyterLab does), so
        its messages are served while a cell runs."""
        return Comm(self, target, self.create_subshell() if subshell else None)

    def create_subshell(self) -> str:
        client = self.client
        msg = client.session.msg("create_subshell_request", {})
        client.control_channel.send(msg)
        while True:
            reply = client.control_channel.get_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return str(reply["content"]["subshell_id"])

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


class Comm:
    """A comm opened by this client, as a frontend opens one."""

    def __init__(self, kernel: Kernel, target: str, subshell: str | None = None) -> None:
        self.kernel = kernel
        self.id = uuid.uuid4().hex
        self.subshell = subshell
        self._send("comm_open", {"comm_id": self.id, "target_name": target, "data": {}})

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        client = self.kernel.client
        msg = client.session.msg(msg_type, content)
        if self.subshell is not None:
            msg["header"]["subshell_id"] = self.subshell
        client.shell_channel.send(msg)

    def send(self, data: Any) -> None:
        self._send("comm_msg", {"comm_id": self.id, "data": data})

    def close(self) -> None:
        self._send("comm_close", {"comm_id": self.id, "data": {}})

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.kernel.comm_inbox.get(self.id, [])

    def mark(self) -> int:
        """How many messages were received so far (for `wait`'s `since`)."""
        return len(self.received)

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0, since: int = 0
    ) -> dict[str, Any]:
        """The first message received (after the first `since`) that matches."""
        end = time.monotonic() + timeout
        while True:
            for data in self.received[since:]:
                if predicate(data):
                    return data
            if time.monotonic() > end:
                raise TimeoutError(f"no matching comm message in {timeout} s: {self.received[-5:]}")
            self.kernel.pump(0.2)

    def request(self, data: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        """Send a request and return its reply (pushes and a chunked op's intermediate
        messages, which have no ``ok``, are skipped)."""
        self.send(data)
        return self.wait(
            lambda d: "ok" in d and not d.get("push") and d.get("id") == data.get("id"), timeout
        )
