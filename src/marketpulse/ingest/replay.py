"""Replay of real market history: daily OHLCV bars expanded into intraday ticks that honour each bar exactly.

Source: ``bokeh_sampledata.stocks.data`` (Quandl WIKI, public domain): unadjusted daily bars of AAPL, FB, GOOG,
IBM and MSFT, ending 2013-03-01 (FB from its 2012-05-18 IPO, GOOG from its 2004-08-19 IPO).

What we found in that data (checked against bokeh-sampledata 2026.1, 12,154 rows):

* no row violates low <= open, close <= high, and none has a non-positive price or volume, a missing value, a
  duplicate (symbol, date) or a weekend date; the check below still drops and counts such rows should a later
  release contain them (count in ``frame.attrs["dropped_rows"]`` and a log warning);
* 1,325 rows (2003-04-02 onwards, all five symbols) carry sub-cent prices such as 596.5399 or 128.655, so a
  bar's own open/high/low/close need not be whole cents: ticks keep those four values exactly, every other tick
  is in whole cents;
* prices are unadjusted, so splits show as overnight jumps: AAPL 2000-06-21 and 2005-02-28, MSFT 2003-02-18
  (all 2:1). AAPL 2000-09-29 (-52%) is a real crash, not an error;
* trading gaps are real closures: 2001-09-11..14, 2007-01-02 (national day of mourning), 2012-10-29..30 (Sandy);
* half-day sessions (e.g. the day after Thanksgiving, Christmas Eve) are not marked; they replay as full
  09:30-16:00 sessions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.contracts.market import Tick
from marketpulse.ingest.pacing import Stoppable

log = logging.getLogger(__name__)

AVAILABLE_SYMBOLS: tuple[str, ...] = ("AAPL", "FB", "GOOG", "IBM", "MSFT")
BAR_COLUMNS: list[str] = ["symbol", "date", "open", "high", "low", "close", "volume"]

EXCHANGE_TZ = "America/New_York"
SESSION_OPEN = clock_time(9, 30)
SESSION_CLOSE = clock_time(16, 0)
#: Regular session length in microseconds (6.5 h; DST switches happen on Sunday nights, never inside a session).
SESSION_US = 23_400_000_000

#: Trade intensity over the session is 1 + U_SHAPE_DEPTH * (2x - 1)^2 for x in [0, 1]: 4x midday at open and close.
U_SHAPE_DEPTH = 3.0
#: Spread of per-trade sizes (sigma of log size); sizes are iid, so shares per minute follow the trade intensity.
SIZE_LOG_SIGMA = 1.0
#: Open, high, low and close each need a tick of their own.
MIN_TICKS_PER_DAY = 4

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One symbol's daily OHLCV bar."""

    symbol: str
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True, slots=True)
class ReplayProgress:
    """Where a replay stands after finishing `day`; for a progress line."""

    day: date
    days_done: int
    days_total: int
    ticks_done: int
    ticks_total: int


# --- daily bars -------------------------------------------------------------------------------------------------


def load_daily_bars(
    symbols: Sequence[str] | None = None, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Daily bars (symbol, date, open, high, low, close, volume) for `symbols` in [start, end], by date then symbol."""
    wanted = _checked_symbols(symbols)
    from bokeh_sampledata.stocks import data as raw  # loads ~12k rows; imported here so import has no side effects

    frame = raw.rename(columns={"ticker": "symbol"})
    frame = frame.assign(date=frame["date"].dt.date)[BAR_COLUMNS]
    frame = frame[frame["symbol"].isin(wanted)]
    if start is not None:
        frame = frame[frame["date"] >= start]
    if end is not None:
        frame = frame[frame["date"] <= end]
    frame, dropped = _drop_inconsistent(frame)
    if frame.empty:
        raise ValueError(
            f"no daily bars for {', '.join(wanted)} between {start or 'the start'} and {end or 'the end'}; "
            f"available: {', '.join(AVAILABLE_SYMBOLS)}, 2000-03-01..2013-03-01 (FB from 2012-05-18, GOOG 2004-08-19)"
        )
    frame = frame.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
    frame.attrs["dropped_rows"] = dropped
    return frame


def _checked_symbols(symbols: Sequence[str] | None) -> list[str]:
    if symbols is None:
        return list(AVAILABLE_SYMBOLS)
    if isinstance(symbols, str):  # a bare "AAPL" would otherwise be read as the symbols A, A, P, L
        symbols = [symbols]
    wanted = list(dict.fromkeys(symbol.upper() for symbol in symbols))
    unknown = [symbol for symbol in wanted if symbol not in AVAILABLE_SYMBOLS]
    if unknown or not wanted:
        raise ValueError(
            f"no replay history for {', '.join(unknown) or 'an empty symbol list'}; "
            f"available: {', '.join(AVAILABLE_SYMBOLS)}"
        )
    return wanted


def _drop_inconsistent(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows with low <= open, close <= high, positive prices and volume; and how many were dropped."""
    low, high = frame["low"], frame["high"]
    consistent = (
        (low > 0)
        & (low <= frame["open"])
        & (low <= frame["close"])
        & (frame["open"] <= high)
        & (frame["close"] <= high)
        & (frame["volume"] > 0)
    )
    dropped = int((~consistent).sum())
    if dropped:
        log.warning("dropped %d daily bars violating low <= open, close <= high or with no volume", dropped)
    return frame[consistent], dropped


def _as_daily_bar(bar: DailyBar | pd.Series | Any) -> DailyBar:
    if isinstance(bar, DailyBar):
        return bar
    return DailyBar(
        symbol=str(bar["symbol"]),
        day=bar["date"],
        open=float(bar["open"]),
        high=float(bar["high"]),
        low=float(bar["low"]),
        close=float(bar["close"]),
        volume=int(bar["volume"]),
    )


# --- one day -> ticks -------------------------------------------------------------------------------------------


#: Room for a day's ticks in a replay seq (a day's seq starts at day.toordinal() << SEQ_DAY_BITS).
SEQ_DAY_BITS = 32


def replay_seq(day: date, numbers: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Tick.seq of the day's ticks numbered 0, 1, ... per symbol: increasing per symbol across days and across
    replay runs (a later `make run` resumes at a later day), as the contract asks, so the stream can tell a tick
    sent again (a day replayed twice) from a new one."""
    if len(numbers) and int(numbers.max()) >= 1 << SEQ_DAY_BITS:
        raise ValueError(f"at most {1 << SEQ_DAY_BITS} ticks per symbol and day")
    return np.int64(day.toordinal() << SEQ_DAY_BITS) + numbers


def session_open_us(day: date) -> int:
    """Epoch microseconds of the 09:30 New York open on `day` (13:30 UTC in summer time, 14:30 in winter)."""
    local_open = datetime.combine(day, SESSION_OPEN, tzinfo=ZoneInfo(EXCHANGE_TZ))
    return _epoch_us(local_open)


def intraday_ticks(bar: DailyBar | pd.Series, ticks: int, rng: np.random.Generator) -> pd.DataFrame:
    """Ticks (ts, price, size) for one daily bar: first = open, last = close, extremes = high and low exactly."""
    day = _intraday_arrays(_as_daily_bar(bar), ticks, rng)
    return pd.DataFrame(
        {"ts": pd.to_datetime(day.epoch_us * 1_000, unit="ns", utc=True), "price": day.price, "size": day.size}
    )


@dataclass(frozen=True, slots=True)
class _IntradayArrays:
    epoch_us: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    size: npt.NDArray[np.float64]


def _intraday_arrays(bar: DailyBar, ticks: int, rng: np.random.Generator) -> _IntradayArrays:
    _check_tick_count(ticks, bar)
    # Draw order is part of the determinism contract: times, then path, then sizes.
    offsets = session_offsets_us(ticks, rng)
    prices = rounded_inside_bar(bridge_to_bar(brownian_bridge(ticks, rng), bar), bar)
    sizes = split_volume(bar.volume, ticks, rng).astype(np.float64)
    return _IntradayArrays(session_open_us(bar.day) + offsets, prices, sizes)


def _check_tick_count(ticks: int, bar: DailyBar) -> None:
    if ticks < MIN_TICKS_PER_DAY:
        raise ValueError(f"need at least {MIN_TICKS_PER_DAY} ticks per day (open, high, low, close), got {ticks}")
    if ticks > bar.volume:
        raise ValueError(f"{bar.symbol} {bar.day}: {ticks} ticks cannot share {bar.volume} shares (>= 1 each)")


def session_offsets_us(ticks: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Strictly increasing microsecond offsets from the open: 0 (open cross), U-shaped interior, close cross."""
    interior = ticks - 2
    # Sorted uniforms through the intensity's inverse CDF are the order statistics of U-shaped arrival times.
    fractions = u_shape_quantile(np.sort(rng.random(interior)))
    # Leave room for +arange: equal microseconds after flooring become strictly increasing, still < SESSION_US.
    span = SESSION_US - 1 - interior
    interior_us = np.floor(fractions * span).astype(np.int64) + np.arange(1, interior + 1, dtype=np.int64)
    return np.concatenate(([0], interior_us, [SESSION_US])).astype(np.int64)


def u_shape_quantile(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Inverse CDF on [0, 1] of the intensity 1 + U_SHAPE_DEPTH * (2x - 1)^2 (solved exactly, Cardano)."""
    k = U_SHAPE_DEPTH
    # With y = 2x - 1 the CDF is ((y + 1)/2 + k (y^3 + 1)/6) / (1 + k/3); solve k y^3/6 + y/2 = c for y.
    c = u * (1 + k / 3) - 0.5 - k / 6
    p, q = 3 / k, -6 * c / k
    root = np.sqrt(q * q / 4 + p**3 / 27)
    y = np.cbrt(-q / 2 + root) + np.cbrt(-q / 2 - root)
    return _clip((y + 1) / 2, 0.0, 1.0)


def brownian_bridge(ticks: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A Gaussian random-walk bridge from 0 to 0 (tick time) whose max > 0 and min < 0 are at interior ticks."""
    walk = np.concatenate(([0.0], np.cumsum(rng.standard_normal(ticks - 1))))
    fraction = np.arange(ticks) / (ticks - 1)
    bridge = np.asarray(walk - fraction * walk[-1], dtype=np.float64)
    if bridge.max() > 0 > bridge.min():
        return bridge
    # Rare (~2/ticks): one side never crossed. Rotating the increments keeps their law and, started from a
    # point strictly between the extremes, puts both extremes strictly inside.
    period = ticks - 1
    between = np.flatnonzero((bridge[:period] > bridge.min()) & (bridge[:period] < bridge.max()))
    pivot = int(between[0]) if between.size else 1
    return np.asarray(bridge[(pivot + np.arange(ticks)) % period] - bridge[pivot], dtype=np.float64)


def bridge_to_bar(bridge: npt.NDArray[np.float64], bar: DailyBar) -> npt.NDArray[np.float64]:
    """Open->close line plus the bridge, excursions above scaled to touch the high and below to touch the low."""
    line = bar.open + (bar.close - bar.open) * np.arange(bridge.size) / (bridge.size - 1)
    above, below = bridge > 0, bridge < 0
    # Largest scale keeping every upward excursion <= high; the tick that binds lands exactly on the high.
    up_room = (bar.high - line[above]) / bridge[above]
    down_room = (line[below] - bar.low) / -bridge[below]
    prices = line + np.where(above, up_room.min(), down_room.min()) * bridge
    prices[np.flatnonzero(above)[up_room.argmin()]] = bar.high
    prices[np.flatnonzero(below)[down_room.argmin()]] = bar.low
    prices[0], prices[-1] = bar.open, bar.close
    return _clip(prices, bar.low, bar.high)


def rounded_inside_bar(prices: npt.NDArray[np.float64], bar: DailyBar) -> npt.NDArray[np.float64]:
    """Prices in whole cents within [low, high]; the open, close, high and low ticks keep the bar's exact values."""
    anchors = np.array([0, prices.size - 1, int(prices.argmax()), int(prices.argmin())])
    anchor_values = prices[anchors]
    # Cent grid inside the bar (the bar's own bounds may be sub-cent, e.g. a low of 128.655).
    lowest_cent = np.ceil(np.round(bar.low * 100, 6)) / 100
    highest_cent = np.floor(np.round(bar.high * 100, 6)) / 100
    # A range narrower than a cent with sub-cent bounds has no cent inside: keep the raw path there.
    fits = lowest_cent <= highest_cent
    rounded = _clip(np.round(prices, 2), lowest_cent, highest_cent) if fits else prices.copy()
    rounded[anchors] = anchor_values
    return rounded


def split_volume(volume: int, ticks: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Integer trade sizes (>= 1 share, lognormal) summing exactly to `volume` (largest-remainder rounding)."""
    weights = rng.lognormal(0.0, SIZE_LOG_SIGMA, ticks)
    spare = volume - ticks  # one share per trade first, so no size rounds to zero
    exact = spare * weights / weights.sum()
    sizes = np.floor(exact).astype(np.int64)
    short = spare - int(sizes.sum())
    if short > 0:
        sizes[np.argsort(sizes - exact, kind="stable")[:short]] += 1
    return np.asarray(sizes + 1, dtype=np.int64)


def _clip(values: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.float64]:
    return np.asarray(np.clip(values, low, high), dtype=np.float64)


def _epoch_us(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def day_rng(seed: int, symbol: str, day: date) -> np.random.Generator:
    """The generator for one (symbol, day): the same ticks whatever else is replayed alongside."""
    return np.random.default_rng(np.random.SeedSequence([seed, day.toordinal(), int.from_bytes(symbol.encode())]))


# --- the source -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DayTicks:
    """All symbols' ticks of one session, merged in event-time order."""

    day: date
    symbols: list[str]
    epoch_us: npt.NDArray[np.int64]
    session_offset_us: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    size: npt.NDArray[np.float64]
    seq: npt.NDArray[np.int64]


class ReplaySource(Stoppable):
    """Real daily history replayed as intraday ticks, all symbols merged in event-time order."""

    def __init__(
        self,
        symbols: Sequence[str] | None,
        start: date | None,
        end: date | None,
        ticks_per_day: int = 2000,
        speedup: float = 0.0,
        seed: int = 7,
        source: str = "replay",
        on_progress: Callable[[ReplayProgress], None] | None = None,
    ) -> None:
        if speedup < 0:
            raise ValueError(f"speedup must be >= 0 (0 = as fast as possible), got {speedup}")
        self.bars = load_daily_bars(symbols, start, end)
        if ticks_per_day < MIN_TICKS_PER_DAY or ticks_per_day > int(self.bars["volume"].min()):
            raise ValueError(
                f"ticks_per_day must be in [{MIN_TICKS_PER_DAY}, {int(self.bars['volume'].min())}] "
                f"(each tick trades >= 1 share), got {ticks_per_day}"
            )
        self.ticks_per_day = ticks_per_day
        self.speedup = speedup
        self.seed = seed
        self.source = source
        self.on_progress = on_progress
        self.days: list[date] = sorted(set(self.bars["date"]))
        super().__init__()

    def total_ticks(self) -> int:
        """Ticks a full replay yields: one day of `ticks_per_day` per (symbol, date) bar."""
        return len(self.bars) * self.ticks_per_day

    def __iter__(self) -> Iterator[Tick]:
        ticks_done = 0
        started = time.monotonic()
        for days_done, (day, day_bars) in enumerate(self.bars.groupby("date", sort=True), start=1):
            merged = self._day_ticks(day, day_bars)
            # Market time runs only in sessions (day k starts k-1 sessions in): nights and weekends take no wall time.
            day_start_s = started + (days_done - 1) * SESSION_US / 1e6 / self.speedup if self.speedup > 0 else 0.0
            rows = zip(
                merged.symbols,
                merged.epoch_us.tolist(),
                merged.session_offset_us.tolist(),
                merged.price.tolist(),
                merged.size.tolist(),
                merged.seq.tolist(),
                strict=True,
            )
            for symbol, epoch_us, offset_us, price, size, seq in rows:
                if self.speedup > 0:
                    self._wait_until(day_start_s + offset_us / 1e6 / self.speedup)
                if self._stopped.is_set():
                    return
                ts = _EPOCH + timedelta(microseconds=epoch_us)
                yield Tick(symbol=symbol, ts=ts, price=price, size=size, source=self.source, seq=seq)
                ticks_done += 1
            if self.on_progress is not None:
                self.on_progress(ReplayProgress(day, days_done, len(self.days), ticks_done, self.total_ticks()))

    def _day_ticks(self, day: date, day_bars: pd.DataFrame) -> _DayTicks:
        bars = [_as_daily_bar(row) for _, row in day_bars.iterrows()]
        per_symbol = [_intraday_arrays(bar, self.ticks_per_day, day_rng(self.seed, bar.symbol, day)) for bar in bars]
        code = np.repeat(np.arange(len(bars)), self.ticks_per_day)
        epoch_us = np.concatenate([arrays.epoch_us for arrays in per_symbol])
        seq = replay_seq(day, np.tile(np.arange(self.ticks_per_day, dtype=np.int64), len(bars)))
        order = np.argsort(epoch_us, kind="stable")  # ties keep symbol order: deterministic
        return _DayTicks(
            day=day,
            symbols=[bars[c].symbol for c in code[order].tolist()],
            epoch_us=epoch_us[order],
            session_offset_us=epoch_us[order] - session_open_us(day),
            price=np.concatenate([arrays.price for arrays in per_symbol])[order],
            size=np.concatenate([arrays.size for arrays in per_symbol])[order],
            seq=seq[order],
        )
