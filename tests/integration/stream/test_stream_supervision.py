"""`make run` after a long `make down`: the supervisor never judges a job by another run's heartbeat, leaves a job
in start-up alone, and never starts a job that `platform up` (or an earlier restart) has launched meanwhile.

The job processes here are stand-ins (a sleeping Python) under the job's pid file: what is tested is the supervisor's
judgement and its launch lock, against the test stack's real Redis."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from marketpulse.config import Settings, StreamSettings
from marketpulse.stack.manager import Stack
from marketpulse.stack.process import find_process, start_process, stop_process
from marketpulse.stores.redis_store import heartbeat_key, redis_client, started_key
from marketpulse.stream.market_job import LIVE_QUERY
from marketpulse.stream.supervisor import MARKET_JOB, check_job, launch_job, restart_job, stream_job

pytestmark = pytest.mark.integration


@pytest.fixture
def job_settings(settings: Settings, stack: Stack, tmp_path: Path) -> Settings:
    """This test's own stack folder and checkpoints (its pid files never meet a real job's)."""
    stack_settings = settings.stack.model_copy(update={"root": tmp_path / "stack"})
    stream = StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), metrics_port=settings.stream.metrics_port)
    return settings.model_copy(update={"stack": stack_settings, "stream": stream})


@pytest.fixture
def launched(job_settings: Settings) -> Iterator[psutil.Process]:
    """A market job just launched (by `platform up`): a live process under its pid file, not yet running queries."""
    app = stream_job(MARKET_JOB).app(job_settings)
    proc = start_process(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        log_path=app.log_path,
        pid_path=app.pid_path,
        cwd=app.home,
    )
    yield proc
    stop_process(proc, 10)
    app.pid_path.unlink(missing_ok=True)


def _previous_run_left_heartbeats(settings: Settings, age_s: float) -> None:
    client = redis_client(settings)
    try:
        at = time.time() - age_s
        client.hset(heartbeat_key(LIVE_QUERY), mapping={"batch_id": 41, "rows": 12, "at": at, "pid": 1})
        client.hset(started_key(MARKET_JOB), mapping={"pid": 1, "at": at - 60})
    finally:
        client.close()


def test_a_job_in_start_up_is_not_judged_by_the_previous_runs_heartbeat(
    job_settings: Settings, launched: psutil.Process
) -> None:
    _previous_run_left_heartbeats(job_settings, age_s=915)

    verdict = check_job(job_settings, stream_job(MARKET_JOB))

    assert verdict.verdict == "starting", verdict
    assert not verdict.needs_restart
    assert all(q.age_s is None and q.batch_id is None for q in verdict.queries)  # the old beat is not this run's


def test_a_restart_never_stops_a_job_another_launcher_started_since_the_verdict(
    job_settings: Settings, launched: psutil.Process
) -> None:
    # The supervisor judged the job dead (pid file, no process) just before `platform up` launched it.
    outcome = restart_job(job_settings, MARKET_JOB, verdict="dead", reason="its process is gone", seen_pid=None)

    assert "skipped" in outcome, outcome
    app = stream_job(MARKET_JOB).app(job_settings)
    still = find_process(app.pid_path)
    assert still is not None and still.pid == launched.pid and launched.is_running()


def test_a_restart_leaves_a_job_that_is_starting_alone(job_settings: Settings, launched: psutil.Process) -> None:
    _previous_run_left_heartbeats(job_settings, age_s=915)
    outcome = restart_job(job_settings, MARKET_JOB, verdict="stuck", reason="no batch", seen_pid=launched.pid)
    assert "starting" in outcome.get("skipped", ""), outcome
    assert launched.is_running()


def test_launching_a_job_that_runs_returns_it_instead_of_starting_another(
    job_settings: Settings, launched: psutil.Process
) -> None:
    assert launch_job(job_settings, MARKET_JOB).pid == launched.pid


def test_a_restart_decided_while_platform_down_stops_the_job_leaves_it_stopped(
    job_settings: Settings, launched: psutil.Process
) -> None:
    app = stream_job(MARKET_JOB).app(job_settings)
    app.stop()  # `platform down` (under the launch lock): process gone, pid file removed
    assert not launched.is_running() and not app.pid_path.exists()

    # The supervisor saw the process gone while the pid file was still there: "dead", no pid.
    outcome = restart_job(job_settings, MARKET_JOB, verdict="dead", reason="its process is gone", seen_pid=None)

    assert "stopped" in outcome.get("skipped", ""), outcome
    assert find_process(app.pid_path) is None
