"""Alert conditions and their evaluation over a symbol's merged latest state (pure: no I/O).

A rule fires when its condition turns from false to true ("crosses"), never while it merely stays true, and
not on the first observation (nothing was crossed yet). Data a condition needs but the stream does not have
yet (no sentiment section, say) makes it false: a no-op, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["above", "below"]


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceCross(_Condition):
    """The last price (tick, else the newest bar close) crosses `level`."""

    type: Literal["price_cross"]
    direction: Direction
    level: float = Field(gt=0, allow_inf_nan=False)


class RsiThreshold(_Condition):
    """RSI(14) of the 1-minute bars goes above / below `threshold`."""

    type: Literal["rsi"]
    direction: Direction
    threshold: float = Field(ge=0, le=100)


class PredictionProbability(_Condition):
    """The price model's probability of an up move goes above / below `threshold`."""

    type: Literal["prediction"]
    direction: Direction
    threshold: float = Field(ge=0, le=1)


class SentimentShift(_Condition):
    """The symbol's sentiment (mean polarity of its newest window, -1..1) moves by at least `delta` between two
    consecutive windows."""

    type: Literal["sentiment_shift"]
    direction: Literal["up", "down", "any"] = "any"
    delta: float = Field(gt=0, le=2)


class Combination(_Condition):
    """all: every condition holds; any: at least one does."""

    type: Literal["all", "any"]
    conditions: list[Condition] = Field(min_length=1, max_length=10)


Condition = Annotated[
    PriceCross | RsiThreshold | PredictionProbability | SentimentShift | Combination, Field(discriminator="type")
]
Combination.model_rebuild()

#: Where each condition reads its value in the merged state (section, field), first present wins.
PRICE_SOURCES = (("tick", "price"), ("bar_1s", "close"), ("bar_1m", "close"))
RSI_SOURCE = ("indicators", "rsi_14")
PREDICTION_SOURCE = ("prediction", "prob_up")
SENTIMENT_SOURCE = ("sentiment", "mean")  # mean polarity (-1..1) of the newest window

State = dict[str, dict[str, Any]]


def _number(state: State, section: str, name: str) -> float | None:
    value = state.get(section, {}).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _compare(value: float | None, direction: Direction, bound: float) -> bool:
    if value is None:
        return False
    return value > bound if direction == "above" else value < bound


@dataclass
class Memory:
    """What a rule remembers between updates: the previous verdict and, for shifts, the previous values."""

    previous: bool | None = None
    last_values: dict[int, float] = field(default_factory=dict)


def holds(condition: Any, state: State, memory: Memory, path: int = 1) -> bool:
    """Whether `condition` is true for `state`; `path` numbers nested conditions for their memories."""
    if isinstance(condition, PriceCross):
        price = next((v for s, n in PRICE_SOURCES if (v := _number(state, s, n)) is not None), None)
        return _compare(price, condition.direction, condition.level)
    if isinstance(condition, RsiThreshold):
        return _compare(_number(state, *RSI_SOURCE), condition.direction, condition.threshold)
    if isinstance(condition, PredictionProbability):
        return _compare(_number(state, *PREDICTION_SOURCE), condition.direction, condition.threshold)
    if isinstance(condition, SentimentShift):
        return _sentiment_shifted(condition, _number(state, *SENTIMENT_SOURCE), memory, path)
    if isinstance(condition, Combination):
        # Evaluate every part (no short-circuit) so each sentiment memory sees every update.
        verdicts = [holds(part, state, memory, path * 16 + i) for i, part in enumerate(condition.conditions)]
        return all(verdicts) if condition.type == "all" else any(verdicts)
    raise TypeError(f"unknown condition {condition!r}")


def _sentiment_shifted(condition: SentimentShift, score: float | None, memory: Memory, path: int) -> bool:
    if score is None:
        return False
    previous = memory.last_values.get(path)
    memory.last_values[path] = score
    if previous is None:
        return False
    change = score - previous
    if condition.direction == "up":
        return change >= condition.delta
    if condition.direction == "down":
        return -change >= condition.delta
    return abs(change) >= condition.delta


def step(condition: Any, state: State, memory: Memory) -> bool:
    """Evaluate on a new state; True when the rule fires (its condition just turned true)."""
    now = holds(condition, state, memory)
    fired = now and memory.previous is False
    memory.previous = now
    return fired


def observed_values(state: State) -> dict[str, float | None]:
    """The values alert conditions read, for the alert's payload."""
    price = next((v for s, n in PRICE_SOURCES if (v := _number(state, s, n)) is not None), None)
    return {
        "price": price,
        "rsi_14": _number(state, *RSI_SOURCE),
        "prob_up": _number(state, *PREDICTION_SOURCE),
        "sentiment": _number(state, *SENTIMENT_SOURCE),
    }
