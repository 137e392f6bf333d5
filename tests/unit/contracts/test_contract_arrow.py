"""The market job's driver-side parse and validation (contracts.arrow) against the contract itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from marketpulse.contracts import ContractError, Tick, from_wire
from marketpulse.contracts.arrow import _read_records, read_wire, rejection_reasons, wire_arrow_schema
from marketpulse.contracts.base import to_epoch_ns
from marketpulse.stream.market_job import split_valid

NOW = datetime.now(UTC).replace(microsecond=123456)


def _good(i: int = 0, **overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "v": 1,
        "symbol": "AAPL",
        "ts": to_epoch_ns(NOW) + 789,  # below a microsecond: the stream keeps microseconds, as Spark did
        "price": 101.5,
        "size": 3.0,
        "bid": 101.0,
        "ask": 102.0,
        "source": "test",
        "seq": i,
    }
    record.update(overrides)
    return record


def _wire(record: dict[str, object]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


#: (record bytes, the reason the stream gives). Every one of these is refused by the pydantic model too.
BAD: list[tuple[bytes, str]] = [
    (b"not json at all", "not JSON, or no schema version 'v'"),
    (b'{"v":1,"symbol":"AAPL","ts":', "not JSON, or no schema version 'v'"),
    (b"[1,2,3]", "not JSON, or no schema version 'v'"),
    (b"\xff\xfe\x00garbage", "not JSON, or no schema version 'v'"),
    (_wire({k: v for k, v in _good().items() if k != "v"}), "not JSON, or no schema version 'v'"),
    (_wire(_good(v=2)), "schema version is not 1"),
    (_wire(_good(symbol="aapl")), "symbol: does not match ^[A-Z][A-Z0-9.\\-]{0,9}$"),
    (_wire(_good(symbol="ABCDEFGHIJKL")), "symbol: does not match ^[A-Z][A-Z0-9.\\-]{0,9}$"),
    (_wire(_good(symbol="A'; DROP TABLE ticks;--")), "symbol: does not match ^[A-Z][A-Z0-9.\\-]{0,9}$"),
    (_wire(_good(symbol=None)), "symbol: missing or not a str"),
    (_wire(_good(ts=1.7e18)), "ts: missing or not a datetime"),
    (_wire(_good(ts=to_epoch_ns(NOW + timedelta(hours=1)))), "ts: event time is in the future"),
    (_wire(_good(ts=1_700_000_000)), "ts: event time before 1990: a unit error?"),
    (_wire(_good(price=0)), "price: must be greater than 0"),
    NEGATIVE_PRICE := (_wire(_good(price=-5.0)), "price: must be greater than 0"),
    (_wire(_good()).replace(b'"price":101.5', b'"price":NaN'), "price: not a finite number"),
    (_wire(_good()).replace(b'"size":3.0', b'"size":Infinity'), "size: not a finite number"),
    (_wire({k: v for k, v in _good().items() if k != "size"}), "size: missing or not a float"),
    (_wire(_good(size=-1)), "size: must be greater than 0"),
    (_wire(_good(bid=0.0)), "bid: must be greater than 0"),
    (_wire(_good(source="")), "source: shorter than 1"),
    (_wire(_good(source="x" * 33)), "source: longer than 32"),
    (_wire(_good(seq=-1)), "seq: must be at least 0"),
    (_wire(_good(bid=103.0, ask=102.0)), "crossed quote: bid > ask"),
    (_wire(_good(symbol="AAPL\n")), "symbol: does not match ^[A-Z][A-Z0-9.\\-]{0,9}$"),
    (_wire(_good(venue="X")), "fields not in the contract"),
    (_wire(_good(symbol="A" * 1_000_000)), "symbol: does not match ^[A-Z][A-Z0-9.\\-]{0,9}$"),
]

#: The wire is stricter than the model's lax Python input: numbers as JSON numbers, event times as epoch ns.
WIRE_ONLY: list[tuple[bytes, str]] = [
    (_wire(_good(ts="2024-01-01T00:00:00Z")), "ts: missing or not a datetime"),
    (_wire(_good(price="101.5")), "price: missing or not a float"),
    (_wire(_good(price=True)), "price: missing or not a float"),
    (_wire(_good(bid="101.0")), "a field holds a value of the wrong type"),
    (_wire(_good(seq=2**70)), "a field holds a value of the wrong type"),
    (_wire(_good()).replace(b'"seq":0', b'"seq":0,"price":1.0'), "fields not in the contract"),  # a key twice
]

#: Accepted by the stream: an int price, an absent optional field, a pretty-printed record over several lines.
GOOD: list[bytes] = [
    _wire(_good(0)),
    _wire(_good(1, price=101)),
    _wire({k: v for k, v in _good(2).items() if k not in ("bid", "ask", "seq")}),
    json.dumps(_good(3), indent=2).encode(),
    _wire(_good(4, symbol="BRK.B")),
]


def _reasons(values: list[bytes | None]) -> list[str | None]:
    return list(rejection_reasons(Tick, read_wire(Tick, values)))


@pytest.mark.parametrize(("raw", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_each_bad_record_is_rejected_with_its_reason_and_the_model_refuses_it_too(raw: bytes, reason: str) -> None:
    assert _reasons([_wire(_good()), raw]) == [None, reason]
    with pytest.raises(ContractError):
        from_wire(Tick, raw)


@pytest.mark.parametrize(("raw", "reason"), WIRE_ONLY, ids=[reason for _, reason in WIRE_ONLY])
def test_the_wire_takes_numbers_as_numbers_and_times_as_epoch_ns(raw: bytes, reason: str) -> None:
    assert _reasons([raw, _wire(_good())]) == [reason, None]


def test_good_records_pass_on_either_path_and_the_model_accepts_them() -> None:
    assert _reasons(GOOD) == [None] * len(GOOD)
    for raw in GOOD:
        from_wire(Tick, raw)


def test_a_batch_of_one_line_records_reads_the_same_on_the_fast_and_the_slow_path() -> None:
    lines = [_wire(_good(i, price=100.0 + i, bid=None if i % 2 else 99.0)) for i in range(50)]
    fast = read_wire(Tick, lines)
    slow = _read_records(lines, wire_arrow_schema(Tick))
    assert fast.equals(slow)


def test_text_items_keep_their_literal_and_ticker_rules() -> None:
    from marketpulse.contracts.text import SocialPost

    base = {"v": 1, "id": "x:1", "source": "x", "text": "AAPL up", "symbols": ["AAPL"], "author": "a", "url": "u"}
    base |= {"published_at": to_epoch_ns(NOW), "ingested_at": to_epoch_ns(NOW)}
    values = [_wire(base), _wire(base | {"source": "myspace"}), _wire(base | {"symbols": ["AAPL", "not a ticker"]})]
    reasons = list(rejection_reasons(SocialPost, read_wire(SocialPost, values)))
    assert reasons[0] is None and reasons[2] == "symbols: not exchange tickers"
    assert reasons[1] is not None and reasons[1].startswith("source: must be one of")


def test_a_mixed_batch_keeps_every_record_in_place() -> None:
    values: list[bytes | None] = [GOOD[0], BAD[0][0], None, GOOD[3], NEGATIVE_PRICE[0], GOOD[1]]
    assert _reasons(values) == [None, BAD[0][1], "not JSON, or no schema version 'v'", None, NEGATIVE_PRICE[1], None]


def test_split_valid_gives_the_spark_types_and_the_rejects_with_their_bytes() -> None:
    kafka_ts = pa.array([NOW, NOW, NOW], pa.timestamp("us", tz="UTC"))
    raw = pa.table(
        {
            "key": pa.array([b"AAPL", b"X", b"AAPL"], pa.binary()),
            "value": pa.array([GOOD[0], NEGATIVE_PRICE[0], GOOD[1]], pa.binary()),
            "kafka_ts": kafka_ts,
        }
    )
    valid, rejected = split_valid(raw)
    assert valid.column_names == [*Tick.model_fields, "kafka_ts"]
    assert valid["ts"].type == pa.timestamp("us", tz="UTC")
    assert valid["ts"].to_pylist() == [NOW, NOW]  # nanoseconds below the microsecond dropped, not rounded
    assert valid["seq"].to_pylist() == [0, 1]
    assert rejected.to_pylist() == [{"value": NEGATIVE_PRICE[0], "key": b"X", "reason": NEGATIVE_PRICE[1]}]
