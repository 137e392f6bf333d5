"""
### bi_export

Hourly. Keeps the PostgreSQL reporting schema Power BI reads current: views (`v_bar_1m`,
`v_daily_summary`, `v_prediction_outcome`, `v_data_quality`) and column comments, the daily rollup
`agg_bar_1d` + `dim_date` over the last `reporting.rollup_lookback_days` (param `full` recomputes all),
retention of facts older than `reporting.retention_days` behind the market clock, a data dictionary
(Markdown + JSON), and fresh planner statistics. `dashboards/powerbi/` has the .pbids file and the guide.

Code: `marketpulse.stores.reporting`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _marketpulse import DEFAULT_ARGS, POSTGRES_CONN, PROJECT_PYTHON, START, START_PAUSED
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Param, dag, task


@dag(
    dag_id="bi_export",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["marketpulse", "reporting", "powerbi"],
    doc_md=__doc__,
    is_paused_upon_creation=START_PAUSED,
    params={"full": Param(False, type="boolean", description="Recompute every daily rollup, not just recent days.")},
)
def bi_export() -> None:
    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False)
    def export(params_json: str) -> dict[str, Any]:
        """Schema, views, rollups and retention."""
        from marketpulse.orchestration.tasks import bi_export

        return bi_export(params_json)

    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False)
    def data_dictionary() -> list[str]:
        """Write the data dictionary from the live catalog."""
        from marketpulse.orchestration.tasks import write_data_dictionary

        return write_data_dictionary()

    analyze = SQLExecuteQueryOperator(
        task_id="analyze",
        conn_id=POSTGRES_CONN,
        sql="ANALYZE fact_bar_1m; ANALYZE fact_indicator_1m; ANALYZE fact_prediction; ANALYZE agg_bar_1d;",
        autocommit=True,
    )

    exported = export(params_json="{{ params | tojson }}")
    exported >> [data_dictionary(), analyze]


bi_export()
