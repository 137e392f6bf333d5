"""Ticks → OHLCV bars, and merging of partial bars from successive stream micro-batches.

Pure pandas, vectorised: the same code runs in the Spark stream (per micro-batch), in backfill and in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

TICK_COLUMNS: list[str] = ["symbol", "ts", "price", "size"]
BAR_COLUMNS: list[str] = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades", "last_ts"]
INTERVALS: dict[str, pd.Timedelta] = {"1s": pd.Timedelta(seconds=1), "1min": pd.Timedelta(minutes=1)}

_UTC_NS = "datetime64[ns, UTC]"


def empty_bars() -> pd.DataFrame:
    """An empty bars frame with BAR_COLUMNS and their dtypes."""
    float_column = pd.Series([], dtype="float64")
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype="str"),
            "ts": pd.Series([], dtype=_UTC_NS),
            "open": float_column,
            "high": float_column,
            "low": float_column,
            "close": float_column,
            "volume": float_column,
            "vwap": float_column,
            "trades": pd.Series([], dtype="int64"),
            "last_ts": pd.Series([], dtype=_UTC_NS),
        }
    )


def as_utc_ns(ts: pd.Series) -> pd.Series:
    """Timestamps as datetime64[ns, UTC]; naive input is taken to be UTC already."""
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts).dt.tz_localize("UTC")
    return ts.dt.tz_convert("UTC").dt.as_unit("ns")


def ticks_to_bars(ticks: pd.DataFrame, interval: str) -> pd.DataFrame:
    """OHLCV + VWAP bars per (symbol, bar start) from raw ticks, sorted by symbol, ts."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown bar interval {interval!r}; expected one of {sorted(INTERVALS)}")
    if ticks.empty:
        return empty_bars()
    step_ns = INTERVALS[interval].value
    codes, symbols = pd.factorize(np.asarray(ticks["symbol"]), sort=True)
    tick_ns = epoch_ns(ticks["ts"])
    bar_ns = tick_ns - tick_ns % step_ns  # floor to the bar start (floor-mod: also right before 1970)
    price = np.asarray(ticks["price"], dtype=np.float64)
    size = np.asarray(ticks["size"], dtype=np.float64)
    # Ticks with equal timestamps keep their arrival (input) order, so open and close are well defined.
    order = np.lexsort((np.arange(len(price)), tick_ns, bar_ns, codes))
    codes, bar_ns, tick_ns, price, size = codes[order], bar_ns[order], tick_ns[order], price[order], size[order]
    starts, ends = group_bounds(codes, bar_ns)
    trades = ends - starts
    volume = np.add.reduceat(size, starts)
    mean_price = np.add.reduceat(price, starts) / trades
    return _bars_frame(
        symbols=np.asarray(symbols)[codes[starts]],
        ts_ns=bar_ns[starts],
        open_=price[starts],
        high=np.maximum.reduceat(price, starts),
        low=np.minimum.reduceat(price, starts),
        close=price[ends - 1],
        volume=volume,
        vwap=_vwap(np.add.reduceat(price * size, starts), volume, mean_price),
        trades=trades,
        last_ns=np.maximum.reduceat(tick_ns, starts),
    )


def merge_bars(older: pd.DataFrame, newer: pd.DataFrame) -> pd.DataFrame:
    """Combine partial bars of the same (symbol, ts); `newer` holds ticks that arrived after `older`'s."""
    parts = [part for part in (older, newer) if not part.empty]
    if not parts:
        return empty_bars()
    stacked = pd.concat([part[BAR_COLUMNS] for part in parts], ignore_index=True)
    # `arrival` orders the two sides inside a bar so that the open is older's and the close is newer's.
    arrival = np.concatenate([np.full(len(part), rank) for rank, part in enumerate(parts)])
    codes, symbols = pd.factorize(np.asarray(stacked["symbol"]), sort=True)
    ts_ns = epoch_ns(stacked["ts"])
    order = np.lexsort((np.arange(len(arrival)), arrival, ts_ns, codes))
    codes, ts_ns = codes[order], ts_ns[order]
    column = {
        name: np.asarray(stacked[name], dtype=np.float64)[order]
        for name in ("open", "high", "low", "close", "volume", "vwap")
    }
    bar_trades = np.asarray(stacked["trades"], dtype=np.int64)[order]
    starts, ends = group_bounds(codes, ts_ns)
    volume = np.add.reduceat(column["volume"], starts)
    trades = np.add.reduceat(bar_trades, starts)
    # With zero volume a side's vwap is its mean tick price: weight it by its tick count to keep that exact.
    price_sum = np.add.reduceat(column["vwap"] * bar_trades, starts)
    mean_price = np.divide(price_sum, trades, out=np.full(len(starts), np.nan), where=trades > 0)
    return _bars_frame(
        symbols=np.asarray(symbols)[codes[starts]],
        ts_ns=ts_ns[starts],
        open_=column["open"][starts],
        high=np.maximum.reduceat(column["high"], starts),
        low=np.minimum.reduceat(column["low"], starts),
        close=column["close"][ends - 1],
        volume=volume,
        vwap=_vwap(np.add.reduceat(column["vwap"] * column["volume"], starts), volume, mean_price),
        trades=trades,
        last_ns=np.maximum.reduceat(epoch_ns(stacked["last_ts"])[order], starts),
    )


def epoch_ns(ts: pd.Series) -> npt.NDArray[np.int64]:
    """Timestamps as int64 nanoseconds since the epoch (naive input is taken to be UTC)."""
    return np.asarray(as_utc_ns(ts).astype("int64"), dtype=np.int64)


def group_bounds(
    codes: npt.NDArray[np.intp], keys: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) of each run of equal (code, key) in arrays sorted by them."""
    changes = np.flatnonzero((codes[1:] != codes[:-1]) | (keys[1:] != keys[:-1])) + 1
    starts = np.concatenate(([0], changes)).astype(np.intp)
    ends = np.concatenate((changes, [len(codes)])).astype(np.intp)
    return starts, ends


def _bars_frame(
    *,
    symbols: npt.NDArray[Any],
    ts_ns: npt.NDArray[np.int64],
    open_: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    vwap: npt.NDArray[np.float64],
    trades: npt.NDArray[np.int64],
    last_ns: npt.NDArray[np.int64],
) -> pd.DataFrame:
    """A bars frame in BAR_COLUMNS order with canonical dtypes (inputs already sorted by symbol, ts)."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbols, dtype="str"),
            "ts": pd.to_datetime(ts_ns, utc=True).as_unit("ns"),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "vwap": vwap,
            "trades": trades.astype(np.int64),
            "last_ts": pd.to_datetime(last_ns, utc=True).as_unit("ns"),
        }
    )


def _vwap(notional: npt.ArrayLike, volume: npt.ArrayLike, mean_price: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Volume-weighted price, falling back to the mean tick price where the bar traded zero volume."""
    volumes: npt.NDArray[np.float64] = np.asarray(volume, dtype=np.float64)
    notionals: npt.NDArray[np.float64] = np.asarray(notional, dtype=np.float64)
    has_volume = volumes != 0.0
    safe_volumes = np.where(has_volume, volumes, 1.0)  # avoids a 0/0 warning on the rows replaced below
    return np.where(has_volume, notionals / safe_volumes, np.asarray(mean_price, dtype=np.float64))
