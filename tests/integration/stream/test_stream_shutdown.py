"""A streaming job stops cleanly on SIGTERM (what `platform down` and the supervisor send)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from marketpulse.config import Settings, settings_env
from marketpulse.stack.manager import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_market_job_exits_cleanly_on_sigterm(settings: Settings, stack: Stack) -> None:
    env = {**os.environ, **settings_env(settings)}
    job = subprocess.Popen(
        [sys.executable, "-m", "marketpulse", "stream", "market"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert job.stdout is not None
    try:
        for line in job.stdout:
            if "market job running" in line:
                break
        else:
            pytest.fail(f"the market job ended before running (exit {job.wait()})")
        time.sleep(5)  # let it reach a micro-batch, so a stop interrupts real work
        job.send_signal(signal.SIGTERM)
        rest = job.stdout.read()
        assert job.wait(timeout=120) == 0, rest[-3000:]
    finally:
        if job.poll() is None:
            job.kill()
    # Before the fix, stopping the queries from the signal handler re-entered py4j's socket and the
    # context was stopped under a query still stopping: both showed as Python tracebacks.
    assert "Traceback" not in rest, rest[-3000:]
