"""Technical indicators of a symbol from Cassandra, newest first, paginated with an opaque cursor."""

from __future__ import annotations

from fastapi import APIRouter

from marketpulse.api.deps import HistoryDep, SeriesPage, Symbol
from marketpulse.api.history import INDICATORS
from marketpulse.api.schemas import IndicatorOut, Page

router = APIRouter(prefix="/v1/symbols", tags=["history"])


@router.get(
    "/{symbol}/indicators", response_model=Page[IndicatorOut], summary="Indicator snapshots of a symbol, newest first"
)
def read_indicators(symbol: Symbol, page: SeriesPage, history: HistoryDep) -> Page[IndicatorOut]:
    """Snapshots as of each bar's close with start <= ts < end; null values are warm-up periods."""
    rows, next_cursor = history.page(INDICATORS, (symbol, str(page.interval)), page)
    return Page[IndicatorOut](items=[IndicatorOut.model_validate(row) for row in rows], next_cursor=next_cursor)
