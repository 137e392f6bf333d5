"""Pure parsing of the Redis latest-state hash (flat `kind.field` strings) into the API's nested shape."""

from __future__ import annotations

import math

from marketpulse.api.schemas import LatestState, LatestValue, SymbolSummary

#: Hash prefix -> LatestState section.
SECTIONS = {
    "tick": "tick",
    "bar_1s": "bar_1s",
    "bar_1m": "bar_1m",
    "ind": "indicators",
    "pred": "prediction",
    "sent": "sentiment",
}

#: Fields read for the symbol list: price candidates, newest-kind first, each with its timestamp field.
PRICE_FIELDS = (("tick.price", "tick.ts"), ("bar_1s.close", "bar_1s.ts"), ("bar_1m.close", "bar_1m.ts"))


def parse_value(name: str, raw: str) -> LatestValue | None:
    """Timestamps stay ISO strings, numbers become floats (non-finite ones are dropped), other text stays text."""
    if name == "ts" or name.endswith("_ts"):
        return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    return number if math.isfinite(number) else None


def parse_latest(symbol: str, fields: dict[str, str]) -> LatestState:
    sections: dict[str, dict[str, LatestValue]] = {}
    for key, raw in sorted(fields.items()):
        prefix, dot, name = key.partition(".")
        section = SECTIONS.get(prefix) if dot else None
        value = parse_value(name if section else key, raw)
        if value is not None:
            sections.setdefault(section or "other", {})[name if section else key] = value
    return LatestState.model_validate({"symbol": symbol, **sections})


def summarize(symbol: str, values: list[str | None]) -> SymbolSummary:
    """values: the hash fields named in PRICE_FIELDS, flattened in order (price, ts, price, ts, ...)."""
    for price_raw, ts in zip(values[::2], values[1::2], strict=True):
        price = parse_value("price", price_raw) if price_raw is not None else None
        if isinstance(price, float):
            return SymbolSummary(symbol=symbol, price=price, ts=ts)
    return SymbolSummary(symbol=symbol, price=None, ts=None)


def summary_field_names() -> list[str]:
    return [name for pair in PRICE_FIELDS for name in pair]
