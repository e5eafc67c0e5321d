"""Assignments (repository): edits with optimistic concurrency, undo, history and replay.

Every function takes the SQLAlchemy :class:`~sqlalchemy.Connection` of the caller's
transaction; the :class:`~gridmgr.store.Store` facade opens it.

Examples
--------
>>> opt(float("nan")) is None, opt(3)
(True, '3')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select, update

from gridmgr.errors import (
    ConflictError,
    InputError,
    LeaderNotFoundError,
    NotFoundError,
    StaleVersionError,
)
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import chunks, for_update, frame, is_postgis, names, resolve_id
from gridmgr.store.bulk import insert_rows, update_rows
from gridmgr.store.changesets import new_changeset, set_event_count
from gridmgr.store.layers import ancestors, unit_parents
from gridmgr.store.plans import set_plan_status
from gridmgr.store.types import Change, ChangeResult

EDIT_KINDS = ("edit", "auto", "plan", "import", "undo")


def opt(value: Any) -> str | None:
    """``None`` for missing values (None, NaN, NA), else the value as text."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _frame(changes: Iterable[Change | tuple[Any, ...]] | pd.DataFrame) -> pd.DataFrame:
    """Changes as a frame ``ref`` (piece id or cell), ``leader_id``, ``expected_version``,
    ``fallback``."""
    if isinstance(changes, pd.DataFrame):
        if "piece_id" in changes.columns:
            ref = changes["piece_id"].astype("int64").astype(object)
        elif "cell" in changes.columns:
            ref = changes["cell"].astype(str)
        else:
            raise InputError(
                t(
                    "changes：数据表需要 piece_id 或 cell 列",
                    "changes: the frame needs a piece_id or a cell column",
                )
            )
        if "leader_id" not in changes.columns:
            raise InputError(
                t("changes：数据表需要 leader_id 列", "changes: the frame needs a leader_id column")
            )
        n = len(changes)
        exp = changes["expected_version"] if "expected_version" in changes.columns else [None] * n
        fb = changes["fallback"] if "fallback" in changes.columns else [False] * n
        df = pd.DataFrame(
            {
                "ref": list(ref),
                "leader_id": list(changes["leader_id"]),
                "expected_version": list(exp),
                "fallback": list(fb),
            }
        )
    else:
        items = [c if isinstance(c, Change) else Change(*c) for c in changes]
        df = pd.DataFrame(
            {
                "ref": [c.piece for c in items],
                "leader_id": [c.leader_id for c in items],
                "expected_version": [c.expected_version for c in items],
                "fallback": [c.fallback for c in items],
            },
            dtype=object,
        )
    lid = df["leader_id"].astype(object)
    missing = pd.isna(lid) | (lid.astype(str).str.strip() == "")
    df["leader_id"] = [None if m else opt(v) for v, m in zip(lid, missing, strict=True)]
    exp = pd.to_numeric(df["expected_version"], errors="coerce")
    df["expected_version"] = exp.astype("Int64")
    df["fallback"] = df["fallback"].fillna(False).astype(bool)
    return df


def _resolve(conn: Connection, df: pd.DataFrame) -> pd.DataFrame:
    """Expand refs into pieces: adds ``piece_id``, ``cell``, ``unit_code`` (cells → all pieces)."""
    p = s.pieces
    is_id = df["ref"].map(lambda r: isinstance(r, int | np.integer)).to_numpy(dtype=bool)
    ids = sorted({int(r) for r in df["ref"][is_id]})
    cells = sorted({str(r) for r in df["ref"][~is_id]})
    rows: list[tuple[Any, ...]] = []
    for part in chunks(ids):
        rows += conn.execute(select(p.c.id, p.c.cell, p.c.unit_code).where(p.c.id.in_(part))).all()
    for part in chunks(cells):
        rows += conn.execute(
            select(p.c.id, p.c.cell, p.c.unit_code).where(p.c.cell.in_(part))
        ).all()
    found = pd.DataFrame(
        [tuple(r) for r in rows], columns=["piece_id", "cell", "unit_code"]
    ).drop_duplicates("piece_id")
    known_ids = set(found["piece_id"].astype(int))
    known_cells = set(found["cell"])
    unknown = [i for i in ids if i not in known_ids] + [c for c in cells if c not in known_cells]
    if unknown:
        listed = names(unknown)
        msg = t(
            f"{len(unknown)} 个地块/网格单元不在库中：{listed}；"
            "请对照 `gridmgr assign export` 核对网格单元（或先导入图层）",
            f"{len(unknown)} piece(s)/cell(s) are not in the store: {listed}; "
            "check the cells against `gridmgr assign export` (or load the layers first)",
        )
        raise NotFoundError(msg)
    by_id = (
        df[is_id]
        .assign(piece_id=lambda d: d["ref"].astype("int64"))
        .merge(found, on="piece_id", how="inner")
    )
    by_cell = (
        df[~is_id].assign(cell=lambda d: d["ref"].astype(str)).merge(found, on="cell", how="inner")
    )
    out = pd.concat([by_id, by_cell], ignore_index=True)
    dup = out["piece_id"].duplicated(keep=False)
    if dup.any():
        cells_dup = sorted(set(out.loc[dup, "cell"]))
        listed = names(cells_dup)
        msg = t(
            f"变更中同一地块出现多次：网格单元 {listed}；每个地块只能出现一次",
            f"changes name the same piece more than once: cells {listed}; give each piece once",
        )
        raise InputError(msg)
    out["piece_id"] = out["piece_id"].astype("int64")
    out["leader_id"] = pd.Series([opt(v) for v in out["leader_id"]], index=out.index, dtype=object)
    return out


def _check_leaders(conn: Connection, df: pd.DataFrame) -> None:
    """Leaders exist, are active and work in each piece's unit (or one of its ancestors)."""
    bad_fb = df["fallback"] & df["leader_id"].isna()
    if bad_fb.any():
        cells = sorted(set(df.loc[bad_fb, "cell"]))
        listed = names(cells)
        raise InputError(
            t(
                f"fallback 需要指定领导：网格单元 {listed}",
                f"fallback needs a leader: cells {listed}",
            )
        )
    wanted = sorted({x for x in df["leader_id"] if x is not None})
    if not wanted:
        return
    ld, pk = s.leaders, s.packages
    rows: list[tuple[Any, ...]] = []
    packs: list[tuple[Any, ...]] = []
    for part in chunks(wanted):
        stmt = select(ld.c.id, ld.c.active).where(ld.c.id.in_(part))
        if is_postgis(conn):  # a concurrent deactivation waits for this edit, and vice versa
            stmt = stmt.with_for_update(read=True)
        rows += conn.execute(stmt).all()
        packs += conn.execute(
            select(pk.c.leader_id, pk.c.target).where(pk.c.kind == "unit", pk.c.leader_id.in_(part))
        ).all()
    active = {str(i): bool(a) for i, a in rows}
    unknown = [x for x in wanted if x not in active]
    if unknown:
        listed = names(unknown)
        msg = t(
            f"领导不在库中：{listed}；请用 `gridmgr leaders import FILE` 导入，或更正 id",
            f"leader(s) not in the store: {listed}; "
            "import them with `gridmgr leaders import FILE` or fix the id",
        )
        raise LeaderNotFoundError(msg)
    inactive = [x for x in wanted if not active[x]]
    if inactive:
        listed = names(inactive)
        msg = t(
            f"领导 {listed} 已停用（不在岗）；请将地块分配给在岗的领导",
            f"leader(s) {listed} are inactive (deactivated); assign the pieces to an active leader",
        )
        raise ConflictError(msg)
    parents = unit_parents(conn)
    units = sorted(set(df.loc[df["leader_id"].notna(), "unit_code"]))
    anc = pd.DataFrame(
        [(u, a) for u in units for a in ancestors(parents, u)], columns=["unit_code", "anc"]
    )
    pk_df = pd.DataFrame([tuple(r) for r in packs], columns=["leader_id", "anc"])
    assigned = df[df["leader_id"].notna()][["piece_id", "unit_code", "leader_id", "cell"]]
    ok = assigned.merge(anc, on="unit_code").merge(pk_df, on=["leader_id", "anc"])
    outside = assigned[~assigned["piece_id"].isin(ok["piece_id"])]
    if len(outside):
        first = outside.iloc[0]
        listed = names(sorted(set(outside["cell"])))
        msg = t(
            f"{len(outside)} 个地块不在新领导包保的单位范围内：例如网格单元 {first.cell}"
            f"（单位 {first.unit_code}）分给领导 {first.leader_id}；网格单元 {listed}；"
            "领导只能包保其 unit_packages 所列单位内的地块（如需调整，请重新导入领导名单文件）",
            f"{len(outside)} piece(s) lie outside the units of their new leader: e.g. cell "
            f"{first.cell} (unit {first.unit_code}) for leader {first.leader_id}; "
            f"cells {listed}; a leader may only hold pieces in the "
            "units listed in their unit_packages (re-import the leaders file to change that)",
        )
        raise InputError(msg)


def _check_edit(kind: str, actor: str, reason: str) -> None:
    """Refuse an unknown edit kind and a missing actor or reason."""
    if kind not in EDIT_KINDS:
        kinds = ", ".join(EDIT_KINDS)
        raise InputError(
            t(
                f"未知的变更类型 {kind!r}，请使用 {kinds} 之一",
                f"edit kind {kind!r} is unknown; use one of {kinds}",
            )
        )
    if not actor or not str(actor).strip():
        raise InputError(
            t(
                "变更需要填写操作人（--actor ID）：由谁进行此项变更？",
                "an edit needs an actor (--actor ID): who makes this change?",
            )
        )
    if not reason or not str(reason).strip():
        raise InputError(
            t(
                "变更需要填写原因（--reason TEXT）：为何进行此项变更？",
                "an edit needs a reason (--reason TEXT): why is this change made?",
            )
        )


def _with_current(conn: Connection, df: pd.DataFrame) -> pd.DataFrame:
    """Lock the pieces' assignment rows and add ``cur_leader``, ``cur_fallback``, ``version``."""
    a = s.assignments
    cur_rows: list[tuple[Any, ...]] = []
    for part in chunks(df["piece_id"].tolist()):
        stmt = select(a.c.piece_id, a.c.leader_id, a.c.fallback, a.c.version)
        cur_rows += conn.execute(for_update(conn, stmt.where(a.c.piece_id.in_(part)))).all()
    cur = frame(cur_rows, ["piece_id", "cur_leader", "cur_fallback", "version"])
    cur["piece_id"] = cur["piece_id"].astype("int64")
    df = df.merge(cur, on="piece_id", how="left")
    if df["version"].isna().any():
        listed = names(sorted(set(df.loc[df["version"].isna(), "cell"])))
        msg = t(
            f"地块缺少包保分配记录：网格单元 {listed}；请重新导入图层",
            f"pieces without an assignment row: cells {listed}; reload the layers",
        )
        raise ConflictError(msg)
    df["version"] = df["version"].astype("int64")
    df["cur_fallback"] = df["cur_fallback"].astype(bool)
    df["cur_leader"] = pd.Series([opt(v) for v in df["cur_leader"]], index=df.index, dtype=object)
    df["leader_id"] = pd.Series([opt(v) for v in df["leader_id"]], index=df.index, dtype=object)
    return df


def _refuse_stale(df: pd.DataFrame) -> None:
    """:class:`StaleVersionError` naming the pieces whose version is not the expected one."""
    exp = df["expected_version"]
    stale = exp.notna() & (exp.fillna(-1).astype("int64") != df["version"])
    if not stale.any():
        return
    bad = df[stale]
    first = bad.iloc[0]
    holder, expected = first.cur_leader or "-", int(first.expected_version)
    listed = names(sorted(set(bad["cell"])))
    msg = t(
        f"{len(bad)} 个地块的版本已过期（在您编辑之后已被修改）：网格单元 {first.cell}"
        f"（单位 {first.unit_code}）当前为版本 {first.version}，由 {holder} 包保，"
        f"您预期的是版本 {expected}；冲突的网格单元：{listed}。请重新加载后再编辑",
        f"{len(bad)} piece(s) changed since the version you edited: cell {first.cell} "
        f"(unit {first.unit_code}) is at version {first.version} held by "
        f"{holder}, you expected version {expected}; "
        f"conflicting cells: {listed}. Reload and edit again",
    )
    raise StaleVersionError(msg, pieces=sorted(set(bad["cell"])))


@dataclass(frozen=True)
class _Stamp:
    """Who, why and when: written on every row of one change set."""

    changeset_id: str
    actor: str
    reason: str
    at: dt.datetime


_EVENT_COLUMNS = [
    "changeset_id",
    "kind",
    "piece_id",
    "cell",
    "unit_code",
    "from_leader",
    "to_leader",
    "from_fallback",
    "to_fallback",
    "from_version",
    "to_version",
    "actor",
    "reason",
    "at",
]


def _write_changes(conn: Connection, todo: pd.DataFrame, stamp: _Stamp) -> int:
    """Update the changed assignments (version + 1) and write one event each; returns the
    number of events."""
    cid, at = stamp.changeset_id, stamp.at
    pids = [int(x) for x in todo["piece_id"]]
    olds = [int(x) for x in todo["version"]]
    tos = [opt(x) for x in todo["leader_id"]]
    froms = [opt(x) for x in todo["cur_leader"]]
    fbs = [bool(x) for x in todo["fallback"]]
    cur_fbs = [bool(x) for x in todo["cur_fallback"]]
    cells = list(todo["cell"])
    units = list(todo["unit_code"])
    n = update_rows(
        conn,
        s.assignments,
        ["piece_id", "version"],
        ["leader_id", "fallback", "version", "changeset_id", "updated_at"],
        [
            (pid, old, to, fb, old + 1, cid, at)
            for pid, old, to, fb in zip(pids, olds, tos, fbs, strict=True)
        ],
    )
    if n != len(pids):
        # Cannot happen while the rows are locked; refuse rather than write a partial edit.
        msg = t(
            "其他人同时修改了其中部分地块（版本已过期）；请重新加载后再编辑",
            "a concurrent edit changed some of these pieces; reload and edit again",
        )
        raise StaleVersionError(msg, pieces=sorted(set(cells)))
    actor, reason = stamp.actor, stamp.reason
    events = [
        (cid, "assign", pid, cell, unit, fr, to, ffb, tfb, old, old + 1, actor, reason, at)
        for pid, cell, unit, fr, to, ffb, tfb, old in zip(
            pids, cells, units, froms, tos, cur_fbs, fbs, olds, strict=True
        )
    ]
    insert_rows(conn, s.assignment_events, _EVENT_COLUMNS, events)
    set_event_count(conn, cid, len(events))
    return len(events)


def apply_changes(
    conn: Connection,
    changes: Iterable[Change | tuple[Any, ...]] | pd.DataFrame,
    *,
    actor: str,
    reason: str,
    kind: str = "edit",
    changeset_id: str | None = None,
    plan_id: str | None = None,
    check_leaders: bool = True,
    undoes: str | None = None,
) -> ChangeResult:
    """Apply assignment changes on ``conn``, with optimistic concurrency.

    Each change names a piece (id) or a cell, the new owner (or ``None``), optionally the
    version the caller saw, and the fallback flag (see :class:`Change`). A frame with columns
    ``piece_id`` (or ``cell``), ``leader_id`` and optional ``expected_version``,
    ``fallback`` is accepted too (faster for many rows).

    Every row is checked first: pieces exist, leaders exist, are active and work in the
    piece's unit (one of its ancestors is among their unit packages). Then the rows are
    locked and every expected version compared; if any piece moved on, nothing is written
    and :class:`~gridmgr.errors.StaleVersionError` names the pieces. Changes that leave the
    owner as it is write nothing. One event per changed piece, in the same transaction.

    Parameters
    ----------
    kind
        ``edit``, ``auto``, ``plan``, ``import`` or ``undo``.
    plan_id
        Mark this plan ``applied`` (with this change set) in the same transaction.
    check_leaders
        Check leaders as above (undo turns it off to restore former owners as they were).
    undoes
        The change set this one undoes (recorded on the new change set).
    """
    _check_edit(kind, actor, reason)
    df = _frame(changes)
    if df.empty:
        return ChangeResult(None, 0, 0, ())
    at = s.utcnow()
    df = _resolve(conn, df)
    if check_leaders:
        _check_leaders(conn, df)
    df = _with_current(conn, df)
    _refuse_stale(df)
    same = (df["leader_id"].fillna("\x00") == df["cur_leader"].fillna("\x00")) & (
        df["fallback"] == df["cur_fallback"]
    )
    todo = df[~same]
    unchanged = int(same.sum())
    if todo.empty:
        return ChangeResult(None, 0, unchanged, ())
    cid = new_changeset(
        conn,
        kind=kind,
        actor=actor,
        reason=reason,
        at=at,
        changeset_id=changeset_id,
        plan_id=plan_id,
        undoes=undoes,
    )
    n_events = _write_changes(conn, todo, _Stamp(cid, actor, reason, at))
    if plan_id is not None:
        set_plan_status(conn, plan_id, "applied", changeset_id=cid)
    return ChangeResult(cid, n_events, unchanged, tuple(todo["cell"]))


def _undo_target(conn: Connection, changeset_id: str) -> tuple[str, str | None]:
    """Lock the change set; its ``(kind, plan_id)``, refusing unknown and undone ones."""
    cs = s.changesets
    stmt = select(cs.c.kind, cs.c.undone_by, cs.c.plan_id).where(cs.c.id == changeset_id)
    row = conn.execute(for_update(conn, stmt)).first()
    if row is None:
        msg = t(
            f"变更集 {changeset_id!r} 不在库中；请查看 `gridmgr history`",
            f"change set {changeset_id!r} is not in the store; see `gridmgr history`",
        )
        raise NotFoundError(msg)
    kind, undone_by, plan_id = row
    if undone_by is not None:
        raise ConflictError(
            t(
                f"变更集 {changeset_id} 已被 {undone_by} 撤销",
                f"change set {changeset_id} was already undone by {undone_by}",
            )
        )
    return str(kind), plan_id


def _undo_events(conn: Connection, changeset_id: str, kind: str) -> pd.DataFrame:
    """The change set's events, refusing one without any and one that ended orphans."""
    ev = s.assignment_events
    cols = ["piece_id", "cell", "kind", "from_leader", "from_fallback", "to_version"]
    stmt = (
        select(*[ev.c[c] for c in cols]).where(ev.c.changeset_id == changeset_id).order_by(ev.c.id)
    )
    events = frame(conn.execute(stmt).all(), cols)
    if events.empty:
        raise ConflictError(
            t(
                f"变更集 {changeset_id}（{kind}）未改动任何包保分配，无可撤销内容",
                f"change set {changeset_id} ({kind}) changed no assignment; nothing to undo",
            )
        )
    orphan = events[events["kind"] == "orphan"]
    if len(orphan):
        listed = names(sorted(set(orphan["cell"])))
        msg = t(
            f"变更集 {changeset_id} 结束的是因导入图层而被删除的地块的包保分配"
            f"（网格单元 {listed}）；请改为重新导入原图层",
            f"change set {changeset_id} ended assignments of pieces removed by a layers load "
            f"(cells {listed}); reload the old layers instead",
        )
        raise ConflictError(msg)
    return events


def _undo_changes(conn: Connection, changeset_id: str, events: pd.DataFrame) -> pd.DataFrame:
    """Changes restoring each piece's first former owner, expecting its last version."""
    p = s.pieces
    first = events.drop_duplicates("piece_id", keep="first").set_index("piece_id")
    last = events.drop_duplicates("piece_id", keep="last").set_index("piece_id")
    alive = {
        int(i)
        for (i,) in conn.execute(select(p.c.id).where(p.c.id.in_([int(x) for x in first.index])))
    }
    gone = [str(first.loc[i, "cell"]) for i in first.index if int(i) not in alive]
    if gone:
        listed = names(gone)
        msg = t(
            f"变更集 {changeset_id} 涉及的地块已不存在：网格单元 {listed}",
            f"pieces of change set {changeset_id} no longer exist: cells {listed}",
        )
        raise ConflictError(msg)
    return pd.DataFrame(
        {
            "piece_id": first.index.astype("int64"),
            "leader_id": first["from_leader"].to_numpy(),
            "fallback": first["from_fallback"].astype(bool).to_numpy(),
            "expected_version": last.loc[first.index, "to_version"].astype("int64").to_numpy(),
        }
    )


def undo_changeset(
    conn: Connection, changeset_id: str, *, actor: str, reason: str | None = None
) -> ChangeResult:
    """Undo a change set: every piece it touched goes back to its former owner.

    Refused (:class:`StaleVersionError`) when a piece changed again afterwards, and
    (:class:`ConflictError`) when the change set was already undone or ended orphans.
    """
    changeset_id = (
        resolve_id(conn, s.changesets.c.id, changeset_id, what=("变更集", "change set"))
        or changeset_id
    )
    kind, plan_id = _undo_target(conn, changeset_id)
    events = _undo_events(conn, changeset_id, kind)
    changes = _undo_changes(conn, changeset_id, events)
    result = apply_changes(
        conn,
        changes,
        actor=actor,
        reason=reason or f"undo {changeset_id}",
        kind="undo",
        check_leaders=False,
        undoes=changeset_id,
    )
    cs = s.changesets
    conn.execute(update(cs).where(cs.c.id == changeset_id).values(undone_by=result.changeset_id))
    if plan_id is not None:
        set_plan_status(conn, plan_id, "undone")
    return result
