"""The data_quality DAG, run with dag.test() against the test stack: a planted gap and a planted price jump are
flagged, stored in Postgres per symbol and exported as metrics, the clean symbol passes, and the run fails loudly;
the bi_export DAG then builds the reporting layer over the same bars."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from integration.orchestration.test_airflow_stack import airflow_db, airflow_settings  # noqa: F401  (fixtures)
from marketpulse.config import Settings
from marketpulse.orchestration.airflow import run_dag_test
from marketpulse.quality.metrics import OperationsCollector
from marketpulse.stores.cassandra import CassandraWriter, cassandra_section
from marketpulse.stores.postgres import PostgresWriter, postgres_section
from marketpulse.stores.reporting import dictionary_dir

pytestmark = pytest.mark.slow

SESSION = datetime(2013, 2, 4, 14, 30, tzinfo=UTC)


def minute_bars(symbol: str, seed: int, minutes: list[int], jump_at: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 80 * np.exp(np.cumsum(rng.normal(0, 0.0008, len(minutes))))
    if jump_at is not None:
        close[jump_at:] *= 1.09  # a 9% move in one minute: far beyond 8 sigma of 0.08% moves
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": [pd.Timestamp(SESSION) + pd.Timedelta(minutes=m) for m in minutes],
            "open": close,
            "high": close * 1.0004,
            "low": close * 0.9996,
            "close": close,
            "volume": 1000.0,
            "vwap": close,
            "trades": 10,
        }
    )


def plant(settings: Settings, bars: pd.DataFrame) -> None:
    """The same bars in both history stores, as the stream writes them."""
    cassandra, postgres = CassandraWriter(cassandra_section(settings)), PostgresWriter(postgres_section(settings))
    try:
        cassandra.write_bars(bars, "1min")
        postgres.upsert_symbols(bars.groupby("symbol")["ts"].agg(first="min", last="max").reset_index())
        postgres.upsert_bars_1m(bars)
        postgres.commit()
    finally:
        cassandra.close()
        postgres.close()


def stored_results(settings: Settings, symbols: list[str]) -> dict[tuple[str, str], Any]:
    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        rows = conn.execute(
            "SELECT d.check_name, d.subject, d.ok, d.value FROM dq_result d JOIN dq_run r USING (run_key) "
            "WHERE r.symbols = %s",
            (json.dumps(sorted(symbols)),),
        ).fetchall()
    return {(check, subject): (ok, value) for check, subject, ok, value in rows}


def test_quality_flags_a_planted_gap_and_outlier_and_fails_loudly(
    airflow_db: Settings,  # noqa: F811
    unique: str,
) -> None:
    gap, jump, clean = (f"Q{unique[:6].upper()}{kind}" for kind in ("GAP", "JMP", "OK"))
    full_session = list(range(120))
    bars = pd.concat(
        [
            minute_bars(gap, 1, [m for m in full_session if not 40 <= m < 75]),  # 35 minutes missing
            minute_bars(jump, 2, full_session, jump_at=60),
            minute_bars(clean, 3, full_session),
        ],
        ignore_index=True,
    )
    plant(airflow_db, bars)
    symbols = [gap, jump, clean]
    conf = {
        "symbols": symbols,
        "start": SESSION.isoformat(),
        "end": (SESSION + timedelta(hours=3)).isoformat(),
    }

    run = run_dag_test(airflow_db, "data_quality", conf)

    assert run.state == "failed", run.output[-4000:]
    assert run.tasks == {"run_checks": "success", "enforce": "failed"}
    assert f"gap {gap}" in run.output and f"outlier {jump}" in run.output  # the breaches, named in the task log
    results = stored_results(airflow_db, symbols)
    assert results[("gap", gap)] == (False, pytest.approx(36.0))
    assert results[("gap", jump)][0] and results[("gap", clean)][0]
    assert results[("outlier", jump)][0] is False and results[("outlier", jump)][1] > 8
    assert results[("outlier", gap)][0] and results[("outlier", clean)][0]
    assert results[("consistency", f"{clean}/{SESSION.date()}")][0]  # same bars in Cassandra and Postgres
    assert results[("schema", f"fact_bar_1m/{clean}")][0]

    registry = CollectorRegistry()
    registry.register(OperationsCollector(airflow_db))
    exported = generate_latest(registry).decode()
    assert f'marketpulse_dq_check_ok{{check="gap",subject="{gap}"}} 0.0' in exported
    assert f'marketpulse_dq_check_ok{{check="outlier",subject="{jump}"}} 0.0' in exported
    assert f'marketpulse_dq_check_ok{{check="gap",subject="{clean}"}} 1.0' in exported


def test_bi_export_builds_rollups_views_and_a_complete_data_dictionary(
    airflow_db: Settings,  # noqa: F811
    unique: str,
) -> None:
    import psycopg

    symbol = f"BI{unique[:6].upper()}"
    bars = minute_bars(symbol, 4, list(range(90)))
    plant(airflow_db, bars)

    run = run_dag_test(airflow_db, "bi_export", {"full": True})
    assert run.state == "success", run.output[-4000:]
    assert run.tasks == {"export": "success", "data_dictionary": "success", "analyze": "success"}

    with psycopg.connect(airflow_db.postgres_dsn()) as conn:
        rollup = conn.execute(
            "SELECT open, high, low, close, volume, bars FROM agg_bar_1d WHERE symbol = %s", (symbol,)
        ).fetchall()
        summary = conn.execute("SELECT count(*) FROM v_daily_summary WHERE symbol = %s", (symbol,)).fetchone()
    assert rollup == [
        (
            pytest.approx(bars["open"].iloc[0]),
            pytest.approx(bars["high"].max()),
            pytest.approx(bars["low"].min()),
            pytest.approx(bars["close"].iloc[-1]),
            pytest.approx(90 * 1000.0),
            90,
        )
    ]
    assert summary == (1,)

    dictionary = json.loads((dictionary_dir(airflow_db) / "data_dictionary.json").read_text())
    for name in ("fact_bar_1m", "fact_indicator_1m", "agg_bar_1d", "dim_date", "v_bar_1m", "v_data_quality"):
        assert name in dictionary
    undescribed = [
        f"{table}.{column['name']}"
        for table, entry in dictionary.items()
        if entry["kind"] == "table"
        for column in entry["columns"]
        if not column["description"]
    ]
    assert not undescribed
