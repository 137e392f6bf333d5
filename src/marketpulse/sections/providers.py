"""Settings of the live market-data providers, nested into `Settings.providers` (MARKETPULSE_PROVIDERS__*)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from marketpulse.contracts import SYMBOL_PATTERN

_SYMBOL = re.compile(SYMBOL_PATTERN)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class BackoffSettings(_Section):
    """Reconnect delays: exponential from base_s to max_s with jitter, reset after a healthy connection."""

    base_s: float = Field(0.5, gt=0, description="Delay before the first reconnect (before jitter).")
    max_s: float = Field(30.0, gt=0, description="Upper bound of any delay.")
    multiplier: float = Field(2.0, gt=1, description="Growth factor per failed attempt.")
    healthy_after_s: float = Field(
        30.0, ge=0, description="A connection that streamed this long resets the delay to base_s when it ends."
    )

    @model_validator(mode="after")
    def _max_not_below_base(self) -> BackoffSettings:
        if self.max_s < self.base_s:
            raise ValueError(f"backoff max_s {self.max_s} is below base_s {self.base_s}")
        return self


class FinnhubSettings(_Section):
    """Finnhub trades WebSocket (the token travels as the `token` query parameter)."""

    url: str = Field("wss://ws.finnhub.io", description="WebSocket endpoint; tests point it at a local fake.")
    api_key: SecretStr | None = Field(None, description="Finnhub API token.")


class AlpacaSettings(_Section):
    """Alpaca market data v2 stream; the feed is appended to url (…/v2/iex)."""

    url: str = Field("wss://stream.data.alpaca.markets/v2", description="Stream base URL without the feed.")
    feed: Literal["iex", "sip"] = Field("iex", description="iex is free; sip needs a paid subscription.")
    key_id: SecretStr | None = Field(None, description="APCA key id.")
    secret_key: SecretStr | None = Field(None, description="APCA secret key.")

    @property
    def stream_url(self) -> str:
        """The WebSocket URL of the configured feed."""
        return f"{self.url.rstrip('/')}/{self.feed}"


class ProviderSettings(_Section):
    """Live providers: which symbols, how to reconnect, and each provider's endpoint and keys."""

    symbols: list[str] = Field(
        ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"], description="Symbols subscribed at start (JSON list in env)."
    )
    open_timeout_s: float = Field(10.0, gt=0, description="Limit on the TCP + TLS + WebSocket handshake.")
    auth_timeout_s: float = Field(10.0, gt=0, description="Limit on the provider's own auth exchange.")
    proxy: str | None = Field(None, description="HTTP(S)/SOCKS proxy URL for provider connections; none by default.")
    backoff: BackoffSettings = BackoffSettings()
    finnhub: FinnhubSettings = FinnhubSettings()
    alpaca: AlpacaSettings = AlpacaSettings()

    @field_validator("symbols")
    @classmethod
    def _valid_symbols(cls, symbols: list[str]) -> list[str]:
        bad = [symbol for symbol in symbols if not _SYMBOL.fullmatch(symbol)]
        if bad:
            raise ValueError(f"not exchange tickers (upper-case, like AAPL or BRK.B): {', '.join(bad)}")
        return symbols
