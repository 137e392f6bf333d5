"""Training data from our own stores: 1-min bars rebuilt from the raw tick lake the stream writes."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from factories import random_walk_ticks
from marketpulse.config import ModelSettings, Settings
from marketpulse.features.bars import ticks_to_bars
from marketpulse.models.data import NotEnoughDataError, lake_minute_bars, lake_sessions, training_bars
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_section
from marketpulse.stores.lake import LakeWriter
from marketpulse.stores.objectstore import s3_section


def _ticks(symbol: str, day: str, n: int, seed: int) -> pd.DataFrame:
    ticks = random_walk_ticks(symbol, f"{day} 14:30", minutes=30, count=n, seed=seed, price=50, max_size=100)
    return ticks.assign(source="test")


def test_lake_bars_equal_the_bars_of_the_landed_ticks(stack: Stack, settings: Settings, unique: str) -> None:
    symbol = f"L{unique[:6].upper()}"
    ticks = pd.concat([_ticks(symbol, "2013-02-11", 400, 1), _ticks(symbol, "2013-02-12", 300, 2)], ignore_index=True)
    writer = LakeWriter(s3_section(settings))
    half = len(ticks) // 2
    writer.write_ticks(ticks.iloc[:half], "batch-1")  # two micro-batches, as the stream lands them
    writer.write_ticks(ticks.iloc[half:], "batch-2")

    got = lake_minute_bars(settings, [symbol], date(2013, 2, 11), date(2013, 2, 12))
    want = ticks_to_bars(ticks[["symbol", "ts", "price", "size"]], "1min")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    assert lake_minute_bars(settings, [symbol], date(2013, 2, 12), date(2013, 2, 12))[
        "ts"
    ].dt.day.unique().tolist() == [12]
    assert {date(2013, 2, 11), date(2013, 2, 12)} <= set(lake_sessions(settings))


def test_a_lake_too_short_for_the_asked_history_is_a_clear_error(stack: Stack, settings: Settings) -> None:
    lake_only = settings.model_copy(update={"models": ModelSettings(data_source="lake", train_sessions=100_000)})
    with pytest.raises(NotEnoughDataError, match=r"raw lake holds \d+ sessions"):
        training_bars(lake_only)


def test_lake_training_bars_carry_the_sentiment_known_by_each_bar(
    stack: Stack, settings: Settings, unique: str
) -> None:
    """Texts stored by the sentiment job (Cassandra) become training inputs exactly as the market job fuses them:
    a bar sees a window only once the window has ended by the bar's start."""
    from marketpulse.models.data import with_stored_sentiment
    from marketpulse.stores.sentiment import CassandraSentiment

    symbol = f"T{unique[:6].upper()}"
    bars = ticks_to_bars(_ticks(symbol, "2013-02-13", 400, 3)[["symbol", "ts", "price", "size"]], "1min")
    bars["ts"] += pd.Timedelta(minutes=20)  # 14:50 .. 15:19: across the end of the texts' window
    published = pd.Timestamp("2013-02-13 14:35", tz="UTC")  # in the window [14:30, 15:00)
    items = pd.DataFrame(
        {
            "symbol": symbol,
            "known_at": [published, published + pd.Timedelta(minutes=1)],
            "item_id": [f"{unique}-1", f"{unique}-2"],
            "source": "x",
            "author": "a",
            "url": "",
            "text": ["up", "down"],
            "published_at": [published, published + pd.Timedelta(minutes=1)],
            "ingested_at": [published, published + pd.Timedelta(minutes=1)],
            "p_bearish": [0.1, 0.5],
            "p_neutral": [0.1, 0.3],
            "p_bullish": [0.8, 0.2],
            "polarity": [0.7, -0.3],
            "model_version": "test",
            "replayed": False,
        }
    )
    store = CassandraSentiment(cassandra_section(settings))
    try:
        store.write_items(items)
    finally:
        store.close()

    out = with_stored_sentiment(settings, bars)
    assert len(out) == len(bars) and (out["ts"].to_numpy() == bars["ts"].to_numpy()).all()
    before = out["ts"] < pd.Timestamp("2013-02-13 15:00", tz="UTC")
    assert before.any() and (~before).any()
    assert out.loc[before, "sent_mean"].isna().all()  # the window had not ended yet
    assert out.loc[~before, "sent_mean"].to_numpy() == pytest.approx(0.2)  # mean polarity of the two texts
    assert (out.loc[~before, "sent_count"] == 2).all()
    assert with_stored_sentiment(settings, bars.assign(symbol="NOTEXTS"))["symbol"].eq("NOTEXTS").all()
