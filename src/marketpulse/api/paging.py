"""Pure helpers of the time-series endpoints: time windows, opaque cursors and day partitions.

A page is `start <= ts < upper`, newest first, where upper is `end` on the first page and the cursor's
timestamp afterwards. Time-series tables are partitioned by UTC day, so a page walks day partitions
from the day of `upper` back to the day of `start`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from marketpulse.api.errors import InvalidRequestError

DEFAULT_SPAN = timedelta(days=1)
DEFAULT_LIMIT = 500
MAX_LIMIT = 5000

#: Longest start..end range one request may ask for, by bar interval (bounds the partitions a page may visit).
MAX_SPAN = {"1s": timedelta(days=31), "1min": timedelta(days=366)}
PREDICTIONS_MAX_SPAN = timedelta(days=366)

_CURSOR_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TS_MS = 253_402_300_800_000  # 10000-01-01: beyond it datetime overflows


def to_utc(value: datetime) -> datetime:
    """Aware datetime -> UTC; a naive one is taken to be UTC already. Truncated to milliseconds (Cassandra's)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def to_epoch_ms(value: datetime) -> int:
    delta = to_utc(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value)


@dataclass(frozen=True)
class Window:
    """The validated `start <= ts < end` range of a request, both aware UTC."""

    start: datetime
    end: datetime


def resolve_window(start: datetime | None, end: datetime | None, *, now: datetime, max_span: timedelta) -> Window:
    """Fill defaults (end = now, start = end - 1 day), normalise to UTC and check start < end and the span."""
    resolved_end = to_utc(end) if end is not None else to_utc(now)
    resolved_start = to_utc(start) if start is not None else resolved_end - DEFAULT_SPAN
    if resolved_start >= resolved_end:
        raise InvalidRequestError(
            f"start ({resolved_start.isoformat()}) must be before end ({resolved_end.isoformat()})"
        )
    if resolved_end - resolved_start > max_span:
        raise InvalidRequestError(
            f"range {resolved_start.isoformat()} .. {resolved_end.isoformat()} is longer than the "
            f"{max_span.days} days allowed here; narrow start/end and page through it"
        )
    return Window(resolved_start, resolved_end)


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: its timestamp, plus the rest of its clustering key if any."""

    ts_ms: int
    keys: tuple[str, ...] = ()

    @property
    def ts(self) -> datetime:
        return from_epoch_ms(self.ts_ms)


def encode_cursor(cursor: Cursor) -> str:
    """Opaque, URL-safe token; clients pass it back unchanged."""
    payload = {"v": _CURSOR_VERSION, "ts": cursor.ts_ms, "k": list(cursor.keys)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, *, key_count: int = 0) -> Cursor:
    """Parse a token from `encode_cursor`; anything else is a 422 telling the client what to send."""
    invalid = InvalidRequestError("cursor is not valid: pass next_cursor from the previous page unchanged")
    if not token or len(token) > 512:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise invalid from exc
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise invalid
    ts, keys = payload.get("ts"), payload.get("k")
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < _MAX_TS_MS or not isinstance(keys, list):
        raise invalid
    if len(keys) != key_count or not all(isinstance(key, str) for key in keys):
        raise invalid
    return Cursor(ts, tuple(keys))


@dataclass(frozen=True)
class PageRequest:
    """One page of a time series: the range, the page size, where the previous page stopped, and the bar
    interval for tables partitioned by it."""

    window: Window
    limit: int
    cursor: Cursor | None = None
    interval: str | None = None


def day_partitions(start: datetime, upper: datetime) -> Iterator[date]:
    """UTC days that may hold rows with start <= ts < upper, newest first (none if upper <= start)."""
    if upper <= start:
        return
    day, first = (to_utc(upper) - timedelta(milliseconds=1)).date(), to_utc(start).date()
    while day >= first:
        yield day
        day -= timedelta(days=1)
