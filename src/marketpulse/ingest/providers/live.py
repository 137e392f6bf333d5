"""Run one live provider into Kafka until SIGTERM/SIGINT (what `marketpulse ingest live` calls)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from marketpulse.errors import ConfigError
from marketpulse.ingest.producer import EventProducer
from marketpulse.ingest.providers import alpaca, finnhub
from marketpulse.ingest.providers.base import MarketDataProvider, ProviderHealth, ProviderSpec
from marketpulse.ingest.providers.fakes import FakeProviderServer, load_recording
from marketpulse.ingest.providers.sink import KafkaSink
from marketpulse.sections.providers import ProviderSettings

#: Every live provider, by name: each module declares its own ProviderSpec; a new provider is one entry here.
PROVIDERS: dict[str, ProviderSpec] = {spec.name: spec for spec in (finnhub.SPEC, alpaca.SPEC)}


def provider_spec(name: str) -> ProviderSpec:
    """The registry entry of provider name (ConfigError naming the known ones if there is none)."""
    try:
        return PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}") from None


def build_provider(
    name: str, settings: ProviderSettings, symbols: Iterable[str] | None = None, rng: random.Random | None = None
) -> MarketDataProvider:
    """The provider called name, configured from settings (ConfigError if unknown or keys are missing)."""
    cls = provider_spec(name).provider
    try:
        return cls(settings, symbols, rng)
    except ValueError as exc:  # a bad symbol
        raise ConfigError(str(exc)) from exc


def fake_server(name: str, recording: list[str], **options: Any) -> FakeProviderServer:
    """A local fake of provider name replaying recording, accepting fakes.FAKE_KEY / FAKE_SECRET."""
    return provider_spec(name).fake(recording, **options)


def pointed_at(name: str, settings: ProviderSettings, fake: FakeProviderServer) -> ProviderSettings:
    """settings with provider name's section (URL and keys) replaced by the fake's."""
    spec = provider_spec(name)
    section = spec.at_fake(getattr(settings, spec.section), fake.url)
    return settings.model_copy(update={spec.section: section})


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
