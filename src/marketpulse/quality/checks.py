"""Data-quality checks over one window of market data: the pure rules, each on plain frames.

Every check returns CheckResults (one per subject: a symbol, a source/symbol pair, a table, a topic),
so a run stores one row per subject and a breach names exactly what is wrong. Loading the frames from
the stores is in `quality.runner`; these functions need nothing but pandas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

#: A robust sigma needs this many returns; fewer and the outlier check says "not enough data" (ok).
MIN_RETURNS_FOR_SIGMA = 20
#: MAD -> standard deviation for normal data.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class CheckResult:
    """One check on one subject."""

    check: str
    subject: str
    ok: bool
    value: float | None
    threshold: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bar_gaps(bars: pd.DataFrame, max_gap_minutes: float) -> list[CheckResult]:
    """Per symbol: the largest gap between consecutive 1-min bars of the same UTC day (sessions end overnight)."""
    results = []
    for symbol, group in bars.sort_values(["symbol", "ts"]).groupby("symbol", sort=True):
        ts = pd.to_datetime(group["ts"], utc=True)
        day = ts.dt.date
        gaps = (ts.diff().dt.total_seconds() / 60.0).where(day.eq(day.shift()))
        largest = float(gaps.max()) if gaps.notna().any() else 0.0
        where = ts[gaps.idxmax()] if gaps.notna().any() else None
        too_long = int((gaps > max_gap_minutes).sum())
        detail = (
            f"{too_long} gap(s) over {max_gap_minutes:g} min; largest {largest:.0f} min ending {where}"
            if too_long
            else f"largest gap {largest:.0f} min over {len(group)} bars"
        )
        results.append(CheckResult("gap", str(symbol), too_long == 0, largest, max_gap_minutes, detail))
    return results


def price_outliers(bars: pd.DataFrame, sigmas: float) -> list[CheckResult]:
    """Per symbol: 1-min log returns further than `sigmas` robust sigmas (MAD) from their median."""
    results = []
    for symbol, group in bars.sort_values(["symbol", "ts"]).groupby("symbol", sort=True):
        close = group["close"].astype("float64").to_numpy()
        returns = np.diff(np.log(close[close > 0]))
        if len(returns) < MIN_RETURNS_FOR_SIGMA:
            results.append(
                CheckResult("outlier", str(symbol), True, None, sigmas, f"only {len(returns)} returns: not checked")
            )
            continue
        median = float(np.median(returns))
        sigma = float(np.median(np.abs(returns - median))) * _MAD_TO_SIGMA
        if sigma == 0.0:
            sigma = float(np.std(returns)) or 1e-12
        z = np.abs(returns - median) / sigma
        worst = int(np.argmax(z))
        count = int((z > sigmas).sum())
        at = pd.Timestamp(group["ts"].iloc[worst + 1])
        detail = (
            f"{count} jump(s) beyond {sigmas:g} sigma; worst {z[worst]:.1f} sigma "
            f"(log return {returns[worst]:+.4f}) at {at}"
            if count
            else f"largest move {z[worst]:.1f} sigma over {len(returns)} returns"
        )
        results.append(CheckResult("outlier", str(symbol), count == 0, float(z[worst]), sigmas, detail))
    return results


def bar_validity(bars: pd.DataFrame) -> list[CheckResult]:
    """Per symbol: bars whose OHLC are inconsistent (low above open/close, high below them) or volume < 0."""
    results = []
    for symbol, group in bars.groupby("symbol", sort=True):
        body_low = group[["open", "close"]].min(axis=1)
        body_high = group[["open", "close"]].max(axis=1)
        bad = (
            (group["low"] > body_low)
            | (group["high"] < body_high)
            | (group["volume"] < 0)
            | ~(group["close"] > 0)
            | group[["open", "high", "low", "close"]].isna().any(axis=1)
        )
        count = int(bad.sum())
        results.append(
            CheckResult(
                "schema",
                f"fact_bar_1m/{symbol}",
                count == 0,
                float(count),
                0.0,
                f"{count} of {len(group)} bars break low <= open, close <= high, volume >= 0",
            )
        )
    return results


def freshness(
    last_tick: pd.DataFrame, expected_symbols: list[str], clock: datetime, max_lag_minutes: float
) -> list[CheckResult]:
    """Per source and symbol: how far its newest tick lags the market clock (the newest bar of any symbol)."""
    results = []
    seen = set()
    for row in last_tick.itertuples(index=False):
        seen.add(row.symbol)
        lag = (pd.Timestamp(clock) - pd.Timestamp(row.ts)).total_seconds() / 60.0
        results.append(
            CheckResult(
                "freshness",
                f"{row.source}/{row.symbol}",
                lag <= max_lag_minutes,
                lag,
                max_lag_minutes,
                f"newest tick {row.ts} is {lag:.0f} min behind the market clock {clock}",
            )
        )
    for symbol in sorted(set(expected_symbols) - seen):
        results.append(
            CheckResult("freshness", f"*/{symbol}", False, None, max_lag_minutes, "no ticks in the lake in the window")
        )
    return results


def stream_health(job: str, verdict: str, reason: str, age_s: float | None, stuck_after_s: float) -> CheckResult:
    """Processing-time freshness of a stream job: a breach when it is dead or stuck (idle is fine)."""
    return CheckResult(
        "freshness",
        f"stream/{job}",
        verdict not in ("dead", "stuck"),
        age_s,
        stuck_after_s,
        f"{verdict}: {reason}",
    )


def dlq_rate(topic: str, accepted: int | None, rejected: int | None, max_rate: float) -> CheckResult:
    """Share of a topic's messages rejected to its DLQ over the interval."""
    if accepted is None or rejected is None:
        return CheckResult("dlq_rate", topic, True, None, max_rate, "no wall-clock interval to measure")
    total = accepted + rejected
    rate = rejected / total if total else 0.0
    return CheckResult(
        "dlq_rate", topic, rate <= max_rate, rate, max_rate, f"{rejected} rejected of {total} messages ({rate:.2%})"
    )


def store_consistency(cassandra_counts: pd.DataFrame, postgres_counts: pd.DataFrame) -> list[CheckResult]:
    """Per symbol and day: 1-min bars in Cassandra must equal those in Postgres (same upserts, same keys)."""
    keyed = [
        frame.astype({"symbol": "str", "day": "str", "bars": "int64"}) for frame in (cassandra_counts, postgres_counts)
    ]
    merged = keyed[0].merge(keyed[1], on=["symbol", "day"], how="outer", suffixes=("_c", "_p"))
    merged = merged.fillna({"bars_c": 0, "bars_p": 0})
    results = []
    for row in merged.sort_values(["symbol", "day"]).itertuples(index=False):
        diff = int(row.bars_c) - int(row.bars_p)
        results.append(
            CheckResult(
                "consistency",
                f"{row.symbol}/{row.day}",
                diff == 0,
                float(diff),
                0.0,
                f"Cassandra {int(row.bars_c)} vs Postgres {int(row.bars_p)} 1-min bars",
            )
        )
    return results


def lake_schema(columns: dict[str, str], expected: dict[str, tuple[str, ...]]) -> CheckResult:
    """The raw lake's parquet columns against the Tick contract: every field present with a compatible type."""
    problems = []
    for name, kinds in expected.items():
        found = columns.get(name)
        if found is None:
            problems.append(f"{name} missing")
        elif not found.startswith(kinds):
            problems.append(f"{name} is {found}, expected {'/'.join(kinds)}")
    return CheckResult(
        "schema",
        "lake/ticks",
        not problems,
        float(len(problems)),
        0.0,
        "; ".join(problems) or f"{len(columns)} columns match the Tick contract",
    )
