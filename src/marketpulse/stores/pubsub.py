"""The Redis pub/sub wire of the live path: channel names and patterns, and how a published latest-state update
splits into WebSocket channels. The API's WebSocket hub and the alert engine both read it."""

from __future__ import annotations

from typing import Any

from marketpulse.stores.redis_store import SECTIONS, parse_value

LIVE_PATTERN = "mp:live:*"
_ALERTS_PREFIX = "mp:alerts:"
ALERTS_PATTERN = f"{_ALERTS_PREFIX}*"

#: latest-state section -> (WebSocket channel, extra fields that tell same-channel sections apart).
_SECTION_CHANNELS: dict[str, tuple[str, dict[str, str]]] = {
    "tick": ("ticks", {}),
    "bar_1s": ("bars", {"interval": "1s"}),
    "bar_1m": ("bars", {"interval": "1min"}),
    "indicators": ("indicators", {}),
    "prediction": ("predictions", {}),
    "sentiment": ("sentiment", {}),
}


def alerts_channel(key_id: str) -> str:
    """Where the alert engine publishes the firings of one API key's rules (its WebSocket clients get them)."""
    return f"{_ALERTS_PREFIX}{key_id}"


def alerts_key_of(channel: str) -> str | None:
    """The API key whose alerts a channel carries (`alerts_channel`), or None for another channel."""
    return channel.removeprefix(_ALERTS_PREFIX) if channel.startswith(_ALERTS_PREFIX) else None


def split_update(update: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """A published latest-state update -> (channel, symbol, data) per section it carries."""
    symbol = str(update.get("symbol", ""))
    sections: dict[str, dict[str, Any]] = {}
    for key, raw in update.items():
        prefix, dot, name = key.partition(".")
        section = SECTIONS.get(prefix) if dot else None
        if section is None or section not in _SECTION_CHANNELS:
            continue
        value = parse_value(name, str(raw)) if isinstance(raw, str) else raw
        sections.setdefault(section, {})[name] = value
    out = []
    for section, data in sections.items():
        channel, extra = _SECTION_CHANNELS[section]
        out.append((channel, symbol, {**extra, **data}))
    return out
