"""Benchmarks 5 and 6: streaming throughput (kernel vs ``spark-submit``) and end-to-end latency.

5. N events (the project's generator: a share of bad records and resent duplicates) go into a
   fresh topic of the local broker; then each runner times the same `stream_job.run`: Kafka →
   parse → valid, deduplicated events → Parquet with ``trigger(availableNow=True)`` from the
   earliest offset. The kernel runs it in a cell after ``%spark packages kafka`` and
   ``%spark restart``; ``spark-submit`` (pyspark's own script) runs it as a script with the
   same connector jars (``--jars``, no ``--packages``) and the same Spark settings.
6. Latency in the kernel: a query with a 100 ms trigger writes valid events into a memory
   table; a cell produces one event and polls ``spark.table(...)`` until it is there.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import stream_job
from .harness import PYSPARK, BenchKernel, log, ratio, summarize

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
JOB = HERE / "stream_job.py"
TOPIC_PARTITIONS = 2  # one Kafka partition per local[2] core
LATENCY_TRIGGER = "100 milliseconds"
SUBMIT = "spark-submit"


class Broker:
    """The suite's Kafka broker: ``$KAFKA_BOOTSTRAP_SERVERS``, one already running in the
    suite's folder, or one started (and later stopped) by the suite."""

    def __init__(self, folder: Path = OUT / "kafka") -> None:
        self.folder = folder
        self.bootstrap = ""
        self.broker: Any = None
        self.info: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        from pyspark_kernel.services.kafka import ENV_BOOTSTRAP, KafkaBroker

        external = os.environ.get(ENV_BOOTSTRAP, "").strip()
        if external:
            self.bootstrap = external
            self.info = {"source": f"${ENV_BOOTSTRAP}", "start_s": None}
            return self.info
        broker = KafkaBroker(self.folder)
        if broker.status() is not None:
            self.bootstrap = broker.bootstrap
            self.info = {"source": "already running", "start_s": None}
            return self.info
        shutil.rmtree(self.folder, ignore_errors=True)  # fresh storage: format + start
        started = time.monotonic()
        self.bootstrap = broker.start()
        self.broker = broker
        self.info = {
            "source": "started by the suite (fresh data folder: storage format + start)",
            "start_s": round(time.monotonic() - started, 2),
        }
        log(f"  Kafka broker at {self.bootstrap} started in {self.info['start_s']:.1f} s")
        return self.info

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def produce(bootstrap: str, count: int, topic: str) -> dict[str, Any]:
    """`count` generated records into a fresh `topic`; what the broker acknowledged."""
    from pyspark_kernel.pipeline import events

    messages = events.generate(count, seed=7)
    events.recreate_topic(bootstrap, topic, partitions=TOPIC_PARTITIONS)
    report = events.send(bootstrap, topic, messages, linger_ms=50, batch_size=256 * 1024)
    unique = len({m.event["event_id"] for m in messages if m.kind == "valid" and m.event})
    out = {**report.as_dict(), "unique_valid": unique, "errors": report.errors[:3]}
    log(f"  produced {report.acked:,} records to {topic} in {report.seconds:.1f} s")
    return out


def configure_kernel(kernel: BenchKernel) -> float:
    """Give the pyspark kernel the job's settings and the Kafka connector; seconds taken."""
    conf = " ".join(f"{k}={v}" for k, v in stream_job.SPARK_CONF.items())
    kernel.ok(f"%spark config master={stream_job.MASTER} {conf}")
    kernel.ok("%spark packages kafka")
    cell = kernel.ok("%spark restart", timeout=600)
    kernel.ok("spark.range(1).count()")  # the new session answers
    return round(cell.seconds, 2)


def in_kernel(kernel: BenchKernel, bootstrap: str, topic: str, root: Path) -> dict[str, Any]:
    code = (
        "import runpy as _bench_runpy\n"
        f"_bench_job = _bench_runpy.run_path({str(JOB)!r})\n"
        f"print(repr(_bench_job['run'](spark, {bootstrap!r}, {topic!r}, {str(root)!r})))"
    )
    cell = kernel.ok(code, timeout=900)
    result: dict[str, Any] = ast.literal_eval(cell.stdout().strip().splitlines()[-1])
    result["cell_s"] = round(cell.kernel_seconds, 3)
    return result


def spark_submit_path() -> str:
    """The ``spark-submit`` script pyspark installs next to this Python."""
    beside = Path(sys.executable).parent / "spark-submit"
    return str(beside) if beside.exists() else (shutil.which("spark-submit") or "spark-submit")


def by_spark_submit(
    bootstrap: str, topic: str, root: Path, passes: int, log_dir: Path
) -> list[dict[str, Any]]:
    from pyspark_kernel.services.jars import spark_kafka_connector_jars

    jars = ",".join(str(p) for p in spark_kafka_connector_jars())
    cmd = [spark_submit_path(), "--master", stream_job.MASTER, "--jars", jars]
    for key, value in stream_job.SPARK_CONF.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += [str(JOB), bootstrap, topic, str(root), str(passes)]
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": str(HERE.parent),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"spark-submit-{int(time.time() * 1000)}.log"
    started = time.monotonic()
    with open(log_file, "w") as fh:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=fh, text=True, env=env, timeout=900
        )
    wall = time.monotonic() - started
    lines = [x for x in proc.stdout.splitlines() if x.startswith(stream_job.RESULT_PREFIX)]
    if proc.returncode != 0 or len(lines) != passes:
        raise RuntimeError(f"spark-submit exited {proc.returncode}; see {log_file}")
    results = [json.loads(line[len(stream_job.RESULT_PREFIX) :]) for line in lines]
    for result in results:
        result["process_wall_s"] = round(wall, 3)
    return results


def _rates(run: dict[str, Any], valid: int) -> dict[str, Any]:
    run["valid_events_per_s"] = round(valid / run["query_wall_s"], 1)
    run["records_per_s"] = round(run["input_rows"] / run["query_wall_s"], 1)
    if run.get("trigger_execution_s"):
        run["records_per_s_progress"] = round(run["input_rows"] / run["trigger_execution_s"], 1)
    return run


def throughput(
    kernel: BenchKernel, broker: Broker, events: int, passes: int, log_dir: Path
) -> dict[str, Any]:
    topic = f"bench-stream-{int(time.time())}"
    produced = produce(broker.bootstrap, events, topic)
    restart_s = configure_kernel(kernel)
    valid = produced["unique_valid"]
    samples: dict[str, list[dict[str, Any]]] = {}
    root = OUT / "stream"
    samples[PYSPARK] = [
        in_kernel(kernel, broker.bootstrap, topic, root / PYSPARK / str(i)) for i in range(passes)
    ]
    samples[SUBMIT] = by_spark_submit(broker.bootstrap, topic, root / SUBMIT, passes, log_dir)
    for name, rows in samples.items():
        for i, row in enumerate(rows):
            row["pass"] = i
            _rates(row, valid)
            log(
                f"  {name} pass {i}: {row['valid_events_per_s']:,.0f} valid events/s "
                f"({row['query_wall_s']:.1f} s, {row['rows_written']:,} rows written)"
            )
    first, last = (
        {name: rows[i]["valid_events_per_s"] for name, rows in samples.items()} for i in (0, -1)
    )
    return {
        "description": (
            "Kafka → parse → valid events, deduplicated within the watermark → Parquet, "
            "trigger(availableNow=True) from the earliest offset; the same function "
            "(benchmarks/stream_job.py) in the pyspark kernel and under spark-submit, "
            f"master {stream_job.MASTER}, {stream_job.SPARK_CONF}, {passes} passes over the "
            "same topic in each (fresh checkpoint and output each pass; pass 0 is the first "
            "Kafka query in that JVM). Query wall time: from building the query's DataFrame "
            "to awaitTermination() returning."
        ),
        "topic": topic,
        "topic_partitions": TOPIC_PARTITIONS,
        "passes": passes,
        "produced": produced,
        "kernel_restart_with_kafka_s": restart_s,
        "samples": samples,
        "exactly_once": all(
            r["rows_written"] == r["distinct_event_ids_written"] == valid
            for rows in samples.values()
            for r in rows
        ),
        "ratio_kernel_over_spark_submit_first_pass": ratio(first[PYSPARK], first[SUBMIT]),
        "ratio_kernel_over_spark_submit_last_pass": ratio(last[PYSPARK], last[SUBMIT]),
    }


LATENCY_SETUP = """
import json as _bench_json, random as _bench_random, time as _bench_time, warnings as _bench_w
from datetime import datetime as _bench_dt, timezone as _bench_tz
from pyspark.sql import functions as _bench_F
from pyspark_kernel.pipeline import events as _bench_events, parse as _bench_parse, streams as _bench_streams
with _bench_w.catch_warnings():
    _bench_w.simplefilter('ignore', DeprecationWarning)
    from kafka import KafkaProducer as _BenchProducer
_bench_producer = _BenchProducer(bootstrap_servers={bootstrap!r}, acks='all', linger_ms=0)
_bench_lat_query = (
    _bench_parse.valid(_bench_parse.parse(_bench_streams.read_kafka(spark, {bootstrap!r}, {topic!r})))
    .select('event_id')
    .writeStream.queryName('bench_latency').format('memory').outputMode('append')
    .option('checkpointLocation', {checkpoint!r})
    .trigger(processingTime={trigger!r})
    .start()
)
_bench_rng = _bench_random.Random(1)
def _bench_latency_once():
    event = _bench_events.make_event(_bench_rng, 'sale', _bench_dt.now(_bench_tz.utc))
    table = spark.table('bench_latency')
    sent = _bench_time.monotonic()
    _bench_producer.send({topic!r}, key=event['user_id'].encode(), value=_bench_json.dumps(event).encode()).get(30)
    acked = _bench_time.monotonic()
    polls = 0
    while _bench_time.monotonic() - sent < 60:
        polls += 1
        if table.where(_bench_F.col('event_id') == event['event_id']).limit(1).count():
            return (round(_bench_time.monotonic() - sent, 4), round(acked - sent, 4), polls)
    raise TimeoutError('event not visible after 60 s')
"""


def latency(kernel: BenchKernel, broker: Broker, samples: int, warmup: int = 2) -> dict[str, Any]:
    topic = f"bench-latency-{int(time.time())}"
    from pyspark_kernel.pipeline import events

    events.recreate_topic(broker.bootstrap, topic, partitions=1)
    checkpoint = OUT / "stream" / "latency-checkpoint"
    shutil.rmtree(checkpoint, ignore_errors=True)
    kernel.ok(
        LATENCY_SETUP.format(
            bootstrap=broker.bootstrap,
            topic=topic,
            checkpoint=str(checkpoint),
            trigger=LATENCY_TRIGGER,
        )
    )
    rows: list[tuple[float, float, int]] = []
    try:
        for i in range(warmup + samples):
            value = kernel.value("_bench_latency_once()", timeout=120)
            if i >= warmup:
                rows.append(value)
    finally:
        kernel.run("_bench_lat_query.stop(); _bench_producer.close()")
    visible = [r[0] for r in rows]
    log(f"  latency: median {summarize(visible)['median_ms']:.0f} ms over {len(rows)} events")
    return {
        "description": (
            f"In the pyspark kernel: a query (trigger processingTime {LATENCY_TRIGGER}) parses "
            "the topic's valid events into a memory table; each timed cell produces one event "
            "(acks=all, waits for the ack) and polls spark.table(...) with a filtered count "
            f"until the event is visible. {warmup} warm-up events are not counted."
        ),
        "topic": topic,
        "trigger": LATENCY_TRIGGER,
        "samples_s": visible,
        "produce_ack_s": [r[1] for r in rows],
        "polls": [r[2] for r in rows],
        "produce_to_visible": summarize(visible),
        "produce_to_ack": summarize([r[1] for r in rows]),
    }


def run(
    kernels: dict[str, BenchKernel],
    broker: Broker,
    events: int,
    passes: int,
    latency_samples: int,
    log_dir: Path,
) -> dict[str, Any]:
    kernel = kernels[PYSPARK]
    result: dict[str, Any] = {"throughput": throughput(kernel, broker, events, passes, log_dir)}
    result["latency"] = latency(kernel, broker, latency_samples)
    return result
