"""Dependencies as `Annotated` aliases, so handler signatures read like prose.

They are `async def` although they do not await: FastAPI runs a sync dependency in its thread pool, a hop that
costs more than the dependency itself on the latest-quote path.

The app's long-lived clients live on `app.state.resources` (built in the lifespan handler of `create_app`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import redis
from fastapi import Depends, Path, Query, Request

from marketpulse.api.history import History
from marketpulse.api.metrics import ApiMetrics
from marketpulse.api.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_SPAN,
    PREDICTIONS_MAX_SPAN,
    PageRequest,
    decode_cursor,
    resolve_window,
)
from marketpulse.config import Settings
from marketpulse.contracts.market import SYMBOL_PATTERN


@dataclass
class Resources:
    settings: Settings
    redis: redis.Redis
    history: History
    metrics: ApiMetrics
    #: redis.asyncio client for the hot paths, which then never leave the event loop.
    aredis: Any = None
    #: The latest-quote read (one Lua round trip, bytes out).
    latest: Any = None


async def get_resources(request: Request) -> Resources:
    resources = request.app.state.resources
    assert isinstance(resources, Resources), "create_app's lifespan builds the resources"
    return resources


async def get_redis(request: Request) -> redis.Redis:
    return (await get_resources(request)).redis


async def get_async_redis(request: Request) -> Any:
    return (await get_resources(request)).aredis


async def get_history(request: Request) -> History:
    return (await get_resources(request)).history


RedisDep = Annotated[redis.Redis, Depends(get_redis)]
AsyncRedisDep = Annotated[Any, Depends(get_async_redis)]
HistoryDep = Annotated[History, Depends(get_history)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]

Symbol = Annotated[
    str,
    Path(pattern=SYMBOL_PATTERN, description="Ticker, upper-case: AAPL, BRK.B, BF-B.", examples=["AAPL"]),
]
IntervalParam = Annotated[Literal["1s", "1min"], Query(description="Bar interval.")]
Start = Annotated[
    datetime | None, Query(description="Inclusive lower bound, ISO-8601; no offset means UTC. Default end - 1 day.")
]
End = Annotated[
    datetime | None, Query(description="Exclusive upper bound, ISO-8601; no offset means UTC. Default now.")
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
CursorParam = Annotated[str | None, Query(description="`next_cursor` of the previous page.", max_length=512)]


async def series_page(
    interval: IntervalParam = "1min",
    start: Start = None,
    end: End = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> PageRequest:
    """Bars and indicators: the interval bounds how long a range may be (1 s data is 60 times denser)."""
    window = resolve_window(start, end, now=datetime.now(UTC), max_span=MAX_SPAN[interval])
    return PageRequest(window, limit, decode_cursor(cursor) if cursor is not None else None, interval)


async def predictions_page(
    start: Start = None, end: End = None, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None
) -> PageRequest:
    """Predictions: the cursor also carries (horizon, model_name), the clustering columns after feature_ts."""
    window = resolve_window(start, end, now=datetime.now(UTC), max_span=PREDICTIONS_MAX_SPAN)
    return PageRequest(window, limit, decode_cursor(cursor, key_count=2) if cursor is not None else None)


SeriesPage = Annotated[PageRequest, Depends(series_page)]
PredictionsPage = Annotated[PageRequest, Depends(predictions_page)]
