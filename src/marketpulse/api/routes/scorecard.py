"""The live prediction scorecard: hit rate, Brier score and calibration bins per symbol, horizon and model version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from marketpulse.api.deps import ResourcesDep

router = APIRouter(prefix="/v1/scorecard", tags=["models"])

Filter = Annotated[str | None, Query(max_length=64, description="Only rows with this value.")]


@router.get("", summary="Scored predictions, aggregated per symbol / horizon / model version")
def read_scorecard(
    resources: ResourcesDep,
    symbol: Filter = None,
    horizon: Filter = None,
    model_name: Filter = None,
    model_version: Filter = None,
) -> dict[str, Any]:
    """`summary`: one row per (symbol, horizon, model_name, model_version) with n, hit_rate, brier, mean_prob,
    up_rate and calibration bins (P(up) deciles: n, mean_prob, up_rate); `totals`: the same over all symbols."""
    from marketpulse.models.scorecard import read_scorecard as read

    return read(resources.settings, symbol=symbol, horizon=horizon, model_name=model_name, model_version=model_version)
