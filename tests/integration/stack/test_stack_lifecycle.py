"""Failure modes and ownership of `stack up/down`, on small stacks of their own (Redis only: fast)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psutil
import pytest

from integration.conftest import make_test_settings
from marketpulse.errors import ServiceStartError, StackError
from marketpulse.stack.manager import Stack
from marketpulse.stack.process import find_process
from marketpulse.stack.services import RedisService


@pytest.fixture
def redis_stacks() -> Iterator[tuple[Stack, Stack]]:
    first = Stack(make_test_settings("lifecycle-a", offset=21000))
    second = Stack(make_test_settings("lifecycle-b", offset=22000))
    yield first, second
    first.down(["redis"])
    second.down(["redis"])


def test_two_stacks_side_by_side_and_down_stops_only_its_own(redis_stacks: tuple[Stack, Stack]) -> None:
    first, second = redis_stacks
    first.up(["redis"])
    second.up(["redis"])
    first_pid = find_process(RedisService(first.settings).pid_path)
    second_pid = find_process(RedisService(second.settings).pid_path)
    assert first_pid is not None and second_pid is not None and first_pid.pid != second_pid.pid

    assert first.down(["redis"]) == ["redis"]

    assert not psutil.pid_exists(first_pid.pid) or first_pid.status() == psutil.STATUS_ZOMBIE
    assert [row.healthy for row in second.status(["redis"])] == [True]
    assert [row.healthy for row in first.status(["redis"])] == [False]


def test_port_already_taken_is_refused_before_anything_starts(redis_stacks: tuple[Stack, Stack]) -> None:
    stack, _ = redis_stacks
    port = stack.settings.redis.port
    with socket.socket() as squatter:
        squatter.bind((stack.settings.stack.host, port))
        squatter.listen()
        with pytest.raises(StackError) as error:
            stack.up(["redis"])
    message = str(error.value)
    assert f"redis needs port {port}" in message
    assert "Nothing was started" in message
    assert find_process(RedisService(stack.settings).pid_path) is None


def test_service_dying_on_start_reports_its_log_and_leaves_no_process(
    redis_stacks: tuple[Stack, Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, _ = redis_stacks
    original = RedisService.command
    monkeypatch.setattr(RedisService, "command", lambda self: [*original(self), "--no-such-option", "x"])
    with pytest.raises(ServiceStartError) as error:
        stack.up(["redis"])
    message = str(error.value)
    assert message.startswith("redis exited during start-up")
    assert "no-such-option" in message  # redis-server's own complaint, from the log tail
    assert find_process(RedisService(stack.settings).pid_path) is None
    assert not any("no-such-option" in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"]))
