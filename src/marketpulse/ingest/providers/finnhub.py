"""Finnhub trades WebSocket: `wss://ws.finnhub.io?token=KEY`, one subscribe frame per symbol.

Server frames: `{"type":"trade","data":[{"s","p","t" (epoch ms),"v","c"}]}`, `{"type":"ping"}` and
`{"type":"error","msg":...}`. Finnhub has no trade id, so Tick.seq is None. A bad token is refused at the
HTTP upgrade (401), which the base class reports as auth_failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
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
    decode_frame,
    each_object,
    make_tick,
)
from marketpulse.ingest.providers.fakes import FAKE_KEY, FakeProviderServer, Subscriptions, compact, with_key

SOURCE = "finnhub"


def parse_finnhub(frame: bytes, source: str = SOURCE) -> list[Parsed]:
    """Every message of one Finnhub frame: a trade batch becomes one Item per trade."""
    message = decode_frame(frame, dict, "a JSON object")
    if isinstance(message, Item):
        return [message]
    kind = message.get("type")
    if kind == "ping":
        return [Control(ControlKind.PING)]
    if kind == "error":
        return [Control(ControlKind.ERROR, str(message.get("msg", "")))]
    if kind != "trade":
        return [Item(None, frame, f"unknown message type {kind!r}")]
    trades = message.get("data")
    if not isinstance(trades, list):
        return [Item(None, frame, "trade message without a data list")]
    return each_object(trades, "trade", lambda trade, raw: _trade(trade, raw, source))


def _trade(trade: dict[str, Any], raw: bytes, source: str) -> Item:
    """One element of a trade batch (raw: that element alone, what the DLQ gets)."""
    epoch_ms = trade.get("t")
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, int):
        return Item(None, raw, f"t: expected integer epoch milliseconds, got {epoch_ms!r}")
    return make_tick(
        raw, symbol=trade.get("s"), ts=epoch_ms * 1_000_000, price=trade.get("p"), size=trade.get("v"), source=source
    )


class FinnhubProvider(MarketDataProvider):
    """Finnhub real-time trades."""

    name = SOURCE

    def check_credentials(self) -> None:
        key = self._settings.finnhub.api_key
        if key is None or not key.get_secret_value():
            raise ConfigError("Finnhub needs an API token: set MARKETPULSE_PROVIDERS__FINNHUB__API_KEY")

    def connect_url(self) -> str:
        key = self._settings.finnhub.api_key
        assert key is not None, "check_credentials ran in __init__"
        parts = urlsplit(self._settings.finnhub.url)
        query = "&".join(part for part in (parts.query, urlencode({"token": key.get_secret_value()})) if part)
        return urlunsplit(parts._replace(query=query))

    @property
    def redacted_url(self) -> str:
        return self._settings.finnhub.url

    def parse(self, frame: bytes) -> list[Parsed]:
        return parse_finnhub(frame, self.name)

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return [json.dumps({"type": "subscribe", "symbol": symbol}) for symbol in symbols]

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return [json.dumps({"type": "unsubscribe", "symbol": symbol}) for symbol in symbols]


# --- the local fake and the registry entry ------------------------------------------------------------


class FakeFinnhubServer(FakeProviderServer):
    """Finnhub: `?token=` checked at the upgrade (401 if wrong); per-symbol subscribe/unsubscribe, no acks."""

    def __init__(self, recording: Sequence[str], *, api_key: str, **options: Any) -> None:
        super().__init__(recording, **options)
        self.api_key = api_key

    def refuse(self, request: Request) -> tuple[HTTPStatus, str] | None:
        token = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        return None if token == self.api_key else (HTTPStatus.UNAUTHORIZED, "Invalid API key\n")

    async def on_message(self, ws: ServerConnection, message: str, subs: Subscriptions) -> None:
        try:
            request = json.loads(message)
            action, symbol = request["type"], request["symbol"]
        except (ValueError, KeyError, TypeError):
            await ws.send(compact({"type": "error", "msg": "Invalid message format"}))
            return
        if action == "subscribe":
            subs.symbols("trades").add(symbol)
            subs.first.set()
        elif action == "unsubscribe":
            subs.symbols("trades").discard(symbol)

    def filter(self, frame: str, subs: Subscriptions) -> str | None:
        try:
            message = json.loads(frame)
        except ValueError:
            return frame if subs.any() else None  # a garbled frame reaches whoever is subscribed
        if not isinstance(message, dict) or message.get("type") != "trade" or not isinstance(message.get("data"), list):
            return frame
        kept = [trade for trade in message["data"] if isinstance(trade, dict) and subs.wants("trades", trade.get("s"))]
        if not kept:
            return None
        return frame if len(kept) == len(message["data"]) else compact({**message, "data": kept})

    def stamp_now(self, frame: str) -> str:
        try:
            message = json.loads(frame)
        except ValueError:
            return frame
        if not isinstance(message, dict) or not isinstance(message.get("data"), list):
            return frame
        now_ms = time.time_ns() // 1_000_000
        return compact({**message, "data": [with_key(trade, "t", now_ms) for trade in message["data"]]})


#: Alpaca message type -> the subscription channel that brings it (corrections and cancels come with trades).


SPEC = ProviderSpec(
    name=SOURCE,
    provider=FinnhubProvider,
    section="finnhub",
    fake=lambda recording, **options: FakeFinnhubServer(recording, api_key=FAKE_KEY, **options),
    at_fake=lambda section, url: section.model_copy(update={"url": url, "api_key": SecretStr(FAKE_KEY)}),
)
