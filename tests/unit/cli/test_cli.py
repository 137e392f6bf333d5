"""The `marketpulse` command: every group and command answers --help, shared options parse once, and the fakes'
default recordings ship with the package (not under tests/)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from marketpulse.cli.main import GROUPS, app
from marketpulse.cli.options import SymbolList, day_option, parse_instant, parse_symbols, symbols_option
from marketpulse.ingest.providers.fakes import default_recording
from marketpulse.ingest.providers.live import PROVIDERS
from marketpulse.ingest.social.fakes import DEFAULT_RECORDINGS, Recordings


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*path, name))
    return found


def test_every_group_and_command_answers_help() -> None:
    paths = _paths(get_command(app))
    assert {p[0] for p in paths if p} >= set(GROUPS) | {"evaluate", "backfill"}
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_symbols_are_split_once_and_blank_means_the_default() -> None:
    assert parse_symbols(" AAPL, IBM,,MSFT ") == ["AAPL", "IBM", "MSFT"]
    assert parse_symbols(" , ") is None
    declared = SymbolList(["AAPL"])
    assert parse_symbols(declared) is declared
    assert str(SymbolList(["AAPL", "IBM"])) == "AAPL,IBM"


def test_shared_options_reach_the_command_parsed_and_reject_malformed_values() -> None:
    seen: dict[str, Any] = {}
    probe = typer.Typer()

    @probe.command()
    def command(
        start: Annotated[date, day_option("First day.")],
        symbols: Annotated[SymbolList | None, symbols_option("Symbols.")] = None,
    ) -> None:
        seen.update(start=start, symbols=symbols)

    runner = CliRunner()
    assert runner.invoke(probe, ["--start", "2013-01-02", "--symbols", "AAPL,IBM"]).exit_code == 0
    assert seen == {"start": date(2013, 1, 2), "symbols": ["AAPL", "IBM"]}
    bad = runner.invoke(probe, ["--start", "2013-02-30"])
    assert bad.exit_code == 2 and "is not a day" in bad.output


def test_a_malformed_day_is_a_usage_error_of_the_real_command() -> None:
    result = CliRunner().invoke(app, ["backfill", "--start", "yesterday", "--end", "2013-01-02"])
    assert result.exit_code == 2 and "--start" in result.output
    assert not isinstance(result.exception, ValueError)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_fake_replays_a_recording_shipped_with_the_package(provider: str) -> None:
    path = default_recording(provider)
    assert "tests" not in path.parts and path.is_file() and path.read_text().strip()


def test_the_social_fakes_replay_recordings_shipped_with_the_package() -> None:
    assert "tests" not in DEFAULT_RECORDINGS.parts
    loaded = Recordings.load()
    assert loaded.x_pages and loaded.reddit_pages and loaded.news_everything


def test_instants_parse_iso() -> None:
    assert parse_instant("2013-01-02T15:30:00+00:00") == datetime.fromisoformat("2013-01-02T15:30:00+00:00")
    with pytest.raises(typer.BadParameter):
        parse_instant("noon")
