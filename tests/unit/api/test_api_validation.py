"""The API's pure helpers (time windows, cursors, day partitions, latest-state parsing) and its request
validation, which answers before any store is touched: no stack needed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketpulse.api import create_app
from marketpulse.api.auth import require_read
from marketpulse.api.errors import DependencyUnavailableError, InvalidRequestError, NotFoundError, error_code
from marketpulse.api.latest import parse_latest, summarize, summary_field_names
from marketpulse.api.paging import (
    MAX_SPAN,
    Cursor,
    day_partitions,
    decode_cursor,
    encode_cursor,
    resolve_window,
    to_epoch_ms,
    to_utc,
)
from marketpulse.auth.keys import ApiKey
from marketpulse.config import (
    ApiSettings,
    CassandraSettings,
    PostgresSettings,
    RedisSettings,
    Settings,
    StackSettings,
)

NOW = datetime(2024, 3, 5, 12, 30, tzinfo=UTC)
DAY = timedelta(days=1)


# --- time windows -------------------------------------------------------------------------------------------


def test_window_defaults_to_the_day_before_now() -> None:
    window = resolve_window(None, None, now=NOW, max_span=MAX_SPAN["1min"])
    assert (window.start, window.end) == (NOW - DAY, NOW)


def test_window_defaults_start_to_one_day_before_end() -> None:
    end = datetime(2024, 1, 10, tzinfo=UTC)
    assert resolve_window(None, end, now=NOW, max_span=MAX_SPAN["1min"]).start == end - DAY


def test_naive_times_are_utc_and_offsets_are_converted() -> None:
    window = resolve_window(
        datetime(2024, 3, 1, 9, 0),
        datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        now=NOW,
        max_span=MAX_SPAN["1s"],
    )
    assert window.start == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    assert window.end == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert window.end.tzinfo is UTC


def test_times_are_truncated_to_milliseconds() -> None:
    assert to_utc(datetime(2024, 3, 1, 9, 0, 0, 123_456, tzinfo=UTC)).microsecond == 123_000


@pytest.mark.parametrize("end", [datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)])
def test_start_must_be_before_end(end: datetime) -> None:
    with pytest.raises(InvalidRequestError, match="must be before end"):
        resolve_window(datetime(2024, 3, 1, tzinfo=UTC), end, now=NOW, max_span=MAX_SPAN["1min"])


@pytest.mark.parametrize(("interval", "days"), [("1s", 31), ("1min", 366)])
def test_span_limit_per_interval(interval: str, days: int) -> None:
    end = datetime(2024, 3, 1, tzinfo=UTC)
    assert resolve_window(end - timedelta(days=days), end, now=NOW, max_span=MAX_SPAN[interval])
    with pytest.raises(InvalidRequestError, match=f"longer than the {days} days"):
        resolve_window(end - timedelta(days=days, seconds=1), end, now=NOW, max_span=MAX_SPAN[interval])


# --- cursors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", [Cursor(1_709_251_200_123), Cursor(0), Cursor(1_709_251_200_000, ("5min", "gbm"))])
def test_cursor_round_trips_and_is_url_safe(cursor: Cursor) -> None:
    token = encode_cursor(cursor)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert decode_cursor(token, key_count=len(cursor.keys)) == cursor


def test_cursor_timestamp_is_utc() -> None:
    ts = datetime(2024, 3, 1, 15, 59, 0, 250_000, tzinfo=UTC)
    assert Cursor(to_epoch_ms(ts)).ts == ts


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-cursor!",
        "%%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _token([1, 2]),
        _token({"v": 2, "ts": 1, "k": []}),
        _token({"v": 1, "ts": "1709251200000", "k": []}),
        _token({"v": 1, "ts": True, "k": []}),
        _token({"v": 1, "ts": -1, "k": []}),
        _token({"v": 1, "ts": 10**20, "k": []}),
        _token({"v": 1, "ts": 1}),
        _token({"v": 1, "ts": 1, "k": ["1min"]}),  # a predictions-shaped cursor on bars
        "A" * 600,
    ],
)
def test_malformed_cursors_are_rejected(token: str) -> None:
    with pytest.raises(InvalidRequestError, match="cursor is not valid"):
        decode_cursor(token)


def test_cursor_key_count_must_match_the_table() -> None:
    with pytest.raises(InvalidRequestError):
        decode_cursor(encode_cursor(Cursor(1)), key_count=2)
    with pytest.raises(InvalidRequestError):
        decode_cursor(_token({"v": 1, "ts": 1, "k": ["5min", 3]}), key_count=2)


# --- day partitions -----------------------------------------------------------------------------------------


def test_day_partitions_run_newest_first_and_end_is_exclusive() -> None:
    start, end = datetime(2024, 3, 1, 15, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)
    assert list(day_partitions(start, end)) == [date(2024, 3, 3), date(2024, 3, 2), date(2024, 3, 1)]


def test_day_partitions_of_one_day_and_of_an_empty_range() -> None:
    start = datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert list(day_partitions(start, start + timedelta(milliseconds=1))) == [date(2024, 3, 1)]
    assert list(day_partitions(start, start)) == []
    assert list(day_partitions(start, start - DAY)) == []


# --- latest state -------------------------------------------------------------------------------------------


def test_latest_hash_is_nested_by_kind_with_float_numbers() -> None:
    fields = {
        "tick.price": "185.25",
        "tick.size": "100",
        "tick.ts": "2024-03-01T15:59:59.500000+00:00",
        "bar_1m.close": "185.0",
        "bar_1m.ts": "2024-03-01T15:58:00+00:00",
        "ind.rsi_14": "55.5",
        "ind.macd": "nan",
        "odd": "x",
    }
    state = parse_latest("AAPL", fields)
    assert state.tick == {"price": 185.25, "size": 100.0, "ts": "2024-03-01T15:59:59.500000+00:00"}
    assert state.bar_1m == {"close": 185.0, "ts": "2024-03-01T15:58:00+00:00"}
    assert state.indicators == {"rsi_14": 55.5}  # non-finite values are dropped
    assert state.bar_1s is None
    assert state.other == {"odd": "x"}
    assert isinstance(state.tick["size"], float)


def test_symbol_summary_prefers_the_tick_then_the_newest_bar() -> None:
    names = summary_field_names()
    assert names[:2] == ["tick.price", "tick.ts"]
    tick = summarize("AAPL", ["185.5", "t1", "185.0", "t2", None, None])
    assert (tick.price, tick.ts) == (185.5, "t1")
    bar = summarize("AAPL", [None, None, None, None, "184.0", "t3"])
    assert (bar.price, bar.ts) == (184.0, "t3")
    assert summarize("AAPL", [None] * len(names)).price is None


def test_error_codes_come_from_class_names() -> None:
    assert error_code(NotFoundError("x")) == "not_found"
    assert error_code(InvalidRequestError("x")) == "invalid_request"
    assert error_code(DependencyUnavailableError("x")) == "dependency_unavailable"


# --- request validation through the app, with no store reachable ------------------------------------------


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose Redis and Cassandra ports refuse connections: validation must answer before any store."""
    root = tmp_path_factory.mktemp("stack")
    settings = Settings(
        environment="test",
        stack=StackSettings(root=Path(root)),
        redis=RedisSettings(port=1),
        cassandra=CassandraSettings(port=1),
        postgres=PostgresSettings(port=1),
        # FastAPI's own latest route: the plain-ASGI lane does not see dependency overrides (it is checked
        # against a real key store in tests/integration/api/test_api.py).
        api=ApiSettings(fast_latest=False),
    )
    app = create_app(settings)
    # Authentication is tested against the real Postgres (tests/integration/api/test_api_auth.py); here a key is
    # taken as verified so that validation and store failures are what answers.
    reader = ApiKey("0123456789ab", "unit", ("read",), None, datetime.now(UTC), None)
    app.dependency_overrides[require_read] = lambda: reader
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/v1/symbols/aapl/latest", "path.symbol"),
        ("/v1/symbols/TOOLONGSYMBOL/bars", "path.symbol"),
        ("/v1/symbols/AAPL/bars?interval=5min", "query.interval"),
        ("/v1/symbols/AAPL/bars?limit=0", "query.limit"),
        ("/v1/symbols/AAPL/bars?limit=5001", "query.limit"),
        ("/v1/symbols/AAPL/bars?start=yesterday", "query.start"),
        ("/v1/symbols/AAPL/bars?start=2024-03-02T00:00:00Z&end=2024-03-01T00:00:00Z", "must be before end"),
        ("/v1/symbols/AAPL/bars?start=2024-03-01T00:00:00Z&end=2024-03-01T00:00:00Z", "must be before end"),
        ("/v1/symbols/AAPL/bars?interval=1s&start=2024-01-01T00:00:00Z&end=2024-03-01T00:00:00Z", "31 days"),
        ("/v1/symbols/AAPL/indicators?start=2022-01-01T00:00:00Z&end=2024-01-01T00:00:00Z", "366 days"),
        ("/v1/symbols/AAPL/predictions?start=2022-01-01T00:00:00Z&end=2024-01-01T00:00:00Z", "366 days"),
        ("/v1/symbols/AAPL/bars?cursor=garbage", "cursor is not valid"),
        (f"/v1/symbols/AAPL/predictions?cursor={encode_cursor(Cursor(1))}", "cursor is not valid"),
    ],
)
def test_bad_requests_get_422_with_a_clear_message(offline_client: TestClient, url: str, message: str) -> None:
    response = offline_client.get(url)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] in {"validation_error", "invalid_request"}
    assert message in error["message"]


def test_stores_down_give_503_in_the_error_shape(offline_client: TestClient) -> None:
    health = offline_client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert {name: dep["status"] for name, dep in health.json()["dependencies"].items()} == {
        "redis": "down",
        "cassandra": "down",
    }
    for url in ("/v1/symbols", "/v1/symbols/AAPL/latest", "/v1/symbols/AAPL/bars"):
        response = offline_client.get(url)
        assert response.status_code == 503, (url, response.text)
        assert response.json()["error"]["code"] == "dependency_unavailable"


def test_a_body_over_the_limit_is_413_in_the_error_shape(offline_client: TestClient) -> None:
    rule = {"name": "x" * 70_000, "symbol": "AAPL", "condition": {"type": "rsi", "direction": "above", "threshold": 1}}
    declared = offline_client.post("/v1/alerts", json=rule)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
        yield b'{"name": "'
        for _ in range(70):
            yield b"x" * 1000

    streamed = offline_client.post("/v1/alerts", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text


def test_unknown_routes_use_the_error_shape(offline_client: TestClient) -> None:
    response = offline_client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_response_bodies_carry_exactly_the_contract_fields() -> None:
    """The API's plain output models may drop the input validators, never drift from the contracts."""
    from marketpulse.api.schemas import BarOut, IndicatorOut, PredictionOut
    from marketpulse.contracts import Bar, IndicatorSnapshot, Prediction

    assert set(BarOut.model_fields) == set(Bar.model_fields)
    assert set(IndicatorOut.model_fields) == set(IndicatorSnapshot.model_fields)
    assert set(PredictionOut.model_fields) == set(Prediction.model_fields) | {"created_at"}


def test_nul_bytes_in_parameters_are_a_422_on_every_route(offline_client: TestClient) -> None:
    for url in ("/v1/symbols?cursor=a%00b", "/v1/symbols/AAPL/bars?interval=1min%00"):
        response = offline_client.get(url)
        assert response.status_code == 422, (url, response.text)
        assert "NUL" in response.json()["error"]["message"]
