"""Run one live provider into Kafka until SIGTERM/SIGINT (what `marketpulse ingest live` calls)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from marketpulse.errors import ConfigError
from marketpulse.ingest.producer import EventProducer
from marketpulse.ingest.providers.alpaca import AlpacaProvider
from marketpulse.ingest.providers.base import MarketDataProvider, ProviderHealth
from marketpulse.ingest.providers.fakes import FakeAlpacaServer, FakeFinnhubServer, FakeProviderServer, load_recording
from marketpulse.ingest.providers.finnhub import FinnhubProvider
from marketpulse.ingest.providers.settings import ProviderSettings
from marketpulse.ingest.providers.sink import KafkaSink

PROVIDERS: dict[str, type[MarketDataProvider]] = {"finnhub": FinnhubProvider, "alpaca": AlpacaProvider}

#: Credentials of the local fakes (never valid anywhere else).
FAKE_KEY, FAKE_SECRET = "fake-key", "fake-secret"


def build_provider(
    name: str, settings: ProviderSettings, symbols: Iterable[str] | None = None, rng: random.Random | None = None
) -> MarketDataProvider:
    """The provider called name, configured from settings (ConfigError if unknown or keys are missing)."""
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}") from None
    try:
        return cls(settings, symbols, rng)
    except ValueError as exc:  # a bad symbol
        raise ConfigError(str(exc)) from exc


def fake_server(name: str, recording: list[str], **options: Any) -> FakeProviderServer:
    """A local fake of provider name replaying recording, accepting FAKE_KEY / FAKE_SECRET."""
    if name == "finnhub":
        return FakeFinnhubServer(recording, api_key=FAKE_KEY, **options)
    if name == "alpaca":
        return FakeAlpacaServer(recording, key_id=FAKE_KEY, secret_key=FAKE_SECRET, **options)
    raise ConfigError(f"no fake for provider {name!r}")


def pointed_at(name: str, settings: ProviderSettings, fake: FakeProviderServer) -> ProviderSettings:
    """settings with provider name's URL and keys replaced by the fake's."""
    if name == "finnhub":
        finnhub = settings.finnhub.model_copy(update={"url": fake.url, "api_key": SecretStr(FAKE_KEY)})
        return settings.model_copy(update={"finnhub": finnhub})
    alpaca = settings.alpaca.model_copy(
        update={"url": f"{fake.url}/v2", "key_id": SecretStr(FAKE_KEY), "secret_key": SecretStr(FAKE_SECRET)}
    )
    return settings.model_copy(update={"alpaca": alpaca})


async def run_live(
    name: str,
    settings: ProviderSettings,
    producer: EventProducer,
    *,
    symbols: Iterable[str] | None = None,
    fake_recording: Path | None = None,
    report: Callable[[ProviderHealth], None] | None = None,
    report_every_s: float = 10.0,
) -> ProviderHealth:
    """Stream provider name into market.ticks until a signal; with fake_recording, from a looping local fake."""
    async with contextlib.AsyncExitStack() as stack:
        if fake_recording is not None:
            try:
                recording = load_recording(fake_recording)
            except OSError as exc:
                raise ConfigError(f"cannot read the recording for the fake {name}: {exc}") from exc
            fake = await stack.enter_async_context(fake_server(name, recording, loop=True, interval_s=0.2, retime=True))
            settings = pointed_at(name, settings, fake)
        provider = build_provider(name, settings, symbols)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, provider.stop)
        reporter = asyncio.create_task(_report(provider, report, report_every_s)) if report else None
        try:
            await provider.run(KafkaSink(producer, provider.name))
        finally:
            if reporter:
                reporter.cancel()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    return provider.health()


async def _report(provider: MarketDataProvider, report: Callable[[ProviderHealth], None], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        report(provider.health())
