"""The trees' tabular inputs: rolling sums per symbol checked against pandas, nothing from the future, the
cross-section computed per bar time, and missing sources left missing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketpulse.features.indicators import indicators
from marketpulse.models.data import replay_minute_bars
from marketpulse.models.tabular import SENTIMENT_COLUMNS, TABULAR_COLUMNS, rolling_sum, tabular_features


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return replay_minute_bars(["AAPL", "IBM", "MSFT"], date(2012, 11, 5), date(2012, 11, 6), 300, seed=4)


def test_rolling_sum_matches_pandas_per_symbol() -> None:
    rng = np.random.default_rng(0)
    symbols = np.repeat(["A", "B", "C"], [7, 1, 12])
    values = rng.normal(size=len(symbols))
    values[[3, 15]] = np.nan
    codes = pd.factorize(symbols)[0]
    expected = pd.Series(values).groupby(symbols).transform(lambda s: s.rolling(4, min_periods=4).sum())
    np.testing.assert_allclose(rolling_sum(values, codes, 4), expected.to_numpy(), equal_nan=True)


def test_no_input_reads_a_later_bar(bars: pd.DataFrame) -> None:
    frame = indicators(bars.assign(volume=bars["volume"]))
    frame["volume"] = bars.sort_values(["symbol", "ts"], kind="stable")["volume"].to_numpy()
    cut = frame["ts"].sort_values().iloc[len(frame) * 2 // 3]
    before = tabular_features(frame)
    altered = frame.copy()
    later = altered["ts"] > cut
    altered.loc[later, ["close", "log_ret_1", "ret_1"]] *= -3.0
    altered.loc[later, "volume"] *= 50.0
    after = tabular_features(altered)
    earlier = ~later.to_numpy()
    np.testing.assert_array_equal(before[earlier].to_numpy(), after[earlier].to_numpy())


def test_market_columns_are_the_cross_section_at_each_bar_time(bars: pd.DataFrame) -> None:
    frame = indicators(bars)
    out = tabular_features(frame)
    by_time = frame.assign(mkt=out["mkt_ret_1"], r=frame["log_ret_1"]).groupby("ts")
    np.testing.assert_allclose(by_time["mkt"].first(), by_time["r"].mean(), equal_nan=True)
    assert list(out.columns) == TABULAR_COLUMNS
    assert out["volume_rel"].isna().all()  # indicators carry no volume: missing, not invented
    assert out[list(SENTIMENT_COLUMNS)].isna().all().all()
    assert out["time_of_day"].between(0, 1).all() and out["day_of_week"].between(0, 1).all()
    with_sentiment = tabular_features(frame.assign(**{SENTIMENT_COLUMNS[0]: 0.25}))
    assert (with_sentiment[SENTIMENT_COLUMNS[0]] == 0.25).all()
