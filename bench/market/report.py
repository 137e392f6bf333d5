"""The Markdown report of one run (printed and written to bench/results/)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from bench.market.cpu import CLIENT_GROUPS
from bench.market.memory import ROLE_HOLDS, PlatformMemory
from bench.market.results import CLIENT_KINDS, LatencyResult, Stage, percentile
from bench.market.spark_stages import TIMING_KEYS

#: The issue's goals (2 cores, JSON wire format).
TARGET_EPS = 60_000
TARGET_RATIO_B0B = 0.45
TARGET_P50_25K_S = 0.5
TARGET_P99_25K_S = 1.5
TARGET_P99_5K_S = 1.0
TARGET_RSS_GIB = 4.0


def _f(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _r(ratio: float) -> str:
    return "n/a" if math.isnan(ratio) else f"{ratio:.3g}"


def _ratio(a: Stage | None, b: Stage | None) -> float:
    return a.eps / b.eps if a and b and a.eps and b.eps else float("nan")


def render(
    args: argparse.Namespace,
    meta: dict[str, Any],
    stages: Sequence[Stage],
    latency: Sequence[LatencyResult],
    memory: PlatformMemory | None,
    server_groups: Sequence[str],
) -> str:
    lines = _header(args, meta)
    lines += _throughput(stages, server_groups)
    b2 = next((s for s in stages if s.key == "B2" and not s.error), None)
    if b2:
        lines += _b2_detail(b2)
    if latency:
        lines += _latency(args, latency)
    lines += _memory(memory, latency, b2)
    lines += _targets(stages, latency, memory)
    return "\n".join(lines)


def _header(args: argparse.Namespace, meta: dict[str, Any]) -> list[str]:
    return [
        f"# MarketPulse market pipeline benchmark — {meta['started']}{' (--quick)' if args.quick else ''}",
        "",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']}",
        "- the machine may be shared: column 'others' = share of all cores used by processes outside this "
        "benchmark during the stage; compare ratios within one run",
        f"- data: {args.events:,} synthetic ticks, {args.symbols} symbols, one topic with {args.partitions} "
        f"partitions, produced once at {meta['produce_eps']:,.0f}/s; Spark {meta['spark_master']}, "
        f"maxOffsetsPerTrigger {meta['max_offsets']:,}",
        f"- git: {meta['git']}; total wall time of this run {meta['wall']}",
        "",
    ]


def _throughput(stages: Sequence[Stage], server_groups: Sequence[str]) -> list[str]:
    by_key = {s.key: s for s in stages if not s.error}
    b0a, b0b = by_key.get("B0a"), by_key.get("B0b")
    lines = [
        "## Throughput (same broker, same pre-loaded topic)",
        "",
        "| Stage | What | Events | Wall s | Events/s | × B0a | × B0b | CPU-s/M pipeline | CPU-s/M servers "
        "| CPU-s/M total | others |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stages:
        if s.error:
            lines.append(f"| {s.key} | {s.what} | failed: {s.error} | | | | | | | | |")
            continue
        cpu = s.cpu
        lines.append(
            f"| {s.key} | {s.what} | {s.events:,} | {s.seconds:.1f} | {_f(s.eps)} | {_r(_ratio(s, b0a))} | "
            f"{_r(_ratio(s, b0b))} | {_f(s.per_m(cpu.pipeline_s) if cpu else float('nan'), 1)} | "
            f"{_f(s.per_m(cpu.servers_s) if cpu else float('nan'), 1)} | {_f(s.total_per_m(), 1)} | "
            f"{_f(100 * cpu.others_share if cpu else float('nan'))}% |"
        )
    lines += ["", "Notes: " + "; ".join(f"**{s.key}** {s.note}" for s in stages if s.note), ""]
    b2 = by_key.get("B2")
    if b2:
        lines += ["The full job (B2) as a ratio to the ceiling and to the peers of this run:", ""]
        for key in ("B0b", "Peer-numpy", "Peer-seed"):
            peer = by_key.get(key)
            if peer:
                cpu_ratio = b2.total_per_m() / peer.total_per_m() if peer.total_per_m() else float("nan")
                lines.append(f"- B2 / {key}: throughput × {_r(_ratio(b2, peer))}, CPU per tick × {_r(cpu_ratio)}")
        lines.append("")
    groups = [*CLIENT_GROUPS, *server_groups]
    lines += [
        "## CPU by process (CPU-seconds per million events)",
        "",
        "| Stage | " + " | ".join(groups) + " | cores busy (ours) |",
        "|---|" + "---:|" * (len(groups) + 1),
    ]
    for s in stages:
        if s.cpu is None or not s.events:
            continue
        cells = [_f(s.per_m(s.cpu.groups.get(g, 0.0)), 1) for g in groups]
        ours = (s.cpu.pipeline_s + s.cpu.servers_s) / max(s.cpu.wall_s, 1e-9)
        lines.append(f"| {s.key} | " + " | ".join(cells) + f" | {ours:.2f} |")
    lines.append("")
    return lines


def _b2_detail(b2: Stage) -> list[str]:
    x = b2.extra
    progress, timings = x.get("progress", {}), x.get("timings", {})
    batches = max(1.0, timings.get("batches", 0.0))
    lines = [
        "## B2: live path and archive path",
        "",
        f"- live query (availableNow) {_f(x.get('live_s'), 1)} s = {_f(x.get('live_eps'))} ticks/s; archive flush "
        f"at job.close() {_f(x.get('archive_close_s'), 1)} s; total {b2.seconds:.1f} s = {_f(b2.eps)} ticks/s",
        f"- Spark progress of the live query: {int(progress.get('batches', 0))} batches, "
        f"{int(progress.get('rows', 0)):,} rows, triggerExecution {_f(progress.get('triggerExecution'), 1)} s, "
        f"addBatch {_f(progress.get('addBatch'), 1)} s, latestOffset {_f(progress.get('latestOffset'), 1)} s, "
        f"queryPlanning {_f(progress.get('queryPlanning'), 1)} s, walCommit {_f(progress.get('walCommit'), 1)} s",
        f"- archive: {x.get('archive_samples', 0)} batches archived, oldest tick → history stores p99 "
        f"{_f(x.get('archive_p99_s'), 1)} s (a backlog run: this is queueing, see the latency windows)",
        "",
        "| job.timings (per batch) | " + " | ".join(TIMING_KEYS) + " |",
        "|---|" + "---:|" * len(TIMING_KEYS),
        f"| sum over {int(timings.get('batches', 0))} batches, s | "
        + " | ".join(_f(timings.get(k, 0.0), 2) for k in TIMING_KEYS)
        + " |",
        "| mean per batch, s | " + " | ".join(_f(timings.get(k, 0.0) / batches, 3) for k in TIMING_KEYS) + " |",
        "",
    ]
    return lines


def _latency(args: argparse.Namespace, latency: Sequence[LatencyResult]) -> list[str]:
    lines = [
        f"## Latency: open-loop load into the running job (trigger '{args.trigger}', {args.warmup:.0f} s warm-up, "
        f"{args.steady:.0f} s window)",
        "",
        "Job side (the job's own samples):",
        "",
        "| Offered/s | produced/s | processed/s | batches | rows/batch | s/batch | tick→Redis p50 | p95 | p99 | max "
        "| oldest-tick p50 | p99 | → history p50 | p99 | lag start → end | kept up | CPU-s/M total | others |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for r in latency:
        if r.error and not r.tick_samples:
            lines.append(f"| {r.rate:,.0f} | failed: {r.error} |" + " |" * 16)
            continue
        cpu = r.cpu
        per_m = (cpu.pipeline_s + cpu.servers_s) / max(r.produced, 1) * 1e6 if cpu else float("nan")
        lines.append(
            f"| {r.rate:,.0f} | {_f(r.produced_eps)} | {_f(r.processed_eps)} | {r.batches} | "
            f"{_f(r.mean_batch_rows)} | {r.mean_batch_s:.2f} | {_f(r.pct(50), 2)} | {_f(r.pct(95), 2)} | "
            f"{_f(r.pct(99), 2)} | {_f(max(r.tick_samples) if r.tick_samples else float('nan'), 2)} | "
            f"{_f(percentile(r.oldest_samples, 50), 2)} | {_f(percentile(r.oldest_samples, 99), 2)} | "
            f"{_f(percentile(r.archive_samples, 50), 2)} | {_f(percentile(r.archive_samples, 99), 2)} | "
            f"{r.lag_start:,} → {r.lag_end:,} | {'yes' if r.kept_up else 'NO'} | {_f(per_m, 1)} | "
            f"{_f(100 * cpu.others_share if cpu else float('nan'))}% |"
        )
    lines += [
        "",
        "Client side (a pub/sub subscriber on `mp:live:*` in its own process; receive time − event time of the value; "
        "p50 / p95 / p99 s, samples):",
        "",
        "| Offered/s | " + " | ".join(CLIENT_KINDS) + " |",
        "|---:|" + "---|" * len(CLIENT_KINDS),
    ]
    for r in latency:
        cells = [
            f"{_f(r.client_pct(k, 50), 2)} / {_f(r.client_pct(k, 95), 2)} / {_f(r.client_pct(k, 99), 2)} "
            f"({len(r.client.get(k, [])):,})"
            for k in CLIENT_KINDS
        ]
        lines.append(f"| {r.rate:,.0f} | " + " | ".join(cells) + " |")
    lines += ["", "Per live batch in the window (means of job.timings, s):", ""]
    for r in latency:
        if r.timings:
            lines.append(f"- {r.rate:,.0f}/s: " + ", ".join(f"{k} {v:.3f}" for k, v in r.timings.items()))
    lines += [
        "",
        "Where a live batch's time goes, by Spark's progress (durationMs means per batch, s; addBatch holds the "
        "collect and everything the driver does, the rest is the micro-batch's own bookkeeping):",
        "",
    ]
    for r in latency:
        if r.spark_parts:
            parts = sorted(r.spark_parts.items(), key=lambda kv: -kv[1])
            lines.append(f"- {r.rate:,.0f}/s: " + ", ".join(f"{k} {v:.3f}" for k, v in parts))
    lines += [
        "",
        "Definitions: **tick→Redis** = `job.tick_latencies`, every tick's Kafka CreateTime → its batch's state "
        "written to Redis (the headline p50/p99); **oldest-tick** = `job.latencies`, per (symbol, batch) the "
        "CreateTime of the symbol's oldest tick in the batch → Redis (conservative; the measure of the earlier "
        "reports); **→ history** = `job.archive_latencies`, per spooled batch its oldest tick → in Cassandra, "
        "PostgreSQL and the lake. Client side: `tick` from `tick.ts` (the symbol's newest tick in the batch), "
        "`bar_1s`/`bar_1m` from `last_ts` (the bar's last tick, i.e. its close), `pred` from `pred.feature_ts` "
        "+ 1 min (the bar's end; empty when no model is promoted, as on a fresh bench stack); each value once, "
        "at its first receipt. The synthetic producer stamps event time with the wall clock at emission, so "
        "event time ≈ Kafka CreateTime here. Samples run from the window's start until the job has drained "
        f"its ticks (at most {args.drain:.0f} s after) plus one archive round.",
        "",
    ]
    return lines


def _memory(memory: PlatformMemory | None, latency: Sequence[LatencyResult], b2: Stage | None) -> list[str]:
    lines = ["## Memory (resident)", ""]
    if memory is None or not memory.roles:
        lines += ["- no `make run` platform of this checkout was running: `rss_gib_platform` is null", ""]
    else:
        state = "running" if memory.running else "NOT running (stack services only; not counted as a platform)"
        lines += [
            f"Platform of this checkout ({state}), every process it started, grouped by role:",
            "",
            "| Role | processes | RSS GiB | PSS GiB | what it holds | largest processes |",
            "|---|---:|---:|---:|---|---|",
        ]
        for role in sorted(memory.roles.values(), key=lambda r: -r.rss_gib):
            lines.append(
                f"| {role.role} | {len(role.processes)} | {role.rss_gib:.2f} | {_f(role.pss_gib, 2)} | "
                f"{ROLE_HOLDS.get(role.role, '')} | {role.detail()} |"
            )
        total_rss = sum(r.rss_gib for r in memory.roles.values())
        lines += [f"| **total** | | **{total_rss:.2f}** | | | |", ""]
        lines += ["RSS counts shared pages once per process (PostgreSQL's shared buffers, forked workers); PSS "
                  "splits them, so the PSS total is the fairer sum.", ""]  # fmt: skip
    measured = [(f"latency {r.rate:,.0f}/s", r.cpu) for r in latency if r.cpu]
    if b2 and b2.cpu:
        measured.insert(0, ("B2", b2.cpu))
    if measured:
        lines += ["The bench's own job (peak RSS seen during the stage, GiB):", ""]
        lines += ["| Stage | " + " | ".join(CLIENT_GROUPS) + " | total |", "|---|" + "---:|" * (len(CLIENT_GROUPS) + 1)]
        for label, cpu in measured:
            cells = [f"{cpu.peak_rss.get(g, 0) / 2**30:.2f}" for g in CLIENT_GROUPS]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {cpu.pipeline_rss_gib():.2f} |")
        lines += ["", "The driver row includes the bench's own Python (its peers and probes run in it earlier).", ""]
    return lines


def _targets(stages: Sequence[Stage], latency: Sequence[LatencyResult], memory: PlatformMemory | None) -> list[str]:
    by_key = {s.key: s for s in stages if not s.error}
    b2, b0b = by_key.get("B2"), by_key.get("B0b")
    windows = {r.rate: r for r in latency if r.tick_samples}

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = ["## Targets (issue 12)", ""]
    if b2:
        ratio = _ratio(b2, b0b)
        lines.append(
            f"- ≥ {TARGET_EPS:,} ticks/s through the full job (JSON): {b2.eps:,.0f}/s — "
            f"{verdict(b2.eps >= TARGET_EPS)}; "
            f"≥ {TARGET_RATIO_B0B} of B0b: {_r(ratio)} — {verdict(ratio >= TARGET_RATIO_B0B)}"
        )
    else:
        lines.append(f"- ≥ {TARGET_EPS:,} ticks/s through the full job: B2 not measured")
    r25, r5 = windows.get(25_000.0), windows.get(5_000.0)
    if r25:
        ok = r25.pct(50) <= TARGET_P50_25K_S and r25.pct(99) <= TARGET_P99_25K_S and r25.kept_up
        lines.append(
            f"- at 25,000/s p50 ≤ {TARGET_P50_25K_S} s and p99 ≤ {TARGET_P99_25K_S} s, keeping up: p50 "
            f"{r25.pct(50):.2f} s, p99 {r25.pct(99):.2f} s, kept up {'yes' if r25.kept_up else 'no'} — {verdict(ok)}"
        )
    else:
        lines.append("- latency at 25,000/s: not measured")
    if r5:
        ok = r5.pct(99) <= TARGET_P99_5K_S and r5.kept_up
        lines.append(
            f"- at 5,000/s p99 ≤ {TARGET_P99_5K_S} s: p99 {r5.pct(99):.2f} s, kept up "
            f"{'yes' if r5.kept_up else 'no'} — {verdict(ok)}"
        )
    rss = memory.rss_gib if memory else None
    if rss is not None:
        lines.append(f"- whole `make run` platform ≤ {TARGET_RSS_GIB:.0f} GiB resident: {rss:.2f} GiB — "
                     f"{verdict(rss <= TARGET_RSS_GIB)}")  # fmt: skip
    else:
        lines.append(f"- whole platform ≤ {TARGET_RSS_GIB:.0f} GiB: not measured (no `make run` platform running)")
    lines.append("")
    return lines
