"""Feature engineering shared by the stream, backfill and training: bars from ticks, and indicators over bars."""

from marketpulse.features.bars import BAR_COLUMNS, INTERVALS, merge_bars, ticks_to_bars
from marketpulse.features.indicators import (
    INDICATOR_COLUMNS,
    TAIL_WINDOW,
    WARMUP_BARS,
    indicators,
    latest_indicators,
)

__all__ = [
    "BAR_COLUMNS",
    "INDICATOR_COLUMNS",
    "INTERVALS",
    "TAIL_WINDOW",
    "WARMUP_BARS",
    "indicators",
    "latest_indicators",
    "merge_bars",
    "ticks_to_bars",
]
