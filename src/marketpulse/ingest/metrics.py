"""Prometheus metrics of the ingest service (module-level: prometheus_client registers each name once)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("marketpulse_ingest_events_in_total", "Events read from a source", ["source"])
EVENTS_OUT = Counter("marketpulse_ingest_events_out_total", "Records acknowledged by Kafka", ["topic"])
DLQ = Counter("marketpulse_ingest_dlq_total", "Records sent to a dead-letter topic", ["topic", "stage"])
DELIVERY_ERRORS = Counter("marketpulse_ingest_delivery_errors_total", "Records Kafka finally refused", ["topic"])
BROKER_LATENCY = Histogram(
    "marketpulse_ingest_broker_latency_seconds",
    "Time from producing a record to its acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SOURCE_LAST_EVENT = Gauge(
    "marketpulse_ingest_source_last_event_timestamp_seconds", "Wall time of the last event from a source", ["source"]
)
