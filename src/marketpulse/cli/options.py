"""Option types shared by the command groups, each parsed once: symbols, days and instants.

Use them as `symbols: Annotated[SymbolList | None, symbols_option("help")] = None`; the command receives the
parsed value, and a malformed one is a usage error (exit 2) that names the option.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import typer

T = TypeVar("T")


class SymbolList(list[str]):
    """Symbols given on the command line as one comma-separated value."""

    def __str__(self) -> str:
        return ",".join(self)


def parse_symbols(value: str | SymbolList) -> SymbolList | None:
    """'AAPL, IBM' -> ['AAPL', 'IBM']; an empty value means the command's default (None)."""
    if isinstance(value, SymbolList):  # a declared default arrives parsed
        return value
    return SymbolList(s.strip() for s in value.split(",") if s.strip()) or None


def _iso_parser(convert: Callable[[str], T], what: str) -> Callable[[str | T], T]:
    """A parser of ISO text into convert's type; a malformed value is a usage error naming what was expected."""

    def parse(value: str | T) -> T:
        if not isinstance(value, str):  # a declared default arrives parsed
            return value
        try:
            return convert(value)
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r} is not {what}") from exc

    return parse


parse_day = _iso_parser(date.fromisoformat, "a day (YYYY-MM-DD)")
parse_instant = _iso_parser(datetime.fromisoformat, "an ISO date-time")


def symbols_option(help: str) -> Any:
    """A comma-separated list of symbols."""
    return typer.Option(parser=parse_symbols, metavar="<symbols>", help=help)


def day_option(help: str) -> Any:
    """A day (YYYY-MM-DD)."""
    return typer.Option(parser=parse_day, metavar="<day>", help=help)


def instant_option(help: str) -> Any:
    """An ISO date-time."""
    return typer.Option(parser=parse_instant, metavar="<iso>", help=help)
