"""Text events: SocialPost / NewsArticle in, SentimentScore (per item and symbol) and SentimentWindow out.

Every text carries two times: `published_at` (when its author or outlet published it) and `ingested_at`
(when our collector first saw it; in a replay, the replay's market clock). A text is *known* at
`known_at = max(published_at, ingested_at)`: the point-in-time rule of the fusion (no bar may use a text
that was not yet published or not yet ingested at that bar's time) is written against that one value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from marketpulse.contracts.base import Contract, from_epoch_ns
from marketpulse.contracts.market import SYMBOL_PATTERN, _utc_event_time

TextSource = Literal["x", "reddit", "news"]

#: The sources a window breaks its sentiment down by, in column order.
TEXT_SOURCES: tuple[TextSource, ...] = ("x", "reddit", "news")

#: Longest text kept (a Reddit self-post can be 40k characters; the model reads the first few hundred tokens).
MAX_TEXT_CHARS = 10_000


class TextItem(Contract):
    """Fields every text event has; the sentiment job reads both topics through them."""

    id: str = Field(min_length=1, max_length=200, description="Source-scoped id: x:<tweet id>, reddit:<fullname>.")
    source: TextSource
    author: str = Field(max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    published_at: datetime
    ingested_at: datetime
    symbols: list[str] = Field(min_length=1, max_length=20, description="Symbols the text is linked to.")
    #: True for the project's replayed sample texts (make run), never for a live collector.
    replayed: bool = False

    _published = field_validator("published_at", "ingested_at", mode="before")(_utc_event_time)

    @field_validator("symbols")
    @classmethod
    def _tickers(cls, symbols: list[str]) -> list[str]:
        bad = [symbol for symbol in symbols if not re.fullmatch(SYMBOL_PATTERN, symbol)]
        if bad:
            raise ValueError(f"not exchange tickers: {', '.join(bad)}")
        return list(dict.fromkeys(symbols))  # a symbol named twice is one mention (one score, one window count)

    @property
    def known_at(self) -> datetime:
        """When the platform could first have known this text: published and ingested."""
        return max(self.published_at, self.ingested_at)


class SocialPost(TextItem):
    """A post on X or Reddit that mentions at least one symbol (topic social.posts, key = first symbol)."""

    source: Literal["x", "reddit"]
    community: str | None = Field(None, max_length=100, description="Subreddit for Reddit; None for X.")
    engagement: int | None = Field(None, description="Likes (X) or score (Reddit) when collected.")
    lang: str | None = Field(None, max_length=10)


class NewsArticle(TextItem):
    """A news article (topic news.articles); text = title + description, the part NewsAPI returns in full."""

    source: Literal["news"]
    outlet: str = Field(max_length=200, description="The publisher, NewsAPI's source.name.")
    title: str = Field(min_length=1, max_length=1000)


class SentimentScore(Contract):
    """The model's view of one text for one symbol it mentions (topic signals.sentiment, key = symbol)."""

    item_id: str = Field(min_length=1, max_length=200)
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    source: TextSource
    published_at: datetime
    ingested_at: datetime
    p_bearish: float = Field(ge=0, le=1)
    p_neutral: float = Field(ge=0, le=1)
    p_bullish: float = Field(ge=0, le=1)
    polarity: float = Field(ge=-1, le=1, description="p_bullish - p_bearish.")
    model_version: str = Field(min_length=1)

    _times = field_validator("published_at", "ingested_at", mode="before")(_utc_event_time)


class SentimentWindow(Contract):
    """A symbol's sentiment over the texts known in [window_start, window_end).

    Every text in it was published *and* ingested before window_end, so a bar at or after window_end
    may use it (the point-in-time rule). Buzz is the window's count over the mean count of the
    `baseline_windows` windows before it (1.0 = usual attention; None when those windows hold no text).
    """

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    window_start: datetime
    window_end: datetime
    count: int = Field(ge=1)
    mean: float = Field(ge=-1, le=1)
    dispersion: float = Field(ge=0)
    buzz: float | None = Field(None, ge=0)
    mean_x: float | None = None
    count_x: int = Field(0, ge=0)
    mean_reddit: float | None = None
    count_reddit: int = Field(0, ge=0)
    mean_news: float | None = None
    count_news: int = Field(0, ge=0)
    last_published_at: datetime
    last_ingested_at: datetime
    model_version: str

    _times = field_validator("last_published_at", "last_ingested_at", mode="before")(_utc_event_time)

    @field_validator("window_start", "window_end", mode="before")
    @classmethod
    def _window_bounds(cls, value: object) -> datetime:
        # A window still open ends in the future (up to one window length ahead): only its texts must be past.
        if isinstance(value, int) and not isinstance(value, bool):
            return from_epoch_ns(value)
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(parsed, datetime) or parsed.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware datetimes, ISO-8601 or epoch ns")
        return parsed.astimezone(UTC)

    @model_validator(mode="after")
    def _items_inside(self) -> SentimentWindow:
        if not self.window_start < self.window_end:
            raise ValueError("window_start must be before window_end")
        if max(self.last_published_at, self.last_ingested_at) >= self.window_end:
            raise ValueError("a window holds only texts published and ingested before its end")
        return self
