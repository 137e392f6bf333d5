"""The migration scripts as Alembic sees them: one linear history of 4-digit revisions ending at HEAD, raw SQL
only, shipped inside the package."""

from __future__ import annotations

import ast

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from marketpulse.migrations import HEAD, SCRIPTS

pytestmark = pytest.mark.unit


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return ScriptDirectory.from_config(config)


def test_head_constant_is_alembics_single_head() -> None:
    assert _scripts().get_heads() == [HEAD]


def test_revisions_are_a_numbered_line() -> None:
    revisions = sorted(_scripts().walk_revisions(), key=lambda r: r.revision)
    ids = [r.revision for r in revisions]

    assert all(len(rid) == 4 and rid.isdigit() for rid in ids)
    assert ids == [f"{n:04d}" for n in range(1, len(ids) + 1)]
    assert [r.down_revision for r in revisions] == [None, *ids[:-1]]


def test_revisions_import_nothing_from_the_app() -> None:
    # A revision is frozen SQL: importing app modules would change old revisions when the app changes.
    for path in (SCRIPTS / "versions").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert not {m for m in modules if m.startswith("marketpulse")}, path.name
