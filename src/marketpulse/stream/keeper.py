"""Keep a stream job's driver running: start it again at once when it dies (what a cluster manager's `--supervise`
or a Kubernetes restart policy does for a driver).

    python -m marketpulse.stream.keeper --job market-job --status <file> -- <spark-submit argv>

`platform up` and a supervisor restart both launch a job as its keeper (argv from `stream.supervisor.keeper_argv`,
under the job's pid file). The keeper runs the job's one launch command (spark-submit of its entry point under
spark/) as its child, in its own process group, so `platform down` stops both with one signal. When the driver dies
(kill -9, the OOM killer, a JVM crash) the keeper starts it again after a short back-off; it resumes from its
checkpoints. The stream supervisor (Airflow, every minute) stays the second line: it restarts a job that hangs (no
micro-batch while input waits) and a keeper that is itself gone.

Why a keeper: the supervisor learns of a dead driver only at its next run (up to a minute) and restarts through two
spark-submits; the keeper learns of it from `wait()` and needs one (`make chaos`: kill -9 of the driver to its
first new micro-batch in ~10-15 s, against ~50-80 s through the supervisor).

The driver tells its keeper that its queries run by writing the status file (`MARKETPULSE_KEEPER_STATUS`), and
records a restart the keeper made in PostgreSQL (`MARKETPULSE_KEEPER_RESTART`): the keeper itself imports only the
standard library (~10 MiB per job). It gives up (exits with the driver's code) when the first driver of its life
exits with an error before its queries run (a configuration error: `platform up` reports it with the log), and
after `MAX_FAILED_STARTS` restarts in a row that never ran (a crash loop, e.g. a damaged checkpoint: the log names
the file and the repair command); the supervisor then sees the job dead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

#: Environment of the driver: where it reports that its queries run, and (after a restart) why it was restarted.
STATUS_ENV = "MARKETPULSE_KEEPER_STATUS"
RESTART_ENV = "MARKETPULSE_KEEPER_RESTART"
#: Restarts in a row whose driver never reported its queries running, before the keeper gives up.
MAX_FAILED_STARTS = 5
#: Seconds before the n-th restart in a row (the last value repeats): at once for a one-off crash, slower in a loop.
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
#: How often the keeper looks at its driver.
POLL_S = 0.5


@dataclass
class DriverRun:
    """One driver process the keeper started, and what became of it."""

    proc: subprocess.Popen[bytes]
    started_unix: float

    def exit_reason(self) -> str:
        code = self.proc.returncode
        if code is not None and code < 0:
            return f"driver killed by {signal.Signals(-code).name}"
        return f"driver exited with code {code}"


def ran_since(status: Path, since_unix: float) -> bool:
    """The status file says a driver's queries ran after `since_unix`."""
    try:
        return float(json.loads(status.read_text())["at"]) >= since_unix
    except (OSError, ValueError, KeyError, TypeError):
        return False


def report_running(pid: int) -> dict[str, float | int | str] | None:
    """Called by a driver once its queries run: tell its keeper (if it has one) and return the restart it was started
    for (reason, old_pid, and ready_s: the keeper's start of this driver -> queries running), for it to record."""
    status = os.environ.get(STATUS_ENV)
    if not status:
        return None
    Path(status).write_text(json.dumps({"pid": pid, "at": time.time()}))
    restart = os.environ.pop(RESTART_ENV, None)  # once per driver, not again after an in-process restart
    if not restart:
        return None
    record: dict[str, float | int | str] = json.loads(restart)
    record["ready_s"] = time.time() - float(record.pop("started_unix"))
    return record


class Keeper:
    """Runs one job's driver and starts it again when it dies, until SIGTERM/SIGINT."""

    def __init__(self, job: str, argv: list[str], status: Path) -> None:
        self.job = job
        self.argv = argv
        self.status = status
        self.stopping = False
        self.driver: DriverRun | None = None

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        """Stop restarting; pass the signal to the driver (`platform down` signals the whole group anyway)."""
        self.stopping = True
        if self.driver is not None and self.driver.proc.poll() is None:
            self.driver.proc.send_signal(signum)

    def run(self) -> int:
        """Exit code: 0 when stopped by a signal, the driver's when the keeper gives up."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        failed_starts = 0
        restart: dict[str, object] | None = None
        while not self.stopping:
            run = self._start(restart)
            while run.proc.poll() is None:
                time.sleep(POLL_S)
            if self.stopping:
                break
            ran = ran_since(self.status, run.started_unix)
            code = run.proc.returncode or 1
            # A first driver that exits by itself before running is a configuration error (killed: a fault).
            if restart is None and not ran and code > 0:
                self._say(f"{run.exit_reason()} before its queries ran; not restarting it")
                return code
            failed_starts = 0 if ran else failed_starts + 1
            if failed_starts >= MAX_FAILED_STARTS:
                self._say(f"{failed_starts} restarts in a row never ran; giving up")
                return code
            delay = BACKOFF_S[min(failed_starts, len(BACKOFF_S) - 1)]
            restart = {"reason": run.exit_reason(), "old_pid": run.proc.pid}
            self._say(f"{restart['reason']}; starting it again in {delay:.0f}s from its checkpoints")
            self._sleep(delay)
        return 0

    def _start(self, restart: dict[str, object] | None) -> DriverRun:
        env = {**os.environ, STATUS_ENV: str(self.status)}
        env.pop(RESTART_ENV, None)
        started = time.time()
        if restart is not None:
            env[RESTART_ENV] = json.dumps({**restart, "started_unix": started})
        # The driver inherits the keeper's working folder, log and process group.
        self.driver = DriverRun(subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL), started)
        return self.driver

    def _say(self, message: str) -> None:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} keeper of {self.job}: {message}", flush=True)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_S, seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--job", required=True, help="The job's name (for the log).")
    parser.add_argument("--status", required=True, type=Path, help="File the driver writes once its queries run.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- and the driver's command (spark-submit ...).")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the driver's command after --")
    return Keeper(args.job, command, args.status).run()


if __name__ == "__main__":
    sys.exit(main())
