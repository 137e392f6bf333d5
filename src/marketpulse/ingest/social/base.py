"""One interface for the text collectors (X, Reddit, NewsAPI) and the loop that runs any of them.

A collector's `fetch()` is one polling round: every new text since the last round, as `RawText`, already
parsed from the provider's payload. `CollectorRunner` does the rest the same way for all three: link
symbols, drop duplicates and bots (counted by reason), build the contract, hand it to the sink, and
back off when the provider says so — 429 until its reset time, 403 (our plan does not cover the
endpoint) and errors with growing delays — reporting the state as a metric and in `health()`. It never
spins: every round, failed or not, is followed by a wait.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

from pydantic import ValidationError

from marketpulse.contracts.text import NewsArticle, SocialPost, TextItem, TextSource
from marketpulse.errors import MarketPulseError
from marketpulse.ingest.providers.base import Backoff
from marketpulse.ingest.social import metrics
from marketpulse.ingest.social.filters import DropReason, TextFilter
from marketpulse.ingest.social.linking import SymbolLinker
from marketpulse.sections.text import SocialSettings

log = logging.getLogger(__name__)

#: What the runner hands every accepted text to.
TextSink = Callable[[TextItem], None]


class RateLimited(MarketPulseError):
    """The provider refused a request for quota reasons (HTTP 429 or a spent daily quota)."""

    http_status = 429

    def __init__(self, message: str, *, retry_at: float | None = None, status: int = 429) -> None:
        super().__init__(message)
        #: Wall time (epoch s) the provider says the limit resets; None if it does not say.
        self.retry_at = retry_at
        self.status = status


class AccessDenied(MarketPulseError):
    """HTTP 401/403: the credentials are wrong or the plan does not cover the endpoint; retried slowly."""

    http_status = 403

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class ProviderUnavailable(MarketPulseError):
    """A connection error, a timeout or a 5xx: retried with backoff."""

    http_status = 503


@dataclass(frozen=True, slots=True)
class RawText:
    """One text as a provider returned it, before linking and filtering."""

    id: str
    source: TextSource
    author: str
    url: str
    text: str
    published_at: datetime
    community: str | None = None
    engagement: int | None = None
    lang: str | None = None
    outlet: str | None = None
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class CollectorState(StrEnum):
    """Where a collector's loop is (one gauge series per state, 1 for the current one)."""

    IDLE = "idle"
    POLLING = "polling"
    WAITING = "waiting"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    BACKOFF = "backoff"
    STOPPED = "stopped"


class CollectorHealth(TypedDict):
    """What health() reports (JSON-friendly, served on /healthz of the collector process)."""

    collector: str
    state: str
    healthy: bool
    rounds: int
    accepted: int
    dropped: dict[str, int]
    rate_limited: int
    forbidden: int
    errors: int
    retry_at: str | None
    last_success_age_s: float | None
    last_error: str | None
    quota: dict[str, Any]


@dataclass(frozen=True)
class Malformed:
    """An item of a provider's response that is not what its API documents (a field missing or of the wrong type, a
    date that does not parse): dropped, counted and logged, never fatal to the collector's round."""

    source: str
    reason: str


#: What a collector's round yields: texts, and the items of the response it could not read.
Fetched = RawText | Malformed

#: What a malformed item raises while it is read.
_UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError)


def is_since(text: RawText, since: datetime | None) -> bool:
    """Published at or after `since` (None: the first round, everything counts)."""
    return since is None or text.published_at >= since


def parse_each(source: str, items: Any, parse_one: Callable[[Any], RawText | None]) -> list[Fetched]:
    """`parse_one` over the items of a response, each on its own: one that cannot be read becomes `Malformed` (the
    rest of the page still counts); None from `parse_one` skips an item on purpose (a removed article)."""
    if not isinstance(items, list):
        return [Malformed(source, f"expected a list of items, got {type(items).__name__}")]
    fetched: list[Fetched] = []
    for item in items:
        try:
            parsed = parse_one(item)
        except _UNREADABLE as exc:
            fetched.append(Malformed(source, f"{type(exc).__name__}: {str(exc)[:120]}"))
            continue
        if parsed is not None:
            fetched.append(parsed)
    return fetched


class TextCollector(ABC):
    """A text source polled in rounds; see the module doc."""

    name: TextSource

    @abstractmethod
    def fetch(self) -> list[Fetched]:
        """One round: every text published since the last round (raise RateLimited/AccessDenied/Unavailable)."""

    @property
    @abstractmethod
    def poll_interval_s(self) -> float:
        """Wait between successful rounds."""

    def quota(self) -> dict[str, Any]:
        """What the provider last said about our remaining quota (for health and metrics)."""
        return {}

    def close(self) -> None:
        """Release connections (a stream's reader thread); nothing by default."""


def build_item(raw: RawText, symbols: list[str], ingested_at: datetime, *, replayed: bool = False) -> TextItem:
    """The contract event of a raw text (raises pydantic's ValidationError on a contract violation)."""
    common: dict[str, Any] = {
        "id": raw.id,
        "source": raw.source,
        "author": raw.author[:200],
        "url": raw.url,
        "text": raw.text[:10_000],
        "published_at": raw.published_at,
        "ingested_at": ingested_at,
        "symbols": symbols[:20],
        "replayed": replayed,
    }
    if raw.source == "news":
        return NewsArticle(**common, outlet=raw.outlet or "", title=(raw.title or raw.text)[:1000])
    return SocialPost(**common, community=raw.community, engagement=raw.engagement, lang=raw.lang)


class CollectorRunner:
    """Runs one collector until stop(): fetch, link, filter, sink, wait; backoff on refusals and errors."""

    def __init__(
        self,
        collector: TextCollector,
        settings: SocialSettings,
        sink: TextSink,
        *,
        linker: SymbolLinker | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        first_seen: Callable[[str], bool] | None = None,
    ) -> None:
        self.collector = collector
        self.sink = sink
        #: Marks an id as sent and says whether it was new; shared across restarts (Redis) in the service, so a
        #: restarted collector does not send a text again with a new ingest time. None: this process only.
        self.first_seen = first_seen
        self.linker = linker or SymbolLinker()
        self.clock = clock
        self.filter = TextFilter(
            memory=settings.dedup_memory,
            near_duplicate_bits=settings.near_duplicate_bits,
            max_cashtags=settings.max_cashtags,
            max_posts_per_author_hour=settings.max_posts_per_author_hour,
        )
        self._backoff = Backoff(settings.backoff)
        self._stopping = threading.Event()
        self._state = CollectorState.IDLE
        self._retry_at: float | None = None
        self._last_success: float | None = None
        self._last_error: str | None = None
        self.rounds = self.accepted = self.rate_limited = self.forbidden = self.errors = 0
        self.dropped: dict[str, int] = {reason.value: 0 for reason in DropReason}
        self._set_state(CollectorState.IDLE)

    @property
    def name(self) -> str:
        return self.collector.name

    def stop(self) -> None:
        """End run() before its next round (safe from a signal handler or another thread); cuts a wait short."""
        self._stopping.set()

    def run(self, rounds: int | None = None) -> None:
        """Poll until stop() (or for `rounds` rounds, for tests and one-shot runs)."""
        try:
            done = 0
            while not self._stopping.is_set() and (rounds is None or done < rounds):
                delay = self.run_once()
                done += 1
                if rounds is None or done < rounds:
                    self._stopping.wait(delay)
        finally:
            self._set_state(CollectorState.STOPPED)

    def run_once(self) -> float:
        """One round; returns how long to wait before the next (never 0: a failing provider is not hammered)."""
        self.rounds += 1
        metrics.ROUNDS.labels(self.name).inc()
        self._set_state(CollectorState.POLLING)
        try:
            texts = self.collector.fetch()
        except RateLimited as exc:
            return self._on_rate_limited(exc)
        except AccessDenied as exc:
            self.forbidden += 1
            metrics.REFUSED.labels(self.name, str(exc.status)).inc()
            return self._on_failure(CollectorState.FORBIDDEN, f"HTTP {exc.status}: {exc}")
        except ProviderUnavailable as exc:
            self.errors += 1
            metrics.ERRORS.labels(self.name).inc()
            return self._on_failure(CollectorState.BACKOFF, str(exc))
        self._on_success()
        for raw in texts:
            if isinstance(raw, Malformed):
                log.warning("%s: dropped an item the API answered malformed: %s", self.name, raw.reason)
                self._drop(DropReason.MALFORMED)
                continue
            self._accept(raw)
        self._export_quota()
        self._set_state(CollectorState.WAITING)
        return self.collector.poll_interval_s

    def _accept(self, raw: RawText) -> None:
        metrics.FETCHED.labels(self.name).inc()
        symbols = self.linker.link(raw.text if raw.title is None else f"{raw.title}\n{raw.text}")
        if not symbols:
            self._drop(DropReason.UNLINKED)
            return
        reason = self.filter.check(raw.id, raw.url, raw.text, raw.author, raw.published_at, symbols)
        if reason is None and self.first_seen is not None and not self.first_seen(raw.id):
            reason = DropReason.DUPLICATE_ID  # sent by an earlier run of this collector
        if reason is not None:
            self._drop(reason)
            return
        try:
            item = build_item(raw, symbols, self.clock())
        except ValidationError as exc:
            log.warning("%s: %s breaks the contract: %s", self.name, raw.id, exc.errors()[0]["msg"])
            self._drop(DropReason.INVALID)
            return
        self.sink(item)
        self.accepted += 1
        metrics.ACCEPTED.labels(self.name).inc()

    def _drop(self, reason: DropReason) -> None:
        self.dropped[reason.value] += 1
        metrics.DROPPED.labels(self.name, reason.value).inc()

    def _on_rate_limited(self, exc: RateLimited) -> float:
        self.rate_limited += 1
        metrics.REFUSED.labels(self.name, str(exc.status)).inc()
        delay = self._backoff.next_delay()
        if exc.retry_at is not None:
            # The provider's reset time, plus a second of margin for clock differences; never less than the
            # backoff's floor, so a reset time in the past does not turn into a tight loop.
            delay = max(exc.retry_at - time.time() + 1.0, self._backoff.ceiling(0))
        return self._on_failure(CollectorState.RATE_LIMITED, f"rate limited: {exc}", delay)

    def _on_failure(self, state: CollectorState, message: str, delay: float | None = None) -> float:
        self._last_error = message
        delay = self._backoff.next_delay() if delay is None else delay
        self._retry_at = time.time() + delay
        metrics.RETRY_AT.labels(self.name).set(self._retry_at)
        self._set_state(state)
        log.warning("%s: %s; next try in %.0fs", self.name, message, delay)
        return delay

    def _on_success(self) -> None:
        self._backoff.reset()
        self._retry_at = None
        self._last_error = None
        self._last_success = time.monotonic()
        metrics.RETRY_AT.labels(self.name).set(0)
        metrics.LAST_SUCCESS.labels(self.name).set_to_current_time()

    def _export_quota(self) -> None:
        remaining = self.collector.quota().get("remaining")
        if isinstance(remaining, int | float):
            metrics.QUOTA_REMAINING.labels(self.name).set(remaining)

    def _set_state(self, state: CollectorState) -> None:
        self._state = state
        for candidate in CollectorState:
            metrics.STATE.labels(self.name, candidate.value).set(1 if candidate is state else 0)

    def health(self) -> CollectorHealth:
        """State and counters; healthy unless refused (rate limit, 403) or failing."""
        age = None if self._last_success is None else round(time.monotonic() - self._last_success, 3)
        retry_at = datetime.fromtimestamp(self._retry_at, UTC).isoformat() if self._retry_at else None
        return CollectorHealth(
            collector=self.name,
            state=self._state.value,
            healthy=self._state in (CollectorState.IDLE, CollectorState.POLLING, CollectorState.WAITING),
            rounds=self.rounds,
            accepted=self.accepted,
            dropped=dict(self.dropped),
            rate_limited=self.rate_limited,
            forbidden=self.forbidden,
            errors=self.errors,
            retry_at=retry_at,
            last_success_age_s=age,
            last_error=self._last_error,
            quota=self.collector.quota(),
        )
