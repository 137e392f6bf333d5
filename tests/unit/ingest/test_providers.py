"""Live providers without a network: wire parsing of recorded samples, backoff, settings, the Kafka sink."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import SecretStr, ValidationError

from marketpulse.contracts import Tick, Topics, to_wire
from marketpulse.errors import ConfigError
from marketpulse.ingest.producer import EventProducer, SequenceGuard
from marketpulse.ingest.providers.alpaca import AlpacaProvider, parse_alpaca
from marketpulse.ingest.providers.base import Backoff, Control, ControlKind, Item, Parsed
from marketpulse.ingest.providers.fakes import FAKE_KEY, FakeProviderServer, default_recording, load_recording
from marketpulse.ingest.providers.finnhub import FinnhubProvider, parse_finnhub
from marketpulse.ingest.providers.live import PROVIDERS, build_provider, fake_server, pointed_at
from marketpulse.ingest.providers.sink import KafkaSink
from marketpulse.sections.providers import AlpacaSettings, BackoffSettings, FinnhubSettings, ProviderSettings


def _items(parsed: list[Parsed]) -> list[Item]:
    return [p for p in parsed if isinstance(p, Item)]


def _controls(parsed: list[Parsed]) -> list[ControlKind]:
    return [p.kind for p in parsed if isinstance(p, Control)]


def _replay(name: str) -> list[Parsed]:
    parse = parse_finnhub if name == "finnhub" else parse_alpaca
    return [parsed for line in load_recording(default_recording(name)) for parsed in parse(line.encode())]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Finnhub -------------------------------------------------------------------------------------


def test_finnhub_recording_parses_to_ticks_rejects_and_controls() -> None:
    parsed = _replay("finnhub")
    ticks = [item.tick for item in _items(parsed) if item.tick is not None]
    rejects = [item for item in _items(parsed) if item.tick is None]

    assert len(ticks) == 14  # 12 of AAPL/MSFT/NVDA + 2 of TSLA, which the tests never subscribe
    assert ticks[0] == Tick(symbol="AAPL", ts=_at("2024-04-30 15:00:00.123"), price=170.42, size=100, source="finnhub")
    assert all(tick.seq is None and tick.bid is None and tick.source == "finnhub" for tick in ticks)
    assert [r.reason.split(":")[0] for r in rejects if r.reason] == ["price", "not JSON"]
    assert json.loads(rejects[0].raw) == {"c": ["1", "12"], "p": 0, "s": "MSFT", "t": 1714489200533, "v": 10}
    assert rejects[1].raw == load_recording(default_recording("finnhub"))[6].encode()  # the frame, byte for byte
    assert _controls(parsed) == [ControlKind.PING, ControlKind.PING, ControlKind.ERROR]


def test_finnhub_batch_yields_one_item_per_trade_in_order() -> None:
    frame = (
        b'{"data":[{"p":1.5,"s":"AAPL","t":1714489200000,"v":1},'
        b'{"p":2.5,"s":"MSFT","t":1714489200001,"v":2}],"type":"trade"}'
    )
    items = _items(parse_finnhub(frame))
    assert [(i.tick.symbol, i.tick.price) for i in items if i.tick] == [("AAPL", 1.5), ("MSFT", 2.5)]
    assert json.loads(items[1].raw) == {"p": 2.5, "s": "MSFT", "t": 1714489200001, "v": 2}


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"[]", "expected a JSON object"),
        (b'{"type":"trade","data":{}}', "without a data list"),
        (b'{"type":"news","data":[]}', "unknown message type 'news'"),
        (b'{"type":"trade","data":[7]}', "not a JSON object"),
        (b'{"type":"trade","data":[{"p":1,"s":"AAPL","t":"1714489200000","v":1}]}', "t: expected integer epoch"),
        (b'{"type":"trade","data":[{"p":1,"s":"AAPL","t":1714489200,"v":1}]}', "before 1990"),  # seconds, not ms
        (b'{"type":"trade","data":[{"p":1,"s":"AAPL","t":1714489200000,"v":0}]}', "size"),
        (b'{"type":"trade","data":[{"p":-3,"s":"AAPL","t":1714489200000,"v":1}]}', "price"),
        (b'{"type":"trade","data":[{"p":1,"s":"BINANCE:BTCUSDT","t":1714489200000,"v":1}]}', "symbol"),
        (b'{"type":"trade","data":[{"s":"AAPL","t":1714489200000,"v":1}]}', "price"),
    ],
)
def test_finnhub_invalid_messages_carry_a_reason(frame: bytes, reason: str) -> None:
    (item,) = _items(parse_finnhub(frame))
    assert item.tick is None
    assert item.reason is not None
    assert reason in item.reason


def test_finnhub_control_messages() -> None:
    assert parse_finnhub(b'{"type":"ping"}') == [Control(ControlKind.PING)]
    assert parse_finnhub(b'{"type":"error","msg":"Invalid symbol"}') == [Control(ControlKind.ERROR, "Invalid symbol")]


# --- Alpaca --------------------------------------------------------------------------------------


def test_alpaca_recording_parses_to_ticks_rejects_and_controls() -> None:
    parsed = _replay("alpaca")
    ticks = [item.tick for item in _items(parsed) if item.tick is not None]
    rejects = [item for item in _items(parsed) if item.tick is None]

    assert len(ticks) == 14  # 12 of AAPL/MSFT/BRK.B + 2 of TSLA
    # RFC 3339 with nanoseconds: kept to the microsecond, as every Tick is.
    assert ticks[0] == Tick(
        symbol="AAPL", ts=_at("2024-04-30 15:00:00.123456"), price=170.42, size=100, source="alpaca"
    )
    assert {tick.symbol for tick in ticks} == {"AAPL", "MSFT", "BRK.B", "TSLA"}
    assert next(t for t in ticks if t.ts == _at("2024-04-30 15:00:01")).symbol == "BRK.B"  # no fraction at all
    assert all(tick.seq is None for tick in ticks)  # trade ids are per exchange and daily: not a sequence
    assert [r.reason.split(" ")[0] for r in rejects if r.reason] == ["price:", "not", "trade"]
    assert "cancel" in str(rejects[2].reason)
    assert rejects[1].raw == load_recording(default_recording("alpaca"))[6].encode()
    assert _controls(parsed) == [ControlKind.IGNORED]  # the one quote


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"T": "success", "msg": "connected"}, ControlKind.CONNECTED),
        ({"T": "success", "msg": "authenticated"}, ControlKind.AUTHENTICATED),
        ({"T": "error", "code": 402, "msg": "auth failed"}, ControlKind.AUTH_FAILED),
        ({"T": "error", "code": 409, "msg": "insufficient subscription"}, ControlKind.AUTH_FAILED),
        ({"T": "error", "code": 406, "msg": "connection limit exceeded"}, ControlKind.ERROR),
        ({"T": "error", "code": 405, "msg": "symbol limit exceeded"}, ControlKind.ERROR),
        ({"T": "subscription", "trades": ["AAPL"], "quotes": [], "bars": []}, ControlKind.SUBSCRIBED),
        ({"T": "q", "S": "AAPL", "bp": 1, "ap": 2, "bs": 1, "as": 1, "t": "2024-04-30T15:00:00Z"}, ControlKind.IGNORED),
        (
            {"T": "b", "S": "AAPL", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": "2024-04-30T15:00:00Z"},
            ControlKind.IGNORED,
        ),
    ],
)
def test_alpaca_control_messages(message: dict[str, Any], kind: ControlKind) -> None:
    (parsed,) = parse_alpaca(json.dumps([message]).encode())
    assert isinstance(parsed, Control)
    assert parsed.kind is kind


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b'{"T":"t"}', "expected a JSON array"),
        (b"[5]", "not a JSON object"),
        (b'[{"T":"zz"}]', "unknown message type T='zz'"),
        (b'[{"T":"c","S":"AAPL","x":"V","oi":1,"ci":2,"t":"2024-04-30T15:00:00Z"}]', "trade correction"),
        (b'[{"T":"t","S":"AAPL","p":1,"s":1,"t":"2024-04-30T15:00:00"}]', "no timezone"),
        (b'[{"T":"t","S":"AAPL","p":1,"s":1,"t":"yesterday"}]', "ts"),
        (b'[{"T":"t","S":"aapl","p":1,"s":1,"t":"2024-04-30T15:00:00Z"}]', "symbol"),
    ],
)
def test_alpaca_invalid_messages_carry_a_reason(frame: bytes, reason: str) -> None:
    (item,) = _items(parse_alpaca(frame))
    assert item.tick is None
    assert reason in str(item.reason)


def test_alpaca_frame_mixes_trades_and_controls_in_order() -> None:
    frame = json.dumps(
        [
            {"T": "t", "S": "AAPL", "i": 1, "x": "V", "p": 10.0, "s": 3, "t": "2024-04-30T15:00:00.5Z", "z": "C"},
            {"T": "q", "S": "AAPL", "bp": 9.9, "ap": 10.1, "bs": 1, "as": 1, "t": "2024-04-30T15:00:00.6Z"},
            {"T": "t", "S": "AAPL", "i": 2, "x": "V", "p": 0, "s": 3, "t": "2024-04-30T15:00:00.7Z", "z": "C"},
        ]
    ).encode()
    first, second, third = parse_alpaca(frame)
    assert isinstance(first, Item) and first.tick is not None and first.tick.size == 3
    assert second == Control(ControlKind.IGNORED, "quote")
    assert isinstance(third, Item) and third.tick is None and json.loads(third.raw)["i"] == 2


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_is_bounded_jittered_and_deterministic_with_a_seed() -> None:
    settings = BackoffSettings(base_s=0.5, max_s=8.0, multiplier=2.0)
    backoff = Backoff(settings, random.Random(42))
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]

    replay = Backoff(settings, random.Random(42))
    assert [replay.next_delay() for _ in range(12)] == delays
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= settings.max_s
    assert len({round(d / c, 6) for d, c in zip(delays, ceilings, strict=True)}) > 6  # jittered, not fixed fractions
    assert [Backoff(settings, random.Random(s)).next_delay() for s in range(5)] != [delays[0]] * 5


def test_backoff_resets_and_survives_long_outages() -> None:
    backoff = Backoff(BackoffSettings(base_s=1.0, max_s=30.0), random.Random(0))
    for _ in range(10_000):
        assert backoff.next_delay() <= 30.0  # no overflow after days of failures
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


def test_backoff_settings_reject_max_below_base() -> None:
    with pytest.raises(ValidationError, match="below base_s"):
        BackoffSettings(base_s=5.0, max_s=1.0)


# --- settings and providers ----------------------------------------------------------------------


def _settings(**overrides: Any) -> ProviderSettings:
    values: dict[str, Any] = {
        "finnhub": FinnhubSettings(url="wss://ws.example.test/?v=1", api_key=SecretStr("tok-123")),
        "alpaca": AlpacaSettings(feed="sip", key_id=SecretStr("kid"), secret_key=SecretStr("alpaca-sec-9")),
    }
    values.update(overrides)
    return ProviderSettings(**values)


def test_provider_settings_validate_symbols_and_hide_secrets() -> None:
    with pytest.raises(ValidationError, match="not exchange tickers"):
        ProviderSettings(symbols=["AAPL", "btc-usd"])
    settings = _settings()
    assert "tok-123" not in repr(settings)
    assert "alpaca-sec-9" not in str(settings.alpaca)
    assert settings.alpaca.stream_url == "wss://stream.data.alpaca.markets/v2/sip"


def test_providers_need_their_keys() -> None:
    with pytest.raises(ConfigError, match="FINNHUB__API_KEY"):
        FinnhubProvider(ProviderSettings())
    with pytest.raises(ConfigError, match="ALPACA__KEY_ID"):
        AlpacaProvider(ProviderSettings(alpaca=AlpacaSettings(key_id=SecretStr("only-the-id"))))


def test_finnhub_token_is_in_the_url_but_not_in_the_redacted_one() -> None:
    provider = FinnhubProvider(_settings())
    assert provider.connect_url() == "wss://ws.example.test/?v=1&token=tok-123"
    assert "tok-123" not in provider.redacted_url


def test_subscription_messages_follow_each_wire_format() -> None:
    finnhub, alpaca = FinnhubProvider(_settings()), AlpacaProvider(_settings())
    assert [json.loads(m) for m in finnhub.subscribe_messages(["AAPL", "MSFT"])] == [
        {"type": "subscribe", "symbol": "AAPL"},
        {"type": "subscribe", "symbol": "MSFT"},
    ]
    assert json.loads(finnhub.unsubscribe_messages(["AAPL"])[0]) == {"type": "unsubscribe", "symbol": "AAPL"}
    assert [json.loads(m) for m in alpaca.subscribe_messages(["AAPL", "BRK.B"])] == [
        {"action": "subscribe", "trades": ["AAPL", "BRK.B"]}
    ]
    assert json.loads(alpaca.unsubscribe_messages(["AAPL"])[0]) == {"action": "unsubscribe", "trades": ["AAPL"]}


def test_subscribe_while_disconnected_only_remembers_the_set() -> None:
    provider = FinnhubProvider(_settings(symbols=["AAPL"]))
    asyncio.run(provider.subscribe(["MSFT", "AAPL"]))
    asyncio.run(provider.unsubscribe(["AAPL", "NVDA"]))
    assert provider.symbols == {"MSFT"}
    with pytest.raises(ValueError, match="not exchange tickers"):
        asyncio.run(provider.subscribe(["msft"]))


@pytest.mark.parametrize(("streamed_s", "attempts_after"), [(11.0, 1), (1.0, 6)])
def test_a_healthy_connection_resets_the_backoff(streamed_s: float, attempts_after: int) -> None:
    provider = FinnhubProvider(_settings(backoff=BackoffSettings(base_s=0.01, max_s=0.02, healthy_after_s=10.0)))
    provider._backoff.attempts = 5
    provider._streaming_since = time.monotonic() - streamed_s
    provider.stop()  # the pause returns at once
    asyncio.run(provider._pause())
    assert provider._backoff.attempts == attempts_after


def test_unknown_provider_or_bad_symbol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        build_provider("bloomberg", _settings())
    with pytest.raises(ConfigError, match="not exchange tickers"):
        build_provider("finnhub", _settings(), symbols=["aapl"])


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_pointing_a_provider_at_its_fake_changes_only_its_own_section(name: str) -> None:
    settings = _settings()
    assert isinstance(fake_server(name, load_recording(default_recording(name))), FakeProviderServer)
    fake = cast(FakeProviderServer, SimpleNamespace(url="ws://127.0.0.1:9"))
    pointed = pointed_at(name, settings, fake)
    section = PROVIDERS[name].section
    assert fake.url in str(getattr(pointed, section).url)
    assert FAKE_KEY in [
        v.get_secret_value() for v in getattr(pointed, section).__dict__.values() if isinstance(v, SecretStr)
    ]
    for other in set(PROVIDERS) - {name}:
        assert getattr(pointed, PROVIDERS[other].section) == getattr(settings, PROVIDERS[other].section)
    assert isinstance(build_provider(name, pointed), PROVIDERS[name].provider)


def test_an_unknown_provider_has_no_fake_and_no_section() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        fake_server("bloomberg", [])
    with pytest.raises(ConfigError, match="unknown provider"):
        pointed_at("bloomberg", _settings(), cast(FakeProviderServer, SimpleNamespace(url="ws://127.0.0.1:9")))


def test_health_of_a_provider_that_never_ran() -> None:
    health = AlpacaProvider(_settings(symbols=["AAPL"])).health()
    assert health == {
        "provider": "alpaca",
        "state": "idle",
        "connected": False,
        "last_message_age_s": None,
        "reconnects": 0,
        "auth_failures": 0,
        "trades": 0,
        "rejected": 0,
        "symbols": ["AAPL"],
        "last_error": None,
    }


# --- the Kafka sink ------------------------------------------------------------------------------


class _RecordingProducer:
    """The part of EventProducer the sink uses, recording calls instead of producing."""

    def __init__(self) -> None:
        self.sequence = SequenceGuard()
        self.sent: list[tuple[str, Tick]] = []
        self.rejected: list[tuple[str, bytes, str, bytes | None]] = []

    def send(self, topic: str, event: Tick, key: str | None = None) -> None:
        self.sent.append((topic, event))

    def reject(self, topic: str, raw: bytes, reason: str, key: bytes | None = None, stage: str = "ingest") -> None:
        self.rejected.append((topic, raw, reason, key))


def test_kafka_sink_sends_ticks_and_rejects_with_the_original_bytes() -> None:
    producer = _RecordingProducer()
    sink = KafkaSink(cast(EventProducer, producer), "finnhub")
    tick = Tick(symbol="AAPL", ts=_at("2024-04-30 15:00:00"), price=1.0, size=1.0, source="finnhub", seq=5)
    sink(tick, b"{}", None)
    sink(None, b"garbage", "not JSON: boom")
    sink(tick, b"{}", None)  # seq 5 again: the producer's sequence guard rejects it

    assert sink.topic == Topics.TICKS
    assert producer.sent == [(Topics.TICKS, tick)]
    assert producer.rejected[0] == (Topics.TICKS, b"garbage", "not JSON: boom", None)
    assert producer.rejected[1][1:] == (to_wire(tick), "seq 5 from finnhub for AAPL is not after 5", b"AAPL")
    assert (sink.sent, sink.rejected) == (1, 2)
