"""
### backfill

Manual, with params `symbols` (empty: every symbol in the lake), `start` and `end` (UTC days). Replays
the raw tick lake through the **same** per-symbol state function as the stream
(`marketpulse.stream.market_state.advance`: bars, indicators) into Cassandra and Postgres, one mapped
task per symbol that logs its progress per day. Writes are keyed upserts, so running it twice changes
nothing.

Code: `marketpulse.stream.backfill`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _marketpulse import DEFAULT_ARGS, PROJECT_PYTHON, START
from airflow.sdk import Param, dag, task


@dag(
    dag_id="backfill",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["marketpulse", "stream", "backfill"],
    doc_md=__doc__,
    params={
        "symbols": Param([], type="array", items={"type": "string"}, description="Empty: every lake symbol."),
        "start": Param("2013-01-02", type="string", format="date", description="First UTC day."),
        "end": Param("2013-01-04", type="string", format="date", description="Last UTC day (inclusive)."),
    },
)
def backfill() -> None:
    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False)
    def plan(params_json: str) -> list[dict[str, Any]]:
        """One job per symbol that has lake ticks in the range."""
        from marketpulse.orchestration.tasks import plan_backfill

        return plan_backfill(params_json)

    @task.external_python(
        python=PROJECT_PYTHON, expect_airflow=False, max_active_tis_per_dagrun=2, execution_timeout=timedelta(hours=2)
    )
    def replay_symbol(job: dict[str, Any]) -> dict[str, Any]:
        """Replay one symbol day by day into every history store."""
        from marketpulse.orchestration.tasks import backfill_symbol

        return backfill_symbol(job)

    @task
    def summary(results: list[dict[str, Any]]) -> dict[str, int]:
        """Totals over every symbol."""
        totals = {key: sum(r[key] for r in results) for key in ("ticks", "bars_1s", "bars_1m", "indicators")}
        print(f"backfilled {len(results)} symbols: {totals}")
        return totals

    summary(replay_symbol.expand(job=plan(params_json="{{ params | tojson }}")))


backfill()
