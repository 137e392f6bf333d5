"""Alpaca market data v2 stream (`wss://stream.data.alpaca.markets/v2/{iex|sip}`): trades only.

Every server frame is a JSON array of messages tagged by "T". The handshake is: server `success/connected`,
client `{"action":"auth",...}`, server `success/authenticated` or `error` 402 (bad keys) / 409 (plan lacks
the feed), which we report as auth_failed.

Decisions:
- Quotes are not subscribed: the market job makes bars from every tick as a trade, so quote mid-prices and
  bid+ask sizes would corrupt OHLC and volume. Quote, bar and status messages, should any arrive, are counted
  as `ignored`.
- Trade corrections ("c") and cancel/errors ("x") come with a trade subscription but cannot be expressed as a
  Tick; they go to the DLQ with a reason, so they are visible and replayable rather than lost.
- Trade id "i" is not used as Tick.seq: ids are per exchange (on SIP they interleave across venues) and restart
  daily, so the per-(source, symbol) increasing-seq guard would reject real trades. seq is None.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request

from marketpulse.errors import ConfigError
from marketpulse.ingest.providers.base import (
    Control,
    ControlKind,
    Item,
    MarketDataProvider,
    Parsed,
    ProviderSpec,
    Sink,
    decode_frame,
    each_object,
    make_tick,
)
from marketpulse.ingest.providers.fakes import (
    FAKE_KEY,
    FAKE_SECRET,
    FakeProviderServer,
    Subscriptions,
    compact,
    with_key,
)

SOURCE = "alpaca"

#: Error codes that mean "these credentials will not work": bad keys, or a plan without this feed.
AUTH_ERROR_CODES = frozenset({402, 409})

#: Message types that exist on the stream but are not trades; we never subscribe to them.
_NOT_TRADES = {"q": "quote", "b": "bar", "d": "daily bar", "u": "updated bar", "s": "status", "l": "LULD"}
_UNSUPPORTED = {"c": "trade correction", "x": "trade cancel/error"}


def parse_alpaca(frame: bytes, source: str = SOURCE) -> list[Parsed]:
    """Every message of one Alpaca frame, in order."""
    messages = decode_frame(frame, list, "a JSON array of messages")
    if isinstance(messages, Item):
        return [messages]
    return each_object(messages, "message", lambda message, raw: _message(message, raw, source))


def _message(message: dict[str, Any], raw: bytes, source: str) -> Parsed:
    kind = message.get("T")
    if kind == "t":
        return _trade(message, raw, source)
    if kind in ("success", "error", "subscription"):
        return _control(kind, message)
    if kind in _NOT_TRADES:
        return Control(ControlKind.IGNORED, _NOT_TRADES[kind])
    if kind in _UNSUPPORTED:
        return Item(None, raw, f"{_UNSUPPORTED[kind]} (T={kind}) is not representable as a Tick")
    return Item(None, raw, f"unknown message type T={kind!r}")


def _trade(message: dict[str, Any], raw: bytes, source: str) -> Item:
    # "t" is RFC 3339 with up to nanoseconds; Python 3.11's fromisoformat (inside Tick) keeps microseconds.
    return make_tick(
        raw, symbol=message.get("S"), ts=message.get("t"), price=message.get("p"), size=message.get("s"), source=source
    )


def _control(kind: str, message: dict[str, Any]) -> Control:
    if kind == "subscription":
        return Control(ControlKind.SUBSCRIBED, f"trades={message.get('trades', [])}")
    text = str(message.get("msg", ""))
    if kind == "success":
        known = {"connected": ControlKind.CONNECTED, "authenticated": ControlKind.AUTHENTICATED}
        return Control(known.get(text, ControlKind.IGNORED), text)
    code = message.get("code")
    detail = f"{code} {text}".strip()
    return Control(ControlKind.AUTH_FAILED if code in AUTH_ERROR_CODES else ControlKind.ERROR, detail)


class AlpacaProvider(MarketDataProvider):
    """Alpaca real-time trades (feed iex or sip)."""

    name = SOURCE

    def check_credentials(self) -> None:
        alpaca = self._settings.alpaca
        if not (alpaca.key_id and alpaca.key_id.get_secret_value()) or not (
            alpaca.secret_key and alpaca.secret_key.get_secret_value()
        ):
            raise ConfigError(
                "Alpaca needs keys: set MARKETPULSE_PROVIDERS__ALPACA__KEY_ID and "
                "MARKETPULSE_PROVIDERS__ALPACA__SECRET_KEY"
            )

    def connect_url(self) -> str:
        return self._settings.alpaca.stream_url

    @property
    def redacted_url(self) -> str:
        return self._settings.alpaca.stream_url

    async def authenticate(self, ws: ClientConnection, sink: Sink) -> None:
        alpaca = self._settings.alpaca
        assert alpaca.key_id is not None and alpaca.secret_key is not None, "check_credentials ran in __init__"
        await self._expect(ws, sink, ControlKind.CONNECTED)
        key, secret = alpaca.key_id.get_secret_value(), alpaca.secret_key.get_secret_value()
        await ws.send(json.dumps({"action": "auth", "key": key, "secret": secret}))
        await self._expect(ws, sink, ControlKind.AUTHENTICATED)

    def parse(self, frame: bytes) -> list[Parsed]:
        return parse_alpaca(frame, self.name)

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return [json.dumps({"action": "subscribe", "trades": list(symbols)})]

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return [json.dumps({"action": "unsubscribe", "trades": list(symbols)})]


# --- the local fake and the registry entry ------------------------------------------------------------


_ALPACA_CHANNEL = {"t": "trades", "c": "trades", "x": "trades", "q": "quotes", "b": "bars", "d": "dailyBars"}
_ALPACA_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")


def _is_event(message: Any) -> bool:
    return isinstance(message, dict) and message.get("T") in _ALPACA_CHANNEL


class FakeAlpacaServer(FakeProviderServer):
    """Alpaca v2: path /v2/{iex|sip}; connected -> auth (402 + close if wrong) -> subscribe with acks."""

    def __init__(self, recording: Sequence[str], *, key_id: str, secret_key: str, **options: Any) -> None:
        super().__init__(recording, **options)
        self.key_id = key_id
        self.secret_key = secret_key

    def refuse(self, request: Request) -> tuple[HTTPStatus, str] | None:
        path = urlsplit(request.path).path
        return None if path in ("/v2/iex", "/v2/sip") else (HTTPStatus.NOT_FOUND, "Not Found\n")

    async def greet(self, ws: ServerConnection) -> None:
        await ws.send(compact([{"T": "success", "msg": "connected"}]))

    async def on_message(self, ws: ServerConnection, message: str, subs: Subscriptions) -> None:
        try:
            request = json.loads(message)
            action = request["action"]
        except (ValueError, KeyError, TypeError):
            await self._error(ws, 400, "invalid syntax")
            return
        if action == "auth":
            await self._auth(ws, request, subs)
        elif not subs.authenticated:
            await self._error(ws, 401, "not authenticated")
        elif action in ("subscribe", "unsubscribe"):
            self._update(request, subs, add=action == "subscribe")
            await ws.send(compact([self._ack(subs)]))
        else:
            await self._error(ws, 400, "invalid syntax")

    async def _auth(self, ws: ServerConnection, request: dict[str, Any], subs: Subscriptions) -> None:
        if request.get("key") == self.key_id and request.get("secret") == self.secret_key:
            subs.authenticated = True
            await ws.send(compact([{"T": "success", "msg": "authenticated"}]))
            return
        await self._error(ws, 402, "auth failed")
        await ws.close(1008, "auth failed")

    def _update(self, request: dict[str, Any], subs: Subscriptions, *, add: bool) -> None:
        for channel in _ALPACA_CHANNELS:
            symbols = request.get(channel) or []
            chosen = subs.symbols(channel)
            if add:
                chosen.update(symbols)
            else:
                chosen.difference_update(symbols)
        if subs.any():
            subs.first.set()

    @staticmethod
    def _ack(subs: Subscriptions) -> dict[str, Any]:
        ack: dict[str, Any] = {"T": "subscription"}
        ack.update({channel: sorted(subs.channels.get(channel, set())) for channel in _ALPACA_CHANNELS})
        ack["corrections"] = ack["cancelErrors"] = ack["trades"]
        return ack

    @staticmethod
    async def _error(ws: ServerConnection, code: int, msg: str) -> None:
        await ws.send(compact([{"T": "error", "code": code, "msg": msg}]))

    def filter(self, frame: str, subs: Subscriptions) -> str | None:
        try:
            messages = json.loads(frame)
        except ValueError:
            return frame if subs.any() else None
        if not isinstance(messages, list):
            return frame
        kept = [message for message in messages if self._wanted(message, subs)]
        if not kept:
            return None
        return frame if len(kept) == len(messages) else compact(kept)

    def stamp_now(self, frame: str) -> str:
        try:
            messages = json.loads(frame)
        except ValueError:
            return frame
        if not isinstance(messages, list):
            return frame
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return compact([with_key(message, "t", now) if _is_event(message) else message for message in messages])

    @staticmethod
    def _wanted(message: Any, subs: Subscriptions) -> bool:
        if not isinstance(message, dict) or message.get("T") not in _ALPACA_CHANNEL:
            return True
        return subs.wants(_ALPACA_CHANNEL[message["T"]], message.get("S"))


SPEC = ProviderSpec(
    name=SOURCE,
    provider=AlpacaProvider,
    section="alpaca",
    fake=lambda recording, **options: FakeAlpacaServer(recording, key_id=FAKE_KEY, secret_key=FAKE_SECRET, **options),
    at_fake=lambda section, url: section.model_copy(
        update={"url": f"{url}/v2", "key_id": SecretStr(FAKE_KEY), "secret_key": SecretStr(FAKE_SECRET)}
    ),
)
