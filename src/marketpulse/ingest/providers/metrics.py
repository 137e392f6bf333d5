"""Prometheus metrics of the live providers, one series per provider name."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTED = Gauge(
    "marketpulse_provider_connected", "1 while the provider is authenticated and subscribed, else 0", ["provider"]
)
LAST_MESSAGE = Gauge(
    "marketpulse_provider_last_message_timestamp_seconds",
    "Wall time of the last frame received from the provider (freshness)",
    ["provider"],
)
MESSAGES = Counter(
    "marketpulse_provider_messages_total",
    "Messages received, by kind: trade, rejected, control, ignored",
    ["provider", "kind"],
)
RECONNECTS = Counter("marketpulse_provider_reconnects_total", "Connection attempts after the first", ["provider"])
PARSE_ERRORS = Counter(
    "marketpulse_provider_parse_errors_total", "Messages passed on with a reject reason (sent to the DLQ)", ["provider"]
)
AUTH_FAILURES = Counter("marketpulse_provider_auth_failures_total", "Rejected credentials", ["provider"])
