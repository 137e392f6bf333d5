"""Training data: forward labels over configurable horizons, point in time, checked by hand on tiny bars."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketpulse.errors import ConfigError
from marketpulse.features.indicators import indicators
from marketpulse.features.model_inputs import model_inputs
from marketpulse.models.data import Horizon, build_dataset, forward_labels, replay_minute_bars


def _bars(symbol: str, local_times: list[str], closes: list[float]) -> pd.DataFrame:
    ts = pd.to_datetime(local_times).tz_localize("America/New_York").tz_convert("UTC")
    return pd.DataFrame({"symbol": symbol, "ts": ts, "close": closes})


def test_horizon_names_parse_and_bad_ones_are_clear_errors() -> None:
    assert Horizon.parse("5min") == Horizon("5min", minutes=5)
    assert Horizon.parse("2h") == Horizon("2h", minutes=120)
    assert Horizon.parse("1d") == Horizon("1d", sessions=1)
    for bad in ("0min", "soon", "5m", "1w"):
        with pytest.raises(ConfigError, match="horizon"):
            Horizon.parse(bad)


def test_minute_labels_use_the_exact_target_bar_of_the_same_session() -> None:
    bars = _bars(
        "AAPL",
        ["2013-01-02 15:57", "2013-01-02 15:58", "2013-01-02 15:59", "2013-01-03 09:30", "2013-01-03 09:32"],
        [100.0, 101.0, 99.0, 98.0, 102.0],
    )
    one = forward_labels(bars, Horizon.parse("1min"))
    assert one["ret"].iloc[0] == pytest.approx(np.log(101 / 100))
    assert one["ret"].iloc[1] == pytest.approx(np.log(99 / 101))
    assert np.isnan(one["ret"].iloc[2])  # 16:00 is the next session's problem: no label across the close
    assert np.isnan(one["ret"].iloc[3])  # 09:31 has no bar: no label, never the neighbour's close
    assert one["end_ts"].iloc[0] == bars["ts"].iloc[1]
    two = forward_labels(bars, Horizon.parse("2min"))
    assert two["ret"].iloc[0] == pytest.approx(np.log(99 / 100))
    assert two["ret"].iloc[3] == pytest.approx(np.log(102 / 98))


def test_day_labels_take_the_same_local_time_next_session_across_weekends_and_dst() -> None:
    # Friday 2013-03-08 (EST, UTC-5) -> Monday 2013-03-11 (EDT, UTC-4): same 10:00 local, 23 h apart in UTC + 2 days.
    bars = _bars(
        "IBM",
        ["2013-03-08 10:00", "2013-03-08 10:01", "2013-03-11 10:00", "2013-03-12 10:01"],
        [200.0, 201.0, 210.0, 190.0],
    )
    labels = forward_labels(bars, Horizon.parse("1d"))
    assert labels["ret"].iloc[0] == pytest.approx(np.log(210 / 200))
    assert np.isnan(labels["ret"].iloc[1])  # Monday 10:01 is missing
    assert np.isnan(labels["ret"].iloc[2])  # Tuesday 10:00 is missing
    assert np.isnan(labels["ret"].iloc[3])  # no later session
    assert labels["end_ts"].iloc[0] == bars["ts"].iloc[2]


def test_session_labels_of_a_single_session_are_all_missing_not_an_error() -> None:
    # Live: the scorecard sees only today's bars, so no 1d target exists yet for any of them.
    bars = _bars("AAPL", ["2013-01-02 10:00", "2013-01-02 10:01"], [100.0, 101.0])
    labels = forward_labels(bars, Horizon.parse("1d"))
    assert labels["ret"].isna().all()
    assert labels["end_ts"].isna().all()


def test_labels_never_mix_symbols() -> None:
    a = _bars("AAPL", ["2013-01-02 10:00"], [100.0])
    b = _bars("MSFT", ["2013-01-02 10:01"], [30.0])
    labels = forward_labels(pd.concat([a, b], ignore_index=True), Horizon.parse("1min"))
    assert labels["ret"].isna().all()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return replay_minute_bars(["AAPL", "MSFT"], date(2012, 11, 1), date(2012, 11, 9), ticks_per_day=600, seed=3)


def test_features_at_t_do_not_change_when_the_future_does(bars: pd.DataFrame) -> None:
    data = build_dataset(bars, ["1min", "5min", "1d"], window=8)
    cut = pd.Timestamp("2012-11-06 15:00", tz="UTC")
    altered = bars.copy()
    future = altered["ts"] >= cut
    altered.loc[future, ["open", "high", "low", "close"]] *= 1.5  # rewrite everything from `cut` on
    again = build_dataset(altered, ["1min", "5min", "1d"], window=8)
    past = (data.frame["ts"] < cut).to_numpy()
    np.testing.assert_array_equal(data.inputs[past], again.inputs[past])
    np.testing.assert_array_equal(data.window_ok[past], again.window_ok[past])
    # Labels of past rows may see the future (that is what a label is), and only through their target bar:
    for horizon in ("1min", "5min", "1d"):
        untouched = past & (data.end_ns[horizon] < cut.value)
        np.testing.assert_array_equal(data.ret[horizon][untouched], again.ret[horizon][untouched])


def test_dataset_rows_and_windows(bars: pd.DataFrame) -> None:
    data = build_dataset(bars, ["1min", "1d"], window=8)
    frame = data.frame
    assert (frame.groupby("symbol")["ts"].apply(lambda s: s.is_monotonic_increasing)).all()
    np.testing.assert_allclose(data.inputs, np.nan_to_num(model_inputs(indicators(bars)).to_numpy(dtype=np.float32)))
    rows = np.flatnonzero(data.window_ok)
    windows = data.windows(rows)
    assert windows.shape == (len(rows), 8, data.inputs.shape[1])
    # A window never reaches into another symbol or a warm-up row.
    symbol = frame["symbol"].to_numpy()
    for row in rows[:: max(1, len(rows) // 50)]:
        assert len(set(symbol[row - 7 : row + 1])) == 1
        assert model_inputs(frame.iloc[row - 7 : row + 1]).notna().all().all()
    assert not data.window_ok[:40].any()  # indicator warm-up (complete from bar 34, index 33) + 7 earlier bars
