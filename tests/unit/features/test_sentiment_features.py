"""Sentiment window math and the point-in-time join (features/sentiment.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marketpulse.features.sentiment import (
    SENTIMENT_FEATURE_COLUMNS,
    point_in_time_join,
    sentiment_windows,
)

W = pd.Timedelta("30min")
DAY = pd.Timestamp("2013-01-02 14:30", tz="UTC")


def _items(rows: list[tuple[str, str, float, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["symbol", "source", "polarity", "published_at", "ingested_at"])
    for column in ("published_at", "ingested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def test_window_mean_dispersion_and_per_source() -> None:
    items = _items(
        [
            ("AAPL", "x", 0.8, "2013-01-02 14:31", "2013-01-02 14:31:20"),
            ("AAPL", "x", 0.4, "2013-01-02 14:40", "2013-01-02 14:40:10"),
            ("AAPL", "news", -0.6, "2013-01-02 14:50", "2013-01-02 14:55"),
            ("MSFT", "reddit", -0.2, "2013-01-02 14:35", "2013-01-02 14:36"),
        ]
    )
    windows = sentiment_windows(items, W, baseline=4)
    aapl = windows[windows.symbol == "AAPL"].iloc[0]
    assert aapl.window_start == pd.Timestamp("2013-01-02 14:30", tz="UTC")
    assert aapl.window_end == pd.Timestamp("2013-01-02 15:00", tz="UTC")
    assert aapl["count"] == 3
    assert aapl["mean"] == pytest.approx((0.8 + 0.4 - 0.6) / 3)
    assert aapl["dispersion"] == pytest.approx(np.std([0.8, 0.4, -0.6]))
    assert aapl["mean_x"] == pytest.approx(0.6) and aapl["count_x"] == 2
    assert aapl["mean_news"] == pytest.approx(-0.6) and aapl["count_news"] == 1
    assert np.isnan(aapl["mean_reddit"]) and aapl["count_reddit"] == 0
    assert aapl["last_ingested_at"] == pd.Timestamp("2013-01-02 14:55", tz="UTC")
    msft = windows[windows.symbol == "MSFT"].iloc[0]
    assert msft["count"] == 1 and msft["dispersion"] == 0.0


def test_a_text_belongs_to_the_window_of_when_it_was_known_not_published() -> None:
    # published 14:59, ingested 15:07: known only at 15:07, so it belongs to [15:00, 15:30)
    items = _items([("IBM", "news", 0.5, "2013-01-02 14:59", "2013-01-02 15:07")])
    (window_end,) = sentiment_windows(items, W, baseline=1)["window_end"]
    assert window_end == pd.Timestamp("2013-01-02 15:30", tz="UTC")


def test_buzz_is_count_over_the_mean_of_the_previous_windows_with_empty_ones_as_zero() -> None:
    rows = []
    # slots 0..5 hold 1, 2, 0, 2, 0, 6 texts: the last window's baseline (slots 1..4) has mean 1.0 -> buzz 6
    for slot, count in enumerate([1, 2, 0, 2, 0, 6]):
        for k in range(count):
            at = DAY + slot * W + pd.Timedelta(minutes=k + 1)
            rows.append(("AAPL", "x", 0.1, str(at), str(at)))
    windows = sentiment_windows(_items(rows), W, baseline=4)
    assert windows["count"].tolist() == [1, 2, 2, 6]
    buzz = windows["buzz"].tolist()
    assert np.isnan(buzz[0])  # no text in the 4 windows before: no baseline
    assert buzz[1] == pytest.approx(2 / (1 / 4))  # slots -3..0 hold 0, 0, 0, 1
    assert buzz[3] == pytest.approx(6 / 1.0)
    # The stream recomputes from a frame holding only `baseline` windows of history: same buzz.
    later = sentiment_windows(_items(rows[1:]), W, baseline=4)
    assert later["buzz"].iloc[-1] == pytest.approx(buzz[3])


def test_point_in_time_join_uses_only_windows_that_ended_by_the_cutoff() -> None:
    items = _items(
        [
            ("AAPL", "x", 0.9, "2013-01-02 14:31", "2013-01-02 14:31"),  # window ends 15:00
            ("AAPL", "x", -0.9, "2013-01-02 15:01", "2013-01-02 15:01"),  # window ends 15:30
        ]
    )
    windows = sentiment_windows(items, W, baseline=1)
    bars = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL", "AAPL", "MSFT"],
            "cutoff": pd.to_datetime(
                ["2013-01-02 14:59", "2013-01-02 15:00", "2013-01-02 15:29", "2013-01-02 15:30", "2013-01-02 15:30"],
                utc=True,
            ),
        }
    )
    joined = point_in_time_join(bars, windows, cutoff="cutoff", max_age=pd.Timedelta("1D"))
    assert {*SENTIMENT_FEATURE_COLUMNS, "sentiment_window_end"} <= set(joined.columns)
    assert np.isnan(joined.loc[0, "sent_mean"])  # nothing known yet
    assert joined.loc[1, "sent_mean"] == pytest.approx(0.9)
    assert joined.loc[2, "sent_mean"] == pytest.approx(0.9)  # the -0.9 text's window has not ended
    assert joined.loc[3, "sent_mean"] == pytest.approx(-0.9)
    assert pd.isna(joined.loc[4, "sentiment_window_end"])  # no MSFT text at all
    assert (
        joined["sentiment_window_end"].dropna() <= joined.loc[joined["sentiment_window_end"].notna(), "cutoff"]
    ).all()


def test_point_in_time_join_ignores_stale_windows_and_keeps_row_order() -> None:
    items = _items([("AAPL", "x", 0.5, "2013-01-02 14:31", "2013-01-02 14:31")])
    windows = sentiment_windows(items, W, baseline=1)
    bars = pd.DataFrame(
        {"symbol": ["AAPL", "AAPL"], "cutoff": pd.to_datetime(["2013-01-05 15:00", "2013-01-02 16:00"], utc=True)}
    )
    joined = point_in_time_join(bars, windows, cutoff="cutoff", max_age=pd.Timedelta("1D"))
    assert joined["cutoff"].tolist() == bars["cutoff"].tolist()
    assert np.isnan(joined.loc[0, "sent_mean"]) and pd.isna(joined.loc[0, "sentiment_window_end"])
    assert joined.loc[1, "sent_mean"] == pytest.approx(0.5)


def test_missing_item_columns_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="lack columns polarity"):
        sentiment_windows(pd.DataFrame({"symbol": [], "source": [], "published_at": [], "ingested_at": []}), W, 1)
