"""Prometheus metrics of the alert service (served on api.alerts_metrics_port), in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: The buckets of the API's latency histograms, so both processes' stage latencies compare bucket for bucket.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AlertMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.stage_latency = Histogram(
            "marketpulse_pipeline_stage_latency_seconds",
            "Latency of one pipeline stage (seen by the alert service: data -> alert)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.alerts_fired = Counter("marketpulse_alerts_fired_total", "Alert rules that fired", registry=self.registry)
        self.webhooks = Counter(
            "marketpulse_alert_webhooks_total",
            "Alert webhook deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
