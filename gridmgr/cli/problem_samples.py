"""The main job's sample problems (marked ``sample``): a simulated fortnight of the cycle, so the
demo shows an overdue board, a circular and an assessment.

Reported now at pieces of the assigned leaders (so the territorial leader at that moment is
known), then stepped through the cycle at simulated later times: fixed on time, fixed late,
never fixed (overdue, escalated), rejected, failed verification and redone, extended; two are
repeats. Everything is shown as of the end of the simulated fortnight. A second run reuses them.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

from gridmgr.cli._common import console
from gridmgr.i18n import t

ACTOR = "gridmgr-run"
#: (category, plan) per sample; plans: ontime, late, open, reject, rework, extend, registered
PLAN = [
    ("ZZ01", "ontime"),
    ("ZL02", "late"),
    ("ZL01", "open"),
    ("ZC02", "ontime"),
    ("ZZ02", "rework"),
    ("ZL04", "open"),
    ("ZL03", "reject"),
    ("ZC01", "extend"),
    ("ZZ01", "ontime"),
    ("ZC04", "late"),
    ("ZL01", "open"),
    ("QT01", "registered"),
]


def _jpeg(lng: float, lat: float, when: dt.datetime) -> bytes:
    from PIL import Image

    from gridmgr.problems.workdays import BEIJING

    img = Image.new("RGB", (96, 64), (150, 150, 140))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when.astimezone(BEIJING).strftime("%Y:%m:%d %H:%M:%S")

    def dms(v: float) -> tuple[float, float, float]:
        d, m = int(v), int((v - int(v)) * 60)
        return (float(d), float(m), round(((v - d) * 60 - m) * 60, 3))

    exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lng)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _points(store: Any, plans: list[str]) -> list[tuple[float, float]]:
    """A point per sample: the on-time ones on three pieces of one leader (so the demo has
    someone to commend), the others one per other leader."""
    import shapely

    pieces = store.pieces()
    held = pieces[pieces["leader_id"].notna()].sort_values("id")
    first = held["leader_id"].iloc[0]
    good = iter(held[held["leader_id"] == first].geometry.values[:3])
    others = held[held["leader_id"] != first].groupby("leader_id").head(1)
    rest = iter(others.geometry.values)
    out: list[tuple[float, float]] = []
    for plan in plans:
        geom = next(good, None) if plan == "ontime" else None
        geom = geom if geom is not None else next(rest, held.geometry.values[len(out) % len(held)])
        pt = shapely.point_on_surface(geom)
        out.append((float(pt.x), float(pt.y)))
    return out


def _walk(store: Any, p: dict[str, Any], plan: str, t0: dt.datetime, cfg: Any) -> None:
    from gridmgr.problems.service import Upload, act

    ref = p["id"]
    lng, lat = p["lng"], p["lat"]

    def step(action: str, hours: float, roles: set[str], **kw: Any) -> dict[str, Any]:
        when = t0 + dt.timedelta(hours=hours)
        if action == "handle":
            kw["uploads"] = [Upload("after.jpg", _jpeg(lng, lat, when))]
        return act(
            store, ref, action, actor=kw.pop("actor", ACTOR), roles=roles, at=when, config=cfg, **kw
        )

    if plan == "reject":
        step("reject", 1, {"center"}, note=t("不属于城市管理问题", "not a city-management problem"))
        return
    step("register", 1, {"center"})
    if plan == "registered":
        return
    d = step("dispatch", 2, {"center"}, n_workdays=2)
    handler = d["assignee_leader_id"] or ACTOR
    if plan == "open":
        return
    if plan == "extend":
        step(
            "request-extension",
            20,
            {"handler"},
            actor=handler,
            note=t("需协调施工队", "a crew is needed"),
            n_workdays=3,
        )
        step("extend", 26, {"supervisor"})
        step("handle", 24 * 6, {"handler"}, actor=handler)
    elif plan == "late":
        step("handle", 24 * 9, {"handler"}, actor=handler)
    else:
        step("handle", 22, {"handler"}, actor=handler)
    if plan == "rework":
        step("verify-fail", 26, {"supervisor"}, note=t("仍有残留垃圾", "rubbish left"))
        step("handle", 30, {"handler"}, actor=handler)
    step("verify-pass", 24 * 10 if plan == "late" else 48, {"supervisor"})


def run_samples(store: Any, out: Path) -> None:
    """Create (or reuse) the samples and write the board, circular, ledger and assessment."""
    from gridmgr.problems.categories import Config
    from gridmgr.problems.service import Upload, aware, report
    from gridmgr.problems.workdays import CalendarRangeError, beijing_date, end_of_period
    from gridmgr.store.engine import read_connection
    from gridmgr.store.problems import listing
    from gridmgr.store.schema import utcnow

    cfg = Config.load()
    now = utcnow()
    try:
        end_of_period(beijing_date(now), 15)
    except CalendarRangeError as exc:
        console.print(t(f"跳过问题样例：{exc}", f"problem samples skipped: {exc}"))
        return
    with read_connection(store.engine) as conn:
        old = listing(conn, where={"sample": True})
    if len(old):
        t0 = min(old["reported_at"]).to_pydatetime()
        console.print(t(f"沿用已有的 {len(old)} 件样例问题", f"reusing {len(old)} sample problems"))
    else:
        t0 = now
        pts = _points(store, [plan for _cat, plan in PLAN])
        made = []
        for i, ((cat, plan), (lng, lat)) in enumerate(zip(PLAN, pts, strict=False)):
            photo = [Upload("before.jpg", _jpeg(lng, lat, t0))]
            p = report(
                store,
                lat=lat,
                lng=lng,
                category=cat,
                text=t(f"样例问题 {i + 1}", f"sample problem {i + 1}"),
                reporter=ACTOR,
                source="patrol" if i % 3 else "inspection",
                at=t0 + dt.timedelta(minutes=i),
                uploads=photo,
                idempotency_key=f"gridmgr-run-sample-{i}",
                sample=True,
                config=cfg,
            )
            made.append((p, plan))
        # two repeats: the same category again at the same place
        for p, _plan in made[1:3]:  # the late and the open one
            made.append(
                (
                    report(
                        store,
                        lat=p["lat"],
                        lng=p["lng"],
                        category=p["category"],
                        text=t("样例：同一问题再次出现", "sample: the same problem again"),
                        reporter=ACTOR,
                        at=t0 + dt.timedelta(hours=30),
                        idempotency_key=f"gridmgr-run-sample-repeat-{p['row_id']}",
                        sample=True,
                        config=cfg,
                    ),
                    "open",
                )
            )
        for p, plan in made:  # each walks from its own report (the repeats came 30 h later)
            _walk(store, p, plan, aware(p["reported_at"]), cfg)
        console.print(
            t(
                f"样例问题 {len(made)} 件（模拟两周的流程）",
                f"{len(made)} sample problems (a simulated fortnight)",
            )
        )
    _outputs(store, out, cfg, t0 + dt.timedelta(days=14))


def _outputs(store: Any, out: Path, cfg: Any, as_of: dt.datetime) -> None:
    from gridmgr.export.circular import write_circular_docx, write_ledger_xlsx
    from gridmgr.problems.assessment import assess
    from gridmgr.problems.ledger import ledger_frame
    from gridmgr.problems.notice import circular
    from gridmgr.problems.views import iso
    from gridmgr.problems.workdays import beijing_date
    from gridmgr.store.problems import GROUPS

    day = beijing_date(as_of - dt.timedelta(days=14))
    period = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    target = out / "problems"
    c = circular(store, period, config=cfg, as_of=as_of)
    write_circular_docx(
        c,
        target / f"notice_{period}.docx",
        title=t(
            f"关于{period}问题整改情况的通报（样例）",
            f"Circular on problem rectification {period} (sample)",
        ),
    )
    sheets = {g: assess(store, period, group=g, rules=cfg.rules, as_of=as_of) for g in GROUPS}
    write_ledger_xlsx(
        ledger_frame(store, cfg, period, as_of), sheets, target / f"ledger_{period}.xlsx"
    )
    console.print(
        t(
            f"逾期督办（样例，截至模拟时点 {iso(as_of)}）：{len(c.overdue)} 件",
            f"overdue board (sample, as of the simulated {iso(as_of)}): {len(c.overdue)}",
        )
    )
    for r in c.overdue.head(8).to_dict("records"):
        console.print(
            f"  {r['code']}  {r['category_name']}  {r['community_name']}  {r['leader_name']}  {t('逾期', 'overdue')} {r['overdue_workdays']} {t('个工作日', 'working days')} {r['escalation_name']}",
            highlight=False,
        )
    top = sheets["leader"].head(3)
    console.print(
        t("考核排名（前 3，样例）：", "assessment (top 3, sample): ")
        + "；".join(f"{r['rank']}. {r['name']} {r['score']:.1f}" for r in top.to_dict("records"))
    )
    console.print(
        t(
            f"通报对象 {len(c.candidates)}，表彰 {len(c.commended)}；已写入 {target}/",
            f"{len(c.candidates)} named, {len(c.commended)} commended; wrote {target}/",
        )
    )
