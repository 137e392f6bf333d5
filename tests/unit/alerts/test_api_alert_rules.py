"""Alert conditions (pure): crossing semantics, missing data, combinations, and webhook signatures."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from marketpulse.alerts.engine import merge_update
from marketpulse.alerts.rules import Condition, Memory, State, step
from marketpulse.alerts.webhook import sign, verify

pytestmark = pytest.mark.unit
conditions: TypeAdapter[Any] = TypeAdapter(Condition)


def run(condition: dict[str, Any], updates: list[dict[str, Any]]) -> list[bool]:
    """Fold published-style updates (flat kind.field) into a state and step the rule after each."""
    rule, state, memory = conditions.validate_python(condition), State(), Memory()
    fired = []
    for update in updates:
        merge_update(state, {"symbol": "AAPL", **update})
        fired.append(step(rule, state, memory))
    return fired


def test_price_cross_fires_once_when_crossing_not_while_above() -> None:
    prices = [99.0, 99.5, 100.5, 101.0, 99.0, 100.2]
    fired = run({"type": "price_cross", "direction": "above", "level": 100}, [{"tick.price": p} for p in prices])
    assert fired == [False, False, True, False, False, True]


def test_price_cross_does_not_fire_on_the_first_observation() -> None:
    fired = run({"type": "price_cross", "direction": "below", "level": 100}, [{"tick.price": 90.0}])
    assert fired == [False]


def test_price_falls_back_to_bar_close_without_ticks() -> None:
    updates = [{"bar_1m.close": 99.0, "bar_1m.ts": "t1"}, {"bar_1m.close": 101.0, "bar_1m.ts": "t2"}]
    assert run({"type": "price_cross", "direction": "above", "level": 100}, updates) == [False, True]


def test_rsi_and_prediction_thresholds() -> None:
    rsi = run({"type": "rsi", "direction": "above", "threshold": 70}, [{"ind.rsi_14": v} for v in (65, 72, 75)])
    assert rsi == [False, True, False]
    prob = run(
        {"type": "prediction", "direction": "below", "threshold": 0.4}, [{"pred.prob_up": v} for v in (0.5, 0.3)]
    )
    assert prob == [False, True]


def test_missing_data_is_a_no_op() -> None:
    # No sentiment section ever arrives: the rule never fires and nothing raises.
    updates = [{"tick.price": 100.0}, {"tick.price": 101.0}]
    assert run({"type": "sentiment_shift", "delta": 0.3}, updates) == [False, False]
    assert run({"type": "rsi", "direction": "above", "threshold": 70}, updates) == [False, False]


def test_sentiment_shift_fires_on_a_large_enough_move_in_its_direction() -> None:
    scores = [0.1, 0.2, 0.6, 0.65, 0.1]
    up = run({"type": "sentiment_shift", "direction": "up", "delta": 0.3}, [{"sent.mean": s} for s in scores])
    down = run({"type": "sentiment_shift", "direction": "down", "delta": 0.3}, [{"sent.mean": s} for s in scores])
    assert up == [False, False, True, False, False]
    assert down == [False, False, False, False, True]


def test_all_combination_fires_when_the_last_part_becomes_true() -> None:
    rule = {
        "type": "all",
        "conditions": [
            {"type": "price_cross", "direction": "above", "level": 100},
            {"type": "rsi", "direction": "above", "threshold": 70},
        ],
    }
    updates = [
        {"tick.price": 99.0, "ind.rsi_14": 60.0},
        {"tick.price": 101.0},  # price above, RSI not yet
        {"ind.rsi_14": 71.0},  # now both
        {"tick.price": 102.0},  # still both: no new firing
    ]
    assert run(rule, updates) == [False, False, True, False]


def test_any_combination() -> None:
    rule = {
        "type": "any",
        "conditions": [
            {"type": "prediction", "direction": "above", "threshold": 0.7},
            {"type": "rsi", "direction": "below", "threshold": 30},
        ],
    }
    updates = [{"pred.prob_up": 0.5, "ind.rsi_14": 50.0}, {"ind.rsi_14": 25.0}]
    assert run(rule, updates) == [False, True]


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "rsi", "direction": "above", "threshold": 170},
        {"type": "price_cross", "direction": "sideways", "level": 10},
        {"type": "prediction", "direction": "above", "threshold": 0.5, "extra": 1},
        {"type": "all", "conditions": []},
        {"type": "moon_phase"},
    ],
)
def test_bad_conditions_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        conditions.validate_python(bad)


def test_webhook_signature_round_trip_and_tampering() -> None:
    body, timestamp = b'{"rule_id": "rule_1"}', str(int(time.time()))
    signature = sign("whsec_x", timestamp, body)
    assert verify("whsec_x", timestamp, body, signature)
    assert not verify("whsec_x", timestamp, body + b" ", signature)
    assert not verify("whsec_y", timestamp, body, signature)
    old = str(int(time.time()) - 3600)
    assert not verify("whsec_x", old, body, sign("whsec_x", old, body))
