"""Test data and waits shared by the unit and integration tests (import as `from factories import ...`: pytest
puts tests/ on sys.path). Each data factory is deterministic for a seed or a numpy Generator."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd

from marketpulse.contracts.text import NewsArticle, SocialPost, TextItem


def random_walk_ticks(
    symbol: str,
    start: pd.Timestamp | str,
    *,
    minutes: int,
    count: int,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    price: float = 100.0,
    sigma: float = 0.001,
    max_size: int = 300,
    decimals: int | None = 2,
    unique_times: bool = True,
) -> pd.DataFrame:
    """`count` trades of one symbol within `minutes` from `start` (UTC), in time order: a log-normal random walk
    of prices from `price` (per-trade sigma), sizes 1..max_size-1. unique_times: no two trades in the same
    millisecond. Draws offsets, then prices, then sizes from rng (or a new one from seed)."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first
    span_ms = minutes * 60 * 1000
    drawn = rng.choice(span_ms, size=count, replace=False) if unique_times else rng.integers(0, span_ms, count)
    prices = price * np.exp(np.cumsum(rng.normal(0, sigma, count)))
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": first + pd.to_timedelta(np.sort(drawn), unit="ms"),
            "price": prices if decimals is None else np.round(prices, decimals),
            "size": rng.integers(1, max_size, count).astype(float),
        }
    )


def wait_until(predicate: Callable[[], object], timeout_s: float = 10.0, poll_s: float = 0.1) -> None:
    """Poll predicate until it is true; fail the test if it is not within timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"condition not reached in {timeout_s:g}s"
        time.sleep(poll_s)


#: Sample finance sentences ({s}: a cashtag), bullish, bearish and neutral in turn.
TEXT_TEMPLATES = (
    "{s} beats estimates and raises guidance, bullish",
    "{s} downgraded to sell, weak outlook, shares plunge",
    "{s} trading flat today",
    "Great quarter for {s}, strong growth and record profit",
    "{s} misses revenue, disappointing results, bearish",
)


def sample_text(k: int, symbols: list[str], published: datetime, ingested: datetime) -> TextItem:
    """The k-th sample text about symbols[0] (linked to all of `symbols`): a post on X, one on Reddit, a headline,
    in turn; its id, author and URL follow from k and the symbol."""
    symbol = symbols[0]
    text = TEXT_TEMPLATES[k % len(TEXT_TEMPLATES)].format(s=f"${symbol}")
    source = ("x", "reddit", "news")[k % 3]
    common = {
        "id": f"{source}:{symbol}-{k}",
        "author": f"a{k % 7}",
        "url": f"https://example.invalid/{symbol}/{k}",
        "text": text,
        "published_at": published,
        "ingested_at": ingested,
        "symbols": symbols,
    }
    if source == "news":
        return NewsArticle(source="news", outlet="Wire", title=text, **common)
    return SocialPost(source=source, **common)
