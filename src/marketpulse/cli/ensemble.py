"""`marketpulse ensemble refit`: the market + sentiment ensemble's weights."""

from __future__ import annotations

from typing import Annotated

import typer

from marketpulse.cli.console import out
from marketpulse.cli.settings import settings_of

app = typer.Typer(help="The market + sentiment ensemble.", no_args_is_help=True)


@app.command("refit")
def ensemble_refit(
    ctx: typer.Context,
    lookback_days: Annotated[int, typer.Option(help="Days of scored predictions to fit on.")] = 30,
) -> None:
    """Re-fit the ensemble weights from the scorecard, store them as a new version and promote it."""
    from marketpulse.models.ensemble import refit_ensemble

    version = refit_ensemble(settings_of(ctx), lookback_days=lookback_days)
    out.print(f"ensemble {version} promoted")
