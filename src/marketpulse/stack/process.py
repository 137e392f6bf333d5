"""Start, find and stop the stack's service processes, by pid and only those we started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from marketpulse.errors import StackError


def start_process(
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> psutil.Process:
    """Start argv detached in its own session (so `stop` can signal the whole group) and record its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with log_path.open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
        )
    proc = psutil.Process(popen.pid)
    # create_time guards against signalling an unrelated process that later reused the pid.
    pid_path.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time(), "argv": list(argv)}))
    return proc


def find_process(pid_path: Path) -> psutil.Process | None:
    """The live process recorded in pid_path, or None when it is gone (or the pid was reused)."""
    try:
        record = json.loads(pid_path.read_text())
        proc = psutil.Process(int(record["pid"]))
        if abs(proc.create_time() - float(record["create_time"])) > 1.0:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            with contextlib.suppress(ChildProcessError, psutil.Error):
                proc.wait(timeout=0)
            return None
        return proc
    except (FileNotFoundError, ValueError, KeyError, psutil.NoSuchProcess):
        return None


def stop_process(proc: psutil.Process, timeout_s: float) -> None:
    """SIGTERM the process group, wait up to timeout_s, then SIGKILL whatever is left of it."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    family = _group_members(proc)
    _signal_group(pgid, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=timeout_s)
    if alive:
        _signal_group(pgid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=10)


def _group_members(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (we try to bind it, the only sure test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def describe_port_owner(port: int) -> str:
    """Human description of who listens on port, e.g. 'pid 123 (redis-server)'; best effort."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                return f"pid {conn.pid}"
    except psutil.AccessDenied:
        pass
    return "another process"


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_checked(
    argv: Sequence[str],
    *,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    user: str | None = None,
) -> str:
    """Run a short command to completion; raise StackError naming `what` with its output on failure."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            user=user,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise StackError(f"{what}: program not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: timed out after {timeout_s:.0f}s: {' '.join(argv)}") from exc
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise StackError(f"{what} failed (exit {done.returncode}): {' '.join(argv)}\n{output}")
    return done.stdout
