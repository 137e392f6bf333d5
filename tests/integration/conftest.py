"""The test stack: started once per session on its own ports and folder, beside any dev stack.

A test stack that is already running and healthy is reused (and left running); one this session
starts is stopped at the end unless MARKETPULSE_TEST_KEEP_STACK=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from marketpulse.config import Settings
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.schema import migrate_all

#: Port shift of the session's test stack; MARKETPULSE_TEST_PORT_OFFSET moves it so two checkouts can test at once.
TEST_PORT_OFFSET = int(os.environ.get("MARKETPULSE_TEST_PORT_OFFSET", "10000"))
#: Its data folder under .stack/: a moved stack gets its own, so two stacks never share one.
TEST_STACK_NAME = "test" if TEST_PORT_OFFSET == 10000 else f"test-{TEST_PORT_OFFSET}"


def make_test_settings(name: str = TEST_STACK_NAME, offset: int = TEST_PORT_OFFSET) -> Settings:
    """Settings of a test stack: every port shifted by `offset`, data under .stack/<name>."""
    return side_by_side_settings(name, offset)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_test_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings, progress=lambda message: print(f"[test stack] {message}", flush=True))
    already_running = all(row.healthy for row in stack.status())
    if not already_running:
        stack.up()  # migrates PostgreSQL and Cassandra as it starts them
    else:
        migrate_all(settings)  # a stack started by older code: bring its schema to this code's (a no-op when current)
    yield stack
    if not already_running and os.environ.get("MARKETPULSE_TEST_KEEP_STACK") != "1":
        stack.down()


@pytest.fixture
def unique() -> str:
    """A short unique suffix so tests never see each other's topics, tables or keys."""
    return uuid.uuid4().hex[:10]
