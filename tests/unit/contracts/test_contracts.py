from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from marketpulse.contracts import Bar, ContractError, IndicatorSnapshot, Prediction, Tick, from_wire, to_wire
from marketpulse.contracts.base import from_epoch_ns, to_epoch_ns
from marketpulse.ingest.producer import SequenceGuard

TS = datetime(2013, 1, 2, 14, 30, 0, 123456, tzinfo=UTC)


def _tick(**overrides: object) -> Tick:
    fields: dict[str, object] = {"symbol": "AAPL", "ts": TS, "price": 549.03, "size": 100, "source": "replay", "seq": 1}
    return Tick.model_validate({**fields, **overrides})


def test_tick_wire_round_trip_keeps_microseconds() -> None:
    tick = _tick(bid=549.0, ask=549.05)
    raw = to_wire(tick)
    assert b'"v":1' in raw
    assert b'"ts":1357137000123456000' in raw
    assert from_wire(Tick, raw) == tick


def test_epoch_ns_conversion_is_exact() -> None:
    assert from_epoch_ns(to_epoch_ns(TS)) == TS
    assert to_epoch_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def _wire(**overrides: object) -> bytes:
    fields: dict[str, object] = {
        "v": 1,
        "symbol": "AAPL",
        "ts": to_epoch_ns(TS),
        "price": 549.03,
        "size": 100.0,
        "source": "replay",
        "seq": 1,
    }
    return json.dumps({**fields, **overrides}).encode()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"price": 0}, "price: Input should be greater than 0"),
        ({"size": -5}, "size: Input should be greater than 0"),
        ({"price": "NaN"}, "price: Input should be a finite number"),
        ({"symbol": "aapl"}, "symbol: String should match pattern"),
        ({"symbol": "TOOLONGSYMBOL"}, "symbol: String should match pattern"),
        ({"ts": to_epoch_ns(datetime.now(UTC) + timedelta(hours=1))}, "is in the future"),
        ({"ts": 1357137000}, "before 1990: a unit error?"),  # epoch seconds sent where ns belong
        ({"ts": "2013-01-02T14:30:00"}, "no timezone"),
        ({"bid": 10.0, "ask": 9.0}, "crossed quote"),
        ({"seq": -1}, "seq: Input should be greater than or equal to 0"),
        ({"price": None}, "price: Input should be a valid number"),
    ],
)
def test_invalid_ticks_are_rejected_with_a_reason(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(ContractError) as error:
        from_wire(Tick, _wire(**overrides))
    assert reason in str(error.value)


def test_from_wire_reasons_are_one_line() -> None:
    good = to_wire(_tick())
    cases = {
        b"{not json": "not JSON",
        b"[1, 2]": "expected a JSON object",
        good.replace(b'"v":1', b'"v":9'): "schema version 9 is not 1",
        good.replace(b'"price":549.03', b'"price":"cheap"'): "price: Input should be a valid number",
        good.replace(b'"source":"replay"', b'"source":"replay","extra":1'): "extra: Extra inputs are not permitted",
    }
    for raw, reason in cases.items():
        with pytest.raises(ContractError) as error:
            from_wire(Tick, raw)
        assert reason in str(error.value)
        assert "\n" not in str(error.value)


def test_bar_rejects_inconsistent_ohlc() -> None:
    fields = {"symbol": "MSFT", "interval": "1min", "ts": TS, "volume": 10.0, "vwap": 27.0, "trades": 3}
    Bar.model_validate({**fields, "open": 27.0, "high": 27.5, "low": 26.5, "close": 27.2})
    with pytest.raises(ValueError, match="low <= open"):
        Bar.model_validate({**fields, "open": 27.0, "high": 26.9, "low": 26.5, "close": 27.2})


def test_prediction_probability_bounds_and_horizon_format() -> None:
    fields = {"symbol": "IBM", "feature_ts": TS, "expected_return": 0.001, "model_name": "m", "model_version": "1"}
    assert Prediction.model_validate({**fields, "horizon": "5min", "prob_up": 0.6}).prob_up == 0.6
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Prediction.model_validate({**fields, "horizon": "5min", "prob_up": 1.2})
    with pytest.raises(ValueError, match="String should match pattern"):
        Prediction.model_validate({**fields, "horizon": "soon", "prob_up": 0.5})


def test_spark_schemas_follow_the_models() -> None:
    from pyspark.sql import types as T

    from marketpulse.contracts import spark_schema, wire_schema

    wire = wire_schema(Tick)
    parsed = spark_schema(Tick)
    assert wire.fieldNames() == ["v", *Tick.model_fields]
    assert wire["ts"].dataType == T.LongType()
    assert parsed["ts"].dataType == T.TimestampType()
    assert parsed["bid"].nullable
    assert not parsed["price"].nullable
    assert spark_schema(IndicatorSnapshot).fieldNames() == list(IndicatorSnapshot.model_fields)


def test_sequence_guard_requires_increasing_seq_per_source_and_symbol() -> None:
    guard = SequenceGuard()
    guard.check(_tick(seq=1))
    guard.check(_tick(seq=1, symbol="MSFT"))  # other symbol: own sequence
    guard.check(_tick(seq=1, source="finnhub"))  # other source: own sequence
    guard.check(_tick(seq=None))  # sources without sequence numbers are not checked
    with pytest.raises(ContractError, match="seq 1 from replay for AAPL is not after 1"):
        guard.check(_tick(seq=1))
    guard.check(_tick(seq=2))
