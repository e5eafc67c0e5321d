"""Patrol records, raw points, visits, check-ins; visiting frequency per category (issue 12).

On PostgreSQL ``patrol_points`` is a declaratively partitioned table (``PARTITION BY RANGE
(at)``, one partition per month, created on demand by :mod:`gridmgr.store.patrols`); on SQLite it
is a plain table. Both have the same columns, primary key and index, so the drift test sees one
table either way (the monthly partitions are filtered there as the backend's own tables).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridmgr.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PG_POINTS = """
CREATE TABLE patrol_points (
    patrol_id INTEGER NOT NULL,
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TIMESTAMP WITH TIME ZONE NOT NULL,
    lon FLOAT NOT NULL,
    lat FLOAT NOT NULL,
    accuracy_m FLOAT,
    flag SMALLINT NOT NULL,
    CONSTRAINT pk_patrol_points PRIMARY KEY (patrol_id, batch_id, seq, at)
) PARTITION BY RANGE (at)
"""


def _create_patrols() -> None:
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("crs", sa.Text(), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("n_marked", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leaders.id"], name=op.f("fk_patrols_leader_id_leaders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
        sa.UniqueConstraint("client_id", name=op.f("uq_patrols_client_id")),
    )
    op.create_index("ix_patrols_leader_id_started_at", "patrols", ["leader_id", "started_at"])
    op.create_index("ix_patrols_started_at", "patrols", ["started_at"])
    op.create_table(
        "patrol_batches",
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrols.id"], name=op.f("fk_patrol_batches_patrol_id_patrols")
        ),
        sa.PrimaryKeyConstraint("patrol_id", "batch_id", name=op.f("pk_patrol_batches")),
    )


def _create_points() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_POINTS)
    else:
        op.create_table(
            "patrol_points",
            sa.Column("patrol_id", sa.Integer(), nullable=False),
            sa.Column("batch_id", sa.Text(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("at", UTCDateTime(), nullable=False),
            sa.Column("lon", sa.Float(), nullable=False),
            sa.Column("lat", sa.Float(), nullable=False),
            sa.Column("accuracy_m", sa.Float(), nullable=True),
            sa.Column("flag", sa.SmallInteger(), nullable=False),
            sa.PrimaryKeyConstraint(
                "patrol_id", "batch_id", "seq", "at", name=op.f("pk_patrol_points")
            ),
        )
    op.create_index("ix_patrol_points_patrol_id_at", "patrol_points", ["patrol_id", "at"])


def _create_visits() -> None:
    op.create_table(
        "patrol_checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("key_place_code", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrols.id"], name=op.f("fk_patrol_checkins_patrol_id_patrols")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_checkins")),
        sa.UniqueConstraint("client_id", name=op.f("uq_patrol_checkins_client_id")),
    )
    op.create_index("ix_patrol_checkins_patrol_id", "patrol_checkins", ["patrol_id"])
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patrol_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('piece','place')", name=op.f("ck_visits_kind")),
        sa.ForeignKeyConstraint(
            ["patrol_id"], ["patrols.id"], name=op.f("fk_visits_patrol_id_patrols")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint(
            "patrol_id", "kind", "target_id", name=op.f("uq_visits_patrol_id_kind_target_id")
        ),
    )
    op.create_index("ix_visits_kind_target_id_last_at", "visits", ["kind", "target_id", "last_at"])


def upgrade() -> None:
    """Create the patrols tables and add ``categories.visit_every_days``."""
    op.add_column("categories", sa.Column("visit_every_days", sa.Float(), nullable=True))
    _create_patrols()
    _create_points()
    _create_visits()


def downgrade() -> None:
    """Drop the patrols tables (with every monthly partition) and the category column."""
    op.drop_table("visits")
    op.drop_table("patrol_checkins")
    op.drop_table("patrol_points")
    op.drop_table("patrol_batches")
    op.drop_table("patrols")
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("visit_every_days")
