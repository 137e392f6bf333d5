"""`python -m marketpulse` = the `marketpulse` command."""

from marketpulse.cli import run

run()
