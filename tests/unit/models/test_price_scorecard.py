"""The live scorecard beside the walk-forward: expectation per served family, gaps and the drift flag."""

from __future__ import annotations

from typing import Any

import pytest

from marketpulse.models.scorecard import add_expectations, expected_scores

SELECTION = {
    "kind": "selection",
    "serving": {
        "1min": {
            "family": "persistence",
            "reason": "no candidate beats every baseline",
            "expected": {"rows": 900, "hit_rate": 0.57, "brier": 0.242, "log_loss": 0.677, "calibration": []},
        }
    },
}
SINGLE = {"kind": "gbm", "metrics": {"gbm": {"5min": {"rows": 10, "directional_accuracy": 0.6, "brier": 0.2}}}}


def _total(n: int, brier: float, sd: float, version: str = "v1", horizon: str = "1min") -> dict[str, Any]:
    return {"horizon": horizon, "model_name": "price", "model_version": version, "n": n, "hit_rate": 0.5,
            "brier": brier, "brier_sd": sd, "log_loss": 0.7}  # fmt: skip


def test_expected_scores_of_a_selection_and_of_a_single_family() -> None:
    assert expected_scores(SELECTION, "1min")["family"] == "persistence"  # type: ignore[index]
    assert expected_scores(SELECTION, "5min") is None  # a horizon it does not serve
    single = expected_scores(SINGLE, "5min")
    assert single is not None and (single["family"], single["hit_rate"], single["brier"]) == ("gbm", 0.6, 0.2)
    assert expected_scores({"kind": "logit_stack"}, "1min") is None and expected_scores(None, "1min") is None


@pytest.mark.parametrize(
    ("n", "brier", "sd", "drift"),
    [
        (50, 0.30, 0.1, "too few"),  # too few outcomes to judge
        (400, 0.243, 0.1, "within"),  # gap 0.001, standard error 0.005
        (400, 0.262, 0.1, "worse"),  # gap 0.02 > 2 x 0.005
        (400, 0.222, 0.1, "better"),
    ],
)
def test_drift_flag(n: int, brier: float, sd: float, drift: str) -> None:
    totals = [_total(n, brier, sd)]
    add_expectations(totals, lambda name, version: SELECTION)
    (row,) = totals
    assert row["drift"] == drift
    assert row["brier_gap"] == pytest.approx(brier - 0.242) and row["hit_rate_gap"] == pytest.approx(0.5 - 0.57)
    assert row["expected_rows"] == 900 and row["family"] == "persistence" and row["reason"]


def test_versions_without_a_backtest_say_so() -> None:
    totals = [_total(500, 0.25, 0.1, version="e1")]
    add_expectations(totals, lambda name, version: None)
    assert totals[0]["drift"] == "no backtest" and totals[0]["family"] is None
