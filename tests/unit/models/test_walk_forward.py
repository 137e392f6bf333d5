"""Walk-forward splits without leakage, the backtest, the scores and the report, checked by hand (the promotion
rule: test_price_selection.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from marketpulse.errors import ConfigError
from marketpulse.models.data import build_dataset, replay_minute_bars
from marketpulse.models.metrics import (
    calibration_bins,
    forecast_scores,
    information_coefficient,
    long_flat_backtest,
    non_overlapping,
)
from marketpulse.models.walk_forward import fold_rows, walk_forward_splits

SESSIONS = [date(2012, 11, 1) + timedelta(days=i) for i in range(20)]


def test_splits_are_ordered_disjoint_and_end_with_the_test_blocks() -> None:
    splits = walk_forward_splits(SESSIONS, folds=3, test_sessions=2, cal_fraction=0.25)
    assert [s.test for s in splits] == [SESSIONS[14:16], SESSIONS[16:18], SESSIONS[18:20]]
    for split in splits:
        assert max(split.fit) < min(split.cal) and max(split.cal) < min(split.test)
        assert split.fit[0] == SESSIONS[0]  # expanding window
        assert split.cal == SESSIONS[len(split.fit) : len(split.fit) + len(split.cal)]
    rolling = walk_forward_splits(SESSIONS, folds=2, test_sessions=2, train_sessions=8)
    assert all(len(s.fit) + len(s.cal) == 8 for s in rolling)
    with pytest.raises(ConfigError, match="sessions"):
        walk_forward_splits(SESSIONS[:6], folds=3, test_sessions=2)


def test_fold_rows_purge_labels_that_reach_into_later_periods() -> None:
    bars = replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 21), ticks_per_day=400, seed=5)
    data = build_dataset(bars, ["1min", "5min", "1d"], window=8)
    sessions = sorted(set(data.sessions.tolist()))
    split = walk_forward_splits(sessions, folds=1, test_sessions=3)[0]
    rows = fold_rows(data, split)
    ts = data.ts_ns
    cal_start = ts[np.isin(data.sessions, np.array(split.cal, dtype=object))].min()
    test_start = ts[np.isin(data.sessions, np.array(split.test, dtype=object))].min()
    for horizon in ("1min", "5min", "1d"):
        assert (data.end_ns[horizon][rows.fit[horizon]] < cal_start).all()
        assert (data.end_ns[horizon][rows.cal[horizon]] < test_start).all()
        assert (ts[rows.test[horizon]] >= test_start).all()
        assert data.window_ok[rows.fit[horizon]].all() and data.window_ok[rows.test[horizon]].all()
    # The 1-day labels of the last fit session would end in the calibration period: they are dropped.
    last_fit = np.isin(data.sessions, np.array([split.fit[-1]], dtype=object)) & data.window_ok
    assert not np.isin(np.flatnonzero(last_fit), rows.fit["1d"]).any()
    assert np.isin(np.flatnonzero(last_fit), rows.fit["1min"]).any()


def test_scores_by_hand() -> None:
    p = np.array([0.8, 0.3, 0.6, 0.4])
    ret = np.array([0.01, -0.02, -0.01, 0.0])  # a zero return counts as "not up"
    scores = forecast_scores(p, ret)
    y = np.array([1, 0, 0, 0])
    assert scores["brier"] == pytest.approx(((p - y) ** 2).mean())
    assert scores["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.4, 0.6])))
    assert scores["directional_accuracy"] == pytest.approx(3 / 4)
    assert scores["auc"] == pytest.approx(1.0)  # the one up row has the highest probability
    assert information_coefficient(np.full(4, 0.5), ret) == 0.0
    assert information_coefficient(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])) == pytest.approx(1.0)
    bins = calibration_bins(p, y.astype(float))
    assert [(b["lower"], b["count"], b["up_rate"]) for b in bins] == [
        (pytest.approx(0.3), 1, 0.0),
        (pytest.approx(0.4), 1, 0.0),
        (pytest.approx(0.6), 1, 0.0),
        (pytest.approx(0.8), 1, 1.0),
    ]


def test_long_flat_backtest_by_hand() -> None:
    p = np.array([0.6, 0.7, 0.4, 0.9])
    ret = np.array([0.01, -0.02, 0.03, 0.01])
    result = long_flat_backtest(p, ret, cost_bps=10)
    # long, long, flat, long: entries at 0 and 3, exit at 2 -> 3 changes x 10 bp
    assert result["strategy_gross_log_return"] == pytest.approx(0.01 - 0.02 + 0.01)
    assert result["strategy_log_return"] == pytest.approx(0.0 - 3 * 0.001)
    assert result["buy_hold_log_return"] == pytest.approx(0.03 - 0.001)
    assert result["trades"] == 3 and result["exposure"] == pytest.approx(0.75)


def test_non_overlapping_periods_start_after_the_previous_end() -> None:
    symbols = np.array(["A", "A", "A", "A", "B", "B"])
    ts = np.array([0, 1, 5, 6, 0, 3])
    end = np.array([5, 6, 10, 11, 3, 6])
    assert non_overlapping(symbols, ts, end).tolist() == [0, 2, 4, 5]


def test_report_has_every_model_fold_symbol_and_plot() -> None:
    import pandas as pd

    from marketpulse.models.report import build_report
    from marketpulse.models.walk_forward import Evaluation, Split, promotion_decision, score_predictions

    rng = np.random.default_rng(1)
    frames = []
    for model in ("tcn", "climatology", "persistence", "logistic"):
        for fold in (1, 2):
            for symbol in ("AAPL", "MSFT"):
                ts = pd.date_range(f"2013-01-0{fold + 1} 15:00", periods=50, freq="min", tz="UTC")
                frames.append(
                    pd.DataFrame(
                        {
                            "fold": fold,
                            "model": model,
                            "horizon": "1min",
                            "symbol": symbol,
                            "ts": ts,
                            "end_ns": (ts + pd.Timedelta(minutes=1)).astype("int64"),
                            "prob_up": rng.uniform(0.3, 0.7, 50),
                            "expected_return": 0.0,
                            "ret": rng.normal(0, 1e-3, 50),
                        }
                    )
                )
    predictions = pd.concat(frames, ignore_index=True)
    predictions["session"] = predictions["ts"].dt.date.astype(str)
    metrics = score_predictions(predictions, cost_bps=1.0)
    assert metrics["tcn"]["1min"]["pooled"]["rows"] == 200
    assert set(metrics["tcn"]["1min"]["per_symbol"]) == {"AAPL", "MSFT"}
    splits = [Split([SESSIONS[0]], [SESSIONS[1]], [SESSIONS[2]]), Split([SESSIONS[0]], [SESSIONS[2]], [SESSIONS[3]])]
    decision = promotion_decision(predictions, ["1min"], "1min", 2)
    report = build_report(Evaluation(predictions, splits, None, metrics), decision, "test report", {"cost_bps": 1.0})
    for model in ("tcn", "climatology", "persistence", "logistic"):
        assert f"| {model} | 200 |" in report.markdown
    assert f"### Served: {decision.serving['1min'].family}" in report.markdown
    assert "| tcn | persistence |" in report.markdown  # the paired comparison table
    assert "| AAPL | 100 |" in report.markdown and "fold 2" in report.markdown
    assert set(report.plots) == {"logloss_1min.svg", "calibration_1min.svg", "equity_1min.svg"}
    assert report.html.count("<svg") == 3 and "<table>" in report.html
