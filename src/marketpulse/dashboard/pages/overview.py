"""Market overview: every symbol with its live price, RSI and the model's probability of an up move."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dash_table, html

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path="/", name="Market")

COLUMNS = ["symbol", "price", "ts", "rsi_14", "prob_up"]


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Market overview"),
            html.Div(id="overview-status"),
            dash_table.DataTable(
                id="overview-table",
                columns=[
                    {"name": c, "id": c, "presentation": "markdown" if c == "symbol" else "input"} for c in COLUMNS
                ],
                data=[],
                markdown_options={"link_target": "_self"},
                style_cell={"fontFamily": "monospace", "padding": "4px 10px"},
            ),
        ]
    )


def overview_rows() -> list[dict[str, Any]]:
    """One row per symbol: price from the symbol list, indicators and prediction from the latest state."""
    rows = []
    for item in api().get("/v1/symbols", limit=200)["items"]:
        latest = api().get(f"/v1/symbols/{item['symbol']}/latest") or {}
        rows.append(
            {
                "symbol": f"[{item['symbol']}](/symbol/{item['symbol']})",
                "price": f"{item['price']:.2f}" if item["price"] is not None else "-",
                "ts": item["ts"] or "-",
                "rsi_14": _fmt((latest.get("indicators") or {}).get("rsi_14")),
                "prob_up": _fmt((latest.get("prediction") or {}).get("prob_up"), 3),
            }
        )
    return rows


def _fmt(value: Any, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


@callback(Output("overview-table", "data"), Output("overview-status", "children"), Input("clock", "n_intervals"))
def refresh(_: int | None) -> tuple[list[dict[str, Any]], str]:
    try:
        rows = overview_rows()
    except ApiUnavailableError as exc:
        return [], str(exc)
    return rows, f"{len(rows)} symbols"
