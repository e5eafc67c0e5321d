"""Assignment history (repository): events filtered by leader, cell, piece, time or change set,
and the owners of every piece at any past moment, replayed from the events alone.

Every function takes a SQLAlchemy :class:`~sqlalchemy.Connection`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Connection, and_, or_, select

from gridmgr.errors import InputError
from gridmgr.i18n import t
from gridmgr.store import schema as s
from gridmgr.store._sql import frame
from gridmgr.store.assignments import opt


def _when(value: dt.datetime | str | None, what: str) -> dt.datetime | None:
    """``value`` as an aware UTC datetime (naive: UTC); :class:`InputError` if unparsable."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        msg = t(
            f"{what}={value!r} 不是有效的日期/时间，请使用如 2026-11-25 或 2026-11-25T08:00:00Z 的格式",
            f"{what}={value!r} is not a date/time; use e.g. 2026-11-25 or 2026-11-25T08:00:00Z",
        )
        raise InputError(msg) from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    out: dt.datetime = ts.tz_convert("UTC").to_pydatetime()
    return out


def history(
    conn: Connection,
    *,
    leader: str | None = None,
    cell: str | None = None,
    piece_id: int | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    changeset: str | None = None,
    limit: int | None = None,
    newest: bool = False,
) -> pd.DataFrame:
    """Assignment events, oldest first, filtered by any combination of the arguments.

    With ``limit``, the oldest ``limit`` events, or with ``newest=True`` the most recent ones.
    Columns ``id``, ``changeset_id``, ``kind``, ``changeset_kind``, ``piece_id``, ``cell``,
    ``unit_code``, ``from_leader``, ``to_leader``, ``from_fallback``, ``to_fallback``,
    ``from_version``, ``to_version``, ``actor``, ``reason``, ``at`` (UTC).
    """
    ev, cs = s.assignment_events, s.changesets
    cols = [
        ev.c.id,
        ev.c.changeset_id,
        ev.c.kind,
        cs.c.kind.label("changeset_kind"),
        ev.c.piece_id,
        ev.c.cell,
        ev.c.unit_code,
        ev.c.from_leader,
        ev.c.to_leader,
        ev.c.from_fallback,
        ev.c.to_fallback,
        ev.c.from_version,
        ev.c.to_version,
        ev.c.actor,
        ev.c.reason,
        ev.c.at,
    ]
    stmt = select(*cols).select_from(ev.join(cs, cs.c.id == ev.c.changeset_id))
    conds = []
    if leader is not None:
        conds.append(or_(ev.c.from_leader == leader, ev.c.to_leader == leader))
    if cell is not None:
        conds.append(ev.c.cell == cell)
    if piece_id is not None:
        conds.append(ev.c.piece_id == int(piece_id))
    if changeset is not None:
        conds.append(ev.c.changeset_id == changeset)
    t0, t1 = _when(since, "since"), _when(until, "until")
    if t0 is not None:
        conds.append(ev.c.at >= t0)
    if t1 is not None:
        conds.append(ev.c.at <= t1)
    if conds:
        stmt = stmt.where(and_(*conds))
    stmt = stmt.order_by(ev.c.id.desc() if newest else ev.c.id)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    rows = conn.execute(stmt).all()
    if newest:
        rows = rows[::-1]  # the newest `limit` events, still listed oldest first
    df = pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in cols])
    for col in ("from_leader", "to_leader"):
        df[col] = pd.Series([opt(v) for v in df[col]], index=df.index, dtype=object)
    return df


def owners_at(conn: Connection, at: dt.datetime | str) -> pd.DataFrame:
    """Owner of every piece at time ``at``, reconstructed from the events alone.

    Returns a frame ``piece_id``, ``cell``, ``unit_code``, ``leader_id``, ``fallback`` with
    one row per piece that had an event up to ``at`` or exists now (no event yet: no owner).
    Replaying up to now gives exactly the current assignments (tested).
    """
    ts = _when(at, "at")
    ev, p = s.assignment_events, s.pieces
    events = frame(
        conn.execute(
            select(ev.c.piece_id, ev.c.cell, ev.c.unit_code, ev.c.to_leader, ev.c.to_fallback)
            .where(ev.c.at <= ts)
            .order_by(ev.c.id)
        ).all(),
        ["piece_id", "cell", "unit_code", "leader_id", "fallback"],
    )
    now = frame(
        conn.execute(select(p.c.id, p.c.cell, p.c.unit_code)).all(),
        ["piece_id", "cell", "unit_code"],
    )
    last = events.drop_duplicates("piece_id", keep="last")
    rest = now[~now["piece_id"].isin(last["piece_id"])].assign(leader_id=None, fallback=False)
    out = pd.concat([last, rest], ignore_index=True) if len(rest) else last.reset_index(drop=True)
    out["piece_id"] = out["piece_id"].astype("int64")
    out["fallback"] = out["fallback"].astype(bool)
    out["leader_id"] = out["leader_id"].astype(object).where(out["leader_id"].notna(), None)
    return out.sort_values("piece_id").reset_index(drop=True)


def as_mapping(df: pd.DataFrame) -> Mapping[int, tuple[str | None, bool]]:
    """``piece_id → (leader_id, fallback)`` of an owners frame (for comparisons)."""
    return {
        int(i): (None if ld is None else str(ld), bool(fb))
        for i, ld, fb in zip(df["piece_id"], df["leader_id"], df["fallback"], strict=True)
    }
