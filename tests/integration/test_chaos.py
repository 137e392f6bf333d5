"""The short chaos subset of `make chaos` (bench/chaos.py) in `make test`: the market job, launched as `platform up`
launches it, is killed with kill -9 mid-stream; the supervisor's judgement and restart path as shipped bring it
back, and every store holds the sent ticks' bars exactly once. Fails when recovery breaks (no restart, a restart
that forgets state, a store that loses or repeats rows)."""

from __future__ import annotations

import pytest
from bench.chaos import Options, scenario_kill

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_killed_market_job_is_restarted_by_the_supervisor_with_nothing_lost_or_repeated(
    stack: Stack, settings: Settings
) -> None:
    # One kill, a supervisor every 5 s (the DAG: every minute), ~50 s of ticks at 40/s.
    options = Options(ticks=2000, rate=40.0, symbols=2, kills=1, cadence_s=5.0, settle_s=150.0, recover_timeout_s=150)

    row = scenario_kill(settings, stack, options)

    assert row.recover_s is not None, f"the job did not come back: {row.line()}"
    assert row.detect_s is not None, row.line()
    assert (row.tally.lost, row.tally.duplicated, row.tally.wrong) == (0, 0, 0), row.line()
