"""Replayed text stream for `make run`: project-written sample posts and headlines in the replay's market time.

The samples (`data/sample_texts.jsonl`, written for this project, not collected) are templates per provider
and sentiment. For every replay day and symbol the source draws `texts_per_day` of them at seeded times in
the session, fills in the company, ticker and the *previous* day's move and close (never the same day's:
a 10:00 post must not know the 16:00 close), wraps each in its provider's real payload shape (an X v2
search page, a Reddit listing child, a NewsAPI article), and parses it with the collectors' own parsers,
linker and contract. Texts come out in ingest-time order, paced like `ReplaySource` (market time runs only
in sessions, `speedup` times wall time), with `ingested_at` in market time too, so a replay is
point-in-time exactly like a live feed. Texts lean with the previous day's move (60%), else at random.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np

from marketpulse.contracts.text import TextItem
from marketpulse.errors import ConfigError
from marketpulse.ingest.pacing import Stoppable
from marketpulse.ingest.replay import SESSION_US, load_daily_bars, session_open_us
from marketpulse.ingest.social.base import Fetched, RawText, build_item
from marketpulse.ingest.social.linking import SymbolLinker
from marketpulse.ingest.social.news import parse_articles
from marketpulse.ingest.social.reddit import parse_submission
from marketpulse.ingest.social.x import parse_search_page

#: How the samples name each replay symbol's company (an alias in the reference table, so it links).
COMPANY_NAMES = {"AAPL": "Apple", "MSFT": "Microsoft", "GOOG": "Google", "IBM": "IBM", "FB": "Facebook"}

#: Seconds from publish to ingest, by provider (uniform range): search lag, listing poll, news poll.
INGEST_DELAY_S = {"x": (2.0, 30.0), "reddit": (10.0, 120.0), "news": (30.0, 600.0)}
#: Share of texts that lean with the previous day's move.
LEAN = 0.6

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Sample:
    """One template of the sample set."""

    provider: str
    sentiment: str
    fields: dict[str, str]


def load_samples() -> list[Sample]:
    """The project's sample templates."""
    path = resources.files("marketpulse.ingest.social").joinpath("data/sample_texts.jsonl")
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            provider, sentiment = record.pop("provider"), record.pop("sentiment")
            samples.append(Sample(provider, sentiment, record))
    return samples


@dataclass(frozen=True, slots=True)
class _Scheduled:
    ingest_offset_us: int  # from the session open of its day
    raw: RawText
    ingested_at: datetime


class TextReplaySource(Stoppable):
    """Sample texts for the replay days and symbols, as TextItems in ingest-time order (see module doc)."""

    def __init__(
        self,
        symbols: Sequence[str] | None,
        start: date | None,
        end: date | None,
        *,
        texts_per_day: int = 24,
        speedup: float = 0.0,
        seed: int = 7,
        linker: SymbolLinker | None = None,
        on_day: Callable[[date, int], None] | None = None,
    ) -> None:
        if texts_per_day < 1:
            raise ConfigError(f"texts_per_day must be at least 1, got {texts_per_day}")
        if speedup < 0:
            raise ConfigError(f"speedup must be >= 0 (0 = as fast as possible), got {speedup}")
        try:
            self.bars = load_daily_bars(symbols, start - timedelta(days=7) if start else None, end)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        self.days = sorted(day for day in set(self.bars["date"]) if start is None or day >= start)
        self.texts_per_day = texts_per_day
        self.speedup = speedup
        self.seed = seed
        self.linker = linker or SymbolLinker()
        self.samples = load_samples()
        self.on_day = on_day
        super().__init__()

    def __iter__(self) -> Iterator[TextItem]:
        started = time.monotonic()
        previous = self._previous_bars()
        for index, day in enumerate(self.days):
            day_start = started + index * SESSION_US / 1e6 / self.speedup if self.speedup > 0 else 0.0
            scheduled = self._day(day, previous)
            for entry in scheduled:
                if self.speedup > 0:
                    self._wait_until(day_start + entry.ingest_offset_us / 1e6 / self.speedup)
                if self._stopped.is_set():
                    return
                symbols = self.linker.link(entry.raw.text)
                if not symbols:
                    raise ConfigError(f"sample text {entry.raw.text!r} links no symbol: fix data/sample_texts.jsonl")
                yield build_item(entry.raw, symbols, entry.ingested_at, replayed=True)
            if self.on_day is not None:
                self.on_day(day, len(scheduled))

    def _previous_bars(self) -> dict[tuple[str, date], tuple[float, float]]:
        """(symbol, day) -> (previous session's close, its move in %)."""
        out: dict[tuple[str, date], tuple[float, float]] = {}
        for symbol, bars in self.bars.groupby("symbol"):
            bars = bars.sort_values("date")
            closes, opens, days = bars["close"].tolist(), bars["open"].tolist(), bars["date"].tolist()
            for i in range(1, len(days)):
                out[(str(symbol), days[i])] = (closes[i - 1], 100.0 * (closes[i - 1] / opens[i - 1] - 1.0))
        return out

    def _day(self, day: date, previous: dict[tuple[str, date], tuple[float, float]]) -> list[_Scheduled]:
        entries: list[_Scheduled] = []
        for symbol in sorted(set(self.bars.loc[self.bars["date"] == day, "symbol"])):
            if (symbol, day) not in previous:
                continue  # no earlier session to talk about
            rng = np.random.default_rng(
                np.random.SeedSequence([self.seed, day.toordinal(), int.from_bytes(symbol.encode())])
            )
            close, move = previous[(symbol, day)]
            for k in range(self.texts_per_day):
                entries.append(self._text(symbol, day, k, close, move, rng))
        return sorted(entries, key=lambda entry: (entry.ingest_offset_us, entry.raw.id))

    def _text(self, symbol: str, day: date, k: int, close: float, move: float, rng: np.random.Generator) -> _Scheduled:
        leaning = "bullish" if move > 0 else "bearish"
        wanted = leaning if rng.random() < LEAN else str(rng.choice(["bullish", "neutral", "bearish"]))
        candidates = [sample for sample in self.samples if sample.sentiment == wanted]
        sample = candidates[int(rng.integers(len(candidates)))]
        values = {"ticker": symbol, "name": COMPANY_NAMES.get(symbol, symbol), "price": f"{close:.2f}"}
        values["move"] = f"{abs(move):.1f}"
        filled = {key: value.format(**values) for key, value in sample.fields.items()}
        published_offset = int(rng.uniform(0, SESSION_US))
        low, high = INGEST_DELAY_S[sample.provider]
        delay_us = int(rng.uniform(low, high) * 1e6)
        published_at = _EPOCH + timedelta(microseconds=session_open_us(day) + published_offset)
        ingested_at = published_at + timedelta(microseconds=delay_us)
        item_id = f"{day:%Y%m%d}{symbol}{k:03d}"
        raw = _wrap(sample.provider, item_id, filled, published_at, rng)
        return _Scheduled(published_offset + delay_us, raw, ingested_at)


def _wrap(provider: str, item_id: str, fields: dict[str, str], published_at: datetime, rng: Any) -> RawText:
    """The filled template in its provider's payload shape, parsed by that provider's own parser."""
    stamp = published_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    author = f"replay_{provider}_{int(rng.integers(1, 400))}"
    if provider == "x":
        tweet_id = str(int.from_bytes(item_id.encode()[-8:], "big"))
        page = {
            "data": [
                {
                    "id": tweet_id,
                    "text": fields["text"],
                    "author_id": "1",
                    "created_at": stamp,
                    "lang": "en",
                    "edit_history_tweet_ids": [tweet_id],
                    "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": int(rng.integers(0, 200))},
                }
            ],
            "includes": {"users": [{"id": "1", "name": author, "username": author}]},
            "meta": {"result_count": 1, "newest_id": tweet_id, "oldest_id": tweet_id},
        }
        (raw,) = parse_search_page(page)
        return _replayed(raw, f"x:replay-{item_id}")
    if provider == "reddit":
        child = {
            "id": item_id.lower(),
            "name": f"t3_{item_id.lower()}",
            "title": fields["title"],
            "selftext": fields["selftext"],
            "author": author,
            "subreddit": str(rng.choice(["stocks", "wallstreetbets", "investing"])),
            "permalink": f"/r/stocks/comments/{item_id.lower()}/replay/",
            "created_utc": published_at.timestamp(),
            "score": int(rng.integers(1, 500)),
            "over_18": False,
            "stickied": False,
        }
        parsed = parse_submission(child)
        assert parsed is not None
        return _replayed(parsed, f"reddit:replay-{item_id}")
    article = {
        "source": {"id": None, "name": fields["outlet"]},
        "author": f"{fields['outlet']} staff",
        "title": fields["title"],
        "description": fields["description"],
        "url": f"https://replay.marketpulse.invalid/news/{item_id.lower()}",
        "urlToImage": None,
        "publishedAt": published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content": fields["description"],
    }
    (raw,) = parse_articles({"status": "ok", "totalResults": 1, "articles": [article]})
    return _replayed(raw, f"news:replay-{item_id}")


def _replayed(raw: Fetched, item_id: str) -> RawText:
    """The parsed text under a replay id (so replayed and live ids never collide); publish time kept exact."""
    if not isinstance(raw, RawText):
        raise ValueError(f"the sample text {item_id} does not parse: {raw.reason}")
    return replace(raw, id=item_id)
