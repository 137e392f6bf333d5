"""Helpers for the serving tests (no tests here): API keys in the test stack's Postgres, and real API /
dashboard processes started through the CLI on free ports."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from marketpulse.auth.keys import ApiKey, ApiKeyStore
from marketpulse.config import Settings

from .conftest import settings_env

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


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


@contextlib.contextmanager
def api_server(settings: Settings, log: Path, **api_env: str) -> Iterator[str]:
    """A real `marketpulse serve api` on a free port; yields its base URL. api_env: MARKETPULSE_API__<NAME>."""
    port = free_port()
    env = {"MARKETPULSE_API__PORT": str(port), **{f"MARKETPULSE_API__{k.upper()}": v for k, v in api_env.items()}}
    base = f"http://127.0.0.1:{port}"
    with running(["serve", "api"], settings, f"{base}/metrics", log, env):
        yield base
