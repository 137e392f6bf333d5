"""The one settings loader: the root callback builds Settings once; every command reads them from its context."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from marketpulse.cli.console import console
from marketpulse.config import Settings


def load_settings(ctx: typer.Context) -> None:
    """Build the Settings once for every command (MARKETPULSE_* variables and .env); exit 2 when they are invalid."""
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        console.print(f"[red]Invalid settings[/red] (MARKETPULSE_* variables or .env):\n{escape(str(exc))}")
        raise typer.Exit(2) from exc


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings the root callback built (a sub-command's context inherits its parent's `obj`)."""
    settings = ctx.obj
    assert isinstance(settings, Settings), "the root callback builds Settings"
    return settings
