"""What one benchmark run measured (stages, latency windows) and the one-line JSON summary drawn from it."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.market.cpu import CpuReport

_T0 = time.monotonic()

#: Client-side sample kinds (see client_probe): the tick, the 1 s and 1 min bars (from their last tick), predictions.
CLIENT_KINDS = ("tick", "bar_1s", "bar_1m", "pred")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} +{time.monotonic() - _T0:6.0f}s] {message}", flush=True)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples; NaN when there are none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Stage:
    key: str
    what: str
    events: int = 0
    seconds: float = 0.0
    cpu: CpuReport | None = None
    note: str = ""
    error: str | None = None
    #: Stage-specific figures for the report (B2: live/archive split and per-batch timings).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def per_m(self, cpu_s: float) -> float:
        return cpu_s / self.events * 1e6 if self.events else float("nan")

    def total_per_m(self) -> float:
        """CPU-seconds per million events of the pipeline and the stack's servers together."""
        return self.per_m(self.cpu.pipeline_s + self.cpu.servers_s) if self.cpu else float("nan")


@dataclass
class LatencyResult:
    rate: float
    trigger: str
    produced: int = 0
    produced_eps: float = 0.0
    processed_eps: float = 0.0
    #: job.tick_latencies: every tick's CreateTime -> its batch's state in Redis.
    tick_samples: list[float] = field(default_factory=list)
    #: job.latencies: per (symbol, batch), the CreateTime of the symbol's oldest tick in the batch -> Redis.
    oldest_samples: list[float] = field(default_factory=list)
    #: job.archive_latencies: per spooled batch, its oldest tick's CreateTime -> in every history store.
    archive_samples: list[float] = field(default_factory=list)
    #: Pub/sub subscriber: kind -> receive time minus the value's event time (first receipt of each value).
    client: dict[str, list[float]] = field(default_factory=dict)
    batches: int = 0
    mean_batch_rows: float = 0.0
    mean_batch_s: float = 0.0
    #: Means of job.timings over the window's batches (collect_s, state_s, ... total_s).
    timings: dict[str, float] = field(default_factory=dict)
    #: Means per batch of Spark's own progress parts (durationMs: latestOffset, walCommit, addBatch, ...), s.
    spark_parts: dict[str, float] = field(default_factory=dict)
    lag_start: int = 0
    lag_end: int = 0
    drained_s: float | None = None
    cpu: CpuReport | None = None
    error: str | None = None

    def pct(self, q: float) -> float:
        """Headline percentile: per tick, CreateTime -> Redis (the issue's "a tick's effect" figure)."""
        return percentile(self.tick_samples, q)

    def client_pct(self, kind: str, q: float) -> float:
        return percentile(self.client.get(kind, []), q)

    @property
    def kept_up(self) -> bool:
        # Lag at the end within ~2 s of input, and not grown by more than ~1 s of input over the window.
        return not self.error and self.lag_end <= 2 * self.rate and self.lag_end - self.lag_start <= self.rate


def _finite(value: float | None, digits: int = 3) -> float | None:
    """JSON has no NaN: a figure that was not measured is null."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _rate_key(rate: float) -> str:
    return f"{rate / 1000:g}k"


def latency_summary(r: LatencyResult) -> dict[str, Any]:
    """JSON keys of one latency window, suffixed by its rate (_25k, _5k)."""
    k = _rate_key(r.rate)
    out: dict[str, Any] = {
        f"p50_s_{k}": _finite(r.pct(50)),
        f"p99_s_{k}": _finite(r.pct(99)),
        f"kept_up_{k}": r.kept_up,
        f"p50_s_{k}_oldest": _finite(percentile(r.oldest_samples, 50)),
        f"p99_s_{k}_oldest": _finite(percentile(r.oldest_samples, 99)),
        f"archive_p50_s_{k}": _finite(percentile(r.archive_samples, 50)),
        f"archive_p99_s_{k}": _finite(percentile(r.archive_samples, 99)),
        f"processed_eps_{k}": _finite(r.processed_eps, 0),
        f"lag_end_{k}": r.lag_end,
    }
    for kind in CLIENT_KINDS:
        out[f"p50_client_{kind}_{k}"] = _finite(r.client_pct(kind, 50))
        out[f"p99_client_{kind}_{k}"] = _finite(r.client_pct(kind, 99))
    return out


def summary(
    stages: Iterable[Stage],
    latency: Iterable[LatencyResult],
    rss_gib_platform: float | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The one-line JSON: the issue's keys first, then the run's other figures (null where not measured)."""
    by_key = {s.key: s for s in stages if not s.error}
    b0b, b2, numpy_peer, seed = (by_key.get(k) for k in ("B0b", "B2", "Peer-numpy", "Peer-seed"))

    def eps(stage: Stage | None) -> float | None:
        return _finite(stage.eps, 0) if stage and stage.events else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return _finite(a / b, 4) if a and b else None

    windows = {r.rate: r for r in latency}
    main = windows.get(25_000.0)
    out: dict[str, Any] = {
        "b0b_eps": eps(b0b),
        "full_eps": eps(b2),
        "ratio_full_b0b": ratio(eps(b2), eps(b0b)),
        "p50_s_25k": _finite(main.pct(50)) if main else None,
        "p99_s_25k": _finite(main.pct(99)) if main else None,
        "kept_up_25k": main.kept_up if main else False,
        "rss_gib_platform": _finite(rss_gib_platform, 2),
        "full_eps_live": _finite(b2.extra.get("live_eps"), 0) if b2 else None,
        "archive_close_s": _finite(b2.extra.get("archive_close_s"), 2) if b2 else None,
        "full_cpu_s_per_m": _finite(b2.total_per_m(), 1) if b2 else None,
        "peer_numpy_eps": eps(numpy_peer),
        "peer_numpy_cpu_s_per_m": _finite(numpy_peer.total_per_m(), 1) if numpy_peer else None,
        "ratio_full_peer_numpy": ratio(eps(b2), eps(numpy_peer)),
        "peer_seed_eps": eps(seed),
        "ratio_full_peer_seed": ratio(eps(b2), eps(seed)),
    }
    for r in latency:
        out.update({k: v for k, v in latency_summary(r).items() if k not in out})
    out.update(extra or {})
    return out
