"""The live scorecard on the real PostgreSQL: predictions scored from stored bars, numbers checked by hand, served
at /v1/scorecard; and an ensemble refit from those scores stored and promoted in the real registry."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from integration.api.test_api_support import create_key
from marketpulse.api import create_app
from marketpulse.config import Settings
from marketpulse.models.scorecard import read_scorecard, update_scorecard
from marketpulse.stack.manager import Stack
from marketpulse.stores.postgres import PostgresWriter, postgres_section

T0 = datetime(2013, 2, 5, 15, 0, tzinfo=UTC)  # 10:00 New York


def _bars(symbol: str, closes: list[float]) -> pd.DataFrame:
    ts = [T0 + timedelta(minutes=i) for i in range(len(closes))]
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": pd.to_datetime(ts, utc=True),
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": 10.0,
            "vwap": closes,
            "trades": 1,
        }
    )


def _prediction(symbol: str, minute: int, horizon: str, prob: float, version: str = "v1") -> dict[str, object]:
    return {
        "symbol": symbol,
        "feature_ts": pd.Timestamp(T0 + timedelta(minutes=minute)),
        "horizon": horizon,
        "prob_up": prob,
        "expected_return": 0.0,
        "model_name": "price-sc",
        "model_version": version,
    }


@pytest.fixture
def stored(stack: Stack, settings: Settings, unique: str) -> Iterator[str]:
    """Bars 100, 101, 100.5, 100.5, 102 and five predictions of one symbol, written by the stream's writer."""
    symbol = f"S{unique[:6].upper()}"
    writer = PostgresWriter(postgres_section(settings))
    bars = _bars(symbol, [100.0, 101.0, 100.5, 100.5, 102.0])
    writer.upsert_symbols(pd.DataFrame({"symbol": [symbol], "first": [bars["ts"].min()], "last": [bars["ts"].max()]}))
    writer.upsert_bars_1m(bars)
    predictions = pd.DataFrame(
        [
            _prediction(symbol, 0, "1min", 0.7),  # 100 -> 101: up, hit, brier 0.09
            _prediction(symbol, 1, "1min", 0.6),  # 101 -> 100.5: down, miss, brier 0.36
            _prediction(symbol, 2, "1min", 0.2),  # 100.5 -> 100.5: flat counts as not up: hit, brier 0.04
            _prediction(symbol, 0, "2min", 0.4, version="v2"),  # 100 -> 100.5: up, miss, brier 0.36
            _prediction(symbol, 4, "1min", 0.9),  # no bar at minute 5 yet: waits
        ]
    )
    writer.upsert_predictions(predictions)
    writer.commit()
    writer.close()
    yield symbol
    with psycopg.connect(settings.postgres_dsn()) as conn:
        for table in ("scorecard_outcome", "fact_prediction", "fact_bar_1m"):
            conn.execute(f"DELETE FROM {table} WHERE symbol = %s", (symbol,))


def test_scorecard_numbers_equal_a_hand_computation(settings: Settings, stored: str) -> None:
    first = update_scorecard(settings, symbols=[stored])
    assert (first.scored, first.pending) == (4, 1)
    assert update_scorecard(settings, symbols=[stored]).scored == 0  # each prediction is scored once

    card = read_scorecard(settings, symbol=stored)
    rows = {(r["horizon"], r["model_version"]): r for r in card["summary"]}
    one = rows[("1min", "v1")]
    assert one["n"] == 3
    assert one["hit_rate"] == pytest.approx(2 / 3)
    assert one["brier"] == pytest.approx((0.09 + 0.36 + 0.04) / 3)
    assert one["up_rate"] == pytest.approx(1 / 3)
    assert one["mean_prob"] == pytest.approx(0.5)
    assert {(b["bin"], b["n"], b["up_rate"]) for b in one["calibration"]} == {(8, 1, 1.0), (7, 1, 0.0), (3, 1, 0.0)}
    two = rows[("2min", "v2")]
    assert (two["n"], two["hit_rate"], two["brier"]) == (1, 0.0, pytest.approx(0.36))

    with psycopg.connect(settings.postgres_dsn()) as conn:
        (realized,) = conn.execute(
            "SELECT realized_return FROM scorecard_outcome WHERE symbol = %s AND horizon = '2min'", (stored,)
        ).fetchone()
    assert realized == pytest.approx(0.0049875415110391)  # log(100.5 / 100)

    # The minute-5 bar arrives: the waiting prediction is scored on the next update.
    writer = PostgresWriter(postgres_section(settings))
    writer.upsert_bars_1m(_bars(stored, [100.0, 101.0, 100.5, 100.5, 102.0, 101.0]).iloc[[5]])
    writer.commit()
    writer.close()
    assert update_scorecard(settings, symbols=[stored]).scored == 1

    key = create_key(settings, f"scorecard-{stored}")[1]
    with TestClient(create_app(settings), headers={"X-API-Key": key}) as client:
        response = client.get("/v1/scorecard", params={"symbol": stored, "horizon": "1min"})
        assert response.status_code == 200, response.text
        body = response.json()
        (summary,) = body["summary"]
        assert summary["n"] == 4 and summary["hit_rate"] == pytest.approx(2 / 4)  # 0.9 on 102 -> 101 misses
        assert client.get("/v1/scorecard", params={"symbol": "AAPL; DROP"}).json()["summary"] == []
        assert TestClient(create_app(settings)).get("/v1/scorecard").status_code == 401


def test_scorecard_totals_stand_next_to_the_walk_forward_expectation(
    stack: Stack, settings: Settings, unique: str
) -> None:
    """A selection version in the real registry says what the walk-forward expects; the live totals carry it."""
    from marketpulse.models.registry import ModelRegistry

    name, symbol = f"it-sc-{unique}", f"X{unique[:6].upper()}"
    expected = {"rows": 5000, "hit_rate": 0.55, "brier": 0.24, "log_loss": 0.67, "calibration": [{"lower": 0.5}]}
    serving = {"1min": {"family": "persistence", "version": "v1-persistence", "reason": "no candidate beats it"}}
    meta = {"kind": "selection", "serving": {"1min": {**serving["1min"], "expected": expected}}}
    ModelRegistry(settings).save(name, b"{}", meta, version="v1")
    rows = [
        (symbol, T0 + timedelta(minutes=i), "1min", name, "v1", 0.9, 0.0, -0.001, 0, 0, 0.81, T0)
        for i in range(150)  # confidently wrong, 150 times: far worse than the backtest's Brier 0.24
    ]
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.cursor().executemany(
            "INSERT INTO scorecard_outcome (symbol, feature_ts, horizon, model_name, model_version, prob_up, "
            "expected_return, realized_return, up, hit, brier, target_ts) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        conn.commit()
    try:
        (total,) = read_scorecard(settings, model_name=name)["totals"]
        assert (total["family"], total["reason"]) == ("persistence", "no candidate beats it")
        assert total["expected_brier"] == 0.24 and total["expected_hit_rate"] == 0.55
        assert total["brier"] == pytest.approx(0.81) and total["brier_gap"] == pytest.approx(0.81 - 0.24)
        assert total["hit_rate_gap"] == pytest.approx(-0.55)
        assert total["log_loss"] == pytest.approx(-math.log(0.1)) and total["drift"] == "worse"
        assert total["expected_calibration"] == [{"lower": 0.5}]
    finally:
        with psycopg.connect(settings.postgres_dsn()) as conn:
            conn.execute("DELETE FROM scorecard_outcome WHERE symbol = %s", (symbol,))
