"""Point-in-time fusion of sentiment into the market job's indicator rows, before they are scored.

For a bar starting at ts, the row gets the SENTIMENT_FEATURE_COLUMNS of its symbol's newest sentiment window
with window_end <= ts (and no older than `sentiment.max_age`). A window holds only texts published *and*
ingested before its end, so no text published or ingested after the bar began can reach the bar's
prediction. The lookup is by window end in Redis (a sorted set per symbol), not "the latest window now": a
replay runs in historic time while the sentiment job may already have written windows of later hours.
Predictions then carry which window and which sentiment model version they used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import Settings
from marketpulse.features.sentiment import BAR_CUTOFF, SENTIMENT_FEATURE_COLUMNS, point_in_time_join
from marketpulse.stores.redis_store import OutageRetry, redis_client
from marketpulse.stores.sentiment import windows_from_redis

#: Column of an indicator row compared with window_end (defined once, in features: training uses it too).
CUTOFF_COLUMN = BAR_CUTOFF
USED_COLUMNS = ("sentiment_window_end", "sentiment_model_version")


class SentimentLookup:
    """Reads the candidate windows of a batch from Redis in one pipeline and joins them point in time."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.max_age = pd.Timedelta(settings.sentiment.max_age)
        self.client = client if client is not None else redis_client(settings)
        self.retry = OutageRetry("sentiment lookup")  # a Redis outage stalls the batch instead of failing it

    def fuse(self, indicators: pd.DataFrame) -> pd.DataFrame:
        """indicators + SENTIMENT_FEATURE_COLUMNS + sentiment_window_end + sentiment_model_version (NaN: none)."""
        if indicators.empty:
            return with_empty_sentiment(indicators)
        cutoffs = pd.to_datetime(indicators[CUTOFF_COLUMN], utc=True)
        symbols = sorted(set(indicators["symbol"]))
        since, until = (cutoffs.min() - self.max_age).to_pydatetime(), cutoffs.max().to_pydatetime()
        windows = self.retry.call(lambda: windows_from_redis(self.client, symbols, since, until))
        fused = point_in_time_join(
            indicators, windows, cutoff=CUTOFF_COLUMN, max_age=self.max_age, extra=("model_version",)
        )
        return fused.rename(columns={"model_version": "sentiment_model_version"})

    def close(self) -> None:
        self.client.close()


def with_empty_sentiment(indicators: pd.DataFrame) -> pd.DataFrame:
    """The frame with every sentiment column present and empty."""
    out = indicators.copy()
    for column in SENTIMENT_FEATURE_COLUMNS:
        out[column] = np.nan
    out["sentiment_window_end"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    out["sentiment_model_version"] = pd.Series(None, index=out.index, dtype="object")
    return out


def attach_sentiment_used(predictions: pd.DataFrame, fused: pd.DataFrame) -> pd.DataFrame:
    """predictions + the sentiment window end and model version of the indicator row each was made from."""
    if predictions.empty or "sentiment_window_end" not in fused:
        return predictions
    used = fused[["symbol", CUTOFF_COLUMN, *USED_COLUMNS]].rename(columns={CUTOFF_COLUMN: "feature_ts"})
    used["feature_ts"] = pd.to_datetime(used["feature_ts"], utc=True)
    keys = predictions.drop(columns=[c for c in USED_COLUMNS if c in predictions])
    keys["feature_ts"] = pd.to_datetime(keys["feature_ts"], utc=True)
    return keys.merge(used.drop_duplicates(["symbol", "feature_ts"]), on=["symbol", "feature_ts"], how="left")
