"""Layer tables (repository): units, pieces, key places, categories, departments, the unit tree,
the ``meta`` key/values and leaders' grid codes.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`; loading layers is
:mod:`gridmgr.store.layers_load`.

Examples
--------
>>> parents = {"d": None, "s": "d", "c1": "s", "c2": "s"}
>>> sorted(descendants(parents, "s"))
['c1', 'c2', 's']
>>> ancestors(parents, "c1")
['c1', 's', 'd']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, and_, case, func, insert, null, select, type_coerce, update

from gridmgr.errors import InputError, UnitNotFoundError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import chunks, frame, is_postgis
from gridmgr.store.geom import from_wkb

if TYPE_CHECKING:
    import geopandas as gpd

KEY_PLACE_COLUMNS = [
    "id",
    "code",
    "name",
    "category",
    "address",
    "sample",
    "unit_code",
    "piece_id",
    "department",
    "package_leader_id",
    "geom",
]


def _geoframe(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """``df`` with its WKB ``geom`` column turned into an EPSG:4326 geometry column."""
    import geopandas as gpd  # heavy: only when a geometry frame is built

    geom = from_wkb(df.pop("geom").tolist())
    return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")


# ---------------------------------------------------------------------- meta


def get_meta(conn: Connection, key: str) -> str | None:
    """A value of the ``meta`` table (e.g. ``res``)."""
    row = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
    return None if row is None else row[0]


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Insert or update a ``meta`` value (no write when it is unchanged)."""
    cur = conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).first()
    if cur is None:
        conn.execute(insert(s.meta).values(key=key, value=value))
    elif cur[0] != value:
        conn.execute(update(s.meta).where(s.meta.c.key == key).values(value=value))


# ---------------------------------------------------------------------- unit tree


def unit_parents(conn: Connection) -> dict[str, str | None]:
    """``unit code → parent code`` of every unit."""
    rows = conn.execute(select(s.units.c.code, s.units.c.parent)).all()
    return {str(c): (None if p is None else str(p)) for c, p in rows}


def descendants(parents: Mapping[str, str | None], code: str) -> set[str]:
    """``code`` and every unit below it; :class:`UnitNotFoundError` for an unknown code."""
    if code not in parents:
        msg = t(
            f"单位 {code!r} 不在库中；请用 `gridmgr units` 查看单位列表，或先导入图层",
            f"unit {code!r} is not in the store; list the units with `gridmgr units` or load layers",
        )
        raise UnitNotFoundError(msg)
    children: dict[str, list[str]] = {}
    for c, p in parents.items():
        if p is not None:
            children.setdefault(p, []).append(c)
    out: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        if c not in out:
            out.add(c)
            stack.extend(children.get(c, []))
    return out


def ancestors(parents: Mapping[str, str | None], code: str) -> list[str]:
    """``code`` and its parents up to the root, nearest first."""
    chain = [code]
    seen = {code}
    while (p := parents.get(chain[-1])) is not None and p not in seen:
        chain.append(p)
        seen.add(p)
    return chain


def _scope_codes(conn: Connection, scope: str) -> list[str]:
    """Sorted codes of ``scope`` and every unit below it."""
    return sorted(descendants(unit_parents(conn), scope))


# ---------------------------------------------------------------------- reads


def units(conn: Connection) -> gpd.GeoDataFrame:
    """Units: ``id``, ``code``, ``name``, ``level``, ``parent``, ``name_en``, ``alias``,
    ``sample``, ``area_m2`` and geometry (EPSG:4326)."""
    df = pd.DataFrame(conn.execute(select(s.units).order_by(s.units.c.id)).mappings().all())
    if df.empty:
        df = pd.DataFrame(columns=[c.name for c in s.units.columns])
    return _geoframe(df)


#: Rows fetched per round trip when pieces are read (bounded Python row objects at a time).
READ_CHUNK = 100_000


def _shared_strings(values: Any) -> NDArray[np.object_]:
    """``values`` (a list, or a column: Arrow strings are not unpacked per row) as an object
    array in which equal strings are one object and missing values are ``None`` (a unit code or
    a leader id repeats on thousands of pieces: one object each instead of one per row)."""
    arr = np.asarray(values, dtype=object) if isinstance(values, list) else values
    if len(arr) == 0:
        return np.empty(0, dtype=object)
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)  # code -1 → the last entry: None
    table[:-1] = [str(u) for u in uniques]
    out = table[codes]
    return np.asarray(out, dtype=object)


def _column_chunk(name: str, values: tuple[Any, ...]) -> NDArray[Any]:
    """One fetched chunk of a pieces column as a numpy array (outer-join ``None`` filled)."""
    if name in ("unit_code", "leader_id"):
        return _shared_strings(list(values))
    if name == "id":
        return np.fromiter(values, dtype=np.int64, count=len(values))
    if name == "area_m2":
        return np.fromiter(values, dtype=np.float64, count=len(values))
    if name in ("whole", "fallback"):
        return np.fromiter((bool(v) for v in values), dtype=bool, count=len(values))
    if name == "version":
        return np.fromiter((v or 0 for v in values), dtype=np.int64, count=len(values))
    return np.asarray(values, dtype=object)


def _columns(conn: Connection, stmt: Any, names: list[str]) -> dict[str, NDArray[Any]]:
    """The result of ``stmt`` column by column as numpy arrays, fetched :data:`READ_CHUNK` rows
    at a time (no Python object per value beyond one chunk, strings aside)."""
    parts: dict[str, list[NDArray[Any]]] = {n: [] for n in names}
    # options on the statement, not the connection: Connection.execution_options changes the
    # connection for the rest of the transaction (later INSERTs would run on a named cursor)
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=READ_CHUNK))
    for part in result.partitions():
        for name, values in zip(names, zip(*part, strict=True), strict=True):
            parts[name].append(_column_chunk(name, values))
    empty = {"id": np.int64, "area_m2": np.float64, "whole": bool, "fallback": bool}
    return {
        n: np.concatenate(v)
        if v
        else np.empty(0, dtype=empty.get(n, np.int64 if n == "version" else object))
        for n, v in parts.items()
    }


_PIECE_TYPES = {
    "id": "int64",
    "cell": "large_string",
    "unit_code": "large_string",
    "area_m2": "float64",
    "whole": "bool_",
    "leader_id": "large_string",
    "fallback": "bool_",
    "version": "int64",
    "geom": "large_string",  # bytea as \\x… hex text
}


def _columns_copy(conn: Connection, stmt: Any, names: list[str]) -> pd.DataFrame:
    """PostgreSQL: the result of ``stmt`` through ``COPY … TO STDOUT`` (CSV, spooled to a
    temporary file) parsed by pyarrow: about a million rows a second and no Python object per
    value; strings stay in Arrow buffers."""
    import tempfile

    import pyarrow as pa
    import pyarrow.csv as pcsv

    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with tempfile.TemporaryFile() as spool:
        try:  # parameters bound by the driver (mogrify), as for any other statement
            sql = cur.mogrify(compiled.string, compiled.params).decode()
            cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", spool)
        finally:
            cur.close()
        if spool.tell() == 0:  # no rows: pyarrow refuses an empty CSV
            return pd.DataFrame(_columns(conn, stmt, names), columns=names)
        spool.seek(0)
        # malloc instead of Arrow's default mimalloc, for this read and the pandas string
        # columns after it (process-wide): mimalloc kept ≈ 0.1 GB a million rows after a read
        pool = pa.system_memory_pool()
        pa.set_memory_pool(pool)
        table = pcsv.read_csv(
            spool,
            memory_pool=pool,
            read_options=pcsv.ReadOptions(column_names=names),
            convert_options=pcsv.ConvertOptions(
                column_types={n: getattr(pa, _PIECE_TYPES[n])() for n in names},
                true_values=["t"],
                false_values=["f"],
                # only an unquoted empty field is NULL (PostgreSQL's CSV); "NA", "null" … are ids
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    df = table.to_pandas(memory_pool=pool, self_destruct=True, split_blocks=True)
    del table
    for name in ("fallback", "whole"):
        df[name] = df[name].fillna(False).astype(bool)
    df["version"] = df["version"].fillna(0).astype("int64")
    if "geom" in df:  # bytea as "\\x…" text on border pieces only: decode just those
        col = df.pop("geom")
        present = col.notna().to_numpy()
        wkb = np.full(len(col), None, dtype=object)
        wkb[present] = [bytes.fromhex(h[2:]) for h in col[present].tolist()]
        df["geom"] = wkb
    return df


def _border_geometries(wkb: Any) -> NDArray[np.object_]:
    """Shapes from a column of WKB that is ``None`` for whole pieces (parsed where present)."""
    values = np.asarray(wkb, dtype=object)
    geoms = np.full(len(values), None, dtype=object)
    present = np.flatnonzero(pd.notna(values))
    if len(present):
        geoms[present] = from_wkb(values[present].tolist())
    return geoms


def pieces(
    conn: Connection, scope: str | None = None, *, geometry: bool | Literal["border"] = True
) -> pd.DataFrame:
    """Pieces with their current owner.

    Columns ``id``, ``cell``, ``unit_code``, ``area_m2``, ``whole``, ``leader_id`` (None:
    blind spot), ``fallback``, ``version`` and (``geometry=True``) geometry as a
    GeoDataFrame in EPSG:4326. ``geometry="border"`` reads the lazy form
    (:mod:`gridmgr.grid.lazy`): only pieces cut by a unit border carry geometry, whole pieces
    have ``None`` (their hexagon comes from h3 where it is needed). ``scope`` is a unit code of
    any level. Rows are fetched in chunks, and repeated unit codes and leader ids share one
    string object, so a read of millions of pieces holds no row objects beyond one chunk.
    """
    p, a = s.pieces, s.assignments
    cols: list[Any] = [p.c.id, p.c.cell, p.c.unit_code, p.c.area_m2, p.c.whole]
    cols += [a.c.leader_id, a.c.fallback, a.c.version]
    if geometry is True:
        cols.append(p.c.geom)
    elif geometry == "border":  # in the same statement: one snapshot for rows and shapes
        border = case((p.c.whole.is_(False), p.c.geom), else_=null())
        cols.append(type_coerce(border, p.c.geom.type).label("geom"))
    stmt = select(*cols).select_from(p.outerjoin(a, a.c.piece_id == p.c.id)).order_by(p.c.id)
    codes = _scope_codes(conn, scope) if scope is not None else None
    if codes is not None:
        stmt = stmt.where(p.c.unit_code.in_(codes))
    names = [c.name for c in cols]
    if is_postgis(conn) and geometry is not True:
        df = _columns_copy(conn, stmt, names)
    else:
        df = pd.DataFrame(_columns(conn, stmt, names), columns=names)
    df["leader_id"] = pd.Series(_shared_strings(df["leader_id"]), index=df.index, dtype=object)
    df["id"] = df["id"].astype("int64")
    df["area_m2"] = df["area_m2"].astype(float)
    df["whole"] = df["whole"].astype(bool)
    df["fallback"] = df["fallback"].fillna(False).astype(bool)
    df["version"] = df["version"].fillna(0).astype("int64")
    if geometry is True:
        return _geoframe(df)
    if geometry == "border":
        import geopandas as gpd

        geoms = _border_geometries(df.pop("geom"))
        return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4326")
    return df


def key_places(conn: Connection, scope: str | None = None) -> gpd.GeoDataFrame:
    """Key places: ``id``, ``code``, ``name``, ``category``, ``address``, ``sample``,
    ``unit_code``, ``piece_id``, ``department`` (of the category), ``package_leader_id``
    (None when no leader packages it) and geometry."""
    k, c, pk = s.key_places, s.categories, s.packages
    leader = (
        select(func.min(pk.c.leader_id))
        .where(and_(pk.c.kind == "place", pk.c.target == k.c.code))
        .scalar_subquery()
    )
    stmt = (
        select(
            k.c.id,
            k.c.code,
            k.c.name,
            k.c.category,
            k.c.address,
            k.c.sample,
            k.c.unit_code,
            k.c.piece_id,
            c.c.department,
            leader.label("package_leader_id"),
            k.c.geom,
        )
        .select_from(k.join(c, c.c.category == k.c.category))
        .order_by(k.c.id)
    )
    if scope is not None:
        stmt = stmt.where(k.c.unit_code.in_(_scope_codes(conn, scope)))
    df = frame(conn.execute(stmt).all(), KEY_PLACE_COLUMNS)
    df["piece_id"] = df["piece_id"].astype("Int64")
    return _geoframe(df)


def categories(conn: Connection) -> pd.DataFrame:
    """Key-place categories, by key."""
    rows = conn.execute(select(s.categories).order_by(s.categories.c.category)).all()
    return frame(rows, [c.name for c in s.categories.columns])


def departments(conn: Connection) -> pd.DataFrame:
    """Departments (行管部门), by code."""
    rows = conn.execute(select(s.departments).order_by(s.departments.c.code)).all()
    return frame(rows, [c.name for c in s.departments.columns])


# ---------------------------------------------------------------------- grid codes


def save_grid_codes(conn: Connection, codes: pd.DataFrame) -> int:
    """Replace the grid codes of the units named in ``codes``; returns the rows written."""
    need = {"leader_id", "unit_code", "grid_code"}
    missing = need - set(codes.columns)
    if missing:
        miss = ", ".join(sorted(missing))
        raise InputError(t(f"网格编码：缺少列 {miss}", f"grid codes: missing column(s) {miss}"))
    at = s.utcnow()
    rows: list[dict[str, Any]] = [
        {
            "leader_id": str(r.leader_id),
            "unit_code": str(r.unit_code),
            "grid_code": str(r.grid_code),
            "updated_at": at,
        }
        for r in codes[["leader_id", "unit_code", "grid_code"]].itertuples(index=False)
    ]
    unit_codes = sorted({str(r["unit_code"]) for r in rows})
    for part in chunks(unit_codes):
        conn.execute(s.territories.delete().where(s.territories.c.unit_code.in_(part)))
    if rows:
        conn.execute(insert(s.territories), rows)
    return len(rows)


def grid_codes(conn: Connection) -> pd.DataFrame:
    """Grid codes of leader territories: ``leader_id``, ``unit_code``, ``grid_code``."""
    tr = s.territories
    rows = conn.execute(
        select(tr.c.leader_id, tr.c.unit_code, tr.c.grid_code, tr.c.updated_at).order_by(
            tr.c.grid_code
        )
    ).all()
    return frame(rows, ["leader_id", "unit_code", "grid_code", "updated_at"])


def last_layers_source(conn: Connection) -> str | None:
    """Where the layers of the latest load that changed anything came from (a directory)."""
    row = conn.execute(select(s.loads.c.source).order_by(s.loads.c.at.desc()).limit(1)).first()
    return None if row is None or not row[0] else str(row[0])
