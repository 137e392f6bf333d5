"""The stream job keeper with a stand-in driver (a Python process, no Spark): it starts a killed driver again at once
and tells it why, leaves a first driver that fails on its own alone, gives up on a crash loop, and stops on SIGTERM
with its driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from marketpulse.stream.keeper import RESTART_ENV

pytestmark = pytest.mark.unit

#: Each start takes the next step of the plan: "run" reports its queries running and waits, "fail" exits with 3.
DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from marketpulse.stream.keeper import report_running

    plan, log = Path(sys.argv[1]), Path(sys.argv[2])
    steps = json.loads(plan.read_text())
    step = steps.pop(0) if steps else "run"
    plan.write_text(json.dumps(steps))
    entry = {"pid": os.getpid(), "step": step, "restart_env": os.environ.get("RESTART_ENV_NAME")}
    if step == "run":
        entry["reported"] = report_running(os.getpid())
    with log.open("a") as handle:
        handle.write(json.dumps(entry) + "\\n")
    if step == "fail":
        sys.exit(3)
    time.sleep(600)
    """
).replace("RESTART_ENV_NAME", RESTART_ENV)


def _keeper(tmp_path: Path, plan: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "driver.py").write_text(DRIVER)
    log = tmp_path / "starts.jsonl"
    # Short back-off: the test's time, not the keeper's logic, is what it shortens.
    code = (
        "import sys, marketpulse.stream.keeper as k; k.BACKOFF_S = (0.2, 0.3); k.POLL_S = 0.05; "
        "sys.exit(k.main(sys.argv[1:]))"
    )
    argv = [sys.executable, "-c", code, "--job", "test-job", "--status", str(tmp_path / "job.running"), "--"]
    keeper = subprocess.Popen(
        [*argv, sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "plan.json"), str(log)],
        start_new_session=True,
    )
    return keeper, log


def _starts(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_driver_is_started_again_at_once_and_told_why(tmp_path: Path) -> None:
    keeper, log = _keeper(tmp_path, ["run", "run"])
    try:
        _wait_for(lambda: len(_starts(log)) == 1)
        first = _starts(log)[0]
        assert first["restart_env"] is None and first["reported"] is None  # the first start is no restart
        os.kill(int(first["pid"]), signal.SIGKILL)  # type: ignore[call-overload]

        _wait_for(lambda: len(_starts(log)) == 2)
        second = _starts(log)[1]
        assert second["pid"] != first["pid"]
        reported = second["reported"]
        assert isinstance(reported, dict)
        assert reported["reason"] == "driver killed by SIGKILL" and reported["old_pid"] == first["pid"]
        assert 0 <= reported["ready_s"] < 30
        assert json.loads((tmp_path / "job.running").read_text())["pid"] == second["pid"]
        assert keeper.poll() is None  # the keeper lives on

        keeper.send_signal(signal.SIGTERM)
        assert keeper.wait(30) == 0
        _wait_for(lambda: not _alive(int(second["pid"])))  # type: ignore[call-overload]  # its driver stopped with it
        assert len(_starts(log)) == 2  # stopping is not a crash: no restart
    finally:
        if keeper.poll() is None:
            os.killpg(keeper.pid, signal.SIGKILL)


def test_a_first_driver_that_fails_before_it_runs_is_not_restarted(tmp_path: Path) -> None:
    keeper, log = _keeper(tmp_path, ["fail", "run"])
    assert keeper.wait(30) == 3  # its driver's exit code: `platform up` reports the log
    assert [start["step"] for start in _starts(log)] == ["fail"]


def test_a_crash_loop_ends_with_the_keeper_giving_up(tmp_path: Path) -> None:
    from marketpulse.stream.keeper import MAX_FAILED_STARTS

    keeper, log = _keeper(tmp_path, ["run", *["fail"] * (MAX_FAILED_STARTS + 3)])
    try:
        _wait_for(lambda: len(_starts(log)) == 1)
        os.kill(int(_starts(log)[0]["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
        assert keeper.wait(60) == 3
        assert [start["step"] for start in _starts(log)] == ["run", *["fail"] * MAX_FAILED_STARTS]
    finally:
        if keeper.poll() is None:
            os.killpg(keeper.pid, signal.SIGKILL)
