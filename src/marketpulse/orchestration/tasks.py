"""What the DAGs' tasks call, in the project's interpreter (`@task.external_python`).

Each function builds Settings from the MARKETPULSE_* variables the Airflow process carries, calls one
`marketpulse` function, prints progress into the task log, and returns plain JSON-able data (it is pickled
back into Airflow's venv, which does not have marketpulse). Arguments arrive as JSON strings rendered
from the DAG's params and data interval.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime
from typing import Any

from marketpulse.config import Settings
from marketpulse.stores.redis_store import SYMBOLS_KEY, latest_key, redis_client
from marketpulse.stream.supervisor import check_market_job, restart_submit_kwargs
from marketpulse.stream.supervisor import check_streams as judge_all


def _say(message: str) -> None:
    print(f"[marketpulse] {message}", flush=True)


def _settings() -> Settings:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return Settings()


def _when(value: str | None) -> datetime | None:
    """An ISO timestamp from a rendered template ('' or 'None' mean absent)."""
    if not value or value == "None":
        return None
    return datetime.fromisoformat(value)


# --- stream_supervisor ---------------------------------------------------------------------------------


def check_streams() -> list[dict[str, Any]]:
    """Judge every stream job; return SparkSubmitOperator kwargs for each one to restart (often none)."""

    settings = _settings()
    restarts = []
    for verdict in judge_all(settings):
        queries = ", ".join(
            f"{q.query}: batch {q.batch_id}, {'-' if q.age_s is None else f'{q.age_s:.0f}s'} ago, lag {q.lag}"
            for q in verdict.queries
        )
        _say(f"{verdict.job}: {verdict.verdict} ({verdict.reason}); {queries}")
        if verdict.needs_restart:
            restarts.append(restart_submit_kwargs(settings, verdict))
    return restarts


# --- backfill ------------------------------------------------------------------------------------------


def plan_backfill(params_json: str) -> list[dict[str, Any]]:
    """One job per symbol with lake ticks in the requested range."""
    from marketpulse.stream.backfill import plan

    params = json.loads(params_json)
    jobs = plan(
        _settings(),
        params.get("symbols") or None,
        date.fromisoformat(params["start"]),
        date.fromisoformat(params["end"]),
    )
    _say(f"{len(jobs)} symbol(s) to backfill: " + ", ".join(f"{j['symbol']} ({j['days']} days)" for j in jobs))
    return jobs


def backfill_symbol(job: dict[str, Any]) -> dict[str, Any]:
    """Replay one symbol's lake ticks through the stream's transforms into Cassandra and Postgres."""
    from marketpulse.stream.backfill import DayProgress
    from marketpulse.stream.backfill import backfill_symbol as replay

    def progress(p: DayProgress) -> None:
        _say(
            f"{p.symbol} {p.day}: day {p.days_done}/{p.days_total} · {p.ticks:,} ticks -> "
            f"{p.bars_1s:,} 1s bars, {p.bars_1m:,} 1min bars, {p.indicators:,} indicator rows"
        )

    started = time.monotonic()
    result = replay(
        _settings(), job["symbol"], date.fromisoformat(job["start"]), date.fromisoformat(job["end"]), progress=progress
    )
    _say(f"{job['symbol']}: {len(result.days)} days in {time.monotonic() - started:.1f}s")
    return result.as_dict()


# --- data_quality --------------------------------------------------------------------------------------


def run_quality_checks(params_json: str, interval_start: str, interval_end: str) -> dict[str, Any]:
    """Run every check, store the results (replacing this window's), return the summary with the breaches."""
    from marketpulse.quality.runner import run_checks, store_report

    params = json.loads(params_json)
    settings = _settings()
    start, end = _when(interval_start), _when(interval_end)
    report = run_checks(
        settings,
        start=_when(params.get("start")),
        end=_when(params.get("end")),
        symbols=params.get("symbols") or None,
        interval=(start, end) if start and end else None,
        progress=_say,
    )
    store_report(settings, report)
    for breach in report.breaches:
        _say(f"BREACH {breach.check} {breach.subject}: {breach.detail}")
    return report.as_dict()


def enforce_quality(summary: dict[str, Any]) -> None:
    """Raise DataQualityBreach listing every failing check (the task fails loudly)."""
    from marketpulse.quality.runner import raise_on_breach

    raise_on_breach(summary)
    _say(f"{summary['checks']} checks passed for {summary['run_key']}")


# --- bi_export -----------------------------------------------------------------------------------------


def bi_export(params_json: str) -> dict[str, Any]:
    """Reporting schema, views and comments, daily rollups, retention."""
    from marketpulse.stores.reporting import export

    params = json.loads(params_json)
    result = export(_settings(), full=bool(params.get("full")))
    _say(
        f"rolled up {result.days_rolled_up} days; views {', '.join(result.views)}; "
        f"retention cut-off {result.cutoff}: deleted {result.rows_deleted}"
    )
    return result.as_dict()


def write_data_dictionary() -> list[str]:
    """The data dictionary (Markdown + JSON) from the live catalog."""
    from marketpulse.stores.reporting import _connect, write_dictionary

    settings = _settings()
    with _connect(settings) as conn:
        paths = write_dictionary(settings, conn)
    _say("data dictionary: " + ", ".join(paths))
    return paths


# --- retrain_models ------------------------------------------------------------------------------------


def retrain_models(params_json: str) -> dict[str, Any]:
    """Train, evaluate walk-forward against production and the baselines, promote only on improvement."""
    from marketpulse.models.pipeline import retrain

    params = json.loads(params_json)

    def progress(stage: str, done: int, total: int) -> None:
        _say(f"{stage} ({done}/{total})")

    result = retrain(_settings(), symbols=params.get("symbols") or None, progress=progress)
    verdict = "PROMOTED" if result.promoted else "kept production"
    _say(f"{verdict}: candidate {result.candidate_version}, production {result.production_version}; {result.reason}")
    return {
        "promoted": result.promoted,
        "candidate_version": result.candidate_version,
        "production_version": result.production_version,
        "reason": result.reason,
        "metrics": json.loads(json.dumps(result.metrics, default=float)),
    }


def confirm_hot_reload(result: dict[str, Any], timeout_s: float = 120.0) -> dict[str, Any]:
    """After a promotion, wait until the running market job scores with the new version (if it is running)."""

    if not result["promoted"]:
        _say("nothing promoted: the market job keeps its model")
        return {"reloaded": None}
    settings = _settings()
    verdict = check_market_job(settings)
    if verdict.verdict != "healthy" or any(q.lag == 0 for q in verdict.queries):
        _say(f"market job is {verdict.verdict} ({verdict.reason}): it loads {result['production_version']} on start")
        return {"reloaded": None}
    client = redis_client(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            versions = {client.hget(latest_key(s), "pred.model_version") for s in client.smembers(SYMBOLS_KEY)}
            if result["production_version"] in versions:
                _say(f"the market job scores with {result['production_version']}")
                return {"reloaded": True}
            time.sleep(5)
    finally:
        client.close()
    raise TimeoutError(f"the market job did not switch to {result['production_version']} within {timeout_s:.0f}s")
