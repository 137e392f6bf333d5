"""Column names of the feature tables (indicators, sentiment windows), defined here rather than in
`marketpulse.features`: the API and the stores' schemas need the names, not the math, and importing the features
package imports pandas (~120 MiB resident in each such process)."""

from __future__ import annotations

from marketpulse.contracts.market import IndicatorRow
from marketpulse.contracts.text import TEXT_SOURCES

#: The indicator columns of a snapshot (the optional fields of the contract), in its order.
INDICATOR_COLUMNS: list[str] = [name for name, field in IndicatorRow.model_fields.items() if not field.is_required()]

#: Columns of a sentiment window row (features.sentiment builds them), in this order.
WINDOW_COLUMNS: tuple[str, ...] = (
    "symbol",
    "window_start",
    "window_end",
    "count",
    "mean",
    "dispersion",
    "buzz",
    *(column for source in TEXT_SOURCES for column in (f"mean_{source}", f"count_{source}")),
    "last_published_at",
    "last_ingested_at",
)

#: Columns of a stored sentiment item (Cassandra sentiment_items, the API's item rows), in this order.
STORED_ITEM_COLUMNS: tuple[str, ...] = (
    "symbol",
    "day",
    "known_at",
    "item_id",
    "source",
    "author",
    "url",
    "text",
    "published_at",
    "ingested_at",
    "p_bearish",
    "p_neutral",
    "p_bullish",
    "polarity",
    "model_version",
    "replayed",
)
