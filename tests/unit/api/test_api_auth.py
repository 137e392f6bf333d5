"""API keys, rate limits and the rule that every /v1 route and the WebSocket refuse a client without a key.
The refusal happens before any store is touched, so this needs no stack."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from marketpulse.api import create_app
from marketpulse.api.logs import redact_api_keys_in_logs
from marketpulse.api.ratelimit import RateLimiter
from marketpulse.auth.keys import generate_key, hash_secret, parse_key, redact
from marketpulse.config import PostgresSettings, Settings, StackSettings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Nothing listens on these ports: a route that reached a store would answer 503, not 401.
    settings = Settings(stack=StackSettings(name="unit"), postgres=PostgresSettings(port=1))
    return TestClient(create_app(settings))  # no lifespan: no store is opened


def _example_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: {"{symbol}": "AAPL", "{key_id}": "0123456789ab"}.get(m[0], "x"), path)


def v1_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the app under /v1, from its OpenAPI document (routers added later included)."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method, path) for path, ops in paths.items() if path.startswith("/v1/") for method in ops]


def test_the_api_has_the_routes_of_the_issue(client: TestClient) -> None:
    paths = {path for _, path in v1_operations(client)}
    assert {"/v1/symbols", "/v1/symbols/{symbol}/latest", "/v1/symbols/{symbol}/bars", "/v1/alerts"} <= paths
    assert len(paths) >= 9


def test_every_v1_route_refuses_a_request_without_a_key(client: TestClient) -> None:
    for method, path in v1_operations(client):
        response = client.request(method.upper(), _example_path(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "ApiKey"


def test_every_v1_route_refuses_a_malformed_key(client: TestClient) -> None:
    # A malformed key is refused without asking Postgres (which is unreachable here).
    for method, path in v1_operations(client):
        response = client.request(method.upper(), _example_path(path), headers={"X-API-Key": "nope"}, json={})
        assert response.status_code == 401, (method, path)


def test_open_routes_are_only_health_metrics_and_docs(client: TestClient) -> None:
    open_paths = {path for path in client.app.openapi()["paths"] if not path.startswith("/v1/")}  # type: ignore[attr-defined]
    assert open_paths == {"/healthz", "/metrics"}
    assert client.get("/openapi.json").status_code == 200


def test_the_websocket_refuses_a_client_without_a_key(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/v1/ws"):
        pass
    assert refused.value.code == 1008


def test_cors_preflight_allows_the_configured_origin_only(client: TestClient) -> None:
    headers = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "X-API-Key"}
    allowed = client.options("/v1/symbols", headers={**headers, "Origin": "http://127.0.0.1:8050"})
    refused = client.options("/v1/symbols", headers={**headers, "Origin": "http://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://127.0.0.1:8050"
    assert "access-control-allow-origin" not in refused.headers


def test_keys_parse_hash_and_redact() -> None:
    key_id, secret, plain = generate_key()
    assert parse_key(plain) == (key_id, secret)
    assert parse_key(plain + "x") is None and parse_key("mpk_zz_" + secret) is None
    assert hash_secret(secret) != secret and len(hash_secret(secret)) == 64
    text = f"GET /v1/ws?api_key={plain} 101"
    assert secret not in redact(text) and key_id in redact(text)


def test_log_records_never_carry_a_key(caplog: pytest.LogCaptureFixture) -> None:
    _, secret, plain = generate_key()
    redact_api_keys_in_logs()
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logging.getLogger("uvicorn.access").info('%s - "%s %s" %d', "127.0.0.1", "GET", f"/v1/ws?api_key={plain}", 101)
    assert caplog.records and secret not in caplog.text


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(burst=3)
    assert [limiter.take("k", rate=2.0, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k", rate=2.0, now=100.0) == pytest.approx(0.5)
    assert limiter.take("k", rate=2.0, now=100.5) == 0.0  # half a second = one token at 2/s
    assert limiter.take("other", rate=2.0, now=100.5) == 0.0  # buckets are per key
