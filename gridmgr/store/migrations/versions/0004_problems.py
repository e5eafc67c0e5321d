"""Problems, their events and photos (issue 13).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridmgr.store.geom import Geom
from gridmgr.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _problems() -> None:
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reporter", sa.Text(), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("outline", Geom("GEOMETRY"), nullable=True),
        sa.Column("piece_id", sa.Integer(), nullable=True),
        sa.Column("cell", sa.Text(), nullable=True),
        sa.Column("unit_code", sa.Text(), nullable=True),
        sa.Column("community_code", sa.Text(), nullable=True),
        sa.Column("street_code", sa.Text(), nullable=True),
        sa.Column("leader_id", sa.Text(), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("place_code", sa.Text(), nullable=True),
        sa.Column("place_distance_m", sa.Float(), nullable=True),
        sa.Column("place_leader_id", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("repeat_of", sa.Integer(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("assignee_department", sa.Text(), nullable=True),
        sa.Column("assignee_leader_id", sa.Text(), nullable=True),
        sa.Column("workdays", sa.Integer(), nullable=True),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("handled_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("close_workdays", sa.Integer(), nullable=True),
        sa.Column("rework", sa.Integer(), nullable=False),
        sa.Column("extension_workdays", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('reported','registered','rejected','dispatched','extension_requested',"
            "'handled','closed')",
            name=op.f("ck_problems_state"),
        ),
        sa.CheckConstraint(
            "source IN ('patrol','inspection','public','assigned')",
            name=op.f("ck_problems_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problems")),
        sa.UniqueConstraint("code", name=op.f("uq_problems_code")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_problems_idempotency_key")),
    )
    for name, cols in (
        ("ix_problems_state", ["state"]),
        ("ix_problems_due_at", ["due_at"]),
        ("ix_problems_handled_at", ["handled_at"]),
        ("ix_problems_reported_at", ["reported_at"]),
        ("ix_problems_leader_id", ["leader_id"]),
        ("ix_problems_category_piece_id", ["category", "piece_id"]),
        ("ix_problems_category_place_code", ["category", "place_code"]),
    ):
        op.create_index(name, "problems", cols)


def _events_and_photos() -> None:
    op.create_table(
        "problem_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text(), nullable=True),
        sa.Column("to_state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["problems.id"], name=op.f("fk_problem_events_problem_id_problems")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_events")),
    )
    op.create_index("ix_problem_events_problem_id", "problem_events", ["problem_id"])
    op.create_index("ix_problem_events_at", "problem_events", ["at"])
    op.create_table(
        "problem_photos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('before','after')", name=op.f("ck_problem_photos_kind")),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["problems.id"], name=op.f("fk_problem_photos_problem_id_problems")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["problem_events.id"],
            name=op.f("fk_problem_photos_event_id_problem_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_photos")),
        sa.UniqueConstraint(
            "problem_id", "kind", "sha256", name=op.f("uq_problem_photos_problem_id_kind_sha256")
        ),
    )
    op.create_index("ix_problem_photos_sha256", "problem_photos", ["sha256"])


def upgrade() -> None:
    """Create ``problems``, ``problem_events`` and ``problem_photos``."""
    _problems()
    _events_and_photos()


def downgrade() -> None:
    """Drop the problems tables."""
    op.drop_table("problem_photos")
    op.drop_table("problem_events")
    op.drop_table("problems")
