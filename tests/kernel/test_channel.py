"""The ``pyspark-kernel.v1`` comm channel over the Jupyter protocol (docs/channel.md)."""

import json
from pathlib import Path

import pyspark
import pytest

TARGET = "pyspark-kernel.v1"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channel"


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def comm(kernel):
    assert kernel.value("spark.range(1).count()") == 1  # the session is ready
    return kernel.open_comm(TARGET)


def test_open_pushes_status_and_streams(comm):
    status = comm.wait(lambda d: d.get("op") == "status" and d.get("push"))
    streams = comm.wait(lambda d: d.get("op") == "streams" and d.get("push"))
    assert status["ok"] is True and status["status"]["state"] == "ready"
    assert set(status) == set(fixture("status_push_starting.json"))
    assert isinstance(streams["queries"], list)


def test_status_answers_with_the_session_state(comm):
    reply = comm.request({"op": "status", "id": 1})
    expected = fixture("status_reply.json")
    assert set(reply) == set(expected) and set(reply["status"]) == set(expected["status"])
    assert reply["ok"] is True and reply["id"] == 1
    status = reply["status"]
    assert status["state"] == "ready" and status["version"] == pyspark.__version__
    assert status["remote"] is False and status["master"].startswith("local")
    assert status["app_id"].startswith("local-") and status["ui_url"]


def test_a_streaming_query_is_pushed_and_stop_stream_stops_it(kernel, comm):
    since = comm.mark()
    run = kernel.run(
        "chan_q = spark.readStream.format('rate').option('rowsPerSecond', 5).load()"
        ".writeStream.format('memory').queryName('chan_rate').start()"
    )
    assert run.status == "ok", run.error
    query_id = kernel.value("str(chan_q.id)")

    def active_with_batches(data):
        return data.get("op") == "streams" and any(
            q["id"] == query_id and q["state"] == "active" and q["batch_id"] is not None
            for q in data["queries"]
        )

    pushed = comm.wait(active_with_batches, since=since)
    (entry,) = [q for q in pushed["queries"] if q["id"] == query_id]
    assert entry["name"] == "chan_rate" and "stop_code" not in entry
    assert set(entry) == set(fixture("streams_push.json")["queries"][0])

    since = comm.mark()
    reply = comm.request({"op": "stop_stream", "id": "stop-1", "query": query_id})
    assert reply["ok"] is True, reply
    assert reply["stopped"] == [kernel.value("str(chan_q.runId)")]
    assert kernel.value("chan_q.isActive") is False
    stopped = comm.wait(
        lambda d: (
            d.get("op") == "streams"
            and any(q["id"] == query_id and q["state"] == "stopped" for q in d["queries"])
        ),
        since=since,
    )
    assert stopped["push"] is True


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"op": "nope", "id": 7}, "unknown op 'nope'"),
        ({"op": "status"}, "needs an id"),
        ({"op": "status", "id": True}, "needs an id"),
        ({"id": 3}, "needs an op"),
        ({"op": "stop_stream", "id": 4}, "missing argument 'query'"),
        ({"op": "stop_stream", "id": 5, "query": 5}, "must be str"),
        ({"op": "stop_stream", "id": 6, "query": "nope"}, "no active streaming query 'nope'"),
        ("not an object", "must be a JSON object"),
    ],
)
def test_bad_requests_get_ok_false_and_the_kernel_keeps_working(kernel, comm, request_, error):
    since = comm.mark()
    comm.send(request_)
    reply = comm.wait(lambda d: d.get("ok") is False, since=since, timeout=30)
    assert error in reply["error"]
    if (
        isinstance(request_, dict)
        and isinstance(request_.get("id"), int)
        and not isinstance(request_.get("id"), bool)
    ):
        assert reply["id"] == request_["id"]
    assert kernel.value("1 + 1") == 2


def test_error_fixture_shapes_match_the_kernel(comm):
    reply = comm.request({"op": "nope", "id": 7})
    assert set(reply) == set(fixture("error_unknown_op.json"))
    assert reply["error"].startswith("unknown op 'nope' (known: ")
