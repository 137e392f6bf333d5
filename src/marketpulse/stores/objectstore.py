"""S3-compatible object storage: client construction and the lake's buckets."""

from __future__ import annotations

from typing import Any

from marketpulse.config import S3Settings, Settings
from marketpulse.errors import ConfigError


def s3_section(settings: Settings) -> S3Settings:
    """settings.s3 with its endpoint filled in (default: the stack host's S3 API; empty: the cloud's own): a section
    that connects by itself, what writers and sinks are given."""
    return settings.s3.model_copy(update={"endpoint_url": settings.s3_endpoint})


def s3_client(settings: Settings, *, timeout_s: float | None = None) -> Any:
    """A boto3 S3 client for the configured endpoint (SeaweedFS locally, the cloud's S3 API elsewhere).

    Static keys when configured, else boto3's default credential chain (task role, pod identity, instance profile).
    timeout_s: connect and read timeout with no retries (health probes); default botocore's, 3 attempts.
    """
    import boto3
    from botocore.config import Config

    s3 = settings.s3
    if s3.backend != "s3":
        raise ConfigError(f"s3.backend={s3.backend} has no S3 API; use lake_filesystem() (fsspec) for this store")
    if timeout_s is None:
        limits: dict[str, Any] = {"retries": {"max_attempts": 3, "mode": "standard"}}
    else:
        limits = {"connect_timeout": timeout_s, "read_timeout": timeout_s, "retries": {"total_max_attempts": 1}}
    keys = s3.static_keys
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        aws_access_key_id=keys[0] if keys else None,
        aws_secret_access_key=keys[1] if keys else None,
        region_name=s3.region,
        # Path-style addressing: a server on localhost has no per-bucket DNS names.
        config=Config(s3={"addressing_style": "path"}, **_checksum_options(s3), **limits),
    )


def _checksum_options(s3: S3Settings) -> dict[str, str]:
    # boto3 >= 1.36 sends CRC32 checksums by default; GCS's XML API (and older S3-compatible servers) reject them.
    if not s3.checksum_when_required:
        return {}
    return {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}


def s3fs_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for s3fs.S3FileSystem (and pandas/pyarrow storage_options); no keys: the default chain."""
    return section_s3fs_options(s3_section(settings))


def section_s3fs_options(s3: S3Settings) -> dict[str, Any]:
    """s3fs_options for a section from `s3_section` (its endpoint filled in)."""
    if s3.endpoint_url is None:
        raise ConfigError("s3.endpoint_url is not set: build the section with s3_section(settings)")
    keys = s3.static_keys
    options: dict[str, Any] = {
        "client_kwargs": {"endpoint_url": s3.endpoint_url or None, "region_name": s3.region},
    }
    if keys:
        options |= {"key": keys[0], "secret": keys[1]}
    if s3.checksum_when_required:
        options["config_kwargs"] = _checksum_options(s3)
    return options


def adlfs_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for adlfs.AzureBlobFileSystem: the account, and the default Azure credential chain
    (workload identity, managed identity) unless a static account key is configured as s3.secret_key."""
    return section_adlfs_options(settings.s3)


def section_adlfs_options(s3: S3Settings) -> dict[str, Any]:
    """adlfs_options for the s3 section alone (ADLS needs no endpoint)."""
    options: dict[str, Any] = {"account_name": s3.adls_account}
    if s3.secret_key is not None:
        options["account_key"] = s3.secret_key.get_secret_value()
    else:
        options["anon"] = False  # adlfs then uses azure-identity's DefaultAzureCredential
    return options


def lake_filesystem(settings: Settings) -> Any:
    """The fsspec filesystem of the lake: s3fs for any S3 API, adlfs (BSD-3-Clause) for ADLS Gen2.

    Paths are `<bucket>/<key>` on both: an ADLS container per bucket name.
    """
    return section_filesystem(s3_section(settings))


def section_filesystem(s3: S3Settings) -> Any:
    """lake_filesystem for a section from `s3_section`."""
    if s3.backend == "adls":
        try:
            import adlfs
        except ImportError as exc:
            raise ConfigError("s3.backend=adls needs adlfs: pip install 'marketpulse[cloud]'") from exc
        return adlfs.AzureBlobFileSystem(**section_adlfs_options(s3))
    import s3fs

    return s3fs.S3FileSystem(**section_s3fs_options(s3))


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


class ObjectBucket:
    """The few object operations the model registry needs, over boto3 (any S3 API) or fsspec (ADLS through adlfs).

    get() returns None for a missing key; keys() lists every key under a prefix; children() the next path segment
    of every key under a prefix (S3's delimiter listing).
    """

    def __init__(self, settings: Settings, bucket: str, filesystem: Any = None) -> None:
        self.bucket = bucket
        #: The boto3 client on an S3 API, else None (the lake's fsspec filesystem serves instead).
        self.client: Any = None
        self._fs = filesystem
        if self._fs is None and settings.s3.backend == "s3":
            self.client = s3_client(settings)
        elif self._fs is None:
            self._fs = lake_filesystem(settings)

    def put(self, key: str, body: bytes, content_type: str = "application/octet-stream") -> None:
        if self.client is not None:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        else:
            self._fs.pipe_file(f"{self.bucket}/{key}", body)

    def get(self, key: str) -> bytes | None:
        if self.client is not None:
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except self.client.exceptions.NoSuchKey:
                return None
        try:
            return bytes(self._fs.cat_file(f"{self.bucket}/{key}"))
        except FileNotFoundError:
            return None

    def keys(self, prefix: str) -> list[str]:
        if self.client is not None:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        root = f"{self.bucket}/"
        # Listings are read fresh: another process (a trainer) may have written since.
        self._fs.invalidate_cache()
        # S3 prefix semantics over folders: list the prefix's folder, keep what starts with the prefix.
        folder = root + prefix.rsplit("/", 1)[0] if "/" in prefix else root
        paths = (path.lstrip("/") for path in self._fs.find(folder))
        return sorted(path[len(root) :] for path in paths if path.startswith(root + prefix))

    def children(self, prefix: str) -> list[str]:
        if self.client is not None:
            response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
            return sorted(p["Prefix"][len(prefix) :].rstrip("/") for p in response.get("CommonPrefixes", []))
        return sorted({key[len(prefix) :].split("/", 1)[0] for key in self.keys(prefix) if "/" in key[len(prefix) :]})
