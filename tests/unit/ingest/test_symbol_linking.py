"""Symbol linking against the project's reference table: the tricky cases people actually write."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketpulse.errors import ConfigError
from marketpulse.ingest.social.linking import SymbolLinker, default_linker, load_reference

TRICKY_CASES = [
    # cashtags are explicit intent, even for tickers that are letters or words
    ("$F is cheap at 6x earnings", ["F"]),
    ("$T dividend looks safe", ["T"]),
    ("$aapl calls expiring friday", ["AAPL"]),
    ("$BRK.B and BRK.B are the same thing", ["BRK.B"]),
    # ... but a bare letter or word never links
    ("F-150 towing capacity is great", []),
    ("T is for Tuesday", []),
    ("IT spending rises next year", []),
    ("ALL in on $NVDA", ["NVDA"]),
    ("NOW is the time to buy $MSFT", ["MSFT"]),
    # company names with their own capitalisation, outside exclusion phrases
    ("Ford F-150 sales are up", ["F"]),
    ("Harrison Ford stars in a new movie", []),
    ("I baked an apple pie", []),
    ("Apple pie recipe for the holidays", []),
    ("The Big Apple marathon is on Sunday", []),
    ("Apple beats estimates on iPhone demand", ["AAPL"]),
    ("Apple's services revenue hit a record", ["AAPL"]),
    ("Oracle of Omaha buys more $BAC", ["BAC"]),
    ("Amazon rainforest fires are spreading", []),
    ("Amazon cuts prices on Prime", ["AMZN"]),
    ("I took an Uber to the airport", []),
    ("Uber earnings beat expectations", ["UBER"]),
    # prices, links, handles and hashtags
    ("$5 coffee is too expensive", []),
    ("read https://example.com/AAPL/analysis", []),
    ("@AAPL_fan what do you think", []),
    ("#AAPL to the moon", ["AAPL"]),
    # several symbols, in order of first mention
    ("Microsoft and Nvidia lead the rally, GOOG vs GOOGL spread widens", ["MSFT", "NVDA", "GOOG", "GOOGL"]),
]


@pytest.mark.parametrize(("text", "expected"), TRICKY_CASES)
def test_tricky_cases(text: str, expected: list[str]) -> None:
    assert default_linker().link(text) == expected


def test_every_replay_symbol_is_in_the_table() -> None:
    assert {"AAPL", "MSFT", "GOOG", "IBM", "FB"} <= default_linker().symbols


def test_search_terms_name_the_company_and_reject_unknown_symbols() -> None:
    terms = default_linker().search_terms("AAPL")
    assert terms[0] == "$AAPL"
    assert "Apple" in terms
    with pytest.raises(ConfigError, match="ZZZZ is not in the symbol reference table"):
        default_linker().search_terms("ZZZZ")


def test_a_bad_reference_table_names_the_row(tmp_path: Path) -> None:
    table = tmp_path / "symbols.csv"
    table.write_text("symbol,name,aliases,bare_ticker,exclude\nAAPL,Apple,,yes,\naapl,Apple again,,yes,\n")
    with pytest.raises(ConfigError, match=r"symbols.csv:3: symbol 'aapl'"):
        load_reference(table)


def test_a_custom_table_links_only_its_symbols(tmp_path: Path) -> None:
    table = tmp_path / "symbols.csv"
    table.write_text("symbol,name,aliases,bare_ticker,exclude\nACME,Acme Corp,Acme,yes,Acme anvil\n")
    linker = SymbolLinker(load_reference(table))
    assert linker.link("Acme raises guidance, $AAPL flat") == ["ACME"]
    assert linker.link("an Acme anvil fell") == []
