"""Set-wise SQL helpers shared by the store's repositories (imported one way: never back).

Chunked ``IN (...)`` lists, row locks that only PostgreSQL needs, rows to frames, new ids and
the short "a, b, c … (+n more)" listing used in error messages.

Examples
--------
>>> [list(part) for part in chunks([1, 2, 3, 4, 5], 2)]
[[1, 2], [3, 4], [5]]
>>> len(new_id())
32
>>> names(["a", "b", "c"], limit=2).startswith("a, b")
True
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, select

from gridmgr.i18n import t

#: Rows per chunk for ``IN (...)`` lists.
CHUNK = 900


def chunks(seq: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``seq`` of at most ``size`` items."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def new_id() -> str:
    """A new change-set / plan id (32 hex digits)."""
    return uuid.uuid4().hex


def names(items: Iterable[Any], limit: int = 10) -> str:
    """The first ``limit`` items joined by commas, with a count of the rest (for messages)."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    extra = len(items) - limit
    return shown + (t(f" ……（另有 {extra} 个）", f" … (+{extra} more)") if extra > 0 else "")


def is_postgis(conn: Connection) -> bool:
    """True when ``conn`` talks to PostgreSQL + PostGIS."""
    return conn.dialect.name == "postgresql"


def for_update(conn: Connection, stmt: Any) -> Any:
    """``SELECT … FOR UPDATE`` on PostgreSQL (SQLite holds the write lock already)."""
    return stmt.with_for_update() if is_postgis(conn) else stmt


def frame(rows: Iterable[Any], columns: Sequence[str]) -> pd.DataFrame:
    """Result rows as a frame with the given column names (empty rows: empty frame)."""
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def read_table(conn: Connection, table: Table, cols: Sequence[str]) -> pd.DataFrame:
    """Columns ``cols`` of every row of ``table`` as a frame."""
    rows = conn.execute(select(*[table.c[c] for c in cols])).all()
    return frame(rows, cols)


#: Shortest id prefix accepted where a full id is expected.
MIN_PREFIX = 6


def resolve_id(conn: Connection, column: Any, given: str, *, what: tuple[str, str]) -> str | None:
    """The full id in ``column`` that ``given`` names: itself, or its unique prefix of at least
    :data:`MIN_PREFIX` characters (as pages and ``history`` show them); ``None`` if none.

    An ambiguous prefix raises :class:`~gridmgr.errors.InputError` listing the matches.
    """
    if conn.execute(select(column).where(column == given)).first() is not None:
        return given
    if len(given) < MIN_PREFIX:
        return None
    escaped = given.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = select(column).where(column.like(escaped + "%", escape="\\")).order_by(column).limit(6)
    hits = [str(r[0]) for r in conn.execute(stmt)]
    if len(hits) > 1:
        from gridmgr.errors import InputError

        raise InputError(
            t(
                f"{what[0]}编号前缀 {given!r} 不唯一，可能是：{names(hits, limit=5)}；请多写几位",
                f"{what[1]} id prefix {given!r} is ambiguous: {names(hits, limit=5)}; give more characters",
            )
        )
    return hits[0] if hits else None
