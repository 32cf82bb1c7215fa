"""End to end: Kafka → Spark (availableNow) → Parquet / quarantine / PostgreSQL upsert /
OpenSearch upsert.

One Spark subprocess with the Kafka connector runs four scenarios on their own topics,
checkpoints, databases and indices (``run_scenarios.py``): a clean run, a run stopped after
its first batch and restarted from the same checkpoint, a run whose driver (Python and JVM)
is killed with SIGKILL mid-stream and restarted from the same checkpoint in another driver,
and a run whose PostgreSQL and OpenSearch writers each fail right after writing their first
batch and is restarted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pipeline.expected import documents, quarantined_ids

from pyspark_kernel.pipeline import events as ev
from pyspark_kernel.pipeline import search

# One Spark subprocess for all scenarios: its setup can take minutes on a busy machine.
pytestmark = [
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.opensearch,
    pytest.mark.timeout(600),
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
N, BAD, DUP = 600, 0.1, 0.1
SCENARIOS = ("clean", "restart", "killed", "fault")


@pytest.fixture(scope="module")
def sent() -> list[ev.Message]:
    return ev.generate(N, seed=11, bad_share=BAD, duplicate_share=DUP)


@pytest.fixture(scope="module")
def results(broker, make_database, opensearch_node, sent, tmp_path_factory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("pipeline-e2e")
    scenarios = []
    for name in SCENARIOS:
        topic = f"e2e-{name}-{uuid.uuid4().hex[:8]}"
        ev.recreate_topic(broker.bootstrap, topic, partitions=2)
        report = ev.send(broker.bootstrap, topic, sent)
        assert report.acked == N and report.failed == 0
        scenarios.append({"name": name, "kind": name, "topic": topic,
                          "root": str(work / name), "url": make_database(),
                          "search_url": opensearch_node.url, "index": f"events-{topic}"})  # fmt: skip
    plan = work / "plan.json"
    plan.write_text(json.dumps({"bootstrap": broker.bootstrap, "scenarios": scenarios}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    done = subprocess.run(
        [sys.executable, str(HERE / "run_scenarios.py"), str(plan)],
        capture_output=True, text=True, timeout=540, env=env, check=False,
    )  # fmt: skip
    python_side = [line for line in done.stderr.splitlines() if not line.startswith("\tat ")]
    assert done.returncode == 0, "\n".join(python_side)[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_valid_event_is_in_parquet_exactly_once(results, sent, name):
    n_valid = ev.counts(sent)["valid"]
    facts = results[name]
    assert facts["parquet_count"] == facts["parquet_distinct"] == n_valid


@pytest.mark.parametrize("name", SCENARIOS)
def test_quarantine_holds_every_bad_record(results, sent, name):
    assert results[name]["quarantine_count"] == ev.counts(sent)["bad"]
    assert set(results[name]["quarantine_reasons"]) <= {"invalid_json", "missing_field",
                                                        "wrong_type"}  # fmt: skip


@pytest.mark.parametrize("name", SCENARIOS)
def test_postgres_equals_the_batch_aggregation(results, name):
    facts = results[name]
    assert facts["postgres"] and facts["postgres"] == facts["batch"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_search_index_holds_each_valid_event_once_in_its_last_version(results, sent, name):
    facts = results[name]
    expected = documents(sent)
    assert facts["search_count"] == len(expected) == ev.counts(sent)["valid"]
    assert facts["search_docs"] == expected
    bad_ids = quarantined_ids(sent)
    assert bad_ids and not bad_ids & set(facts["search_docs"])  # nothing of a bad record


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_search_index_has_the_mapping_created_up_front(results, name):
    # strict, keyword ids, a date event time: not what OpenSearch would guess from the
    # first documents (text ids with a keyword sub-field, no "dynamic": "strict")
    mapping = results[name]["search_mapping"]
    assert mapping == search.MAPPING
    assert mapping["properties"]["event_time"] == {"type": "date"}


def test_stopped_mid_stream_then_restarted_from_the_checkpoint(results):
    assert all(n >= 1 for n in results["restart"]["batches_before_stop"])
    assert len(results["restart"]["ledger"]) >= 2  # the sales went in over several batches
    assert results["restart"]["sales_rows"] == results["clean"]["sales_rows"]


def test_driver_killed_mid_stream_then_restarted_from_the_checkpoint(results):
    killed = results["killed"]
    assert killed["killed_mid_stream"] is True
    assert killed["sales_rows"] == results["clean"]["sales_rows"]


def test_a_failure_after_the_commit_is_replayed_without_changing_postgres_or_the_index(results):
    fault = results["fault"]
    assert fault["failed"] == ["sales_pg", "events_search"]
    assert fault["sales_rows"] == results["clean"]["sales_rows"]
    assert fault["search_docs"] == results["clean"]["search_docs"]
    # batch 0 ran twice (the replay was skipped by the ledger): same ledger as a clean run
    assert fault["ledger"] == results["clean"]["ledger"]
