"""Patrol records, raw points, visits (issue 12).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the patrols tables (filled in by the patrols work; empty until then)."""


def downgrade() -> None:
    """Drop the patrols tables."""
