from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from marketpulse.contracts.base import from_wire, to_wire
from marketpulse.contracts.market import SYMBOL_PATTERN, Tick
from marketpulse.ingest.synthetic import CHUNK_TICKS, SyntheticSource, _advance_per_symbol, symbol_names

START = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def _ticks(**kwargs: object) -> list[Tick]:
    arguments: dict[str, object] = {"symbols": 7, "rate": 0, "count": 2500, "start_ts": START} | kwargs
    return list(SyntheticSource(**arguments))  # type: ignore[arg-type]


def test_count_is_exact() -> None:
    assert len(_ticks()) == 2500
    assert list(SyntheticSource(3, 0, count=0)) == []


def test_symbols_are_named_and_all_used() -> None:
    ticks = _ticks()
    assert {tick.symbol for tick in ticks} == {f"SYN000{i}" for i in range(1, 8)}
    assert symbol_names(12)[-1] == "SYN0012"
    assert symbol_names(10_000)[-1] == "SYN10000"
    assert all(re.match(SYMBOL_PATTERN, name) for name in [*symbol_names(3), "SYN9999999"])


def test_seq_counts_up_from_zero_per_symbol() -> None:
    seqs: dict[str, list[int]] = defaultdict(list)
    for tick in _ticks():
        seqs[tick.symbol].append(tick.seq if tick.seq is not None else -1)
    for values in seqs.values():
        assert values == list(range(len(values)))


def test_prices_are_positive_cents_and_sizes_round_lots() -> None:
    ticks = _ticks(count=5000)
    prices = np.array([tick.price for tick in ticks])
    assert (prices > 0).all()
    assert np.allclose(prices * 100, np.round(prices * 100), rtol=0, atol=1e-6)
    assert all(tick.size > 0 and tick.size % 100 == 0 for tick in ticks)


@pytest.mark.parametrize("source", ["synthetic", 'bench "q" é'])
def test_iter_wire_bytes_equal_to_wire_of_the_tick(source: str) -> None:
    arguments = {"symbols": 50, "rate": 0, "count": 2 * CHUNK_TICKS + 17, "start_ts": START, "source": source}
    wire = list(SyntheticSource(**arguments).iter_wire())  # type: ignore[arg-type]
    ticks = list(SyntheticSource(**arguments))  # type: ignore[arg-type]
    assert wire == [(tick.symbol.encode(), to_wire(tick)) for tick in ticks]
    assert all(from_wire(Tick, value) == tick for (_, value), tick in zip(wire, ticks, strict=True))


def test_wall_clock_event_time_without_start_ts() -> None:
    before = datetime.now(UTC)
    ticks = list(SyntheticSource(2, 0, count=100))
    after = datetime.now(UTC)
    assert all(before - timedelta(milliseconds=1) <= tick.ts <= after for tick in ticks)
    keys_values = list(SyntheticSource(2, 0, count=100).iter_wire())
    assert all(from_wire(Tick, value).symbol == key.decode() for key, value in keys_values)


def test_start_ts_advances_event_time_by_one_over_rate() -> None:
    ticks = _ticks(rate=2000, count=20)
    assert [tick.ts for tick in ticks] == [START + timedelta(microseconds=500 * i) for i in range(20)]


def test_deterministic_with_start_ts() -> None:
    first = _ticks()
    assert _ticks() == first
    assert _ticks(count=1234) == first[:1234]  # whole chunks are drawn whatever the count
    assert [tick.price for tick in _ticks(seed=8)] != [tick.price for tick in first]


def test_rate_paces_the_ticks() -> None:
    started = time.monotonic()
    ticks = list(SyntheticSource(3, rate=400, count=200).iter_wire())
    assert len(ticks) == 200
    assert time.monotonic() - started >= 199 / 400 * 0.95  # tick i is not sent before i / rate


def test_duration_bounds_the_run() -> None:
    started = time.monotonic()
    ticks = list(SyntheticSource(3, rate=1000, duration_s=0.3).iter_wire())
    elapsed = time.monotonic() - started
    assert elapsed >= 0.29
    assert 0 < len(ticks) <= 301


def test_stop_ends_iteration() -> None:
    source = SyntheticSource(3, rate=0)
    taken = 0
    for _ in source.iter_wire():
        taken += 1
        if taken == 10:
            source.stop()
    assert taken == 10
    assert source.stopped


def test_stop_cuts_a_pacing_sleep_short() -> None:
    source = SyntheticSource(1, rate=0.01)  # the second tick is 100 s away
    timer = threading.Timer(0.2, source.stop)
    started = time.monotonic()
    timer.start()
    ticks = list(source)
    timer.join()
    assert len(ticks) == 1
    assert time.monotonic() - started < 10


def test_vectorised_per_symbol_walk_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    symbol = rng.integers(0, 5, 300)
    steps = rng.normal(0, 0.01, 300)
    log_price, next_seq = rng.normal(4, 0.1, 5), np.arange(5, dtype=np.int64) * 10
    expected_price, expected_seq = [], []
    loop_price, loop_seq = log_price.copy(), next_seq.copy()
    for s, step in zip(symbol.tolist(), steps.tolist(), strict=True):
        loop_price[s] += step
        expected_price.append(loop_price[s])
        expected_seq.append(int(loop_seq[s]))
        loop_seq[s] += 1
    prices, seqs = _advance_per_symbol(symbol, steps, log_price, next_seq)
    assert np.allclose(prices, expected_price, rtol=0, atol=1e-12)
    assert seqs.tolist() == expected_seq
    assert np.allclose(log_price, loop_price, rtol=0, atol=1e-12)
    assert (next_seq == loop_seq).all()


@pytest.mark.parametrize(
    "arguments",
    [
        {"symbols": 0, "rate": 0},
        {"symbols": 10_000_000, "rate": 0},
        {"symbols": 1, "rate": -1},
        {"symbols": 1, "rate": 0, "count": -1},
        {"symbols": 1, "rate": 0, "duration_s": 0},
        {"symbols": 1, "rate": 0, "start_ts": datetime(2024, 1, 2)},  # naive on purpose
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"symbols|rate|count|duration_s|start_ts"):
        SyntheticSource(**arguments)  # type: ignore[arg-type]
