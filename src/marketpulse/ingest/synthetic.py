"""Synthetic tick load for benchmarks: N symbols SYN0001.., geometric Brownian motion prices, open-loop pacing.

Prices, sizes and symbols are drawn in vectorised chunks from one seeded generator, always whole chunks, so the
first n ticks are the same whatever `count` is. Event time is the wall clock at emission (so end-to-end latency
can be measured downstream) unless `start_ts` is given, in which case it advances by exactly 1/rate per tick.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from marketpulse.contracts.market import Tick
from marketpulse.ingest.pacing import Stoppable

SYMBOL_PREFIX = "SYN"
#: SYN + 7 digits is 10 characters, the longest symbol a Tick accepts.
MAX_SYMBOLS = 9_999_999
#: Ticks generated per vectorised step.
CHUNK_TICKS = 1000
#: Median starting price (USD) and the spread of starting prices across symbols (sigma of log price).
START_PRICE = 100.0
START_PRICE_LOG_SIGMA = 0.5
#: Volatility of the log price per tick of a symbol (2 bp); GBM in tick time, drift-free in price.
TICK_LOG_VOL = 2e-4
#: Trade sizes are round lots: 100 shares times a geometric count (mean ~2.9 lots).
ROUND_LOT = 100.0
LOTS_P = 0.35
#: Event-time step per tick when start_ts is given but rate is 0 (unthrottled): 1 ms.
UNTHROTTLED_EVENT_STEP_S = 0.001
#: Fields of Tick in declaration order, as to_wire writes them; iter_wire refuses to run if the contract changed.
WIRE_FIELDS = ("symbol", "ts", "price", "size", "bid", "ask", "source", "seq")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def tick_wire(source: str) -> Callable[[str, int, float, float, int], bytes]:
    """A formatter of trades (no quote) from `source` to the bytes `to_wire(Tick(...))` gives, ~10x faster: (symbol,
    event time in epoch µs, price, size, seq) -> bytes. The symbol must be a valid one (it is not escaped)."""
    if tuple(Tick.model_fields) != WIRE_FIELDS:
        raise RuntimeError(f"Tick fields are now {tuple(Tick.model_fields)}; update the wire template")
    # Same text as json.dumps(separators=(",", ":")): floats via repr, source escaped once here.
    head = f'{{"v":{Tick.SCHEMA_VERSION},"symbol":"'
    tail = f',"bid":null,"ask":null,"source":{json.dumps(source)},"seq":'

    def wire(symbol: str, ts_us: int, price: float, size: float, seq: int) -> bytes:
        return f'{head}{symbol}","ts":{ts_us * 1000},"price":{price!r},"size":{size!r}{tail}{seq}}}'.encode()

    return wire


def symbol_names(count: int) -> list[str]:
    """SYN0001, SYN0002, ... (four digits at least, more past 9999)."""
    return [f"{SYMBOL_PREFIX}{number:04d}" for number in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class _Chunk:
    """One vectorised step, as Python lists (what the per-tick loop indexes fastest)."""

    symbol: list[int]
    price: list[float]
    size: list[float]
    seq: list[int]


class SyntheticSource(Stoppable):
    """Deterministic synthetic ticks at `rate` ticks/s (0 = as fast as possible) until count, duration or stop()."""

    def __init__(
        self,
        symbols: int,
        rate: float,
        seed: int = 7,
        count: int | None = None,
        duration_s: float | None = None,
        source: str = "synthetic",
        start_ts: datetime | None = None,
    ) -> None:
        _check_arguments(symbols, rate, count, duration_s, start_ts)
        self.symbols = symbol_names(symbols)
        self.rate = rate
        self.seed = seed
        self.count = count
        self.duration_s = duration_s
        self.source = source
        self.start_ts = start_ts
        super().__init__()

    def __iter__(self) -> Iterator[Tick]:
        for symbol, ts_us, price, size, seq in self._rows():
            ts = _EPOCH + timedelta(microseconds=ts_us)
            yield Tick(symbol=self.symbols[symbol], ts=ts, price=price, size=size, source=self.source, seq=seq)

    def iter_wire(self) -> Iterator[tuple[bytes, bytes]]:
        """(key = symbol, value = to_wire bytes) per tick, formatted directly: no pydantic object per tick."""
        wire = tick_wire(self.source)
        keys = [symbol.encode() for symbol in self.symbols]
        symbols = self.symbols
        for symbol, ts_us, price, size, seq in self._rows():
            yield keys[symbol], wire(symbols[symbol], ts_us, price, size, seq)

    def _rows(self) -> Iterator[tuple[int, int, float, float, int]]:
        """(symbol index, event time in epoch µs, price, size, seq) per tick, paced and bounded."""
        pace = self.rate > 0
        limit = self.count if self.count is not None else -1
        event_step_us = 1e6 / self.rate if pace else UNTHROTTLED_EVENT_STEP_S * 1e6
        start_us = _epoch_us(self.start_ts) if self.start_ts is not None else None
        started = time.monotonic()
        deadline = started + self.duration_s if self.duration_s is not None else float("inf")
        emitted = 0
        for chunk in self._chunks():
            for symbol, price, size, seq in zip(chunk.symbol, chunk.price, chunk.size, chunk.seq, strict=True):
                if emitted == limit or self._stopped.is_set():
                    return
                now = time.monotonic()
                if pace:
                    # Open loop: tick i is due at start + i/rate whatever happened before. Sleep only when ahead;
                    # when behind, send at once so the backlog shows as latency. Sleeping a fixed gap after each
                    # send instead would let a slow sink quietly lower the offered rate and hide that backlog.
                    due = started + emitted / self.rate
                    if due > now:
                        if self._stopped.wait(due - now):
                            return
                        now = due
                if now >= deadline:
                    return
                # Without start_ts: the wall clock at emission, since latency downstream is measured from it.
                ts_us = time.time_ns() // 1000 if start_us is None else start_us + int(emitted * event_step_us)
                yield symbol, ts_us, price, size, seq
                emitted += 1

    def _chunks(self) -> Iterator[_Chunk]:
        """Endless chunks of CHUNK_TICKS ticks: random symbols, per-symbol GBM prices and contiguous seq."""
        rng = np.random.default_rng(self.seed)
        n_symbols = len(self.symbols)
        log_price = np.log(START_PRICE) + START_PRICE_LOG_SIGMA * rng.standard_normal(n_symbols)
        next_seq = np.zeros(n_symbols, dtype=np.int64)
        while True:
            symbol = rng.integers(0, n_symbols, CHUNK_TICKS)
            # -sigma^2/2 drift in log makes the price itself a martingale.
            steps = rng.normal(-0.5 * TICK_LOG_VOL**2, TICK_LOG_VOL, CHUNK_TICKS)
            sizes = ROUND_LOT * rng.geometric(LOTS_P, CHUNK_TICKS)
            ticks_log_price, seq = _advance_per_symbol(symbol, steps, log_price, next_seq)
            prices = np.maximum(np.round(np.exp(ticks_log_price), 2), 0.01)  # whole cents, never 0
            yield _Chunk(symbol.tolist(), prices.tolist(), sizes.astype(np.float64).tolist(), seq.tolist())


def _advance_per_symbol(
    symbol: npt.NDArray[np.int64],
    steps: npt.NDArray[np.float64],
    log_price: npt.NDArray[np.float64],
    next_seq: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Each tick's log price (its symbol's running sum of steps) and seq; updates log_price and next_seq in place."""
    order = np.argsort(symbol, kind="stable")  # group ticks by symbol, keeping their order within a symbol
    grouped = symbol[order]
    position = np.arange(grouped.size)
    first = np.ones(grouped.size, dtype=bool)
    first[1:] = grouped[1:] != grouped[:-1]
    group_start = np.maximum.accumulate(np.where(first, position, 0))
    running = np.cumsum(steps[order])
    # Sum of this symbol's steps so far in the chunk: the running total minus what came before its group.
    within = running - (running[group_start] - steps[order][group_start])
    grouped_log_price = log_price[grouped] + within
    grouped_seq = next_seq[grouped] + (position - group_start)
    last = np.ones(grouped.size, dtype=bool)
    last[:-1] = first[1:]
    log_price[grouped[last]] = grouped_log_price[last]
    next_seq[grouped[last]] = grouped_seq[last] + 1
    tick_log_price = np.empty_like(grouped_log_price)
    tick_seq = np.empty_like(grouped_seq)
    tick_log_price[order] = grouped_log_price
    tick_seq[order] = grouped_seq
    return tick_log_price, tick_seq


def _check_arguments(
    symbols: int, rate: float, count: int | None, duration_s: float | None, start_ts: datetime | None
) -> None:
    if not 1 <= symbols <= MAX_SYMBOLS:
        raise ValueError(f"symbols must be in [1, {MAX_SYMBOLS}], got {symbols}")
    if rate < 0:
        raise ValueError(f"rate must be >= 0 ticks/s (0 = unthrottled), got {rate}")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if duration_s is not None and duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if start_ts is not None and start_ts.tzinfo is None:
        raise ValueError("start_ts has no timezone; pass an aware UTC datetime")


def _epoch_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
