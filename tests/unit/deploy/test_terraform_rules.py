"""The offline value rules, tflint-style rules and licence check over terraform/ (no providers needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marketpulse.deploy.licences import (
    Component,
    licence_problems,
    terraform_cli_licence,
    terraform_components,
)
from marketpulse.deploy.paths import find_terraform_sources
from marketpulse.deploy.rules import check_rules

TERRAFORM = find_terraform_sources()


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*"))
    return copy


def _problems(sources: Path) -> set[tuple[str, str]]:
    return {(f.where, f.problem) for f in check_rules(sources)}


def test_committed_sources_pass_every_rule() -> None:
    assert [str(f) for f in check_rules(TERRAFORM)] == []


def test_managed_runtimes_whose_versions_differ_from_the_code_are_found(sources: Path) -> None:
    module = sources / "modules" / "spark_runtime" / "aws"
    (module / "emr.tf").write_text(
        'resource "aws_emrserverless_application" "old" {\n'
        '  name          = "x"\n  release_label = var.release_label\n  type          = "spark"\n}\n'
        'variable "release_label" {\n  type    = string\n  default = "emr-7.9.0"\n}\n'
        'resource "google_composer_environment" "c" {\n  name = "c"\n  config {\n    software_config {\n'
        '      image_version = "composer-3-airflow-2.10.5-build.3"\n'
        '      pypi_packages = { marketpulse = ">=1.0" }\n    }\n  }\n}\n'
    )
    problems = {p for w, p in _problems(sources) if w.endswith((".old", ".c"))}
    assert any("runs Spark 3.5" in p and "pyspark 4.1" in p for p in problems)
    assert any("runs Airflow 2.10" in p for p in problems)
    assert any("public PyPI" in p for p in problems)


def test_enum_values_the_pinned_provider_rejects_are_found(sources: Path) -> None:
    variables = sources / "modules" / "history_store" / "azure" / "variables.tf"
    variables.write_text(variables.read_text().replace('default     = "4.0"', 'default     = "5.0"'))
    assert (
        "azurerm_cosmosdb_cassandra_cluster.this",
        "version = '5.0' is not one of ['3.11', '4.0'] (azurerm 4.55)",
    ) in _problems(sources)


def test_tflint_style_rules(sources: Path) -> None:
    redis = sources / "modules" / "online_store" / "gcp"
    (redis / "outputs.tf").write_text((redis / "outputs.tf").read_text().replace("  sensitive   = true\n", "", 1))
    versions = redis / "versions.tf"
    versions.write_text(versions.read_text().replace('">= 6.0, < 7.0"', '">= 6.0"'))
    root = sources / "envs" / "gcp" / "main.tf"
    root.write_text(
        root.read_text().replace("zones                 = var.cassandra_zones", 'zones = ["${var.region}-b"]')
    )
    db = sources / "modules" / "reporting_db" / "aws" / "main.tf"
    db.write_text(db.read_text().replace("deletion_protection        = true", "deletion_protection        = false"))

    problems = _problems(sources)

    assert ("output url", "looks secret but is not sensitive = true") in problems
    assert ("provider google", "version '>= 6.0' has no upper bound (pin it or add '< N')") in problems
    assert ("variable cassandra_zones", "declared but never used") in problems
    assert any(where == "zones" for where, _ in problems)
    assert ("aws_db_instance.this", "a database without deletion_protection = true") in problems


def test_every_provider_module_and_chart_has_an_allowed_licence() -> None:
    components = terraform_components(TERRAFORM)
    assert {c.kind for c in components} >= {"provider", "module", "helm chart"}
    assert licence_problems(components) == []


def test_forbidden_and_unknown_licences_fail() -> None:
    components = [
        Component("provider", "aminueza/minio", "AGPL-3.0-only", "envs/local"),
        Component("provider", "someone/new", "unknown", "envs/aws"),
        Component("binary", "terraform 1.11.4", terraform_cli_licence("terraform", (1, 11, 4)), "PATH"),
    ]
    problems = licence_problems(components)
    assert len(problems) == 3
    assert any("AGPL" in p for p in problems) and any("BUSL-1.1" in p for p in problems)
    assert terraform_cli_licence("terraform", (1, 5, 7)) == "MPL-2.0"
    assert terraform_cli_licence("tofu", None) == "MPL-2.0"
