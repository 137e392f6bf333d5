"""Tabular inputs of the gradient-boosted model: the newest bar's scale-free inputs plus what one symbol's price
path does not hold (volume, time of day, the cross-section of symbols, sentiment).

One function, `tabular_features`, serves training (over the whole history) and the stream (over a batch's new
bars plus their context rows), so both see the same definitions. Everything is computed per row from the rows at
or before it; rolling sums reset at symbol boundaries. A column whose source is absent (no `volume`, no sentiment
columns) is NaN: the trees learn a default direction for missing values.

Serving note: the market columns are means over the symbols present at the same bar time in the frame given. In
training every symbol's bar is there; in the stream they are when the symbols' minutes close in the same batch
(the market job scores all symbols' closed minutes together).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS, model_inputs

Array = np.ndarray[Any, Any]
EXCHANGE_TZ = "America/New_York"
VOLUME_WINDOW = 20  # bars of the volume baseline

try:  # the sentiment features the market job fuses into its indicator rows (point in time)
    from marketpulse.features.sentiment import SENTIMENT_FEATURE_COLUMNS as _SENTIMENT
except ImportError:  # pragma: no cover - only before the sentiment pipeline existed
    _SENTIMENT = ()

SENTIMENT_COLUMNS: list[str] = list(_SENTIMENT)

TABULAR_COLUMNS: list[str] = [
    *MODEL_INPUT_COLUMNS,
    "log_ret_5",  # sum of the last 5 one-bar log returns
    "log_ret_15",
    "time_of_day",  # exchange-local minutes since midnight / 1440
    "day_of_week",  # Monday 0 .. Friday 4, / 4
    "volume_rel",  # log(volume / mean volume of the last 20 bars)
    "mkt_ret_1",  # equal-weight mean of log_ret_1 over symbols at the same bar time
    "mkt_ret_5",
    "rel_ret_5",  # own 5-bar return minus the market's
    "breadth",  # share of symbols whose last bar closed up, minus 0.5
    *SENTIMENT_COLUMNS,
]


def rolling_sum(values: Array, codes: Array, n: int) -> Array:
    """Per row, the sum of the last n values of the same symbol (rows sorted by symbol, then time); NaN when
    fewer than n defined values of that symbol end at the row. Each sum adds exactly its own n values (a window
    view, not differences of a running total), so a row's value never depends on any other row's."""
    if len(values) == 0:
        return np.zeros(0)
    padded = np.concatenate((np.full(n - 1, np.nan), values.astype(np.float64)))
    sums = np.lib.stride_tricks.sliding_window_view(padded, n).sum(axis=1)  # NaN if any value is missing
    start = np.arange(len(values)) - n + 1
    same_symbol = (start >= 0) & (codes[np.clip(start, 0, None)] == codes)
    return np.where(same_symbol, sums, np.nan)


def tabular_features(frame: pd.DataFrame, inputs: pd.DataFrame | None = None) -> pd.DataFrame:
    """TABULAR_COLUMNS for indicator rows (symbol, ts, close, indicators; optionally volume and sentiment columns)
    sorted by symbol then ts; same index. `inputs`: their model_inputs, when the caller has them already."""
    inputs = model_inputs(frame) if inputs is None else inputs
    codes = pd.factorize(frame["symbol"])[0]
    log_ret = inputs["log_ret_1"].to_numpy(dtype=np.float64)
    columns: dict[str, Array] = {c: inputs[c].to_numpy(dtype=np.float64) for c in MODEL_INPUT_COLUMNS}
    columns["log_ret_5"] = rolling_sum(log_ret, codes, 5)
    columns["log_ret_15"] = rolling_sum(log_ret, codes, 15)
    local = _utc(frame["ts"]).dt.tz_convert(EXCHANGE_TZ)
    columns["time_of_day"] = (local.dt.hour * 60 + local.dt.minute).to_numpy(dtype=np.float64) / 1440.0
    columns["day_of_week"] = local.dt.dayofweek.to_numpy(dtype=np.float64) / 4.0
    columns["volume_rel"] = _volume_rel(frame, codes)
    market = _market(frame["ts"], log_ret)
    columns["mkt_ret_1"] = market["mkt_ret_1"]
    columns["mkt_ret_5"] = rolling_sum(market["mkt_ret_1"], codes, 5)
    columns["rel_ret_5"] = columns["log_ret_5"] - columns["mkt_ret_5"]
    columns["breadth"] = market["breadth"]
    for column in SENTIMENT_COLUMNS:
        present = column in frame
        columns[column] = (
            pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
            if present
            else np.full(len(frame), np.nan)
        )
    values = np.column_stack([columns[c] for c in TABULAR_COLUMNS]) if len(frame) else np.zeros((0, 0))
    values = np.where(np.isinf(values), np.nan, values)
    return pd.DataFrame(values.reshape(len(frame), len(TABULAR_COLUMNS)), index=frame.index, columns=TABULAR_COLUMNS)


def _utc(ts: pd.Series) -> pd.Series:
    """Bar times as UTC datetimes; already zone-aware columns (the stream's, training's) skip the parsing."""
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return ts.dt.tz_convert("UTC")
    return pd.to_datetime(ts, utc=True)


def _volume_rel(frame: pd.DataFrame, codes: Array) -> Array:
    if "volume" not in frame:
        return np.full(len(frame), np.nan)
    volume = pd.to_numeric(frame["volume"], errors="coerce").to_numpy(dtype=np.float64)
    baseline = rolling_sum(volume, codes, VOLUME_WINDOW) / VOLUME_WINDOW
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.log(volume / baseline))


def _market(ts: pd.Series, log_ret: Array) -> dict[str, Array]:
    """Cross-sectional mean return and breadth per bar time, broadcast back to the rows."""
    keys = _utc(ts).astype("int64").to_numpy()
    table = pd.DataFrame({"t": keys, "r": log_ret, "up": np.where(np.isnan(log_ret), np.nan, log_ret > 0)})
    grouped = table.groupby("t")
    return {
        "mkt_ret_1": grouped["r"].transform("mean").to_numpy(dtype=np.float64),
        "breadth": grouped["up"].transform("mean").to_numpy(dtype=np.float64) - 0.5,
    }
