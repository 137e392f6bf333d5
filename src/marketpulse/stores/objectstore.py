"""S3-compatible object storage: client construction and the lake's buckets."""

from __future__ import annotations

from typing import Any

from marketpulse.config import Settings
from marketpulse.errors import ConfigError


def s3_client(settings: Settings, *, timeout_s: float | None = None) -> Any:
    """A boto3 S3 client for the configured endpoint (SeaweedFS locally, the cloud's S3 API elsewhere).

    timeout_s: connect and read timeout with no retries (health probes); default botocore's, 3 attempts.
    """
    import boto3
    from botocore.config import Config

    s3 = settings.s3
    if timeout_s is None:
        limits: dict[str, Any] = {"retries": {"max_attempts": 3, "mode": "standard"}}
    else:
        limits = {"connect_timeout": timeout_s, "read_timeout": timeout_s, "retries": {"total_max_attempts": 1}}
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key.get_secret_value(),
        region_name=s3.region,
        # Path-style addressing: a server on localhost has no per-bucket DNS names.
        config=Config(s3={"addressing_style": "path"}, **limits),
    )


def s3fs_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for s3fs.S3FileSystem (and pandas/pyarrow storage_options)."""
    s3 = settings.s3
    return {
        "key": s3.access_key,
        "secret": s3.secret_key.get_secret_value(),
        "client_kwargs": {"endpoint_url": settings.s3_endpoint or None, "region_name": s3.region},
    }


def create_bucket(settings: Settings, name: str) -> bool:
    """Create bucket `name` unless it exists; True when this call created it."""
    client = s3_client(settings)
    try:
        client.create_bucket(Bucket=name)
    except client.exceptions.BucketAlreadyOwnedByYou:
        return False
    return True


def delete_bucket(settings: Settings, name: str, *, force: bool = False) -> bool:
    """Delete bucket `name` (with force: after deleting every object version and delete marker in it).

    True when this call deleted it, False when it did not exist; a non-empty bucket without force raises.
    """
    client = s3_client(settings)
    try:
        if force:
            _empty_bucket(client, name)
        elif _holds_anything(client, name):
            # Checked here, not left to the server: SeaweedFS deletes a non-empty *versioned* bucket.
            raise ConfigError(f"bucket {name} is not empty; delete it with force to remove its objects too")
        client.delete_bucket(Bucket=name)
    except client.exceptions.NoSuchBucket:
        return False
    return True


def _holds_anything(client: Any, name: str) -> bool:
    page = client.list_object_versions(Bucket=name, MaxKeys=1)
    return bool(page.get("Versions") or page.get("DeleteMarkers"))


def _empty_bucket(client: Any, name: str) -> None:
    # Versions and delete markers too: a versioned bucket holding only those still counts as not empty.
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1000 keys
            client.delete_objects(Bucket=name, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})


def ensure_buckets(settings: Settings) -> list[str]:
    """Create the lake's buckets that do not exist yet; return every bucket name."""
    names = list(settings.s3.buckets.values())
    for name in names:
        create_bucket(settings, name)
    return names
