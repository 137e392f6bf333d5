"""Round trips against the real Cassandra, Redis, PostgreSQL and MinIO of the test stack."""

from __future__ import annotations

import psycopg
import redis
import s3fs

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stores.objectstore import s3_client, s3fs_options


def test_cassandra_cql_round_trip(stack: Stack, settings: Settings, unique: str) -> None:
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        table = f"it_{unique}"
        session.execute(
            f"CREATE TABLE {table} (symbol text, day date, ts timestamp, price double, "
            "PRIMARY KEY ((symbol, day), ts)) WITH CLUSTERING ORDER BY (ts DESC)"
        )
        insert = session.prepare(f"INSERT INTO {table} (symbol, day, ts, price) VALUES (?, ?, ?, ?)")
        for minute in range(5):
            session.execute(insert, ("AAPL", "2024-01-02", 1704205800000 + minute * 60_000, 185.0 + minute))
        rows = list(session.execute(f"SELECT ts, price FROM {table} WHERE symbol='AAPL' AND day='2024-01-02'"))
        session.execute(f"DROP TABLE {table}")
    finally:
        cluster.shutdown()
    assert [row.price for row in rows] == [189.0, 188.0, 187.0, 186.0, 185.0]  # clustered by ts desc


def test_redis_hash_and_pubsub(stack: Stack, settings: Settings, unique: str) -> None:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        pubsub = client.pubsub()
        pubsub.subscribe(f"it:{unique}")
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        client.hset(f"latest:{unique}", mapping={"price": "185.5", "symbol": "AAPL"})
        client.publish(f"it:{unique}", "tick")
        message = pubsub.get_message(timeout=5)
        assert client.hgetall(f"latest:{unique}") == {"price": "185.5", "symbol": "AAPL"}
        assert message is not None and message["data"] == "tick"
        pubsub.close()
        client.delete(f"latest:{unique}")
    finally:
        client.close()


def test_postgres_idempotent_upsert(stack: Stack, settings: Settings, unique: str) -> None:
    table = f"it_{unique}"
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.execute(
            f"CREATE TABLE {table} (symbol text, ts timestamptz, close double precision, PRIMARY KEY (symbol, ts))"
        )
        upsert = (
            f"INSERT INTO {table} VALUES (%s, %s, %s) ON CONFLICT (symbol, ts) DO UPDATE SET close = EXCLUDED.close"
        )
        for close in (1.0, 2.0):  # the same natural key twice: one row, last value wins
            conn.execute(upsert, ("AAPL", "2024-01-02T14:30:00Z", close))
        rows = conn.execute(f"SELECT symbol, close FROM {table}").fetchall()
        db = conn.execute("SELECT current_database()").fetchone()
        conn.execute(f"DROP TABLE {table}")
    assert rows == [("AAPL", 2.0)]
    assert db == (settings.postgres.database,)


def test_s3_put_list_get_with_boto3(stack: Stack, settings: Settings, unique: str) -> None:
    client = s3_client(settings)
    bucket = settings.s3.buckets["raw"]
    key = f"it/{unique}/hello.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"hello lake")
    listed = [obj["Key"] for obj in client.list_objects_v2(Bucket=bucket, Prefix=f"it/{unique}/")["Contents"]]
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.delete_object(Bucket=bucket, Key=key)
    assert listed == [key]
    assert body == b"hello lake"
    assert set(settings.s3.buckets.values()) <= {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_s3_put_list_get_with_s3fs(stack: Stack, settings: Settings, unique: str) -> None:
    fs = s3fs.S3FileSystem(**s3fs_options(settings))
    root = f"{settings.s3.buckets['features']}/it/{unique}"
    with fs.open(f"{root}/a.csv", "wb") as handle:
        handle.write(b"symbol,close\nAAPL,185.5\n")
    listed = fs.ls(root)
    content = fs.cat(f"{root}/a.csv")
    fs.rm(root, recursive=True)
    assert listed == [f"{root}/a.csv"]
    assert content == b"symbol,close\nAAPL,185.5\n"
