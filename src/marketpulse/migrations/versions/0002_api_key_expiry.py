"""API keys can expire and be rotated: an expiry on the key row and the key that replaced it.

`expires_at` NULL means the key never expires (every key made before this revision); `replaced_by` names the key
`marketpulse apikeys rotate` issued in its place.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz",
    "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS replaced_by text",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE api_keys DROP COLUMN IF EXISTS replaced_by")
    op.execute("ALTER TABLE api_keys DROP COLUMN IF EXISTS expires_at")
