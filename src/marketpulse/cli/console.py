"""The CLI's consoles: messages and progress on stderr (`console`), results on stdout (`out`)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from marketpulse.stack.manager import ServiceStatus

# Wide enough for the status table when output goes to a pipe or a CI log.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)


def progress(message: str) -> None:
    """One progress line on stderr (the stack's and Terraform's steps)."""
    console.print(f"[dim]·[/dim] {message}")


def say(message: str) -> None:
    """A plain message on stderr: no markup, no highlighting (it may hold brackets or numbers)."""
    console.print(message, highlight=False)


def print_status_table(rows: list[ServiceStatus], title: str) -> None:
    """The table of services and processes `stack` and `platform` print, and their resident memory."""
    table = Table(title=title)
    for column in ("service", "endpoint", "ports", "pid", "health", "RSS MiB", "detail"):
        table.add_column(column)
    for row in rows:
        health = "[green]healthy[/green]" if row.healthy else "[red]down[/red]"
        rss = f"{row.rss_mb:.0f}" if row.rss_mb is not None else "-"
        table.add_row(row.name, row.endpoint, row.ports, str(row.pid or "-"), health, rss, row.detail)
    out.print(table)
    total = sum(r.rss_mb or 0 for r in rows)
    out.print(f"resident memory of the stack: {total:.0f} MiB")
