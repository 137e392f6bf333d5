"""The Power BI reporting layer over the star schema: rollups, views, retention and a data dictionary.

The stream (and backfill) write the facts (`stores.postgres`); the `bi_export` DAG keeps this layer
current. Every step is idempotent: rollups are upserts of whole days recomputed from the facts, retention
deletes by a cut-off derived from the data, and the dictionary is rewritten. Tables and views come from the
migrations (`marketpulse db migrate`), never from the export.
Time is the market clock (the newest bar), not the wall clock: replayed history is years old.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from marketpulse.config import Settings
from marketpulse.features.indicators import INDICATOR_COLUMNS
from marketpulse.migrations import require_schema

#: The views Power BI reads (defined by the migrations, described in the data dictionary).
VIEWS = ("v_bar_1m", "v_daily_summary", "v_prediction_outcome", "v_data_quality")

#: Descriptions of every reporting column: the data dictionary (a test keeps it complete).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "dim_symbol": {
        "_table": "One row per instrument the platform has seen.",
        "symbol": "Ticker, e.g. AAPL (key).",
        "first_seen": "Event time (UTC) of its first bar.",
        "last_seen": "Event time (UTC) of its newest bar.",
    },
    "dim_date": {
        "_table": "Calendar of every day that has a daily rollup.",
        "day": "Calendar day (key).",
        "year": "Year.",
        "quarter": "Quarter 1-4.",
        "month": "Month 1-12.",
        "month_name": "Month name.",
        "week": "ISO week number.",
        "weekday": "ISO weekday, 1 = Monday.",
        "weekday_name": "Weekday name.",
    },
    "fact_bar_1m": {
        "_table": "One-minute OHLCV bars built by the stream from ticks (key symbol, ts).",
        "symbol": "Ticker (dim_symbol).",
        "ts": "Bar start, UTC; the bar covers [ts, ts + 1 min).",
        "open": "First trade price in the minute.",
        "high": "Highest trade price.",
        "low": "Lowest trade price.",
        "close": "Last trade price.",
        "volume": "Shares traded.",
        "vwap": "Volume-weighted average price.",
        "trades": "Number of trades.",
    },
    "fact_indicator_1m": {
        "_table": "Technical indicators on the 1-min closes (key symbol, ts); NULL while warming up.",
        "symbol": "Ticker (dim_symbol).",
        "ts": "Bar start, UTC (fact_bar_1m).",
        "close": "Close the indicators were computed on.",
        "ret_1": "Simple return over one bar.",
        "log_ret_1": "Log return over one bar.",
        "ema_12": "Exponential moving average, span 12.",
        "ema_26": "Exponential moving average, span 26.",
        "macd": "ema_12 - ema_26.",
        "macd_signal": "EMA(9) of macd.",
        "macd_hist": "macd - macd_signal.",
        "rsi_14": "Wilder RSI over 14 bars, 0-100.",
        "bb_mid": "Bollinger middle band: 20-bar mean close.",
        "bb_upper": "bb_mid + 2 standard deviations.",
        "bb_lower": "bb_mid - 2 standard deviations.",
        "bb_pctb": "Position of the close within the bands (0 = lower, 1 = upper).",
        "volatility_20": "Standard deviation of the last 20 log returns (per bar, not annualised).",
    },
    "fact_prediction": {
        "_table": "Model predictions made live by the stream (key symbol, feature_ts, horizon, model_name).",
        "symbol": "Ticker (dim_symbol).",
        "feature_ts": "Start (UTC) of the bar whose features the prediction used.",
        "horizon": "How far ahead, e.g. 1min.",
        "model_name": "Registry name of the model.",
        "model_version": "Registry version that made the prediction.",
        "prob_up": "Probability the close rises over the horizon.",
        "expected_return": "Expected return over the horizon.",
        "created_at": "When the row was written.",
        "sentiment_window_end": "End (UTC) of the sentiment window the ensemble fused in; NULL without sentiment.",
        "sentiment_model_version": "Version of the sentiment model behind that window.",
    },
    "fact_sentiment_window": {
        "_table": "Sentiment per symbol over a sliding window of posts and articles (key symbol, window_end).",
        "symbol": "Ticker (dim_symbol).",
        "window_end": "Window end, UTC.",
        "window_start": "Window start, UTC.",
        "item_count": "Posts and articles scored in the window.",
        "mean": "Mean sentiment polarity, -1 (negative) to 1 (positive).",
        "dispersion": "Standard deviation of the polarities.",
        "buzz": "Item count relative to the symbol's usual volume.",
        "mean_x": "Mean polarity of X posts.",
        "count_x": "X posts in the window.",
        "mean_reddit": "Mean polarity of Reddit posts.",
        "count_reddit": "Reddit posts in the window.",
        "mean_news": "Mean polarity of news articles.",
        "count_news": "News articles in the window.",
        "model_version": "Sentiment model version that scored the window.",
        "updated_at": "When the row was last written.",
    },
    "agg_bar_1d": {
        "_table": "Daily rollup of fact_bar_1m per symbol and UTC day (recomputed by bi_export).",
        "symbol": "Ticker (dim_symbol).",
        "day": "UTC day (dim_date).",
        "open": "First 1-min open of the day.",
        "high": "Highest price of the day.",
        "low": "Lowest price of the day.",
        "close": "Last 1-min close of the day.",
        "volume": "Shares traded in the day.",
        "vwap": "Volume-weighted average price of the day.",
        "trades": "Trades in the day.",
        "bars": "1-min bars in the day.",
        "first_ts": "Start of the first bar.",
        "last_ts": "Start of the last bar.",
    },
    "dq_run": {
        "_table": "One data-quality run over an event-time window (data_quality DAG).",
        "run_key": "Window and symbol scope (key).",
        "window_start": "Window start, UTC.",
        "window_end": "Window end, UTC.",
        "symbols": "JSON list of the symbols checked.",
        "checked_at": "When the run ended.",
        "checks": "Results stored.",
        "breaches": "Failing results.",
    },
    "dq_result": {
        "_table": "One check on one subject in a data-quality run.",
        "run_key": "dq_run.",
        "check_name": "gap, outlier, schema, freshness, dlq_rate or consistency.",
        "subject": "What was checked: symbol, source/symbol, table or topic.",
        "ok": "False on a breach.",
        "value": "Measured value (minutes, sigmas, rate, count difference).",
        "threshold": "Limit the value is held to.",
        "detail": "Human explanation.",
    },
}
VIEW_DESCRIPTIONS = {
    "v_bar_1m": "1-min bars with their main indicators and the UTC day: the report's main fact.",
    "v_daily_summary": "Daily rollups with daily return and range.",
    "v_prediction_outcome": "Each 1-min prediction next to what the next bar did (hit = direction right).",
    "v_data_quality": "Every data-quality result with its run's window.",
}


@dataclass(frozen=True)
class ExportResult:
    """What one export did."""

    days_rolled_up: int
    rows_deleted: dict[str, int]
    cutoff: str | None
    views: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "days_rolled_up": self.days_rolled_up,
            "rows_deleted": self.rows_deleted,
            "cutoff": self.cutoff,
            "views": self.views,
        }


def _connect(settings: Settings) -> Any:
    return psycopg.connect(settings.postgres_dsn())


def ensure_schema(conn: Any) -> list[str]:
    """Check the reporting schema is migrated (the export runs no DDL); return the views Power BI reads."""
    require_schema(conn)
    return sorted(VIEWS)


def apply_comments(conn: Any) -> int:
    """Write the data dictionary into PostgreSQL's table, column and view comments (Power BI shows them).

    DDL, so only `marketpulse db migrate` runs it, after the revisions; idempotent. Returns the comments written.
    """
    existing = {
        (table, column)
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        ).fetchall()
    }
    written = 0
    for table, columns in DESCRIPTIONS.items():
        for column, text in columns.items():
            if column == "_table" and table in {name for name, _ in existing}:
                conn.execute(f"COMMENT ON TABLE {table} IS {_literal(text)}")
            elif (table, column) in existing:  # tables and columns other features add may not exist yet
                conn.execute(f"COMMENT ON COLUMN {table}.{column} IS {_literal(text)}")
            else:
                continue
            written += 1
    for view, text in VIEW_DESCRIPTIONS.items():
        conn.execute(f"COMMENT ON VIEW {view} IS {_literal(text)}")
        written += 1
    conn.commit()
    return written


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT takes no bind parameters)."""
    return "'" + text.replace("'", "''") + "'"


def market_clock(conn: Any) -> datetime | None:
    row = conn.execute("SELECT max(ts) FROM fact_bar_1m").fetchone()
    return row[0] if row and row[0] else None


def refresh_rollups(conn: Any, since: date | None) -> int:
    """Recompute agg_bar_1d (and dim_date) for every day >= since (all days when None); returns days written."""
    where, args = ("WHERE ts >= %s", [since]) if since else ("", [])
    rows = conn.execute(
        f"""INSERT INTO agg_bar_1d
        SELECT symbol, (ts AT TIME ZONE 'UTC')::date AS day,
               (array_agg(open ORDER BY ts))[1], max(high), min(low), (array_agg(close ORDER BY ts DESC))[1],
               sum(volume), sum(vwap * volume) / NULLIF(sum(volume), 0), sum(trades), count(*), min(ts), max(ts)
        FROM fact_bar_1m {where}
        GROUP BY symbol, (ts AT TIME ZONE 'UTC')::date
        ON CONFLICT (symbol, day) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
            close = EXCLUDED.close, volume = EXCLUDED.volume, vwap = EXCLUDED.vwap, trades = EXCLUDED.trades,
            bars = EXCLUDED.bars, first_ts = EXCLUDED.first_ts, last_ts = EXCLUDED.last_ts
        RETURNING day""",
        args,
    ).fetchall()
    conn.execute(
        """INSERT INTO dim_date
        SELECT d, extract(year FROM d), extract(quarter FROM d), extract(month FROM d), to_char(d, 'FMMonth'),
               extract(week FROM d), extract(isodow FROM d), to_char(d, 'FMDay')
        FROM (SELECT DISTINCT day AS d FROM agg_bar_1d) days
        ON CONFLICT (day) DO NOTHING"""
    )
    conn.commit()
    return len({row[0] for row in rows})


def apply_retention(conn: Any, retention_days: int) -> tuple[datetime | None, dict[str, int]]:
    """Delete facts older than retention_days behind the market clock (rollups are kept); returns cut-off, counts."""
    clock = market_clock(conn)
    if clock is None:
        return None, {}
    cutoff = clock - timedelta(days=retention_days)
    deleted = {}
    for table, column in (("fact_prediction", "feature_ts"), ("fact_indicator_1m", "ts"), ("fact_bar_1m", "ts")):
        deleted[table] = conn.execute(f"DELETE FROM {table} WHERE {column} < %s", (cutoff,)).rowcount
    conn.commit()
    return cutoff, deleted


def data_dictionary(conn: Any) -> dict[str, Any]:
    """Every reporting table and view with its columns, types and descriptions, from the live catalog."""
    names = [*DESCRIPTIONS, *VIEWS]
    rows = conn.execute(
        """SELECT c.table_name, c.column_name, c.data_type, c.is_nullable,
                  col_description(format('%%I', c.table_name)::regclass, c.ordinal_position)
           FROM information_schema.columns c
           WHERE c.table_schema = current_schema() AND c.table_name = ANY(%s)
           ORDER BY c.table_name, c.ordinal_position""",
        (names,),
    ).fetchall()
    tables: dict[str, Any] = {}
    for table, column, kind, nullable, comment in rows:
        entry = tables.setdefault(
            table,
            {
                "kind": "view" if table in VIEWS else "table",
                "description": VIEW_DESCRIPTIONS.get(table) or DESCRIPTIONS.get(table, {}).get("_table", ""),
                "columns": [],
            },
        )
        entry["columns"].append(
            {"name": column, "type": kind, "nullable": nullable == "YES", "description": comment or ""}
        )
    return tables


def dictionary_markdown(tables: dict[str, Any]) -> str:
    """The data dictionary as Markdown (one section per table or view)."""
    lines = ["# MarketPulse reporting schema: data dictionary", "", "Generated by the `bi_export` DAG.", ""]
    for name in sorted(tables, key=lambda n: (tables[n]["kind"], n)):
        entry = tables[name]
        lines += [f"## {name} ({entry['kind']})", "", entry["description"], "", "| column | type | description |"]
        lines.append("|---|---|---|")
        lines += [f"| {c['name']} | {c['type']} | {c['description']} |" for c in entry["columns"]]
        lines.append("")
    return "\n".join(lines)


def dictionary_dir(settings: Settings) -> Path:
    return settings.reporting.dictionary_dir or settings.stack.run_dir / "reporting"


def write_dictionary(settings: Settings, conn: Any) -> list[str]:
    """Write data_dictionary.md and .json; return their paths."""
    folder = dictionary_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    tables = data_dictionary(conn)
    markdown, as_json = folder / "data_dictionary.md", folder / "data_dictionary.json"
    markdown.write_text(dictionary_markdown(tables))
    as_json.write_text(json.dumps(tables, indent=2))
    return [str(markdown), str(as_json)]


def export(settings: Settings, *, full: bool = False) -> ExportResult:
    """Schema, rollups (the last rollup_lookback_days of the market clock, or all), retention."""
    with _connect(settings) as conn:
        views = ensure_schema(conn)
        clock = market_clock(conn)
        since = (
            None if full or clock is None else clock.date() - timedelta(days=settings.reporting.rollup_lookback_days)
        )
        days = refresh_rollups(conn, since)
        cutoff, deleted = apply_retention(conn, settings.reporting.retention_days)
    return ExportResult(days, deleted, cutoff.isoformat() if cutoff else None, views)


def indicator_columns() -> list[str]:
    """The indicator columns the facts carry (the dictionary must describe each)."""
    return list(INDICATOR_COLUMNS)
