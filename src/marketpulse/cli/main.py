"""The `marketpulse` command: the root, its settings callback, and one group per module of this package."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from marketpulse.cli import (
    alerts,
    apikeys,
    db,
    ensemble,
    infra,
    ingest,
    models,
    ops,
    platform,
    scorecard,
    serve,
    stack,
    stream,
    train,
)
from marketpulse.cli.console import console
from marketpulse.cli.settings import load_settings
from marketpulse.errors import MarketPulseError

app = typer.Typer(
    name="marketpulse",
    help="MarketPulse: real-time stock-market analytics. Settings come from MARKETPULSE_* variables and .env.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    callback=load_settings,
)

#: Commands of the root itself.
app.command("evaluate")(models.evaluate)
app.command("backfill")(ops.backfill)

#: The command groups, in the order `marketpulse --help` lists them.
GROUPS: dict[str, typer.Typer] = {
    "stack": stack.app,
    "ingest": ingest.app,
    "stream": stream.app,
    "serve": serve.app,
    "alerts": alerts.app,
    "apikeys": apikeys.app,
    "train": train.app,
    "models": models.app,
    "platform": platform.app,
    "infra": infra.app,
    "db": db.app,
    "scorecard": scorecard.app,
    "ensemble": ensemble.app,
    "ops": ops.app,
}
for name, group in GROUPS.items():
    app.add_typer(group, name=name)


def run() -> None:
    """Entry point: turn MarketPulse errors into a clear message and exit code 1, not a traceback."""
    try:
        app()
    except MarketPulseError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
