"""
### stream_supervisor

Every minute: judge each streaming job from what it writes itself (per-query heartbeat and batch id in
Redis), its process, and its Kafka lag (end offsets minus its checkpoint's committed offsets). A **dead**
job (process gone) or a **stuck** one (no micro-batch for `airflow.stuck_after_s` while input waits) is
restarted with `SparkSubmitOperator` from its checkpoint; the restart is recorded in Postgres
(`ops_stream_restart`) and shows up as `marketpulse_stream_restarts_total` on the API's /metrics.
Idle jobs (nothing to read) and jobs stopped on purpose are left alone. Only what the job's current run wrote
counts: a heartbeat older than its process is another run's (e.g. left before a long `make down`), and a job
launched but not yet running its queries is **starting** (never restarted) for `airflow.restart_timeout_s`.
The restart task judges the job again under the job's launch lock and leaves it alone when `platform up` (or an
earlier restart) launched it since the verdict; it starts the same spark-submit command `platform up` does.

Code: `marketpulse.stream.supervisor`, `spark/restart_stream.py`, `spark/market_job.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _marketpulse import DEFAULT_ARGS, PROJECT_PYTHON, SPARK_CONN, SPARK_SUBMIT, START, START_PAUSED
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import dag, task


@dag(
    dag_id="stream_supervisor",
    schedule="* * * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args=DEFAULT_ARGS,
    tags=["marketpulse", "stream", "operations"],
    doc_md=__doc__,
    is_paused_upon_creation=START_PAUSED,
)
def stream_supervisor() -> None:
    @task.external_python(python=PROJECT_PYTHON, expect_airflow=False, retries=0)
    def check_streams() -> list[dict[str, Any]]:
        """Verdict per job; SparkSubmitOperator arguments for each one to restart."""
        from marketpulse.orchestration.tasks import check_streams

        return check_streams()

    SparkSubmitOperator.partial(
        task_id="restart_stream",
        conn_id=SPARK_CONN,
        spark_binary=SPARK_SUBMIT,
        retries=1,
        execution_timeout=timedelta(minutes=8),
    ).expand_kwargs(check_streams())


stream_supervisor()
