"""One interface for live market-data WebSockets: connect, authenticate, subscribe, stream trades to a sink.

A provider turns every trade-level message into `sink(tick, raw, reason)`: a valid Tick with reason None, or
None with the reason and the message's bytes, so the caller sends it to the DLQ (nothing is silently dropped).
Control messages (acks, pings, errors) are handled here; message types we never subscribe to (quotes, bars)
are counted as `ignored`. Connections are retried forever with bounded, jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from marketpulse.contracts import SYMBOL_PATTERN, Tick
from marketpulse.errors import MarketPulseError
from marketpulse.ingest.providers import metrics
from marketpulse.sections.providers import BackoffSettings, ProviderSettings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from marketpulse.ingest.providers.fakes import FakeProviderServer

log = logging.getLogger(__name__)

#: What a provider hands every trade-level message to: (tick, raw bytes, None) or (None, raw bytes, reason).
Sink = Callable[[Tick | None, bytes, str | None], None]

#: A frame's top-level JSON container (Alpaca: a list of messages; Finnhub: one message object).
J = TypeVar("J", list[Any], dict[str, Any])

_SYMBOL = re.compile(SYMBOL_PATTERN)

#: How long stop() waits for a clean close before cancelling the connection.
_CLOSE_TIMEOUT_S = 5.0

#: Largest frame accepted; a SIP burst batches many trades into one frame.
MAX_FRAME_BYTES = 8 * 1024 * 1024


class AuthFailed(MarketPulseError):
    """The provider rejected our credentials (or our plan does not cover the feed)."""


class ProviderError(MarketPulseError):
    """The provider broke its protocol or reported an error during the handshake; reconnect later."""


class ProviderState(StrEnum):
    """Where a provider's connection loop is."""

    IDLE = "idle"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


class ControlKind(StrEnum):
    """Non-trade messages a parser recognises."""

    CONNECTED = "connected"
    AUTHENTICATED = "authenticated"
    AUTH_FAILED = "auth_failed"
    SUBSCRIBED = "subscribed"
    ERROR = "error"
    PING = "ping"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Item:
    """One trade-level message: a Tick, or the reason it is not one (raw is what goes to the DLQ)."""

    tick: Tick | None
    raw: bytes
    reason: str | None


@dataclass(frozen=True, slots=True)
class Control:
    """One control message (ack, ping, error, or a type we do not ingest)."""

    kind: ControlKind
    detail: str = ""


Parsed = Item | Control


class ProviderHealth(TypedDict):
    """What health() reports (JSON-friendly)."""

    provider: str
    state: str
    connected: bool
    last_message_age_s: float | None
    reconnects: int
    auth_failures: int
    trades: int
    rejected: int
    symbols: list[str]
    last_error: str | None


def compact_json(value: Any) -> bytes:
    """One element of a batched frame as bytes: what the DLQ gets when only that element is bad."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode_frame(frame: bytes, expected: type[J], what: str) -> J | Item:
    """The frame's JSON if it is an `expected` (`what` names it in the reason), else the Item that sends the whole
    frame to the DLQ."""
    try:
        value = json.loads(frame)
    except ValueError as exc:
        return Item(None, frame, f"not JSON: {exc}")
    if not isinstance(value, expected):
        return Item(None, frame, f"expected {what}, got {type(value).__name__}")
    return value


def each_object(elements: list[Any], what: str, parse: Callable[[dict[str, Any], bytes], Parsed]) -> list[Parsed]:
    """One result per element of a batch: `parse(element, raw)` for a JSON object, else an Item with `what` in its
    reason. raw is that element alone as compact JSON: the DLQ never gets its siblings, so a replay cannot duplicate
    them."""
    results: list[Parsed] = []
    for element in elements:
        raw = compact_json(element)
        if isinstance(element, dict):
            results.append(parse(element, raw))
        else:
            results.append(Item(None, raw, f"{what} is not a JSON object"))
    return results


def make_tick(raw: bytes, **fields: Any) -> Item:
    """Validate fields into a Tick; a contract violation becomes the item's reason."""
    try:
        return Item(Tick.model_validate(fields), raw, None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "Tick"
        return Item(None, raw, f"{where}: {first['msg']}")


def validate_symbols(symbols: Iterable[str]) -> set[str]:
    """The symbols as a set; raise ValueError on anything that is not an exchange ticker."""
    chosen = set(symbols)
    bad = sorted(symbol for symbol in chosen if not _SYMBOL.fullmatch(symbol))
    if bad:
        raise ValueError(f"not exchange tickers: {', '.join(bad)}")
    return chosen


class Backoff:
    """Exponential delays with equal jitter: attempt n waits in [d/2, d], d = min(max_s, base_s * multiplier**n)."""

    def __init__(self, settings: BackoffSettings, rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self.attempts = 0

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay of an attempt (capped exponent: no float overflow however long it fails)."""
        s = self._settings
        return min(s.max_s, s.base_s * s.multiplier ** min(attempt, 64))

    def next_delay(self) -> float:
        """The delay before the next attempt; half fixed so retries never spin, half random so clients spread."""
        ceiling = self.ceiling(self.attempts)
        self.attempts += 1
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        """Back to base_s after a healthy connection."""
        self.attempts = 0


class QuietLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for websockets that drops DEBUG, where it logs frames and request lines (auth frames, ?token=)."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_WS_LOGGER = QuietLogger(logging.getLogger("marketpulse.ingest.providers.ws"), {})

# Failures after which we reconnect; anything else (a bug, the sink failing) ends run().
_TRANSIENT: tuple[type[BaseException], ...] = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, ProviderError)


class MarketDataProvider(ABC):
    """A live source: run(sink) streams trades of the subscribed symbols until stop(); see the module doc."""

    name: str

    def __init__(
        self, settings: ProviderSettings, symbols: Iterable[str] | None = None, rng: random.Random | None = None
    ) -> None:
        self._settings = settings
        self._symbols = validate_symbols(settings.symbols if symbols is None else symbols)
        self._backoff = Backoff(settings.backoff, rng)
        self._stopping = asyncio.Event()
        self._subscription_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None  # the open connection, from the upgrade on
        self._live: ClientConnection | None = None  # the same once subscribed: runtime (un)subscribes go here
        self._state = ProviderState.IDLE
        self._streaming_since: float | None = None
        self._last_message: float | None = None
        self._last_error: str | None = None
        self._reconnects = self._auth_failures = self._trades = self._rejected = 0
        self.check_credentials()

    # --- what each provider defines -------------------------------------------------------------

    def check_credentials(self) -> None:
        """Raise ConfigError if the settings lack this provider's keys (at construction, not at first connect)."""

    @abstractmethod
    def connect_url(self) -> str:
        """The URL to connect to (may carry a credential: never log it, log `redacted_url` instead)."""

    @property
    @abstractmethod
    def redacted_url(self) -> str:
        """The URL without credentials, for logs."""

    @abstractmethod
    def parse(self, frame: bytes) -> list[Parsed]:
        """Every message in one frame, in order."""

    @abstractmethod
    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """The frames that subscribe to trades of symbols."""

    @abstractmethod
    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """The frames that end the trade subscription of symbols."""

    async def authenticate(self, ws: ClientConnection, sink: Sink) -> None:
        """The provider's auth exchange after the WebSocket opens (none by default: the URL carries the key)."""

    # --- the public interface -------------------------------------------------------------------

    @property
    def symbols(self) -> frozenset[str]:
        """The subscribed symbols (also those re-subscribed after a reconnect)."""
        return frozenset(self._symbols)

    @property
    def state(self) -> ProviderState:
        return self._state

    async def run(self, sink: Sink) -> None:
        """Stream into sink until stop(); reconnect with backoff on any connection failure. Sink errors end it."""
        first = True
        try:
            while not self._stopping.is_set():
                if not first:
                    self._reconnects += 1
                    metrics.RECONNECTS.labels(self.name).inc()
                first = False
                await self._attempt(sink)
                if self._stopping.is_set():
                    break
                await self._pause()
        finally:
            self._set_state(ProviderState.STOPPED, force=True)

    async def subscribe(self, symbols: Iterable[str]) -> None:
        """Add symbols: subscribed now on a live connection, and after every reconnect."""
        new = validate_symbols(symbols) - self._symbols
        self._symbols |= new
        if new:
            await self._send_live(self.subscribe_messages(sorted(new)))

    async def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Remove symbols: unsubscribed now on a live connection, and left out after reconnects."""
        gone = validate_symbols(symbols) & self._symbols
        self._symbols -= gone
        if gone:
            await self._send_live(self.unsubscribe_messages(sorted(gone)))

    def stop(self) -> None:
        """End run() (call on the event loop's thread, e.g. from loop.add_signal_handler)."""
        self._stopping.set()

    def health(self) -> ProviderHealth:
        """Connection state and freshness of this provider."""
        age = None if self._last_message is None else round(time.monotonic() - self._last_message, 3)
        return ProviderHealth(
            provider=self.name,
            state=self._state.value,
            connected=self._state is ProviderState.STREAMING,
            last_message_age_s=age,
            reconnects=self._reconnects,
            auth_failures=self._auth_failures,
            trades=self._trades,
            rejected=self._rejected,
            symbols=sorted(self._symbols),
            last_error=self._last_error,
        )

    # --- the connection loop --------------------------------------------------------------------

    async def _attempt(self, sink: Sink) -> None:
        """One connection, raced against stop(); transient failures are recorded, not raised."""
        session = asyncio.create_task(self._session(sink))
        stopped = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({session, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not session.done():
                await self._close_gracefully(session)
        if session.cancelled():
            return
        try:
            session.result()
        except AuthFailed as exc:
            self._on_auth_failed(exc)
        except _TRANSIENT as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: connection to %s lost: %s", self.name, self.redacted_url, self._last_error)

    async def _close_gracefully(self, session: asyncio.Task[None]) -> None:
        """Stop: a normal close (1000) ends the read loop; cancel only what does not finish within close_timeout."""
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self._ws.close()
        await asyncio.wait({session}, timeout=_CLOSE_TIMEOUT_S)
        if not session.done():
            session.cancel()
            await asyncio.wait({session})  # wait() never raises the task's error; _attempt reads it

    async def _session(self, sink: Sink) -> None:
        """One connection: open it, stream until it ends, and map a refused upgrade (401/403) to AuthFailed."""
        self._set_state(ProviderState.CONNECTING)
        try:
            async with connect(
                self.connect_url(),
                open_timeout=self._settings.open_timeout_s,
                proxy=self._settings.proxy,
                max_size=MAX_FRAME_BYTES,
                logger=_WS_LOGGER,
            ) as ws:
                self._ws = ws
                await self._stream(ws, sink)
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise AuthFailed(f"HTTP {exc.response.status_code} on connect") from exc
            raise
        finally:
            self._on_disconnected()

    async def _stream(self, ws: ClientConnection, sink: Sink) -> None:
        """Authenticate, subscribe, then hand every frame to the parser until the connection closes."""
        self._set_state(ProviderState.AUTHENTICATING)
        async with asyncio.timeout(self._settings.auth_timeout_s):
            await self.authenticate(ws, sink)
        await self._subscribe_all(ws)
        self._on_streaming()
        async for frame in ws:
            self._on_frame(frame.encode() if isinstance(frame, str) else frame, sink)
        if not self._stopping.is_set():
            self._last_error = f"closed by the server ({ws.close_code} {ws.close_reason})"
            log.warning("%s: %s", self.name, self._last_error)

    async def _subscribe_all(self, ws: ClientConnection) -> None:
        # Under the lock, so a subscribe() racing the reconnect is either in this snapshot or sent after it.
        async with self._subscription_lock:
            if self._symbols:
                for message in self.subscribe_messages(sorted(self._symbols)):
                    await ws.send(message)
            self._live = ws

    async def _send_live(self, messages: list[str]) -> None:
        async with self._subscription_lock:
            if self._live is None:
                return  # not connected: the next connection subscribes from self._symbols
            try:
                for message in messages:
                    await self._live.send(message)
            except ConnectionClosed:
                pass  # the reconnect re-subscribes the whole set

    async def _pause(self) -> None:
        """Sleep the backoff delay (cut short by stop()); a connection that streamed long enough resets it."""
        healthy = self._settings.backoff.healthy_after_s
        if self._streaming_since is not None and time.monotonic() - self._streaming_since >= healthy:
            self._backoff.reset()
        self._streaming_since = None
        delay = self._backoff.next_delay()
        self._set_state(ProviderState.BACKOFF)
        log.info("%s: reconnecting in %.2fs (attempt %d)", self.name, delay, self._backoff.attempts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def _expect(self, ws: ClientConnection, sink: Sink, wanted: ControlKind) -> None:
        """Read frames until the control message `wanted`; raise on auth failure or a provider error."""
        while True:
            frame = await ws.recv()
            self._mark_message()
            for parsed in self.parse(frame.encode() if isinstance(frame, str) else frame):
                if isinstance(parsed, Item):
                    self._deliver(parsed, sink)
                elif parsed.kind is wanted:
                    return
                elif parsed.kind is ControlKind.AUTH_FAILED:
                    raise AuthFailed(parsed.detail)
                elif parsed.kind is ControlKind.ERROR:
                    raise ProviderError(parsed.detail)

    # --- bookkeeping ----------------------------------------------------------------------------

    def _on_frame(self, frame: bytes, sink: Sink) -> None:
        self._mark_message()
        for parsed in self.parse(frame):
            if isinstance(parsed, Item):
                self._deliver(parsed, sink)
            else:
                self._on_control(parsed)

    def _deliver(self, item: Item, sink: Sink) -> None:
        if item.reason is None:
            self._trades += 1
            metrics.MESSAGES.labels(self.name, "trade").inc()
        else:
            self._rejected += 1
            metrics.MESSAGES.labels(self.name, "rejected").inc()
            metrics.PARSE_ERRORS.labels(self.name).inc()
        sink(item.tick, item.raw, item.reason)

    def _on_control(self, control: Control) -> None:
        kind = "ignored" if control.kind is ControlKind.IGNORED else "control"
        metrics.MESSAGES.labels(self.name, kind).inc()
        if control.kind is ControlKind.AUTH_FAILED:
            raise AuthFailed(control.detail)
        if control.kind is ControlKind.ERROR:
            # Stream-time errors (a bad symbol, a symbol limit) do not end the connection; the server closes if fatal.
            self._last_error = control.detail
            log.warning("%s: provider error: %s", self.name, control.detail)
        elif control.kind is ControlKind.SUBSCRIBED:
            log.info("%s: subscribed %s", self.name, control.detail)

    def _mark_message(self) -> None:
        self._last_message = time.monotonic()
        metrics.LAST_MESSAGE.labels(self.name).set_to_current_time()

    def _on_streaming(self) -> None:
        self._streaming_since = time.monotonic()
        self._last_error = None
        self._set_state(ProviderState.STREAMING, force=True)
        metrics.CONNECTED.labels(self.name).set(1)
        log.info("%s: streaming %d symbols from %s", self.name, len(self._symbols), self.redacted_url)

    def _on_disconnected(self) -> None:
        self._live = self._ws = None
        metrics.CONNECTED.labels(self.name).set(0)

    def _on_auth_failed(self, exc: AuthFailed) -> None:
        self._auth_failures += 1
        self._last_error = f"auth failed: {exc}"
        metrics.AUTH_FAILURES.labels(self.name).inc()
        self._set_state(ProviderState.AUTH_FAILED, force=True)
        log.error("%s: %s rejected the credentials (%s); retrying with backoff", self.name, self.redacted_url, exc)

    def _set_state(self, state: ProviderState, force: bool = False) -> None:
        # auth_failed sticks through backoff and retries until a connection authenticates: operators must see it.
        if self._state is ProviderState.AUTH_FAILED and not force:
            return
        self._state = state
        if state is not ProviderState.STREAMING:
            metrics.CONNECTED.labels(self.name).set(0)


@dataclass(frozen=True)
class ProviderSpec:
    """One live provider as the registry (`live.PROVIDERS`) knows it: its name, its class, the ProviderSettings
    section it reads, and its local fake. Each provider module declares its own (`SPEC`)."""

    name: str
    provider: type[MarketDataProvider]
    #: The ProviderSettings field holding its section (endpoint and keys).
    section: str
    #: (recording, **FakeProviderServer options) -> a fake replaying it that accepts fakes.FAKE_KEY / FAKE_SECRET.
    fake: Callable[..., FakeProviderServer]
    #: (its section, the fake's URL) -> the section pointed at the fake, with the fake's keys.
    at_fake: Callable[[Any, str], BaseModel]
