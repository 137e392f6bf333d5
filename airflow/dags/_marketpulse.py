"""What every MarketPulse DAG shares. Not a DAG (.airflowignore skips it); imported by the DAG files.

Tasks run `marketpulse` code in the project's interpreter, whose path the stack puts in
MARKETPULSE_AIRFLOW_PROJECT_PYTHON; the DAG files themselves import only Airflow and pendulum.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum

#: The project venv's python (set by `marketpulse stack up`); the checkout's .venv when parsed elsewhere.
PROJECT_PYTHON = os.environ.get("MARKETPULSE_AIRFLOW_PROJECT_PYTHON") or str(
    Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
)
#: pyspark's spark-submit from the same venv: Spark and connector versions match the stream's.
SPARK_SUBMIT = str(Path(PROJECT_PYTHON).parent / "spark-submit")

#: Test stacks create every DAG paused (tests run them with dag.test()); see AirflowSettings.start_paused.
START_PAUSED = os.environ.get("MARKETPULSE_AIRFLOW__START_PAUSED", "false").lower() == "true"

START = pendulum.datetime(2026, 1, 1, tz="UTC")
DEFAULT_ARGS = {
    "owner": "marketpulse",
    "retries": 1,
    "retry_delay": timedelta(seconds=30),
}

# Connection ids created from Settings by `marketpulse stack up` (marketpulse.orchestration.connections).
SPARK_CONN = "marketpulse_spark"
POSTGRES_CONN = "marketpulse_postgres"
