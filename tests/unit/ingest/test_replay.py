from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import bokeh_sampledata.stocks
import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

from marketpulse.contracts.base import from_wire, to_wire
from marketpulse.contracts.market import Tick
from marketpulse.ingest.replay import (
    AVAILABLE_SYMBOLS,
    SEQ_DAY_BITS,
    SESSION_US,
    DailyBar,
    ReplayProgress,
    ReplaySource,
    day_rng,
    intraday_ticks,
    load_daily_bars,
)

NEW_YORK = ZoneInfo("America/New_York")
# US summer time began on Sunday 2012-03-11: the open is 14:30 UTC on Friday the 9th, 13:30 UTC on Monday the 12th.
BEFORE_DST, AFTER_DST = date(2012, 3, 9), date(2012, 3, 12)


def _bar(symbol: str, day: date) -> DailyBar:
    row = load_daily_bars([symbol], day, day).iloc[0]
    return DailyBar(row["symbol"], row["date"], row["open"], row["high"], row["low"], row["close"], row["volume"])


def _is_whole_cents(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    return np.asarray(np.isclose(values * 100, np.round(values * 100), rtol=0, atol=1e-6), dtype=np.bool_)


@pytest.mark.parametrize(
    ("symbol", "day", "ticks"),
    [
        ("AAPL", BEFORE_DST, 2000),
        ("IBM", AFTER_DST, 2000),
        ("GOOG", date(2009, 11, 20), 500),  # sub-cent close (569.964) and a narrow range
        ("AAPL", date(2000, 3, 1), 50),  # first bar of the data
        ("MSFT", date(2003, 2, 18), 4),  # the fewest ticks that can show open, high, low and close
    ],
)
def test_intraday_ticks_honour_the_daily_bar(symbol: str, day: date, ticks: int) -> None:
    bar = _bar(symbol, day)
    frame = intraday_ticks(bar, ticks, np.random.default_rng(1))
    price = frame["price"].to_numpy()
    assert len(frame) == ticks
    assert price[0] == bar.open
    assert price[-1] == bar.close
    assert price.max() == bar.high
    assert price.min() == bar.low
    assert ((price >= bar.low) & (price <= bar.high)).all()
    exact_values = np.isin(price, [bar.open, bar.high, bar.low, bar.close])
    assert _is_whole_cents(price[~exact_values]).all()
    assert (frame["size"] > 0).all()
    assert frame["size"].sum() == pytest.approx(bar.volume, abs=1)
    assert (frame["size"] == frame["size"].round()).all()


@pytest.mark.parametrize("day", [BEFORE_DST, AFTER_DST])
def test_ticks_stay_in_the_new_york_session_across_dst(day: date) -> None:
    frame = intraday_ticks(_bar("AAPL", day), 2000, np.random.default_rng(2))
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    local = frame["ts"].dt.tz_convert(NEW_YORK)
    assert (local.dt.date == day).all()
    assert local.iloc[0].time() == clock_time(9, 30)
    assert local.iloc[-1].time() == clock_time(16, 0)
    assert local.dt.time.between(clock_time(9, 30), clock_time(16, 0)).all()
    assert frame["ts"].is_monotonic_increasing
    assert frame["ts"].is_unique
    open_hour_utc = 14 if day == BEFORE_DST else 13
    assert frame["ts"].iloc[0] == pd.Timestamp(datetime.combine(day, clock_time(open_hour_utc, 30), tzinfo=UTC))


def test_trading_is_u_shaped_over_the_session() -> None:
    frame = intraday_ticks(_bar("MSFT", AFTER_DST), 4000, np.random.default_rng(3))
    minutes = (frame["ts"] - frame["ts"].iloc[0]).dt.total_seconds() / 60
    first, midday, last = (minutes < 30), minutes.between(180, 210), (minutes >= 360)
    for edge in (first, last):
        assert edge.sum() > 2 * midday.sum()
        assert frame["size"][edge].sum() > 2 * frame["size"][midday].sum()


def test_intraday_ticks_accept_a_row_of_load_daily_bars() -> None:
    row = load_daily_bars(["IBM"], AFTER_DST, AFTER_DST).iloc[0]
    from_row = intraday_ticks(row, 100, np.random.default_rng(4))
    from_bar = intraday_ticks(_bar("IBM", AFTER_DST), 100, np.random.default_rng(4))
    pd.testing.assert_frame_equal(from_row, from_bar)


def test_too_few_ticks_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 ticks"):
        intraday_ticks(_bar("IBM", AFTER_DST), 3, np.random.default_rng(0))


def test_load_daily_bars_columns_and_range() -> None:
    bars = load_daily_bars(["MSFT", "aapl"], date(2012, 3, 1), date(2012, 3, 31))
    assert list(bars.columns) == ["symbol", "date", "open", "high", "low", "close", "volume"]
    assert set(bars["symbol"]) == {"AAPL", "MSFT"}
    assert isinstance(bars["date"].iloc[0], date)
    assert bars["date"].min() >= date(2012, 3, 1)
    assert bars["date"].max() <= date(2012, 3, 31)
    assert len(bars) == 2 * 22  # 22 trading days in March 2012
    assert bars.attrs["dropped_rows"] == 0


def test_unknown_symbol_names_the_available_ones() -> None:
    with pytest.raises(ValueError, match="TSLA") as error:
        load_daily_bars(["AAPL", "TSLA"])
    assert all(symbol in str(error.value) for symbol in AVAILABLE_SYMBOLS)


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2014, 1, 1), None), (date(2012, 3, 10), date(2012, 3, 11)), (date(2012, 3, 12), date(2012, 3, 9))],
)
def test_empty_range_is_an_error(start: date, end: date | None) -> None:
    with pytest.raises(ValueError, match="no daily bars") as error:
        load_daily_bars(["IBM"], start, end)
    assert all(symbol in str(error.value) for symbol in AVAILABLE_SYMBOLS)


def test_inconsistent_source_rows_are_dropped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    good = {"ticker": "IBM", "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1000, "adj_close": 1.0}
    bad = {**good, "high": 10.2}  # close 10.5 above the high
    raw = pd.DataFrame([good, bad, good]).assign(date=pd.to_datetime(["2012-03-07", "2012-03-08", "2012-03-09"]))
    monkeypatch.setattr(bokeh_sampledata.stocks, "data", raw)
    bars = load_daily_bars(["IBM"])
    assert list(bars["date"]) == [date(2012, 3, 7), date(2012, 3, 9)]
    assert bars.attrs["dropped_rows"] == 1


def _replay(**kwargs: object) -> list[Tick]:
    arguments: dict[str, object] = {"symbols": ["AAPL", "IBM", "FB"], "start": date(2012, 11, 1)}
    arguments |= {"end": date(2012, 11, 6), "ticks_per_day": 200}
    arguments |= kwargs
    return list(ReplaySource(**arguments))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def replayed() -> list[Tick]:
    return _replay()


def test_replay_merges_symbols_in_event_time_order(replayed: list[Tick]) -> None:
    stamps = [tick.ts for tick in replayed]
    assert stamps == sorted(stamps)
    assert {tick.symbol for tick in replayed} == {"AAPL", "IBM", "FB"}
    assert len(replayed) == 3 * 4 * 200  # 3 symbols x 4 trading days (Nov 1, 2, 5, 6) x 200


def test_replay_seq_increases_per_symbol_across_days_and_runs(replayed: list[Tick]) -> None:
    seqs: dict[str, list[int]] = defaultdict(list)
    for tick in replayed:
        assert tick.seq is not None
        seqs[tick.symbol].append(tick.seq)
        # A day's ticks are numbered from that day's base: a replay resumed at a later day continues above.
        assert tick.seq >> SEQ_DAY_BITS == tick.ts.date().toordinal()
    for values in seqs.values():
        assert all(later > earlier for earlier, later in itertools.pairwise(values))


def test_every_replayed_tick_is_a_valid_contract(replayed: list[Tick]) -> None:
    for tick in replayed:
        assert Tick.model_validate(tick.model_dump()) == tick
        assert from_wire(Tick, to_wire(tick)) == tick
        assert tick.source == "replay"


def test_replay_days_match_their_bars(replayed: list[Tick]) -> None:
    bars = load_daily_bars(["AAPL", "IBM", "FB"], date(2012, 11, 1), date(2012, 11, 6))
    for bar in bars.itertuples(index=False):
        prices = [t.price for t in replayed if t.symbol == bar.symbol and t.ts.astimezone(NEW_YORK).date() == bar.date]
        assert (prices[0], prices[-1], max(prices), min(prices)) == (bar.open, bar.close, bar.high, bar.low)


def test_replay_is_deterministic_per_seed(replayed: list[Tick]) -> None:
    assert _replay() == replayed
    assert [t.price for t in _replay(seed=8)] != [t.price for t in replayed]


def test_a_symbols_day_does_not_depend_on_what_else_is_replayed(replayed: list[Tick]) -> None:
    alone = _replay(symbols=["IBM"])
    assert [(t.ts, t.price, t.size, t.seq) for t in alone] == [
        (t.ts, t.price, t.size, t.seq) for t in replayed if t.symbol == "IBM"
    ]


def test_total_ticks_and_progress_once_per_day() -> None:
    reports: list[ReplayProgress] = []
    source = ReplaySource(["AAPL", "FB"], date(2012, 11, 1), date(2012, 11, 6), 10, on_progress=reports.append)
    ticks = list(source)
    assert source.total_ticks() == len(ticks) == 2 * 4 * 10
    assert [report.day for report in reports] == [date(2012, 11, d) for d in (1, 2, 5, 6)]
    assert [report.days_done for report in reports] == [1, 2, 3, 4]
    assert {report.days_total for report in reports} == {4}
    assert [report.ticks_done for report in reports] == [20, 40, 60, 80]
    assert {report.ticks_total for report in reports} == {80}


def test_pacing_divides_market_time_and_skips_the_weekend(monkeypatch: pytest.MonkeyPatch) -> None:
    # Friday + Monday: two sessions of market time. At this speedup they take 0.5 s of wall time; sleeping
    # through the closed weekend as well (65.5 h) would add about 2.5 s.
    speedup = 2 * SESSION_US / 1e6 / 0.5
    source = ReplaySource(["IBM"], BEFORE_DST, AFTER_DST, ticks_per_day=10, speedup=speedup)
    clock = [1000.0]  # a fake monotonic clock that only the replay's waits move: the result is not a timing

    def wait(seconds: float) -> bool:
        clock[0] += seconds
        return False

    monkeypatch.setattr("marketpulse.ingest.replay.time.monotonic", lambda: clock[0])
    monkeypatch.setattr(source._stopped, "wait", wait)
    ticks = list(source)
    assert len(ticks) == 20
    assert 0.45 <= clock[0] - 1000.0 <= 0.5


def test_stop_ends_the_replay_between_ticks() -> None:
    source = ReplaySource(["AAPL", "IBM"], date(2012, 11, 1), date(2012, 11, 30), ticks_per_day=100)
    taken = []
    for tick in source:
        taken.append(tick)
        if len(taken) == 5:
            source.stop()
    assert len(taken) == 5
    assert source.stopped


def test_stop_cuts_a_pacing_sleep_short() -> None:
    # In real time (speedup 1) the second tick is minutes away; stop() from another thread must end the wait.
    source = ReplaySource(["IBM"], AFTER_DST, AFTER_DST, ticks_per_day=4, speedup=1.0)
    timer = threading.Timer(0.2, source.stop)
    started = time.monotonic()
    timer.start()
    ticks = list(source)
    timer.join()
    assert len(ticks) == 1
    assert time.monotonic() - started < 10


def test_replay_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="speedup"):
        ReplaySource(["IBM"], AFTER_DST, AFTER_DST, speedup=-1)
    with pytest.raises(ValueError, match="ticks_per_day"):
        ReplaySource(["IBM"], AFTER_DST, AFTER_DST, ticks_per_day=2)
    with pytest.raises(ValueError, match="available"):
        ReplaySource(["XYZ"], None, None)


def test_day_rng_is_stable() -> None:
    first = day_rng(7, "AAPL", AFTER_DST).random(3)
    assert (first == day_rng(7, "AAPL", AFTER_DST).random(3)).all()
    assert (first != day_rng(7, "IBM", AFTER_DST).random(3)).all()
