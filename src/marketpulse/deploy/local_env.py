"""The local environment: terraform/envs/local applied to a local stack (buckets on SeaweedFS, topics on Kafka).

Variables come from the stack's Settings, state lives under .stack/terraform/work/<instance>/local. Topics that
already exist (Kafka auto-creates them on first use) are imported into the state before `apply`, so the first
apply adopts them instead of failing; buckets need no import, because their create command (the project's CLI,
run by terraform_data) leaves an existing bucket and its objects as they are.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from marketpulse.config import Settings
from marketpulse.deploy.catalog import Catalog, load_catalog
from marketpulse.deploy.envfile import app_env_from_outputs
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.deploy.providers import LOCAL_PROVIDERS, ensure_providers
from marketpulse.deploy.terraform import Terraform, ensure_cli
from marketpulse.kafka_config import client_config
from marketpulse.stack.install import Progress


def _quiet(_: str) -> None:
    return None


def local_variables(settings: Settings, *, topic_prefix: str = "") -> dict[str, Any]:
    """The local env's input variables, from the Settings of the stack it targets."""
    return {
        "stack_host": settings.stack.host,
        "kafka_bootstrap_servers": settings.kafka_bootstrap,
        "kafka_partitions": settings.kafka.default_partitions,
        "s3_port": settings.s3.port,
        "s3_access_key": settings.s3.local_keys()[0],
        "s3_secret_key": settings.s3.local_keys()[1],
        "s3_region": settings.s3.region,
        "bucket_prefix": settings.s3.bucket_prefix,
        "topic_prefix": topic_prefix,
        "cassandra_port": settings.cassandra.port,
        "cassandra_keyspace": settings.cassandra.keyspace,
        "redis_port": settings.redis.port,
        "postgres_port": settings.postgres.port,
        # The bucket commands run with this very interpreter, so they find the same package and dependencies.
        "marketpulse_cli": [sys.executable, "-m", "marketpulse"],
    }


def provisioner_env(settings: Settings) -> dict[str, str]:
    """Environment of terraform's runs: the bucket commands read the S3 secret from it (never from the state)."""
    return {"MARKETPULSE_S3__SECRET_KEY": settings.s3.local_keys()[1]}


def bucket_address(area: str) -> str:
    return f'module.object_store.terraform_data.this["{area}"]'


def topic_address(name: str) -> str:
    return f'module.streaming_bus.kafka_topic.this["{name}"]'


def destructive_changes(plan: dict[str, Any]) -> list[str]:
    """Addresses that a `terraform show -json` plan would delete (or delete and recreate)."""
    return [
        change["address"]
        for change in plan.get("resource_changes", [])
        if "delete" in change.get("change", {}).get("actions", [])
    ]


@dataclass(frozen=True)
class PlanSummary:
    """What `terraform plan` would do."""

    changes: bool
    text: str


class LocalEnvironment:
    """terraform/envs/local for one stack instance (Settings); `instance` separates state (tests use their own)."""

    def __init__(
        self,
        settings: Settings,
        *,
        paths: TerraformPaths | None = None,
        progress: Progress = _quiet,
        topic_prefix: str = "",
        instance: str | None = None,
        terraform_binary: Path | None = None,
    ) -> None:
        self.settings = settings
        self.paths = paths or TerraformPaths.for_settings(settings)
        self.progress = progress
        self.topic_prefix = topic_prefix
        self.catalog: Catalog = load_catalog(self.paths.catalog)
        self.work_dir = self.paths.work_dir(instance or settings.stack.name, "local")
        self._binary = terraform_binary
        self._terraform: Terraform | None = None

    @property
    def var_file(self) -> Path:
        return self.work_dir / "terraform.tfvars.json"

    @property
    def state_file(self) -> Path:
        return self.work_dir / "terraform.tfstate"

    def terraform(self) -> Terraform:
        """The runner, after making sure the CLI (tofu) and the providers are installed and the root initialised."""
        if self._terraform is None:
            binary = ensure_cli(self.paths, self.progress, self._binary)
            ensure_providers(LOCAL_PROVIDERS, self.paths, self.progress)
            runner = Terraform(
                binary, self.paths, self.paths.env_root("local"), self.work_dir, provisioner_env(self.settings)
            )
            self.work_dir.mkdir(parents=True, exist_ok=True)
            variables = local_variables(self.settings, topic_prefix=self.topic_prefix)
            self.var_file.write_text(json.dumps(variables, indent=2))
            self.var_file.chmod(0o600)
            runner.init({"path": str(self.state_file.resolve())})
            self._terraform = runner
        return self._terraform

    def _var_args(self) -> list[str]:
        return [f"-var-file={self.var_file.resolve()}", "-no-color"]

    def adopt_existing(self) -> list[str]:
        """Import topics that exist on the stack but not in the state; return their addresses."""
        terraform = self.terraform()
        in_state = set(self._state_addresses())
        existing_topics = self._existing_topics()
        wanted = [
            (topic_address(name), name)
            for name in self.catalog.topic_names(self.topic_prefix)
            if name in existing_topics
        ]
        adopted = []
        for address, remote_id in wanted:
            if address not in in_state:
                self.progress(f"adopting existing {remote_id} into the Terraform state")
                terraform.run(["import", *self._var_args(), address, remote_id])
                adopted.append(address)
        return adopted

    def _existing_topics(self) -> set[str]:
        admin = AdminClient(client_config(self.settings, log_level=0))
        return set(admin.list_topics(timeout=10).topics)

    def apply(self) -> list[str]:
        """Adopt what exists, plan, refuse a plan that deletes anything, apply that plan; return what was adopted."""
        adopted = self.adopt_existing()
        terraform = self.terraform()
        plan_file = self.work_dir / "apply.tfplan"
        terraform.run(["plan", "-input=false", f"-out={plan_file.resolve()}", *self._var_args()])
        try:
            plan = json.loads(terraform.run(["show", "-json", str(plan_file.resolve())]).stdout)
            destructive = destructive_changes(plan)
            if destructive:
                # Kafka cannot shrink a topic: the provider would delete and recreate it, and its data with it.
                raise TerraformError(
                    "the plan would delete or replace " + ", ".join(destructive) + " on the local stack; nothing was "
                    "applied. A topic with more partitions than MARKETPULSE_KAFKA__DEFAULT_PARTITIONS is "
                    "replaced: raise that setting, or delete the topic yourself if its data may go."
                )
            self.progress(f"{terraform.binary.name} apply (local environment)")
            terraform.run(["apply", "-input=false", "-no-color", str(plan_file.resolve())])
        finally:
            plan_file.unlink(missing_ok=True)
        return adopted

    def plan(self) -> PlanSummary:
        """`terraform plan -detailed-exitcode`: changes is False when the stack already matches the config."""
        result = self.terraform().run(
            ["plan", "-detailed-exitcode", "-input=false", *self._var_args()], ok_codes=(0, 2)
        )
        return PlanSummary(changes=result.returncode == 2, text=result.stdout)

    def destroy(self) -> None:
        """`terraform destroy`: removes the buckets (with their objects) and topics this state holds."""
        terraform = self.terraform()
        self.progress(f"{terraform.binary.name} destroy (local environment)")
        terraform.run(["destroy", "-auto-approve", "-input=false", *self._var_args()])

    def _state_addresses(self) -> list[str]:
        return self.terraform().run(["state", "list"], ok_codes=(0, 1)).stdout.split()

    def outputs(self) -> dict[str, Any]:
        return self.terraform().outputs()

    def app_env(self) -> dict[str, str]:
        """The MARKETPULSE_* settings the outputs describe."""
        return app_env_from_outputs(self.outputs())
