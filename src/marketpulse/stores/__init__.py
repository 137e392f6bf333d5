"""Stores: redis (online), cassandra (history), postgres (reporting), object storage (lake)."""
