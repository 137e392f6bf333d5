"""`python -m marketpulse` = the `marketpulse` command."""

from marketpulse.cli.main import run

run()
