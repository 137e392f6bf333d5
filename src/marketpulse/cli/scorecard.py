"""`marketpulse scorecard update`: score live predictions whose horizon passed."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from marketpulse.cli.console import console
from marketpulse.cli.settings import settings_of

app = typer.Typer(help="The live prediction scorecard (PostgreSQL, /v1/scorecard).", no_args_is_help=True)


@app.command("update")
def scorecard_update(
    ctx: typer.Context,
    every: Annotated[float, typer.Option(help="Repeat every this many seconds; 0 = once.")] = 0.0,
) -> None:
    """Score every prediction whose horizon has passed (idempotent)."""
    import psycopg

    from marketpulse.models.scorecard import update_scorecard

    settings = settings_of(ctx)
    while True:
        try:
            result = update_scorecard(settings)
            console.print(f"scored {result.scored:,} predictions; {result.pending:,} wait for their target bar")
        except psycopg.OperationalError as exc:
            if every <= 0:
                raise
            # A repeating updater outlives a PostgreSQL restart: nothing is lost, the next round scores it.
            console.print(f"PostgreSQL unavailable ({str(exc).splitlines()[0]}); retrying in {every:g}s")
        if every <= 0:
            return
        time.sleep(every)
