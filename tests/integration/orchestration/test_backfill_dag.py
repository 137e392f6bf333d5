"""The backfill DAG, run with dag.test() against the test stack: raw lake ticks -> the stream's transforms ->
Cassandra and Postgres; a second run leaves every store identical; the bars equal the ticks' bars."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from integration.orchestration.test_airflow_stack import airflow_db, airflow_settings  # noqa: F401  (fixtures)
from marketpulse.config import Settings
from marketpulse.features.bars import ticks_to_bars
from marketpulse.orchestration.airflow import run_dag_test
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stores.lake import LakeWriter
from marketpulse.stores.objectstore import s3_section

pytestmark = pytest.mark.slow

DAYS = [date(2013, 1, 7), date(2013, 1, 8)]


def lake_ticks(symbol: str, day: date, seed: int, minutes: int = 45) -> pd.DataFrame:
    """A session's worth of ticks as the market job lands them (kafka_ts, ts, price, size, source, seq)."""
    rng = np.random.default_rng(seed)
    count = minutes * 15
    start = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=14, minutes=30)
    ts = start + pd.to_timedelta(np.sort(rng.integers(0, minutes * 60_000, count)), unit="ms")
    return pd.DataFrame(
        {
            "kafka_ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(count), unit="ms"),
            "symbol": symbol,
            "ts": ts,
            "price": 50 * np.exp(np.cumsum(rng.normal(0, 0.0007, count))),
            "size": rng.integers(1, 500, count).astype("float64"),
            "bid": None,
            "ask": None,
            "source": "replay",
            "seq": np.arange(count, dtype="int64"),
        }
    )


def plant_lake(settings: Settings, symbols: list[str]) -> pd.DataFrame:
    """Ticks of each symbol and day in the raw lake, split over batches, one tick landed twice (a re-run batch)."""
    writer = LakeWriter(s3_section(settings))
    every = []
    for s_index, symbol in enumerate(symbols):
        for d_index, day in enumerate(DAYS):
            ticks = lake_ticks(symbol, day, seed=10 * s_index + d_index)
            every.append(ticks)
            half = len(ticks) // 2
            writer.write_ticks(ticks.iloc[:half], f"batch-{1000 + d_index}")
            writer.write_ticks(ticks.iloc[half:], f"batch-{2000 + d_index}")
            writer.write_ticks(ticks.iloc[half : half + 1], f"batch-{3000 + d_index}")  # duplicate landing
    return pd.concat(every, ignore_index=True)


def store_snapshot(settings: Settings, symbols: list[str]) -> dict[str, Any]:
    """Every row the backfill may write for these symbols, in a comparable form."""
    import psycopg

    snapshot: dict[str, Any] = {}
    with psycopg.connect(settings.postgres_dsn()) as conn:
        for table in ("fact_bar_1m", "fact_indicator_1m"):
            snapshot[table] = conn.execute(
                f"SELECT * FROM {table} WHERE symbol = ANY(%s) ORDER BY symbol, ts", (symbols,)
            ).fetchall()
        snapshot["dim_symbol"] = conn.execute(
            "SELECT * FROM dim_symbol WHERE symbol = ANY(%s) ORDER BY symbol", (symbols,)
        ).fetchall()
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        for table, intervals in (("bars", ("1s", "1min")), ("indicators", ("1min",))):
            rows = []
            for symbol in symbols:
                for interval in intervals:
                    for day in DAYS:
                        rows += [
                            tuple(row)
                            for row in session.execute(
                                f"SELECT * FROM {table} WHERE symbol = %s AND interval = %s AND day = %s",
                                (symbol, interval, day),
                            )
                        ]
            snapshot[f"cassandra.{table}"] = sorted(rows, key=repr)
    finally:
        cluster.shutdown()
    return snapshot


def test_backfill_replays_the_lake_into_every_store_and_twice_changes_nothing(
    airflow_db: Settings,  # noqa: F811
    unique: str,
) -> None:
    symbols = [f"BF{unique[:6].upper()}{i}" for i in range(2)]
    ticks = plant_lake(airflow_db, symbols)
    conf = {"symbols": symbols, "start": DAYS[0].isoformat(), "end": DAYS[-1].isoformat()}

    first = run_dag_test(airflow_db, "backfill", conf)
    assert first.state == "success", first.output[-5000:]
    assert first.tasks == {
        "plan": "success",
        "replay_symbol[0]": "success",
        "replay_symbol[1]": "success",
        "summary": "success",
    }
    assert "day 2/2" in first.output  # progress per day in the task log
    after_first = store_snapshot(airflow_db, symbols)

    second = run_dag_test(airflow_db, "backfill", conf)
    assert second.state == "success", second.output[-5000:]
    assert store_snapshot(airflow_db, symbols) == after_first

    # Every tick was replayed once (the duplicate landing counts once): the 1-min bars are exactly the ticks' bars.
    expected = ticks_to_bars(ticks[["symbol", "ts", "price", "size"]], "1min")
    stored = pd.DataFrame(
        after_first["fact_bar_1m"],
        columns=["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades"],
    )
    assert len(stored) == len(expected) == 2 * 2 * 45
    np.testing.assert_allclose(stored["close"], expected["close"])
    np.testing.assert_allclose(stored["volume"], expected["volume"])
    assert list(stored["trades"]) == list(expected["trades"])
    indicators = after_first["fact_indicator_1m"]
    assert len(indicators) == len(expected)
    assert len(after_first["cassandra.bars"]) > len(expected)  # 1 s bars too
    assert len(after_first["cassandra.indicators"]) == len(expected)
