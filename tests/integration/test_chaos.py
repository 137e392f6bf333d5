"""The short chaos subset of `make chaos` (bench/chaos.py) in `make test`: the market job, launched as `platform up`
launches it, is killed with kill -9 mid-stream, once its driver alone (its keeper starts it again) and once the driver
with its keeper (the supervisor's judgement and restart path as shipped bring it back); every store holds the sent
ticks' bars exactly once. Fails when recovery breaks (no restart, a restart that forgets state, a store that loses or
repeats rows)."""

from __future__ import annotations

import pytest
from bench.chaos import Options, scenario_kill

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: One kill, a supervisor every 5 s (the DAG: every minute), ~40 s of ticks at 40/s.
OPTIONS = Options(ticks=1600, rate=40.0, symbols=2, kills=1, cadence_s=5.0, settle_s=150.0, recover_timeout_s=150)


def test_a_killed_driver_is_started_again_by_its_keeper_with_nothing_lost_or_repeated(
    stack: Stack, settings: Settings
) -> None:
    row = scenario_kill(settings, stack, OPTIONS)

    assert row.recover_s is not None, f"the job did not come back: {row.line()}"
    assert row.supervisor_restarts == 0, f"the keeper, not the supervisor, restarts a dead driver: {row.line()}"
    assert (row.tally.lost, row.tally.duplicated, row.tally.wrong) == (0, 0, 0), row.line()


def test_a_job_killed_with_its_keeper_is_restarted_by_the_supervisor_with_nothing_lost_or_repeated(
    stack: Stack, settings: Settings
) -> None:
    row = scenario_kill(settings, stack, OPTIONS, whole_unit=True)

    assert row.recover_s is not None, f"the job did not come back: {row.line()}"
    assert row.detect_s is not None and row.supervisor_restarts == 1, row.line()
    assert (row.tally.lost, row.tally.duplicated, row.tally.wrong) == (0, 0, 0), row.line()
