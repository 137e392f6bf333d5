"""Kafka topic names (key = symbol where there is one). Rejected input goes to `<topic>.dlq`."""

from __future__ import annotations

from typing import Final


class Topics:
    """The platform's topics; see docs/ARCHITECTURE data contracts."""

    TICKS: Final = "market.ticks"
    BARS_1M: Final = "market.bars.1m"
    PREDICTIONS: Final = "signals.predictions"
    SOCIAL_POSTS: Final = "social.posts"
    NEWS_ARTICLES: Final = "news.articles"
    SENTIMENT: Final = "signals.sentiment"

    @staticmethod
    def dlq(topic: str) -> str:
        """The dead-letter topic of `topic`."""
        return f"{topic}.dlq"
