"""Sentiment window math, written once: the sentiment job, the market job's fusion and training call these.

A text is *known* at `known_at = max(published_at, ingested_at)`. Windows tumble on known_at: the window
ending at E holds the texts known in [E - length, E), so every text in it was published and ingested
before E, and a bar whose prediction is made at or after E may use it (`point_in_time_join`).

Per window and symbol: count, mean polarity (p_bullish - p_bearish, in [-1, 1]), dispersion (population
standard deviation of polarity; 0 for one text), buzz (count over the mean count of the `baseline`
windows before it, empty windows counting 0; NaN when those windows hold no text), and the mean and
count per source (x, reddit, news).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.contracts.columns import WINDOW_COLUMNS as WINDOW_COLUMNS
from marketpulse.contracts.text import TEXT_SOURCES

#: Columns the market job adds to its indicator frame (and training to its rows), in this order.
SENTIMENT_FEATURE_COLUMNS: tuple[str, ...] = (
    "sent_mean",
    "sent_dispersion",
    "sent_count",
    "sent_buzz",
    *(f"sent_mean_{source}" for source in TEXT_SOURCES),
)

#: Window columns (besides symbol, window_start, window_end) and the feature each becomes.
_WINDOW_TO_FEATURE = {
    "mean": "sent_mean",
    "dispersion": "sent_dispersion",
    "count": "sent_count",
    "buzz": "sent_buzz",
    **{f"mean_{source}": f"sent_mean_{source}" for source in TEXT_SOURCES},
}


#: Item columns the window math needs.
ITEM_COLUMNS: tuple[str, ...] = ("symbol", "source", "polarity", "published_at", "ingested_at")


def known_at(items: pd.DataFrame) -> pd.Series:
    """When each text could first be known: the later of its publish and ingest times."""
    return items[["published_at", "ingested_at"]].max(axis=1)


def window_ends(moments: pd.Series, length: pd.Timedelta) -> pd.Series:
    """The end of the tumbling window holding each moment (a moment exactly on a boundary starts a window)."""
    return moments.dt.floor(length) + length


def sentiment_windows(items: pd.DataFrame, length: pd.Timedelta, baseline: int) -> pd.DataFrame:
    """Per-(symbol, window) sentiment of items (see ITEM_COLUMNS), sorted by symbol then window_end.

    Buzz is computed from the same frame, so pass `baseline` windows of history before the windows you need.
    """
    if baseline < 1:
        raise ValueError(f"baseline must be at least one window, got {baseline}")
    missing = [column for column in ITEM_COLUMNS if column not in items]
    if missing:
        raise ValueError(f"sentiment items lack columns {', '.join(missing)}")
    if items.empty:
        return pd.DataFrame({column: [] for column in WINDOW_COLUMNS})
    frame = items.assign(window_end=window_ends(known_at(items), length))
    grouped = frame.groupby(["symbol", "window_end"], sort=True)
    windows = grouped.agg(
        count=("polarity", "size"),
        mean=("polarity", "mean"),
        dispersion=("polarity", lambda values: float(np.std(values.to_numpy(), ddof=0))),
        last_published_at=("published_at", "max"),
        last_ingested_at=("ingested_at", "max"),
    )
    by_source = frame.pivot_table(
        index=["symbol", "window_end"], columns="source", values="polarity", aggfunc=["mean", "size"]
    )
    for source in TEXT_SOURCES:
        windows[f"mean_{source}"] = by_source["mean"][source] if ("mean", source) in by_source else np.nan
        counts = by_source["size"][source] if ("size", source) in by_source else 0
        windows[f"count_{source}"] = pd.Series(counts, index=windows.index).fillna(0).astype("int64")
    windows = windows.reset_index()
    windows["window_start"] = windows["window_end"] - length
    windows["buzz"] = _buzz(windows, length, baseline)
    return windows[list(WINDOW_COLUMNS)].reset_index(drop=True)


def _buzz(windows: pd.DataFrame, length: pd.Timedelta, baseline: int) -> pd.Series:
    """count / mean count of the `baseline` windows before each window (windows without text count 0).

    Slots are absolute (window_end // length), so the result depends only on the texts, not on where a frame
    starts: the stream (which reads `baseline` windows of history from Cassandra) and training (which has all
    of it) compute the same buzz. NaN when the windows before hold no text at all.
    """
    out = pd.Series(np.nan, index=windows.index, dtype="float64")
    for _, group in windows.groupby("symbol", sort=False):
        slots = (group["window_end"].astype("int64") // length.value).to_numpy(dtype="int64")
        origin = int(slots.min()) - baseline
        counts = np.zeros(int(slots.max()) - origin + 1, dtype="float64")
        counts[slots - origin] = group["count"].to_numpy(dtype="float64")
        # cumulative sums turn every "sum of the previous `baseline` slots" into one subtraction
        cumulative = np.concatenate([[0.0], np.cumsum(counts)])
        position = slots - origin
        mean_before = (cumulative[position] - cumulative[position - baseline]) / baseline
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(mean_before > 0, group["count"].to_numpy() / mean_before, np.nan)
        out.loc[group.index] = ratio
    return out


def window_features(windows: pd.DataFrame) -> pd.DataFrame:
    """Windows -> symbol, window_end and SENTIMENT_FEATURE_COLUMNS (the model-facing names)."""
    renamed = windows.rename(columns=_WINDOW_TO_FEATURE)
    return renamed[["symbol", "window_end", *SENTIMENT_FEATURE_COLUMNS]]


def point_in_time_join(
    rows: pd.DataFrame,
    windows: pd.DataFrame,
    *,
    cutoff: str,
    max_age: pd.Timedelta,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """rows + SENTIMENT_FEATURE_COLUMNS + sentiment_window_end (+ `extra` window columns) from, per row, the
    newest window of its symbol with window_end <= row[cutoff] and not older than max_age; NaN/NaT if none.

    `window_end <= cutoff` is the whole point-in-time rule: every text in such a window was published and
    ingested before window_end (see the module doc), hence before the cutoff.
    """
    out = rows.copy()
    out["_order"] = np.arange(len(out))
    columns = ["symbol", "window_end", *SENTIMENT_FEATURE_COLUMNS, *extra]
    if windows.empty or out.empty:
        for column in [*SENTIMENT_FEATURE_COLUMNS, *extra]:
            out[column] = np.nan
        out["sentiment_window_end"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
        return out.drop(columns="_order")
    features = window_features(windows)
    for column in extra:
        features[column] = windows[column].to_numpy()
    features = features[columns].rename(columns={"window_end": "sentiment_window_end"})
    features["sentiment_window_end"] = pd.to_datetime(features["sentiment_window_end"], utc=True).dt.as_unit("ns")
    left = out.assign(_cutoff=pd.to_datetime(out[cutoff], utc=True).dt.as_unit("ns")).sort_values("_cutoff")
    joined = pd.merge_asof(
        left,
        features.sort_values("sentiment_window_end"),
        left_on="_cutoff",
        right_on="sentiment_window_end",
        by="symbol",
        direction="backward",
        allow_exact_matches=True,
    )
    stale = (joined["_cutoff"] - joined["sentiment_window_end"]) > max_age
    joined.loc[stale, [*SENTIMENT_FEATURE_COLUMNS, *extra]] = np.nan
    joined.loc[stale, "sentiment_window_end"] = pd.NaT
    return joined.sort_values("_order").drop(columns=["_order", "_cutoff"]).reset_index(drop=True)


#: Column of a bar row compared with window_end: the bar's start (its feature time). Text known during the bar
#: is left to the next bar, so a bar's prediction never sees anything after the bar began.
BAR_CUTOFF = "ts"


def bar_sentiment_features(
    bars: pd.DataFrame, items: pd.DataFrame, *, length: pd.Timedelta, baseline: int, max_age: pd.Timedelta
) -> pd.DataFrame:
    """Training rows: bars (symbol, ts, ...) + SENTIMENT_FEATURE_COLUMNS + sentiment_window_end, joined exactly as
    the market job fuses them live (same windows, same point-in-time rule)."""
    windows = sentiment_windows(items[list(ITEM_COLUMNS)], length, baseline)
    return point_in_time_join(bars, windows, cutoff=BAR_CUTOFF, max_age=max_age)
