"""
### data_quality

Hourly. Over an event-time window (params `start`/`end`, default the newest `quality.window_hours` of
data) and the run's wall-clock data interval (for Kafka):

- **freshness** per source and symbol (newest lake tick vs the market clock) and of the stream (heartbeat);
- **gaps** in 1-min bars within a session; **outliers**: 1-min log returns beyond N robust sigmas;
- **schema**: the lake's parquet columns against the Tick contract, OHLC/volume validity of the bars;
- **DLQ rate** of `market.ticks`; **consistency**: 1-min bars per symbol and day, Cassandra vs Postgres.

Results replace the window's rows in Postgres (`dq_run`, `dq_result`, view `v_data_quality`), are
exported as `marketpulse_dq_*` metrics, and `enforce` fails loudly listing every breach.

Code: `marketpulse.quality`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _marketpulse import DEFAULT_ARGS, PROJECT_PYTHON, START, START_PAUSED
from airflow.sdk import Param, dag, task


@dag(
    dag_id="data_quality",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["marketpulse", "quality"],
    doc_md=__doc__,
    is_paused_upon_creation=START_PAUSED,
    params={
        "symbols": Param([], type="array", items={"type": "string"}, description="Empty: every symbol."),
        "start": Param(None, type=["null", "string"], description="Window start (ISO UTC); default derived."),
        "end": Param(None, type=["null", "string"], description="Window end (ISO UTC); default the market clock."),
    },
)
def data_quality() -> None:
    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False)
    def run_checks(params_json: str, interval_start: str, interval_end: str) -> dict[str, Any]:
        """Run every check and store the results."""
        from marketpulse.orchestration.tasks import run_quality_checks

        return run_quality_checks(params_json, interval_start, interval_end)

    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False, retries=0)
    def enforce(summary: dict[str, Any]) -> None:
        """Fail, naming every breach, when any check failed."""
        from marketpulse.orchestration.tasks import enforce_quality

        enforce_quality(summary)

    enforce(
        run_checks(
            params_json="{{ params | tojson }}",
            interval_start="{{ data_interval_start.isoformat() if data_interval_start else '' }}",
            interval_end="{{ data_interval_end.isoformat() if data_interval_end else '' }}",
        )
    )


data_quality()
