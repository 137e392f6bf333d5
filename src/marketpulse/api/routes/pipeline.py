"""Pipeline status: stream heartbeats from Redis, the counters of the ingest and market-job /metrics, and the
per-stage latency histograms (ingest -> Kafka, Kafka -> batch, stores, Redis, Redis -> WebSocket) as cumulative
buckets, from which a client computes quantiles over any window (the dashboard's health page does)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import httpx
from fastapi import APIRouter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from marketpulse.api.deps import ResourcesDep
from marketpulse.stores.redis_store import SYMBOLS_KEY, read_heartbeats

router = APIRouter(prefix="/v1/pipeline", tags=["operations"])
SCRAPE_TIMEOUT_S = 0.5

#: Series summed per service for the status (name -> label kept, or None for the total).
_SERIES = {
    "marketpulse_ingest_events_in_total": None,
    "marketpulse_ingest_events_out_total": None,
    "marketpulse_ingest_dlq_total": None,
    "marketpulse_ingest_source_last_event_timestamp_seconds": "source",
}


class StreamHeartbeat(BaseModel):
    query: str
    batch_id: int | None
    rows: int | None
    age_s: float | None = Field(description="Seconds since the query's last micro-batch.")


#: Histograms whose buckets are passed on: name -> stage label (None: the stage is the name's).
_HISTOGRAMS = {
    "marketpulse_pipeline_stage_latency_seconds": "stage",
    "marketpulse_ingest_broker_latency_seconds": None,
}
#: Counters passed on by their labels joined with "/": series -> (ServiceScrape field, labels).
_LABELLED_COUNTERS = {
    "marketpulse_ingest_dlq_total": ("dlq", ("topic", "stage")),
    "marketpulse_stream_restarts_total": ("restarts", ("job", "verdict")),
}


class StageHistogram(BaseModel):
    """Cumulative buckets of one stage since its process started (JSON has no +Inf: the total is `count`)."""

    bounds_s: list[float] = Field(default_factory=list, description="Upper bounds (s) of the finite buckets.")
    counts: list[float] = Field(default_factory=list, description="Observations <= each bound.")
    count: float = Field(0.0, description="All observations.")


class ServiceScrape(BaseModel):
    url: str
    up: bool
    values: dict[str, float] = Field(default_factory=dict)
    stages: dict[str, StageHistogram] = Field(default_factory=dict, description="Latency histogram per stage.")
    dlq: dict[str, float] = Field(default_factory=dict, description="'topic/stage' -> records sent to a DLQ.")
    restarts: dict[str, float] = Field(default_factory=dict, description="'job/verdict' -> supervisor restarts.")
    error: str | None = None


class PipelineStatus(BaseModel):
    streams: list[StreamHeartbeat]
    symbols: int
    services: dict[str, ServiceScrape]


def _scrape(url: str) -> ServiceScrape:
    try:
        text = httpx.get(url, timeout=SCRAPE_TIMEOUT_S).text
    except httpx.HTTPError as exc:
        return ServiceScrape(url=url, up=False, error=type(exc).__name__)
    return summarize(url, text_string_to_metric_families(text))


def summarize(url: str, families: Iterable[Metric]) -> ServiceScrape:
    """The series the status reports, from parsed metric families (a scrape, or this API's own registry)."""
    scrape = ServiceScrape(url=url, up=True)
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in families:
        for sample in family.samples:
            if sample.name in _SERIES:
                label = _SERIES[sample.name]
                name = f"{sample.name}{{{label}={sample.labels.get(label, '')}}}" if label else sample.name
                scrape.values[name] = scrape.values.get(name, 0.0) + sample.value if not label else sample.value
            elif sample.name.endswith("_bucket") and sample.name.removesuffix("_bucket") in _HISTOGRAMS:
                base = sample.name.removesuffix("_bucket")
                label = _HISTOGRAMS[base]
                stage = sample.labels.get(label, "") if label else base.removeprefix("marketpulse_")
                buckets.setdefault(stage, []).append((float(sample.labels["le"]), sample.value))
            if sample.name in _LABELLED_COUNTERS:  # the DLQ total is also summed in `values` above
                field, labels = _LABELLED_COUNTERS[sample.name]
                counts: dict[str, float] = getattr(scrape, field)
                key = "/".join(sample.labels.get(label, "") for label in labels)
                counts[key] = counts.get(key, 0.0) + sample.value
    for stage, pairs in buckets.items():
        pairs.sort()
        finite = [(bound, count) for bound, count in pairs if math.isfinite(bound)]
        scrape.stages[stage] = StageHistogram(
            bounds_s=[b for b, _ in finite], counts=[c for _, c in finite], count=pairs[-1][1]
        )
    return scrape


@router.get("/status", response_model=PipelineStatus, summary="Stream heartbeats, ingest counters, freshness")
def pipeline_status(resources: ResourcesDep) -> PipelineStatus:
    settings = resources.settings
    redis = resources.redis
    now = time.time()
    streams = [
        StreamHeartbeat(
            query=query,
            batch_id=beat.batch_id if beat else None,
            rows=beat.rows if beat else None,
            age_s=round(beat.age_s(now), 3) if beat else None,
        )
        for query, beat in read_heartbeats(redis).items()
    ]
    host = settings.stack.host
    services = {
        "ingest": _scrape(f"http://{host}:{settings.ingest.metrics_port}/metrics"),
        "market-job": _scrape(f"http://{host}:{settings.stream.metrics_port}/metrics"),
        # This API's own stages (Redis -> WebSocket), summed over its workers.
        "api": summarize("self", resources.metrics.exposition.collect()),
    }
    return PipelineStatus(streams=streams, symbols=int(redis.scard(SYMBOLS_KEY)), services=services)
