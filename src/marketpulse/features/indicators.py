"""Technical indicators over bars, written once for the stream, backfill and training.

Conventions follow the `ta` package defaults (checked against it in the tests): EMAs are pandas
``ewm(span=n, adjust=False, min_periods=n)``, RSI is Wilder smoothing ``ewm(alpha=1/n, adjust=False)``,
Bollinger bands use the population standard deviation (ddof=0). Values are NaN until a column is warm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.contracts.columns import INDICATOR_COLUMNS as INDICATOR_COLUMNS
from marketpulse.features.bars import empty_bars

EMA_FAST = 12
EMA_SLOW = 26
MACD_SIGNAL = 9
RSI_WINDOW = 14
BB_WINDOW = 20
BB_STDS = 2.0
VOLATILITY_WINDOW = 20


# Bars needed before every column is non-NaN (on non-degenerate prices), i.e. the slowest column's warm-up.
WARMUP_BARS: int = max(
    2,  # ret_1 / log_ret_1: one previous close
    EMA_SLOW,  # ema_26 and macd
    EMA_SLOW + MACD_SIGNAL - 1,  # macd_signal: 9 MACD values, the first of which exists at bar 26 → 34
    RSI_WINDOW,  # like ta, the first bar counts as a zero change, so RSI is defined from bar 14 (not 15)
    BB_WINDOW,
    VOLATILITY_WINDOW + 1,  # 20 log returns need 21 closes
)

#: Closes of one symbol (Series) or of several symbols side by side (DataFrame, one column each).
Closes = Any

# Smoothing factors of the recursive (infinite-memory) indicators; everything else uses a finite window.
RECURSIVE_ALPHAS: dict[str, float] = {
    "ema_12": 2.0 / (EMA_FAST + 1),
    "ema_26": 2.0 / (EMA_SLOW + 1),
    "macd_signal": 2.0 / (MACD_SIGNAL + 1),
    "rsi_14": 1.0 / RSI_WINDOW,  # Wilder smoothing: slowest of all, alpha = 1/14
}

# Trailing bars a stream keeps per symbol. Finite windows (<= 21 bars) are exact with this tail; a recursive
# smoother restarted k bars back differs from the full-history one by (1 - alpha)^k times the gap between its
# start values, and the slowest (Wilder, alpha = 1/14) gives (13/14)^256 ≈ 5.8e-9 (EMA-26: (25/27)^256 ≈ 2.8e-9).
# That keeps the relative error below 1e-6 unless the start gap is > ~170x the indicator's value: 256 is enough.
TAIL_WINDOW = 256


def truncation_error_bound(kept_bars: int) -> float:
    """Largest weight (1 - alpha)^k the dropped history keeps in any recursive indicator after k kept bars."""
    return max((1.0 - alpha) ** kept_bars for alpha in RECURSIVE_ALPHAS.values())


def indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """Indicators per symbol: `symbol`, `ts`, `close` plus INDICATOR_COLUMNS, sorted by symbol, ts."""
    ordered = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    base = ordered[["symbol", "ts", "close"]].astype({"close": "float64"})
    if ordered.empty:
        empty = pd.DataFrame({name: pd.Series([], dtype="float64") for name in INDICATOR_COLUMNS})
        return pd.concat([base, empty], axis=1)
    per_symbol = [_symbol_indicators(group["close"]) for _, group in base.groupby("symbol", sort=False)]
    return pd.concat([base, pd.concat(per_symbol).sort_index()], axis=1)


def latest_indicators(tail_bars: pd.DataFrame, new_bars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For one symbol: (indicator rows of `new_bars`, new tail = last TAIL_WINDOW bars of tail + new)."""
    history = _append_bars(tail_bars, new_bars)
    if history["symbol"].nunique() > 1:
        raise ValueError(f"latest_indicators takes one symbol, got {sorted(history['symbol'].unique())}")
    features = indicators(history)
    new_ts = new_bars["ts"] if "ts" in new_bars.columns else features["ts"].iloc[:0]
    is_new = features["ts"].isin(new_ts)
    new_tail = history.iloc[-TAIL_WINDOW:].reset_index(drop=True)
    return features[is_new].reset_index(drop=True), new_tail


def _append_bars(tail_bars: pd.DataFrame, new_bars: pd.DataFrame) -> pd.DataFrame:
    """Tail followed by new bars, ordered by ts; a re-sent bar (same ts) replaces the kept one."""
    parts = [part for part in (tail_bars, new_bars) if not part.empty]
    if not parts:  # nothing yet: keep the caller's (empty) columns, or the canonical ones for a bare DataFrame()
        return next((part for part in (new_bars, tail_bars) if len(part.columns)), empty_bars())
    history = pd.concat(parts, ignore_index=True)
    history = history.drop_duplicates(subset="ts", keep="last")
    return history.sort_values("ts", kind="stable").reset_index(drop=True)


def _symbol_indicators(close: pd.Series) -> pd.DataFrame:
    """All INDICATOR_COLUMNS for one symbol's closes, already in time order (index is kept)."""
    return pd.DataFrame(indicator_columns(close), index=close.index).astype("float64")


def indicator_columns(close: Closes) -> dict[str, Closes]:
    """INDICATOR_COLUMNS from closes in time order: a Series (one symbol) or a DataFrame with one column per
    symbol, all of the same length (the stream computes every symbol whose minute closed at once). Every
    operation works column by column, so each column equals the one-symbol result."""
    previous = close.shift(1)
    ema_fast = _ema(close, EMA_FAST)
    ema_slow = _ema(close, EMA_SLOW)
    macd = ema_fast - ema_slow
    macd_signal = _ema(macd, MACD_SIGNAL)  # leading NaNs of macd are skipped, so it is warm at bar 26 + 9 - 1
    log_ret = np.log(close / previous)
    bb_mid, bb_upper, bb_lower, bb_pctb = _bollinger(close)
    return {
        "ret_1": close / previous - 1.0,
        "log_ret_1": log_ret,
        "ema_12": ema_fast,
        "ema_26": ema_slow,
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd - macd_signal,
        "rsi_14": _rsi(close),
        "bb_mid": bb_mid,
        "bb_upper": bb_upper,
        "bb_lower": bb_lower,
        "bb_pctb": bb_pctb,
        # Per-bar standard deviation of log returns (sample, ddof=1); not annualised, since bar length varies.
        "volatility_20": log_ret.rolling(VOLATILITY_WINDOW, min_periods=VOLATILITY_WINDOW).std(ddof=1),
    }


def _ema(values: Closes, span: int) -> Closes:
    """Recursive EMA seeded with the first value (adjust=False), NaN for the first `span` values, as in ta."""
    return values.ewm(span=span, adjust=False, min_periods=span).mean()


def _rsi(close: Closes) -> Closes:
    """Wilder RSI in [0, 100], as ta computes it (100 when there were no losses)."""
    change = close.diff()
    # Like ta, the undefined first change counts as 0 (a gain and a loss of 0) and seeds the averages.
    gain = change.clip(lower=0.0).fillna(0.0)
    loss = (-change).clip(lower=0.0).fillna(0.0)
    average_gain = gain.ewm(alpha=1.0 / RSI_WINDOW, adjust=False, min_periods=RSI_WINDOW).mean()
    average_loss = loss.ewm(alpha=1.0 / RSI_WINDOW, adjust=False, min_periods=RSI_WINDOW).mean()
    rsi = 100.0 - 100.0 / (1.0 + average_gain / average_loss)
    return rsi.mask(average_loss == 0.0, 100.0)


def _bollinger(close: Closes) -> tuple[Closes, Closes, Closes, Closes]:
    """Bollinger mid, upper, lower (20 bars, 2 population std like ta) and %b (NaN when the bands touch)."""
    window = close.rolling(BB_WINDOW, min_periods=BB_WINDOW)
    mid = window.mean()
    spread = BB_STDS * window.std(ddof=0)
    upper = mid + spread
    lower = mid - spread
    width = (upper - lower).where(upper != lower)
    return mid, upper, lower, (close - lower) / width
