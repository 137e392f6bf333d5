"""The logic behind the Airflow DAGs, on tiny frames: backfill = the stream's transforms, quality rules,
the supervisor's verdicts, connections from Settings, and a complete data dictionary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factories import random_walk_ticks
from marketpulse.config import Settings, settings_env
from marketpulse.errors import StackError
from marketpulse.features.bars import BAR_COLUMNS
from marketpulse.features.indicators import INDICATOR_COLUMNS
from marketpulse.orchestration.connections import airflow_connections
from marketpulse.quality import checks
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stores import reporting
from marketpulse.stream.backfill import replay_symbol_day
from marketpulse.stream.market_state import MarketState, advance, close_open_bars
from marketpulse.stream.supervisor import (
    SPARK_APPS,
    QueryHealth,
    batch_running_s,
    checkpoint_offsets,
    job_submit_argv,
    judge,
    stream_job,
    stream_jobs,
)

DAY1 = pd.Timestamp("2013-01-02 14:30", tz="UTC")


def _ticks(symbol: str, start: pd.Timestamp, minutes: int, seed: int) -> pd.DataFrame:
    count = minutes * 20
    return random_walk_ticks(
        symbol, start, minutes=minutes, count=count, seed=seed, sigma=0.0005, decimals=None, unique_times=False
    )


def _rows_by_kind(rows: pd.DataFrame, kind: str, columns: list[str]) -> pd.DataFrame:
    part = rows[rows["kind"] == kind]
    return part[columns].sort_values(["symbol", "ts"]).reset_index(drop=True)


# --- backfill is the stream's state function --------------------------------------------------------------------


def test_backfill_emits_exactly_what_the_stream_emits_for_the_same_ticks() -> None:
    day1 = _ticks("AAPL", DAY1, 90, seed=1)
    day2 = _ticks("AAPL", DAY1 + pd.Timedelta(days=1), 90, seed=2)

    # The stream: the same ticks in uneven micro-batches, then (at the end of history) its open bars closed.
    stream_state, emitted = MarketState(), []
    ticks = pd.concat([day1, day2], ignore_index=True)
    for chunk in np.array_split(ticks, [17, 400, 401, 1900, 2500, 3599]):
        stream_state = stream_state.copy()  # the state survives a snapshot round trip between batches
        emitted.append(advance(stream_state, chunk))
    emitted.append(close_open_bars(stream_state))
    stream_rows = pd.concat(emitted, ignore_index=True)

    backfill_state = MarketState()
    backfill_rows = pd.concat(
        [
            replay_symbol_day(backfill_state, day1, last_day=False),
            replay_symbol_day(backfill_state, day2, last_day=True),
        ],
        ignore_index=True,
    )

    bar_columns = [c for c in BAR_COLUMNS if c != "last_ts"]
    for kind in ("bar_1s", "bar_1m"):
        expected = _rows_by_kind(stream_rows, kind, bar_columns)
        assert len(expected) > (100 if kind == "bar_1m" else 1000)
        pd.testing.assert_frame_equal(_rows_by_kind(backfill_rows, kind, bar_columns), expected)
    indicator_columns = ["symbol", "ts", "close", *INDICATOR_COLUMNS]
    expected = _rows_by_kind(stream_rows, "indicators", indicator_columns)
    assert expected["rsi_14"].notna().sum() > 100
    pd.testing.assert_frame_equal(_rows_by_kind(backfill_rows, "indicators", indicator_columns), expected)


def test_backfill_closes_the_last_open_bar_of_the_range() -> None:
    state = MarketState()
    rows = replay_symbol_day(state, _ticks("IBM", DAY1, 3, seed=3), last_day=True)
    minutes = rows[rows["kind"] == "bar_1m"]["ts"]
    assert list(minutes) == [DAY1, DAY1 + pd.Timedelta(minutes=1), DAY1 + pd.Timedelta(minutes=2)]
    assert all(bars.empty for bars in state.pending.values())


# --- data-quality rules ------------------------------------------------------------------------------------------


def _bars(symbol: str, closes: list[float], minutes: list[int] | None = None) -> pd.DataFrame:
    minutes = minutes if minutes is not None else list(range(len(closes)))
    close = np.asarray(closes)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": [DAY1 + pd.Timedelta(minutes=m) for m in minutes],
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": 100.0,
        }
    )


def _walk(n: int, seed: int) -> list[float]:
    return list(100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.001, n))))


def test_gap_check_flags_only_gaps_longer_than_the_limit_within_a_day() -> None:
    minutes = [*range(30), *range(60, 90)]  # a 31-minute hole
    overnight = [*range(30), *range(24 * 60, 24 * 60 + 30)]  # the next session: not a gap
    results = checks.bar_gaps(
        pd.concat([_bars("GAP", _walk(60, 1), minutes), _bars("NIGHT", _walk(60, 2), overnight)]), 15
    )
    by_symbol = {r.subject: r for r in results}
    assert not by_symbol["GAP"].ok
    assert by_symbol["GAP"].value == pytest.approx(31.0)
    assert by_symbol["NIGHT"].ok


def test_outlier_check_flags_a_jump_and_spares_normal_moves() -> None:
    closes = _walk(120, 3)
    jumpy = closes[:60] + [c * 1.08 for c in closes[60:]]  # +8% in one minute
    results = {r.subject: r for r in checks.price_outliers(pd.concat([_bars("JUMP", jumpy), _bars("CALM", closes)]), 8)}
    assert not results["JUMP"].ok
    assert results["JUMP"].value is not None and results["JUMP"].value > 50
    assert results["CALM"].ok


def test_validity_store_consistency_and_dlq_rate() -> None:
    bars = _bars("BAD", _walk(5, 4))
    bars.loc[2, "low"] = bars.loc[2, "close"] * 1.5
    (validity,) = checks.bar_validity(bars)
    assert not validity.ok and validity.value == 1.0

    cassandra = pd.DataFrame({"symbol": ["A", "B"], "day": ["2013-01-02", "2013-01-02"], "bars": [10, 7]})
    postgres = pd.DataFrame({"symbol": ["A", "B"], "day": ["2013-01-02", "2013-01-02"], "bars": [10, 9]})
    consistency = {r.subject: r for r in checks.store_consistency(cassandra, postgres)}
    assert consistency["A/2013-01-02"].ok
    assert not consistency["B/2013-01-02"].ok and consistency["B/2013-01-02"].value == -2.0

    assert checks.dlq_rate("market.ticks", 990, 10, 0.05).ok
    assert not checks.dlq_rate("market.ticks", 900, 100, 0.05).ok


def test_freshness_per_source_and_symbol_and_missing_symbols() -> None:
    clock = DAY1 + pd.Timedelta(hours=2)
    last_tick = pd.DataFrame(
        {"source": ["replay", "finnhub"], "symbol": ["AAPL", "AAPL"], "ts": [clock, clock - pd.Timedelta(hours=1.5)]}
    )
    results = {r.subject: r for r in checks.freshness(last_tick, ["AAPL", "MSFT"], clock.to_pydatetime(), 60)}
    assert results["replay/AAPL"].ok
    assert not results["finnhub/AAPL"].ok
    assert not results["*/MSFT"].ok


# --- supervisor ---------------------------------------------------------------------------------------------------


def _query(age_s: float | None, lag: int | None) -> QueryHealth:
    return QueryHealth("market-live", 7, age_s, 123, lag)


@pytest.mark.parametrize(
    ("alive", "age_s", "lag", "verdict"),
    [
        (None, 5.0, 0, "stopped"),
        (False, 5.0, 0, "dead"),
        (True, 5.0, 100, "healthy"),
        (True, 900.0, 0, "healthy"),  # idle: nothing to read
        (True, 900.0, 100, "stuck"),
        (True, 900.0, None, "stuck"),  # lag unknown: a silent job is not trusted
    ],
)
def test_supervisor_verdicts(alive: bool | None, age_s: float, lag: int | None, verdict: str) -> None:
    assert judge(alive, [_query(age_s, lag)], stuck_after_s=180, started_s_ago=1000)[0] == verdict


def test_a_long_batch_in_flight_is_progress_until_it_runs_far_too_long() -> None:
    running = QueryHealth("market-live", 7, 900.0, 123, 5000, running_s=400.0)
    assert judge(True, [running], stuck_after_s=180, started_s_ago=1000)[0] == "healthy"
    hung = QueryHealth("market-live", 7, 900.0, 123, 5000, running_s=600.0)
    assert judge(True, [hung], stuck_after_s=180, started_s_ago=1000)[0] == "stuck"


def test_stream_health_breaches_only_dead_or_stuck_jobs() -> None:
    assert checks.stream_health("market-job", "healthy", "idle", 5000.0, 180).ok
    assert checks.stream_health("market-job", "stopped", "no pid file", None, 180).ok
    assert not checks.stream_health("market-job", "stuck", "no batch", 900.0, 180).ok


def test_every_streaming_job_of_the_platform_is_supervised_with_its_own_entry_point() -> None:
    from marketpulse.platform.apps import all_apps
    from marketpulse.stack.services import SparkService

    settings = side_by_side_settings("unit", 0)
    jobs = stream_jobs()
    spark_apps = {app.name for app in all_apps(settings) if app.name.endswith("-job")}
    assert set(jobs) == spark_apps == {"market-job", "sentiment-job"}
    for job in jobs.values():
        assert job.app(settings).name == job.name
        assert (SPARK_APPS / job.entry).is_file()
        assert job.progress_query in dict(job.queries)
    if SparkService(settings).connector_jars():  # the argv needs the installed jars
        argv = job_submit_argv(settings, stream_job("sentiment-job"))
        assert argv[-1] == str(SPARK_APPS / "sentiment_job.py")
        assert "marketpulse-sentiment" in argv
    with pytest.raises(StackError, match="unknown stream job 'nope'"):
        stream_job("nope")


def test_checkpoint_offsets_read_the_newest_committed_batch(tmp_path: Path) -> None:
    for batch, offsets in ((0, {"0": 5, "1": 7}), (1, {"0": 9, "1": 12}), (2, {"0": 20, "1": 30})):
        (tmp_path / "offsets").mkdir(exist_ok=True)
        (tmp_path / "offsets" / str(batch)).write_text(
            f'v1\n{{"batchWatermarkMs":0}}\n{{"market.ticks":{json.dumps(offsets)}}}'
        )
    (tmp_path / "commits").mkdir()
    for batch in (0, 1):  # batch 2 was planned but not committed
        (tmp_path / "commits" / str(batch)).write_text("v1\n{}")
    assert checkpoint_offsets(str(tmp_path)) == {"market.ticks": {0: 9, 1: 12}}
    running = batch_running_s(str(tmp_path))
    assert running is not None and running < 60  # batch 2 was just planned
    assert checkpoint_offsets("s3a://bucket/checkpoints/q") is None


# --- connections, settings for child processes, data dictionary ---------------------------------------------------


def test_connections_follow_the_settings_of_a_side_by_side_stack() -> None:
    settings = side_by_side_settings("t", 10000)
    conns = airflow_connections(settings)
    assert set(conns) == {
        "marketpulse_kafka",
        "marketpulse_spark",
        "marketpulse_postgres",
        "marketpulse_redis",
        "marketpulse_cassandra",
        "marketpulse_s3",
    }
    assert conns["marketpulse_kafka"]["extra"]["bootstrap.servers"] == "127.0.0.1:19092"
    assert conns["marketpulse_postgres"]["port"] == 15432
    assert conns["marketpulse_redis"]["port"] == 16379
    assert conns["marketpulse_cassandra"]["port"] == 19042
    assert conns["marketpulse_s3"]["extra"]["endpoint_url"] == "http://127.0.0.1:19000"
    assert conns["marketpulse_spark"]["host"] == settings.spark.master


def test_settings_env_rebuilds_the_same_settings_secrets_included(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = side_by_side_settings("t", 10000)
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    assert Settings() == settings


def test_data_dictionary_describes_every_indicator_and_view() -> None:
    # The live catalog's completeness is checked by the bi_export integration test; this guards the code path.
    assert set(INDICATOR_COLUMNS) <= set(reporting.DESCRIPTIONS["fact_indicator_1m"])
    assert set(reporting.VIEWS) == set(reporting.VIEW_DESCRIPTIONS)
    assert all(text.strip() for table in reporting.DESCRIPTIONS.values() for text in table.values())
