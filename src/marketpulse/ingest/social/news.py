"""NewsAPI.org through newsapi-python: /v2/everything by symbol and company name, plus business headlines.

Queries OR together each symbol's ticker and company names (under NewsAPI's 500-character limit), sorted by
publish time, paged up to `max_pages`, and resumed with `from` = the newest article already seen. NewsAPI
sends no quota headers, so we count our own requests per UTC day and stop at `daily_quota` until the next
UTC midnight (reported as rate limited), instead of letting the plan's limit turn into 429s.
`maximumResultsReached` (the developer plan serves 100 results per query) ends paging, not the round.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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
    is_since,
    parse_each,
)
from marketpulse.ingest.social.http import RewritingSession
from marketpulse.ingest.social.linking import SymbolLinker
from marketpulse.sections.text import NewsSettings

REAL_HOST = "https://newsapi.org"
MAX_QUERY_CHARS = 500
_AUTH_CODES = {"apiKeyDisabled", "apiKeyInvalid", "apiKeyMissing", "sourcesTooMany"}
_QUOTA_CODES = {"rateLimited", "apiKeyExhausted"}


def build_queries(symbols: Sequence[str], linker: SymbolLinker, limit: int = MAX_QUERY_CHARS) -> list[str]:
    """OR-groups of each symbol's ticker and quoted names, each under the query limit."""
    terms: list[str] = []
    for symbol in symbols:
        names = [term for term in linker.search_terms(symbol) if not term.startswith("$")]
        terms.extend([symbol, *(f'"{name}"' for name in names if not name.endswith("'s"))])
    queries: list[str] = []
    group: list[str] = []
    for term in dict.fromkeys(terms):
        if group and len(" OR ".join([*group, term])) > limit:
            queries.append(" OR ".join(group))
            group = []
        group.append(term)
    if group:
        queries.append(" OR ".join(group))
    return queries


def parse_articles(payload: Any) -> list[Fetched]:
    """The articles of one NewsAPI response; the text is title + description (content is cut at 200 chars). An
    unreadable article is `Malformed`; a removed one (no title or URL, "[Removed]") is skipped."""
    if not isinstance(payload, dict):
        return [Malformed("news", f"the response is a {type(payload).__name__}, not a JSON object")]

    def parse(article: dict[str, Any]) -> RawText | None:
        title = (article.get("title") or "").strip()
        url = article.get("url")
        if not title or not url or title == "[Removed]":
            return None
        description = (article.get("description") or "").strip()
        outlet = (article.get("source") or {}).get("name") or "unknown"
        return RawText(
            id=f"news:{url}",
            source="news",
            author=(article.get("author") or outlet).strip(),
            url=url,
            text=f"{title}. {description}".strip() if description else title,
            published_at=datetime.fromisoformat(article["publishedAt"].replace("Z", "+00:00")),
            outlet=outlet,
            title=title,
        )

    return parse_each("news", payload.get("articles", []), parse)


class NewsCollector(TextCollector):
    """/v2/everything for the symbols' names and tickers, then /v2/top-headlines (business, us)."""

    name = "news"

    def __init__(
        self,
        settings: NewsSettings,
        symbols: Sequence[str],
        linker: SymbolLinker,
        *,
        clock: Any = lambda: datetime.now(UTC),
    ) -> None:
        from newsapi import NewsApiClient

        if settings.api_key is None or not settings.api_key.get_secret_value():
            raise ConfigError("the news collector needs a NewsAPI key: set MARKETPULSE_SOCIAL__NEWS__API_KEY")
        self.settings = settings
        self.queries = build_queries(symbols, linker)
        self.client = NewsApiClient(
            api_key=settings.api_key.get_secret_value(), session=RewritingSession(REAL_HOST, settings.base_url)
        )
        self.clock = clock
        self.newest: datetime | None = None
        self._day = clock().date()
        self.requests_today = 0

    @property
    def poll_interval_s(self) -> float:
        return self.settings.poll_interval_s

    def quota(self) -> dict[str, Any]:
        return {
            "used": self.requests_today,
            "limit": self.settings.daily_quota,
            "remaining": max(self.settings.daily_quota - self.requests_today, 0),
        }

    def fetch(self) -> list[Fetched]:
        since = self.newest
        texts: list[Fetched] = []
        for query in self.queries:
            texts.extend(self._everything(query, since))
        texts.extend(parse_articles(self._call(self.client.get_top_headlines, category="business", country="us")))
        read = [text for text in texts if isinstance(text, RawText)]
        fresh = [text for text in texts if not isinstance(text, RawText) or is_since(text, since)]
        if read:
            self.newest = max(text.published_at for text in read)
        return fresh

    def _everything(self, query: str, since: datetime | None) -> list[Fetched]:
        texts: list[Fetched] = []
        for page in range(1, self.settings.max_pages + 1):
            params: dict[str, Any] = {
                "q": query,
                "language": self.settings.language,
                "sort_by": "publishedAt",
                "page_size": self.settings.page_size,
                "page": page,
            }
            if since is not None:
                params["from_param"] = since.strftime("%Y-%m-%dT%H:%M:%S")
            payload = self._call(self.client.get_everything, **params)
            if payload is None:  # maximumResultsReached: our plan serves no further page
                break
            articles = parse_articles(payload)
            texts.extend(articles)
            if page * self.settings.page_size >= int(payload.get("totalResults", 0)) or not articles:
                break
        return texts

    def _call(self, method: Any, **params: Any) -> dict[str, Any] | Any:
        from newsapi.newsapi_exception import NewsAPIException

        self._spend_quota()
        try:
            payload = method(**params)
        except NewsAPIException as exc:
            error = exc.get_exception() if isinstance(exc.get_exception(), dict) else {}
            code, message = error.get("code", ""), error.get("message", str(exc))
            if code == "maximumResultsReached":
                return None
            if code in _QUOTA_CODES:
                raise RateLimited(f"NewsAPI {code}: {message}", retry_at=self._next_utc_midnight()) from exc
            if code in _AUTH_CODES:
                raise AccessDenied(f"NewsAPI {code}: {message}", status=401) from exc
            raise ProviderUnavailable(f"NewsAPI {code or 'error'}: {message}") from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"NewsAPI is unreachable: {type(exc).__name__}: {exc}") from exc
        return payload

    def _spend_quota(self) -> None:
        today = self.clock().date()
        if today != self._day:
            self._day, self.requests_today = today, 0
        if self.requests_today >= self.settings.daily_quota:
            raise RateLimited(
                f"NewsAPI daily quota of {self.settings.daily_quota} requests used", retry_at=self._next_utc_midnight()
            )
        self.requests_today += 1

    def _next_utc_midnight(self) -> float:
        now = self.clock()
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        return midnight.timestamp()
