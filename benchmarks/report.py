"""The Markdown summary (README.md) and the plot (preview_vs_rows.png) of a results file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from .harness import PLAIN, PYSPARK
from .preview import power


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def write_readme(results: dict[str, Any], path: Path) -> None:
    env = results["environment"]
    m, v = env["machine"], env["versions"]
    mode = "quick (`--quick`)" if results["quick"] else "full"
    lines = [
        "# Benchmarks: `pyspark` kernel vs plain `python3` ipykernel",
        "",
        f"Measured on {env['date']} ({mode} run, {results['runtime_s']:.0f} s in all) on "
        f"{m['cores_logical']} cores, {m['memory_gib']} GiB ({m.get('cpu') or 'unknown CPU'}); "
        f"Python {v['python']}, {v['java']}, pyspark {v['pyspark']}, ipykernel {v['ipykernel']}, "
        f"jupyter_client {v['jupyter_client']}. Code measured: commit "
        f"{env.get('git', {}).get('commit', '?')[:10]}"
        f"{' plus uncommitted changes' if env.get('git', {}).get('dirty') else ''} "
        f"(pyspark_kernel sources sha256 {env.get('pyspark_kernel_code_sha256', '?')}). "
        "Raw samples: [`results.json`](results.json).",
        "",
        "Rerun from the repository root (`--quick`: fewer repeats and smaller sizes, see "
        "`profile` in results.json, and no cluster / Spark Connect or batch runs; "
        "`--only NAME,...` reruns some benchmarks and keeps the others' sections; kernel "
        "logs go to `benchmarks/out/logs/`). Durations depend "
        f"heavily on how busy the machine is: this run took {results['runtime_s']:.0f} s, see "
        "the load table at the end. Other work on the same cores inflates absolute times and "
        "makes them noisy; ratios from interleaved runs suffer less.",
        "",
        *[line for note in results.get("merged_runs", []) for line in (note, "")],
        "```",
        "python -m benchmarks [--quick] [--out benchmarks/results.json]",
        "```",
        "",
        "Both kernels run side by side in the same run, driven over the Jupyter protocol; the "
        "plain kernel's first cell builds "
        "`SparkSession.builder.master('local[*]').config('spark.ui.showConsoleProgress','false').getOrCreate()`. "
        "Cell times run from the kernel's `busy` to its `idle` status for the cell, by the "
        "timestamps in the kernel's message headers: the same for both kernels, and free of "
        "this process's own scheduling delays on a busy machine (client-side round trips, "
        "`execute_request` sent → `idle` received, are in results.json as `client_*`). Time to "
        "first result is measured from the client. These are measurements, not tests: "
        "nothing asserts a timing.",
        "",
    ]
    lines += _overhead(results.get("per_cell_overhead"))
    lines += _startup(results.get("time_to_first_result"))
    lines += _preview(results.get("preview_vs_rows"))
    lines += _interrupt(results.get("interrupt"))
    lines += _dropin(results.get("dropin_cells"))
    lines += _completion(results.get("sql_completion"))
    lines += _paging(results.get("paging"))
    lines += _streaming(results.get("kafka_broker"), results.get("streaming"))
    lines += _cluster(results.get("cluster_connect"))
    lines += _batch(results.get("batch"))
    lines += _soak(path.parent / "soak")
    loads = [
        (name, results[key].get("machine_load", {}))
        for key, name in (
            ("time_to_first_result", "2"),
            ("per_cell_overhead", "1"),
            ("preview_vs_rows", "3"),
            ("interrupt", "4"),
            ("dropin_cells", "9"),
            ("kafka_broker", "5 (broker)"),
            ("streaming", "5-6"),
            ("cluster_connect", "7"),
            ("batch", "8"),
        )
        if key in results and "skipped" not in results[key]
    ]
    if loads:
        lines += [
            "## Machine load during the run",
            "",
            "The machine is shared; other work running at the same time slows both kernels "
            "(ratios from interleaved runs suffer less than absolute times).",
            "",
            "| benchmark | seconds | load avg (1 min) before → after | system CPU busy |",
            "|---|---:|---:|---:|",
        ]
        for name, load in sorted(loads):
            lines.append(
                f"| {name} | {load.get('seconds', '-')} | {load.get('load_avg_1m_before', '-')} → "
                f"{load.get('load_avg_1m_after', '-')} | {load.get('system_cpu_percent', '-')}% |"
            )
        lines.append("")
    if results.get("errors"):
        lines += ["## Errors during the run", ""]
        lines += [f"- {e}" for e in results["errors"]] + [""]
    cleanup = results.get("cleanup", {})
    lines += [
        "## Cleanup",
        "",
        f"Kernels started: {cleanup.get('kernels_started', '-')}; processes left after the run: "
        f"{cleanup.get('left_running', '-')}; Spark JVMs left: {cleanup.get('jvms_left', '-')}.",
        "",
    ]
    path.write_text("\n".join(lines))


def _overhead(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    out = [
        "## 1. Per-cell overhead",
        "",
        f"{r['repeats']} timed runs per kernel after {r['warmup']} warm-up runs, ABBA order. "
        "Goal: ratio ≤ 1.10 on Spark cells, a few ms extra on trivial cells.",
        "",
        "| cell | pyspark median (ms) | pyspark p95 | plain median (ms) | plain p95 | ratio (median) | ratio (p95) | extra (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        a, b = row["summary"][PYSPARK], row["summary"][PLAIN]
        out.append(
            f"| `{row['cell']}` | {_ms(a['median_ms'])} | {_ms(a['p95_ms'])} | {_ms(b['median_ms'])} "
            f"| {_ms(b['p95_ms'])} | {_x(row['ratio_median'])} | {_x(row['ratio_p95'])} | "
            f"{row['extra_median_ms']:+.1f} |"
        )
    plain_df = next((row["code"][PLAIN] for row in r["rows"] if "df =" in row["cell"]), None)
    if plain_df:
        out += ["", f"Plain-kernel equivalent of the last row: `{plain_df}`."]
    hooks = r.get("pyspark_hooks", {}).get("cells", {})
    if hooks:
        parts = [
            "pre_run_cell",
            "post_run_cell",
            "prepare_spark",
            "detect",
            "untag",
            "bind",
        ]
        out += [
            "",
            "Where the pyspark kernel's extra time goes: its hooks, timed inside the kernel "
            "(median ms per cell, and in brackets the py4j commands sent to the JVM meanwhile; "
            "`prepare_spark` is part of `pre_run_cell`, `detect` and `untag` of `post_run_cell`).",
            "",
            "| cell | " + " | ".join(f"`{p}`" for p in parts) + " |",
            "|---|" + "---:|" * len(parts),
        ]
        for cell, per in hooks.items():
            cells = []
            for p in parts:
                part = per.get(p)
                cells.append(
                    "-"
                    if not part
                    else f"{_ms(part.get('median_ms'))} ({part.get('py4j_commands', 0):g})"
                )
            out.append(f"| `{cell}` | " + " | ".join(cells) + " |")
    ablation = r.get("ablation")
    if ablation:
        out += [
            "",
            "What the extra time is made of: the same comparison with parts of the pyspark "
            f"kernel switched off inside the running kernel ({ablation['repeats']} timed runs "
            "each; see `ablation` in results.json). On a busy machine, differences smaller "
            "than the spread between runs (see p95 above) are noise.",
            "",
            "| pyspark kernel variant | cell | pyspark median (ms) | plain median (ms) | ratio | extra (ms) |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for variant in ablation["variants"]:
            for row in variant["rows"]:
                a, b = row["summary"][PYSPARK], row["summary"][PLAIN]
                out.append(
                    f"| {variant['variant']} | `{row['cell']}` | {_ms(a['median_ms'])} | "
                    f"{_ms(b['median_ms'])} | {_x(row['ratio_median'])} | {row['extra_median_ms']:+.1f} |"
                )
    return [*out, ""]


def _startup(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    if "archive_build" not in r:
        return ["## 2. Time to first result", "", "(an older results format: rerun with "
                "`--only startup`)", ""]  # fmt: skip
    summary, ratios, samples = r["summary"], r["ratios"], r["samples"]
    build = r["archive_build"]
    labels = list(summary["immediate"])
    n = len(samples["immediate"][PYSPARK])
    out = [
        "## 2. Cold start: time to the first results",
        "",
        f"Medians of {n} starts of each kernel per scenario, the kernels started in turn (the "
        "order rotates each round). `pyspark` is this kernel with its class-data archive; "
        "`pyspark_no_archive` the same kernel with `class_archive=off` (background start and "
        "warm-up only); `python3` plain ipykernel, whose first cell builds the session. "
        "*immediate*: the cells are sent as soon as the kernel answers; *paused*: the first "
        f"Spark cell comes {r['pause_s']:g} s after the kernel is ready (a user typing). Cell "
        'times are the kernel\'s busy → idle; "from launch" is measured by the client; '
        "JVM CPU counts the CPU seconds of the driver JVM (and of the launcher's JVM before "
        "it) until the first count was answered, less sensitive than wall time to other "
        "work on the machine, and in brackets the share of its JIT compiler threads. "
        "Restart: `%spark restart` (a new driver JVM) then a count (after the pause in "
        "*paused*); plain: `spark.stop()` and the builder again (the same JVM: no new "
        "JVM start, so not the same work) then a count.",
        "",
        f"Class-data archive: `pyspark-kernel warm` built it from nothing in "
        f"{_s(build.get('wall_s'))} s (the archiving JVM {_s(build.get('dump_s'))} s), "
        f"{_ms(build.get('size_mb'))} MB; load average {build.get('load_avg_1m_before')} → "
        f"{build.get('load_avg_1m_after')}.",
        "",
        "| scenario | kernel | first `count()` from launch (s) | first count cell (s) | JVM CPU until then (s) | first `createDataFrame(...).toPandas()` (s) | first `spark.sql(...).collect()` (s) | restart cell (s) | count after restart (s) | JVM RSS / USS (MB) | load avg at start |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ("count_from_launch_s", "count_cell_s", "jvm_cpu_s", "to_pandas_cell_s",
            "sql_cell_s", "restart_cell_s", "count_after_restart_s")  # fmt: skip
    for scenario in ("immediate", "paused"):
        for label in labels:
            row = summary[scenario][label]
            loads = ", ".join(str(x["load_avg_1m"]) for x in samples[scenario][label])
            cells = [_s(_sec(row.get(k))) for k in keys]
            if _sec(row.get("jit_cpu_s")) is not None:
                cells[2] += f" ({_s(_sec(row.get('jit_cpu_s')))})"
            memory = f"{_ms(row.get('jvm_rss_mb'))} / {_ms(row.get('jvm_uss_mb'))}"
            out.append(
                f"| {scenario} | {label} | " + " | ".join(cells) + f" | {memory} | {loads} |"
            )
        for label in labels:
            if label == PLAIN:
                continue
            cells = [_x(ratios.get(f"{scenario}.{label}.{k}")) for k in keys]
            out.append(f"| {scenario} | {label} / {PLAIN} | " + " | ".join(cells) + " | | |")
    first = ratios.get(f"immediate.{PYSPARK}.count_from_launch_s")
    paused = _sec(summary["paused"][PYSPARK]["count_cell_s"])
    out += [
        "",
        f"Goals: first count from launch ≤ 0.5x of plain: **{_goal(first, 0.5)}** "
        f"({_x(first)}); first count cell after a pause ≤ 1.5 s: **{_goal(paused, 1.5)}** "
        f"({_s(paused)} s). JVM RSS with / without the archive (immediate): "
        f"{_x(ratios.get('immediate.jvm_rss_archive_over_none'))} (the archive's pages are "
        "shared, file-backed: counted in RSS, not in USS).",
        "",
        "Every start's first count from launch (s): "
        + "; ".join(
            f"{label} {', '.join(_s(x['count_from_launch_s']) for x in samples['immediate'][label])}"
            for label in labels
        )
        + ".",
    ]
    cold = [x.get("coldstart") or {} for x in samples["paused"][PYSPARK]]
    warmed = sum(1 for c in cold if (c.get("last_warm_up") or {}).get("stopped") is False)
    mapped = sum(
        1
        for scenario in samples
        for x in samples[scenario][PYSPARK]
        if ((x.get("coldstart") or {}).get("archive") or {}).get("mapped")
    )
    starts = sum(len(samples[scenario][PYSPARK]) for scenario in samples)
    seconds = [_s(x) for c in cold if (x := (c.get("last_warm_up") or {}).get("seconds"))]
    took = f" (it took {', '.join(seconds)} s)" if seconds else ""
    out += [
        "",
        f"The `pyspark` driver JVM took the archive in {mapped} of {starts} starts; in the "
        f"paused scenario the warm-up ended before the first Spark cell in {warmed} of "
        f"{len(cold)} starts{took}.",
    ]
    marks = ["jvm_process_started", "spark_context_started", "first_job_submitted",
             "first_job_completed"]  # fmt: skip
    out += [
        "",
        "Where the time to the first count goes (immediate scenario, the start with the "
        "median first count; seconds from launch): driver JVM process created (psutil, "
        "counted from the kernel's process: the launcher's JVM and the Python imports "
        "come before), "
        "`SparkContext.startTime`, first job submitted and completed (Spark UI REST API).",
        "",
        "| kernel | JVM process started | SparkContext started | first job submitted | first job completed | count answered |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label in labels:
        rows = sorted(samples["immediate"][label], key=lambda x: x["count_from_launch_s"])
        median = rows[(len(rows) - 1) // 2]
        got = median.get("milestones_s", {})
        cells = [_s(got.get(k)) for k in marks] + [_s(median["count_from_launch_s"])]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    impact = r.get("background_build")
    if impact and "before_build" in impact:
        ended = (
            f"it ended {_s(impact['build_finished_s_after_samples'])} s after the samples"
            if "build_finished_s_after_samples" in impact
            else f"it was stopped after {impact['build_stopped_after_s']:g} s more"
        )
        b, d, a = (impact[k] for k in ("before_build", "during_build", "after_build"))
        out += [
            "",
            f"A background build's cost to the user: a `pyspark` kernel runs `{impact['cell']}` "
            f"for {impact['warm_up_s']:g} s to warm its JVM, then {impact['warm_up_s']:g} s "
            "each before, while and after an archive build that runs as a kernel starts it "
            f"(niceness {impact.get('builder_nice')}, idle CPU and I/O class): median "
            f"{_ms(b['median_ms'])} / {_ms(d['median_ms'])} / {_ms(a['median_ms'])} ms, p95 "
            f"{_ms(b['p95_ms'])} / {_ms(d['p95_ms'])} / {_ms(a['p95_ms'])} ms "
            f"({_x(impact['ratio_during_over_before_median'])} during / before); the "
            f"archiving JVM's RSS {_ms(impact.get('builder_jvm_rss_mb'))} MB; {ended}.",
        ]
    return [*out, ""]


def _goal(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= limit else "not met"


def _sec(summary: dict[str, Any] | None) -> float | None:
    if not summary or summary.get("median_ms") is None:
        return None
    return summary["median_ms"] / 1000


def _preview(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    seed = {row["rows"]: row for row in r["seed_to_pandas"]}
    out = [
        "## 3. Result preview vs data size",
        "",
        f"`{r['frame']}`: the pyspark kernel binding `df = ...` (detection + `limit(101)` Arrow "
        "preview) vs the seed's `df.toPandas()` of the whole frame (in the plain kernel). "
        f"Median of {r.get('kernel_repeats', r['repeats'])} runs for the kernel (rounds over all N) "
        f"and up to {r['repeats']} for the seed (one when a run takes 10 s or more); peak RSS "
        "sampled every 50 ms with psutil.",
        "",
        "| rows | kernel preview (s) | kernel: kernel / JVM peak RSS (MB) | seed toPandas (s) | seed: kernel / JVM peak RSS (MB) | seed / kernel |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["kernel"]:
        n = row["rows"]
        s = seed.get(n)
        if s is None:
            seed_cells = "- | - | -"
        elif "skipped" in s:
            first = s["skipped"] == next(
                (x["skipped"] for x in r["seed_to_pandas"] if "skipped" in x), None
            ) and n == min(x["rows"] for x in r["seed_to_pandas"] if "skipped" in x)
            seed_cells = f"{s['skipped'] if first else 'skipped'} | - | -"
        elif s["status"] != "ok":
            seed_cells = f"{s['status']}: {s.get('error')} | {_ms(s['kernel_peak_rss_mb'])} / {_ms(s['jvm_peak_rss_mb'])} | -"
        else:
            seed_cells = (
                f"{_s(s['median_s'])} | {_ms(s['kernel_peak_rss_mb'])} / {_ms(s['jvm_peak_rss_mb'])} "
                f"| {_x(s['median_s'] / row['median_s'])}"
            )
        out.append(
            f"| {power(n)} | {_s(row['median_s'])} | {_ms(row['kernel_peak_rss_mb'])} / "
            f"{_ms(row['jvm_peak_rss_mb'])} | {seed_cells} |"
        )
    flat = r["kernel_largest_over_smallest"]
    out += [
        "",
        f"Kernel preview, largest / smallest median time: {_x(flat)} (goal ≤ 2: flat). "
        f"Seed approach: {r.get('seed_stopped') or 'ran at every N'}.",
        "",
        "![preview time vs rows](preview_vs_rows.png)",
    ]
    return [*out, ""]


def _interrupt(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    out = [
        "## 4. Interrupt",
        "",
        "`spark.range(10**12).selectExpr('sum(id % 7)').collect()`, interrupted 3 s after the "
        "kernel went busy; the next cell asks `statusTracker().getActiveJobsIds()`.",
        "",
        "| kernel | interrupt → idle, median (s) | all samples (s) | interrupt → error output, median (s) | runs with the job still running | cleanup with `cancelAllJobs()` (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in (PYSPARK, PLAIN):
        s = r["summary"][name]
        samples = r["samples"][name]
        cleanup = [
            x["cleanup_cancel_all_jobs_s"] for x in samples if "cleanup_cancel_all_jobs_s" in x
        ]
        out.append(
            f"| {name} | {_s(_sec(s['interrupt_to_idle']))} | "
            + ", ".join(_s(x["interrupt_to_idle_s"]) for x in samples)
            + f" | {_s(_sec(s.get('interrupt_to_error_output')))}"
            + f" | {s['runs_with_job_still_running']} of {s['runs']} | "
            f"{_s(max(cleanup)) if cleanup else 'not needed'} |"
        )
    minimal = r.get("plain_with_xmode_minimal")
    if minimal:
        out.append(
            f"| {PLAIN} with `%xmode Minimal` | {_s(minimal['interrupt_to_idle_s'])} | | "
            f"{_s(minimal.get('interrupt_to_error_output_s'))} | "
            f"{'1' if minimal['job_still_running'] else '0'} of 1 | |"
        )
    hooks = r["summary"][PYSPARK].get("hooks", {})
    if hooks:
        out += [
            "",
            "Inside the pyspark kernel (medians): "
            + ", ".join(f"`{part}` {_ms(v.get('median_ms'))} ms" for part, v in hooks.items())
            + " (`settle` runs in `post_run_cell` until the cell's jobs have left Spark).",
        ]
    return [*out, ""]


def _dropin(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    out = [
        "## 9. Cells of real notebooks",
        "",
        textwrap.fill(r["description"], 100),
        f"{r['repeats']} timed rounds ({r.get('short_factor', 3)} times as many for cells under "
        f"50 ms) after {r['warmup']} warm-up round(s); a round runs the cell once in each "
        "kernel, one right after the other. Paired extra: the median of the rounds' "
        "differences (pyspark minus plain), with their 25th-75th percentiles; its ratio is 1 "
        "+ that over plain's median. "
        "Goal: ratio ≤ 1.10.",
        "",
        "| cell | rounds | pyspark median (ms) | plain median (ms) | ratio (medians) | paired extra (ms) | ratio (paired) | tables shown |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        a, b = row["summary"][PYSPARK], row["summary"][PLAIN]
        paired = row.get("paired_extra_ms")
        extra = (
            f"{paired['median']:+.1f} ({paired['p25']:+.1f} to {paired['p75']:+.1f})"
            if paired
            else f"{row['extra_median_ms']:+.1f}"
        )
        out.append(
            f"| {row['cell']} | {row.get('rounds', r['repeats'])} | {_ms(a['median_ms'])} | "
            f"{_ms(b['median_ms'])} | {_x(row['ratio_median'])} | {extra} | "
            f"{_x(row.get('ratio_paired'))} | {row['pyspark_tables_published']} |"
        )
    other = [row for row in r["rows"] if row.get("plain_code")]
    if other:
        out.append("")
        out += [
            f"{row['cell']}: the pyspark kernel runs `{_inline(row['code'])}` and shows the "
            f"schema; the plain kernel runs `{_inline(row['plain_code'])}`."
            for row in other
        ]
    return [*out, ""]


def _inline(code: str) -> str:
    return code.replace("\n", "; ")


def _completion(r: dict[str, Any] | None) -> list[str]:
    if not r or "rows" not in r:
        return []
    out = [
        f"## 10. Spark SQL completion with {r['tables']:,} temporary views",
        "",
        r["description"] + f"; {r['repeats']} requests each. Goal: under {r['goal_ms']} ms. "
        f"Listing the catalog (after each cell that used Spark, in the background) took "
        f"{_ms(r['catalog_refresh_s'] * 1000)} ms.",
        "",
        "| request | matches | pyspark median | p95 | plain IPython median | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        spark, plain = row[PYSPARK], row[PLAIN]
        out.append(
            f"| {row['request']} | {row['matches']} | {_ms(spark.get('median_ms'))} ms | "
            f"{_ms(spark.get('p95_ms'))} ms | {_ms(plain.get('median_ms'))} ms | "
            f"{_x(row['ratio_median'])} |"
        )
    return [*out, ""]


def _paging(r: dict[str, Any] | None) -> list[str]:
    if not r or "rows" not in r:
        return []
    out = [
        "## 11. A page of the whole result",
        "",
        r["description"] + f" {r['repeats']} requests per size and order (medians).",
        "",
        "| rows | unsorted page | plain `limit(100).toPandas()` | ratio | sorted page "
        "| plain `orderBy(desc).limit(100)` | ratio | bytes per page |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        un, so = row["unsorted"], row["sorted"]
        out.append(
            f"| {power(row['rows'])} | {_ms(un[PYSPARK].get('median_ms'))} ms | "
            f"{_ms(un[PLAIN].get('median_ms'))} ms | {_x(un['ratio_median'])} | "
            f"{_ms(so[PYSPARK].get('median_ms'))} ms | {_ms(so[PLAIN].get('median_ms'))} ms | "
            f"{_x(so['ratio_median'])} | {max(un['reply_bytes'], so['reply_bytes']):,} |"
        )
    return [*out, ""]


def _soak(folder: Path) -> list[str]:
    """The long soak (``python -m benchmarks.soak``, not part of this run): its samples every
    2,000 cells, its plot, and what it found (``findings.md``, written by hand)."""
    try:
        r = json.loads((folder / "soak.json").read_text())
    except (OSError, ValueError):
        return []
    samples = r["samples"]
    if not samples:
        return []
    step = max(1, len(samples) // 10)
    shown = samples[step - 1 :: step]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    events = ", ".join(f"{k} {v:,}" for k, v in sorted(r["counts"].items()))
    out = [
        f"## 12. Endurance: {r['cells']:,} cells of one kernel",
        "",
        f"`python -m benchmarks.soak --cells {r['cells']}` (seed {r['seed']}, "
        f"{r['seconds'] / 60:.0f} min; run on its own, not by `python -m benchmarks`). One "
        "`pyspark` kernel through a seeded mix: " + events + ". Every sample (all of them, "
        "and each figure's line, in [`soak/README.md`](soak/README.md)) is taken after the "
        "cell it names; the trivial cell is the fastest of 15, timed in turn with a control "
        "kernel that runs nothing else.",
        "",
        "| cell | min | kernel RSS MB | threads | open files | Py4J connections | JVM heap "
        "after GC MB | JVM threads | trivial cell ms | control ms | IPython history "
        "(inputs, outputs) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in shown:
        history = s["kept"].get("ipython_history", {})
        out.append(
            f"| {s['cell']:,} | {s['seconds'] / 60:.0f} | {s['rss_mb']} | {s['threads']} | "
            f"{s['fds']} | {s['py4j_connections']} | {s['jvm_heap_mb']} | {s['jvm_threads']} | "
            f"{s['trivial_ms']} | {s.get('control_ms')} | "
            f"{history.get('inputs', '-')}, {history.get('outputs', '-')} |"
        )
    out += [
        "",
        f"Cells that did not end as expected: {len(r['failures'])}; processes of the kernel "
        f"left after shutdown: {len(r['left_after_shutdown'])}.",
        "",
        "![each sampled figure over the soak](soak/soak.png)",
        "",
    ]
    findings = folder / "findings.md"
    if findings.exists():
        out += [findings.read_text().strip(), ""]
    return out


def write_plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = results["preview_vs_rows"]
    kernel = [row for row in r["kernel"] if row["status"] == "ok"]
    seed = [row for row in r["seed_to_pandas"] if row.get("status") == "ok"]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 4.8))
    ax_t.loglog(
        [row["rows"] for row in kernel],
        [row["median_s"] for row in kernel],
        "o-",
        color="tab:blue",
        label="pyspark kernel: detection + limit(101) preview",
    )
    ax_t.loglog(
        [row["rows"] for row in seed],
        [row["median_s"] for row in seed],
        "s-",
        color="tab:red",
        label="seed: df.toPandas() (plain kernel)",
    )
    ax_m.loglog(
        [row["rows"] for row in kernel],
        [row["kernel_peak_rss_mb"] for row in kernel],
        "o-",
        color="tab:blue",
        label="pyspark kernel process",
    )
    ax_m.loglog(
        [row["rows"] for row in kernel],
        [row["jvm_peak_rss_mb"] for row in kernel],
        "o--",
        color="tab:blue",
        alpha=0.6,
        label="its JVM",
    )
    ax_m.loglog(
        [row["rows"] for row in seed],
        [row["kernel_peak_rss_mb"] for row in seed],
        "s-",
        color="tab:red",
        label="plain kernel process (toPandas)",
    )
    ax_m.loglog(
        [row["rows"] for row in seed],
        [row["jvm_peak_rss_mb"] for row in seed],
        "s--",
        color="tab:red",
        alpha=0.6,
        label="its JVM",
    )
    if r.get("seed_stopped") and seed:
        ax_t.plot([seed[-1]["rows"]], [seed[-1]["median_s"]], "x", color="tab:red", markersize=12)
        reason = r["seed_stopped"].replace("skipped: ", "")
        note = f"seed approach stopped after N={power(seed[-1]['rows'])}: {reason}"
        ax_t.text(
            0.97,
            0.6,
            textwrap.fill(note, 34),
            transform=ax_t.transAxes,
            fontsize=8,
            color="tab:red",
            ha="right",
            va="center",
        )
    ax_t.set(
        xlabel="rows (N)", ylabel="cell time, median (s)", title="Showing a result: time vs rows"
    )
    ax_m.set(xlabel="rows (N)", ylabel="peak RSS during the cell (MB)", title="Peak memory vs rows")
    from matplotlib.ticker import FormatStrFormatter

    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    tops = [row["median_s"] for row in kernel + seed]
    if tops:
        ax_t.set_ylim(top=max(tops) * 6)  # room for the legend
    ax_t.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_m.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax_m.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    env = results["environment"]
    fig.suptitle(
        f"spark.range(N).selectExpr('id', 'cast(id as string) as s') — {env['date'][:10]}, "
        f"{env['machine']['cores_logical']} cores, pyspark {env['versions']['pyspark']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _skipped(title: str, r: dict[str, Any]) -> list[str]:
    return [title, "", f"Not run: {r['skipped']}.", ""]


def _streaming(broker: dict[str, Any] | None, r: dict[str, Any] | None) -> list[str]:
    if not broker and not r:
        return []
    out = ["## 5. Streaming throughput: Kafka → Spark → Parquet, kernel vs `spark-submit`", ""]
    if broker:
        start = broker.get("start_s")
        out += [
            "Kafka broker (Apache Kafka, KRaft, `pyspark_kernel.services.kafka`): "
            + (f"**{_s(start)} s** to start" if start is not None else "not started")
            + f" ({broker.get('source')}).",
            "",
        ]
    t = (r or {}).get("throughput")
    if t:
        p = t["produced"]
        out += [
            f"{t['description']} Input: {p['acked']:,} records in a fresh topic with "
            f"{t['topic_partitions']} partitions ({p['valid']:,} valid, of which "
            f"{p['unique_valid']:,} distinct events; {p['bad']:,} bad; {p['duplicates']:,} resent "
            f"duplicates), produced in {_s(p['seconds'])} s before the queries start. "
            "Valid events/s = distinct valid events / query wall time; the progress rate is "
            "input records / the batches' `triggerExecution` time. The kernel's session was "
            f"restarted with the Kafka connector (`%spark packages kafka`) in "
            f"{_s(t['kernel_restart_with_kafka_s'])} s; `spark-submit`'s process time includes "
            "its JVM and session start.",
            "",
            "| runner | pass | query wall (s) | valid events/s | records/s (progress) | batches | rows written = distinct = expected | cell / process wall (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, rows in t["samples"].items():
            for row in rows:
                once = row["rows_written"] == row["distinct_event_ids_written"] == p["unique_valid"]
                out.append(
                    f"| {name} | {row.get('pass', 0)} | {_s(row['query_wall_s'])} | {row['valid_events_per_s']:,.0f} | "
                    f"{row.get('records_per_s_progress', 0):,.0f} | {row['batches']} | "
                    f"{'yes' if once else 'NO'} ({row['rows_written']:,}) | "
                    f"{_s(row.get('process_wall_s', row.get('cell_s')))} |"
                )
        out += [
            "",
            "Ratio kernel / spark-submit, valid events/s: first pass "
            f"{_x(t.get('ratio_kernel_over_spark_submit_first_pass'))}, last pass (warm JVMs) "
            f"**{_x(t.get('ratio_kernel_over_spark_submit_last_pass'))}** (above 1: the kernel "
            "is faster). The last column is the cell's time for the kernel and the whole "
            "`spark-submit` process (all passes, JVM start included) for spark-submit. The "
            "runners go one after the other (the kernel's passes, then spark-submit's), not "
            "interleaved, so a change in machine load between them lands in the ratio; on a "
            "shared 2-core machine it swings widely from run to run, so read it as the size "
            "of the noise, not as either runner being faster.",
            "",
        ]
    lat = (r or {}).get("latency")
    if lat:
        v, a = lat["produce_to_visible"], lat["produce_to_ack"]
        out += [
            "## 6. End-to-end latency: produce → visible in a memory table (kernel)",
            "",
            lat["description"],
            "",
            "| events | median (ms) | p95 (ms) | min (ms) | max (ms) | produce → ack, median (ms) | polls per event, median |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {v['n']} | {_ms(v['median_ms'])} | {_ms(v['p95_ms'])} | {_ms(v['min_ms'])} | "
            f"{_ms(v['max_ms'])} | {_ms(a['median_ms'])} | {sorted(lat['polls'])[len(lat['polls']) // 2]} |",
            "",
            "Each poll is a Spark job on the memory table, so the resolution is one poll "
            "(about the latency divided by the polls).",
            "",
        ]
    return out


def _cluster(r: dict[str, Any] | None) -> list[str]:
    title = "## 7. Same aggregation: local[2] vs standalone cluster vs Spark Connect (kernel)"
    if not r:
        return []
    if "skipped" in r:
        return _skipped(title, r)
    out = [
        title,
        "",
        f"{r['description']} {r['warmup']} warm-up and {r['repeats']} timed cells per kernel.",
        "",
        "| path | service start (s) | kernel start → first count (s) | median (ms) | p95 (ms) | local[2] median (ms) | local[2] p95 (ms) | ratio median | ratio p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, p in r["paths"].items():
        if "error" in p:
            out.append(f"| {label} | failed: {p['error']} | | | | | | | |")
            continue
        c, loc = p["cell"], p["local_cell"]
        out.append(
            f"| {label} | {_s(p['service_start_s'])} | {_s(p['kernel_first_count_s'])} | "
            f"{_ms(c['median_ms'])} | {_ms(c['p95_ms'])} | {_ms(loc['median_ms'])} | "
            f"{_ms(loc['p95_ms'])} | {_x(p['ratio_median_over_local'])} | {_x(p['ratio_p95_over_local'])} |"
        )
    return [*out, ""]


def _batch(r: dict[str, Any] | None) -> list[str]:
    title = "## 8. Batch runs"
    if not r:
        return []
    if "skipped" in r:
        return _skipped(title, r)
    out = [title, "", "| command | wall (s) | exit |", "|---|---:|---:|"]
    for label, key in (
        (
            "`jupyter nbconvert --execute notebooks/01-quickstart.ipynb` (pyspark kernel)",
            "nbconvert_quickstart",
        ),
        ("`pyspark-kernel demo` (all bundled notebooks headless, HTML report)", "demo"),
    ):
        row = r.get(key, {})
        if "skipped" in row:
            out.append(f"| {label} | skipped: {row['skipped']} | |")
        else:
            out.append(f"| {label} | {_s(row.get('wall_s'))} | {row.get('returncode')} |")
    return [*out, ""]


SUMMARY_START = "<!-- benchmarks summary: written by python -m benchmarks (full run) -->"
SUMMARY_END = "<!-- end of benchmarks summary -->"


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The headline numbers of a full run, for the project README."""
    env = results["environment"]
    rows: list[tuple[str, str, str]] = []
    over = {r["cell"]: r for r in results.get("per_cell_overhead", {}).get("rows", [])}
    for cell in ("pass", "spark.range(10).count()", "spark.sql('select 1').collect()"):
        if cell in over:
            r = over[cell]
            rows.append((f"cell `{cell}`", f"{r['extra_median_ms']:+.1f} ms",
                         f"{_x(r['ratio_median'])} of plain"))  # fmt: skip
    first = results.get("time_to_first_result", {})
    started = first.get("summary", {}).get("immediate", {})
    if PYSPARK in started:
        ratios = first["ratios"]
        count = _sec(started[PYSPARK]["count_from_launch_s"])
        rows.append(("kernel start → first `count()`", f"{_s(count)} s",
                     f"{_x(ratios.get(f'immediate.{PYSPARK}.count_from_launch_s'))} of plain "
                     "(goal ≤ 0.5x)"))  # fmt: skip
        paused = first["summary"]["paused"]
        rows.append(("first `count()` 10 s after start", f"{_s(_sec(paused[PYSPARK]['count_cell_s']))} s",
                     f"plain {_s(_sec(paused[PLAIN]['count_cell_s']))} s (goal ≤ 1.5 s)"))  # fmt: skip
        rows.append(("`%spark restart` → `count()`", f"{_s(_sec(started[PYSPARK]['restart_to_count_s']))} s",
                     f"{_x(ratios.get(f'immediate.{PYSPARK}.restart_to_count_s'))} of plain's "
                     "`stop()` + `getOrCreate()`"))  # fmt: skip
    dropin = results.get("dropin_cells", {}).get("rows", [])
    defined = [
        r
        for r in dropin
        if r["cell"].startswith("define") and r["ratio_median"] and not r.get("plain_code")
    ]
    if defined:  # the paired figures where the run has them
        extras = [r.get("paired_extra_ms", {}).get("median", r["extra_median_ms"]) for r in defined]
        ratios = [r.get("ratio_paired") or r["ratio_median"] for r in defined]
        medians = [r["ratio_median"] for r in defined]  # what each row's goal is checked on
        rows.append((f"cells that only define a DataFrame ({len(defined)} kinds)",
                     f"{min(extras):+.1f} to {max(extras):+.1f} ms",
                     f"{_x(min(ratios))} to {_x(max(ratios))} of plain paired, medians "
                     f"{_x(min(medians))} to {_x(max(medians))} (goal ≤ 1.10x)"))  # fmt: skip
    preview = results.get("preview_vs_rows", {})
    if "kernel_largest_over_smallest" in preview:
        seed = [r for r in preview.get("seed_over_kernel", []) if r.get("seed_over_kernel")]
        versus = f"seed `toPandas()` {_x(seed[-1]['seed_over_kernel'])} slower at " + power(
            seed[-1]["rows"]
        ) if seed else ""  # fmt: skip
        rows.append(("preview, 10^3 → 10^10 rows", f"{_x(preview['kernel_largest_over_smallest'])}"
                     " (flat)", versus))  # fmt: skip
    stop = results.get("interrupt", {}).get("summary", {})
    if PYSPARK in stop:
        idle = _sec(stop[PYSPARK].get("interrupt_to_idle"))
        left = stop.get(PLAIN, {})
        rows.append(("interrupt → idle", f"{_s(idle)} s, no job left",
                     f"plain left the job running {left.get('runs_with_job_still_running')} of "
                     f"{left.get('runs')}"))  # fmt: skip
    stream = results.get("streaming", {})
    through = stream.get("throughput", {})
    if "ratio_kernel_over_spark_submit_last_pass" in through:
        rows.append(("Kafka → Spark → Parquet", "exactly once" if through.get("exactly_once")
                     else "NOT exactly once",
                     f"events/s {_x(through['ratio_kernel_over_spark_submit_last_pass'])} of spark-submit"))  # fmt: skip
    latency = _sec(stream.get("latency", {}).get("produce_to_visible"))
    if latency is not None:
        rows.append(("produce → visible (100 ms trigger)", f"{_ms(latency * 1000)} ms", ""))
    batch = results.get("batch", {})
    if "demo" in batch:
        rows.append(("`pyspark-kernel demo` (4 notebooks)", f"{batch['demo']['wall_s']:.0f} s", ""))
    table = ["| measure | pyspark kernel | vs the alternative |", "|---|---:|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    runs = sorted(set(results.get("section_runs", {}).values()), reverse=True)
    if len(runs) > 1:  # sections kept from earlier full runs (``--only``)
        origin = "Latest full runs, by section: " + "; ".join(
            f"{r} ("
            + ", ".join(f"`{f}`" for f, v in results["section_runs"].items() if v == r)
            + ")"
            for r in runs
        )
    else:
        origin = (
            f"Latest full run: {env['date'][:10]}, {results['runtime_s'] / 60:.1f} min"
            f" (commit {env.get('git', {}).get('commit', '?')[:7]})"
        )
    return [
        f"{origin}; on {env['machine']['cores_logical']} cores.",
        "",
        *table,
        "",
        "Medians; p95, samples, the machine's load and how noisy each ratio is are in "
        "[`benchmarks/README.md`](benchmarks/README.md).",
        "",
        "![preview time vs rows](benchmarks/preview_vs_rows.png)",
    ]


def write_summary(results: dict[str, Any], readme: Path) -> bool:
    """Replace the summary block of ``readme`` (if it has one); return whether it did."""
    text = readme.read_text()
    start, end = text.find(SUMMARY_START), text.find(SUMMARY_END)
    if start < 0 or end < start:
        return False
    block = "\n".join([SUMMARY_START, *summary_lines(results), SUMMARY_END])
    readme.write_text(text[:start] + block + text[end + len(SUMMARY_END) :])
    return True
