"""Markers follow the folder a test lives in: unit needs nothing, integration needs the local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

_MARK_BY_FOLDER = {"unit": pytest.mark.unit, "integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if folder in _MARK_BY_FOLDER:
            item.add_marker(_MARK_BY_FOLDER[folder])
