"""The S3 behaviour the platform relies on, against the test stack's SeaweedFS: versioning, multipart uploads,
listing semantics, bucket lifecycle, signatures, and parquet through s3fs and pyarrow's own S3 client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from pyarrow import fs as pafs
from pydantic import SecretStr

from marketpulse.config import Settings
from marketpulse.errors import ConfigError
from marketpulse.stack.manager import Stack
from marketpulse.stores.objectstore import create_bucket, delete_bucket, s3_client, s3fs_options

MIB = 1024 * 1024


@pytest.fixture
def bucket(stack: Stack, settings: Settings, unique: str) -> Iterator[str]:
    """A bucket of this test's own, deleted with everything in it afterwards."""
    name = f"it-{unique}"
    assert create_bucket(settings, name)
    yield name
    delete_bucket(settings, name, force=True)


def _error_code(exc: pytest.ExceptionInfo[ClientError]) -> Any:
    return exc.value.response["Error"]["Code"]


def test_versioning_keeps_every_version(settings: Settings, bucket: str) -> None:
    client = s3_client(settings)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=bucket, Key="models/price/production", Body=b"v1")["VersionId"]
    client.put_object(Bucket=bucket, Key="models/price/production", Body=b"v2")

    versions = client.list_object_versions(Bucket=bucket, Prefix="models/")["Versions"]

    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert len(versions) == 2
    assert client.get_object(Bucket=bucket, Key="models/price/production")["Body"].read() == b"v2"
    assert client.get_object(Bucket=bucket, Key="models/price/production", VersionId=first)["Body"].read() == b"v1"


def test_multipart_upload_reassembles_the_parts(settings: Settings, bucket: str) -> None:
    client = s3_client(settings)
    payload = bytes(range(256)) * (12 * MIB // 256)  # 12 MiB: three 5 MiB-or-less parts
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)

    client.upload_fileobj(io.BytesIO(payload), bucket, "big.bin", Config=config)

    head = client.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].strip('"').endswith("-3")  # S3's multipart ETag: <md5 of part md5s>-<parts>
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == payload


def test_listing_by_prefix_delimiter_and_pages(settings: Settings, bucket: str) -> None:
    client = s3_client(settings)
    keys = [f"ticks/date=2024-01-02/symbol={s}/part-{i}.parquet" for s in ("AAPL", "IBM") for i in range(3)]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")

    folders = client.list_objects_v2(Bucket=bucket, Prefix="ticks/date=2024-01-02/", Delimiter="/")
    pages = list(
        client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="ticks/", PaginationConfig={"PageSize": 4}
        )
    )

    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == [
        "ticks/date=2024-01-02/symbol=AAPL/",
        "ticks/date=2024-01-02/symbol=IBM/",
    ]
    assert [len(page["Contents"]) for page in pages] == [4, 2]
    assert [item["Key"] for page in pages for item in page["Contents"]] == sorted(keys)


def test_bucket_lifecycle_follows_s3_semantics(settings: Settings, unique: str, stack: Stack) -> None:
    client = s3_client(settings)
    name = f"life-{unique}"
    assert create_bucket(settings, name)
    assert not create_bucket(settings, name)  # idempotent: the CLI and Terraform rely on it
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket=name, Key="a", Body=b"1")
    client.put_object(Bucket=name, Key="a", Body=b"2")
    client.delete_object(Bucket=name, Key="a")  # leaves a delete marker and two versions
    client.put_object(Bucket=name, Key="b", Body=b"3")

    with pytest.raises(ConfigError, match="not empty"):
        delete_bucket(settings, name)
    with pytest.raises(ClientError) as missing:
        client.put_object(Bucket=f"missing-{unique}", Key="k", Body=b"x")
    deleted = delete_bucket(settings, name, force=True)

    assert _error_code(missing) == "NoSuchBucket"  # no silent bucket creation on write
    assert deleted
    assert not delete_bucket(settings, name)  # already gone: not an error
    assert name not in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_requests_signed_with_a_wrong_secret_are_refused(settings: Settings, stack: Stack) -> None:
    wrong = settings.model_copy(update={"s3": settings.s3.model_copy(update={"secret_key": SecretStr("not-it")})})

    with pytest.raises(ClientError) as refused:
        s3_client(wrong).list_buckets()

    assert _error_code(refused) == "SignatureDoesNotMatch"


def test_parquet_dataset_through_s3fs_and_pyarrow_s3(settings: Settings, bucket: str) -> None:
    table = pa.table({"symbol": ["AAPL", "AAPL", "IBM"], "close": [185.5, 186.0, 160.25]})
    fs = s3fs.S3FileSystem(**s3fs_options(settings))
    pq.write_to_dataset(table, f"{bucket}/bars", filesystem=fs, partition_cols=["symbol"])
    native = pafs.S3FileSystem(
        access_key=settings.s3.access_key,
        secret_key=settings.s3.secret_key.get_secret_value(),
        endpoint_override=settings.s3_endpoint,
        region=settings.s3.region,
    )
    pq.write_table(table, f"{bucket}/native/bars.parquet", filesystem=native)

    through_s3fs = pq.read_table(f"{bucket}/bars", filesystem=fs).to_pandas()
    through_native = pq.read_table(f"{bucket}/native/bars.parquet", filesystem=native)

    assert sorted(fs.ls(f"{bucket}/bars")) == [f"{bucket}/bars/symbol=AAPL", f"{bucket}/bars/symbol=IBM"]
    assert sorted(zip(through_s3fs["symbol"].astype(str), through_s3fs["close"], strict=True)) == [
        ("AAPL", 185.5),
        ("AAPL", 186.0),
        ("IBM", 160.25),
    ]
    assert through_native.equals(table)
