"""The Dash dashboard in a real headless Chromium (Debian's, driven by Playwright): every page loads through a
real API on the test stack, live values change on screen when the stream's state changes, and screenshots are
kept in test-artifacts/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from integration.api.test_api_support import ARTIFACTS, api_server, create_key, free_port, running
from marketpulse.config import Settings
from marketpulse.stack.install import ensure_debian_program
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import INDICATOR_CQL_COLUMNS, CassandraWriter, cassandra_section
from marketpulse.stores.redis_store import SYMBOLS_KEY, RedisWriter, latest_key, redis_client, redis_section

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LAST_BAR = datetime(2024, 3, 7, 15, 59, tzinfo=UTC)


def chromium_binary() -> str:
    """Debian's chromium (installed with apt by the project's helper); its real binary, not the wrapper script."""
    wrapper = ensure_debian_program("chromium", "chromium", lambda message: print(message))
    real = Path("/usr/lib/chromium/chromium")
    return str(real if real.exists() else wrapper)


@pytest.fixture(scope="module")
def symbol(stack: Stack, settings: Settings) -> Iterator[str]:
    """A symbol with 60 one-minute bars and indicators in Cassandra and a latest state in Redis."""
    symbol = "D" + uuid.uuid4().hex[:6].upper()
    ts = pd.date_range(end=LAST_BAR, periods=60, freq="1min")
    close = 100 + np.sin(np.arange(60) / 5)
    bars = pd.DataFrame(
        {
            "symbol": symbol,
            "ts": ts,
            "open": close - 0.1,
            "high": close + 0.3,
            "low": close - 0.3,
            "close": close,
            "volume": 1000.0,
            "vwap": close,
            "trades": 5,
        }
    )
    indicators = bars[["symbol", "ts", "close"]].copy()
    for name in INDICATOR_CQL_COLUMNS:
        indicators[name] = 50.0
    # Two predictions on bars of the chart: one bullish fed by a sentiment window, one bearish without.
    predictions = pd.DataFrame(
        {
            "symbol": symbol,
            "feature_ts": [ts[-10], ts[-5]],
            "horizon": "1min",
            "model_name": "price",
            "model_version": "v-test",
            "prob_up": [0.71, 0.32],
            "expected_return": [0.001, -0.001],
            "sentiment_window_end": [ts[-11], None],
            "sentiment_model_version": ["vader-1", None],
        }
    )
    writer = CassandraWriter(cassandra_section(settings))
    try:
        writer.write_bars(bars, "1min")
        writer.write_indicators(indicators, "1min")
        writer.write_predictions(predictions)
    finally:
        writer.close()
    publish(settings, symbol, price=101.0)
    yield symbol
    client = redis_client(settings)
    client.delete(latest_key(symbol))
    client.srem(SYMBOLS_KEY, symbol)
    client.close()


def publish(settings: Settings, symbol: str, price: float) -> None:
    """Update the latest state the way the market job does."""
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    try:
        writer.update_latest(
            {
                symbol: {
                    "tick.price": price,
                    "tick.ts": (LAST_BAR + timedelta(seconds=59)).isoformat(),
                    "bar_1m.close": 100.0,
                    "bar_1m.ts": LAST_BAR.isoformat(),
                    "ind.rsi_14": 57.5,
                    "pred.prob_up": 0.62,
                    "pred.horizon": "1min",
                    "pred.model_version": "v-test",
                }
            }
        )
    finally:
        writer.close()


@pytest.fixture(scope="module")
def dashboard(stack: Stack, settings: Settings) -> Iterator[str]:
    key = create_key(settings, "dashboard-test")[1]
    with api_server(settings, ARTIFACTS / "dashboard-api.log") as api_base:
        port = free_port()
        env = {
            "MARKETPULSE_DASHBOARD__PORT": str(port),
            "MARKETPULSE_DASHBOARD__API_URL": api_base,
            "MARKETPULSE_DASHBOARD__API_KEY": key,
            "MARKETPULSE_DASHBOARD__REFRESH_S": "0.5",
            "MARKETPULSE_DASHBOARD__STALE_S": "3",
        }
        base = f"http://127.0.0.1:{port}"
        with running(["serve", "dashboard"], settings, base + "/metrics", ARTIFACTS / "dashboard.log", env):
            yield base


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_binary(), headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[Any] = []
        page.on("pageerror", lambda error: errors.append(error))
        yield page
        browser.close()
        assert errors == [], f"JavaScript errors in the dashboard: {errors}"


def test_overview_lists_the_symbol_and_its_price_changes_live(
    page: Page, dashboard: str, symbol: str, settings: Settings
) -> None:
    page.goto(dashboard + "/")
    row = page.locator("#overview-table tr", has_text=symbol)
    expect(row).to_contain_text("101.00", timeout=20_000)
    expect(row).to_contain_text("57.5")  # RSI
    expect(row).to_contain_text("0.620")  # P(up)
    expect(row).to_contain_text("v-test")  # the serving model's version
    expect(row).to_contain_text(re.compile(r"[▁▂▃▄▅▆▇█]{10,}"))  # the session's sparkline from the 1-min bars
    opened = open_of_session()
    expect(row).to_contain_text(f"{(101.0 - opened) / opened * 100:+.2f}")  # change since the session's open
    publish(settings, symbol, price=102.5)
    # Pushed over the API's WebSocket: the row changes within a second, well before the 30 s base refresh.
    expect(row).to_contain_text("102.50", timeout=5_000)
    expect(row).to_contain_text(f"{(102.5 - opened) / opened * 100:+.2f}")
    expect(page.locator("#live-indicator")).to_contain_text("live")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
    # No update for longer than dashboard.stale_s (3 s here): the indicator says since when the data is stale.
    # The test stack may carry other live data, so the page's own function is called with an old receipt.
    text, style = page.evaluate(
        "() => window.dash_clientside.marketpulse.indicator(0, "
        "{received_at: Date.UTC(2024, 2, 7, 15, 4, 5), connected: true}, 3)"
    )
    assert text == "● stale since 15:04:05 UTC" and style["color"] == "#b35900"
    offline = page.evaluate("() => window.dash_clientside.marketpulse.indicator(0, {connected: false}, 3)")
    assert offline[0] == "offline: reconnecting to the API"


def open_of_session() -> float:
    """Open of the first 1-min bar the symbol fixture writes (the session of the published tick)."""
    return float(100 + np.sin(0 / 5) - 0.1)


def test_symbol_page_draws_candles_indicators_and_prediction(
    page: Page, dashboard: str, symbol: str, settings: Settings
) -> None:
    page.goto(f"{dashboard}/symbol/{symbol}")
    expect(page.locator("#symbol-price")).to_have_text("102.50", timeout=20_000)
    expect(page.locator("#symbol-prediction")).to_contain_text("P(up, 1min) = 0.620")
    expect(page.locator("#symbol-chart .trace.boxes, #symbol-chart g.trace").first).to_be_attached(timeout=10_000)
    candles = page.locator("#symbol-chart path.box, #symbol-chart g.trace.boxes path")
    expect(candles.first).to_be_attached()
    assert candles.count() >= 60  # one candle body per bar
    # The predictions as up/down triangles on the price chart (their hover names the sentiment window).
    expect(page.locator("#symbol-chart .legendtext", has_text="prediction up")).to_be_attached()
    expect(page.locator("#symbol-chart .legendtext", has_text="prediction down")).to_be_attached()
    publish(settings, symbol, price=99.25)
    expect(page.locator("#symbol-price")).to_have_text("99.25", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-symbol.png"), full_page=True)


def test_health_and_scorecard_pages_load(page: Page, dashboard: str, symbol: str, settings: Settings) -> None:
    page.goto(dashboard + "/health")
    expect(page.locator("#health-status")).to_contain_text("symbols", timeout=20_000)
    expect(page.locator("#health-services")).to_contain_text("ingest")
    # Updates pushed to this page's WebSocket give the API's Redis -> WebSocket stage observations, drawn as
    # p50/p99 lines over the refresh windows.
    for i in range(20):
        publish(settings, symbol, price=100.0 + i / 10)
        page.wait_for_timeout(150)
    latency = page.locator("#health-latency")
    expect(latency).to_contain_text("api: redis_to_websocket p99", timeout=20_000)
    assert latency.locator("g.trace.scatter path.js-line").count() >= 2  # p50 and p99 lines drawn
    expect(page.locator("#health-restarts")).to_have_text(re.compile(r"^(none recorded|.+: \d+.*)$"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-health.png"), full_page=True)
    page.goto(dashboard + "/scorecard")
    # The test stack may or may not hold scored predictions; either way the page says which, through the API.
    expect(page.locator("#scorecard-status")).to_have_text(
        re.compile(r"^(\d+ rows|no scored predictions yet.*)$"), timeout=20_000
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-scorecard.png"), full_page=True)
