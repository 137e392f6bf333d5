"""OHLCV bars of a symbol from Cassandra, newest first, paginated with an opaque cursor."""

from __future__ import annotations

from fastapi import APIRouter

from marketpulse.api.deps import HistoryDep, SeriesPage, Symbol
from marketpulse.api.history import BARS
from marketpulse.api.schemas import BarOut, Page

router = APIRouter(prefix="/v1/symbols", tags=["history"])


@router.get("/{symbol}/bars", response_model=Page[BarOut], summary="Bars of a symbol, newest first")
def read_bars(symbol: Symbol, page: SeriesPage, history: HistoryDep) -> Page[BarOut]:
    """Bars with start <= ts < end (default: the day before now), `limit` per page; pass `next_cursor` back as
    `cursor` for older ones. A symbol without bars in the range gives an empty page, not 404."""
    rows, next_cursor = history.page(BARS, (symbol, str(page.interval)), page)
    return Page[BarOut](items=[BarOut.model_validate(row) for row in rows], next_cursor=next_cursor)
