"""Office formats of the briefing: XLSX (openpyxl), DOCX (python-docx), PPTX (python-pptx).

Engine of :mod:`gridmgr.export.briefing`. The DOCX follows the layout conventions of GB/T 9704-2012 (党政机关
公文格式): A4 paper, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; the title in 2号
(22 pt) 方正小标宋简体 (falling back to 黑体 where the font is not installed — Word takes the
style name), body text in 3号 (16 pt) 仿宋_GB2312, level-1 headings in 3号 黑体, exact 28 pt line
spacing (22 lines a page), page numbers in the footer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridmgr.i18n import t

#: Leading characters that make a spreadsheet take text as a formula (or DDE).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")

TITLE_FONT = "方正小标宋简体"
TITLE_FALLBACK = "黑体"
BODY_FONT = "仿宋_GB2312"
BODY_FALLBACK = "仿宋"
HEADING_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------


# Sheet layouts of the briefing workbook (gridmgr.export.briefing.write_xlsx): one row per column,
# (frame column, zh header, en header, width in characters, number format or None).
LEADER_COLUMNS: tuple[tuple[str, str, str, float, str | None], ...] = (
    # key, zh, en, width, number format
    ("id", "编号", "id", 10, None),
    ("name", "责任人", "leader", 24, None),
    ("role_label", "角色", "role", 10, None),
    ("grid_code", "网格编码", "grid code", 20, None),
    ("home_unit_name", "所属社区/村", "community", 20, None),
    ("pieces", "地块数", "pieces", 9, "0"),
    ("area_m2", "面积（平方米）", "area (m²)", 14, "#,##0.0"),
    ("area_ha", "面积（公顷）", "area (ha)", 12, "0.00"),
    ("key_places", "重点点位数", "key places", 11, "0"),
    ("load", "负荷", "load", 10, "0.00"),
    ("capacity", "承载能力", "capacity", 10, "0.00"),
    ("load_per_capacity", "负荷/能力", "load/capacity", 11, "0.000"),
    ("load_ratio", "负荷比（与社区均值）", "load ratio", 14, "0.000"),
    ("workload_label", "负荷状态", "workload status", 11, None),
)

UNIT_COLUMNS: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("code", "单元编码", "code", 15, None),
    ("name", "名称", "name", 22, None),
    ("level_label", "层级", "level", 10, None),
    ("area_m2", "面积（平方米）", "area (m²)", 15, "#,##0.0"),
    ("pieces", "地块数", "pieces", 9, "0"),
    ("covered_area_m2", "已覆盖面积（平方米）", "covered area (m²)", 17, "#,##0.0"),
    ("coverage_pct", "覆盖率（%）", "coverage (%)", 11, "0.00"),
    ("blind_spot_pieces", "盲点地块", "blind-spot pieces", 10, "0"),
    ("blind_spot_area_m2", "盲点面积（平方米）", "blind-spot area (m²)", 15, "#,##0.0"),
    ("fallback_pieces", "属地兜底地块", "fallback pieces", 12, "0"),
    ("dead_corner_area_m2", "死角面积（平方米）", "dead-corner area (m²)", 15, "#,##0.0"),
    ("overlap_area_m2", "重叠面积（平方米）", "overlap area (m²)", 15, "#,##0.0"),
    ("key_places", "重点点位", "key places", 10, "0"),
    ("key_places_without_leader", "无责任人点位", "places without leader", 12, "0"),
    ("package_leaders_text", "包保领导", "package leaders", 18, None),
    ("leaders", "网格责任人数", "territorial leaders", 11, "0"),
    ("max_load_ratio", "最大负荷比", "max load ratio", 11, "0.000"),
)

GAP_COLUMNS: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("severity_label", "类别", "severity", 8, None),
    ("label", "问题", "finding", 34, None),
    ("unit_code", "单元编码", "unit code", 15, None),
    ("unit_name", "单元名称", "unit", 20, None),
    ("leader_id", "责任人编号", "leader id", 11, None),
    ("leader_name", "责任人", "leader", 20, None),
    ("place_code", "点位编码", "place code", 10, None),
    ("place_name", "点位名称", "key place", 20, None),
    ("count", "数量", "count", 7, "0"),
    ("area_m2", "面积（平方米）", "area (m²)", 14, "#,##0.0"),
    ("kind", "类型代码", "kind", 22, None),
)


@dataclass(frozen=True)
class Sheet:
    """One worksheet: its title, columns ``(key, zh, en, width, number_format)`` and the rows."""

    title: str
    columns: Sequence[tuple[str, str, str, float, str | None]]
    rows: pd.DataFrame


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return "；".join(str(v) for v in value)
    if isinstance(value, (int, str, dt.date, dt.datetime)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def set_text(cell: Any, text: str) -> None:
    """Store ``text`` in an openpyxl cell as text, never as a formula.

    openpyxl treats a string starting with ``=`` as a formula; the data type is forced back to
    ``s`` (string) and, for text starting with ``= + - @``, the cell gets Excel's quote prefix so
    that editing it in Excel does not turn it into a formula either.
    """
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_LEADS):
        cell.quotePrefix = True


def write_workbook(out: Path, sheets: Sequence[Sheet], *, title: str = "") -> Path:
    """Write ``sheets`` to an XLSX file: bold frozen header, autofilter, widths, number formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    header_font = Font(bold=True, name="黑体")
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    for sheet in sheets:
        ws = wb.create_sheet(_sheet_title(sheet.title))
        cols = list(sheet.columns)
        for j, (_, zh, en, width, _fmt) in enumerate(cols, start=1):
            c = ws.cell(row=1, column=j)
            set_text(c, t(zh, en))
            c.font = header_font
            c.fill = header_fill
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.column_dimensions[get_column_letter(j)].width = width
        frame = sheet.rows
        for i, rec in enumerate(frame.to_dict(orient="records"), start=2):
            for j, (key, _zh, _en, _w, fmt) in enumerate(cols, start=1):
                v = _cell_value(rec.get(key))
                c = ws.cell(row=i, column=j)
                if isinstance(v, str):
                    set_text(c, v)
                else:
                    c.value = v
                    if fmt and v is not None and not isinstance(v, bool):
                        c.number_format = fmt
        ws.freeze_panes = "A2"
        last = get_column_letter(max(len(cols), 1))
        ws.auto_filter.ref = f"A1:{last}{max(len(frame) + 1, 1)}"
        ws.row_dimensions[1].height = 30
    wb.properties.title = title
    wb.properties.creator = "gridmgr"
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _sheet_title(title: str) -> str:
    bad = "[]:*?/\\"
    clean = "".join("_" if ch in bad else ch for ch in title)
    return clean[:31] or "Sheet"


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------


def _east_asian(style_or_run: Any, name: str, ascii_name: str | None = None) -> None:
    """Set the font name for both Latin and East-Asian text (w:eastAsia)."""
    from docx.oxml.ns import qn

    font = style_or_run.font
    font.name = ascii_name or name
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), name)
    rfonts.set(qn("w:ascii"), ascii_name or name)
    rfonts.set(qn("w:hAnsi"), ascii_name or name)


def _page_number_footer(section: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    para = section.footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run("— ")
    run.font.size = Pt(14)
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), "PAGE")
    inner = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    inner.append(text)
    fld.append(inner)
    para._p.append(fld)
    tail = para.add_run(" —")
    tail.font.size = Pt(14)


def _styles(doc: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Pt

    normal = doc.styles["Normal"]
    _east_asian(normal, BODY_FONT, "Times New Roman")
    normal.font.size = Pt(16)
    pf = normal.paragraph_format
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(28)
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    title = doc.styles["Title"]
    _east_asian(title, TITLE_FONT)
    ppr = title.element.pPr
    if ppr is not None:  # the default template draws a rule under the title: not in GB/T 9704
        for bdr in ppr.findall(qn("w:pBdr")):
            ppr.remove(bdr)
    title.font.size = Pt(22)
    title.font.bold = False
    title.font.color.rgb = None
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(28)
    title.paragraph_format.line_spacing = Pt(36)
    for name, font in (("Heading 1", HEADING_FONT), ("Heading 2", HEADING2_FONT)):
        st = doc.styles[name]
        _east_asian(st, font)
        st.font.size = Pt(16)
        st.font.bold = False
        st.font.color.rgb = None
        st.paragraph_format.space_before = Pt(0)
        st.paragraph_format.space_after = Pt(0)
        st.paragraph_format.line_spacing = Pt(28)
    caption = (
        doc.styles["Caption"]
        if "Caption" in [s.name for s in doc.styles]
        else doc.styles.add_style("Caption", 1)
    )
    _east_asian(caption, BODY_FONT)
    caption.font.size = Pt(12)
    caption.font.color.rgb = None
    caption.font.italic = False
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _table(doc: Any, columns: Sequence[tuple[str, str, str]], frame: pd.DataFrame) -> Any:
    from docx.shared import Pt

    table = doc.add_table(rows=1, cols=len(columns))
    table.style = doc.styles["Table Grid"]
    hdr = table.rows[0].cells
    for j, (_, zh, en) in enumerate(columns):
        hdr[j].text = ""
        run = hdr[j].paragraphs[0].add_run(t(zh, en))
        _east_asian(run, HEADING_FONT)
        run.font.size = Pt(10.5)
    for rec in frame.to_dict(orient="records"):
        cells = table.add_row().cells
        for j, (key, _zh, _en) in enumerate(columns):
            v = rec.get(key)
            if isinstance(v, float):
                text = "" if math.isnan(v) else (f"{v:,.1f}" if abs(v) >= 100 else f"{v:.2f}")
            else:
                text = "" if v is None else str(v)
            cells[j].text = ""
            run = cells[j].paragraphs[0].add_run(text)
            _east_asian(run, BODY_FONT)
            run.font.size = Pt(10.5)
    # full text width (A4 minus 28 + 26 mm margins); the first (name) column wider
    from docx.shared import Mm

    weights = [2.6] + [1.0] * (len(columns) - 1)
    widths = [Mm(156 * w / sum(weights)) for w in weights]
    table.autofit = False
    for j, col in enumerate(table.columns):
        col.width = widths[j]  # the grid (LibreOffice reads it), cells below (Word reads those)
    for row in table.rows:
        for j, cell in enumerate(row.cells):
            cell.width = widths[j]
            pf = cell.paragraphs[0].paragraph_format
            pf.line_spacing = Pt(16)
    return table


def write_briefing_docx(
    out: Path,
    *,
    title: str,
    date: dt.date,
    summary: Sequence[str],
    maps: Sequence[tuple[str, Path]],
    unit_table: tuple[Sequence[tuple[str, str, str]], pd.DataFrame],
    gap_table: tuple[Sequence[tuple[str, str, str]], pd.DataFrame],
) -> Path:
    """Write the DOCX briefing (GB/T 9704 layout, see the module docstring)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    _styles(doc)
    _page_number_footer(section)
    doc.core_properties.title = title
    doc.core_properties.author = "gridmgr"

    doc.add_paragraph(title, style="Title")
    for line in summary:
        p = doc.add_paragraph(line)
        p.paragraph_format.first_line_indent = Pt(32)

    text_width = Mm(210 - 28 - 26)
    doc.add_paragraph(t("一、责任区分布图", "1. Maps of the territories"), style="Heading 1")
    for caption, path in maps:
        doc.add_picture(str(path), width=text_width)
        pic = doc.paragraphs[-1]
        pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
        # exact line spacing (the body's 28 pt) would clip an inline picture to one line
        pic.paragraph_format.line_spacing = 1.0
        pic.paragraph_format.keep_with_next = True
        doc.add_paragraph(caption, style="Caption")

    cols, frame = unit_table
    doc.add_paragraph(t("二、覆盖情况", "2. Coverage"), style="Heading 1")
    _table(doc, cols, frame)

    cols, frame = gap_table
    doc.add_paragraph(t("三、缺口清单", "3. Gap list"), style="Heading 1")
    if len(frame):
        _table(doc, cols, frame)
    else:
        doc.add_paragraph(
            t(
                "未发现缺口，全域责任已落实（不留死角、不留盲点）。",
                "No gaps found: every piece and key place has its leader.",
            )
        )

    p = doc.add_paragraph(t(f"{date.year}年{date.month}月{date.day}日", f"{date:%Y-%m-%d}"))
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.paragraph_format.space_before = Pt(28)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(out))
    return out


# --------------------------------------------------------------------------------------------
# PPTX
# --------------------------------------------------------------------------------------------


def write_map_slides(
    out: Path, *, title: str, date: dt.date, maps: Sequence[tuple[str, Path]]
) -> Path:
    """A 16:9 deck: a title slide, then one slide per map with its title."""
    from pptx import Presentation
    from pptx.util import Emu, Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    first = prs.slides.add_slide(prs.slide_layouts[0])
    first.shapes.title.text = title
    first.placeholders[1].text = t(f"{date.year}年{date.month}月{date.day}日", f"{date:%Y-%m-%d}")
    # the default template's placeholders are laid out for 4:3 (10 in): centre them on 16:9
    for shape in first.placeholders:
        shape.left, shape.width = Inches(0.9), Inches(13.333 - 1.8)
    blank = prs.slide_layouts[5]  # title only
    for caption, path in maps:
        slide = prs.slides.add_slide(blank)
        slide.shapes.title.text = caption
        tf = slide.shapes.title.text_frame
        for para in tf.paragraphs:
            for run in para.runs:
                run.font.size = Pt(28)
        slide.shapes.title.top, slide.shapes.title.height = Inches(0.2), Inches(0.9)
        slide.shapes.title.left, slide.shapes.title.width = (
            Inches(0.4),
            Emu(int(prs.slide_width or Inches(13.333)) - Inches(0.8)),
        )
        from PIL import Image

        with Image.open(path) as im:
            w_px, h_px = im.size
        slide_w, slide_h = (
            int(prs.slide_width or Inches(13.333)),
            int(prs.slide_height or Inches(7.5)),
        )
        max_w, max_h = slide_w - Inches(0.6), slide_h - Inches(1.3)
        scale = min(max_w / w_px, max_h / h_px)
        w, h = int(w_px * scale), int(h_px * scale)
        left = int((slide_w - w) / 2)
        slide.shapes.add_picture(str(path), Emu(left), Inches(1.15), width=Emu(w), height=Emu(h))
    out.parent.mkdir(parents=True, exist_ok=True)
    prs.save(str(out))
    return out


__all__ = [
    "FORMULA_LEADS",
    "Sheet",
    "set_text",
    "write_briefing_docx",
    "write_map_slides",
    "write_workbook",
]
