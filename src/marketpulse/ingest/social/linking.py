"""Symbol linking: which symbols a text is about, from cashtags, bare tickers and company names.

The reference table (`data/symbols.csv`, kept in the project) lists per symbol its company name, aliases,
whether the bare ticker may be linked without a `$` (not for tickers that are words or single letters:
F, T, IT, ON, ALL, NOW...), and phrases that make an alias mean something else ("apple pie",
"Harrison Ford", "Oracle of Omaha"). Rules, strictest first:

1. A cashtag (`$F`, `$aapl`, `$BRK.B`) links its symbol when the table knows it: an author's explicit intent.
2. A bare upper-case ticker links only when the table allows it and it is not part of a model name such as
   F-150 or a URL; tickers that are English words never link bare.
3. An alias links when it appears with its own capitalisation as a whole word, outside every exclusion
   phrase of that symbol.

URLs, @handles and e-mail addresses are removed before matching.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from marketpulse.contracts.market import SYMBOL_PATTERN
from marketpulse.errors import ConfigError

_SYMBOL = re.compile(SYMBOL_PATTERN)
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
# $ + letters (+ a class suffix like .B); "$5" and "$5.00" are prices, not cashtags.
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z])?)(?![\w])")
# Bare tickers: upper-case word, optional class suffix; not followed by "-<digit>" (F-150) or "." + letter.
_BARE = re.compile(r"(?<![\w$@#/.-])#?([A-Z]{1,6}(?:\.[A-Z])?)(?![\w&]|-\d|\.[A-Za-z])")


@dataclass(frozen=True, slots=True)
class SymbolReference:
    """One row of the reference table."""

    symbol: str
    name: str
    aliases: tuple[str, ...]
    bare_ticker: bool
    exclude: tuple[str, ...]


def default_reference_path() -> Path:
    """The table shipped with the package."""
    return Path(str(resources.files("marketpulse.ingest.social").joinpath("data/symbols.csv")))


def load_reference(path: Path | None = None) -> list[SymbolReference]:
    """Read and check the reference table; ConfigError names the bad row."""
    path = path or default_reference_path()
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read the symbol reference table {path}: {exc}") from exc
    references: list[SymbolReference] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        symbol = (row.get("symbol") or "").strip()
        if not _SYMBOL.fullmatch(symbol) or symbol in seen:
            raise ConfigError(f"{path}:{number}: symbol {symbol!r} is not a ticker or is listed twice")
        if row.get("bare_ticker") not in ("yes", "no"):
            raise ConfigError(f"{path}:{number}: bare_ticker must be yes or no")
        seen.add(symbol)
        references.append(
            SymbolReference(
                symbol=symbol,
                name=row["name"].strip(),
                aliases=_split(row.get("aliases")),
                bare_ticker=row["bare_ticker"] == "yes",
                exclude=_split(row.get("exclude")),
            )
        )
    return references


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (cell or "").split("|") if part.strip())


def _alias_pattern(alias: str) -> re.Pattern[str]:
    # Whole word with its own capitalisation; a trailing possessive ('s) still counts.
    return re.compile(rf"(?<![\w&]){re.escape(alias)}(?:['’]s)?(?![\w&])")


class SymbolLinker:
    """Links texts to symbols with the rules of the module doc; build once, call link() per text."""

    def __init__(self, references: list[SymbolReference] | None = None) -> None:
        self.references = {ref.symbol: ref for ref in (references or load_reference())}
        self._aliases = [
            (ref.symbol, _alias_pattern(alias)) for ref in self.references.values() for alias in ref.aliases
        ]
        self._exclusions = {
            ref.symbol: [re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE) for phrase in ref.exclude]
            for ref in self.references.values()
        }

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol the table knows."""
        return frozenset(self.references)

    def link(self, text: str) -> list[str]:
        """The symbols text is about, in order of first mention."""
        clean = _HANDLE.sub(" ", _URL.sub(" ", text))
        found: dict[str, int] = {}

        def add(symbol: str, position: int) -> None:
            if symbol not in found or position < found[symbol]:
                found[symbol] = position

        for match in _CASHTAG.finditer(clean):
            symbol = match.group(1).upper()
            if symbol in self.references:
                add(symbol, match.start())
        for match in _BARE.finditer(clean):
            ref = self.references.get(match.group(1))
            if ref is not None and ref.bare_ticker:
                add(ref.symbol, match.start())
        for symbol, pattern in self._aliases:
            for match in pattern.finditer(clean):
                if not self._excluded(symbol, clean, match.start(), match.end()):
                    add(symbol, match.start())
                    break
        return sorted(found, key=lambda symbol: found[symbol])

    def _excluded(self, symbol: str, text: str, start: int, end: int) -> bool:
        """Whether the alias at [start, end) lies inside one of the symbol's exclusion phrases."""
        return any(
            phrase.start() <= start and end <= phrase.end()
            for pattern in self._exclusions[symbol]
            for phrase in pattern.finditer(text)
        )

    def search_terms(self, symbol: str) -> list[str]:
        """What collectors search for a symbol: its cashtag, and its name and aliases (for news)."""
        ref = self.references.get(symbol)
        if ref is None:
            raise ConfigError(f"{symbol} is not in the symbol reference table; add it to {default_reference_path()}")
        names = [alias for alias in ref.aliases if not alias.endswith("'s")]
        return [f"${symbol}", *names]


@lru_cache(maxsize=1)
def default_linker() -> SymbolLinker:
    """The linker over the shipped table (built once per process)."""
    return SymbolLinker()
