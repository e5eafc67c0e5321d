"""Problems, their events and photos (issue 13).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the problems tables (filled in by the problems work; empty until then)."""


def downgrade() -> None:
    """Drop the problems tables."""
