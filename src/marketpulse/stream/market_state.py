"""State of the market job across micro-batches: ticks -> closed 1 s / 1 min bars -> indicators, for every symbol.

`advance` folds one micro-batch of ticks of any number of symbols into a `MarketState` in one vectorised pass
(numpy over all symbols: no per-symbol or per-tick Python call), and calls the same `marketpulse.features`
functions as backfill and training, so the stream cannot drift from them. Only when a minute closes does it
compute indicators, once for all symbols whose bars closed.

The state lives in the driver and is snapshotted after every micro-batch under the batch id (`StateStore`):
a batch that Spark re-runs after a crash starts from the snapshot of the batch before it and so emits exactly
what the first run emitted (decision 0010).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.errors import StackError
from marketpulse.features.bars import BAR_COLUMNS, INTERVALS, empty_bars, merge_bars, ticks_to_bars
from marketpulse.features.indicators import INDICATOR_COLUMNS
from marketpulse.features.model_inputs import indicators_with_context

STATE_VERSION = 2
_TS_COLUMNS = ("ts", "last_ts")
KINDS = ("bar_1s", "bar_1m", "indicators", "context", "latest", "late")
_LABEL = {"1s": "bar_1s", "1min": "bar_1m"}

#: Columns of the rows `advance` emits; `kind` says which of them are meaningful.
OUTPUT_COLUMNS: list[str] = [
    "kind",  # one of KINDS
    "symbol",
    "interval",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trades",
    "last_ts",
    "price",
    "size",
    # kind=latest only: Kafka CreateTime of the oldest tick of this symbol in the batch (end-to-end latency).
    "kafka_ts_min",
    *INDICATOR_COLUMNS,
]


@dataclass
class MarketState:
    """What the stream carries from batch to batch, for every symbol it has seen."""

    #: Newest tick time (ns) seen per symbol.
    last_ts: dict[str, int] = field(default_factory=dict)
    #: End (ns) of the newest emitted 1 s bar per symbol: ticks before it are late and cannot change history.
    closed_until: dict[str, int] = field(default_factory=dict)
    #: Still-open partial bars of every symbol, per interval.
    pending: dict[str, pd.DataFrame] = field(default_factory=lambda: {i: empty_bars() for i in INTERVALS})
    #: The trailing closed 1-min bars per symbol that the indicators need (TAIL_WINDOW at most).
    tails: dict[str, pd.DataFrame] = field(default_factory=dict)

    def tail(self, symbol: str) -> pd.DataFrame:
        return self.tails.get(symbol, _EMPTY_BARS)

    # -- serialisation: the small part every batch, the tails only when a minute closed --------------------------

    def small_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "last_ts": self.last_ts,
                "closed_until": self.closed_until,
                **{f"pending_{interval}": _bars_to_json(bars) for interval, bars in self.pending.items()},
            }
        )

    def tails_json(self) -> str:
        return json.dumps({symbol: _bars_to_json(bars) for symbol, bars in self.tails.items()})

    @classmethod
    def from_json(cls, small: str, tails: str | None) -> MarketState:
        data = json.loads(small)
        if data.get("v") != STATE_VERSION:
            raise StackError(f"market state snapshot has version {data.get('v')}, this code reads {STATE_VERSION}")
        state = cls(
            last_ts={k: int(v) for k, v in data["last_ts"].items()},
            closed_until={k: int(v) for k, v in data["closed_until"].items()},
            pending={interval: _bars_from_json(data.get(f"pending_{interval}")) for interval in INTERVALS},
        )
        if tails:
            state.tails = {symbol: _bars_from_json(bars) for symbol, bars in json.loads(tails).items()}
        return state

    def copy(self) -> MarketState:
        """A round trip through the snapshot format (what a restarted job would load)."""
        return MarketState.from_json(self.small_json(), self.tails_json())


_EMPTY_BARS = empty_bars()


def _bars_to_json(bars: pd.DataFrame) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for column in BAR_COLUMNS:
        values = bars[column]
        out[column] = values.astype("int64").tolist() if column in _TS_COLUMNS else values.tolist()
    return out


def _bars_from_json(data: dict[str, list[Any]] | None) -> pd.DataFrame:
    if not data or not data.get("ts"):
        return empty_bars()
    frame = pd.DataFrame({column: data[column] for column in BAR_COLUMNS})
    frame["symbol"] = frame["symbol"].astype("str")
    for column in _TS_COLUMNS:
        frame[column] = pd.to_datetime(np.asarray(data[column], dtype="int64"), utc=True).as_unit("ns")
    frame["trades"] = frame["trades"].astype("int64")
    for column in ("open", "high", "low", "close", "volume", "vwap"):
        frame[column] = frame[column].astype("float64")
    return frame


def _per_row(symbols: pd.Series, values: dict[str, int]) -> npt.NDArray[np.float64]:
    """values[symbol] for every row (NaN where the symbol has none). As float64, epoch ns lose sub-µs digits,
    which no comparison here needs: bar boundaries are whole seconds."""
    return np.asarray(symbols.map(values), dtype=np.float64)


def _split_closed(bars: pd.DataFrame, interval: str, last_ts: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(closed, still open): a bar is closed once a tick of its symbol at or after its end has been seen."""
    if bars.empty:
        return bars, bars
    ends = bars["ts"].astype("int64").to_numpy() + INTERVALS[interval].value
    closed_mask = ends <= _per_row(bars["symbol"], last_ts)  # NaN (never seen) compares False: stays open
    return bars[closed_mask].reset_index(drop=True), bars[~closed_mask].reset_index(drop=True)


def _rows(kind: str, frame: pd.DataFrame, interval: str | None = None) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "kind", kind)
    if interval is not None:
        out["interval"] = interval
    return out


def advance(state: MarketState, ticks: pd.DataFrame) -> pd.DataFrame:
    """Fold one micro-batch of ticks (any symbols) into state; return the rows to emit (see OUTPUT_COLUMNS)."""
    if ticks.empty:
        return _concat([])
    ticks = ticks.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    ticks_ns = ticks["ts"].astype("int64").to_numpy()
    late_mask = ticks_ns < _per_row(ticks["symbol"], state.closed_until)
    late, fresh = ticks[late_mask], ticks[~late_mask]
    emitted: list[pd.DataFrame] = []
    if not late.empty:
        emitted.append(_rows("late", late[["symbol", "ts", "price", "size"]]))
    if fresh.empty:
        return _concat(emitted)

    newest = fresh.groupby("symbol", sort=False)["ts"].max().astype("int64")
    for symbol, ts_ns in newest.items():
        state.last_ts[symbol] = max(int(ts_ns), state.last_ts.get(symbol, int(ts_ns)))
    closed: dict[str, pd.DataFrame] = {}
    for interval in INTERVALS:
        merged = merge_bars(state.pending[interval], ticks_to_bars(fresh, interval))
        closed[interval], state.pending[interval] = _split_closed(merged, interval, state.last_ts)
        if not closed[interval].empty:
            emitted.append(_rows(_LABEL[interval], closed[interval], interval))
    if not closed["1s"].empty:
        ends = closed["1s"].groupby("symbol", sort=False)["ts"].max().astype("int64") + INTERVALS["1s"].value
        state.closed_until.update({symbol: int(end) for symbol, end in ends.items()})
    if not closed["1min"].empty:
        emitted.extend(_indicator_rows(state, closed["1min"]))

    last = fresh.groupby("symbol", sort=False).tail(1)[["symbol", "ts", "price", "size"]].copy()
    if "kafka_ts" in ticks:
        oldest = ticks.groupby("symbol", sort=False)["kafka_ts"].min()
        last["kafka_ts_min"] = last["symbol"].map(oldest)
    emitted.append(_rows("latest", last))
    return _concat(emitted)


def _indicator_rows(state: MarketState, closed_1min: pd.DataFrame) -> list[pd.DataFrame]:
    """Indicator rows (and a sequence model's context rows) of the minutes that just closed; advances the tails."""
    values, contexts = [], []
    for symbol, bars in closed_1min.groupby("symbol", sort=False):
        rows, context, state.tails[str(symbol)] = indicators_with_context(state.tail(str(symbol)), bars)
        values.append(rows)
        contexts.append(context)
    # The indicator rows of the bars just before (already stored): a sequence model's input window.
    return [_rows("indicators", pd.concat(values), "1min"), _rows("context", pd.concat(contexts), "1min")]


def close_open_bars(state: MarketState) -> pd.DataFrame:
    """End of a range (backfill): emit every still-open bar, and the indicators of the 1-min ones."""
    emitted = []
    for interval, bars in state.pending.items():
        if bars.empty:
            continue
        emitted.append(_rows(_LABEL[interval], bars, interval))
        state.pending[interval] = empty_bars()
        if interval == "1min":
            emitted.append(_indicator_rows(state, bars)[0])
    return _concat(emitted)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame({name: [] for name in OUTPUT_COLUMNS})
    return pd.concat(frames, ignore_index=True).reindex(columns=OUTPUT_COLUMNS)


def split_kinds(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Emitted rows by kind (every kind present, possibly empty), each reset to its own index."""
    empty = rows.iloc[0:0]
    groups = {str(kind): part.reset_index(drop=True) for kind, part in rows.groupby("kind", sort=False)}
    return {kind: groups.get(kind, empty) for kind in KINDS}


class StateStore:
    """Snapshots of the driver's MarketState, one per micro-batch id, on the driver's local disk.

    `state-<batch>.json` holds the small part (open bars, watermarks); `tails-<batch>.json` is written only by a
    batch that closed a minute, and each small snapshot names the tails file it goes with. Files are written to
    a temporary name and renamed, so a kill -9 leaves either the old or the new snapshot, never half of one.
    """

    def __init__(self, root: Path, keep: int = 20) -> None:
        self.root = root
        self.keep = keep
        root.mkdir(parents=True, exist_ok=True)

    def _small(self, batch_id: int) -> Path:
        return self.root / f"state-{batch_id:012d}.json"

    def _tails(self, batch_id: int) -> Path:
        return self.root / f"tails-{batch_id:012d}.json"

    def save(self, batch_id: int, state: MarketState, tails_changed: bool, tails_batch: int | None) -> int | None:
        """Persist the state after `batch_id`; returns the batch id whose tails file goes with it."""
        if tails_changed:
            _write_atomic(self._tails(batch_id), state.tails_json())
            tails_batch = batch_id
        small = json.loads(state.small_json())
        small["tails_batch"] = tails_batch
        _write_atomic(self._small(batch_id), json.dumps(small))
        self._prune(batch_id)
        return tails_batch

    def load(self, batch_id: int) -> tuple[MarketState, int | None]:
        """The state after `batch_id` (what batch_id + 1 starts from) and its tails batch id."""
        path = self._small(batch_id)
        if not path.exists():
            raise StackError(
                f"market state snapshot {path} is missing, but the checkpoint says batch {batch_id} was committed. "
                "The state folder does not belong to this checkpoint (or was deleted). Recover with "
                "`marketpulse stream market --reset` (a new checkpoint and state; history is rebuilt by "
                "`marketpulse backfill`), or restore the folder."
            )
        small = json.loads(path.read_text())
        tails_batch = small.pop("tails_batch", None)
        tails = None
        if tails_batch is not None:
            tails_path = self._tails(int(tails_batch))
            if not tails_path.exists():
                raise StackError(f"market state snapshot {path} refers to {tails_path}, which is missing")
            tails = tails_path.read_text()
        return MarketState.from_json(json.dumps(small), tails), tails_batch

    def _prune(self, newest: int) -> None:
        """Keep the last `keep` small snapshots and the tails files they refer to."""
        smalls = sorted(self.root.glob("state-*.json"))
        if len(smalls) <= self.keep:
            return
        for old in smalls[: -self.keep]:
            old.unlink(missing_ok=True)
        # Tails batches only grow with batch ids: files older than the oldest kept snapshot's are unreferenced.
        oldest_needed = json.loads(smalls[-self.keep].read_text()).get("tails_batch")
        if oldest_needed is None:
            return
        for tails in self.root.glob("tails-*.json"):
            if int(tails.stem.split("-")[1]) < int(oldest_needed):
                tails.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
