"""dashboards/prometheus against a real Prometheus (Debian package, installed by the project's helper): the
config and rules load (promtool), the alert rules behave on synthetic series (promtool test rules), and a live
Prometheus scraping a real API, dashboard and replay ingest on the test stack sees every target up and the key
series, including the per-stage latency histogram."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from integration.api.test_api_support import ARTIFACTS, api_server, create_key, free_port, running
from marketpulse.config import Settings
from marketpulse.stack.install import ensure_debian_program
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import SYMBOLS_KEY, RedisWriter, latest_key, redis_client, redis_section

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"
KEY_SERIES = [
    "marketpulse_api_requests_total",
    "marketpulse_api_request_duration_seconds_bucket",
    "marketpulse_ws_connections",
    'marketpulse_pipeline_stage_latency_seconds_bucket{stage="redis_to_websocket"}',
    "marketpulse_dashboard_requests_total",
    "marketpulse_ingest_events_in_total",
    "marketpulse_ingest_events_out_total",
    "marketpulse_ingest_source_last_event_timestamp_seconds",
    "marketpulse_ingest_broker_latency_seconds_bucket",
]


def _prometheus_bin() -> Path:
    return ensure_debian_program("prometheus", "prometheus", print)


def _promtool() -> str:
    return str(_prometheus_bin().with_name("promtool"))


def render_config(targets: dict[str, str], rules: Path) -> dict[str, Any]:
    """dashboards/prometheus/prometheus.yml with these job -> host:port targets (others dropped), 1 s scrapes."""
    config = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in targets]
    for job in jobs:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["scrape_configs"] = jobs
    return dict(config)


def test_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    check = subprocess.run(
        [_promtool(), "check", "config", str(CONFIG_DIR / "prometheus.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 8 rules found" in check.stdout
    rules = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"], cwd=CONFIG_DIR, capture_output=True, text=True
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_grafana_dashboard_queries_only_series_the_services_export() -> None:
    dashboard = json.loads((CONFIG_DIR.parent / "grafana" / "marketpulse-pipeline.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for series in ("marketpulse_pipeline_stage_latency_seconds_bucket", "marketpulse_ws_connections", "up{"):
        assert series in exprs
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.fixture(scope="module")
def services(stack: Stack, settings: Settings) -> Iterator[dict[str, str]]:
    """A real API, dashboard and replay ingest on free ports: job name -> host:port."""
    key = create_key(settings, "prometheus-test")[1]
    with api_server(settings, ARTIFACTS / "prometheus-api.log") as api_base:
        dash_port, ingest_port = free_port(), free_port()
        dash_env = {
            "MARKETPULSE_DASHBOARD__PORT": str(dash_port),
            "MARKETPULSE_DASHBOARD__API_URL": api_base,
            "MARKETPULSE_DASHBOARD__API_KEY": key,
        }
        replay = ["ingest", "replay", "--symbols", "IBM", "--start", "2013-01-02", "--end", "2013-01-02"]
        replay += ["--ticks-per-day", "400", "--speedup", "60"]
        with (
            running(
                ["serve", "dashboard"],
                settings,
                f"http://127.0.0.1:{dash_port}/metrics",
                ARTIFACTS / "prom-dash.log",
                dash_env,
            ),
            running(
                replay,
                settings,
                f"http://127.0.0.1:{ingest_port}/metrics",
                ARTIFACTS / "prom-ingest.log",
                {"MARKETPULSE_INGEST__METRICS_PORT": str(ingest_port)},
            ),
        ):
            _traffic(settings, api_base, key, f"http://127.0.0.1:{dash_port}")
            yield {
                "marketpulse-api": api_base.removeprefix("http://"),
                "marketpulse-dashboard": f"127.0.0.1:{dash_port}",
                "marketpulse-ingest": f"127.0.0.1:{ingest_port}",
            }


def _traffic(settings: Settings, api_base: str, key: str, dash_base: str) -> None:
    """One request of each kind, so labelled series exist: REST, a WebSocket update (stage latency), a page."""
    assert httpx.get(f"{api_base}/v1/symbols", headers={"X-API-Key": key}).status_code == 200
    symbol = "P" + uuid.uuid4().hex[:6].upper()
    with connect(api_base.replace("http", "ws") + "/v1/ws", additional_headers={"X-API-Key": key}) as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": [symbol], "channels": ["ticks"]}))
        ws.recv(timeout=5)
        writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
        writer.update_latest({symbol: {"tick.price": 1.0}})
        writer.close()
        assert json.loads(ws.recv(timeout=5))["type"] in ("data", "heartbeat")
    client = redis_client(settings)
    client.delete(latest_key(symbol))
    client.srem(SYMBOLS_KEY, symbol)
    client.close()
    assert httpx.get(dash_base + "/").status_code == 200


def _query(base: str, path: str, **params: str) -> Any:
    body = httpx.get(f"{base}/api/v1/{path}", params=params, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]


def test_a_real_prometheus_scrapes_every_target_and_the_key_series(services: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(render_config(services, CONFIG_DIR / "alerts.yml")))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["--config.file", str(config), "--storage.tsdb.path", str(tmp_path / "tsdb")]
    args += ["--web.listen-address", f"127.0.0.1:{port}"]
    log = ARTIFACTS / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(_prometheus_bin()), *args], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                targets = _query(base, "targets")["activeTargets"]
            except httpx.HTTPError:
                targets = []
            if len(targets) == len(services) and all(t["health"] == "up" for t in targets):
                break
            time.sleep(0.5)
        assert {t["labels"]["job"]: t["health"] for t in targets} == {job: "up" for job in services}, targets
        missing: list[str] = []
        while time.monotonic() < deadline:
            missing = [s for s in KEY_SERIES if not _query(base, "query", query=s)["result"]]
            if not missing:
                break
            time.sleep(0.5)
        assert missing == []
        groups = _query(base, "rules")["groups"]
        alerts = {rule["name"] for group in groups for rule in group["rules"]}
        assert {
            "MarketPulseStreamLag",
            "MarketPulseDlqRate",
            "MarketPulseStaleSource",
            "MarketPulseServiceDown",
        } <= alerts
    finally:
        process.terminate()
        process.wait(timeout=20)
