"""Report a problem and take a step of its cycle: each one transaction (row, event, photos).

:func:`report` derives the responsibility facts (``derive``), marks a repeat, and stores the
problem, its ``report`` event and its before-photos together; with an ``idempotency_key`` a
resent report returns the problem the first one made. :func:`act` checks the step against the
cycle (``cycle.check``: state and role), computes what it changes (deadline on the official
calendar, rework count …) and writes the state change and one event in one transaction, guarded
by the row's ``version``: a concurrent or stale step is a :class:`StaleVersionError` and changes
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from gridmgr.errors import InputError, NotFoundError, StaleVersionError
from gridmgr.i18n import t
from gridmgr.problems import cycle, photos, workdays
from gridmgr.problems.categories import Category, Config, Rules, category_of
from gridmgr.problems.derive import derive
from gridmgr.problems.views import show_in
from gridmgr.store import problems as repo
from gridmgr.store.schema import utcnow

SOURCES = {
    "patrol": ("巡查", "patrol"),
    "inspection": ("督导检查", "inspection"),
    "public": ("群众反映", "public report"),
    "assigned": ("上级交办", "assigned by a superior"),
}
_SOURCE_ALIASES = {zh: key for key, (zh, _en) in SOURCES.items()}


@dataclass
class Upload:
    """A photo as received: a name (for messages) and its bytes."""

    name: str
    data: bytes
    checked: photos.Photo | None = field(default=None, repr=False)


def aware(when: dt.datetime | str | None) -> dt.datetime:
    """``when`` as an aware UTC datetime (None: now; naive: Beijing time)."""
    if when is None:
        return utcnow()
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                t(
                    f"时间 {when!r} 无效；请用 ISO 格式，如 2026-11-25T08:00+08:00",
                    f"time {when!r} is not valid; use ISO, e.g. 2026-11-25T08:00+08:00",
                )
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=workdays.BEIJING)
    return when.astimezone(dt.UTC)


def source_key(source: str) -> str:
    """``patrol|inspection|public|assigned`` (Chinese names accepted)."""
    key = _SOURCE_ALIASES.get(source, source)
    if key not in SOURCES:
        known = "、".join(f"{k}（{zh}）" for k, (zh, _) in SOURCES.items())
        raise InputError(
            t(
                f"来源 {source!r} 无效；可用：{known}",
                f"source {source!r} is not valid; use one of {known}",
            )
        )
    return key


def _check_uploads(
    uploads: Sequence[Upload], rules: Rules, at: dt.datetime, lng: float, lat: float
) -> None:
    for up in uploads:
        up.checked = photos.check_photo(
            up.data,
            name=up.name,
            max_bytes=rules.photo_max_bytes,
            max_pixels=rules.photo_max_pixels,
            at=at,
            lng=lng,
            lat=lat,
            max_distance_m=rules.photo_max_distance_m,
            max_age_hours=rules.photo_max_age_hours,
        )


def _store_uploads(
    conn: Connection,
    uploads: Sequence[Upload],
    *,
    problem_id: int,
    event_id: int,
    kind: str,
    actor: str,
    at: dt.datetime,
    written: list[Path],
) -> None:
    for up in uploads:
        ph = up.checked
        assert ph is not None  # checked before the transaction
        if repo.photo_by_hash(conn, problem_id, ph.sha256) is not None:
            continue
        path, new = photos.write_blob(ph)
        if new:
            written.append(path)
        repo.insert_photo(
            conn,
            {
                "problem_id": problem_id,
                "event_id": event_id,
                "kind": kind,
                "sha256": ph.sha256,
                "media_type": ph.media_type,
                "bytes": len(ph.data),
                "width": ph.width,
                "height": ph.height,
                "taken_at": ph.taken_at,
                "lng": ph.lng,
                "lat": ph.lat,
                "distance_m": ph.distance_m,
                "flags": ph.flags,
                "uploaded_by": actor,
                "at": at,
            },
        )


def _cleanup(written: Iterable[Path]) -> None:
    for path in written:
        path.unlink(missing_ok=True)


def report(
    store: Any,
    *,
    lat: float,
    lng: float,
    category: str,
    text: str,
    reporter: str,
    source: str = "patrol",
    at: dt.datetime | str | None = None,
    uploads: Sequence[Upload] = (),
    idempotency_key: str | None = None,
    sample: bool = False,
    config: Config | None = None,
) -> dict[str, Any]:
    """Report a problem; returns it as :func:`show` does (``created`` False for a resend)."""
    cfg = config or Config.load()
    cat = category_of(cfg.categories, category)
    when = aware(at)
    if not text or not text.strip():
        raise InputError(t("问题描述不能为空", "the problem text must not be empty"))
    if not reporter or not reporter.strip():
        raise InputError(t("上报人不能为空", "the reporter must not be empty"))
    src = source_key(source)
    _check_uploads(uploads, cfg.rules, when, lng, lat)
    written: list[Path] = []
    try:
        with store.transaction() as conn:
            if idempotency_key and (old := repo.by_key(conn, idempotency_key)) is not None:
                return {**show_in(conn, old["id"], cfg), "created": False}
            pid = insert_report(
                conn,
                cfg,
                cat,
                when,
                lng,
                lat,
                text.strip(),
                reporter.strip(),
                src,
                idempotency_key,
                sample,
            )
            eid = repo.insert_event(
                conn,
                {
                    "problem_id": pid,
                    "action": "report",
                    "from_state": None,
                    "to_state": "reported",
                    "actor": reporter,
                    "role": "reporter",
                    "at": when,
                    "note": None,
                    "detail": {"source": src},
                },
            )
            _store_uploads(
                conn,
                uploads,
                problem_id=pid,
                event_id=eid,
                kind="before",
                actor=reporter,
                at=when,
                written=written,
            )
            return {**show_in(conn, pid, cfg), "created": True}
    except IntegrityError:
        _cleanup(written)
        if idempotency_key:  # a concurrent resend won the race: return its problem
            with store.engine.connect() as conn:
                old = repo.by_key(conn, idempotency_key)
                if old is not None:
                    return {**show_in(conn, old["id"], cfg), "created": False}
        raise
    except BaseException:
        _cleanup(written)
        raise


def insert_report(
    conn: Connection,
    cfg: Config,
    cat: Category,
    when: dt.datetime,
    lng: float,
    lat: float,
    text: str,
    reporter: str,
    src: str,
    key: str | None,
    sample: bool,
) -> int:
    facts = derive(
        conn, lng=lng, lat=lat, at=when, category=cat, radius_m=cfg.rules.key_place_radius_m
    )
    since = when - dt.timedelta(days=cfg.rules.repeat_window_days)
    rep = repo.earlier_same(
        conn,
        category=cat.code,
        piece_id=facts.piece_id,
        place_code=facts.place_code,
        since=since,
        until=when,
    )
    day = workdays.beijing_date(when)
    return repo.insert_problem(
        conn,
        {
            **facts.as_row(),
            "category": cat.code,
            "text": text,
            "source": src,
            "reporter": reporter,
            "reported_at": when,
            "lng": float(lng),
            "lat": float(lat),
            "repeat_of": rep,
            "state": "reported",
            "version": 0,
            "rework": 0,
            "idempotency_key": key,
            "sample": sample,
            "updated_at": when,
        },
        f"WT{day:%Y%m%d}",
    )


def _step_values(
    a: cycle.Action,
    p: dict[str, Any],
    cfg: Config,
    when: dt.datetime,
    n: int | None,
    department: str | None,
    leader_id: str | None,
) -> dict[str, Any]:
    """The columns a step changes (besides ``state`` and ``version``)."""
    if a.name == "dispatch":
        dept = department or p["department"]
        leader = leader_id or p["leader_id"]
        if not dept and not leader:
            raise InputError(
                t(
                    "派遣需要责任部门或责任人（--department / --leader）",
                    "dispatch needs a department or a leader (--department / --leader)",
                )
            )
        days = n or category_of(cfg.categories, p["category"]).workdays
        return {
            "assignee_department": dept,
            "assignee_leader_id": leader,
            "workdays": days,
            "dispatched_at": when,
            "due_at": workdays.due_at(when, days),
        }
    if a.name == "handle":
        return {"handled_at": when, "extension_workdays": None}
    if a.name == "request-extension":
        return {"extension_workdays": n}
    if a.name == "extend":
        days = n or p["extension_workdays"]
        if not days:
            raise InputError(
                t(
                    "批准延期需要工作日数（--workdays）",
                    "extend needs a number of working days (--workdays)",
                )
            )
        return {
            "due_at": workdays.extend(p["due_at"], days),
            "workdays": (p["workdays"] or 0) + days,
            "extension_workdays": None,
        }
    if a.name == "deny-extension":
        return {"extension_workdays": None}
    if a.name == "verify-pass":
        start = workdays.beijing_date(p["dispatched_at"])
        return {
            "closed_at": when,
            "close_workdays": workdays.workdays_between(start, workdays.beijing_date(when)),
        }
    if a.name == "verify-fail":
        return {"handled_at": None, "rework": int(p["rework"]) + 1}
    return {}


def _needs(a: cycle.Action, note: str | None, n: int | None, uploads: Sequence[Upload]) -> None:
    if a.needs_note and not (note and note.strip()):
        raise InputError(t(f"「{a.zh}」需要说明理由（--note）", f"'{a.en}' needs a note (--note)"))
    if a.needs_workdays and a.name != "extend" and not n:
        raise InputError(
            t(
                f"「{a.zh}」需要工作日数（--workdays）",
                f"'{a.en}' needs a number of working days (--workdays)",
            )
        )
    if n is not None and not 1 <= n <= 60:
        raise InputError(t(f"工作日数应为 1–60，实为 {n}", f"working days must be 1–60, got {n}"))
    if a.needs_photo and not uploads:
        raise InputError(
            t(
                f"「{a.zh}」需要至少一张整改后照片（--photo）",
                f"'{a.en}' needs at least one after photo (--photo)",
            )
        )


def _not_before_report(p: Mapping[str, Any], when: dt.datetime) -> None:
    """Refuse a step dated before the problem was reported (a history must read forwards)."""
    reported = aware(p["reported_at"])
    if when < reported:
        raise InputError(
            t(
                f"问题 {p['code']}：步骤时间早于上报时间（{reported:%Y-%m-%d %H:%M} UTC）",
                f"problem {p['code']}: a step cannot be dated before the report "
                f"({reported:%Y-%m-%d %H:%M} UTC)",
            )
        )


def act(
    store: Any,
    ref: str | int,
    action: str,
    *,
    actor: str,
    roles: Iterable[str],
    note: str | None = None,
    n_workdays: int | None = None,
    at: dt.datetime | str | None = None,
    uploads: Sequence[Upload] = (),
    department: str | None = None,
    leader_id: str | None = None,
    expected_version: int | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    """Take ``action`` on problem ``ref`` as ``actor`` holding ``roles``; returns the problem.

    Refused (changing nothing): an unknown problem (:class:`NotFoundError`), a step that does not
    apply to the state (:class:`ConflictError`), a role that may not take it
    (:class:`PermissionDeniedError`), a stale ``expected_version`` or a concurrent step
    (:class:`StaleVersionError`), missing note / working days / after photo (:class:`InputError`).
    """
    cfg = config or Config.load()
    when = aware(at)
    roles = set(roles)
    written: list[Path] = []
    try:
        with store.transaction() as conn:
            p = repo.get(conn, ref)
            if p is None:
                raise NotFoundError(t(f"问题 {ref} 不存在", f"problem {ref} does not exist"))
            if expected_version is not None and int(p["version"]) != int(expected_version):
                raise _stale(p, expected_version)
            a = cycle.check(p["state"], action, roles)
            _not_before_report(p, when)
            _needs(a, note, n_workdays, uploads)
            _check_uploads(uploads, cfg.rules, when, float(p["lng"]), float(p["lat"]))
            values = _step_values(a, p, cfg, when, n_workdays, department, leader_id)
            values.update(state=a.to_state, updated_at=utcnow())
            if not repo.change_state(
                conn, int(p["id"]), version=int(p["version"]), state=p["state"], values=values
            ):
                raise _stale(p, p["version"])
            role = sorted(roles & a.roles)[0]
            detail = {
                k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                for k, v in values.items()
                if k not in {"updated_at", "state"}
            }
            eid = repo.insert_event(
                conn,
                {
                    "problem_id": p["id"],
                    "action": a.name,
                    "from_state": p["state"],
                    "to_state": a.to_state,
                    "actor": actor,
                    "role": role,
                    "at": when,
                    "note": (note or "").strip() or None,
                    "detail": detail,
                },
            )
            _store_uploads(
                conn,
                uploads,
                problem_id=int(p["id"]),
                event_id=eid,
                kind="after" if a.name == "handle" else "before",
                actor=actor,
                at=when,
                written=written,
            )
            return show_in(conn, int(p["id"]), cfg)
    except BaseException:
        _cleanup(written)
        raise


def _stale(p: dict[str, Any], version: Any) -> StaleVersionError:
    return StaleVersionError(
        t(
            f"问题 {p['code']} 已被他人处理（您依据的版本 {version}，当前状态「{cycle.label(cycle.STATES, p['state'])}」）；请刷新后重试，未作任何更改",
            f"problem {p['code']} was changed by someone else (your version {version}, now {p['state']}); reload and retry; nothing changed",
        ),
        [str(p["code"])],
    )


def add_photos(
    store: Any,
    problem_id: int,
    uploads: Sequence[Upload],
    *,
    actor: str,
    config: Config | None = None,
) -> None:
    """Add before-photos to a problem (checked against its report), with a ``photo`` event."""
    cfg = config or Config.load()
    if not uploads:
        raise InputError(t("没有照片", "no photos"))
    written: list[Path] = []
    try:
        with store.transaction() as conn:
            p = repo.get(conn, problem_id)
            if p is None:
                raise NotFoundError(
                    t(f"问题 {problem_id} 不存在", f"problem {problem_id} does not exist")
                )
            _check_uploads(uploads, cfg.rules, p["reported_at"], float(p["lng"]), float(p["lat"]))
            eid = repo.insert_event(
                conn,
                {
                    "problem_id": p["id"],
                    "action": "photo",
                    "from_state": p["state"],
                    "to_state": p["state"],
                    "actor": actor,
                    "role": "reporter",
                    "at": utcnow(),
                    "note": None,
                    "detail": {"photos": len(uploads)},
                },
            )
            _store_uploads(
                conn,
                uploads,
                problem_id=int(p["id"]),
                event_id=eid,
                kind="before",
                actor=actor,
                at=utcnow(),
                written=written,
            )
    except BaseException:
        _cleanup(written)
        raise
