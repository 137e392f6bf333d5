"""Symbols known to the platform and their latest state, from Redis."""

from __future__ import annotations

from fastapi import APIRouter, Response

from marketpulse.api.deps import CursorParam, Limit, RedisDep, ResourcesDep, Symbol
from marketpulse.api.latest import summarize, summary_field_names
from marketpulse.api.paging import DEFAULT_LIMIT, Cursor, decode_cursor, encode_cursor
from marketpulse.api.schemas import LatestState, Page, SymbolSummary
from marketpulse.stores.redis_store import SYMBOLS_KEY, latest_key

router = APIRouter(prefix="/v1/symbols", tags=["symbols"])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@router.get("", response_model=Page[SymbolSummary], summary="Symbols seen by the stream, with their latest price")
def list_symbols(redis: RedisDep, limit: Limit = DEFAULT_LIMIT, cursor: CursorParam = None) -> Page[SymbolSummary]:
    """Alphabetical, `limit` per page; pass `next_cursor` back as `cursor` for the next page."""
    after = decode_cursor(cursor, key_count=1).keys[0] if cursor else ""
    symbols = sorted(s for s in (_text(member) for member in redis.smembers(SYMBOLS_KEY)) if s > after)
    page, more = symbols[:limit], len(symbols) > limit
    pipe = redis.pipeline(transaction=False)
    for symbol in page:
        pipe.hmget(latest_key(symbol), summary_field_names())
    prices = pipe.execute() if page else []
    items = [summarize(symbol, values) for symbol, values in zip(page, prices, strict=True)]
    return Page[SymbolSummary](items=items, next_cursor=encode_cursor(Cursor(0, (page[-1],))) if more else None)


@router.get(
    "/{symbol}/latest",
    response_model=LatestState,
    summary="Latest tick, bars and indicators of a symbol",
    responses={404: {"description": "Symbol never seen by the stream"}},
)
async def latest(symbol: Symbol, resources: ResourcesDep) -> Response:
    """The document the stream keeps ready in Redis, sent as stored (its shape is LatestState, tested)."""
    # The key's rate was taken by the router's dependency; api.fast_latest serves this route before FastAPI.
    return Response(await resources.latest.read(symbol), media_type="application/json")
