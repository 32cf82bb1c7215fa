"""Messages the kernel must refuse, and output it must never lose or reorder."""

import json
import os
import stat
import time
from pathlib import Path

import pytest
import zmq
from jupyter_client.session import Session


@pytest.fixture
def raw_shell(kernel):
    """A DEALER socket on the kernel's shell channel, and a correctly keyed Session."""
    info = kernel.km.get_connection_info()
    context = zmq.Context.instance()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"{info['transport']}://{info['ip']}:{info['shell_port']}")
    session = Session(key=info["key"], signature_scheme=info["signature_scheme"])
    yield sock, session
    sock.close()


def frames(session, code, *, key=None, header=None):
    """The wire frames of an execute_request, signed with `key` (None: the right key)."""
    msg = session.msg(
        "execute_request",
        {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )
    parts = [
        header if header is not None else session.pack(msg["header"]),
        session.pack(msg["parent_header"]),
        session.pack(msg["metadata"]),
        session.pack(msg["content"]),
    ]
    signer = session if key is None else Session(key=key, signature_scheme=session.signature_scheme)
    return [b"<IDS|MSG>", signer.sign(parts), *parts]


def marker_code(path):
    return f"open({str(path)!r}, 'a').write('x')"


def no_reply(sock, seconds=2.0):
    return sock.poll(int(seconds * 1000)) == 0


FORGERIES = {
    "wrong key": lambda s, code: frames(s, code, key=b"not-the-key"),
    "unsigned": lambda s, code: [b"<IDS|MSG>", b"", *frames(s, code)[2:]],
    "truncated": lambda s, code: frames(s, code)[:4],
    "non-JSON header": lambda s, code: frames(s, code, header=b"{not json"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_execute_requests_are_never_executed(kernel, raw_shell, tmp_path, forgery):
    sock, session = raw_shell
    marker = tmp_path / "marker"
    sock.send_multipart(FORGERIES[forgery](session, marker_code(marker)))
    assert no_reply(sock), f"the kernel answered a message with {forgery}"
    assert not marker.exists()
    assert kernel.value("1 + 1") == 2  # and it keeps answering signed requests


def test_replayed_request_runs_once(kernel, raw_shell, tmp_path):
    sock, session = raw_shell
    marker = tmp_path / "marker"
    wire = frames(session, marker_code(marker))
    sock.send_multipart(wire)
    assert sock.poll(30_000), "the genuine request got no reply"
    sock.recv_multipart()
    sock.send_multipart(wire)  # the same bytes again
    assert no_reply(sock)
    assert marker.read_text() == "x"
    assert kernel.value("2 + 2") == 4


def test_connection_file_is_private(kernel):
    mode = stat.S_IMODE(os.stat(kernel.km.connection_file).st_mode)
    assert mode == 0o600


def test_ten_thousand_interleaved_lines_arrive_in_order_before_idle(kernel):
    run = kernel.run(
        "import sys\nfor i in range(10000):\n    print(f'o{i}')\n    print(f'e{i}', file=sys.stderr)"
    )
    assert run.status == "ok"
    assert run.stream("stdout").splitlines() == [f"o{i}" for i in range(10000)]
    assert run.stream("stderr").splitlines() == [f"e{i}" for i in range(10000)]


def test_output_of_a_thread_lands_in_the_cell_running_when_it_writes(kernel):
    run = kernel.run(
        "import threading\n"
        "t = threading.Thread(target=lambda: print('from a thread'))\n"
        "t.start(); t.join()"
    )
    assert run.stream("stdout") == "from a thread\n"


def test_hundred_requests_back_to_back_are_answered_in_order(kernel):
    ids = [kernel.kc.execute(f"n_{i} = {i}") for i in range(100)]
    replies = []
    while len(replies) < 100:
        reply = kernel.kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") in ids:
            replies.append(reply)
    assert [r["parent_header"]["msg_id"] for r in replies] == ids
    counts = [r["content"]["execution_count"] for r in replies]
    assert counts == list(range(counts[0], counts[0] + 100))
    assert all(r["content"]["status"] == "ok" for r in replies)


def test_stop_on_error_aborts_the_queue(kernel, tmp_path):
    marker = tmp_path / "after-error"
    ids = [
        kernel.kc.execute("ok_before = 1"),
        kernel.kc.execute("raise RuntimeError('stop here')", stop_on_error=True),
        kernel.kc.execute(marker_code(marker)),
        kernel.kc.execute("ok_after = 1"),
    ]
    statuses = {}
    while len(statuses) < 4:
        reply = kernel.kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") in ids:
            statuses[reply["parent_header"]["msg_id"]] = reply["content"]["status"]
    assert [statuses[i] for i in ids] == ["ok", "error", "aborted", "aborted"]
    assert not marker.exists()
    time.sleep(0.2)
    assert kernel.value("'ok_after' in dir()") is False


def test_hmac_key_is_in_no_command_line_environment_or_output(kernel):
    key = kernel.km.get_connection_info()["key"].decode()
    import psutil

    kernel_proc = psutil.Process(kernel.kernel_pid())
    assert kernel.value("spark.range(1).count()") == 1
    jvm = kernel.jvm_pid()
    for proc in [kernel_proc, *kernel_proc.children(recursive=True)]:
        try:
            cmdline, environ = proc.cmdline(), proc.environ()
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue  # spark-submit's launcher, exited and not yet reaped by the JVM
        assert key not in " ".join(cmdline)
        assert key not in json.dumps(environ)
    assert jvm in [p.pid for p in kernel_proc.children(recursive=True)]
    run = kernel.run("%spark\nimport os; print(os.environ.get('JPY_SESSION_NAME'))")
    assert key not in json.dumps([m["content"] for m in run.messages])
    assert Path(kernel.km.connection_file).read_text().count(key) == 1
