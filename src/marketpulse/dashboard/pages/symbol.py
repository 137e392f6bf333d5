"""One symbol: live price, 1-minute candlesticks, RSI and MACD, predictions with their confidence, sentiment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import dash
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html
from plotly.subplots import make_subplots

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path_template="/symbol/<symbol>", name="Symbol")

WINDOW = timedelta(hours=2)
UP, DOWN = "#1a7f37", "#cf222e"


def layout(symbol: str = "AAPL", **_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="symbol-name", data=symbol),
            html.H2(symbol),
            html.Div(
                [html.Span("last price "), html.Strong(id="symbol-price"), html.Span(" at "), html.Span(id="symbol-ts")]
            ),
            html.Div(id="symbol-prediction"),
            html.Div(id="symbol-status"),
            dcc.Graph(id="symbol-chart", style={"height": "640px"}),
            dcc.Graph(id="symbol-sentiment", style={"height": "240px"}),
        ]
    )


def _window_end(latest: dict[str, Any]) -> datetime:
    """Charts end at the newest bar the stream holds (replayed history is years old), not at the wall clock."""
    stamp = (latest.get("bar_1m") or {}).get("ts") or (latest.get("tick") or {}).get("ts")
    return datetime.fromisoformat(str(stamp)) + timedelta(minutes=1) if stamp else datetime.now().astimezone()


def symbol_figure(
    bars: list[dict[str, Any]], indicators: list[dict[str, Any]], predictions: list[dict[str, Any]]
) -> go.Figure:
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, row_heights=[0.5, 0.17, 0.17, 0.16], vertical_spacing=0.03)
    bars = sorted(bars, key=lambda b: b["ts"])
    fig.add_trace(
        go.Candlestick(
            x=[b["ts"] for b in bars],
            open=[b["open"] for b in bars],
            high=[b["high"] for b in bars],
            low=[b["low"] for b in bars],
            close=[b["close"] for b in bars],
            name="1 min",
        ),
        row=1,
        col=1,
    )
    indicators = sorted(indicators, key=lambda i: i["ts"])
    x = [i["ts"] for i in indicators]
    fig.add_trace(go.Scatter(x=x, y=[i.get("bb_upper") for i in indicators], name="BB upper", line={"width": 1}), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=[i.get("bb_lower") for i in indicators], name="BB lower", line={"width": 1}), 1, 1)
    fig.add_trace(go.Scatter(x=x, y=[i.get("rsi_14") for i in indicators], name="RSI 14"), row=2, col=1)
    fig.add_trace(go.Bar(x=x, y=[i.get("macd_hist") for i in indicators], name="MACD hist"), row=3, col=1)
    fig.add_trace(go.Scatter(x=x, y=[i.get("macd") for i in indicators], name="MACD"), row=3, col=1)
    predictions = sorted((p for p in predictions if p.get("prob_up") is not None), key=lambda p: p["feature_ts"])
    add_prediction_markers(fig, bars, predictions)
    fig.add_trace(
        go.Scatter(x=[p["feature_ts"] for p in predictions], y=[p["prob_up"] for p in predictions], name="P(up)"),
        row=4,
        col=1,
    )
    fig.update_layout(xaxis_rangeslider_visible=False, margin={"t": 20, "b": 20}, uirevision="keep-zoom")
    return fig


def add_prediction_markers(fig: go.Figure, bars: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> None:
    """Each prediction on the price chart at its feature bar's close: a triangle up (P(up) > 0.5) or down, its
    hover naming the model and the sentiment window that fed it (point in time)."""
    close_at = {str(b["ts"]): b["close"] for b in bars}
    shown = [p for p in predictions if str(p["feature_ts"]) in close_at]
    for up in (True, False):
        side = [p for p in shown if (p["prob_up"] > 0.5) is up]
        if not side:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p["feature_ts"] for p in side],
                y=[close_at[str(p["feature_ts"])] for p in side],
                mode="markers",
                name="prediction up" if up else "prediction down",
                marker={"symbol": "triangle-up" if up else "triangle-down", "size": 9, "color": UP if up else DOWN},
                text=[_prediction_hover(p) for p in side],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )


def _prediction_hover(prediction: dict[str, Any]) -> str:
    window = prediction.get("sentiment_window_end")
    fed = (
        f"sentiment window ending {window} ({prediction.get('sentiment_model_version') or '?'})"
        if window
        else "no sentiment window"
    )
    return (
        f"P(up, {prediction['horizon']}) = {prediction['prob_up']:.3f}<br>model {prediction['model_name']} "
        f"{prediction.get('model_version') or ''}<br>{fed}"
    )


def sentiment_figure(windows: list[dict[str, Any]]) -> go.Figure:
    """Mean polarity (-1..1) of each sentiment window, with the number of texts in it."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    windows = sorted(windows, key=lambda w: str(w.get("window_end", "")))
    x = [w.get("window_end") for w in windows]
    fig.add_trace(go.Bar(x=x, y=[w.get("count") for w in windows], name="texts", opacity=0.3), secondary_y=True)
    fig.add_trace(go.Scatter(x=x, y=[w.get("mean") for w in windows], name="mean polarity", mode="lines+markers"))
    fig.update_layout(title="Sentiment" if windows else "Sentiment (no data yet)", margin={"t": 40, "b": 20})
    return fig


def _sentiment_windows(symbol: str, window: dict[str, Any]) -> list[dict[str, Any]]:
    """The symbol's sentiment windows; none while the API has no sentiment for it (the page still renders)."""
    try:
        body = api().get(f"/v1/symbols/{symbol}/sentiment", start=window["start"], end=window["end"], limit=100)
    except ApiUnavailableError:
        return []
    return list(body.get("windows", [])) if isinstance(body, dict) else []


@callback(
    Output("symbol-price", "children"),
    Output("symbol-ts", "children"),
    Output("symbol-prediction", "children"),
    Output("symbol-chart", "figure"),
    Output("symbol-sentiment", "figure"),
    Output("symbol-status", "children"),
    Input("clock", "n_intervals"),
    State("symbol-name", "data"),
)
def refresh(_: int | None, symbol: str) -> tuple[Any, ...]:
    try:
        latest = api().get(f"/v1/symbols/{symbol}/latest")
        if latest is None:
            return "-", "-", "", go.Figure(), go.Figure(), f"unknown symbol {symbol}"
        end = _window_end(latest)
        window = {"start": (end - WINDOW).isoformat(), "end": end.isoformat(), "limit": 500}
        bars = api().get(f"/v1/symbols/{symbol}/bars", interval="1min", **window)["items"]
        indicators = api().get(f"/v1/symbols/{symbol}/indicators", interval="1min", **window)["items"]
        predictions = api().get(f"/v1/symbols/{symbol}/predictions", **window)["items"]
        sentiment = _sentiment_windows(symbol, window)
    except ApiUnavailableError as exc:
        return "-", "-", "", go.Figure(), go.Figure(), str(exc)
    tick = latest.get("tick") or latest.get("bar_1s") or {}
    price = tick.get("price", tick.get("close"))
    prediction = latest.get("prediction") or {}
    prob = prediction.get("prob_up")
    confidence = (
        f"P(up, {prediction.get('horizon', '?')}) = {prob:.3f} · confidence {abs(prob - 0.5) * 2:.2f} "
        f"· model {prediction.get('model_version', '?')}"
        if isinstance(prob, int | float)
        else "no prediction yet"
    )
    return (
        f"{price:.2f}" if isinstance(price, int | float) else "-",
        str(tick.get("ts", "-")),
        confidence,
        symbol_figure(bars, indicators, predictions),
        sentiment_figure(sentiment),
        "",
    )


# The price and its time follow the live pushes in the browser between the server's chart refreshes.
clientside_callback(
    ClientsideFunction(namespace="marketpulse", function_name="symbolPrice"),
    Output("symbol-price", "children", allow_duplicate=True),
    Output("symbol-ts", "children", allow_duplicate=True),
    Input("live-store", "data"),
    State("symbol-name", "data"),
    prevent_initial_call=True,
)
