"""API keys against the real PostgreSQL of the test stack: scopes, revocation, rate limits, the apikeys CLI,
and keys never reaching the server's log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from integration.api.test_api_support import ARTIFACTS, api_server, create_key
from marketpulse.api import create_app
from marketpulse.auth.keys import parse_key
from marketpulse.config import Settings, settings_env
from marketpulse.stack.manager import Stack

pytestmark = pytest.mark.integration


def _secret(plain: str) -> str:
    """The whole secret of a key (token_urlsafe may itself hold "_": split("_")[-1] can be one character)."""
    parsed = parse_key(plain)
    assert parsed is not None
    return parsed[1]


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    # No verdict cache (revocation is seen at once) and a small burst (the rate limit is reached quickly).
    api = settings.api.model_copy(update={"key_cache_ttl_s": 0.0, "rate_limit_burst": 3})
    return settings.model_copy(update={"api": api})


@pytest.fixture(scope="module")
def client(stack: Stack, app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as client:
        yield client


def test_a_valid_key_is_served_and_a_revoked_one_is_refused(client: TestClient, app_settings: Settings) -> None:
    key, plain = create_key(app_settings, "revoke-me")
    assert client.get("/v1/symbols", headers={"X-API-Key": plain}).status_code == 200
    wrong_secret = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    assert client.get("/v1/symbols", headers={"X-API-Key": wrong_secret}).status_code == 401
    admin = create_key(app_settings, "admin", ("admin",))[1]
    revoked = client.post(f"/v1/admin/keys/{key.key_id}/revoke", headers={"X-API-Key": admin})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.get("/v1/symbols", headers={"X-API-Key": plain})
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "the API key is revoked"


def test_admin_routes_need_the_admin_scope_and_never_show_secrets(client: TestClient, app_settings: Settings) -> None:
    reader = create_key(app_settings, "reader")[1]
    admin_key, admin = create_key(app_settings, "admin", ("admin",))
    forbidden = client.get("/v1/admin/keys", headers={"X-API-Key": reader})
    assert forbidden.status_code == 403 and "'admin' scope" in forbidden.json()["error"]["message"]
    listed = client.get("/v1/admin/keys", headers={"X-API-Key": admin})
    assert listed.status_code == 200
    assert admin_key.key_id in {item["key_id"] for item in listed.json()["items"]}
    assert _secret(admin) not in listed.text and _secret(reader) not in listed.text
    # admin implies read
    assert client.get("/v1/symbols", headers={"X-API-Key": admin}).status_code == 200


def test_a_key_over_its_rate_gets_429_with_retry_after(client: TestClient, app_settings: Settings) -> None:
    plain = create_key(app_settings, "slow", rate=0.5)[1]
    statuses = [client.get("/v1/symbols", headers={"X-API-Key": plain}).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]  # the burst
    assert statuses[3:] == [429, 429]
    limited = client.get("/v1/symbols", headers={"X-API-Key": plain})
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    other = create_key(app_settings, "other")[1]
    assert client.get("/v1/symbols", headers={"X-API-Key": other}).status_code == 200  # per key


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    return subprocess.run(
        [sys.executable, "-m", "marketpulse", "apikeys", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_apikeys_cli_create_list_revoke(client: TestClient, settings: Settings, unique: str) -> None:
    created = _cli(settings, "create", f"cli-{unique}", "--scope", "read", "--rate", "50")
    assert created.returncode == 0, created.stderr
    plain = created.stdout.strip()
    key_id = plain.split("_")[1]
    assert client.get("/v1/symbols", headers={"X-API-Key": plain}).status_code == 200
    listed = _cli(settings, "list")
    assert listed.returncode == 0 and key_id in listed.stdout and f"cli-{unique}" in listed.stdout
    assert _secret(plain) not in listed.stdout
    assert _cli(settings, "revoke", key_id).returncode == 0
    unknown = _cli(settings, "revoke", "ffffffffffff")
    assert unknown.returncode == 1 and "no API key" in unknown.stderr
    bad_scope = _cli(settings, "create", "x", "--scope", "root")
    assert bad_scope.returncode == 1 and "scopes must be" in bad_scope.stderr


def test_keys_never_appear_in_the_server_log(stack: Stack, settings: Settings, unique: str) -> None:
    _, plain = create_key(settings, f"log-{unique}")
    secret = _secret(plain)
    log = ARTIFACTS / f"api-log-{unique}.log"
    with api_server(settings, log) as base:
        assert httpx.get(f"{base}/v1/symbols", headers={"X-API-Key": plain}).status_code == 200
        assert httpx.get(f"{base}/v1/symbols", headers={"X-API-Key": plain + "x"}).status_code == 401
        ws_url = base.replace("http", "ws") + f"/v1/ws?api_key={plain}"
        with connect(ws_url) as ws:
            ws.send('{"op": "ping"}')
            assert '"pong"' in str(ws.recv(timeout=5))
    text = log.read_text()
    assert "WebSocket /v1/ws?api_key=" in text  # the access line is there...
    assert secret not in text  # ...without the key
    Path(log).unlink()
