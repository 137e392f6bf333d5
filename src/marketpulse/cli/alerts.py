"""`marketpulse alerts run`: the alert engine as its own service."""

from __future__ import annotations

import asyncio
import logging

import typer

from marketpulse.cli.settings import settings_of

app = typer.Typer(help="The alert engine, run as its own service (one per platform).", no_args_is_help=True)


@app.command("run")
def alerts_run(ctx: typer.Context) -> None:
    """Run the alert engine: evaluates every rule on the live updates, stores and publishes firings, posts webhooks."""
    from marketpulse.alerts.service import run_alert_service

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_alert_service(settings_of(ctx)))
