"""Office files of the problem cycle: the circular (通报, DOCX in the GB/T 9704 layout of the
briefing), the problem ledger (问题台账, XLSX) and the assessment table (考核表, XLSX).

Reuses the briefing's layout helpers of :mod:`gridmgr.export.office` unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from gridmgr.export.office import Sheet, _page_number_footer, _styles, _table, write_workbook
from gridmgr.i18n import t
from gridmgr.problems.notice import Circular
from gridmgr.problems.workdays import BEIJING

CANDIDATE_COLUMNS = (
    ("group", "类别", "kind"),
    ("name", "名称", "name"),
    ("problems", "问题数", "problems"),
    ("reasons", "通报事由", "reasons"),
)
COMMEND_COLUMNS = (
    ("group", "类别", "kind"),
    ("name", "名称", "name"),
    ("problems", "问题数", "problems"),
    ("on_time_rate", "按期整改率", "on-time rate"),
    ("score", "综合得分", "score"),
)
OVERDUE_COLUMNS = (
    ("code", "编号", "id"),
    ("category_name", "类别", "category"),
    ("community_name", "社区", "community"),
    ("leader_name", "责任人", "leader"),
    ("due", "整改期限", "deadline"),
)

LEDGER_COLUMNS: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("code", "编号", "id", 20, None),
    ("category_name", "问题类别", "category", 14, None),
    ("text", "问题描述", "description", 30, None),
    ("source", "来源", "source", 10, None),
    ("reporter", "上报人", "reporter", 12, None),
    ("reported", "上报时间", "reported", 20, None),
    ("lat", "纬度", "lat", 11, "0.000000"),
    ("lng", "经度", "lng", 11, "0.000000"),
    ("community_name", "社区", "community", 14, None),
    ("leader_name", "属地责任人", "territorial leader", 14, None),
    ("department_name", "责任部门", "department", 14, None),
    ("status_name", "状态", "status", 14, None),
    ("due", "整改期限", "deadline", 20, None),
    ("overdue", "逾期", "overdue", 8, None),
    ("rework", "返工次数", "rework", 8, None),
    ("sample", "样例", "sample", 8, None),
)
ASSESS_COLUMNS: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("rank", "排名", "rank", 6, None),
    ("name", "名称", "name", 20, None),
    ("problems", "问题数", "problems", 8, None),
    ("on_time_rate", "按期整改率", "on-time rate", 10, "0.0%"),
    ("avg_close_workdays", "平均结案工作日", "avg working days to close", 12, "0.00"),
    ("overdue", "逾期", "overdue", 8, None),
    ("rework", "返工", "rework", 8, None),
    ("repeats", "重复", "repeats", 8, None),
    ("score", "综合得分", "score", 10, "0.00"),
)


def _bj(when: object) -> str:
    if when is None or pd.isna(when):
        return ""
    return str(pd.Timestamp(when).tz_convert(BEIJING).strftime("%Y-%m-%d %H:%M (UTC+8)"))


def _para(doc: object, text: str) -> None:
    from docx.shared import Pt

    p = doc.add_paragraph(text)  # type: ignore[attr-defined]
    p.paragraph_format.first_line_indent = Pt(32)


def write_circular_docx(c: Circular, out: Path, *, title: str | None = None) -> Path:
    """Write the circular of ``c`` (GB/T 9704 layout, as the briefing)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin = (
        Mm(37),
        Mm(35),
        Mm(28),
        Mm(26),
    )
    _styles(doc)
    _page_number_footer(sec)
    head = title or t(
        f"关于{c.period}问题整改情况的通报", f"Circular on problem rectification, {c.period}"
    )
    doc.core_properties.title = head
    doc.core_properties.author = "gridmgr"
    doc.add_paragraph(head, style="Title")
    f = c.figures
    _para(
        doc,
        t(
            f"{c.period}期间，共上报问题 {f['problems']} 件，派遣整改 {f['dispatched']} 件，按期整改 {f['on_time']} 件，"
            f"逾期 {f['overdue']} 件，按期整改率 {f['on_time_rate']:.1%}；结案 {f['closed']} 件，核查不通过返工 {f['rework']} 次，"
            f"同一问题反复出现 {f['repeats']} 件。统计截至 {_bj(c.as_of)}。",
            f"In {c.period}: {f['problems']} problems reported, {f['dispatched']} dispatched, {f['on_time']} fixed on time, "
            f"{f['overdue']} overdue (on-time rate {f['on_time_rate']:.1%}); {f['closed']} closed, {f['rework']} reworks, "
            f"{f['repeats']} repeats. As of {_bj(c.as_of)}.",
        ),
    )
    sections = (
        (
            t("一、通报对象", "1. Named in this circular"),
            CANDIDATE_COLUMNS,
            c.candidates,
            t("本期无通报对象。", "Nobody is named this period."),
        ),
        (
            t("二、表彰名单", "2. Commended"),
            COMMEND_COLUMNS,
            c.commended,
            t("本期无符合条件的表彰对象。", "Nobody qualifies for commendation this period."),
        ),
        (
            t("三、逾期未整改问题清单", "3. Overdue problems"),
            OVERDUE_COLUMNS,
            c.overdue.assign(due=[_bj(v) for v in c.overdue["due_at"]]),
            t("截至统计时点无逾期问题。", "No overdue problems."),
        ),
    )
    for heading, cols, frame, empty in sections:
        doc.add_paragraph(heading, style="Heading 1")
        if len(frame):
            _table(doc, cols, frame)
        else:
            _para(doc, empty)
    _para(
        doc,
        t(
            "请被通报单位和责任人于 3 个工作日内提交整改报告，举一反三，建立长效机制。",
            "Those named shall report their rectification within 3 working days.",
        ),
    )
    today = dt.datetime.now(BEIJING).date()
    p = doc.add_paragraph(t(f"{today.year}年{today.month}月{today.day}日", f"{today:%Y-%m-%d}"))
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.paragraph_format.space_before = Pt(28)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


def write_ledger_xlsx(
    ledger: pd.DataFrame, assessments: dict[str, pd.DataFrame], out: Path
) -> Path:
    """The problem ledger (one sheet) and one assessment sheet per group."""
    rows = ledger.assign(
        reported=[_bj(v) for v in ledger["reported_at"]], due=[_bj(v) for v in ledger["due_at"]]
    )
    rows["overdue"] = [t("是", "yes") if v else "" for v in rows["overdue"]]
    rows["sample"] = [t("样例", "sample") if v else "" for v in rows["sample"]]
    sheets = [Sheet(t("问题台账", "Ledger"), LEDGER_COLUMNS, rows)]
    labels = {
        "leader": ("考核-责任人", "by leader"),
        "community": ("考核-社区", "by community"),
        "street": ("考核-街道", "by street"),
        "department": ("考核-部门", "by department"),
    }
    for group, df in assessments.items():
        sheets.append(Sheet(t(*labels[group]), ASSESS_COLUMNS, df))
    return write_workbook(out, sheets, title=t("问题台账与考核", "Problem ledger and assessment"))
