"""Prometheus metrics of the text collectors, one series per collector (x, reddit, news)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROUNDS = Counter("marketpulse_social_rounds_total", "Polling rounds started", ["collector"])
FETCHED = Counter("marketpulse_social_fetched_total", "Texts returned by the provider", ["collector"])
ACCEPTED = Counter("marketpulse_social_accepted_total", "Texts sent to Kafka", ["collector"])
DROPPED = Counter(
    "marketpulse_social_dropped_total",
    "Texts dropped, by reason: duplicate_id, duplicate_url, near_duplicate, bot, unlinked, invalid",
    ["collector", "reason"],
)
REFUSED = Counter(
    "marketpulse_social_refused_total",
    "Requests the provider refused (429 rate limit, 401/403)",
    ["collector", "status"],
)
ERRORS = Counter(
    "marketpulse_social_errors_total", "Rounds failed by connection errors, timeouts or 5xx", ["collector"]
)
STATE = Gauge(
    "marketpulse_social_collector_state",
    "1 for the collector's current state (polling, waiting, rate_limited, forbidden, backoff, ...), else 0",
    ["collector", "state"],
)
RETRY_AT = Gauge(
    "marketpulse_social_retry_at_timestamp_seconds",
    "When a refused or failing collector tries again (0 when it is not backing off)",
    ["collector"],
)
LAST_SUCCESS = Gauge(
    "marketpulse_social_last_success_timestamp_seconds", "Wall time of the last successful round", ["collector"]
)
QUOTA_REMAINING = Gauge(
    "marketpulse_social_quota_remaining", "Requests left in the provider's current rate-limit window", ["collector"]
)
