"""State of the market job across micro-batches: ticks -> closed 1 s / 1 min bars -> indicators, for every symbol.

`advance_arrays` folds one micro-batch of ticks of any number of symbols into a `MarketState` with numpy over all
symbols at once: every symbol has a slot, each interval keeps one open bar per slot, and a batch costs a sort
and a few `reduceat`s whatever the number of symbols. When minutes close, the indicators of every symbol whose
minute closed are computed together (`features.indicators.indicator_columns` on a frame with one column per
symbol, column by column the same maths as backfill and training). `advance` is the same on a pandas frame,
returning rows tagged by kind (backfill and the tests use it).

Semantics (unchanged from the per-symbol state it replaces): a bar closes once a tick of its symbol at or after
its end has been seen; ticks older than the end of a symbol's newest closed 1 s bar are late (dead-lettered by
the stream, they cannot change history); equal timestamps keep their arrival order.

The state lives in the driver and is snapshotted after every micro-batch under the batch id (`StateStore`): a
batch that Spark re-runs after a crash starts from the snapshot of the batch before it and so emits exactly
what the first run emitted (decision 0012).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.errors import StackError
from marketpulse.features.bars import INTERVALS, empty_bars, epoch_ns, group_bounds
from marketpulse.features.indicators import INDICATOR_COLUMNS, TAIL_WINDOW, indicator_columns
from marketpulse.features.model_inputs import SEQUENCE_CONTEXT_BARS, indicators_with_context

STATE_VERSION = 4
KINDS = ("bar_1s", "bar_1m", "indicators", "context", "latest", "late")
_LABEL = {"1s": "bar_1s", "1min": "bar_1m"}
_NONE = np.iinfo(np.int64).min  # "no value" in int64 slots (no open bar, nothing closed yet)
_I64 = npt.NDArray[np.int64]
_F64 = npt.NDArray[np.float64]

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

_OPEN_FIELDS = ("start", "open", "high", "low", "close", "volume", "notional", "price_sum", "trades", "last")
_INT_FIELDS = ("start", "trades", "last")


@dataclass
class OpenBars:
    """At most one open bar per symbol slot (a bar is open while no tick at or after its end was seen)."""

    start: _I64 = field(default_factory=lambda: np.empty(0, np.int64))
    open: _F64 = field(default_factory=lambda: np.empty(0))
    high: _F64 = field(default_factory=lambda: np.empty(0))
    low: _F64 = field(default_factory=lambda: np.empty(0))
    close: _F64 = field(default_factory=lambda: np.empty(0))
    volume: _F64 = field(default_factory=lambda: np.empty(0))
    notional: _F64 = field(default_factory=lambda: np.empty(0))  # sum of price * size
    price_sum: _F64 = field(default_factory=lambda: np.empty(0))  # for the VWAP of a zero-volume bar
    trades: _I64 = field(default_factory=lambda: np.empty(0, np.int64))
    last: _I64 = field(default_factory=lambda: np.empty(0, np.int64))  # newest tick time in the bar (ns)

    def grow(self, slots: int) -> None:
        for name in _OPEN_FIELDS:
            old = getattr(self, name)
            fill = _NONE if name == "start" else 0
            grown = np.full(slots, fill, dtype=old.dtype)
            grown[: len(old)] = old
            setattr(self, name, grown)

    def to_json(self) -> dict[str, list[Any]]:
        return {name: getattr(self, name).tolist() for name in _OPEN_FIELDS}

    @classmethod
    def from_json(cls, data: dict[str, list[Any]]) -> OpenBars:
        bars = cls()
        for name in _OPEN_FIELDS:
            setattr(bars, name, np.asarray(data[name], np.int64 if name in _INT_FIELDS else np.float64))
        return bars


@dataclass
class Tail:
    """A symbol's newest closed 1-min bars (what its indicators and model inputs need), oldest first."""

    ts: _I64 = field(default_factory=lambda: np.empty(0, np.int64))
    close: _F64 = field(default_factory=lambda: np.empty(0))
    volume: _F64 = field(default_factory=lambda: np.empty(0))

    @classmethod
    def of(cls, bars: pd.DataFrame) -> Tail:
        volume = bars["volume"] if "volume" in bars else pd.Series(np.nan, index=bars.index)
        return cls(epoch_ns(bars["ts"]), bars["close"].to_numpy(np.float64), volume.to_numpy(np.float64))

    def extended(self, ts: _I64, close: _F64, volume: _F64) -> Tail:
        return Tail(np.r_[self.ts, ts], np.r_[self.close, close], np.r_[self.volume, volume])

    def last(self, bars: int) -> Tail:
        return Tail(self.ts[-bars:], self.close[-bars:], self.volume[-bars:])

    def frame(self, symbol: str) -> pd.DataFrame:
        return pd.DataFrame({"symbol": symbol, "ts": _stamps(self.ts), "close": self.close, "volume": self.volume})

    def to_json(self) -> list[list[Any]]:
        return [self.ts.tolist(), self.close.tolist(), self.volume.tolist()]

    @classmethod
    def from_json(cls, data: list[list[Any]]) -> Tail:
        ts, close, volume = data
        return cls(np.asarray(ts, np.int64), np.asarray(close, np.float64), np.asarray(volume, np.float64))


@dataclass
class MarketState:
    """What the stream carries from batch to batch, for every symbol it has seen (one slot each)."""

    symbols: list[str] = field(default_factory=list)
    slots: dict[str, int] = field(default_factory=dict)
    #: Newest tick time (ns) seen per slot.
    last_ts: _I64 = field(default_factory=lambda: np.empty(0, np.int64))
    #: End (ns) of the newest emitted 1 s bar per slot: ticks before it are late and cannot change history.
    closed_until: _I64 = field(default_factory=lambda: np.empty(0, np.int64))
    open_bars: dict[str, OpenBars] = field(default_factory=lambda: {i: OpenBars() for i in INTERVALS})
    #: The trailing closed 1-min bars per slot that the indicators need, TAIL_WINDOW at most.
    tails: dict[int, Tail] = field(default_factory=dict)
    #: Newest `seq` accepted per source, per slot (-1: none): a tick whose seq is not above it was sent before.
    last_seq: dict[str, _I64] = field(default_factory=dict)

    def slots_of(self, names: Sequence[str] | npt.NDArray[Any]) -> _I64:
        """The slot of each (distinct) symbol name, giving new symbols a slot."""
        out = np.empty(len(names), np.int64)
        for i, name in enumerate(names):
            slot = self.slots.get(name)
            if slot is None:
                slot = self.slots[name] = len(self.symbols)
                self.symbols.append(str(name))
            out[i] = slot
        if len(self.symbols) > len(self.last_ts):
            self._grow(len(self.symbols))
        return out

    def _grow(self, slots: int) -> None:
        grown = max(slots, 2 * len(self.last_ts), 16)
        for name in ("last_ts", "closed_until"):
            old = getattr(self, name)
            new = np.full(grown, _NONE, np.int64)
            new[: len(old)] = old
            setattr(self, name, new)
        for bars in self.open_bars.values():
            bars.grow(grown)
        for source, seqs in self.last_seq.items():
            self.last_seq[source] = np.concatenate([seqs, np.full(grown - len(seqs), -1, np.int64)])

    def seqs_of(self, source: str) -> _I64:
        """The newest accepted seq per slot of one source (made on first use)."""
        if source not in self.last_seq:
            self.last_seq[source] = np.full(len(self.last_ts), -1, np.int64)
        return self.last_seq[source]

    @property
    def pending(self) -> dict[str, pd.DataFrame]:
        """The open bars per interval as bar frames (for reports and tests)."""
        return {interval: _open_frame(self, bars) for interval, bars in self.open_bars.items()}

    def set_tail(self, symbol: str, bars: pd.DataFrame) -> None:
        """Start a symbol's indicator history from closed 1-min bars (backfill warms up from the reporting store)."""
        slot = int(self.slots_of([symbol])[0])
        if bars.empty:
            self.tails.pop(slot, None)
            return
        ordered = bars.sort_values("ts").iloc[-TAIL_WINDOW:]
        self.tails[slot] = Tail.of(ordered)

    # -- snapshots: the small part every batch, the tails only when a minute closed -------------------------------

    def small_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "symbols": self.symbols,
                "last_ts": self.last_ts.tolist(),
                "closed_until": self.closed_until.tolist(),
                "open": {interval: bars.to_json() for interval, bars in self.open_bars.items()},
                "last_seq": {source: seqs.tolist() for source, seqs in self.last_seq.items()},
            }
        )

    def tails_json(self) -> str:
        return json.dumps({str(slot): tail.to_json() for slot, tail in self.tails.items()})

    @classmethod
    def from_json(cls, small: str, tails: str | None) -> MarketState:
        data = json.loads(small)
        if data.get("v") != STATE_VERSION:
            raise StackError(f"market state snapshot has version {data.get('v')}, this code reads {STATE_VERSION}")
        state = cls(
            symbols=list(data["symbols"]),
            slots={name: i for i, name in enumerate(data["symbols"])},
            last_ts=np.asarray(data["last_ts"], np.int64),
            closed_until=np.asarray(data["closed_until"], np.int64),
            open_bars={interval: OpenBars.from_json(bars) for interval, bars in data["open"].items()},
            # Snapshots written before seq was tracked have none: tracking starts from the next batch.
            last_seq={source: np.asarray(seqs, np.int64) for source, seqs in data.get("last_seq", {}).items()},
        )
        if tails:
            state.tails = {int(slot): Tail.from_json(data) for slot, data in json.loads(tails).items()}
        return state

    def copy(self) -> MarketState:
        """A round trip through the snapshot format (what a restarted job would load)."""
        return MarketState.from_json(self.small_json(), self.tails_json())


@dataclass
class Emitted:
    """What one micro-batch produced; each frame empty when there is nothing of its kind."""

    bars_1s: pd.DataFrame
    bars_1m: pd.DataFrame
    indicators: pd.DataFrame
    context: pd.DataFrame
    latest: pd.DataFrame
    late: pd.DataFrame

    def by_kind(self) -> dict[str, pd.DataFrame]:
        frames = (self.bars_1s, self.bars_1m, self.indicators, self.context, self.latest, self.late)
        return dict(zip(KINDS, frames, strict=True))


def _stamps(ns: _I64) -> pd.DatetimeIndex:
    return pd.to_datetime(ns, utc=True).as_unit("ns")


def is_late(state: MarketState, slots: _I64, ts_ns: _I64) -> npt.NDArray[np.bool_]:
    """Ticks before the end of their symbol's newest closed 1 s bar: they cannot change history (dead-lettered,
    and kept out of the raw lake, so a replay of what was already streamed changes no store)."""
    return np.asarray(ts_ns < state.closed_until[slots], dtype=bool)  # _NONE (nothing closed) is below every time


def repeated_ticks(
    state: MarketState, sources: npt.NDArray[np.int64], names: list[str], slots: _I64, seq: _I64
) -> npt.NDArray[np.bool_]:
    """Ticks whose `seq` is not above the newest one their source already sent for their symbol (before, or earlier
    in this batch): the contract says seq increases per (source, symbol), so these were sent before (a replay run
    twice, a producer resending). `sources` are codes into `names`; -1 where a tick has no seq (never repeated).
    Arrival order within a symbol is Kafka's (one partition per symbol key). Records the newest seq of the rest."""
    repeated = np.zeros(len(slots), dtype=bool)
    for code, source in enumerate(names):
        idx = np.flatnonzero(sources == code)
        if not len(idx):
            continue
        newest = state.seqs_of(source)
        order = idx[np.argsort(slots[idx], kind="stable")]  # by symbol, arrival order kept
        run_slots, run_seq = slots[order], seq[order]
        bounds = [0, *(np.flatnonzero(np.diff(run_slots)) + 1), len(order)]
        for lo, hi in itertools.pairwise(bounds):
            slot = run_slots[lo]
            highest = np.maximum.accumulate(np.concatenate([[newest[slot]], run_seq[lo:hi]]))
            repeated[order[lo:hi]] = run_seq[lo:hi] <= highest[:-1]
            newest[slot] = highest[-1]
    return repeated


def advance_arrays(
    state: MarketState,
    slots: _I64,
    ts_ns: _I64,
    price: _F64,
    size: _F64,
    kafka_ns: _I64 | None = None,
) -> Emitted:
    """Fold one micro-batch (parallel arrays, in arrival order; `slots` from `state.slots_of`) into state."""
    order = np.lexsort((np.arange(len(ts_ns)), ts_ns, slots))  # by slot, then time, then arrival
    slots, ts_ns, price, size = slots[order], ts_ns[order], price[order], size[order]
    late_mask = is_late(state, slots, ts_ns)
    fresh = ~late_mask
    latest = _latest(state, slots, ts_ns, price, size, fresh, None if kafka_ns is None else kafka_ns[order])
    late = _ticks_frame(state, slots[late_mask], ts_ns[late_mask], price[late_mask], size[late_mask])
    slots, ts_ns, price, size = slots[fresh], ts_ns[fresh], price[fresh], size[fresh]
    if not len(slots):
        return Emitted(_EMPTY, _EMPTY, _EMPTY, _EMPTY, latest, late)

    # Newest tick per slot: the last of each slot's run (sorted by slot, then time).
    run_ends = last_of_runs(slots)
    state.last_ts[slots[run_ends]] = np.maximum(state.last_ts[slots[run_ends]], ts_ns[run_ends])
    closed = {
        interval: _fold(state.open_bars[interval], state.last_ts, slots, ts_ns, price, size, step.value)
        for interval, step in INTERVALS.items()
    }
    bars_1s = _bars_frame(state, closed["1s"])
    if len(bars_1s):
        ends = closed["1s"]["start"] + INTERVALS["1s"].value
        np.maximum.at(state.closed_until, closed["1s"]["slot"], ends)
    bars_1m = _bars_frame(state, closed["1min"])
    indicators, context = _indicators(state, closed["1min"]) if len(bars_1m) else (_EMPTY, _EMPTY)
    return Emitted(bars_1s, bars_1m, indicators, context, latest, late)


def _fold(
    bars: OpenBars, last_ts: _I64, slots: _I64, ts_ns: _I64, price: _F64, size: _F64, step: int
) -> dict[str, npt.NDArray[Any]]:
    """Merge the batch's ticks (sorted by slot, time) into one interval's open bars; return the bars that closed."""
    start = ts_ns - ts_ns % step  # floor to the bar start (floor-mod: also right before 1970)
    first, ends = group_bounds(slots, start)
    last = ends - 1
    group = {
        "slot": slots[first],
        "start": start[first],
        "open": price[first],
        "high": np.maximum.reduceat(price, first),
        "low": np.minimum.reduceat(price, first),
        "close": price[last],
        "volume": np.add.reduceat(size, first),
        "notional": np.add.reduceat(price * size, first),
        "price_sum": np.add.reduceat(price, first),
        "trades": last - first + 1,
        "last": np.maximum.reduceat(ts_ns, first),
    }
    # A group continuing a slot's open bar: the open bar is older, so its open stays and the group's close wins.
    continues = bars.start[group["slot"]] == group["start"]
    held = group["slot"][continues]
    group["open"][continues] = bars.open[held]
    group["high"][continues] = np.maximum(group["high"][continues], bars.high[held])
    group["low"][continues] = np.minimum(group["low"][continues], bars.low[held])
    for name in ("volume", "notional", "price_sum", "trades"):
        group[name][continues] = group[name][continues] + getattr(bars, name)[held]
    group["last"][continues] = np.maximum(group["last"][continues], bars.last[held])
    # Open bars of touched slots that no tick continued may close now (their slot's newest tick moved on).
    touched = group["slot"][first_of_runs(group["slot"])]
    untouched_open = touched[(bars.start[touched] != _NONE) & ~np.isin(touched, held)]
    if len(untouched_open):
        group = {name: np.r_[values, _open_values(bars, name, untouched_open)] for name, values in group.items()}
        resort = np.lexsort((group["start"], group["slot"]))
        group = {name: values[resort] for name, values in group.items()}
    is_closed = group["start"] + step <= last_ts[group["slot"]]
    # What stays open: at most one bar per slot, the one holding the slot's newest tick.
    bars.start[touched] = _NONE
    still_open = ~is_closed
    for name in _OPEN_FIELDS:
        getattr(bars, name)[group["slot"][still_open]] = group[name][still_open]
    return {name: values[is_closed] for name, values in group.items()}


def first_of_runs(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Index of the first element of each run of equal values."""
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def last_of_runs(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Index of the last element of each run of equal values."""
    return np.flatnonzero(np.r_[values[1:] != values[:-1], True])


def _open_values(bars: OpenBars, name: str, slots: _I64) -> npt.NDArray[Any]:
    return slots if name == "slot" else getattr(bars, name)[slots]


def _bars_frame(state: MarketState, bars: dict[str, npt.NDArray[Any]]) -> pd.DataFrame:
    """Closed bars as a frame with BAR_COLUMNS (sorted by symbol slot, then time)."""
    if not len(bars["slot"]):
        return _EMPTY_BARS
    volume, trades = bars["volume"], bars["trades"]
    has_volume = volume != 0.0
    vwap = np.where(has_volume, bars["notional"] / np.where(has_volume, volume, 1.0), bars["price_sum"] / trades)
    return pd.DataFrame(
        {
            "symbol": pd.Series(np.asarray(state.symbols, dtype=object)[bars["slot"]], dtype="str"),
            "ts": _stamps(bars["start"]),
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": volume,
            "vwap": vwap,
            "trades": trades.astype(np.int64),
            "last_ts": _stamps(bars["last"]),
        }
    )


def _open_frame(state: MarketState, bars: OpenBars) -> pd.DataFrame:
    slots = np.flatnonzero(bars.start[: len(state.symbols)] != _NONE)
    return _bars_frame(state, {"slot": slots, **{n: getattr(bars, n)[slots] for n in _OPEN_FIELDS}})


def _latest(
    state: MarketState,
    slots: _I64,
    ts_ns: _I64,
    price: _F64,
    size: _F64,
    fresh: npt.NDArray[np.bool_],
    kafka_ns: _I64 | None,
) -> pd.DataFrame:
    """Per slot with fresh ticks: its newest fresh tick, and the Kafka CreateTime of its oldest tick in the batch."""
    f_slots = slots[fresh]
    if not len(f_slots):
        return _EMPTY
    ends = last_of_runs(f_slots)
    frame = _ticks_frame(state, f_slots[ends], ts_ns[fresh][ends], price[fresh][ends], size[fresh][ends])
    if kafka_ns is not None:
        starts = first_of_runs(slots)
        oldest = np.minimum.reduceat(kafka_ns, starts)
        by_slot = dict(zip(slots[starts].tolist(), oldest.tolist(), strict=True))
        frame["kafka_ts_min"] = _stamps(np.asarray([by_slot[s] for s in f_slots[ends].tolist()], np.int64))
    return frame


def _ticks_frame(state: MarketState, slots: _I64, ts_ns: _I64, price: _F64, size: _F64) -> pd.DataFrame:
    if not len(slots):
        return _EMPTY
    return pd.DataFrame(
        {
            "symbol": pd.Series(np.asarray(state.symbols, dtype=object)[slots], dtype="str"),
            "ts": _stamps(ts_ns),
            "price": price,
            "size": size,
        }
    )


def _indicators(state: MarketState, closed: dict[str, npt.NDArray[Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicator rows of the minutes that just closed (with each bar's volume, a model input) and a sequence
    model's context rows (the rows of the SEQUENCE_CONTEXT_BARS bars before them); advances the tails. Symbols
    whose new bars simply extend their history (the usual case) are computed together, grouped by history length;
    any other (a re-sent or out-of-order minute) goes through the one-symbol path."""
    rows: list[pd.DataFrame] = []
    contexts: list[pd.DataFrame] = []
    by_length: dict[int, list[tuple[int, Tail, int]]] = {}
    starts = first_of_runs(closed["slot"])
    ends = np.r_[starts[1:], len(closed["slot"])]
    for begin, end in zip(starts.tolist(), ends.tolist(), strict=True):
        slot = int(closed["slot"][begin])
        tail = state.tails.get(slot, Tail())
        new = Tail(closed["start"][begin:end], closed["close"][begin:end], closed["volume"][begin:end])
        if len(tail.ts) and new.ts[0] <= tail.ts[-1]:
            values, context = _one_symbol(state, slot, tail, new)
            rows.append(values)
            contexts.append(context)
            continue
        history = tail.extended(new.ts, new.close, new.volume)
        by_length.setdefault(len(history.ts), []).append((slot, history, end - begin))
        state.tails[slot] = history.last(TAIL_WINDOW)
    for length, members in by_length.items():
        values, context = _wide_indicators(state, length, members)
        rows.append(values)
        contexts.append(context)
    return _concat_frames(rows), _concat_frames(contexts)


def _wide_indicators(
    state: MarketState, length: int, members: list[tuple[int, Tail, int]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicators of symbols with equally long histories, one column each; the new rows and the context rows."""
    ts = np.column_stack([history.ts for _, history, _ in members])
    closes = np.column_stack([history.close for _, history, _ in members])
    volumes = np.column_stack([history.volume for _, history, _ in members])
    columns = {name: np.asarray(values, np.float64) for name, values in indicator_columns(pd.DataFrame(closes)).items()}
    first_new = length - np.asarray([count for _, _, count in members])
    context_start = np.maximum(0, first_new - SEQUENCE_CONTEXT_BARS)
    symbols = [state.symbols[slot] for slot, _, _ in members]

    def cells(lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> pd.DataFrame:
        counts = hi - lo
        if not counts.sum():
            return _EMPTY
        col = np.repeat(np.arange(len(members)), counts)
        row = np.concatenate([np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)])
        frame = pd.DataFrame(
            {
                "symbol": pd.Series(np.repeat(np.asarray(symbols, dtype=object), counts), dtype="str"),
                "ts": _stamps(ts[row, col]),
                "close": closes[row, col],
            }
        )
        for name in INDICATOR_COLUMNS:
            frame[name] = columns[name][row, col]
        frame["volume"] = volumes[row, col]
        return frame

    return cells(first_new, np.full(len(members), length)), cells(context_start, first_new)


def _one_symbol(state: MarketState, slot: int, tail: Tail, new: Tail) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The general path (features.model_inputs.indicators_with_context) for one symbol's closed minutes."""
    symbol = state.symbols[slot]
    values, context, history = indicators_with_context(tail.frame(symbol), new.frame(symbol))
    state.tails[slot] = Tail.of(history)
    volume = history.set_index("ts")["volume"]
    return values.assign(volume=values["ts"].map(volume)), context.assign(volume=context["ts"].map(volume))


_EMPTY_BARS = empty_bars()
_EMPTY = pd.DataFrame()


def _concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return _EMPTY
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


# -- the pandas face of the state: what backfill and the tests use --------------------------------------------------


def advance(state: MarketState, ticks: pd.DataFrame) -> pd.DataFrame:
    """Fold one micro-batch of ticks (a frame with symbol, ts, price, size and optionally kafka_ts, in arrival
    order) into state; return the rows to emit, tagged by kind (see OUTPUT_COLUMNS)."""
    if ticks.empty:
        return rows_of(Emitted(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY))
    codes, names = pd.factorize(np.asarray(ticks["symbol"]))
    emitted = advance_arrays(
        state,
        state.slots_of(names)[codes],
        epoch_ns(ticks["ts"]),
        ticks["price"].to_numpy(np.float64),
        ticks["size"].to_numpy(np.float64),
        epoch_ns(ticks["kafka_ts"]) if "kafka_ts" in ticks else None,
    )
    return rows_of(emitted)


def close_open_bars(state: MarketState) -> pd.DataFrame:
    """End of a range (backfill): emit every still-open bar, and the indicators of the 1-min ones."""
    emitted = []
    for interval, bars in state.open_bars.items():
        slots = np.flatnonzero(bars.start[: len(state.symbols)] != _NONE)
        if not len(slots):
            continue
        closed = {"slot": slots, **{name: getattr(bars, name)[slots].copy() for name in _OPEN_FIELDS}}
        bars.start[slots] = _NONE
        emitted.append(_tagged(_LABEL[interval], _bars_frame(state, closed), interval))
        if interval == "1min":
            emitted.append(_tagged("indicators", _indicators(state, closed)[0], interval))
    return _concat_rows(emitted)


def rows_of(emitted: Emitted) -> pd.DataFrame:
    """An Emitted as one frame of rows tagged by kind (bars and indicators carry their interval)."""
    intervals = {"bar_1s": "1s", "bar_1m": "1min", "indicators": "1min", "context": "1min"}
    return _concat_rows([_tagged(kind, frame, intervals.get(kind)) for kind, frame in emitted.by_kind().items()])


def _tagged(kind: str, frame: pd.DataFrame, interval: str | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    out = frame.copy()
    out.insert(0, "kind", kind)
    if interval is not None:
        out["interval"] = interval
    return out


def _concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
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
        self._prune()
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

    def _prune(self) -> None:
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
