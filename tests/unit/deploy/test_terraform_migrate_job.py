"""Every cloud runs `marketpulse db migrate` once, as a Kubernetes job, before its services and Airflow start."""

from __future__ import annotations

from typing import Any

import hcl2
import pytest
from typer.main import get_command

from marketpulse.cli.main import app
from marketpulse.deploy.paths import find_terraform_sources

TERRAFORM = find_terraform_sources()
WORKLOADS = TERRAFORM / "modules" / "spark_runtime" / "kubernetes"


def _blocks(path: Any, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            for block in hcl2.load(handle).get(kind, []):
                found.update({key.strip('"'): value for key, value in block.items()})
    return found


def test_the_workloads_module_runs_the_migration_job_and_waits_for_it() -> None:
    jobs = {key.strip('"'): value for key, value in _blocks(WORKLOADS, "resource")["kubernetes_job_v1"].items()}
    migrate = jobs["migrate"]
    assert migrate["wait_for_completion"] is True
    container = migrate["spec"][0]["template"][0]["spec"][0]["container"][0]
    assert container["command"] == "${var.migrate_command}"
    assert container["image"] == "${var.app_image}"
    # Named by the image: a new image runs its revisions once when deployed.
    assert "sha1(var.app_image)" in migrate["metadata"][0]["name"]
    default = _blocks(WORKLOADS, "variable")["migrate_command"]["default"]
    assert [word.strip('"') for word in default] == ["marketpulse", "db", "migrate"]


def test_the_migration_command_exists_in_the_cli() -> None:
    command = get_command(app)
    db = command.commands["db"]  # type: ignore[attr-defined]
    assert "migrate" in db.commands


def test_airflow_starts_after_the_migration() -> None:
    airflow = _blocks(WORKLOADS, "module")["airflow"]
    assert airflow["source"].strip('"') == "../../airflow/kubernetes"
    assert "${kubernetes_job_v1.migrate}" in airflow["depends_on"]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_services_start_after_the_migration_and_the_migration_after_the_roles(cloud: str) -> None:
    modules = _blocks(TERRAFORM / "envs" / cloud, "module")
    assert modules["workloads"]["source"].strip('"') == "../../modules/spark_runtime/kubernetes"
    assert "${module.workloads}" in modules["services"]["depends_on"]
    # The migration connects as the app role, which owns the database: the roles come first.
    assert "${module.db_roles}" in modules["workloads"]["depends_on"]
    assert "airflow" not in modules, "Airflow is wired once, in spark_runtime/kubernetes"
