"""The market job's driver-side state and archive spool, on tiny inputs: many symbols at once equal the batch
computation, snapshots survive a restart, and the archive path writes every committed batch exactly once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from factories import random_walk_ticks
from marketpulse.errors import StackError
from marketpulse.features.bars import BAR_COLUMNS, ticks_to_bars
from marketpulse.features.indicators import INDICATOR_COLUMNS, indicators
from marketpulse.stream.market_state import MarketState, StateStore, advance, split_kinds
from marketpulse.stream.spool import Archiver, ArchiveSink, MarketFacts, Spool

START = pd.Timestamp("2013-03-04 14:30", tz="UTC")


def _ticks(symbols: int, minutes: int, seed: int) -> pd.DataFrame:
    """Interleaved ticks of many symbols, ~one every 2 s each, in time order across symbols."""
    rng = np.random.default_rng(seed)
    frames = [
        random_walk_ticks(
            f"S{number:02d}",
            START,
            minutes=minutes,
            count=minutes * 30,
            rng=rng,
            price=20 * (number + 1),
            max_size=400,
            decimals=4,
        )
        for number in range(symbols)
    ]
    return pd.concat(frames).sort_values("ts", kind="stable").reset_index(drop=True)


def _stream(ticks: pd.DataFrame, cuts: list[int], *, restart: bool) -> dict[str, pd.DataFrame]:
    state, emitted = MarketState(), []
    for chunk in np.array_split(ticks, cuts):
        if restart:
            state = state.copy()  # every batch starts from a snapshot round trip, as after a restart
        emitted.append(advance(state, chunk))
    return split_kinds(pd.concat(emitted, ignore_index=True))


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns].sort_values(["symbol", "ts"]).reset_index(drop=True)


@pytest.mark.parametrize("restart", [False, True])
def test_many_symbols_at_once_equal_the_batch_computation(restart: bool) -> None:
    ticks = _ticks(symbols=12, minutes=45, seed=4)
    kinds = _stream(ticks, cuts=[5, 900, 901, 4000, 9000, 9100, 14000], restart=restart)

    for interval, kind in (("1s", "bar_1s"), ("1min", "bar_1m")):
        bars = ticks_to_bars(ticks, interval)
        closed = bars[bars.groupby("symbol")["ts"].transform("max") != bars["ts"]]  # each symbol's last is open
        got = _sorted(kinds[kind], BAR_COLUMNS)
        want = _sorted(closed, BAR_COLUMNS)
        assert len(got) == len(want) > 0
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, check_dtype=False)

    bars_1m = ticks_to_bars(ticks, "1min")
    want = indicators(bars_1m)
    want = want[want.set_index(["symbol", "ts"]).index.isin(kinds["bar_1m"].set_index(["symbol", "ts"]).index)]
    got = _sorted(kinds["indicators"], ["symbol", "ts", "close", *INDICATOR_COLUMNS])
    assert got["rsi_14"].notna().sum() > 100
    pd.testing.assert_frame_equal(got, _sorted(want, list(got.columns)), check_exact=False, rtol=1e-9)

    # Each indicator row carries its bar's volume (a model input), as training's rows do.
    with_volume = kinds["indicators"].merge(
        bars_1m[["symbol", "ts", "volume"]], on=["symbol", "ts"], suffixes=("", "_bar")
    )
    assert len(with_volume) == len(kinds["indicators"])
    np.testing.assert_allclose(with_volume["volume"], with_volume["volume_bar"], rtol=1e-12)

    latest = kinds["latest"].groupby("symbol")["ts"].max()
    assert (latest == ticks.groupby("symbol")["ts"].max()).all()


def test_ticks_before_a_closed_second_are_late_and_change_nothing() -> None:
    ticks = _ticks(symbols=3, minutes=3, seed=5)
    state = MarketState()
    first = split_kinds(advance(state, ticks))
    stale = ticks.iloc[[10, 20]].assign(price=1e6)  # long closed seconds, absurd price
    again = split_kinds(advance(state, stale))
    assert len(again["late"]) == 2
    assert again["bar_1s"].empty and again["bar_1m"].empty and again["latest"].empty
    assert (first["bar_1s"]["high"] < 1e6).all()


def test_state_snapshots_round_trip_and_a_missing_one_is_a_clear_error(tmp_path: Path) -> None:
    ticks = _ticks(symbols=4, minutes=4, seed=6)
    state, store, tails_batch = MarketState(), StateStore(tmp_path, keep=3), None
    for batch_id, chunk in enumerate(np.array_split(ticks, 6)):
        rows = split_kinds(advance(state, chunk))
        tails_batch = store.save(batch_id, state, not rows["bar_1m"].empty, tails_batch)
    loaded, _ = store.load(5)
    assert loaded.small_json() == state.small_json() and loaded.tails_json() == state.tails_json()
    assert len(list(tmp_path.glob("state-*.json"))) == 3  # pruned
    with pytest.raises(StackError, match=r"state-000000000001\.json is missing"):
        store.load(1)


class _RecordingSink(ArchiveSink):
    name = "recording"

    def __init__(self, fail_first: int = 0) -> None:
        self.writes: list[tuple[int, int, int]] = []
        self.fail_first = fail_first

    def write(self, facts: MarketFacts) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("store down")
        self.writes.append((facts.first_batch, facts.last_batch, facts.ticks.num_rows))


def _facts(batch_id: int, rows: int) -> MarketFacts:
    ticks = pa.table({"symbol": ["A"] * rows, "ts": pa.array(range(rows), pa.timestamp("ns", "UTC"))})
    empty = pd.DataFrame()
    return MarketFacts(ticks, empty, empty, empty, empty, empty, batch_id, batch_id)


def test_archive_takes_only_committed_batches_and_redoes_a_cut_short_step_under_the_same_name(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    for batch_id in range(4):
        spool.write(batch_id, _facts(batch_id, rows=batch_id + 1))
    spool.write(3, _facts(3, rows=10))  # batch 3 re-run (not committed yet): replaces its folder whole

    # A crash after planning: the manifest names batches 0-2 (3 is running), nothing was written yet.
    assert spool.plan(below=3) is not None
    assert spool.plan(below=3) is None  # planned batches are never planned twice

    sink = _RecordingSink(fail_first=2)  # and the store is down at first: retried, never skipped
    archiver = Archiver(spool, [sink], retry_s=0.01)
    archiver.drain(below=3)
    assert sink.writes == [(0, 2, 1 + 2 + 3)]
    assert spool.batches() == [3] and not spool.manifests()

    archiver.drain(below=4)  # once batch 3 is committed
    assert sink.writes == [(0, 2, 6), (3, 3, 10)]
    assert not spool.batches()


def test_a_batch_of_only_late_ticks_is_measured_without_latest_rows() -> None:
    from marketpulse.stream.market_job import TICK_SAMPLE_EVERY, LatencySamples

    ticks = _ticks(symbols=2, minutes=2, seed=7)
    state = MarketState()
    advance(state, ticks)
    late_only = split_kinds(advance(state, ticks.iloc[: TICK_SAMPLE_EVERY * 2]))
    assert late_only["latest"].empty and len(late_only["late"]) == TICK_SAMPLE_EVERY * 2

    samples = LatencySamples()
    created_ns = np.full(TICK_SAMPLE_EVERY * 2, 1_000_000_000, dtype=np.int64)  # CreateTime 1 s after the epoch
    samples.record(created_ns, pd.DataFrame(), in_driver=2.0, written=3.0)  # what the job saw: no latest rows
    assert list(samples.ticks) == [2.0, 2.0] and not samples.oldest


def test_concurrent_plans_put_every_batch_in_exactly_one_manifest(tmp_path: Path) -> None:
    """The micro-batch thread and the archiver thread plan at the same time (make run found the race)."""
    import threading

    spool = Spool(tmp_path)
    for batch_id in range(60):
        spool.write(batch_id, _facts(batch_id, rows=1))
    errors: list[BaseException] = []

    def plan_repeatedly(offset: int) -> None:
        try:
            for below in range(offset, 61, 3):
                spool.plan(below)
        except BaseException as exc:  # collected and asserted below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=plan_repeatedly, args=(offset,)) for offset in (1, 2, 3, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    planned = [b for manifest in spool.manifests() for b in Spool.manifest_batches(manifest)]
    assert sorted(planned) == list(range(60))  # each batch once


def _tick_table(ticks: pd.DataFrame, seq: bool = False) -> pa.Table:
    columns = {
        "symbol": ticks["symbol"].astype(str).to_numpy(),
        "ts": pa.array(ticks["ts"], pa.timestamp("us", tz="UTC")),
        "price": ticks["price"].to_numpy(float),
        "size": ticks["size"].to_numpy(float),
        "bid": pa.nulls(len(ticks), pa.float64()),
        "ask": pa.nulls(len(ticks), pa.float64()),
        "source": ["replay"] * len(ticks),
        "seq": ticks.groupby("symbol").cumcount().to_numpy() if seq else pa.nulls(len(ticks), pa.int64()),
        "kafka_ts": pa.array(ticks["ts"], pa.timestamp("us", tz="UTC")),
    }
    return pa.table(columns)


def test_ticks_sent_again_are_late_and_kept_out_of_the_archived_ticks() -> None:
    from marketpulse.stream.market_job import advance_valid

    ticks = _ticks(symbols=2, minutes=2, seed=11)
    table = _tick_table(ticks)
    state = MarketState()
    _, _, first, repeated = advance_valid(state, table)
    assert first.all() and not repeated.any()  # nothing closed before; no seq, so nothing is known as repeated
    emitted, _, again, _ = advance_valid(state, table)  # the same ticks replayed
    late = emitted.by_kind()["late"]
    # Only each symbol's still-open last second can take them again; everything else is late and not archived.
    still_open = ticks.groupby("symbol")["ts"].transform(lambda ts: ts.dt.floor("1s") == ts.max().floor("1s"))
    assert again.tolist() == still_open.tolist()
    assert len(late) == int((~again).sum()) > 0


def test_ticks_whose_seq_was_seen_are_repeated_and_change_nothing_even_in_the_open_second() -> None:
    from marketpulse.stream.market_job import advance_valid

    ticks = _ticks(symbols=2, minutes=2, seed=11)
    table = _tick_table(ticks, seq=True)
    state = MarketState()
    _, _, first, repeated = advance_valid(state, table)
    assert first.all() and not repeated.any()
    before = state.copy()
    emitted, _, on_time, again = advance_valid(state, table)  # the same ticks replayed
    assert again.all() and not on_time.any()  # every one repeated: none archived, none applied
    assert emitted.by_kind()["latest"].empty and emitted.by_kind()["bar_1s"].empty
    assert state.small_json() == before.small_json()  # the open second took none of them again

    # Sent again within one batch (a resend mid-stream): the second copy of each tick is repeated.
    state = MarketState()
    half = table.slice(0, table.num_rows // 2)
    _, _, on_time, again = advance_valid(state, pa.concat_tables([half, half]))
    assert not again[: half.num_rows].any() and again[half.num_rows :].all()

    # The newest seq per (source, symbol) survives a snapshot (what a restarted job loads).
    restored = MarketState.from_json(state.small_json(), state.tails_json())
    _, _, _, again = advance_valid(restored, half)
    assert again.all()
