"""Model predictions of a symbol from Cassandra, newest feature time first, paginated with an opaque cursor."""

from __future__ import annotations

from fastapi import APIRouter

from marketpulse.api.deps import HistoryDep, PredictionsPage, Symbol
from marketpulse.api.history import PREDICTIONS
from marketpulse.api.schemas import Page, PredictionOut

router = APIRouter(prefix="/v1/symbols", tags=["history"])


@router.get(
    "/{symbol}/predictions", response_model=Page[PredictionOut], summary="Predictions of a symbol, newest first"
)
def read_predictions(symbol: Symbol, page: PredictionsPage, history: HistoryDep) -> Page[PredictionOut]:
    """Predictions with start <= feature_ts < end, ordered by feature_ts desc, then horizon and model name."""
    rows, next_cursor = history.page(PREDICTIONS, (symbol,), page)
    return Page[PredictionOut](items=[PredictionOut.model_validate(row) for row in rows], next_cursor=next_cursor)
