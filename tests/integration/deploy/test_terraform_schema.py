"""The aws/gcp/azure modules checked against the providers' schemas (from the @cdktf/provider-* bindings on npm)."""

from __future__ import annotations

import shutil
from pathlib import Path

from marketpulse.config import Settings
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.schema_lint import lint_cloud_modules


def test_cloud_modules_match_the_provider_schemas(settings: Settings) -> None:
    findings = lint_cloud_modules(TerraformPaths.for_settings(settings), progress=lambda _: None)
    assert [str(finding) for finding in findings] == []


def test_schema_lint_finds_wrong_missing_and_misreferenced_arguments(settings: Settings, tmp_path: Path) -> None:
    real = TerraformPaths.for_settings(settings)
    sources = tmp_path / "terraform"
    shutil.copytree(real.sources, sources, ignore=shutil.ignore_patterns(".terraform*"))
    redis = sources / "modules" / "online_store" / "gcp" / "main.tf"
    redis.write_text(redis.read_text().replace("  tier ", "  tiers ", 1))
    msk = sources / "modules" / "streaming_bus" / "aws" / "main.tf"
    msk.write_text(msk.read_text().replace("    instance_type   = var.instance_type\n", "", 1))
    msk_outputs = msk.with_name("outputs.tf")
    msk_outputs.write_text(msk_outputs.read_text().replace("bootstrap_brokers_sasl_scram", "bootstrap_brokers_scram"))
    apps = sources / "modules" / "services" / "azure" / "main.tf"
    apps.write_text(apps.read_text().replace('dynamic "env"', 'dynamic "envs"', 1))
    aws_root = sources / "envs" / "aws" / "main.tf"
    aws_root.write_text(aws_root.read_text().replace("  default_tags {", "  default_tag {", 1))

    problems = {
        (finding.where, finding.problem)
        for finding in lint_cloud_modules(TerraformPaths(sources, real.cache), progress=lambda _: None)
    }

    assert problems == {
        ("google_redis_instance.this", "unknown argument or block 'tiers'"),
        ("aws_msk_cluster.this.broker_node_group_info", "required argument 'instance_type' is missing"),
        ("aws_msk_cluster.this", "has no attribute 'bootstrap_brokers_scram'"),
        ("azurerm_container_app.this.template.container", "dynamic block 'envs' is not a block here"),
        ("provider aws", "unknown argument or block 'default_tag'"),
    }
