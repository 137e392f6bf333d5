"""Dedup and bot filters in front of the text topics: every dropped text is counted with its reason.

Duplicates: the same source id, the same canonical URL (tracking parameters removed), or a near-duplicate
text about the same symbols (64-bit SimHash of its words within `near_duplicate_bits` of a recent text:
copy-pasted posts, "RT @x:" copies, a headline syndicated by several outlets). Bots: authors that post
faster than a human (`max_posts_per_author_hour`), names that say so (…bot, AutoModerator), and pump
lists with more cashtags than `max_cashtags`. Memory is bounded (the `dedup_memory` most recent of each).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

_TRACKING = re.compile(r"^(utm_\w+|ref|ref_src|s|t|fbclid|gclid|cmpid|mod|taid|smid)$", re.IGNORECASE)
_RETWEET = re.compile(r"^\s*RT @\w+:\s*")
_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[^\w$]+")
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Za-z]{1,6}\b")
_BOT_NAME = re.compile(r"(bot|_bot|-bot)$|^automoderator$", re.IGNORECASE)


class DropReason(StrEnum):
    """Why a text did not reach Kafka (the label of the dropped counter)."""

    DUPLICATE_ID = "duplicate_id"
    DUPLICATE_URL = "duplicate_url"
    NEAR_DUPLICATE = "near_duplicate"
    BOT = "bot"
    UNLINKED = "unlinked"
    INVALID = "invalid"
    #: The provider's item could not be read (a field missing or of the wrong type).
    MALFORMED = "malformed"


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, fragment, trailing slash or scheme/host case differences."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", parts.netloc.lower().removeprefix("www."), path, query, ""))


def normalized_words(text: str) -> list[str]:
    """Lower-case words without links, @handles or a retweet prefix: what a copy keeps."""
    text = _HANDLE.sub(" ", _URL.sub(" ", _RETWEET.sub("", text)))
    return [word for word in _NON_WORD.split(text.lower()) if word]


def simhash(text: str) -> int:
    """64-bit SimHash over the words of text.

    Words, not word pairs: tweets are short, and a copy that drops "the" or adds "and" must stay close.
    """
    words = normalized_words(text)
    if not words:
        return 0
    weights = np.zeros(64, dtype=np.int64)
    bits = np.arange(64, dtype=np.uint64)
    for word in words:
        value = np.uint64(int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big"))
        weights += np.where((value >> bits) & np.uint64(1), 1, -1)
    return int(sum(1 << int(i) for i in np.flatnonzero(weights > 0)))


def _symbols_key(symbols: Sequence[str]) -> int:
    return int.from_bytes(hashlib.blake2b(",".join(sorted(symbols)).encode(), digest_size=8).digest(), "big")


class _Recent:
    """An insertion-ordered set that forgets its oldest members beyond `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def add(self, key: str) -> None:
        self._items[key] = None
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


class _RecentHashes:
    """The last `capacity` (SimHash, symbols) pairs in a ring buffer; matches found in one vectorised pass.

    A near-duplicate must be about the same symbols: one template posted about two symbols ("$GOOG
    looking strong", "$AAPL looking strong") is two texts about two symbols, not one text twice.
    """

    def __init__(self, capacity: int) -> None:
        self._hashes = np.zeros(capacity, dtype=np.uint64)
        self._symbols = np.zeros(capacity, dtype=np.uint64)
        self._size = 0
        self._next = 0

    def near(self, value: int, symbols: int, max_bits: int) -> bool:
        if self._size == 0:
            return False
        xor = self._hashes[: self._size] ^ np.uint64(value)
        distance = np.unpackbits(xor.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        return bool(((distance <= max_bits) & (self._symbols[: self._size] == np.uint64(symbols))).any())

    def add(self, value: int, symbols: int) -> None:
        self._hashes[self._next] = np.uint64(value)
        self._symbols[self._next] = np.uint64(symbols)
        self._next = (self._next + 1) % len(self._hashes)
        self._size = min(self._size + 1, len(self._hashes))


class TextFilter:
    """Decides, in arrival order, which texts are new and human; remembers what it let through."""

    def __init__(
        self,
        *,
        memory: int = 50_000,
        near_duplicate_bits: int = 5,
        max_cashtags: int = 6,
        max_posts_per_author_hour: int = 20,
    ) -> None:
        self._ids = _Recent(memory)
        self._urls = _Recent(memory)
        self._hashes = _RecentHashes(memory)
        self._near_bits = near_duplicate_bits
        self._max_cashtags = max_cashtags
        self._max_rate = max_posts_per_author_hour
        self._by_author: dict[str, deque[datetime]] = {}

    def check(
        self, item_id: str, url: str, text: str, author: str, published_at: datetime, symbols: Sequence[str] = ()
    ) -> DropReason | None:
        """None if the text is new and human (and remember it), else why it is dropped."""
        if item_id in self._ids:
            return DropReason.DUPLICATE_ID
        self._ids.add(item_id)  # even a dropped text is not worth looking at again
        canonical = canonical_url(url)
        if canonical in self._urls:
            return DropReason.DUPLICATE_URL
        if self._is_bot(text, author, published_at):
            return DropReason.BOT
        fingerprint, about = simhash(text), _symbols_key(symbols)
        if self._hashes.near(fingerprint, about, self._near_bits):
            return DropReason.NEAR_DUPLICATE
        self._urls.add(canonical)
        self._hashes.add(fingerprint, about)
        return None

    def _is_bot(self, text: str, author: str, published_at: datetime) -> bool:
        if _BOT_NAME.search(author):
            return True
        if len(_CASHTAG.findall(text)) > self._max_cashtags:
            return True
        recent = self._by_author.setdefault(author, deque())
        recent.append(published_at)
        # Posts of this author within the hour before this one (in publish time, so a backfill judges alike).
        while recent and recent[0] < published_at - timedelta(hours=1):
            recent.popleft()
        if len(self._by_author) > 100_000:
            self._by_author.clear()  # bounded memory; a bot is caught again within the hour
        return len(recent) > self._max_rate
