"""Market events: Tick in, Bar / IndicatorSnapshot / Prediction out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from marketpulse.contracts.base import Contract, from_epoch_ns

#: Exchange tickers such as AAPL, BRK.B, BF-B: upper-case, starting with a letter, at most 10 characters.
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,9}$"

#: Event times later than now + this are rejected: a clock or unit error (ms sent as ns), not a trade.
MAX_CLOCK_SKEW = timedelta(minutes=5)

#: Event times before this are rejected too (epoch-seconds sent as ns land in 1970).
EARLIEST_EVENT = datetime(1990, 1, 1, tzinfo=UTC)

Interval = Literal["1s", "1min"]


def _utc_event_time(value: object) -> datetime:
    """Accept epoch ns (the wire form), ISO strings and datetimes; return an aware UTC datetime in range."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be epoch nanoseconds or ISO-8601, not a boolean")
    if isinstance(value, int):
        try:
            parsed = from_epoch_ns(value)
        except (OverflowError, OSError) as exc:  # far outside any clock (10**40 ns): a ValueError, so refused
            raise ValueError(f"timestamp {value} ns is out of range") from exc
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"timestamp must be epoch nanoseconds or ISO-8601, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no timezone; send UTC")
    parsed = parsed.astimezone(UTC)
    if parsed > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise ValueError(f"event time {parsed.isoformat()} is in the future")
    if parsed < EARLIEST_EVENT:
        raise ValueError(f"event time {parsed.isoformat()} is before {EARLIEST_EVENT.year}: a unit error?")
    return parsed


class Tick(Contract):
    """One trade (price, size) or quote update (bid/ask) for a symbol, at event time ts."""

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    ts: datetime
    price: float = Field(gt=0, allow_inf_nan=False)
    size: float = Field(gt=0, allow_inf_nan=False)
    bid: float | None = Field(None, gt=0, allow_inf_nan=False)
    ask: float | None = Field(None, gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1, max_length=32)
    #: Per-source sequence number where the source gives one; must increase per (source, symbol).
    seq: int | None = Field(None, ge=0)

    _event_time = field_validator("ts", mode="before")(_utc_event_time)

    @model_validator(mode="after")
    def _bid_not_above_ask(self) -> Tick:
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValueError(f"crossed quote: bid {self.bid} > ask {self.ask}")
        return self


class Bar(Contract):
    """OHLCV + VWAP of the ticks in [ts, ts + interval)."""

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: Interval
    ts: datetime
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: float = Field(ge=0)
    vwap: float = Field(gt=0)
    trades: int = Field(ge=1)

    _event_time = field_validator("ts", mode="before")(_utc_event_time)

    @model_validator(mode="after")
    def _ohlc_consistent(self) -> Bar:
        if not self.low <= min(self.open, self.close) <= max(self.open, self.close) <= self.high:
            raise ValueError("bar must satisfy low <= open, close <= high")
        return self


class IndicatorRow(BaseModel):
    """The fields of an IndicatorSnapshot, in its order, as plain types without its validators: a stored row as it
    is (the API serves these). The contract below narrows the first four."""

    symbol: str
    interval: str
    ts: datetime
    close: float | None
    ret_1: float | None = None
    log_ret_1: float | None = None
    ema_12: float | None = None
    ema_26: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_hist: float | None = None
    rsi_14: float | None = None
    bb_mid: float | None = None
    bb_upper: float | None = None
    bb_lower: float | None = None
    bb_pctb: float | None = None
    volatility_20: float | None = None


class IndicatorSnapshot(Contract, IndicatorRow):
    """Indicators of a symbol as of the close of the bar starting at ts (None during warm-up)."""

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: Interval
    ts: datetime
    close: float

    _event_time = field_validator("ts", mode="before")(_utc_event_time)


class Prediction(Contract):
    """A model's view of a symbol's next `horizon`, made from features as of feature_ts."""

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    feature_ts: datetime
    horizon: str = Field(pattern=r"^\d+(s|min|h|d)$")
    prob_up: float = Field(ge=0, le=1)
    expected_return: float
    model_name: str
    model_version: str
    #: End of the sentiment window the prediction used (every text in it was known by then); None: no sentiment.
    sentiment_window_end: datetime | None = None
    sentiment_model_version: str | None = None
    #: For an ensemble's prediction (model_name = the ensemble): the price model version it combined.
    base_model_version: str | None = None

    _event_time = field_validator("feature_ts", mode="before")(_utc_event_time)

    @field_validator("sentiment_window_end", mode="before")
    @classmethod
    def _optional_event_time(cls, value: object) -> datetime | None:
        return None if value is None else _utc_event_time(value)
