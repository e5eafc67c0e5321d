"""Set-wise writes: ``COPY`` and ``UPDATE … FROM unnest(...)`` on PostgreSQL, driver-level
``executemany`` on SQLite.

SQLAlchemy's per-row parameter processing dominates at 10⁵ rows, so big writes go to the driver
directly: every value is still passed as data (COPY stream, array parameters, qmark
``executemany``); identifiers come from the :mod:`gridmgr.store.schema` tables only, quoted by the
dialect, never from input.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

from gridmgr.store.geom import SRID, Geom
from gridmgr.store.schema import UTCDateTime

#: Below this many rows the plain SQLAlchemy statements are fast enough.
BULK_MIN = 200
#: Rows per COPY (PostgreSQL) or ``executemany`` batch (SQLite) of :func:`insert_rows`.
INSERT_CHUNK = 50_000
#: Rows per ``UPDATE … FROM unnest`` statement.
UPDATE_CHUNK = 20_000


def _is_geom(table: Table, col: str) -> bool:
    return isinstance(table.c[col].type, Geom)


def _ewkb_hex(wkb: bytes) -> str:
    """Little-endian ISO WKB → hex EWKB carrying SRID 4326 (PostGIS text input for COPY)."""
    if wkb[0] != 1:  # pragma: no cover - the store always writes little endian
        raise ValueError("expected little-endian WKB")
    gtype = int.from_bytes(wkb[1:5], "little") | 0x20000000
    return (wkb[:1] + gtype.to_bytes(4, "little") + SRID.to_bytes(4, "little") + wkb[5:]).hex()


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes | memoryview):
        return _ewkb_hex(bytes(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_column(values: list[Any], proc: Any, geom: bool) -> list[str]:
    """One column of a COPY batch as text; a column of one repeated value is formatted once."""
    if proc is not None and not geom:
        values = [v if v is None else proc(v) for v in values]
    first = values[0]
    if values.count(first) == len(values) and len(set(map(type, values))) == 1:
        return [_copy_text(first)] * len(values)
    if geom:
        return ["\\N" if v is None else _ewkb_hex(bytes(v)) for v in values]
    return [_copy_text(v) for v in values]


def _copy_lines(rows: Sequence[Sequence[Any]], procs: list[Any], geom: list[bool]) -> str:
    """COPY text of ``rows``, formatted column by column."""
    columns = [
        _copy_column([r[i] for r in rows], p, g)
        for i, (p, g) in enumerate(zip(procs, geom, strict=True))
    ]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _memo(proc: Any) -> Any:
    """Cache a processor's results: a change set writes the same timestamp on every row."""
    cache: dict[Any, Any] = {}

    def run(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            out = cache[value] = proc(value)
            return out

    return run


def _processors(conn: Connection, table: Table, columns: Sequence[str]) -> list[Any]:
    dialect = conn.dialect
    out = []
    for c in columns:
        proc = table.c[c].type._cached_bind_processor(dialect)
        if proc is not None and isinstance(table.c[c].type, UTCDateTime):
            proc = _memo(proc)
        out.append(proc)
    return out


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order; geometry as WKB bytes) in bulk."""
    if not rows:
        return
    if len(rows) < BULK_MIN:
        conn.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in columns)
    name = prep.format_table(table)
    if conn.dialect.name == "postgresql":
        procs = [
            None if _is_geom(table, c) else p
            for c, p in zip(columns, _processors(conn, table, columns), strict=True)
        ]
        geo = [_is_geom(table, c) for c in columns]
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # one COPY per batch: the text buffer holds INSERT_CHUNK rows, not all of them
            for start in range(0, len(rows), INSERT_CHUNK):
                buf = io.StringIO(_copy_lines(rows[start : start + INSERT_CHUNK], procs, geo))
                cur.copy_expert(f"COPY {name} ({cols}) FROM STDIN", buf)
        finally:
            cur.close()
        return
    procs = _processors(conn, table, columns)
    marks = ", ".join("?" for _ in columns)
    for start in range(0, len(rows), INSERT_CHUNK):  # batches, inside the caller's transaction
        data = [
            tuple(v if (p is None or v is None) else p(v) for v, p in zip(r, procs, strict=True))
            for r in rows[start : start + INSERT_CHUNK]
        ]
        conn.exec_driver_sql(f"INSERT INTO {name} ({cols}) VALUES ({marks})", data)


def update_rows(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    sets: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """``UPDATE table SET sets WHERE keys`` for every row (tuples: key values then set values,
    in the order of ``keys`` then ``sets``). Returns the number of rows updated.

    A key may be given as ``"version"`` to make the update conditional on the version the
    caller read (optimistic concurrency): rows whose version moved on are not updated and the
    returned count is smaller than ``len(rows)``.
    """
    if not rows:
        return 0
    columns = [*keys, *sets]
    prep = conn.dialect.identifier_preparer
    name = prep.format_table(table)
    procs = _processors(conn, table, columns)
    if conn.dialect.name == "postgresql":
        total = 0
        arrays_types = []
        for c in columns:
            if _is_geom(table, c):
                arrays_types.append("bytea[]")
            else:
                arrays_types.append(f"{table.c[c].type.compile(dialect=conn.dialect)}[]")
        alias = [f"v{i}" for i in range(len(columns))]
        set_sql = ", ".join(
            f"{prep.quote(c)} = "
            + (
                f"ST_GeomFromWKB(v.{alias[len(keys) + j]}, {SRID})"
                if _is_geom(table, c)
                else f"v.{alias[len(keys) + j]}"
            )
            for j, c in enumerate(sets)
        )
        where_sql = " AND ".join(f"t.{prep.quote(k)} = v.{alias[i]}" for i, k in enumerate(keys))
        unnest = ", ".join(f"CAST(%(a{i})s AS {typ})" for i, typ in enumerate(arrays_types))
        sql = (
            f"UPDATE {name} AS t SET {set_sql} FROM unnest({unnest}) AS v({', '.join(alias)}) "
            f"WHERE {where_sql}"
        )
        import psycopg2

        for start in range(0, len(rows), UPDATE_CHUNK):
            part = rows[start : start + UPDATE_CHUNK]
            params: dict[str, Any] = {}
            for i, (c, p) in enumerate(zip(columns, procs, strict=True)):
                vals = [r[i] for r in part]
                if _is_geom(table, c):
                    params[f"a{i}"] = [
                        None if v is None else psycopg2.Binary(bytes(v)) for v in vals
                    ]
                else:
                    params[f"a{i}"] = [v if (p is None or v is None) else p(v) for v in vals]
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(sql, params)
                total += int(cur.rowcount)
            finally:
                cur.close()
        return total
    set_sql = ", ".join(f"{prep.quote(c)} = ?" for c in sets)
    where_sql = " AND ".join(f"{prep.quote(k)} = ?" for k in keys)
    data = []
    for r in rows:
        vals = [v if (p is None or v is None) else p(v) for v, p in zip(r, procs, strict=True)]
        data.append(tuple(vals[len(keys) :] + vals[: len(keys)]))
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(f"UPDATE {name} SET {set_sql} WHERE {where_sql}", data)
        return int(cur.rowcount)
    finally:
        cur.close()
