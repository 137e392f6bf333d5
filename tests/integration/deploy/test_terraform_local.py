"""terraform/envs/local applied for real to the test stack by tofu: adopt, create, no-op second plan, outputs, destroy.

Buckets are terraform_data resources whose provisioners run `marketpulse infra bucket create|delete`."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from marketpulse.config import Settings
from marketpulse.deploy.envfile import write_env_file
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.local_env import LocalEnvironment, bucket_address, topic_address
from marketpulse.stack.manager import Stack
from marketpulse.stores.objectstore import s3_client

pytestmark = pytest.mark.slow


@pytest.fixture
def environment(stack: Stack, settings: Settings, unique: str) -> Iterator[LocalEnvironment]:
    """The local env on the test stack with its own bucket prefix, topic prefix and state, destroyed afterwards."""
    isolated = settings.model_copy(update={"s3": settings.s3.model_copy(update={"bucket_prefix": f"tf{unique}"})})
    env = LocalEnvironment(isolated, topic_prefix=f"tftest.{unique}.", instance=f"test-tf-{unique}")
    yield env
    if env.state_file.exists():
        env.destroy()  # a no-op after the test's own destroy; cleans the shared stack when the test failed early
    shutil.rmtree(env.work_dir.parent, ignore_errors=True)  # .stack/terraform/work/<instance>


def _topics(settings: Settings) -> dict[str, int]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    return {name: len(meta.partitions) for name, meta in admin.list_topics(timeout=10).topics.items()}


def _retention_ms(settings: Settings, topic: str) -> int:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return int(configs["retention.ms"].value)


def test_local_env_apply_is_idempotent_and_destroy_removes_it(environment: LocalEnvironment, tmp_path: Path) -> None:
    settings = environment.settings
    s3 = s3_client(settings)
    buckets = environment.catalog.buckets(settings.s3.bucket_prefix)
    topics = environment.catalog.topic_names(environment.topic_prefix)
    ticks = f"{environment.topic_prefix}market.ticks"
    assert f"{ticks}.dlq" in topics

    # What `stack up` and Kafka's auto-creation leave behind: a bucket holding data, a topic with 1 partition.
    s3.create_bucket(Bucket=buckets["raw"])
    s3.put_object(Bucket=buckets["raw"], Key="ticks/part-0.parquet", Body=b"x")
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(ticks, num_partitions=1, replication_factor=1)])[ticks].result(timeout=30)

    adopted = environment.apply()

    # The topic is imported; the existing bucket needs no import: its create command leaves it and its data alone.
    assert adopted == [topic_address(ticks)]
    in_state = environment.terraform().run(["state", "list"]).stdout.split()
    assert {bucket_address(area) for area in buckets} <= set(in_state)
    # OpenTofu applied it, with the kafka provider from the mirror's registry.opentofu.org layout.
    assert environment.terraform().binary.name == "tofu"
    state = json.loads(environment.state_file.read_text())
    assert 'provider["registry.opentofu.org/mongey/kafka"]' in {r["provider"] for r in state["resources"]}
    existing_buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(buckets.values()) <= existing_buckets
    partitions = _topics(settings)
    assert {name: partitions.get(name) for name in topics} == dict.fromkeys(topics, settings.kafka.default_partitions)
    assert _retention_ms(settings, ticks) == 7 * 24 * 3_600_000
    assert _retention_ms(settings, f"{ticks}.dlq") == 14 * 24 * 3_600_000
    assert s3.get_object(Bucket=buckets["raw"], Key="ticks/part-0.parquet")["Body"].read() == b"x"

    second = environment.plan()
    assert not second.changes, second.text

    env_file = write_env_file(environment.app_env(), tmp_path / "local.env", environment="local")
    rebuilt = Settings(_env_file=env_file)
    assert rebuilt.s3.bucket_prefix == settings.s3.bucket_prefix
    assert rebuilt.s3.buckets == buckets
    assert rebuilt.s3_endpoint == settings.s3_endpoint
    assert rebuilt.s3.secret_key == settings.s3.secret_key
    assert rebuilt.kafka_bootstrap == settings.kafka_bootstrap
    assert rebuilt.cassandra_hosts == settings.cassandra_hosts
    assert rebuilt.cassandra.port == settings.cassandra.port
    assert rebuilt.redis_url == settings.redis_url

    environment.destroy()

    assert not set(buckets.values()) & {b["Name"] for b in s3.list_buckets()["Buckets"]}
    deadline = time.monotonic() + 30  # Kafka deletes topics asynchronously
    while set(topics) & set(_topics(settings)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not set(topics) & set(_topics(settings))


def test_apply_refuses_to_replace_a_topic_it_cannot_shrink(environment: LocalEnvironment) -> None:
    settings = environment.settings
    bars = f"{environment.topic_prefix}market.bars.1m"
    wider = settings.kafka.default_partitions + 2
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(bars, num_partitions=wider, replication_factor=1)])[bars].result(timeout=30)

    with pytest.raises(TerraformError, match=r"replace .*market\.bars\.1m.*nothing was applied"):
        environment.apply()

    assert _topics(settings)[bars] == wider  # the topic and its data are untouched
    s3 = s3_client(settings)
    assert not set(environment.catalog.buckets(settings.s3.bucket_prefix).values()) & {
        b["Name"] for b in s3.list_buckets()["Buckets"]
    }
