"""SQLAlchemy 2 Core tables of the gridmgr store (one schema module for both backends).

The Alembic migrations in :mod:`gridmgr.store.migrations` create exactly these tables; this module
is what the store code queries. Integer primary keys everywhere QGIS may open a table; leaders
keep their human id (``id``, text, e.g. ``GL001``) next to an integer ``pk``.

The rule "every piece has exactly one active owner" is the primary key of ``assignments``
(``piece_id``): one row per piece, ``leader_id`` NULL when nobody holds it (a blind spot, 盲点).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from gridmgr.store.geom import Geom

#: Revision of the newest migration; ``Store.upgrade()`` brings a database to it.
HEAD_REVISION = "0004"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=True),
)

changesets = Table(
    "changesets",
    metadata,
    Column("id", Text, primary_key=True),
    # edit | auto | plan | undo | import | load | leaders | deactivate
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("n_events", Integer, nullable=False, default=0),
    Column("undone_by", Text, nullable=True),
    Column("undoes", Text, nullable=True),
    Column("plan_id", Text, nullable=True),
    Index("ix_changesets_at", "at"),
)

loads = Table(
    "loads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changeset_id", Text, ForeignKey("changesets.id"), nullable=False),
    Column("source", Text, nullable=True),
    Column("res", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("report", JSON, nullable=False),
)

departments = Table(
    "departments",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=True),
)

categories = Table(
    "categories",
    metadata,
    Column("category", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=True),
    Column("department", Text, ForeignKey("departments.code"), nullable=True),
    Column("requires_package_leader", Boolean, nullable=False, default=False),
    # visit a key place of this category at least every N days (None: no frequency set)
    Column("visit_every_days", Float, nullable=True),
)

units = Table(
    "units",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("parent", Text, nullable=True),
    Column("name_en", Text, nullable=True),
    Column("alias", Text, nullable=True),
    Column("sample", Boolean, nullable=False, default=False),
    Column("area_m2", Float, nullable=False),
    Column("geom", Geom("MULTIPOLYGON"), nullable=False),
    CheckConstraint("level IN ('district','street','community','grid')", name="level"),
)

pieces = Table(
    "pieces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cell", Text, nullable=False),
    Column("unit_code", Text, ForeignKey("units.code"), nullable=False),
    Column("area_m2", Float, nullable=False),
    Column("whole", Boolean, nullable=False),
    Column("geom", Geom("MULTIPOLYGON"), nullable=False),
    UniqueConstraint("cell", "unit_code"),
    Index("ix_pieces_unit_code", "unit_code"),
)

key_places = Table(
    "key_places",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("category", Text, ForeignKey("categories.category"), nullable=False),
    Column("address", Text, nullable=True),
    Column("sample", Boolean, nullable=False, default=False),
    Column("unit_code", Text, nullable=True),
    Column("piece_id", Integer, nullable=True),
    Column("geom", Geom("GEOMETRY"), nullable=False),
    Column("point", Geom("POINT"), nullable=False),
    Index("ix_key_places_unit_code", "unit_code"),
)

leaders = Table(
    "leaders",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("department", Text, ForeignKey("departments.code"), nullable=True),
    Column("phone", Text, nullable=True),
    Column("capacity", Float, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("role IN ('grid_leader','package_leader')", name="role"),
    CheckConstraint("capacity > 0", name="capacity"),
)

packages = Table(
    "packages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("leader_id", Text, ForeignKey("leaders.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("target", Text, nullable=False),
    UniqueConstraint("leader_id", "kind", "target"),
    Index("ix_packages_target", "kind", "target"),
    CheckConstraint("kind IN ('unit','place')", name="kind"),
)

assignments = Table(
    "assignments",
    metadata,
    # The primary key *is* the invariant: one row, hence one owner, per piece.
    Column("piece_id", Integer, ForeignKey("pieces.id", ondelete="CASCADE"), primary_key=True),
    Column("leader_id", Text, ForeignKey("leaders.id"), nullable=True),
    Column("fallback", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=0),
    Column("changeset_id", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
    Index("ix_assignments_leader_id", "leader_id"),
    CheckConstraint("leader_id IS NOT NULL OR NOT fallback", name="fallback_needs_leader"),
)

assignment_events = Table(
    "assignment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changeset_id", Text, ForeignKey("changesets.id"), nullable=False),
    # assign (owner changed by an edit/auto/plan/import/undo) | orphan (piece removed by a load)
    Column("kind", Text, nullable=False),
    Column("piece_id", Integer, nullable=False),
    Column("cell", Text, nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("from_leader", Text, nullable=True),
    Column("to_leader", Text, nullable=True),
    Column("from_fallback", Boolean, nullable=False, default=False),
    Column("to_fallback", Boolean, nullable=False, default=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_assignment_events_piece_id", "piece_id"),
    Index("ix_assignment_events_changeset_id", "changeset_id"),
    Index("ix_assignment_events_cell", "cell"),
    Index("ix_assignment_events_from_leader", "from_leader"),
    Index("ix_assignment_events_to_leader", "to_leader"),
    Index("ix_assignment_events_at", "at"),
)

leader_events = Table(
    "leader_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changeset_id", Text, ForeignKey("changesets.id"), nullable=False),
    Column("leader_id", Text, nullable=False),
    # created | updated | deactivated
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_leader_events_leader_id", "leader_id"),
)

territories = Table(
    "territories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("leader_id", Text, ForeignKey("leaders.id"), nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("grid_code", Text, nullable=False, unique=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("leader_id", "unit_code"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Text, primary_key=True),
    Column("scope", Text, nullable=True),
    Column("params", JSON, nullable=False),
    Column("moves", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("status", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("changeset_id", Text, nullable=True),
    CheckConstraint("status IN ('proposed','applied','discarded','undone')", name="status"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("leader_id", Text, ForeignKey("leaders.id"), nullable=True),
    Column("password_hash", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    CheckConstraint("role IN ('admin','planner','leader','viewer')", name="role"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", Text, nullable=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("client", Text, nullable=True),
)


# --- patrol records (巡查记录, issue 12) -----------------------------------------------------------

patrols = Table(
    "patrols",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("leader_id", Text, ForeignKey("leaders.id"), nullable=False),
    # phone | gpx | kml | kmz | csv | sample
    Column("source", Text, nullable=False),
    Column("name", Text, nullable=True),
    # the client's id of the patrol (phone) or the file's digest (imports): idempotent creation
    Column("client_id", Text, nullable=True, unique=True),
    Column("crs", Text, nullable=False, default="wgs84"),
    Column("sample", Boolean, nullable=False, default=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("n_points", Integer, nullable=False, default=0),
    Column("n_marked", Integer, nullable=False, default=0),
    Column("distance_m", Float, nullable=False, default=0.0),
    Column("detail", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_patrols_leader_id_started_at", "leader_id", "started_at"),
    Index("ix_patrols_started_at", "started_at"),
)

patrol_batches = Table(
    "patrol_batches",
    metadata,
    # one row per received batch: a resent batch (same client id) is recognised and ignored
    Column("patrol_id", Integer, ForeignKey("patrols.id"), nullable=False),
    Column("batch_id", Text, nullable=False),
    Column("n_points", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("patrol_id", "batch_id"),
)

patrol_points = Table(
    "patrol_points",
    metadata,
    # append-only raw fixes; ``flag`` marks cleaning (0 kept, 1 poor accuracy, 2 duplicate,
    # 3 impossible speed). On PostGIS the table is partitioned by month of ``at``, which is why
    # ``at`` belongs to the primary key and no foreign key points at ``patrols``.
    Column("patrol_id", Integer, nullable=False),
    Column("batch_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("accuracy_m", Float, nullable=True),
    Column("flag", SmallInteger, nullable=False, default=0),
    PrimaryKeyConstraint("patrol_id", "batch_id", "seq", "at"),
    Index("ix_patrol_points_patrol_id_at", "patrol_id", "at"),
)

patrol_checkins = Table(
    "patrol_checkins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patrol_id", Integer, ForeignKey("patrols.id"), nullable=False),
    Column("client_id", Text, nullable=True, unique=True),
    Column("key_place_code", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("accuracy_m", Float, nullable=True),
    Column("note", Text, nullable=True),
    Column("photo", LargeBinary, nullable=True),
    Column("photo_type", Text, nullable=True),
    Index("ix_patrol_checkins_patrol_id", "patrol_id"),
)

visits = Table(
    "visits",
    metadata,
    # one row per (patrol, piece or key place) seen: first and last time within R metres.
    # "When was piece 17 last seen" is max(last_at) over one index range.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("patrol_id", Integer, ForeignKey("patrols.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("target_id", Integer, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    UniqueConstraint("patrol_id", "kind", "target_id"),
    Index("ix_visits_kind_target_id_last_at", "kind", "target_id", "last_at"),
    CheckConstraint("kind IN ('piece','place')", name="kind"),
)

problems = Table(
    "problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # human-readable: WT + Beijing date of the report + the row id, e.g. WT20261205-000042
    Column("code", Text, nullable=False, unique=True),
    Column("category", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("reporter", Text, nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("lng", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("outline", Geom("GEOMETRY"), nullable=True),
    # derived at report time and kept as it was (reassignments later do not change it)
    Column("piece_id", Integer, nullable=True),
    Column("cell", Text, nullable=True),
    Column("unit_code", Text, nullable=True),
    Column("community_code", Text, nullable=True),
    Column("street_code", Text, nullable=True),
    Column("leader_id", Text, nullable=True),
    Column("fallback", Boolean, nullable=False, default=False),
    Column("place_code", Text, nullable=True),
    Column("place_distance_m", Float, nullable=True),
    Column("place_leader_id", Text, nullable=True),
    Column("department", Text, nullable=True),
    Column("repeat_of", Integer, nullable=True),
    # the cycle
    Column("state", Text, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("assignee_department", Text, nullable=True),
    Column("assignee_leader_id", Text, nullable=True),
    Column("workdays", Integer, nullable=True),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Column("due_at", UTCDateTime, nullable=True),
    Column("handled_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("close_workdays", Integer, nullable=True),
    Column("rework", Integer, nullable=False, default=0),
    Column("extension_workdays", Integer, nullable=True),
    Column("idempotency_key", Text, nullable=True, unique=True),
    Column("sample", Boolean, nullable=False, default=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "state IN ('reported','registered','rejected','dispatched','extension_requested',"
        "'handled','closed')",
        name="state",
    ),
    CheckConstraint(
        "source IN ('patrol','inspection','public','assigned')",
        name="source",
    ),
    Index("ix_problems_state", "state"),
    Index("ix_problems_due_at", "due_at"),
    Index("ix_problems_handled_at", "handled_at"),
    Index("ix_problems_reported_at", "reported_at"),
    Index("ix_problems_leader_id", "leader_id"),
    Index("ix_problems_category_piece_id", "category", "piece_id"),
    Index("ix_problems_category_place_code", "category", "place_code"),
)

problem_events = Table(
    "problem_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("problem_id", Integer, ForeignKey("problems.id"), nullable=False),
    # report | register | reject | dispatch | handle | request-extension | extend | … | photo
    Column("action", Text, nullable=False),
    Column("from_state", Text, nullable=True),
    Column("to_state", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=True),
    Column("detail", JSON, nullable=True),
    Index("ix_problem_events_problem_id", "problem_id"),
    Index("ix_problem_events_at", "at"),
)

problem_photos = Table(
    "problem_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("problem_id", Integer, ForeignKey("problems.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("problem_events.id"), nullable=True),
    Column("kind", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("taken_at", UTCDateTime, nullable=True),
    Column("lng", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("distance_m", Float, nullable=True),
    Column("flags", JSON, nullable=False),
    Column("uploaded_by", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("problem_id", "kind", "sha256"),
    Index("ix_problem_photos_sha256", "sha256"),
    CheckConstraint("kind IN ('before','after')", name="kind"),
)

#: Tables holding data (the order is safe for deletes: children first).
DATA_TABLES: tuple[Table, ...] = (
    problem_photos,
    problem_events,
    problems,
    visits,
    patrol_checkins,
    patrol_points,
    patrol_batches,
    patrols,
    sessions,
    api_tokens,
    users,
    territories,
    assignment_events,
    leader_events,
    assignments,
    packages,
    leaders,
    key_places,
    pieces,
    units,
    categories,
    departments,
    plans,
    loads,
    changesets,
    meta,
)

#: Tables with a geometry column: (table, column, PostGIS type).
GEOMETRY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("units", "geom", "MULTIPOLYGON"),
    ("pieces", "geom", "MULTIPOLYGON"),
    ("key_places", "geom", "GEOMETRY"),
    ("key_places", "point", "POINT"),
)
