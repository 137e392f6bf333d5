"""Response bodies. Plain models without the contracts' input validators: stored rows are served as they are."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from marketpulse.contracts.market import IndicatorRow

Item = TypeVar("Item", bound=BaseModel)

LatestValue = float | str


class Page(BaseModel, Generic[Item]):
    """Newest first; `next_cursor` is null on the last page."""

    items: list[Item]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next (older) page; null when done.")


class BarOut(BaseModel):
    symbol: str
    interval: str
    ts: datetime
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None
    vwap: float | None
    trades: int | None


class IndicatorOut(IndicatorRow):
    # The contract's fields as stored. No docstring: it would become the OpenAPI schema's description.
    pass


class PredictionOut(BaseModel):
    symbol: str
    feature_ts: datetime
    horizon: str
    model_name: str
    model_version: str | None
    prob_up: float | None
    expected_return: float | None
    created_at: datetime | None
    sentiment_window_end: datetime | None = None
    sentiment_model_version: str | None = None
    base_model_version: str | None = Field(
        None, description="Price model version an ensemble combined; null until the history table stores it."
    )


class SymbolSummary(BaseModel):
    symbol: str
    price: float | None = Field(description="Last trade price, else the close of the newest bar; null if expired.")
    ts: str | None = Field(description="Event time of that price (ISO-8601).")


class LatestState(BaseModel):
    """The Redis hash mp:latest:{symbol}, nested by kind; numbers as floats, timestamps as ISO strings."""

    symbol: str
    tick: dict[str, LatestValue] | None = None
    bar_1s: dict[str, LatestValue] | None = None
    bar_1m: dict[str, LatestValue] | None = None
    indicators: dict[str, LatestValue] | None = None
    prediction: dict[str, LatestValue] | None = Field(None, description="The newest prediction of the price model.")
    sentiment: dict[str, LatestValue] | None = Field(None, description="The newest sentiment of the symbol.")
    other: dict[str, LatestValue] | None = Field(None, description="Fields of kinds this API does not know yet.")


class DependencyHealth(BaseModel):
    status: Literal["up", "down"]
    latency_ms: float | None = None
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    dependencies: dict[str, DependencyHealth]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code: not_found, validation_error, rate_limited, ...")
    message: str = Field(description="What went wrong and how to fix the request.")
    details: list[dict[str, str]] | None = Field(None, description="Per-parameter problems of a validation error.")


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorDetail
