"""Finnhub trades WebSocket: `wss://ws.finnhub.io?token=KEY`, one subscribe frame per symbol.

Server frames: `{"type":"trade","data":[{"s","p","t" (epoch ms),"v","c"}]}`, `{"type":"ping"}` and
`{"type":"error","msg":...}`. Finnhub has no trade id, so Tick.seq is None. A bad token is refused at the
HTTP upgrade (401), which the base class reports as auth_failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from marketpulse.errors import ConfigError
from marketpulse.ingest.providers.base import (
    Control,
    ControlKind,
    Item,
    MarketDataProvider,
    Parsed,
    compact_json,
    make_tick,
)

SOURCE = "finnhub"


def parse_finnhub(frame: bytes, source: str = SOURCE) -> list[Parsed]:
    """Every message of one Finnhub frame: a trade batch becomes one Item per trade."""
    try:
        message = json.loads(frame)
    except ValueError as exc:
        return [Item(None, frame, f"not JSON: {exc}")]
    if not isinstance(message, dict):
        return [Item(None, frame, f"expected a JSON object, got {type(message).__name__}")]
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
    return [_trade(trade, source) for trade in trades]


def _trade(trade: Any, source: str) -> Item:
    """One element of a trade batch; the DLQ gets that element alone, so a replay cannot duplicate its siblings."""
    raw = compact_json(trade)
    if not isinstance(trade, dict):
        return Item(None, raw, "trade is not a JSON object")
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
