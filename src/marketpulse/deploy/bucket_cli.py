"""`marketpulse infra bucket create|delete`: bucket lifecycle on the configured S3 endpoint.

terraform/modules/object_store/s3_compatible calls these from terraform_data provisioners, so both are
idempotent and take their endpoint and keys from the MARKETPULSE_S3__* settings like every other command.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from marketpulse.config import Settings
from marketpulse.stores.objectstore import create_bucket, delete_bucket

console = Console(stderr=True)

bucket_app = typer.Typer(
    help="Create or delete buckets on the configured S3 endpoint (idempotent).", no_args_is_help=True
)

BucketNames = Annotated[list[str], typer.Argument(help="Bucket names.")]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings), "the root callback builds Settings"
    return settings


@bucket_app.command("create")
def bucket_create(ctx: typer.Context, names: BucketNames) -> None:
    """Create each bucket that does not exist yet."""
    settings = _settings(ctx)
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
    settings = _settings(ctx)
    for name in names:
        deleted = delete_bucket(settings, name, force=force)
        console.print(f"{name}: {'deleted' if deleted else 'already gone'} on {settings.s3_endpoint}")
