"""Baseline: the PostgreSQL schema every module used to create for itself at run time.

Every statement is idempotent (IF NOT EXISTS, OR REPLACE, ADD COLUMN IF NOT EXISTS), so a database made by that
run-time DDL before migrations existed is adopted as it is. Frozen SQL: a later change is a new revision.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: The star schema Power BI reads (stores.postgres writes the facts).
FACTS = [
    """CREATE TABLE IF NOT EXISTS dim_symbol (
        symbol text PRIMARY KEY, first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS fact_bar_1m (
        symbol text NOT NULL REFERENCES dim_symbol(symbol), ts timestamptz NOT NULL,
        open double precision, high double precision, low double precision, close double precision,
        volume double precision, vwap double precision, trades bigint,
        PRIMARY KEY (symbol, ts))""",
    """CREATE TABLE IF NOT EXISTS fact_indicator_1m (
        symbol text NOT NULL REFERENCES dim_symbol(symbol), ts timestamptz NOT NULL, close double precision,
        ret_1 double precision, log_ret_1 double precision, ema_12 double precision, ema_26 double precision,
        macd double precision, macd_signal double precision, macd_hist double precision, rsi_14 double precision,
        bb_mid double precision, bb_upper double precision, bb_lower double precision, bb_pctb double precision,
        volatility_20 double precision,
        PRIMARY KEY (symbol, ts))""",
    """CREATE TABLE IF NOT EXISTS fact_prediction (
        symbol text NOT NULL REFERENCES dim_symbol(symbol), feature_ts timestamptz NOT NULL, horizon text NOT NULL,
        model_name text NOT NULL, model_version text NOT NULL, prob_up double precision,
        expected_return double precision, created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (symbol, feature_ts, horizon, model_name))""",
    # Added to fact_prediction after its first release; dev databases made before them lack them.
    "ALTER TABLE fact_prediction ADD COLUMN IF NOT EXISTS sentiment_window_end timestamptz",
    "ALTER TABLE fact_prediction ADD COLUMN IF NOT EXISTS sentiment_model_version text",
    """CREATE TABLE IF NOT EXISTS fact_sentiment_window (
        symbol text NOT NULL REFERENCES dim_symbol(symbol), window_end timestamptz NOT NULL,
        window_start timestamptz NOT NULL, item_count integer NOT NULL, mean double precision,
        dispersion double precision, buzz double precision,
        mean_x double precision, count_x integer, mean_reddit double precision, count_reddit integer,
        mean_news double precision, count_news integer, model_version text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (symbol, window_end))""",
]

#: Data-quality runs and their results (quality.runner).
QUALITY = [
    """CREATE TABLE IF NOT EXISTS dq_run (
        run_key text PRIMARY KEY, window_start timestamptz NOT NULL, window_end timestamptz NOT NULL,
        symbols text, checked_at timestamptz NOT NULL, checks integer NOT NULL, breaches integer NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dq_result (
        run_key text NOT NULL REFERENCES dq_run(run_key) ON DELETE CASCADE, check_name text NOT NULL,
        subject text NOT NULL, ok boolean NOT NULL, value double precision, threshold double precision,
        detail text NOT NULL, PRIMARY KEY (run_key, check_name, subject))""",
]

#: The reporting layer over the facts (stores.reporting): daily rollups, calendar, views.
REPORTING = [
    """CREATE TABLE IF NOT EXISTS agg_bar_1d (
        symbol text NOT NULL REFERENCES dim_symbol(symbol), day date NOT NULL,
        open double precision, high double precision, low double precision, close double precision,
        volume double precision, vwap double precision, trades bigint, bars integer NOT NULL,
        first_ts timestamptz NOT NULL, last_ts timestamptz NOT NULL, PRIMARY KEY (symbol, day))""",
    """CREATE TABLE IF NOT EXISTS dim_date (
        day date PRIMARY KEY, year integer NOT NULL, quarter integer NOT NULL, month integer NOT NULL,
        month_name text NOT NULL, week integer NOT NULL, weekday integer NOT NULL, weekday_name text NOT NULL)""",
    """CREATE OR REPLACE VIEW v_bar_1m AS
        SELECT b.symbol, b.ts, (b.ts AT TIME ZONE 'UTC')::date AS day, b.open, b.high, b.low, b.close,
               b.volume, b.vwap, b.trades, i.rsi_14, i.macd, i.macd_signal, i.bb_upper, i.bb_lower,
               i.volatility_20
        FROM fact_bar_1m b LEFT JOIN fact_indicator_1m i USING (symbol, ts)""",
    """CREATE OR REPLACE VIEW v_daily_summary AS
        SELECT a.symbol, a.day, a.open, a.high, a.low, a.close, a.volume, a.vwap, a.trades, a.bars,
               a.close / NULLIF(lag(a.close) OVER (PARTITION BY a.symbol ORDER BY a.day), 0) - 1 AS daily_return,
               (a.high - a.low) / NULLIF(a.open, 0) AS daily_range_pct
        FROM agg_bar_1d a""",
    """CREATE OR REPLACE VIEW v_prediction_outcome AS
        SELECT p.symbol, p.feature_ts, p.horizon, p.model_name, p.model_version, p.prob_up, p.expected_return,
               b0.close AS close_at_feature, b1.close AS close_next,
               CASE WHEN b1.close IS NULL THEN NULL ELSE (b1.close > b0.close) END AS went_up,
               CASE WHEN b1.close IS NULL THEN NULL ELSE ((p.prob_up >= 0.5) = (b1.close > b0.close)) END AS hit
        FROM fact_prediction p
        JOIN fact_bar_1m b0 ON b0.symbol = p.symbol AND b0.ts = p.feature_ts
        LEFT JOIN fact_bar_1m b1 ON b1.symbol = p.symbol AND b1.ts = p.feature_ts + interval '1 minute'""",
    """CREATE OR REPLACE VIEW v_data_quality AS
        SELECT r.run_key, r.window_start, r.window_end, r.checked_at, d.check_name, d.subject, d.ok, d.value,
               d.threshold, d.detail
        FROM dq_run r JOIN dq_result d USING (run_key)""",
]

#: API keys (auth.keys) and alert rules with their events (alerts.store).
SERVING = [
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id text PRIMARY KEY,
        name text NOT NULL,
        secret_sha256 text NOT NULL,
        scopes text[] NOT NULL,
        rate_limit_per_s double precision,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz)""",
    """CREATE TABLE IF NOT EXISTS alert_rules (
        rule_id text PRIMARY KEY,
        key_id text NOT NULL,
        name text NOT NULL,
        symbol text NOT NULL,
        condition jsonb NOT NULL,
        webhook_url text,
        webhook_secret text,
        cooldown_s double precision NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz)""",
    "CREATE INDEX IF NOT EXISTS alert_rules_by_key ON alert_rules (key_id, created_at)",
    """CREATE TABLE IF NOT EXISTS alert_events (
        event_id bigserial PRIMARY KEY,
        rule_id text NOT NULL REFERENCES alert_rules(rule_id),
        key_id text NOT NULL,
        symbol text NOT NULL,
        fired_at timestamptz NOT NULL DEFAULT now(),
        observed jsonb NOT NULL,
        webhook_status text NOT NULL DEFAULT 'none',
        webhook_attempts integer NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS alert_events_by_key ON alert_events (key_id, event_id DESC)",
]

#: The live model scorecard and the ensemble's inputs (models.scorecard, models.ensemble).
SCORECARD = [
    """CREATE TABLE IF NOT EXISTS scorecard_outcome (
        symbol text NOT NULL, feature_ts timestamptz NOT NULL, horizon text NOT NULL, model_name text NOT NULL,
        model_version text NOT NULL, prob_up double precision NOT NULL, expected_return double precision,
        realized_return double precision NOT NULL, up smallint NOT NULL, hit smallint NOT NULL,
        brier double precision NOT NULL, target_ts timestamptz NOT NULL, scored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (symbol, feature_ts, horizon, model_name))""",
    "CREATE INDEX IF NOT EXISTS scorecard_outcome_model ON scorecard_outcome (model_name, model_version, horizon)",
    """CREATE TABLE IF NOT EXISTS ensemble_input (
        symbol text NOT NULL, feature_ts timestamptz NOT NULL, horizon text NOT NULL, sentiment jsonb NOT NULL,
        PRIMARY KEY (symbol, feature_ts, horizon))""",
    """CREATE OR REPLACE VIEW scorecard_summary AS
        SELECT symbol, horizon, model_name, model_version, count(*) AS n, avg(hit::float8) AS hit_rate,
               avg(brier) AS brier, avg(prob_up) AS mean_prob, avg(up::float8) AS up_rate,
               min(feature_ts) AS first_ts, max(feature_ts) AS last_ts
        FROM scorecard_outcome GROUP BY symbol, horizon, model_name, model_version""",
    """CREATE OR REPLACE VIEW scorecard_calibration AS
        SELECT symbol, horizon, model_name, model_version,
               least(width_bucket(prob_up, 0, 1, 10), 10) AS bin, count(*) AS n,
               avg(prob_up) AS mean_prob, avg(up::float8) AS up_rate
        FROM scorecard_outcome GROUP BY symbol, horizon, model_name, model_version, bin""",
]

#: Restarts made by the stream supervisor (stream.supervisor).
OPERATIONS = [
    """CREATE TABLE IF NOT EXISTS ops_stream_restart (
        id bigserial PRIMARY KEY, job text NOT NULL, verdict text NOT NULL, reason text NOT NULL,
        restarted_at timestamptz NOT NULL DEFAULT now(), old_pid integer, new_pid integer NOT NULL,
        ready_s double precision NOT NULL)""",
]


def upgrade() -> None:
    for statement in [*FACTS, *QUALITY, *REPORTING, *SERVING, *SCORECARD, *OPERATIONS]:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reverted: drop the database to start over")
