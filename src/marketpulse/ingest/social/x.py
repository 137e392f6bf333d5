"""X (Twitter) API v2 recent search through tweepy, polled in rounds.

One query per group of symbols (`($AAPL OR $MSFT ...) -is:retweet lang:en`, under X's 512-character
limit), paged with `next_token` up to `max_pages`, resumed with `since_id` so a round asks only for
newer posts. tweepy returns the raw `requests.Response`, so we read the payload and the rate-limit
headers (`x-rate-limit-remaining`, `x-rate-limit-reset`) ourselves. tweepy's own waiting on rate limits
is off: the runner backs off until the reset time and reports it instead of blocking silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests

from marketpulse.errors import ConfigError
from marketpulse.ingest.social.base import (
    AccessDenied,
    Fetched,
    Malformed,
    ProviderUnavailable,
    RateLimited,
    RawText,
    TextCollector,
    parse_each,
)
from marketpulse.ingest.social.http import RewritingSession
from marketpulse.sections.text import XSettings

REAL_HOST = "https://api.twitter.com"
#: X's limit on a recent-search query for the basic and pro tiers.
MAX_QUERY_CHARS = 512
TWEET_FIELDS = ["created_at", "lang", "public_metrics", "author_id"]
USER_FIELDS = ["username", "created_at", "public_metrics"]


def build_queries(symbols: Sequence[str], suffix: str, limit: int = MAX_QUERY_CHARS) -> list[str]:
    """Cashtag OR-groups that each fit the query limit."""
    queries: list[str] = []
    group: list[str] = []
    for symbol in symbols:
        candidate = [*group, f"${symbol}"]
        if group and len(f"({' OR '.join(candidate)}) {suffix}") > limit:
            queries.append(f"({' OR '.join(group)}) {suffix}")
            candidate = [f"${symbol}"]
        group = candidate
    if group:
        queries.append(f"({' OR '.join(group)}) {suffix}")
    return queries


def parse_search_page(payload: Any) -> list[Fetched]:
    """The posts of one recent-search page (users come from `includes.users`); an unreadable post is `Malformed`."""
    if not isinstance(payload, dict):
        return [Malformed("x", f"the page is a {type(payload).__name__}, not a JSON object")]
    included = payload.get("includes", {})
    listed = included.get("users", []) if isinstance(included, dict) else []
    users = {user.get("id"): user for user in listed if isinstance(user, dict)}

    def parse(tweet: dict[str, Any]) -> RawText:
        user = users.get(tweet.get("author_id"), {})
        username = user.get("username") or tweet.get("author_id") or "unknown"
        metrics = tweet.get("public_metrics") or {}
        return RawText(
            id=f"x:{tweet['id']}",
            source="x",
            author=username,
            url=f"https://x.com/{username}/status/{tweet['id']}",
            text=tweet["text"],
            published_at=datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")),
            engagement=metrics.get("like_count"),
            lang=tweet.get("lang"),
            extra={"followers": (user.get("public_metrics") or {}).get("followers_count")},
        )

    return parse_each("x", payload.get("data", []), parse)


def runner_error(exc: Exception, what: str) -> Exception:
    """A tweepy or requests failure as the runner's error (rate limited, refused, or unavailable)."""
    import tweepy

    if isinstance(exc, tweepy.TooManyRequests):
        return RateLimited(f"X {what}: 429 Too Many Requests", retry_at=exc.reset_time)
    if isinstance(exc, tweepy.Unauthorized | tweepy.Forbidden):
        detail = "; ".join(exc.api_messages) or str(exc)
        return AccessDenied(f"X {what} refused: {detail}", status=exc.response.status_code)
    if isinstance(exc, requests.RequestException):
        return ProviderUnavailable(f"X is unreachable: {type(exc).__name__}: {exc}")
    return ProviderUnavailable(f"X {what} failed: {exc}")


class XCollector(TextCollector):
    """Recent search for the configured symbols' cashtags."""

    name = "x"

    def __init__(self, settings: XSettings, symbols: Sequence[str]) -> None:
        import tweepy

        if settings.bearer_token is None or not settings.bearer_token.get_secret_value():
            raise ConfigError("the X collector needs a bearer token: set MARKETPULSE_SOCIAL__X__BEARER_TOKEN")
        self.settings = settings
        self.queries = build_queries(symbols, settings.query_suffix)
        self.client = tweepy.Client(
            bearer_token=settings.bearer_token.get_secret_value(),
            return_type=requests.Response,
            wait_on_rate_limit=False,
        )
        self.client.session = RewritingSession(REAL_HOST, settings.base_url)
        #: newest post id seen per query: the next round asks only for newer ones.
        self.since_id: dict[str, str] = {}
        self._quota: dict[str, Any] = {}

    @property
    def poll_interval_s(self) -> float:
        return self.settings.poll_interval_s

    def quota(self) -> dict[str, Any]:
        return dict(self._quota)

    def fetch(self) -> list[Fetched]:
        texts: list[Fetched] = []
        for query in self.queries:
            texts.extend(self._search(query))
        return texts

    def _search(self, query: str) -> list[Fetched]:
        texts: list[Fetched] = []
        next_token: str | None = None
        newest: str | None = None
        for _ in range(self.settings.max_pages):
            payload = self._page(query, next_token)
            texts.extend(parse_search_page(payload))
            meta = payload.get("meta", {})
            newest = newest or meta.get("newest_id")
            next_token = meta.get("next_token")
            if not next_token:
                break
        if newest:
            self.since_id[query] = newest
        return texts

    def _page(self, query: str, next_token: str | None) -> dict[str, Any]:
        import tweepy

        params: dict[str, Any] = {
            "max_results": 100,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"],
            "user_fields": USER_FIELDS,
        }
        if query in self.since_id:
            params["since_id"] = self.since_id[query]
        if next_token:
            params["next_token"] = next_token
        try:
            response = self.client.search_recent_tweets(query, **params)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise runner_error(exc, "recent search") from exc
        self._read_rate_headers(response)
        payload = response.json()
        if not isinstance(payload, dict):
            raise ProviderUnavailable("X recent search answered something that is not a JSON object")
        return payload

    def _read_rate_headers(self, response: requests.Response) -> None:
        headers = response.headers
        for key, name in (("x-rate-limit-remaining", "remaining"), ("x-rate-limit-reset", "reset")):
            if key in headers:
                self._quota[name] = int(headers[key])
