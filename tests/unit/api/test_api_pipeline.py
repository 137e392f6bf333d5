"""The pipeline status reads stage-latency histograms and DLQ counters out of a service's /metrics text."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from marketpulse.api.routes.pipeline import summarize

pytestmark = pytest.mark.unit

METRICS = """
# TYPE marketpulse_pipeline_stage_latency_seconds histogram
marketpulse_pipeline_stage_latency_seconds_bucket{le="0.1",stage="kafka_to_batch"} 3.0
marketpulse_pipeline_stage_latency_seconds_bucket{le="0.01",stage="kafka_to_batch"} 1.0
marketpulse_pipeline_stage_latency_seconds_bucket{le="+Inf",stage="kafka_to_batch"} 4.0
marketpulse_pipeline_stage_latency_seconds_count{stage="kafka_to_batch"} 4.0
marketpulse_pipeline_stage_latency_seconds_sum{stage="kafka_to_batch"} 0.5
# TYPE marketpulse_ingest_broker_latency_seconds histogram
marketpulse_ingest_broker_latency_seconds_bucket{le="0.005"} 7.0
marketpulse_ingest_broker_latency_seconds_bucket{le="+Inf"} 8.0
# TYPE marketpulse_ingest_dlq_total counter
marketpulse_ingest_dlq_total{topic="market.ticks.dlq",stage="validate"} 5.0
marketpulse_ingest_events_in_total{source="replay"} 10.0
"""


def test_stage_buckets_sorted_by_bound_and_dlq_by_topic_and_stage() -> None:
    scrape = summarize("http://x/metrics", text_string_to_metric_families(METRICS))
    batch = scrape.stages["kafka_to_batch"]
    assert (batch.bounds_s, batch.counts, batch.count) == ([0.01, 0.1], [1.0, 3.0], 4.0)  # sorted, +Inf as count
    assert scrape.stages["ingest_broker_latency_seconds"].count == 8.0
    assert scrape.dlq == {"market.ticks.dlq/validate": 5.0}
    assert scrape.values == {"marketpulse_ingest_dlq_total": 5.0, "marketpulse_ingest_events_in_total": 10.0}


def test_the_health_page_takes_quantiles_of_the_window_between_two_scrapes() -> None:
    from marketpulse.dashboard.quantiles import window_quantile

    bounds = [0.01, 0.1, 1.0]
    before = [10.0, 10.0, 10.0, 10.0]  # old observations, all fast: they must not count
    now = [10.0, 15.0, 19.0, 20.0]  # this window: 5 in (0.01, 0.1], 4 in (0.1, 1], 1 above 1 s
    assert window_quantile(bounds, now, before, 0.5) == pytest.approx(0.1)
    assert window_quantile(bounds, now, before, 0.9) == pytest.approx(1.0)
    assert window_quantile(bounds, now, before, 0.99) == 1.0  # beyond the last bound: the bound as a floor
    assert window_quantile(bounds, before, before, 0.5) is None  # nothing observed in the window
