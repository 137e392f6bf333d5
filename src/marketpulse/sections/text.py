"""Settings of the text collectors (`Settings.social`) and of the sentiment job and fusion (`Settings.sentiment`).

Credentials are SecretStr with no default: a collector whose keys are missing refuses to start with a
ConfigError that names the variables to set (MARKETPULSE_SOCIAL__X__BEARER_TOKEN, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from marketpulse.sections.providers import BackoffSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class XSettings(_Section):
    """X (Twitter) API v2 through tweepy: recent search, polled."""

    base_url: str = Field("https://api.twitter.com", description="API host; tests point it at a local fake.")
    mode: Literal["auto", "stream", "search"] = Field(
        "auto", description="Filtered stream, recent search, or auto: the stream unless the tier refuses it (403)."
    )
    bearer_token: SecretStr | None = Field(None, description="App-only bearer token of an X developer app.")
    poll_interval_s: float = Field(60.0, gt=0, description="Pause between recent-search rounds.")
    max_pages: int = Field(5, ge=1, description="Pages (of up to 100 posts) read per query and round.")
    query_suffix: str = Field("-is:retweet lang:en", description="Appended to every search query.")


class RedditSettings(_Section):
    """Reddit through praw, application-only OAuth (client credentials: read-only)."""

    oauth_url: str = Field("https://oauth.reddit.com", description="API host; tests point it at a local fake.")
    reddit_url: str = Field("https://www.reddit.com", description="Token endpoint host.")
    client_id: SecretStr | None = Field(None, description="OAuth app client id.")
    client_secret: SecretStr | None = Field(None, description="OAuth app client secret.")
    user_agent: str = Field("marketpulse:sentiment-collector:0.1 (open source)", min_length=10)
    subreddits: list[str] = Field(["stocks", "wallstreetbets", "investing"], min_length=1)
    poll_interval_s: float = Field(60.0, gt=0, description="Pause between listing rounds.")
    limit: int = Field(100, ge=1, le=1000, description="Newest submissions read per round.")


class NewsSettings(_Section):
    """NewsAPI.org through newsapi-python: /v2/everything by symbol and company name, plus business headlines."""

    base_url: str = Field("https://newsapi.org", description="API host; tests point it at a local fake.")
    api_key: SecretStr | None = Field(None, description="NewsAPI key.")
    poll_interval_s: float = Field(
        3600.0, gt=0, description="Pause between rounds (the free plan allows 100 requests/day)."
    )
    daily_quota: int = Field(100, ge=1, description="Requests per UTC day our plan allows; we stop before it.")
    page_size: int = Field(100, ge=1, le=100)
    max_pages: int = Field(1, ge=1, description="Pages per query and round (the developer plan serves one).")
    language: str = Field("en")


class SocialSettings(_Section):
    """The text collectors: which symbols, filters, backoff, and each provider's endpoint and keys."""

    symbols: list[str] = Field(
        ["AAPL", "MSFT", "GOOG", "IBM", "FB"], description="Symbols searched for (must be in the reference table)."
    )
    metrics_port: int = Field(9110, ge=1, le=65535, description="/metrics and /healthz of a collector process.")
    dedup_memory: int = Field(50_000, ge=100, description="Recent ids, urls and text fingerprints remembered.")
    seen_ttl_s: int = Field(
        14 * 86_400, ge=60, description="How long Redis remembers a sent id, so a restarted collector skips it."
    )
    seen_prefix: str = Field("mp:social:seen", min_length=1, description="Redis key prefix of the sent ids.")
    near_duplicate_bits: int = Field(5, ge=0, le=16, description="SimHash distance at or under which texts match.")
    max_cashtags: int = Field(6, ge=1, description="More cashtags than this in one text: a pump list, dropped.")
    max_posts_per_author_hour: int = Field(20, ge=1, description="More posts per author per hour: a bot.")
    backoff: BackoffSettings = BackoffSettings(base_s=5.0, max_s=900.0)
    x: XSettings = XSettings()
    reddit: RedditSettings = RedditSettings()
    news: NewsSettings = NewsSettings()


class SentimentSettings(_Section):
    """The sentiment job (scoring, windows) and the market job's point-in-time fusion."""

    model: Literal["minilm", "vader"] = Field("minilm", description="Sentiment model kind (vader: lexicon).")
    window: str = Field("30min", description="Tumbling window on known_at (pandas offset, e.g. 15min).")
    baseline_windows: int = Field(48, ge=1, description="Windows before a window that define its usual buzz.")
    max_age: str = Field("1D", description="A bar uses no window older than this (pandas offset).")
    trigger_interval: str = Field("5 seconds", description="Micro-batch trigger of the sentiment job.")
    max_offsets_per_trigger: int = Field(5_000, ge=1, description="Cap on texts per micro-batch.")
    recent_windows: int = Field(5_000, ge=10, description="Windows per symbol kept in Redis for the fusion.")
    metrics_port: int = Field(9111, ge=1, le=65535, description="Port of the sentiment job's /metrics.")
    torch_threads: int = Field(1, ge=1, description="Torch threads per Spark Python worker (2 cores shared).")
