"""Hot reload in the running market job: a promotion switches the sequence model between micro-batches, without a
restart, and every prediction records the model version that made it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from pyspark.sql import SparkSession

from factories import random_walk_ticks
from kafka_helpers import produce, tick_records
from marketpulse.config import ModelSettings, Settings, StreamSettings
from marketpulse.models.data import build_dataset, replay_minute_bars
from marketpulse.models.forecasters import WINDOW, fit_sequence
from marketpulse.models.registry import ModelRegistry
from marketpulse.models.walk_forward import fold_rows, walk_forward_splits
from marketpulse.stack.manager import Stack
from marketpulse.stream.market_job import start_market_job
from marketpulse.stream.session import spark_session

pytestmark = pytest.mark.slow

START = pd.Timestamp("2013-02-06 14:30", tz="UTC")


def _ticks(symbol: str, first_minute: int, minutes: int, seed: int) -> pd.DataFrame:
    """About one tick every 4 s, random-walk prices (continuing from minute `first_minute`)."""
    n = minutes * 15
    start = START + pd.Timedelta(minutes=first_minute)
    ticks = random_walk_ticks(symbol, start, minutes=minutes, count=n, seed=seed, price=80, sigma=0.0008)
    return ticks.assign(seq=np.arange(n) + first_minute * 10_000)


def _predictions(settings: Settings, symbol: str) -> pd.DataFrame:
    with psycopg.connect(settings.postgres_dsn()) as conn:
        rows = conn.execute(
            "SELECT feature_ts, horizon, model_name, model_version FROM fact_prediction WHERE symbol = %s", (symbol,)
        ).fetchall()
    return pd.DataFrame(rows, columns=["feature_ts", "horizon", "model_name", "model_version"])


def _wait_for(settings: Settings, symbol: str, condition: str, check: object, timeout_s: float = 240) -> pd.DataFrame:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _predictions(settings, symbol)
        if check(found):  # type: ignore[operator]
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {condition}; predictions: {_predictions(settings, symbol).tail()}")


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-hot-reload-it")
    yield session
    session.stop()


def test_running_job_switches_to_a_newly_promoted_version_between_batches(
    spark: SparkSession, settings: Settings, unique: str, tmp_path: Path
) -> None:
    name, symbol, topic = f"it-hot-{unique}", f"H{unique[:6].upper()}", f"it.ticks.hot.{unique}"
    job_settings = settings.model_copy(
        update={
            "stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), trigger_interval="1 second"),
            "models": ModelSettings(price_name=name, ensemble_name=f"{name}-ens", reload_s=1.0),
        }
    )
    bars = replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 9), ticks_per_day=300, seed=1)
    data = build_dataset(bars, ["1min", "5min"], WINDOW)
    rows = fold_rows(data, walk_forward_splits(sorted(set(data.sessions.tolist())), 1, 2)[0])
    registry = ModelRegistry(settings)
    for version, seed in (("v1", 1), ("v2", 2)):
        model = fit_sequence(data, rows.fit, rows.cal, epochs=1, seed=seed)
        registry.save(name, model.weights(), model.meta(), version=version)
    registry.promote(name, "v1")

    queries, sinks = start_market_job(spark, job_settings, topic=topic)
    try:
        # 80 minutes: indicator warm-up (34 bars) + a 32-bar window leave ~15 bars to predict, all with v1.
        produce(settings, topic, tick_records(_ticks(symbol, 0, 80, seed=1)))
        first = _wait_for(settings, symbol, "v1 predictions", lambda f: len(f) >= 2 * 10)
        assert set(first["model_version"]) == {"v1"} and set(first["horizon"]) == {"1min", "5min"}

        registry.promote(name, "v2")
        time.sleep(2.5)  # > reload_s: the next micro-batch re-reads the pointer
        produce(settings, topic, tick_records(_ticks(symbol, 80, 20, seed=2)))
        after = _wait_for(settings, symbol, "v2 predictions", lambda f: (f["model_version"] == "v2").sum() >= 2 * 10)
        assert all(q.isActive for q in queries), "the job kept running: no restart"
        assert all(q.exception() is None for q in queries)
    finally:
        for query in queries:
            query.stop()
        sinks.close()

    assert after["model_version"].notna().all() and set(after["model_version"]) == {"v1", "v2"}
    # The switch happened between micro-batches: every v1 prediction is older than every v2 prediction.
    newest_v1 = after.loc[after["model_version"] == "v1", "feature_ts"].max()
    oldest_v2 = after.loc[after["model_version"] == "v2", "feature_ts"].min()
    assert newest_v1 < oldest_v2
    assert oldest_v2 >= (START + pd.Timedelta(minutes=79)).to_pydatetime()
