"""The read API (FastAPI): latest state from Redis, bars/indicators/predictions from Cassandra."""

from marketpulse.api.app import create_app

__all__ = ["create_app"]
