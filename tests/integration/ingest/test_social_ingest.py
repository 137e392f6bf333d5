"""The collector and text-replay commands into the real Kafka of the test stack (providers are local fakes)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer

from integration.api.test_api_support import free_port
from marketpulse.config import Settings, settings_env
from marketpulse.contracts import Topics, from_wire
from marketpulse.contracts.text import NewsArticle, SocialPost
from marketpulse.stack.manager import Stack


def _cli(settings: Settings, *args: str, seen_prefix: str = "it") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **settings_env(settings),
        "MARKETPULSE_SOCIAL__METRICS_PORT": str(free_port()),
        "MARKETPULSE_SOCIAL__SEEN_PREFIX": seen_prefix,
        # One round of recent search; the filtered stream delivers across rounds (unit-tested against the fake).
        "MARKETPULSE_SOCIAL__X__MODE": "search",
    }
    return subprocess.run(
        [sys.executable, "-m", "marketpulse", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _all_records(settings: Settings, topic: str) -> list[bytes]:
    """Every record of topic, read from the beginning by a fresh consumer group."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"it-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    ended: set[int] = set()
    idle = 0
    while idle < 10:
        message = consumer.poll(1.0)
        if message is None:
            idle += 1
            continue
        if message.error() is not None:
            ended.add(message.partition())
            if len(ended) >= 3:
                break
            continue
        values.append(message.value())
    consumer.close()
    return values


@pytest.mark.parametrize(
    ("group", "topic", "model", "expected_ids"),
    [
        ("social", Topics.SOCIAL_POSTS, SocialPost, {"x:1867001000000000105", "reddit:t3_1hcb2z1"}),
        ("news", Topics.NEWS_ARTICLES, NewsArticle, {"news:https://www.cnbc.com/2025/12/12/ibm-cuts-outlook.html"}),
    ],
)
def test_collector_command_sends_linked_deduplicated_texts_to_kafka(
    stack: Stack,
    settings: Settings,
    group: str,
    topic: str,
    model: type[SocialPost | NewsArticle],
    expected_ids: set[str],
) -> None:
    seen_prefix = f"it:seen:{uuid.uuid4().hex}"
    result = _cli(settings, "ingest", group, "--fake", "--rounds", "1", seen_prefix=seen_prefix)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "x: 3 sent" in result.stderr if group == "social" else "news: 3 sent" in result.stderr
    items = [from_wire(model, raw) for raw in _all_records(settings, topic)]
    assert expected_ids <= {item.id for item in items}
    assert all(item.symbols and not item.replayed for item in items if item.id in expected_ids)
    # A restarted collector remembers (in Redis) what it sent: nothing goes out twice with a new ingest time.
    again = _cli(settings, "ingest", group, "--fake", "--rounds", "1", seen_prefix=seen_prefix)
    assert again.returncode == 0, again.stdout + again.stderr
    assert ": 0 sent" in again.stderr and ": 3 sent" not in again.stderr


def test_text_replay_command_sends_one_day_of_samples(stack: Stack, settings: Settings) -> None:
    result = _cli(
        settings,
        "ingest",
        "text-replay",
        "--symbols",
        "IBM",
        "--start",
        "2013-01-02",
        "--end",
        "2013-01-02",
        "--texts-per-day",
        "6",
        "--seed",
        "99",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 6 texts" in result.stderr
    posts = [from_wire(SocialPost, raw) for raw in _all_records(settings, Topics.SOCIAL_POSTS)]
    news = [from_wire(NewsArticle, raw) for raw in _all_records(settings, Topics.NEWS_ARTICLES)]
    replayed = [item for item in [*posts, *news] if item.replayed and item.id.endswith(("IBM000", "IBM005"))]
    assert replayed and all(item.symbols == ["IBM"] for item in replayed)
