"""Markers follow the folder a test lives in: unit needs nothing, integration needs the local stack.

The scan of the session's logs for secrets (integration/test_zz_no_secrets_in_logs.py) runs after every other
test, whatever was selected, and reads only what this session wrote (log sizes are remembered at its start)."""

from __future__ import annotations

from pathlib import Path

import pytest

_MARK_BY_FOLDER = {"unit": pytest.mark.unit, "integration": pytest.mark.integration}


LAST = "test_zz_no_secrets_in_logs"


def pytest_sessionstart(session: pytest.Session) -> None:
    from integration.secret_scan import remember_log_sizes

    remember_log_sizes()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if folder in _MARK_BY_FOLDER:
            item.add_marker(_MARK_BY_FOLDER[folder])
    items.sort(key=lambda item: Path(str(item.fspath)).stem == LAST)  # stable: everything else keeps its order
