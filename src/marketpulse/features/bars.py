"""Ticks → OHLCV bars, and merging of partial bars from successive stream micro-batches.

Pure pandas, vectorised: the same code runs in the Spark stream (per micro-batch), in backfill and in training.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

TICK_COLUMNS: list[str] = ["symbol", "ts", "price", "size"]
BAR_COLUMNS: list[str] = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades", "last_ts"]
INTERVALS: dict[str, pd.Timedelta] = {"1s": pd.Timedelta(seconds=1), "1min": pd.Timedelta(minutes=1)}

_KEY = ["symbol", "ts"]
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
    step = INTERVALS[interval]
    if ticks.empty:
        return empty_bars()
    # Plain numpy/Series columns (no `.to_numpy()` on tz-aware ts: that would box every value as a Timestamp).
    tick_ts = as_utc_ns(ticks["ts"]).reset_index(drop=True)
    price = np.asarray(ticks["price"], dtype=np.float64)
    size = np.asarray(ticks["size"], dtype=np.float64)
    frame = pd.DataFrame(
        {
            "symbol": ticks["symbol"].reset_index(drop=True),
            "bar_ts": tick_ts.dt.floor(step),
            "tick_ts": tick_ts,
            "price": price,
            "size": size,
            "notional": price * size,
        }
    )
    # Stable sort: ticks with equal timestamps keep their arrival (input) order, so open/close are well defined.
    frame = frame.sort_values("tick_ts", kind="stable")
    grouped = frame.groupby(["symbol", "bar_ts"], sort=True)
    bars = grouped.agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("size", "sum"),
        notional=("notional", "sum"),
        mean_price=("price", "mean"),
        trades=("price", "size"),
        last_ts=("tick_ts", "max"),
    ).reset_index()
    bars = bars.rename(columns={"bar_ts": "ts"})
    bars["vwap"] = _vwap(bars["notional"], bars["volume"], bars["mean_price"])
    return _finish(bars)


def merge_bars(older: pd.DataFrame, newer: pd.DataFrame) -> pd.DataFrame:
    """Combine partial bars of the same (symbol, ts); `newer` holds ticks that arrived after `older`'s."""
    parts = [part for part in (older, newer) if not part.empty]
    if not parts:
        return empty_bars()
    # `arrival` orders the two sides inside a bar so that "first" is older's open and "last" is newer's close.
    stacked = pd.concat([part[BAR_COLUMNS].assign(arrival=rank) for rank, part in enumerate(parts)], ignore_index=True)
    stacked["ts"] = as_utc_ns(stacked["ts"])
    stacked["last_ts"] = as_utc_ns(stacked["last_ts"])
    stacked["notional"] = stacked["vwap"] * stacked["volume"]
    # With zero volume a side's vwap is the mean tick price: weight it by its tick count to keep that exact.
    stacked["price_sum"] = stacked["vwap"] * stacked["trades"]
    stacked = stacked.sort_values([*_KEY, "arrival"], kind="stable")
    bars = (
        stacked.groupby(_KEY, sort=True)
        .agg(
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
            notional=("notional", "sum"),
            price_sum=("price_sum", "sum"),
            trades=("trades", "sum"),
            last_ts=("last_ts", "max"),
        )
        .reset_index()
    )
    mean_price = bars["price_sum"] / bars["trades"].where(bars["trades"] > 0)
    bars["vwap"] = _vwap(bars["notional"], bars["volume"], mean_price)
    return _finish(bars)


def _vwap(notional: pd.Series, volume: pd.Series, mean_price: pd.Series) -> npt.NDArray[np.float64]:
    """Volume-weighted price, falling back to the mean tick price where the bar traded zero volume."""
    volumes: npt.NDArray[np.float64] = np.asarray(volume, dtype=np.float64)
    notionals: npt.NDArray[np.float64] = np.asarray(notional, dtype=np.float64)
    has_volume = volumes != 0.0
    safe_volumes = np.where(has_volume, volumes, 1.0)  # avoids a 0/0 warning on the rows replaced below
    return np.where(has_volume, notionals / safe_volumes, np.asarray(mean_price, dtype=np.float64))


def _finish(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars in BAR_COLUMNS order with canonical dtypes, sorted by symbol, ts, fresh index."""
    bars = bars.sort_values(_KEY, kind="stable").reset_index(drop=True)[BAR_COLUMNS]
    return bars.astype(empty_bars().dtypes.to_dict())
