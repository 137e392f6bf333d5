"""X API v2 filtered stream (where the account's tier allows it), behind the same polling interface.

Rules (one per group of cashtags, tagged `marketpulse`) are synchronised through tweepy's StreamingClient;
the stream itself is read by a background thread (newline-delimited JSON; X sends a blank keep-alive line
every 20 s, so a 30 s read timeout detects a dead connection). `fetch()` drains what arrived since the last
round and, if the connection ended, raises its cause (429 with the reset time, 403, or a disconnect) so the
runner backs off exactly as for search; the next round reconnects. `XAutoCollector` uses the stream and
falls back to recent search for good when X answers 403 (the tier has no filtered stream).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any

import requests

from marketpulse.errors import ConfigError
from marketpulse.ingest.social.base import (
    AccessDenied,
    Fetched,
    ProviderUnavailable,
    RateLimited,
    TextCollector,
)
from marketpulse.ingest.social.http import RewritingSession
from marketpulse.ingest.social.x import (
    REAL_HOST,
    TWEET_FIELDS,
    USER_FIELDS,
    XCollector,
    build_queries,
    parse_search_page,
    runner_error,
)
from marketpulse.sections.text import XSettings

log = logging.getLogger(__name__)

RULE_TAG = "marketpulse"
STREAM_PATH = "/2/tweets/search/stream"
#: Seconds without a byte (data or keep-alive) after which the connection counts as dead.
READ_TIMEOUT_S = 30.0
#: How long a round waits for X to accept or refuse a new stream connection.
CONNECT_WAIT_S = 15.0


def _failure(response: requests.Response, what: str) -> Exception:
    """The runner's error for a refused stream or rules request."""
    status = response.status_code
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        return RateLimited(f"X {what}: 429 Too Many Requests", retry_at=float(reset) if reset else None)
    if status in (401, 403):
        try:
            detail = response.json().get("detail") or response.text
        except ValueError:
            detail = response.text
        return AccessDenied(f"X {what} refused: {detail}"[:500], status=status)
    return ProviderUnavailable(f"X {what} answered {status}")


class XStreamCollector(TextCollector):
    """Filtered stream of the configured symbols' cashtags."""

    name = "x"

    def __init__(self, settings: XSettings, symbols: Sequence[str]) -> None:
        import tweepy

        if settings.bearer_token is None or not settings.bearer_token.get_secret_value():
            raise ConfigError("the X collector needs a bearer token: set MARKETPULSE_SOCIAL__X__BEARER_TOKEN")
        self.settings = settings
        self.rules = [q.replace(f" {settings.query_suffix}", "") for q in build_queries(symbols, settings.query_suffix)]
        self.session = RewritingSession(REAL_HOST, settings.base_url)
        self.client = tweepy.StreamingClient(
            settings.bearer_token.get_secret_value(), return_type=requests.Response, wait_on_rate_limit=False
        )
        self.client.session = self.session
        self._queue: queue.Queue[Fetched] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None
        self._stop = threading.Event()
        #: Set once X has answered the stream request (accepted or refused) or the attempt failed.
        self._answered = threading.Event()
        self._response: requests.Response | None = None

    @property
    def poll_interval_s(self) -> float:
        # A stream delivers continuously; rounds only drain the queue, so they can be frequent.
        return min(self.settings.poll_interval_s, 5.0)

    def fetch(self) -> list[Fetched]:
        if self._thread is not None and not self._thread.is_alive():
            drained = self._drain()
            if drained:
                return drained  # deliver what arrived first; the connection's end is reported next round
            self._thread = None
            error, self._error = self._error, None
            if error is not None:
                raise error
        if self._thread is None:
            self._connect()
        return self._drain()

    def _connect(self) -> None:
        """Sync the rules, open the stream in a thread, and wait for X's answer: a refusal is raised here."""
        self._sync_rules()
        self._answered.clear()
        self._thread = threading.Thread(target=self._read, name="x-filtered-stream", daemon=True)
        self._thread.start()
        self._answered.wait(CONNECT_WAIT_S)
        if self._error is not None:
            self._thread.join(timeout=CONNECT_WAIT_S)
            self._thread = None
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()

    def _drain(self) -> list[Fetched]:
        texts: list[Fetched] = []
        while True:
            try:
                texts.append(self._queue.get_nowait())
            except queue.Empty:
                return texts

    def _sync_rules(self) -> None:
        """Our rules exactly: add the missing ones, delete tagged rules we no longer want."""
        import tweepy

        try:
            current = self.client.get_rules().json().get("data", [])
            ours = {rule["value"]: rule["id"] for rule in current if rule.get("tag") == RULE_TAG}
            stale = [rule_id for value, rule_id in ours.items() if value not in self.rules]
            if stale:
                self.client.delete_rules(stale)
            missing = [value for value in self.rules if value not in ours]
            if missing:
                added = self.client.add_rules([tweepy.StreamRule(value, tag=RULE_TAG) for value in missing]).json()
                if added.get("errors"):
                    raise ConfigError(f"X rejected our stream rules: {added['errors']}")
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise runner_error(exc, "stream rules") from exc

    def _read(self) -> None:
        """The stream thread: one connection, until it ends; its cause is kept for fetch()."""
        params: dict[str, Any] = {
            "tweet.fields": ",".join(TWEET_FIELDS),
            "expansions": "author_id",
            "user.fields": ",".join(USER_FIELDS),
        }
        headers = {"Authorization": f"Bearer {self.client.bearer_token}"}
        try:
            with self.session.get(
                REAL_HOST + STREAM_PATH, params=params, headers=headers, stream=True, timeout=(10.0, READ_TIMEOUT_S)
            ) as response:
                self._response = response
                if response.status_code != 200:
                    self._error = _failure(response, "filtered stream")
                    return
                self._answered.set()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.strip():
                        self._on_line(line)
            self._error = ProviderUnavailable("X closed the filtered stream")
        except requests.RequestException as exc:
            if not self._stop.is_set():
                self._error = ProviderUnavailable(f"X filtered stream lost: {type(exc).__name__}: {exc}")
        finally:
            self._response = None
            self._answered.set()

    def _on_line(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("x: filtered stream sent a line that is not JSON: %.200r", line)
            return
        if "data" in message:
            payload = {"data": [message["data"]], "includes": message.get("includes", {})}
            for text in parse_search_page(payload):
                self._queue.put(text)
        elif "errors" in message:
            log.warning("x: filtered stream error: %s", message["errors"])


class XAutoCollector(TextCollector):
    """The filtered stream where the tier allows it, else recent search (decided at the first 403)."""

    name = "x"

    def __init__(self, settings: XSettings, symbols: Sequence[str]) -> None:
        self.stream: XStreamCollector | None = XStreamCollector(settings, symbols)
        self.search = XCollector(settings, symbols)

    @property
    def mode(self) -> str:
        return "stream" if self.stream is not None else "search"

    @property
    def poll_interval_s(self) -> float:
        return self.stream.poll_interval_s if self.stream is not None else self.search.poll_interval_s

    def quota(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.search.quota()}

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def fetch(self) -> list[Fetched]:
        if self.stream is None:
            return self.search.fetch()
        try:
            return self.stream.fetch()
        except AccessDenied as exc:
            if exc.status == 403:
                log.warning("x: no filtered stream on this tier (%s); using recent search", exc)
                self.stream.close()
                self.stream = None
                return self.search.fetch()
            raise
