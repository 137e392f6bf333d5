"""Text contracts (wire round trip, validation) and the replayed sample text stream."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from marketpulse.contracts import ContractError, from_wire, to_wire
from marketpulse.contracts.text import NewsArticle, SentimentScore, SentimentWindow, SocialPost
from marketpulse.ingest.social.replay import TextReplaySource

T = datetime(2013, 1, 2, 15, 0, 1, 250000, tzinfo=UTC)


def _post(**overrides: object) -> SocialPost:
    fields: dict[str, object] = {
        "id": "x:1",
        "source": "x",
        "author": "dana",
        "url": "https://x.com/dana/status/1",
        "text": "$AAPL breaking out",
        "published_at": T,
        "ingested_at": T + timedelta(seconds=3),
        "symbols": ["AAPL"],
    }
    return SocialPost.model_validate({**fields, **overrides})


def test_post_wire_round_trip_keeps_symbols_and_times() -> None:
    post = _post(symbols=["AAPL", "BRK.B", "AAPL"], engagement=3)
    assert post.symbols == ["AAPL", "BRK.B"]  # one mention per symbol
    assert from_wire(SocialPost, to_wire(post)) == post
    assert post.known_at == T + timedelta(seconds=3)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"symbols": []}, "symbols: List should have at least 1 item"),
        ({"symbols": ["aapl"]}, "not exchange tickers: aapl"),
        ({"source": "news"}, "source: Input should be 'x' or 'reddit'"),
        ({"text": ""}, "text: String should have at least 1 character"),
        ({"published_at": "2013-01-02T15:00:00"}, "no timezone"),
    ],
)
def test_invalid_posts_are_rejected_with_a_reason(overrides: dict[str, object], reason: str) -> None:
    import json

    raw = json.loads(to_wire(_post()))
    raw.update(overrides)
    with pytest.raises(ContractError, match=reason):
        from_wire(SocialPost, json.dumps(raw))


def test_window_cannot_hold_a_text_known_at_or_after_its_end() -> None:
    fields: dict[str, object] = {
        "symbol": "AAPL",
        "window_start": T - timedelta(minutes=30),
        "window_end": T,
        "count": 1,
        "mean": 0.2,
        "dispersion": 0.0,
        "last_published_at": T - timedelta(minutes=1),
        "last_ingested_at": T,
        "model_version": "vader-1",
    }
    with pytest.raises(ValueError, match="published and ingested before its end"):
        SentimentWindow.model_validate(fields)
    fields["last_ingested_at"] = T - timedelta(seconds=1)
    assert SentimentWindow.model_validate(fields).count == 1


def test_score_polarity_is_bounded() -> None:
    with pytest.raises(ValueError, match="polarity"):
        SentimentScore(
            item_id="x:1",
            symbol="AAPL",
            source="x",
            published_at=T,
            ingested_at=T,
            p_bearish=0.0,
            p_neutral=0.0,
            p_bullish=1.0,
            polarity=1.5,
            model_version="v",
        )


def test_replay_texts_are_real_shaped_linked_ordered_and_repeatable() -> None:
    first = list(TextReplaySource(["AAPL", "IBM"], date(2013, 1, 2), date(2013, 1, 3), texts_per_day=10))
    again = list(TextReplaySource(["AAPL", "IBM"], date(2013, 1, 2), date(2013, 1, 3), texts_per_day=10))
    assert first == again  # seeded: a restarted replay rewrites the same ids (idempotent stores)
    assert len(first) == 2 * 2 * 10
    assert {item.source for item in first} == {"x", "reddit", "news"}
    assert all(item.replayed for item in first)
    assert all(item.symbols in (["AAPL"], ["IBM"]) for item in first)
    ingested = [item.ingested_at for item in first]
    assert ingested == sorted(ingested)
    assert all(item.published_at < item.ingested_at for item in first)
    # inside the sessions of the replayed days (14:30-21:00 UTC in winter, plus ingest delay)
    assert all(date(2013, 1, 2) <= item.published_at.date() <= date(2013, 1, 3) for item in first)
    assert all(14 <= item.published_at.hour < 21 for item in first)
    news = [item for item in first if isinstance(item, NewsArticle)]
    assert news and all(item.url.startswith("https://replay.marketpulse.invalid/") for item in news)


def test_api_window_body_carries_exactly_the_contract_fields() -> None:
    from marketpulse.api.routes.sentiment import SentimentWindowOut

    assert set(SentimentWindowOut.model_fields) | {"symbol"} == set(SentimentWindow.model_fields)


def test_every_computed_window_satisfies_the_contract() -> None:
    import numpy as np
    import pandas as pd

    from marketpulse.features.sentiment import sentiment_windows
    from marketpulse.stores.sentiment import as_contract

    rng = np.random.default_rng(1)
    published = pd.Timestamp("2013-01-02 14:30", tz="UTC") + pd.to_timedelta(rng.integers(0, 20_000, 200), unit="s")
    items = pd.DataFrame(
        {
            "symbol": rng.choice(["AAPL", "IBM"], 200),
            "source": rng.choice(["x", "reddit", "news"], 200),
            "polarity": rng.uniform(-1, 1, 200),
            "published_at": published,
            "ingested_at": published + pd.to_timedelta(rng.integers(0, 3600, 200), unit="s"),
        }
    )
    windows = sentiment_windows(items, pd.Timedelta("30min"), baseline=3)
    contracts = [as_contract(row, "v") for row in windows.itertuples(index=False)]
    assert len(contracts) == len(windows) > 10
    assert all(max(w.last_published_at, w.last_ingested_at) < w.window_end for w in contracts)
