"""Per-symbol state of the market job: ticks -> closed 1 s / 1 min bars -> indicators, across micro-batches.

`update_symbol` runs inside Spark's applyInPandasWithState, once per symbol per micro-batch. It calls
the same `marketpulse.features` functions as backfill and training, so the stream cannot drift from them.
The state (open bars + the indicator tail) lives in Spark's checkpointed state store as one JSON string,
so a restarted job continues every bar exactly where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.features.bars import BAR_COLUMNS, INTERVALS, empty_bars, merge_bars, ticks_to_bars
from marketpulse.features.indicators import INDICATOR_COLUMNS
from marketpulse.features.model_inputs import indicators_with_context

STATE_VERSION = 1
_TS_COLUMNS = ("ts", "last_ts")

#: Columns of every row the state function emits; `kind` says which of them are meaningful.
OUTPUT_COLUMNS: list[tuple[str, str]] = [
    ("kind", "string"),  # bar_1s | bar_1m | indicators | context | latest | late
    ("symbol", "string"),
    ("interval", "string"),
    ("ts", "timestamp"),
    ("open", "double"),
    ("high", "double"),
    ("low", "double"),
    ("close", "double"),
    ("volume", "double"),
    ("vwap", "double"),
    ("trades", "bigint"),
    ("last_ts", "timestamp"),
    ("price", "double"),
    ("size", "double"),
    # kind=latest only: Kafka CreateTime of the oldest tick of this symbol in the batch (end-to-end latency).
    ("kafka_ts_min", "timestamp"),
    *[(name, "double") for name in INDICATOR_COLUMNS],
]
OUTPUT_DDL = ", ".join(f"{name} {kind}" for name, kind in OUTPUT_COLUMNS)
STATE_DDL = "state string"


def _bars_to_json(bars: pd.DataFrame) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for column in BAR_COLUMNS:
        values = bars[column]
        if column in _TS_COLUMNS:
            out[column] = values.astype("int64").tolist()
        else:
            out[column] = values.tolist()
    return out


def _bars_from_json(data: dict[str, list[Any]] | None) -> pd.DataFrame:
    if not data or not data.get("ts"):
        return empty_bars()
    frame = pd.DataFrame({column: data[column] for column in BAR_COLUMNS})
    for column in _TS_COLUMNS:
        frame[column] = pd.to_datetime(np.asarray(data[column], dtype="int64"), utc=True).as_unit("ns")
    frame["trades"] = frame["trades"].astype("int64")
    return frame


class SymbolState:
    """What one symbol carries from batch to batch."""

    def __init__(self, raw: str | None) -> None:
        data = json.loads(raw) if raw else {}
        self.last_ts: int | None = data.get("last_ts")
        #: End (ns) of the newest emitted 1 s bar: ticks before it are late and cannot change history.
        self.closed_until: int | None = data.get("closed_until")
        self.pending = {interval: _bars_from_json(data.get(f"pending_{interval}")) for interval in INTERVALS}
        self.tail = _bars_from_json(data.get("tail_1min"))

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "last_ts": self.last_ts,
                "closed_until": self.closed_until,
                **{f"pending_{interval}": _bars_to_json(bars) for interval, bars in self.pending.items()},
                "tail_1min": _bars_to_json(self.tail),
            }
        )


def _split_closed(bars: pd.DataFrame, interval: str, latest_ns: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(closed, still open): a bar is closed once a tick at or after its end has been seen."""
    ends = bars["ts"].astype("int64") + INTERVALS[interval].value
    closed_mask = (ends <= latest_ns).to_numpy()
    return bars[closed_mask].reset_index(drop=True), bars[~closed_mask].reset_index(drop=True)


def _rows(kind: str, frame: pd.DataFrame, interval: str | None = None) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "kind", kind)
    if interval is not None:
        out["interval"] = interval
    return out


def advance(state: SymbolState, ticks: pd.DataFrame) -> pd.DataFrame:
    """Fold one batch of one symbol's ticks into state; return the rows to emit (see OUTPUT_COLUMNS)."""
    ticks = ticks.sort_values("ts", kind="stable")
    ticks_ns = ticks["ts"].astype("int64")
    late_mask = (
        (ticks_ns < state.closed_until).to_numpy() if state.closed_until is not None else np.zeros(len(ticks), bool)
    )
    late, fresh = ticks[late_mask], ticks[~late_mask]
    emitted: list[pd.DataFrame] = []
    if not late.empty:
        emitted.append(_rows("late", late[["symbol", "ts", "price", "size"]]))
    if fresh.empty:
        return _concat(emitted)

    newest = int(fresh["ts"].astype("int64").max())
    state.last_ts = max(newest, state.last_ts or newest)
    closed: dict[str, pd.DataFrame] = {}
    for interval in INTERVALS:
        merged = merge_bars(state.pending[interval], ticks_to_bars(fresh, interval))
        closed[interval], state.pending[interval] = _split_closed(merged, interval, state.last_ts)
        label = "bar_1s" if interval == "1s" else "bar_1m"
        if not closed[interval].empty:
            emitted.append(_rows(label, closed[interval], interval))
    if not closed["1s"].empty:
        state.closed_until = int(closed["1s"]["ts"].astype("int64").max()) + INTERVALS["1s"].value

    if not closed["1min"].empty:
        values, context, state.tail = indicators_with_context(state.tail, closed["1min"])
        emitted.append(_rows("indicators", values, "1min"))
        # The indicator rows of the bars just before (already stored): a sequence model's input window.
        emitted.append(_rows("context", context, "1min"))

    last = fresh.iloc[[-1]][["symbol", "ts", "price", "size"]].copy()
    if "kafka_ts" in ticks:
        last["kafka_ts_min"] = ticks["kafka_ts"].min()
    emitted.append(_rows("latest", last))
    return _concat(emitted)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    columns = [name for name, _ in OUTPUT_COLUMNS]
    if not frames:
        return pd.DataFrame({name: [] for name in columns})
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


def update_symbol(key: tuple[Any, ...], batches: Iterator[pd.DataFrame], group_state: Any) -> Iterator[pd.DataFrame]:
    """applyInPandasWithState function: one symbol, every tick of this micro-batch."""
    state = SymbolState(group_state.get[0] if group_state.exists else None)
    ticks = pd.concat(list(batches), ignore_index=True)
    for column in ("ts", "kafka_ts"):
        if column in ticks:
            ticks[column] = pd.to_datetime(ticks[column], utc=True).dt.as_unit("ns")
    rows = advance(state, ticks)
    group_state.update((state.to_json(),))
    yield rows
