"""`marketpulse infra ...`: the provider mirror, the local environment's apply/plan/destroy, env files, and
`infra bucket create|delete`. The IaC CLI is OpenTofu (`tofu`, MPL-2.0), built by the project; a Terraform of
your own runs instead only when you choose it (MARKETPULSE_INFRA__CLI=terraform, or --terraform PATH).

terraform/modules/object_store/s3_compatible calls `infra bucket create|delete` from terraform_data
provisioners, so both are idempotent and take their endpoint and keys from the MARKETPULSE_S3__* settings like
every other command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from marketpulse.cli.console import console, progress
from marketpulse.cli.settings import settings_of
from marketpulse.deploy.checks import run_checks
from marketpulse.deploy.envfile import app_env_from_outputs, write_env_file
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.local_env import LocalEnvironment
from marketpulse.deploy.paths import ENVIRONMENTS, TerraformPaths
from marketpulse.deploy.providers import LOCAL_PROVIDERS, ensure_providers
from marketpulse.deploy.schema_lint import lint_cloud_modules
from marketpulse.deploy.terraform import Terraform, ensure_cli
from marketpulse.stores.objectstore import create_bucket, delete_bucket

app = typer.Typer(
    help="Terraform code run with OpenTofu (tofu): provider mirror, the local environment (applied to the local "
    "stack), env files from outputs. MARKETPULSE_INFRA__CLI=terraform uses your own terraform from PATH instead.",
    no_args_is_help=True,
)
bucket_app = typer.Typer(
    help="Create or delete buckets on the configured S3 endpoint (idempotent).", no_args_is_help=True
)
app.add_typer(bucket_app, name="bucket")

TerraformBinary = Annotated[
    Path | None,
    typer.Option(
        "--terraform",
        help="tofu/terraform binary (>= 1.9) to use; default: OpenTofu built from the Go module proxy into "
        ".stack/cache once, or MARKETPULSE_INFRA__CLI (tofu | terraform = yours on PATH | a path).",
    ),
]
BucketNames = Annotated[list[str], typer.Argument(help="Bucket names.")]


@app.command("providers")
def infra_providers(ctx: typer.Context, terraform: TerraformBinary = None) -> None:
    """Build OpenTofu (once) and the local environment's providers into the mirror (.stack/terraform/providers)."""
    paths = TerraformPaths.for_settings(settings_of(ctx))
    binary = ensure_cli(paths, progress, terraform)
    for path in ensure_providers(LOCAL_PROVIDERS, paths, progress):
        console.print(f"provider {path}")
    console.print(f"{binary.name} {binary}; CLI config {paths.cli_config}")


@app.command("check")
def infra_check(
    ctx: typer.Context,
    terraform: TerraformBinary = None,
    schemas: Annotated[
        bool, typer.Option(help="Also lint aws/gcp/azure resources against the providers' schemas (npm, ~100 MB once).")
    ] = True,
) -> None:
    """tofu fmt -check all; validate + plan-test the local env; lint cloud resources against provider schemas."""
    paths = TerraformPaths.for_settings(settings_of(ctx))
    for result in run_checks(paths, progress, terraform):
        console.print(f"[green]ok[/green] {result.check:<8} {result.target}")
    if schemas:
        findings = lint_cloud_modules(paths, progress)
        for finding in findings:
            console.print(f"[red]schema[/red] {finding}")
        if findings:
            raise TerraformError(f"{len(findings)} resource arguments do not match the providers' schemas")
        console.print(
            "[green]ok[/green] schema   aws 6.25, google 6.50, azurerm 4.55, kubernetes, helm, random resources"
            " (names, nesting, required)"
        )
    console.print(
        "aws, gcp, azure: no validate/plan here (their providers cannot be built from the Go module proxy); "
        "module wiring: tests/unit/deploy/test_terraform_static.py"
    )


@app.command("apply")
def infra_apply(ctx: typer.Context, terraform: TerraformBinary = None) -> None:
    """Apply terraform/envs/local to this stack: buckets on SeaweedFS, topics on Kafka (existing ones are adopted)."""
    env = LocalEnvironment(settings_of(ctx), progress=progress, terraform_binary=terraform)
    adopted = env.apply()
    outputs = env.outputs()
    console.print(f"adopted {len(adopted)} existing resources; buckets: {', '.join(outputs['buckets'].values())}")
    console.print(f"topics: {', '.join(outputs['topics'])}")


@app.command("plan")
def infra_plan(ctx: typer.Context, terraform: TerraformBinary = None) -> None:
    """Plan terraform/envs/local against this stack; exit 2 when it would change anything."""
    summary = LocalEnvironment(settings_of(ctx), progress=progress, terraform_binary=terraform).plan()
    typer.echo(summary.text)
    raise typer.Exit(2 if summary.changes else 0)


@app.command("destroy")
def infra_destroy(ctx: typer.Context, terraform: TerraformBinary = None) -> None:
    """Destroy what terraform/envs/local made on this stack (the buckets with their objects, and the topics)."""
    LocalEnvironment(settings_of(ctx), progress=progress, terraform_binary=terraform).destroy()


@app.command("env")
def infra_env(
    ctx: typer.Context,
    environment: Annotated[str, typer.Argument(help=f"One of {', '.join(ENVIRONMENTS)}.")],
    out: Annotated[Path, typer.Option("--out", help="Env file to write (dotenv, mode 600).")],
    outputs_json: Annotated[
        Path | None,
        typer.Option("--outputs-json", help="Saved `tofu output -json` to read instead of running tofu."),
    ] = None,
    terraform: TerraformBinary = None,
) -> None:
    """Write the app's MARKETPULSE_* env file from an environment's outputs (`tofu output`)."""
    settings = settings_of(ctx)
    if environment not in ENVIRONMENTS:
        raise TerraformError(f"unknown environment {environment!r}; known: {', '.join(ENVIRONMENTS)}")
    if outputs_json is not None:
        raw = json.loads(outputs_json.read_text())
        outputs = {name: entry["value"] for name, entry in raw.items()}
    elif environment == "local":
        outputs = LocalEnvironment(settings, progress=progress, terraform_binary=terraform).outputs()
    else:
        paths = TerraformPaths.for_settings(settings)
        # A cloud root is initialised by whoever applies it (their backend, their .terraform): read it as is.
        runner = Terraform(ensure_cli(paths, progress, terraform), paths, paths.env_root(environment), None)
        outputs = runner.outputs()
    if not outputs:
        raise TerraformError(f"the {environment} environment has no outputs; apply it first")
    env = app_env_from_outputs(outputs)
    write_env_file(env, out, environment=environment)
    console.print(f"wrote {len(env)} settings to {out}")


@bucket_app.command("create")
def bucket_create(ctx: typer.Context, names: BucketNames) -> None:
    """Create each bucket that does not exist yet."""
    settings = settings_of(ctx)
    for name in names:
        created = create_bucket(settings, name)
        console.print(f"{name}: {'created' if created else 'exists'} on {settings.s3_endpoint}")


@bucket_app.command("delete")
def bucket_delete(
    ctx: typer.Context,
    names: BucketNames,
    force: Annotated[bool, typer.Option("--force", help="Delete every object version in the bucket first.")] = False,
) -> None:
    """Delete each bucket (it must be empty unless --force); a missing bucket is not an error."""
    settings = settings_of(ctx)
    for name in names:
        deleted = delete_bucket(settings, name, force=force)
        console.print(f"{name}: {'deleted' if deleted else 'already gone'} on {settings.s3_endpoint}")
