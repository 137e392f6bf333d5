"""Histogram arithmetic of the health page, kept apart from the page module (which Dash imports as a page)."""

from __future__ import annotations


def window_quantile(bounds: list[float], now: list[float], before: list[float], q: float) -> float | None:
    """Quantile q of the observations between two cumulative histograms (linear within a bucket), None if none.
    `now`/`before`: the cumulative counts at `bounds`, then the total (the +Inf bucket)."""
    deltas = [max(0.0, n - b) for n, b in zip(now, before, strict=True)]
    total = deltas[-1] if deltas else 0.0
    if total <= 0 or not bounds:
        return None
    rank, low, below = q * total, 0.0, 0.0
    for bound, cumulative in zip(bounds, deltas[:-1], strict=True):
        if cumulative >= rank:
            share = (rank - below) / (cumulative - below) if cumulative > below else 1.0
            return low + (bound - low) * share
        low, below = bound, cumulative
    return bounds[-1]  # above the last finite bound: the bound is the honest floor
