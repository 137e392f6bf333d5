"""Run one DAG with dag.test() in Airflow's venv and print its outcome as one JSON line (used by tests and the CLI).

argv: dag_id, run conf as JSON. Exit code 0 whatever the run's state: the caller reads DAG_TEST_RESULT.
"""

from __future__ import annotations

import json
import sys

from airflow.utils.cli import get_bagged_dag  # type: ignore[import-not-found]
from airflow.utils.session import create_session  # type: ignore[import-not-found]


def main() -> None:
    dag_id, conf = sys.argv[1], json.loads(sys.argv[2])
    dag = get_bagged_dag(bundle_names=None, dag_id=dag_id)  # what `airflow dags test` does
    run = dag.test(run_conf=conf)
    from airflow.models.taskinstance import TaskInstance  # type: ignore[import-not-found]

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
        tasks = {(ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(ti.state) for ti in tis}
    print("DAG_TEST_RESULT " + json.dumps({"state": str(run.state), "tasks": tasks}), flush=True)


if __name__ == "__main__":
    main()
