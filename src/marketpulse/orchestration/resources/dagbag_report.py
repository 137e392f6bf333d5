"""Parse the DAG folder with Airflow's DagBag and print what an integrity test needs, as one JSON line.

Runs in Airflow's venv: import errors, and per DAG its tags, schedule, catchup, docs and each task's retries.
"""

from __future__ import annotations

import json
from pathlib import Path

from airflow.configuration import conf  # type: ignore[import-not-found]
from airflow.dag_processing.dagbag import BundleDagBag  # type: ignore[import-not-found]


def main() -> None:
    folder = Path(conf.get("core", "dags_folder"))
    bag = BundleDagBag(folder, bundle_path=folder, bundle_name="dags-folder")
    report = {
        "import_errors": {str(path): str(error) for path, error in bag.import_errors.items()},
        "dags": {
            dag_id: {
                "tags": sorted(dag.tags),
                "schedule": str(getattr(dag, "schedule", None)),
                "catchup": dag.catchup,
                "doc_md": bool(dag.doc_md),
                "max_active_runs": dag.max_active_runs,
                "tasks": {task.task_id: {"retries": task.retries, "type": type(task).__name__} for task in dag.tasks},
            }
            for dag_id, dag in bag.dags.items()
        },
    }
    print("DAGBAG_REPORT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
