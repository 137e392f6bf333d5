"""The market benchmark's pure helpers: the hand-tuned peer's rules and bars, the pub/sub probe's samples, the
platform memory grouping, the plans and the one-line JSON summary."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # bench/ lives beside src/, not in the package

from bench.market.client_probe import FirstReceipts, Records, event_seconds
from bench.market.cpu import CpuReport
from bench.market.memory import (
    PlatformMemory,
    ProcessMemory,
    RoleMemory,
    jvm_heap,
    role_from_path,
    role_of,
)
from bench.market.peers import TickRules, latest_bars, merge_bars, one_second_bars
from bench.market.results import LatencyResult, Stage, percentile, summary
from bench.market_pipeline import parse_args

from marketpulse.contracts.base import ContractError, from_wire, to_epoch_ns
from marketpulse.contracts.market import Tick


def _wire(**changes: object) -> dict[str, object]:
    """A tick's wire fields; `ts` may be a function of the current time (ns), resolved when the test runs, so a
    long suite cannot age a 'ten minutes ahead' case into the past."""
    tick: dict[str, object] = {
        "v": 1,
        "symbol": "SYN0001",
        "ts": lambda now: now,
        "price": 101.25,
        "size": 200.0,
        "bid": None,
        "ask": None,
        "source": "synthetic",
        "seq": 3,
    }
    tick.update(changes)
    return {k: v for k, v in tick.items() if v is not ...}


CASES = [
    _wire(),
    _wire(bid=101.0, ask=101.5),
    _wire(price=7),
    _wire(seq=None),
    _wire(symbol="BRK.B"),
    _wire(symbol="syn1"),
    _wire(symbol="TOOLONGSYMBOL"),
    _wire(symbol=5),
    _wire(price=0.0),
    _wire(price=-1.0),
    _wire(size=float("inf")),
    _wire(bid=102.0, ask=101.0),
    _wire(bid=-1.0),
    _wire(source=""),
    _wire(source="x" * 33),
    _wire(seq=-1),
    _wire(seq=1.5),
    _wire(v=2),
    _wire(v=...),
    _wire(extra=1),
    _wire(ts=lambda now: now + int(timedelta(minutes=10).total_seconds() * 1e9)),
    _wire(ts=lambda now: now // 1_000_000_000),  # seconds sent as ns: 1970
    _wire(ts=True),
]


@pytest.mark.parametrize("wire", CASES)
def test_hand_tuned_rules_agree_with_the_tick_contract(wire: dict[str, object]) -> None:
    now_ns = to_epoch_ns(datetime.now(UTC))
    wire = {key: value(now_ns) if callable(value) else value for key, value in wire.items()}
    try:
        from_wire(Tick, json.dumps(wire))
        accepted = True
    except ContractError:
        accepted = False
    assert TickRules().valid(json.loads(json.dumps(wire)), now_ns) is accepted


def test_bars_merged_across_batches_equal_bars_of_all_ticks() -> None:
    second = 1_700_000_000 * 10**9
    ticks = [
        ("AAA", second + 100, 10.0, 1.0),
        ("BBB", second + 200, 50.0, 2.0),
        ("AAA", second + 300, 12.0, 3.0),
        ("AAA", second + 400, 9.0, 1.0),  # second batch from here on
        ("BBB", second + 500, 51.0, 1.0),
        ("BBB", second + 10**9 + 5, 52.0, 1.0),  # the next second: BBB's newest bar
    ]

    def bars(rows: list[tuple[str, int, float, float]]) -> pd.DataFrame:
        symbols, ts, prices, sizes = (list(column) for column in zip(*rows, strict=True))
        return one_second_bars(symbols, ts, prices, sizes)

    carried = latest_bars(merge_bars(pd.DataFrame(), bars(ticks[:3])))
    merged = merge_bars(carried, bars(ticks[3:]))
    whole = bars(ticks)
    key = ["symbol", "sec"]
    pd.testing.assert_frame_equal(
        merged.sort_values(key).reset_index(drop=True), whole.sort_values(key).reset_index(drop=True)
    )
    newest = latest_bars(merged).set_index("symbol")
    assert newest.loc["BBB", "sec"] == second // 10**9 + 1
    assert newest.loc["AAA", "close"] == 9.0


def test_one_second_bars_ohlcv() -> None:
    s = 1_700_000_000 * 10**9
    bars = one_second_bars(["A", "A", "A"], [s, s + 1, s + 2], [3.0, 5.0, 4.0], [1.0, 1.0, 2.0])
    row = bars.iloc[0]
    assert (row.open, row.high, row.low, row.close, row.volume, row.trades) == (3.0, 5.0, 3.0, 4.0, 4.0, 3)
    assert row.pv / row.volume == pytest.approx((3 + 5 + 8) / 4)


def test_event_seconds_reads_iso_text_and_epoch_numbers_in_any_unit() -> None:
    moment = datetime(2026, 12, 4, 20, 30, 0, 250_000, tzinfo=UTC)
    expected = moment.timestamp()
    assert event_seconds(moment.isoformat()) == pytest.approx(expected)
    assert event_seconds("2026-12-04 20:30:00.250000+00:00") == pytest.approx(expected)
    for scale in (1, 1_000, 1_000_000, 1_000_000_000):
        assert event_seconds(expected * scale) == pytest.approx(expected)
    assert event_seconds("2026-12-04T20:30:00") is None  # no timezone: not an event time
    assert event_seconds("not a time") is None
    assert event_seconds(True) is None


def test_probe_counts_each_value_once_and_dates_predictions_from_the_bar_end() -> None:
    receipts = FirstReceipts()
    bar_end = datetime(2026, 12, 4, 20, 31, tzinfo=UTC)
    message = {
        "symbol": "SYN0001",
        "tick.ts": (bar_end - timedelta(seconds=1)).isoformat(),
        "bar_1s.last_ts": (bar_end - timedelta(seconds=2)).isoformat(),
        "pred.feature_ts": (bar_end - timedelta(minutes=1)).isoformat(),
    }
    received = bar_end.timestamp() + 0.5
    first = {kind: latency for kind, _, latency in receipts.samples(message, received)}
    assert first == pytest.approx({"tick": 1.5, "bar_1s": 2.5, "pred": 0.5})
    again = list(receipts.samples({**message, "tick.ts": bar_end.isoformat()}, received + 1))
    assert [(kind, round(latency, 3)) for kind, _, latency in again] == [("tick", 1.5)]
    other_symbol = list(receipts.samples({**message, "symbol": "SYN0002"}, received))
    assert len(other_symbol) == 3


def test_probe_records_are_windowed_by_receive_time_and_dropped_once_reported() -> None:
    records = Records()
    for event, latency in ((10.0, 0.1), (20.0, 0.2), (30.0, 0.3)):
        records.add("tick", event, latency)
    records.add("bar_1s", 12.0, 10.0)  # a value of this load received late (a backlog) counts where it arrived
    records.add("bar_1m", 5.0, 20.0)  # a bar an earlier load left open, closed by this one: not this load's
    assert records.window(15.0, 30.5, events_from=8.0) == {"tick": [0.2, 0.3], "bar_1s": [10.0], "bar_1m": []}
    records.drop_until(20.2)
    assert records.window(0.0, 100.0, events_from=0.0) == {"tick": [0.3], "bar_1s": [10.0], "bar_1m": [20.0]}


def test_roles_of_platform_processes() -> None:
    assert role_of("airflow-scheduler") == "airflow"
    assert role_of("seaweedfs") == role_of("minio") == "object store"
    assert role_of("market-job") == "market job"
    assert role_of("kafka") == "kafka"
    run_dir = Path("/repo/.stack/dev")
    assert role_from_path("java -cp x /repo/.stack/dev/sentiment-job/conf", run_dir) == "sentiment job"
    assert role_from_path("/repo/.stack/dev/airflow-api/", run_dir) == "airflow"
    assert role_from_path("/repo/.stack/devel/kafka/x", run_dir) is None
    assert role_from_path("/repo/.stack/bench/kafka/x", run_dir) is None
    assert jvm_heap(["java", "-Xmx256m", "-Xms1g", "-Xmx1g", "Main"]) == "1g"
    assert jvm_heap(["python", "-m", "x"]) is None


def test_platform_memory_counts_only_when_an_app_runs() -> None:
    gib = 2**30
    kafka = RoleMemory("kafka", [ProcessMemory("kafka", 1, "java", gib, gib // 2, "512m")])
    apps = frozenset({"market job", "api"})
    assert PlatformMemory({"kafka": kafka}, apps).rss_gib is None  # a bare `stack up` is not a platform
    job = RoleMemory(
        "market job",
        [ProcessMemory("market job", 2, "python", gib // 4, None), ProcessMemory("market job", 3, "java", gib, None)],
    )
    memory = PlatformMemory({"kafka": kafka, "market job": job}, apps)
    assert memory.rss_gib == pytest.approx(2.25)
    assert job.pss_gib is None
    assert kafka.pss_gib == pytest.approx(0.5)
    assert job.detail().startswith("java 1.00 GiB, python 0.25 GiB")


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def _stage(key: str, events: int, seconds: float) -> Stage:
    cpu = CpuReport(seconds, {"driver": 1.0, "kafka": 0.5}, 4.0, 2)
    return Stage(key, key, events=events, seconds=seconds, cpu=cpu)


def test_summary_has_the_issue_keys_and_is_strict_json() -> None:
    b2 = _stage("B2", 600_000, 10.0)
    b2.extra = {"live_eps": 75_000.0, "archive_close_s": 2.0}
    window = LatencyResult(rate=25_000.0, trigger="0 seconds", tick_samples=[0.2, 0.3, 0.4], lag_end=10)
    window.client = {"bar_1s": [0.5, 0.7]}
    line = summary([_stage("B0b", 1_000_000, 10.0), b2, _stage("Peer-numpy", 300_000, 2.0)], [window], None)
    text = json.dumps(line, allow_nan=False)
    assert list(line)[:7] == [
        "b0b_eps",
        "full_eps",
        "ratio_full_b0b",
        "p50_s_25k",
        "p99_s_25k",
        "kept_up_25k",
        "rss_gib_platform",
    ]
    assert line["full_eps"] == 60_000
    assert line["ratio_full_b0b"] == 0.6
    assert line["ratio_full_peer_numpy"] == 0.4
    assert (line["p50_s_25k"], line["p99_s_25k"], line["kept_up_25k"]) == (0.3, 0.4, True)
    assert line["p99_client_bar_1s_25k"] == 0.7
    assert line["rss_gib_platform"] is None
    assert line["archive_p99_s_25k"] is None  # not measured: null, never NaN
    assert "NaN" not in text


def test_summary_without_a_latency_window_says_not_kept_up() -> None:
    line = summary([_stage("B0b", 1_000, 1.0)], [], 3.5)
    assert (line["p99_s_25k"], line["kept_up_25k"], line["full_eps"], line["rss_gib_platform"]) == (
        None,
        False,
        None,
        3.5,
    )


def test_quick_plan_fills_only_what_the_command_line_left_unset() -> None:
    quick = parse_args(["--quick"])
    assert (quick.events, quick.rates, quick.steady) == (300_000, [25_000.0], 20.0)
    assert quick.skip == {"b0a", "peer-seed", "b1"}
    mine = parse_args(["--quick", "--events", "50000", "--skip", "peer,latency"])
    assert (mine.events, mine.skip) == (50_000, {"peer-seed", "latency"})
    full = parse_args([])
    assert (full.events, full.rates, full.skip) == (1_000_000, [5_000.0, 25_000.0], set())
    with pytest.raises(SystemExit):
        parse_args(["--skip", "b3"])
