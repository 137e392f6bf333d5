"""
### retrain_models

Daily. Builds training data from the stores (or replay history when they are thin), trains a candidate,
evaluates it walk-forward against the production model and the baselines, stores the report and the
candidate in the registry, and **promotes only on improvement**. The running market job re-reads the
production pointer (hot reload); `confirm_hot_reload` waits until it scores with the new version.
Paused at creation: a retrain keeps both cores of a laptop busy for minutes; unpause it in the UI.

Code: `marketpulse.models.pipeline.retrain`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _marketpulse import DEFAULT_ARGS, PROJECT_PYTHON, START
from airflow.sdk import Param, dag, task


@dag(
    dag_id="retrain_models",
    schedule="@daily",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=DEFAULT_ARGS,
    tags=["marketpulse", "models"],
    doc_md=__doc__,
    is_paused_upon_creation=True,
    params={"symbols": Param([], type="array", items={"type": "string"}, description="Empty: models.symbols.")},
)
def retrain_models() -> None:
    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False, execution_timeout=timedelta(hours=2))
    def retrain(params_json: str) -> dict[str, Any]:
        """Train, evaluate walk-forward, promote only on improvement."""
        from marketpulse.orchestration.tasks import retrain_models

        return retrain_models(params_json)

    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False)
    def confirm_hot_reload(result: dict[str, Any]) -> dict[str, Any]:
        """After a promotion, wait until the running market job scores with the new version."""
        from marketpulse.orchestration.tasks import confirm_hot_reload

        return confirm_hot_reload(result)

    confirm_hot_reload(retrain(params_json="{{ params | tojson }}"))


retrain_models()
