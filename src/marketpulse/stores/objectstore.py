"""S3-compatible object storage: client construction and the lake's buckets."""

from __future__ import annotations

from typing import Any

from marketpulse.config import Settings


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (MinIO locally, the cloud's S3 API elsewhere)."""
    import boto3
    from botocore.config import Config

    s3 = settings.s3
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key.get_secret_value(),
        region_name=s3.region,
        # Path-style addressing: MinIO on localhost has no per-bucket DNS names.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )


def s3fs_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for s3fs.S3FileSystem (and pandas/pyarrow storage_options)."""
    s3 = settings.s3
    return {
        "key": s3.access_key,
        "secret": s3.secret_key.get_secret_value(),
        "client_kwargs": {"endpoint_url": settings.s3_endpoint or None, "region_name": s3.region},
    }


def ensure_buckets(settings: Settings) -> list[str]:
    """Create the lake's buckets that do not exist yet; return every bucket name."""
    client = s3_client(settings)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    names = list(settings.s3.buckets.values())
    for name in names:
        if name not in existing:
            client.create_bucket(Bucket=name)
    return names
