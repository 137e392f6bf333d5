"""Helpers for the serving tests (no tests here): API keys in the test stack's Postgres, and real API, alert
service and dashboard processes started through the CLI on free ports."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from marketpulse.auth.keys import ApiKey, ApiKeyStore
from marketpulse.config import Settings, settings_env

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def create_key(
    settings: Settings, name: str, scopes: tuple[str, ...] = ("read",), rate: float | None = None
) -> tuple[ApiKey, str]:
    store = ApiKeyStore(settings)
    try:
        return store.create(name, list(scopes), rate)
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: process exited {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout_s}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running(
    args: list[str], settings: Settings, ready_url: str, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`marketpulse <args>` with the test stack's settings (plus extra_env), until the block ends."""
    env = {**os.environ, **settings_env(settings), **(extra_env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "marketpulse", *args], env=env, stdout=out, stderr=out)
    try:
        wait_for_http(ready_url, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: The webhook receivers of the tests listen on the loopback: an operator allowlist lets webhooks go there.
LOOPBACK_WEBHOOKS = {"webhook_allow_hosts": '["127.0.0.1"]'}


def _api_env(api_env: dict[str, str]) -> dict[str, str]:
    return {f"MARKETPULSE_API__{k.upper()}": v for k, v in api_env.items()}


@contextlib.contextmanager
def api_server(settings: Settings, log: Path, **api_env: str) -> Iterator[str]:
    """A real `marketpulse serve api` on a free port; yields its base URL. api_env: MARKETPULSE_API__<NAME>
    (one worker unless `workers` says otherwise)."""
    port = free_port()
    env = {"MARKETPULSE_API__PORT": str(port), **_api_env({"workers": "1", **api_env})}
    base = f"http://127.0.0.1:{port}"
    with running(["serve", "api"], settings, f"{base}/metrics", log, env):
        yield base


@contextlib.contextmanager
def alert_service(settings: Settings, log: Path, **api_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `marketpulse alerts run` (its metrics on a free port) until the block ends; yields the process."""
    port = free_port()
    env = {"MARKETPULSE_API__ALERTS_METRICS_PORT": str(port), **_api_env(api_env)}
    with running(["alerts", "run"], settings, f"http://127.0.0.1:{port}/metrics", log, env) as process:
        yield process


class Receiver:
    """A webhook endpoint that answers 500 to the first `fail_first` posts (to every post while `failing`),
    then 200, recording every post."""

    def __init__(self, fail_first: int, failing: bool = False) -> None:
        self.posts: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        self.failing = failing
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if receiver.failing or len(receiver.posts) < receiver.fail_first else 200
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
