"""Bars from ticks, partial-bar merging and indicators: against `ta`, numpy, hand examples and the streaming path."""

from __future__ import annotations

from functools import reduce
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from bokeh_sampledata.stocks import data as sample_stocks
from ta.momentum import RSIIndicator
from ta.trend import MACD, EMAIndicator
from ta.volatility import BollingerBands

from marketpulse.features import (
    BAR_COLUMNS,
    INDICATOR_COLUMNS,
    INTERVALS,
    TAIL_WINDOW,
    WARMUP_BARS,
    indicators,
    latest_indicators,
    merge_bars,
    ticks_to_bars,
)
from marketpulse.features.indicators import RECURSIVE_ALPHAS, truncation_error_bound

UTC_NS = "datetime64[ns, UTC]"
T0 = pd.Timestamp("2024-01-02 14:30:00", tz="UTC")


# --- fixtures and helpers -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daily_bars() -> pd.DataFrame:
    """Real daily bars (AAPL, IBM, MSFT, GOOG, FB) from bokeh-sampledata, in our bar columns."""
    bars = sample_stocks.rename(columns={"ticker": "symbol", "date": "ts"})
    bars["ts"] = pd.to_datetime(bars["ts"]).dt.tz_localize("UTC").dt.as_unit("ns")
    bars["volume"] = bars["volume"].astype("float64")
    bars["vwap"] = (bars["high"] + bars["low"] + bars["close"]) / 3  # daily data has no VWAP: typical price
    bars["trades"] = np.int64(1)
    bars["last_ts"] = bars["ts"]
    return bars[BAR_COLUMNS].sort_values(["symbol", "ts"]).reset_index(drop=True)


def one_symbol(bars: pd.DataFrame, symbol: str) -> pd.DataFrame:
    return bars[bars["symbol"] == symbol].reset_index(drop=True)


def random_ticks(seed: int, count: int = 5_000, symbols: tuple[str, ...] = ("AAPL", "MSFT", "IBM")) -> pd.DataFrame:
    """Ticks on a millisecond grid over ~40 s (so timestamps tie), with many zero-size ticks."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "symbol": rng.choice(symbols, count),
            "ts": T0 + pd.to_timedelta(rng.integers(0, 40_000, count), unit="ms"),
            "price": np.round(100 + rng.standard_normal(count).cumsum() * 0.01, 2),
            "size": rng.choice([0.0, 0.0, 1.0, 5.0, 100.0], count),
        }
    )


def stream_through(bars: pd.DataFrame, chunk_sizes: list[int]) -> pd.DataFrame:
    """Feed one symbol's bars to latest_indicators chunk by chunk, carrying the tail, like the stream does."""
    tail = bars.iloc[:0]
    rows: list[pd.DataFrame] = []
    start = 0
    for size in chunk_sizes:
        new_rows, tail = latest_indicators(tail, bars.iloc[start : start + size])
        start += size
        assert len(new_rows) == size
        assert len(tail) == min(TAIL_WINDOW, start)
        rows.append(new_rows)
    return pd.concat(rows, ignore_index=True)


def random_chunk_sizes(total: int, seed: int) -> list[int]:
    """Mostly small micro-batches, now and then one longer than the tail itself."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        size = int(rng.integers(300, 400)) if rng.random() < 0.02 else int(rng.integers(1, 40))
        sizes.append(min(size, total - sum(sizes)))
    return sizes


def ta_reference(close: pd.Series) -> dict[str, pd.Series]:
    """The indicators as the `ta` package computes them with its default conventions."""
    macd = MACD(close, window_slow=26, window_fast=12, window_sign=9)
    bands = BollingerBands(close, window=20, window_dev=2)
    return {
        "ema_12": EMAIndicator(close, window=12).ema_indicator(),
        "ema_26": EMAIndicator(close, window=26).ema_indicator(),
        "macd": macd.macd(),
        "macd_signal": macd.macd_signal(),
        "macd_hist": macd.macd_diff(),
        "rsi_14": RSIIndicator(close, window=14).rsi(),
        "bb_mid": bands.bollinger_mavg(),
        "bb_upper": bands.bollinger_hband(),
        "bb_lower": bands.bollinger_lband(),
        "bb_pctb": bands.bollinger_pband(),
    }


# --- indicators against independent implementations ---------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "IBM", "GOOG"])
def test_indicators_match_ta(daily_bars: pd.DataFrame, symbol: str) -> None:
    ours = one_symbol(indicators(daily_bars), symbol)
    close = one_symbol(daily_bars, symbol)["close"]
    for column, expected in ta_reference(close).items():
        # equal_nan: the NaN (warm-up) positions must be identical too, not only the values.
        np.testing.assert_allclose(
            ours[column].to_numpy(), expected.to_numpy(dtype="float64"), rtol=1e-9, atol=0, equal_nan=True
        )


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
def test_returns_and_volatility_match_numpy(daily_bars: pd.DataFrame, symbol: str) -> None:
    ours = one_symbol(indicators(daily_bars), symbol)
    close = one_symbol(daily_bars, symbol)["close"].to_numpy()
    simple = close[1:] / close[:-1] - 1
    log_returns = np.log(close[1:] / close[:-1])
    volatility = np.lib.stride_tricks.sliding_window_view(log_returns, 20).std(axis=1, ddof=1)
    np.testing.assert_allclose(ours["ret_1"].to_numpy(), [np.nan, *simple], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ours["log_ret_1"].to_numpy(), [np.nan, *log_returns], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        ours["volatility_20"].to_numpy(), [np.nan] * 20 + list(volatility), rtol=1e-9, equal_nan=True
    )


def test_warmup_bars_is_where_the_slowest_column_becomes_defined(daily_bars: pd.DataFrame) -> None:
    ours = one_symbol(indicators(daily_bars), "AAPL")[INDICATOR_COLUMNS]
    first_defined = {column: int(ours[column].first_valid_index()) for column in INDICATOR_COLUMNS}
    assert max(first_defined.values()) + 1 == WARMUP_BARS == 34
    assert first_defined["macd_signal"] + 1 == WARMUP_BARS
    assert first_defined["rsi_14"] + 1 == 14  # ta's convention: the first bar counts as a zero change
    assert ours.iloc[WARMUP_BARS - 1 :].notna().all().all()


def test_indicators_are_computed_per_symbol_and_sorted(daily_bars: pd.DataFrame) -> None:
    shuffled = daily_bars.sample(frac=1.0, random_state=7)
    together = indicators(shuffled)
    assert list(together.columns) == ["symbol", "ts", "close", *INDICATOR_COLUMNS]
    assert together[INDICATOR_COLUMNS].dtypes.eq("float64").all()
    assert together.equals(together.sort_values(["symbol", "ts"]).reset_index(drop=True))
    for symbol in ("FB", "GOOG"):
        alone = indicators(one_symbol(daily_bars, symbol))
        pd.testing.assert_frame_equal(one_symbol(together, symbol), alone)


def test_rsi_is_100_without_losses_and_pctb_undefined_on_flat_prices() -> None:
    rising = pd.DataFrame({"symbol": "X", "ts": T0 + pd.to_timedelta(np.arange(40), unit="s"), "close": 1.0})
    rising["close"] = np.arange(40, dtype="float64") + 1.0
    assert (indicators(rising)["rsi_14"].iloc[13:] == 100.0).all()
    flat = rising.assign(close=5.0)
    features = indicators(flat)
    assert features["bb_pctb"].isna().all()
    assert (features["volatility_20"].iloc[20:] == 0.0).all()


# --- streaming: tail + new bars ------------------------------------------------------------------------------------


def test_tail_window_truncation_bound_is_below_1e_6() -> None:
    # Slowest recursion is Wilder's RSI, alpha = 1/14: (13/14)^256 ≈ 5.8e-9.
    assert RECURSIVE_ALPHAS["rsi_14"] == min(RECURSIVE_ALPHAS.values())
    assert truncation_error_bound(TAIL_WINDOW) == pytest.approx((13 / 14) ** 256, rel=1e-12)
    assert truncation_error_bound(TAIL_WINDOW) < 1e-6
    assert truncation_error_bound(TAIL_WINDOW // 2) > truncation_error_bound(TAIL_WINDOW)


@pytest.mark.parametrize(("symbol", "seed"), [("AAPL", 1), ("MSFT", 2), ("GOOG", 3)])
def test_streaming_matches_full_history(daily_bars: pd.DataFrame, symbol: str, seed: int) -> None:
    bars = one_symbol(daily_bars, symbol)
    full = indicators(bars)
    streamed = stream_through(bars, random_chunk_sizes(len(bars), seed))
    pd.testing.assert_frame_equal(streamed[["symbol", "ts", "close"]], full[["symbol", "ts", "close"]])
    # While the tail still holds the whole history the computation is the same one: bit-for-bit equal.
    head = slice(0, TAIL_WINDOW)
    pd.testing.assert_frame_equal(streamed.iloc[head], full.iloc[head], check_exact=True)
    # From WARMUP_BARS on every value is defined in both, and after the tail fills up they agree to 1e-6.
    # MACD columns are differences of EMAs that cross zero, so their error is measured against the price.
    close = full["close"].to_numpy()
    for column in INDICATOR_COLUMNS:
        expected = full[column].to_numpy()[WARMUP_BARS - 1 :]
        actual = streamed[column].to_numpy()[WARMUP_BARS - 1 :]
        assert not np.isnan(actual).any()
        scale = close[WARMUP_BARS - 1 :] if column.startswith("macd") else np.abs(expected)
        assert np.all(np.abs(actual - expected) <= 1e-6 * scale), column


def test_streaming_ema_error_is_within_the_truncation_bound() -> None:
    # A regime shift (price x3) long before the kept tail: the worst case for restarted recursions.
    rng = np.random.default_rng(11)
    close = np.concatenate([50 + rng.standard_normal(600).cumsum() * 0.2, 150 + rng.standard_normal(900).cumsum()])
    bars = pd.DataFrame({"symbol": "SYN", "ts": T0 + pd.to_timedelta(np.arange(close.size), unit="min")})
    bars["close"] = close
    full = indicators(bars)
    streamed = stream_through(bars, random_chunk_sizes(len(bars), 4))
    price_range = close.max() - close.min()
    for column in ("ema_12", "ema_26"):
        error = np.abs(streamed[column] - full[column]).to_numpy()[TAIL_WINDOW:]
        assert error.max() <= truncation_error_bound(TAIL_WINDOW) * price_range, column
    relative = np.abs(streamed["rsi_14"] - full["rsi_14"]) / full["rsi_14"]
    assert relative.iloc[TAIL_WINDOW:].max() < 1e-6


def test_latest_indicators_replaces_a_resent_bar_and_checks_the_symbol(daily_bars: pd.DataFrame) -> None:
    bars = one_symbol(daily_bars, "AAPL").iloc[:100]
    _, tail = latest_indicators(bars.iloc[:0], bars.iloc[:60])
    corrected = bars.iloc[59:61].assign(close=[1.0, 2.0])
    rows, tail = latest_indicators(tail, corrected)
    assert list(rows["close"]) == [1.0, 2.0]
    assert len(tail) == 61 and tail["close"].iloc[-2:].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="one symbol"):
        latest_indicators(tail, one_symbol(daily_bars, "MSFT").iloc[:1])


# --- ticks → bars, and merging partial bars ------------------------------------------------------------------------


def test_ticks_to_bars_hand_example() -> None:
    def at(seconds: float) -> pd.Timestamp:
        return T0 + pd.Timedelta(seconds=seconds)

    # (symbol, ts, price, size), deliberately out of time order. Equal timestamps keep their input order:
    # AAPL at 0.1 s trades 10 then 9 (open = 10), at 0.5 s trades 12 then 11 (close = 11, a zero-size tick).
    ticks = pd.DataFrame(
        [
            ("AAPL", at(1.2), 13.0, 2.0),
            ("MSFT", at(0.95), 52.0, 0.0),
            ("AAPL", at(0.1), 10.0, 1.0),
            ("AAPL", at(0.5), 12.0, 3.0),
            ("MSFT", at(0.9), 50.0, 0.0),
            ("AAPL", at(0.1), 9.0, 2.0),
            ("AAPL", at(0.5), 11.0, 0.0),
        ],
        columns=["symbol", "ts", "price", "size"],
    )
    expected = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT"],
            "ts": [at(0), at(1), at(0)],
            "open": [10.0, 13.0, 50.0],
            "high": [12.0, 13.0, 52.0],
            "low": [9.0, 13.0, 50.0],
            "close": [11.0, 13.0, 52.0],
            "volume": [6.0, 2.0, 0.0],
            # (10*1 + 9*2 + 12*3 + 11*0) / 6; MSFT traded no volume, so its vwap is the mean price.
            "vwap": [64.0 / 6.0, 13.0, 51.0],
            "trades": np.array([4, 1, 2], dtype="int64"),
            "last_ts": [at(0.5), at(1.2), at(0.95)],
        }
    ).astype({"symbol": "str", "ts": UTC_NS, "last_ts": UTC_NS})
    pd.testing.assert_frame_equal(ticks_to_bars(ticks, "1s"), expected)
    minute = ticks_to_bars(ticks, "1min")
    assert minute["ts"].tolist() == [T0, T0] and minute["trades"].tolist() == [5, 2]
    assert minute["close"].tolist() == [13.0, 52.0] and minute["vwap"].iloc[0] == pytest.approx((64.0 + 13.0 * 2) / 8)


def test_ticks_to_bars_rejects_an_unknown_interval() -> None:
    assert set(INTERVALS) == {"1s", "1min"}
    with pytest.raises(ValueError, match="interval"):
        ticks_to_bars(random_ticks(0, count=10), "5min")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("parts", [2, 3])
def test_merging_bars_of_consecutive_slices_equals_bars_of_all_ticks(seed: int, parts: int) -> None:
    ticks = random_ticks(seed).sort_values("ts", kind="stable")
    rng = np.random.default_rng(seed)
    cuts = sorted(T0 + pd.to_timedelta(rng.integers(0, 40_000, parts - 1), unit="ms"))
    edges = [T0 - pd.Timedelta(seconds=1), *cuts, T0 + pd.Timedelta(minutes=1)]
    slices = [ticks[(ticks["ts"] >= low) & (ticks["ts"] < high)] for low, high in pairwise(edges)]
    for interval in INTERVALS:
        merged = reduce(merge_bars, [ticks_to_bars(part, interval) for part in slices])
        pd.testing.assert_frame_equal(merged, ticks_to_bars(ticks, interval), check_exact=False, rtol=1e-12)


def test_merge_bars_passes_one_sided_bars_through() -> None:
    bars = ticks_to_bars(random_ticks(5), "1s")
    older, newer = bars.iloc[::2], bars.iloc[1::2]
    pd.testing.assert_frame_equal(merge_bars(older, newer), bars)
    pd.testing.assert_frame_equal(merge_bars(bars, bars.iloc[:0]), bars)
    pd.testing.assert_frame_equal(merge_bars(bars.iloc[:0], bars), bars)


def test_a_million_ticks_become_bars() -> None:
    count = 1_000_000
    rng = np.random.default_rng(42)
    ticks = pd.DataFrame(
        {
            "symbol": rng.choice(["AAPL", "MSFT", "IBM", "GOOG"], count),
            "ts": T0 + pd.to_timedelta(rng.integers(0, 3_600 * 10**9, count), unit="ns"),
            "price": 100.0 + rng.standard_normal(count),
            "size": rng.integers(0, 100, count).astype("float64"),
        }
    )
    bars = ticks_to_bars(ticks, "1s")
    assert len(bars) == 4 * 3_600
    assert bars["trades"].sum() == count
    assert bars["volume"].sum() == ticks["size"].sum()


# --- empty and single-bar inputs -----------------------------------------------------------------------------------


def test_empty_inputs_give_empty_frames_with_the_right_columns() -> None:
    empty_ticks = pd.DataFrame(columns=["symbol", "ts", "price", "size"])
    bars = ticks_to_bars(empty_ticks, "1s")
    assert list(bars.columns) == BAR_COLUMNS and bars.empty
    assert bars.dtypes.equals(ticks_to_bars(random_ticks(0, count=10), "1s").dtypes)
    assert merge_bars(bars, bars).dtypes.equals(bars.dtypes)
    features = indicators(bars)
    assert list(features.columns) == ["symbol", "ts", "close", *INDICATOR_COLUMNS] and features.empty
    rows, tail = latest_indicators(bars, bars)
    assert rows.empty and tail.empty
    rows, tail = latest_indicators(pd.DataFrame(), pd.DataFrame())
    assert rows.empty and tail.empty


def test_a_single_bar_is_all_warm_up(daily_bars: pd.DataFrame) -> None:
    bar = one_symbol(daily_bars, "IBM").iloc[:1]
    features = indicators(bar)
    assert len(features) == 1 and features[INDICATOR_COLUMNS].isna().all().all()
    rows, tail = latest_indicators(pd.DataFrame(), bar)
    assert len(rows) == 1 and len(tail) == 1
    rows, tail = latest_indicators(tail, bar.iloc[:0])
    assert rows.empty and len(tail) == 1
    single_tick = pd.DataFrame({"symbol": ["X"], "ts": [T0], "price": [1.5], "size": [0.0]})
    assert ticks_to_bars(single_tick, "1min")[["open", "close", "vwap", "volume"]].iloc[0].tolist() == [
        1.5,
        1.5,
        1.5,
        0,
    ]
