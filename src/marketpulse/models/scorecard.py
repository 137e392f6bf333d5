"""The live scorecard: every stored prediction is scored once its target bar exists, in PostgreSQL, and shown
next to what the walk-forward expected of the same model version (`add_expectations`), so drift is visible.

A prediction for horizon h made at bar t is resolved with the same label definition training uses
(`data.forward_labels`: the bar h later in the session, or at the same local time n sessions later), from the
1-min bars the stream wrote to `fact_bar_1m`. Outcomes go to `scorecard_outcome` (one row per prediction,
idempotent upserts); the views `scorecard_summary` and `scorecard_calibration` aggregate them per symbol,
horizon, model and version (Power BI and `/v1/scorecard` read them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from marketpulse.config import Settings
from marketpulse.migrations import require_schema
from marketpulse.models.data import Horizon, forward_labels
from marketpulse.models.registry import ModelNotFoundError, ModelRegistry
from marketpulse.stores.cassandra import prediction_head

log = logging.getLogger(__name__)

#: Predictions older than the newest bar by more than this are not looked at again (their target bar is
#: missing for good: a minute without trades, or a symbol that stopped).
LOOKBACK = timedelta(days=7)


#: Connections whose schema version was checked (the tables and views come from `marketpulse db migrate`).
_CHECKED_CONNECTIONS: set[int] = set()


def write_ensemble_inputs(conn: Any, inputs: pd.DataFrame) -> None:
    """Upsert the sentiment inputs of ensemble predictions (in the caller's transaction)."""
    if inputs.empty:
        return
    if id(conn) not in _CHECKED_CONNECTIONS:
        require_schema(conn)
        _CHECKED_CONNECTIONS.add(id(conn))
    rows = [(r.symbol, r.feature_ts.to_pydatetime(), r.horizon, r.sentiment) for r in inputs.itertuples(index=False)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ensemble_input VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (symbol, feature_ts, horizon) "
            "DO UPDATE SET sentiment = EXCLUDED.sentiment",
            rows,
        )


@dataclass(frozen=True)
class ScorecardUpdate:
    scored: int
    pending: int


def score_predictions(predictions: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of predictions (symbol, feature_ts, horizon, prob_up, ...) whose target bar is in `bars`
    (symbol, ts, close): realized log return, up, hit (side of 0.5 = sign) and Brier score."""
    if predictions.empty or bars.empty:
        return pd.DataFrame()
    bars = bars.sort_values(["symbol", "ts"]).reset_index(drop=True)
    frames = []
    for horizon, part in predictions.groupby("horizon"):
        labels = forward_labels(bars, Horizon.parse(str(horizon)))
        keyed = pd.DataFrame(
            {
                "symbol": bars["symbol"],
                "feature_ts": pd.to_datetime(bars["ts"], utc=True),
                "realized_return": labels["ret"],
                "target_ts": labels["end_ts"],
            }
        ).dropna(subset=["realized_return"])
        frames.append(part.merge(keyed, on=["symbol", "feature_ts"], how="inner"))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if out.empty:
        return out
    out["up"] = (out["realized_return"] > 0).astype(int)
    out["hit"] = ((out["prob_up"] > 0.5).astype(int) == out["up"]).astype(int)
    out["brier"] = (out["prob_up"] - out["up"]) ** 2
    return out


def update_scorecard(settings: Settings, *, symbols: list[str] | None = None) -> ScorecardUpdate:
    """Score every stored prediction whose target bar now exists and has not been scored yet (idempotent)."""
    with psycopg.connect(settings.postgres_dsn()) as conn:
        require_schema(conn)
        symbol_filter = "AND p.symbol = ANY(%(symbols)s)" if symbols else ""
        pending = pd.DataFrame(
            conn.execute(
                "SELECT p.symbol, p.feature_ts, p.horizon, p.model_name, p.model_version, p.prob_up, p.expected_return "
                "FROM fact_prediction p LEFT JOIN scorecard_outcome o ON o.symbol = p.symbol "
                "AND o.feature_ts = p.feature_ts AND o.horizon = p.horizon AND o.model_name = p.model_name "
                "WHERE o.symbol IS NULL AND p.feature_ts >= "
                f"(SELECT max(ts) FROM fact_bar_1m b WHERE b.symbol = p.symbol) - %(lookback)s {symbol_filter}",
                {"lookback": LOOKBACK, "symbols": symbols},
            ).fetchall(),
            columns=["symbol", "feature_ts", "horizon", "model_name", "model_version", "prob_up", "expected_return"],
        )
        if pending.empty:
            return ScorecardUpdate(0, 0)
        pending["feature_ts"] = pd.to_datetime(pending["feature_ts"], utc=True)
        longest = max((_span(h) for h in pending["horizon"].unique()), default=timedelta(0))
        bars = pd.DataFrame(
            conn.execute(
                "SELECT symbol, ts, close FROM fact_bar_1m WHERE symbol = ANY(%s) AND ts >= %s AND ts <= %s",
                (
                    sorted(pending["symbol"].unique()),
                    pending["feature_ts"].min().to_pydatetime(),
                    (pending["feature_ts"].max() + longest).to_pydatetime(),
                ),
            ).fetchall(),
            columns=["symbol", "ts", "close"],
        )
        bars["ts"] = pd.to_datetime(bars["ts"], utc=True)
        outcomes = score_predictions(pending, bars)
        _upsert_outcomes(conn, outcomes)
        conn.commit()
    scored = len(outcomes)
    log.info("scorecard: scored %d predictions, %d still wait for their target bar", scored, len(pending) - scored)
    return ScorecardUpdate(scored, len(pending) - scored)


def _span(horizon: str) -> timedelta:
    """How far after feature_ts a target bar can lie (sessions: allow weekends and holidays)."""
    parsed = Horizon.parse(horizon)
    return timedelta(minutes=parsed.minutes) if parsed.minutes else timedelta(days=4 * parsed.sessions + 3)


def _upsert_outcomes(conn: Any, outcomes: pd.DataFrame) -> None:
    if outcomes.empty:
        return
    rows = [
        (
            r.symbol,
            *prediction_head(r),
            None if r.expected_return is None or r.expected_return != r.expected_return else float(r.expected_return),
            float(r.realized_return),
            int(r.up),
            int(r.hit),
            float(r.brier),
            pd.Timestamp(r.target_ts).to_pydatetime(),
        )
        for r in outcomes.itertuples(index=False)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO scorecard_outcome (symbol, feature_ts, horizon, model_name, model_version, prob_up, "
            "expected_return, realized_return, up, hit, brier, target_ts) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (symbol, feature_ts, horizon, model_name) DO UPDATE SET "
            "model_version = EXCLUDED.model_version, "
            "prob_up = EXCLUDED.prob_up, realized_return = EXCLUDED.realized_return, up = EXCLUDED.up, "
            "hit = EXCLUDED.hit, brier = EXCLUDED.brier, target_ts = EXCLUDED.target_ts, scored_at = now()",
            rows,
        )


def read_scorecard(
    settings: Settings,
    *,
    symbol: str | None = None,
    horizon: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """Summary rows and calibration bins per (symbol, horizon, model, version), plus all-symbol totals."""
    filters, params = [], []
    for column, value in (
        ("symbol", symbol),
        ("horizon", horizon),
        ("model_name", model_name),
        ("model_version", model_version),
    ):
        if value is not None:
            filters.append(f"{column} = %s")
            params.append(value)
    where = ("WHERE " + " AND ".join(filters)) if filters else ""
    with psycopg.connect(settings.postgres_dsn()) as conn:
        require_schema(conn)
        summary = _dicts(
            conn.execute(
                f"SELECT * FROM scorecard_summary {where} ORDER BY symbol, horizon, model_name, model_version", params
            )
        )
        bins = _dicts(
            conn.execute(
                f"SELECT * FROM scorecard_calibration {where} ORDER BY symbol, horizon, model_name, model_version, bin",
                params,
            )
        )
        totals = _dicts(
            conn.execute(
                "SELECT horizon, model_name, model_version, count(*) AS n, avg(hit::float8) AS hit_rate, "
                f"avg(brier) AS brier, stddev_samp(brier) AS brier_sd, {LOG_LOSS_SQL} AS log_loss "
                f"FROM scorecard_outcome {where} GROUP BY horizon, model_name, model_version "
                "ORDER BY horizon, model_name, model_version",
                params,
            )
        )
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for b in bins:
        by_key.setdefault((b["symbol"], b["horizon"], b["model_name"], b["model_version"]), []).append(
            {"bin": int(b["bin"]), "n": int(b["n"]), "mean_prob": b["mean_prob"], "up_rate": b["up_rate"]}
        )
    for row in summary:
        row["calibration"] = by_key.get((row["symbol"], row["horizon"], row["model_name"], row["model_version"]), [])
    add_expectations(totals, lambda name, version: _registry_meta(settings, name, version))
    return {"summary": summary, "totals": totals}


#: Mean log-loss of the outcomes (probabilities clipped as metrics.log_loss does).
LOG_LOSS_SQL = (
    "avg(-(up * ln(greatest(least(prob_up, 1 - 1e-7), 1e-7)) "
    "+ (1 - up) * ln(greatest(least(1 - prob_up, 1 - 1e-7), 1e-7)))::float8)"
)
#: A live score is flagged when it is this many standard errors away from the walk-forward's (and n >= MIN_ROWS).
DRIFT_SE = 2.0
DRIFT_MIN_ROWS = 100

MetaOf = Callable[[str, str], "dict[str, Any] | None"]


def expected_scores(meta: dict[str, Any] | None, horizon: str) -> dict[str, Any] | None:
    """What the walk-forward expected of a model version at a horizon: family, why it serves, held-out hit rate,
    Brier, log-loss (and calibration bins, for a selection). None for versions without a walk-forward (ensemble,
    the first MLP) or horizons it does not serve."""
    if not meta:
        return None
    if meta.get("kind") == "selection":
        entry = meta.get("serving", {}).get(horizon)
        if entry is None:
            return None
        return {"family": entry["family"], "reason": entry["reason"], **entry.get("expected", {})}
    family = meta.get("kind")
    pooled = meta.get("metrics", {}).get(family, {}).get(horizon)
    if not isinstance(pooled, dict):
        return None
    return {
        "family": family,
        "reason": "a single family's version (promoted by hand)",
        "rows": pooled.get("rows"),
        "hit_rate": pooled.get("directional_accuracy"),
        "brier": pooled.get("brier"),
        "log_loss": pooled.get("log_loss"),
        "calibration": [],
    }


def add_expectations(totals: list[dict[str, Any]], meta_of: MetaOf) -> None:
    """Beside each live total (per horizon, model and version): the walk-forward's expectation and the gap.

    Adds family, reason, expected_rows, expected_hit_rate, expected_brier, expected_log_loss, hit_rate_gap,
    brier_gap, log_loss_gap (live - expected; a positive Brier/log-loss gap is worse than the backtest), drift
    ("within" | "worse" | "better" | "too few" | "no backtest") and expected_calibration (bins of the backtest).
    The standard errors treat outcomes as independent, so with many symbols scored at the same minutes they are
    optimistic: a flag is a reason to look, not a verdict."""
    for row in totals:
        expected = expected_scores(meta_of(str(row["model_name"]), str(row["model_version"])), str(row["horizon"]))
        if expected is None:
            row.update({"family": None, "drift": "no backtest"})
            continue
        row["family"], row["reason"] = expected["family"], expected["reason"]
        row["expected_calibration"] = expected.get("calibration", [])
        for score in ("rows", "hit_rate", "brier", "log_loss"):
            row[f"expected_{score}"] = expected.get(score)
        for score in ("hit_rate", "brier", "log_loss"):
            live, wanted = row.get(score), expected.get(score)
            row[f"{score}_gap"] = None if live is None or wanted is None else float(live) - float(wanted)
        row["drift"] = _drift(row)


def _drift(row: dict[str, Any]) -> str:
    n = int(row.get("n") or 0)
    if n < DRIFT_MIN_ROWS or row.get("brier_gap") is None:
        return "too few"
    se = float(row.get("brier_sd") or 0.0) / np.sqrt(n)
    gap = float(row["brier_gap"])
    if abs(gap) <= DRIFT_SE * se:
        return "within"
    return "worse" if gap > 0 else "better"


_META_CACHE: dict[tuple[str, str, str], dict[str, Any] | None] = {}


def _registry_meta(settings: Settings, name: str, version: str) -> dict[str, Any] | None:
    """A version's registry metadata (cached: a version never changes), None when it is not in the registry."""
    key = (settings.s3.buckets["models"], name, version)
    if key not in _META_CACHE:
        try:
            _META_CACHE[key] = ModelRegistry(settings).meta(name, version)
        except ModelNotFoundError:
            _META_CACHE[key] = None
        except (BotoCoreError, ClientError) as exc:
            # The scorecard lives in PostgreSQL: an unreachable object store hides the expectation, not the scores.
            log.warning("scorecard: registry unavailable for %s %s (%s)", name, version, exc)
            return None
    return _META_CACHE[key]


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d.name for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        out.append({k: (float(v) if isinstance(v, (np.floating,)) else v) for k, v in row.items()})
    return out
