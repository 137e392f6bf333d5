"""Pipeline status: stream heartbeats from Redis and the counters of the ingest and market-job /metrics."""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from marketpulse.api.deps import ResourcesDep

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


class ServiceScrape(BaseModel):
    url: str
    up: bool
    values: dict[str, float] = Field(default_factory=dict)
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
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in _SERIES:
                label = _SERIES[sample.name]
                name = f"{sample.name}{{{label}={sample.labels.get(label, '')}}}" if label else sample.name
                values[name] = values.get(name, 0.0) + sample.value if not label else sample.value
    return ServiceScrape(url=url, up=True, values=values)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@router.get("/status", response_model=PipelineStatus, summary="Stream heartbeats, ingest counters, freshness")
def pipeline_status(resources: ResourcesDep) -> PipelineStatus:
    settings = resources.settings
    redis = resources.redis
    streams = []
    for key in sorted(redis.scan_iter(match="mp:stream:*:heartbeat", count=100)):
        beat = redis.hgetall(key)
        at, batch, rows = _number(beat.get("at")), _number(beat.get("batch_id")), _number(beat.get("rows"))
        streams.append(
            StreamHeartbeat(
                query=key.removeprefix("mp:stream:").removesuffix(":heartbeat"),
                batch_id=int(batch) if batch is not None else None,
                rows=int(rows) if rows is not None else None,
                age_s=round(time.time() - at, 3) if at is not None else None,
            )
        )
    host = settings.stack.host
    services = {
        "ingest": _scrape(f"http://{host}:{settings.ingest.metrics_port}/metrics"),
        "market-job": _scrape(f"http://{host}:{settings.stream.metrics_port}/metrics"),
    }
    return PipelineStatus(streams=streams, symbols=int(redis.scard("mp:symbols")), services=services)
