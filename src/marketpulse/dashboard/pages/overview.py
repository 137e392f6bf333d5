"""Market overview: every symbol with its live price, change since the session's open, an intraday sparkline,
volume, RSI, the model's P(up) and version, sentiment mean and buzz; coloured up/down, sortable, each symbol a
link to its page.

The server builds the part that needs history (open, day volume, sparkline closes from the 1-minute bars, and
the latest state as a start) every 30 s; live pushes (`live-store`) overlay it in the browser
(`assets/views.js`, function `overview`), so prices move as the stream writes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, callback, clientside_callback, dash_table, dcc, html
from dash.dash_table.Format import Format, Scheme, Sign

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path="/", name="Market")

SPARK_POINTS = 40
BASE_REFRESH_MS = 30_000


def _numeric(name: str, column: str, digits: int, signed: bool = False) -> dict[str, Any]:
    fmt = Format(precision=digits, scheme=Scheme.fixed, sign=Sign.positive if signed else Sign.default)
    return {"name": name, "id": column, "type": "numeric", "format": fmt}


COLUMNS = [
    {"name": "symbol", "id": "symbol", "presentation": "markdown"},
    _numeric("price", "price", 2),
    _numeric("chg % (open)", "chg_pct", 2, signed=True),
    {"name": "today", "id": "spark"},
    _numeric("volume", "volume", 0),
    _numeric("RSI 14", "rsi_14", 1),
    _numeric("P(up)", "prob_up", 3),
    {"name": "model", "id": "model"},
    _numeric("sentiment", "sentiment", 2, signed=True),
    _numeric("buzz", "buzz", 1),
    {"name": "last tick", "id": "ts"},
]
UP, DOWN = "#1a7f37", "#cf222e"


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Market overview"),
            html.Div(id="overview-status"),
            dcc.Store(id="overview-base", data=[]),
            dcc.Interval(id="overview-slow", interval=BASE_REFRESH_MS),
            dash_table.DataTable(
                id="overview-table",
                columns=COLUMNS,
                data=[],
                sort_action="native",
                markdown_options={"link_target": "_self"},
                style_cell={"fontFamily": "monospace", "padding": "4px 10px"},
                style_data_conditional=[
                    {"if": {"filter_query": "{chg_pct} > 0", "column_id": ["price", "chg_pct"]}, "color": UP},
                    {"if": {"filter_query": "{chg_pct} < 0", "column_id": ["price", "chg_pct"]}, "color": DOWN},
                ],
            ),
        ]
    )


def _day_bars(symbol: str, latest: dict[str, Any]) -> list[dict[str, Any]]:
    """The 1-minute bars of the session of the symbol's newest data (replayed days are years old), oldest first."""
    stamp = (latest.get("tick") or {}).get("ts") or (latest.get("bar_1m") or {}).get("ts")
    if not stamp:
        return []
    day = datetime.fromisoformat(str(stamp)).replace(hour=0, minute=0, second=0, microsecond=0)
    page = api().get(
        f"/v1/symbols/{symbol}/bars",
        interval="1min",
        start=day.isoformat(),
        end=(day + timedelta(days=1)).isoformat(),
        limit=1000,
    )
    return sorted((page or {}).get("items", []), key=lambda bar: bar["ts"])


def base_row(symbol: str) -> dict[str, Any]:
    """What the browser overlays live values on: the session's open, volume and closes, and the latest state."""
    latest = api().get(f"/v1/symbols/{symbol}/latest") or {}
    bars = _day_bars(symbol, latest)
    closes = [bar["close"] for bar in bars if bar["close"] is not None]
    step = max(1, len(closes) // SPARK_POINTS)
    tick, bar_1m = latest.get("tick") or {}, latest.get("bar_1m") or {}
    prediction, sentiment = latest.get("prediction") or {}, latest.get("sentiment") or {}
    return {
        "symbol": symbol,
        "open": next((bar["open"] for bar in bars if bar["open"]), None),
        "volume": sum(bar["volume"] or 0 for bar in bars) or None,
        "spark": closes[::step],
        "price": tick.get("price", bar_1m.get("close")),
        "ts": tick.get("ts", bar_1m.get("ts")),
        "rsi_14": (latest.get("indicators") or {}).get("rsi_14"),
        "prob_up": prediction.get("prob_up"),
        "model": prediction.get("model_version"),
        "sentiment": sentiment.get("mean"),
        "buzz": sentiment.get("buzz"),
    }


@callback(Output("overview-base", "data"), Output("overview-status", "children"), Input("overview-slow", "n_intervals"))
def refresh_base(_: int | None) -> tuple[list[dict[str, Any]], str]:
    try:
        rows = [base_row(item["symbol"]) for item in api().get("/v1/symbols", limit=200)["items"]]
    except ApiUnavailableError as exc:
        return [], str(exc)
    return rows, f"{len(rows)} symbols; prices, RSI, P(up) and sentiment update live"


clientside_callback(
    ClientsideFunction(namespace="marketpulse", function_name="overview"),
    Output("overview-table", "data"),
    Input("live-store", "data"),
    Input("overview-base", "data"),
)
