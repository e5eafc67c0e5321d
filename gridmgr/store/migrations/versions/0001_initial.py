"""Initial schema: layers, leaders, assignments with history, plans, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gridmgr.store.geom import Geom
from gridmgr.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_GEOMETRY_COLUMNS = (
    ("units", "geom"),
    ("pieces", "geom"),
    ("key_places", "geom"),
    ("key_places", "point"),
)

# Views QGIS opens directly: a stable integer ``id`` first, no personal data (phone) in any view.
_PG_VIEWS = {
    "assigned_pieces": """
        CREATE VIEW assigned_pieces AS
        SELECT p.id, p.cell, p.unit_code, p.area_m2, p.whole, a.leader_id, l.name AS leader_name,
               l.role AS leader_role, a.fallback, a.version, a.updated_at, p.geom
        FROM pieces p
        JOIN assignments a ON a.piece_id = p.id
        LEFT JOIN leaders l ON l.id = a.leader_id
    """,
    "leader_territories": """
        CREATE VIEW leader_territories AS
        SELECT l.pk AS id, l.id AS leader_id, l.name, l.role, l.department, l.capacity, l.active,
               count(p.id)::integer AS n_pieces, sum(p.area_m2) AS area_m2,
               bool_or(a.fallback) AS has_fallback,
               ST_Multi(ST_Union(p.geom))::geometry(MultiPolygon, 4326) AS geom
        FROM leaders l
        JOIN assignments a ON a.leader_id = l.id
        JOIN pieces p ON p.id = a.piece_id
        GROUP BY l.pk, l.id, l.name, l.role, l.department, l.capacity, l.active
    """,
    "blind_spots": """
        CREATE VIEW blind_spots AS
        SELECT p.id, p.cell, p.unit_code, p.area_m2, p.geom
        FROM pieces p
        JOIN assignments a ON a.piece_id = p.id
        WHERE a.leader_id IS NULL
    """,
}

_SQLITE_VIEWS = {
    "assigned_pieces": _PG_VIEWS["assigned_pieces"],
    "blind_spots": _PG_VIEWS["blind_spots"],
}


def _create_history_tables() -> None:
    """Change sets, their assignment/leader events, loads and ``meta``."""
    op.create_table(
        "changesets",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("undone_by", sa.Text(), nullable=True),
        sa.Column("undoes", sa.Text(), nullable=True),
        sa.Column("plan_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changesets")),
    )
    op.create_index("ix_changesets_at", "changesets", ["at"], unique=False)
    op.create_table(
        "assignment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("changeset_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("from_leader", sa.Text(), nullable=True),
        sa.Column("to_leader", sa.Text(), nullable=True),
        sa.Column("from_fallback", sa.Boolean(), nullable=False),
        sa.Column("to_fallback", sa.Boolean(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changeset_id"],
            ["changesets.id"],
            name=op.f("fk_assignment_events_changeset_id_changesets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_events")),
    )
    op.create_index("ix_assignment_events_at", "assignment_events", ["at"], unique=False)
    op.create_index("ix_assignment_events_cell", "assignment_events", ["cell"], unique=False)
    op.create_index(
        "ix_assignment_events_changeset_id", "assignment_events", ["changeset_id"], unique=False
    )
    op.create_index(
        "ix_assignment_events_from_leader", "assignment_events", ["from_leader"], unique=False
    )
    op.create_index(
        "ix_assignment_events_piece_id", "assignment_events", ["piece_id"], unique=False
    )
    op.create_index(
        "ix_assignment_events_to_leader", "assignment_events", ["to_leader"], unique=False
    )
    op.create_table(
        "leader_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("changeset_id", sa.Text(), nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changeset_id"],
            ["changesets.id"],
            name=op.f("fk_leader_events_changeset_id_changesets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leader_events")),
    )
    op.create_index("ix_leader_events_leader_id", "leader_events", ["leader_id"], unique=False)
    op.create_table(
        "loads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("changeset_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("res", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["changeset_id"], ["changesets.id"], name=op.f("fk_loads_changeset_id_changesets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loads")),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )


def _create_layer_tables() -> None:
    """Departments, units, categories, pieces and key places."""
    op.create_table(
        "departments",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("parent", sa.Text(), nullable=True),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("alias", sa.Text(), nullable=True),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("geom", Geom("MULTIPOLYGON"), nullable=False),
        sa.CheckConstraint(
            "level IN ('district','street','community','grid')", name=op.f("ck_units_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    op.create_table(
        "categories",
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("requires_package_leader", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_categories_department_departments")
        ),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_categories")),
    )
    op.create_table(
        "pieces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("whole", sa.Boolean(), nullable=False),
        sa.Column("geom", Geom("MULTIPOLYGON"), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_pieces_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pieces")),
        sa.UniqueConstraint("cell", "unit_code", name=op.f("uq_pieces_cell_unit_code")),
    )
    op.create_index("ix_pieces_unit_code", "pieces", ["unit_code"], unique=False)
    op.create_table(
        "key_places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=True),
        sa.Column("piece_id", sa.Integer(), nullable=True),
        sa.Column("geom", Geom("GEOMETRY"), nullable=False),
        sa.Column("point", Geom("POINT"), nullable=False),
        sa.ForeignKeyConstraint(
            ["category"], ["categories.category"], name=op.f("fk_key_places_category_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_places")),
        sa.UniqueConstraint("code", name=op.f("uq_key_places_code")),
    )
    op.create_index("ix_key_places_unit_code", "key_places", ["unit_code"], unique=False)


def _create_leader_tables() -> None:
    """Leaders, their packages and their territories (grid codes)."""
    op.create_table(
        "leaders",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('grid_leader','package_leader')", name=op.f("ck_leaders_role")
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_leaders_capacity")),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_leaders_department_departments")
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_leaders")),
        sa.UniqueConstraint("id", name=op.f("uq_leaders_id")),
    )
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('unit','place')", name=op.f("ck_packages_kind")),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leaders.id"], name=op.f("fk_packages_leader_id_leaders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint(
            "leader_id", "kind", "target", name=op.f("uq_packages_leader_id_kind_target")
        ),
    )
    op.create_index("ix_packages_target", "packages", ["kind", "target"], unique=False)
    op.create_table(
        "territories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leaders.id"], name=op.f("fk_territories_leader_id_leaders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territories")),
        sa.UniqueConstraint("grid_code", name=op.f("uq_territories_grid_code")),
        sa.UniqueConstraint(
            "leader_id", "unit_code", name=op.f("uq_territories_leader_id_unit_code")
        ),
    )


def _create_assignment_tables() -> None:
    """Assignments: one row, hence one owner, per piece."""
    op.create_table(
        "assignments",
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changeset_id", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "leader_id IS NOT NULL OR NOT fallback",
            name=op.f("ck_assignments_fallback_needs_leader"),
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leaders.id"], name=op.f("fk_assignments_leader_id_leaders")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"],
            ["pieces.id"],
            name=op.f("fk_assignments_piece_id_pieces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("piece_id", name=op.f("pk_assignments")),
    )
    op.create_index("ix_assignments_leader_id", "assignments", ["leader_id"], unique=False)


def _create_plan_tables() -> None:
    """Rebalance plans."""
    op.create_table(
        "plans",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("moves", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("changeset_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed','applied','discarded','undone')", name=op.f("ck_plans_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )


def _create_user_tables() -> None:
    """Users and API tokens of the service."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("leader_id", sa.Text(), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin','planner','leader','viewer')", name=op.f("ck_users_role")
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leaders.id"], name=op.f("fk_users_leader_id_leaders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def _create_spatial_indexes_and_views() -> None:
    """GiST indexes on the geometry columns (PostGIS) and the QGIS views (both backends)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column in _GEOMETRY_COLUMNS:
            op.create_index(f"gix_{table}_{column}", table, [column], postgresql_using="gist")
        views = _PG_VIEWS
    else:
        views = _SQLITE_VIEWS
    for sql in views.values():
        op.execute(sa.text(sql))


def upgrade() -> None:
    """Create every table, the GiST indexes and (on PostGIS) the QGIS views."""
    _create_history_tables()
    _create_layer_tables()
    _create_leader_tables()
    _create_assignment_tables()
    _create_plan_tables()
    _create_user_tables()
    _create_spatial_indexes_and_views()


def downgrade() -> None:
    """Drop everything this revision created."""
    bind = op.get_bind()
    views = _PG_VIEWS if bind.dialect.name == "postgresql" else _SQLITE_VIEWS
    for name in views:
        op.execute(sa.text(f"DROP VIEW IF EXISTS {name}"))
    for table in (
        "api_tokens",
        "users",
        "territories",
        "assignment_events",
        "leader_events",
        "assignments",
        "packages",
        "leaders",
        "key_places",
        "pieces",
        "units",
        "categories",
        "departments",
        "plans",
        "loads",
        "changesets",
        "meta",
    ):
        op.drop_table(table)
