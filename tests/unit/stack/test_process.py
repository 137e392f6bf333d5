from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import psutil

from marketpulse.stack.process import find_process, port_in_use, start_process, stop_process, tail


def _sleeper(tmp_path: Path) -> psutil.Process:
    return start_process(
        [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
        log_path=tmp_path / "svc.log",
        pid_path=tmp_path / "svc.pid",
        cwd=tmp_path,
    )


def test_started_process_is_found_then_stopped(tmp_path: Path) -> None:
    proc = _sleeper(tmp_path)
    found = find_process(tmp_path / "svc.pid")
    assert found is not None and found.pid == proc.pid
    stop_process(found, timeout_s=5)
    assert find_process(tmp_path / "svc.pid") is None
    assert "starting:" in (tmp_path / "svc.log").read_text()


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    proc = start_process(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ],
        log_path=tmp_path / "svc.log",
        pid_path=tmp_path / "svc.pid",
        cwd=tmp_path,
    )
    stop_process(proc, timeout_s=0.5)
    assert find_process(tmp_path / "svc.pid") is None


def test_reused_pid_is_not_ours(tmp_path: Path) -> None:
    proc = _sleeper(tmp_path)
    record = json.loads((tmp_path / "svc.pid").read_text())
    (tmp_path / "svc.pid").write_text(json.dumps({**record, "create_time": record["create_time"] - 3600}))
    try:
        assert find_process(tmp_path / "svc.pid") is None
    finally:
        stop_process(proc, timeout_s=5)


def test_missing_or_garbage_pid_file_means_not_running(tmp_path: Path) -> None:
    assert find_process(tmp_path / "none.pid") is None
    (tmp_path / "bad.pid").write_text("not json")
    assert find_process(tmp_path / "bad.pid") is None


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_tail_returns_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert tail(tmp_path / "missing.log") == ""
