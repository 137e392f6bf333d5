"""Sentiment of a symbol: its windows and its most recent scored texts, newest first, from Cassandra."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from marketpulse.api.deps import End, HistoryDep, RedisDep, Start, Symbol
from marketpulse.api.history import Table
from marketpulse.api.paging import PageRequest, resolve_window
from marketpulse.contracts.columns import STORED_ITEM_COLUMNS, WINDOW_COLUMNS
from marketpulse.stores.redis_store import sentiment_windows_key

router = APIRouter(prefix="/v1/symbols", tags=["sentiment"])

#: Longest start..end range one request may ask for.
MAX_SPAN = timedelta(days=31)
MAX_ROWS = 1000

WINDOWS = Table(
    "sentiment_windows",
    ("symbol",),
    "window_end",
    (),
    (*(c for c in WINDOW_COLUMNS if c not in ("symbol", "window_end")), "model_version"),
)
ITEMS = Table(
    "sentiment_items",
    ("symbol",),
    "known_at",
    ("item_id",),
    # The store's columns less the partition/clustering keys named above (and the day bucket).
    tuple(c for c in STORED_ITEM_COLUMNS if c not in ("symbol", "day", "known_at", "item_id")),
)


class SentimentWindowOut(BaseModel):
    """Sentiment over the texts known in [window_start, window_end) (all published and ingested before its end)."""

    window_start: datetime
    window_end: datetime
    count: int
    mean: float
    dispersion: float
    buzz: float | None = Field(
        description="Count over the mean count of the windows before it; null: they hold no text."
    )
    mean_x: float | None
    count_x: int | None
    mean_reddit: float | None
    count_reddit: int | None
    mean_news: float | None
    count_news: int | None
    last_published_at: datetime
    last_ingested_at: datetime
    model_version: str


class SentimentItemOut(BaseModel):
    """One scored text that mentions the symbol."""

    item_id: str
    source: str
    author: str | None
    url: str | None
    text: str | None
    published_at: datetime
    ingested_at: datetime
    known_at: datetime
    p_bearish: float
    p_neutral: float
    p_bullish: float
    polarity: float
    model_version: str
    replayed: bool | None


class SentimentOut(BaseModel):
    symbol: str
    start: datetime
    end: datetime
    windows: list[SentimentWindowOut]
    items: list[SentimentItemOut]


Rows = Annotated[int, Query(ge=1, le=MAX_ROWS, description="Most windows and most texts returned (each).")]


@router.get("/{symbol}/sentiment", response_model=SentimentOut, summary="Sentiment windows and recent texts")
def read_sentiment(
    symbol: Symbol, history: HistoryDep, redis: RedisDep, start: Start = None, end: End = None, limit: Rows = 100
) -> SentimentOut:
    """Windows with start <= window_end < end and texts known in that range, newest first, `limit` of each.

    Without `end`, the range ends just after the symbol's newest window (a replay lives in 2013, not now).
    """
    if end is None and start is None:
        newest = redis.zrevrange(sentiment_windows_key(symbol), 0, 0, withscores=True)
        if newest:
            end = datetime.fromtimestamp(float(newest[0][1]), UTC) + timedelta(milliseconds=1)
    window = resolve_window(start, end, now=datetime.now(UTC), max_span=MAX_SPAN)
    request = PageRequest(window, limit)
    windows, _ = history.page(WINDOWS, (symbol,), request)
    items, _ = history.page(ITEMS, (symbol,), request)
    return SentimentOut(
        symbol=symbol,
        start=window.start,
        end=window.end,
        windows=[SentimentWindowOut.model_validate(row) for row in windows],
        items=[SentimentItemOut.model_validate(row) for row in items],
    )
