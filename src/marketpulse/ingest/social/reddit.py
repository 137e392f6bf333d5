"""Reddit through praw: the newest submissions of the configured subreddits, polled in rounds.

Application-only OAuth (client id + secret, read-only). praw pages the listing with `after` and prawcore
paces requests from Reddit's `x-ratelimit-remaining/-used/-reset` headers, so the rate limit is respected
before it is hit; a 429 that happens anyway, a 403 or a 5xx goes to the runner's backoff. A round keeps
only submissions newer than the newest of the previous round.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from marketpulse.errors import ConfigError
from marketpulse.ingest.social.base import (
    AccessDenied,
    Fetched,
    ProviderUnavailable,
    RateLimited,
    RawText,
    TextCollector,
    is_since,
    parse_each,
)
from marketpulse.sections.text import RedditSettings

REDDIT_HOST = "https://www.reddit.com"


def submission_text(*, title: str, selftext: str) -> str:
    """What we score of a submission: the title, then the body (link posts have none)."""
    body = selftext.strip()
    return f"{title.strip()}\n\n{body}" if body and body not in ("[removed]", "[deleted]") else title.strip()


def parse_submission(submission: Any) -> RawText | None:
    """A praw Submission (or the `data` dict of a listing child) as RawText; None for stickied/NSFW posts."""
    get = (
        submission.get if isinstance(submission, dict) else lambda key, default=None: getattr(submission, key, default)
    )
    if get("stickied", False) or get("over_18", False):
        return None
    author = get("author")
    author_name = author if isinstance(author, str) else getattr(author, "name", None) or "[deleted]"
    subreddit = get("subreddit")
    community = subreddit if isinstance(subreddit, str) else getattr(subreddit, "display_name", None)
    return RawText(
        id=f"reddit:{get('name') or 't3_' + str(get('id'))}",
        source="reddit",
        author=author_name,
        url=f"{REDDIT_HOST}{get('permalink')}",
        text=submission_text(title=get("title") or "", selftext=get("selftext") or ""),
        published_at=datetime.fromtimestamp(float(get("created_utc") or 0), UTC),
        community=community,
        engagement=get("score"),
    )


class RedditCollector(TextCollector):
    """Newest submissions of r/stocks, r/wallstreetbets, r/investing (by default)."""

    name = "reddit"

    def __init__(self, settings: RedditSettings) -> None:
        import praw

        if not (settings.client_id and settings.client_secret):
            raise ConfigError(
                "the Reddit collector needs OAuth app credentials: set MARKETPULSE_SOCIAL__REDDIT__CLIENT_ID "
                "and MARKETPULSE_SOCIAL__REDDIT__CLIENT_SECRET"
            )
        self.settings = settings
        self.reddit = praw.Reddit(
            client_id=settings.client_id.get_secret_value(),
            client_secret=settings.client_secret.get_secret_value(),
            user_agent=settings.user_agent,
            oauth_url=settings.oauth_url,
            reddit_url=settings.reddit_url,
            check_for_updates=False,
            check_for_async=False,
        )
        self.reddit.read_only = True
        self.newest: datetime | None = None

    @property
    def poll_interval_s(self) -> float:
        return self.settings.poll_interval_s

    def quota(self) -> dict[str, Any]:
        limits = self.reddit.auth.limits
        return {key: value for key, value in limits.items() if value is not None}

    def fetch(self) -> list[Fetched]:
        import prawcore

        listing = self.reddit.subreddit("+".join(self.settings.subreddits)).new(limit=self.settings.limit)
        try:
            texts = parse_each("reddit", list(listing), parse_submission)
        except prawcore.TooManyRequests as exc:
            raise RateLimited("Reddit: 429 Too Many Requests", retry_at=_reset_time(exc.response)) from exc
        except (prawcore.Forbidden, prawcore.OAuthException) as exc:
            raise AccessDenied(f"Reddit refused: {exc}", status=403) from exc
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AccessDenied(f"Reddit refused: {exc}", status=status) from exc
            raise ProviderUnavailable(f"Reddit answered {status}: {exc}") from exc
        except (prawcore.ServerError, prawcore.RequestException) as exc:
            raise ProviderUnavailable(f"Reddit is unavailable: {exc}") from exc
        # >= : a submission in the same second as the last round's newest may be new; the id dedup catches repeats.
        read = [text for text in texts if isinstance(text, RawText)]
        fresh = [text for text in texts if not isinstance(text, RawText) or is_since(text, self.newest)]
        if read:
            self.newest = max([text.published_at for text in read] + ([self.newest] if self.newest else []))
        return fresh


def _reset_time(response: Any) -> float | None:
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("retry-after")
    return time.time() + float(reset) if reset else None
