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
