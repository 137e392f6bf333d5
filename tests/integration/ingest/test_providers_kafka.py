"""Live providers against loopback fakes of Finnhub and Alpaca, into the test stack's Kafka.

Each Kafka test writes to its own topic (KafkaSink's topic parameter) and `<topic>.dlq`, so tests never see
each other's records. The fakes replay the recordings shipped in marketpulse/ingest/providers/recordings/: per
provider 12 valid trades of the subscribed symbols, trades of TSLA (never subscribed), one malformed frame and one
trade with price 0 (Alpaca adds a trade cancel, which a Tick cannot express).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import REGISTRY
from pydantic import SecretStr

from kafka_helpers import consume, dead_letters
from marketpulse.config import Settings
from marketpulse.contracts import Tick, from_wire
from marketpulse.ingest.producer import EventProducer
from marketpulse.ingest.providers.alpaca import parse_alpaca
from marketpulse.ingest.providers.base import Item, MarketDataProvider, Parsed, Sink
from marketpulse.ingest.providers.fakes import FAKE_KEY, FakeProviderServer, default_recording, load_recording
from marketpulse.ingest.providers.finnhub import parse_finnhub
from marketpulse.ingest.providers.live import PROVIDERS, build_provider, fake_server, pointed_at
from marketpulse.ingest.providers.sink import KafkaSink
from marketpulse.sections.providers import BackoffSettings, ProviderSettings
from marketpulse.stack.manager import Stack

SYMBOLS = {"finnhub": ["AAPL", "MSFT", "NVDA"], "alpaca": ["AAPL", "BRK.B", "MSFT"]}
EXPECTED_TRADES = 12
EXPECTED_REJECT_REASONS = {
    "finnhub": ["not JSON", "price: Input should be greater than 0"],
    "alpaca": ["not JSON", "price: Input should be greater than 0", "trade cancel/error (T=x)"],
}
PARSERS: dict[str, Callable[[bytes], list[Parsed]]] = {"finnhub": parse_finnhub, "alpaca": parse_alpaca}
FAST_BACKOFF = BackoffSettings(base_s=0.05, max_s=0.4, healthy_after_s=5.0)

pytestmark = [pytest.mark.timeout(120), pytest.mark.parametrize("name", sorted(PROVIDERS))]

TickKey = tuple[str, str, float, float, int]


class MemorySink:
    """A Sink that keeps everything, for tests that need no Kafka."""

    def __init__(self) -> None:
        self.calls: list[tuple[Tick | None, bytes, str | None]] = []

    def __call__(self, tick: Tick | None, raw: bytes, reason: str | None) -> None:
        self.calls.append((tick, raw, reason))

    def symbols(self, start: int = 0) -> list[str]:
        return [tick.symbol for tick, _, _ in self.calls[start:] if tick is not None]


def _recording(name: str) -> list[str]:
    return load_recording(default_recording(name))


def _provider(name: str, fake: FakeProviderServer, symbols: list[str], **overrides: Any) -> MarketDataProvider:
    settings = pointed_at(name, ProviderSettings(symbols=symbols, backoff=FAST_BACKOFF, auth_timeout_s=5.0), fake)
    for section, values in overrides.items():
        settings = settings.model_copy(update={section: getattr(settings, section).model_copy(update=values)})
    return build_provider(name, settings, rng=random.Random(7))


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.01)


async def _running(provider: MarketDataProvider, sink: Sink, body: Awaitable[object]) -> None:
    """Run provider while body runs, then stop it and surface any error it raised."""
    task = asyncio.create_task(provider.run(sink))
    try:
        await body
    finally:
        provider.stop()
        await asyncio.wait_for(task, 10)


def _expected_ticks(name: str) -> Counter[TickKey]:
    """What parsing the recording gives for the subscribed symbols (the unit tests pin the parser itself)."""
    parsed = [p for line in _recording(name) for p in PARSERS[name](line.encode())]
    ticks = [p.tick for p in parsed if isinstance(p, Item) and p.tick is not None and p.tick.symbol in SYMBOLS[name]]
    return Counter(_key(tick.symbol, tick) for tick in ticks)


def _key(key: str, tick: Tick) -> TickKey:
    return key, tick.symbol, tick.price, tick.size, int(tick.ts.timestamp() * 1_000_000)


def _metric(metric: str, provider: str) -> float:
    value = REGISTRY.get_sample_value(metric, {"provider": provider})
    assert value is not None, metric
    return value


def _topics(settings: Settings, unique: str) -> str:
    topic = f"it.providers.{unique}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=3, replication_factor=1) for t in (topic, f"{topic}.dlq")]
    )
    for future in futures.values():
        future.result(timeout=30)
    return topic


def _stream_into_kafka(
    name: str, settings: Settings, unique: str, drop_after: int | None
) -> tuple[FakeProviderServer, str]:
    """Replay the recording through provider name into a fresh topic; returns (fake, topic)."""
    topic = _topics(settings, unique)
    producer = EventProducer(settings, f"it-providers-{name}")
    sink = KafkaSink(producer, name, topic=topic)

    async def scenario() -> FakeProviderServer:
        async with fake_server(name, _recording(name), drop_after=drop_after) as fake:
            provider = _provider(name, fake, SYMBOLS[name])
            await _running(provider, sink, asyncio.wait_for(fake.exhausted.wait(), 30))
            assert provider.health()["trades"] == EXPECTED_TRADES
            return fake

    fake = asyncio.run(scenario())
    producer.flush(30)
    return fake, topic


def _assert_in_kafka(name: str, settings: Settings, topic: str) -> None:
    records = consume(settings, topic, EXPECTED_TRADES, settle_s=2.0)  # settle: any extra record fails below
    received = Counter(_key(msg.key().decode(), from_wire(Tick, msg.value())) for msg in records)
    assert sum(received.values()) == EXPECTED_TRADES
    assert received == _expected_ticks(name)  # keyed by symbol, none lost, none twice, no TSLA

    dead = dead_letters(settings, topic, len(EXPECTED_REJECT_REASONS[name]), settle_s=2.0)
    reasons = sorted(letter.reason for letter in dead)
    expected = EXPECTED_REJECT_REASONS[name]
    assert len(reasons) == len(expected)
    assert all(reason.startswith(start) for reason, start in zip(reasons, expected, strict=True)), reasons
    malformed = next(letter.value for letter in dead if letter.reason.startswith("not JSON"))
    assert malformed.decode() in _recording(name)  # the original frame, byte for byte
    assert all(letter.headers["mp.source_topic"] == topic.encode() for letter in dead)


def test_trades_reach_kafka_keyed_by_symbol_and_rejects_reach_the_dlq(
    name: str, stack: Stack, settings: Settings, unique: str
) -> None:
    fake, topic = _stream_into_kafka(name, settings, unique, drop_after=None)
    assert (len(fake.attempts), fake.drops) == (1, 0)
    _assert_in_kafka(name, settings, topic)


def test_reconnect_after_a_drop_resubscribes_and_loses_nothing(
    name: str, stack: Stack, settings: Settings, unique: str
) -> None:
    fake, topic = _stream_into_kafka(name, settings, unique, drop_after=3)
    assert (len(fake.attempts), fake.drops) == (2, 1)
    assert fake.subscriptions.symbols("trades") == set(SYMBOLS[name])  # the second connection re-subscribed
    _assert_in_kafka(name, settings, topic)


def test_auth_failure_reports_auth_failed_and_backs_off(name: str) -> None:
    async def scenario() -> None:
        async with fake_server(name, _recording(name)) as fake:
            wrong = {"api_key": SecretStr("wrong")} if name == "finnhub" else {"secret_key": SecretStr("wrong")}
            provider = _provider(name, fake, SYMBOLS[name], **{name: wrong})
            sink = MemorySink()

            async def body() -> None:
                await _until(lambda: len(fake.attempts) >= 4, what="four attempts")
                health = provider.health()
                assert health["state"] == "auth_failed"  # sticky through backoff and the next attempts
                assert health["connected"] is False
                assert health["auth_failures"] >= 3
                assert health["reconnects"] >= 3
                assert str(health["last_error"]).startswith("auth failed")

            await _running(provider, sink, body())
            assert sink.calls == []
            # Equal jitter: the n-th wait is at least half of min(max_s, base_s * 2**n), so retries never spin.
            gaps = [b - a for a, b in zip(fake.attempts, fake.attempts[1:], strict=False)]
            floors = [min(FAST_BACKOFF.max_s, FAST_BACKOFF.base_s * 2**n) / 2 for n in range(len(gaps))]
            assert all(gap >= floor * 0.9 for gap, floor in zip(gaps, floors, strict=True)), gaps

    asyncio.run(scenario())


def test_unsubscribe_stops_a_symbol_and_subscribe_brings_it_back(name: str) -> None:
    async def scenario() -> None:
        async with fake_server(name, _recording(name), loop=True, interval_s=0.002) as fake:
            provider = _provider(name, fake, ["AAPL", "MSFT"])
            sink = MemorySink()

            async def body() -> None:
                await _until(lambda: {"AAPL", "MSFT"} <= set(sink.symbols()), what="both symbols")
                await provider.unsubscribe(["MSFT"])
                await _until(lambda: "MSFT" not in fake.subscriptions.symbols("trades"), what="the unsubscribe")
                await asyncio.sleep(0.05)  # frames already in flight
                mark = len(sink.calls)
                await _until(lambda: sink.symbols(mark).count("AAPL") >= 10, what="more AAPL trades")
                assert "MSFT" not in sink.symbols(mark)
                health = provider.health()
                assert (health["symbols"], health["state"], health["connected"]) == (["AAPL"], "streaming", True)
                assert health["last_message_age_s"] is not None and health["last_message_age_s"] < 1.0
                assert _metric("marketpulse_provider_connected", name) == 1
                assert time.time() - _metric("marketpulse_provider_last_message_timestamp_seconds", name) < 1.0

                await provider.subscribe(["MSFT"])
                mark = len(sink.calls)
                await _until(lambda: "MSFT" in sink.symbols(mark), what="MSFT again")

            await _running(provider, sink, body())
            assert len(fake.attempts) == 1  # all on one live connection
            assert _metric("marketpulse_provider_connected", name) == 0

    asyncio.run(scenario())


def test_credentials_never_reach_the_logs(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with fake_server(name, _recording(name), drop_after=2) as fake:
            provider = _provider(name, fake, SYMBOLS[name])
            await _running(provider, MemorySink(), asyncio.wait_for(fake.exhausted.wait(), 30))
            assert "fake-secret" not in str(provider.health())

    asyncio.run(scenario())
    assert "connection" in caplog.text  # the run did log
    assert FAKE_KEY not in caplog.text
    assert "fake-secret" not in caplog.text
