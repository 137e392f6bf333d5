"""`marketpulse serve ...`: the REST + WebSocket API and the Dash dashboard."""

from __future__ import annotations

import typer

from marketpulse.cli.settings import settings_of

app = typer.Typer(help="Serve results: the REST + WebSocket API and the Dash dashboard.", no_args_is_help=True)


@app.command("api")
def serve_api(ctx: typer.Context) -> None:
    """Serve the REST API with api.workers processes on api.port (OpenAPI docs at /docs, Prometheus at /metrics)."""
    from marketpulse.api.serve import serve

    serve(settings_of(ctx))


@app.command("dashboard")
def serve_dashboard(ctx: typer.Context) -> None:
    """Serve the Dash dashboard; it reads through the API with dashboard.api_key (MARKETPULSE_DASHBOARD__API_KEY)."""
    from marketpulse.dashboard.app import create_dashboard

    settings = settings_of(ctx)
    create_dashboard(settings).run(host=settings.stack.host, port=settings.dashboard.port, debug=False)
