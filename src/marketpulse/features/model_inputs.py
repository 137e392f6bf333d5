"""Scale-free model inputs from indicator rows: the one definition training and live scoring share.

Prices differ by 20x across symbols (FB ~27, GOOG ~700), so every input is a ratio or a bounded score:
one model serves every symbol, and a symbol it never saw gets sensible inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.features.indicators import latest_indicators

MODEL_INPUT_COLUMNS: list[str] = [
    "ret_1",
    "log_ret_1",
    "macd_rel",  # MACD / close
    "macd_signal_rel",
    "macd_hist_rel",
    "rsi_centered",  # (RSI - 50) / 50, in [-1, 1]
    "bb_pctb_centered",  # %b - 0.5: 0 at the middle band
    "bb_width_rel",  # (upper - lower) / mid
    "volatility_20",
    "ema_gap",  # EMA12 / EMA26 - 1
    "close_vs_mid",  # close / middle band - 1
]


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """MODEL_INPUT_COLUMNS from an `indicators` frame (same index); NaN where an indicator is still warming up."""
    close = frame["close"].astype("float64")
    out = pd.DataFrame(index=frame.index)
    out["ret_1"] = frame["ret_1"]
    out["log_ret_1"] = frame["log_ret_1"]
    out["macd_rel"] = frame["macd"] / close
    out["macd_signal_rel"] = frame["macd_signal"] / close
    out["macd_hist_rel"] = frame["macd_hist"] / close
    out["rsi_centered"] = (frame["rsi_14"] - 50.0) / 50.0
    out["bb_pctb_centered"] = frame["bb_pctb"] - 0.5
    out["bb_width_rel"] = (frame["bb_upper"] - frame["bb_lower"]) / frame["bb_mid"]
    out["volatility_20"] = frame["volatility_20"]
    out["ema_gap"] = frame["ema_12"] / frame["ema_26"] - 1.0
    out["close_vs_mid"] = close / frame["bb_mid"] - 1.0
    return out.replace([np.inf, -np.inf], np.nan).astype("float64")


def complete_rows(inputs: pd.DataFrame) -> pd.Series:
    """Rows whose every input is defined (a model scores only those)."""
    return inputs.notna().all(axis=1)


#: Bars of indicator rows before a batch's new bars that the stream hands to the scorer, so a sequence model sees
#: the same window at serving time as in training. A sequence model may read at most this + 1 bars.
SEQUENCE_CONTEXT_BARS = 31


def indicators_with_context(
    tail_bars: pd.DataFrame, new_bars: pd.DataFrame, context: int = SEQUENCE_CONTEXT_BARS
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """`latest_indicators` plus the indicator rows of the `context` bars before the first new bar:
    (rows of new_bars, context rows, new tail). One indicator computation over the same history."""
    parts = [part for part in (tail_bars, new_bars) if not part.empty]
    if not parts:
        rows, tail = latest_indicators(tail_bars, new_bars)
        return rows, rows.iloc[:0], tail
    # The same history latest_indicators builds (a re-sent bar replaces the kept one), split `context` bars earlier.
    history = pd.concat(parts, ignore_index=True).drop_duplicates(subset="ts", keep="last")
    history = history.sort_values("ts", kind="stable").reset_index(drop=True)
    is_new = history["ts"].isin(new_bars["ts"]).to_numpy()
    first_new = int(np.argmax(is_new)) if is_new.any() else len(history)
    split = max(0, first_new - context)
    rows, tail = latest_indicators(history.iloc[:split], history.iloc[split:])
    new_mask = rows["ts"].isin(new_bars["ts"])
    return rows[new_mask].reset_index(drop=True), rows[~new_mask].reset_index(drop=True), tail
